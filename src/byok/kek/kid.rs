//! Key Vault key identifiers: `https://HOST/keys/NAME/VERSION`, checked part by part.
use super::*;

/// A Key Vault key identifier, always versioned: `https://HOST/keys/NAME/VERSION`. `HOST` may
/// carry a `:PORT` (kept in [`Kid::host`] and [`Kid::url`]) for a test double of Key Vault;
/// Azure's own kids have none, and a host with a port is never a known Key Vault host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kid {
    url: String,
    host: String,
    name: String,
    version: String,
}

impl Kid {
    /// Parses and checks a kid. The text is kept verbatim: it goes into the `.byok` header as is.
    pub fn parse(text: &str) -> Result<Kid, KekError> {
        let bad = |reason: String| KekError::BadKid {
            kid: text.to_owned(),
            reason,
        };
        let rest = strip_scheme(text).map_err(|r| bad(r.to_owned()))?;
        if rest.contains(['?', '#']) {
            return Err(bad("it has a query or fragment".to_owned()));
        }
        let segments: Vec<&str> = rest.split('/').collect();
        let (host, name, version) = match segments.as_slice() {
            [host, "keys", name, version] => (*host, *name, *version),
            [_, "keys", _] => return Err(bad("it has no version".to_owned())),
            [_, "keys", _, _, ..] => {
                return Err(bad(
                    "it has extra path segments (or a trailing '/') after the version".to_owned(),
                ));
            }
            [_, other, ..] if *other != "keys" => {
                return Err(bad(format!("its path starts with /{other}/, not /keys/")));
            }
            _ => {
                return Err(bad(
                    "it is not of the form https://HOST/keys/NAME/VERSION".to_owned()
                ));
            }
        };
        check_host(host).map_err(bad)?;
        check_key_name(name).map_err(bad)?;
        check_version(version).map_err(bad)?;
        Ok(Kid {
            url: text.to_owned(),
            host: host.to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
        })
    }

    /// The kid exactly as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// True for a Managed HSM (`*.managedhsm.azure.net` and its sovereign-cloud twins).
    pub fn is_managed_hsm(&self) -> bool {
        self.known_suffix()
            .is_some_and(|suffix| suffix.starts_with("managedhsm."))
    }

    /// True when the host is `<one label>.<a known Key Vault / Managed HSM suffix>`.
    pub fn host_is_known(&self) -> bool {
        self.known_suffix().is_some()
    }

    fn known_suffix(&self) -> Option<&'static str> {
        let host = self.host.to_ascii_lowercase();
        KNOWN_HOST_SUFFIXES.into_iter().find(|suffix| {
            host.strip_suffix(suffix)
                .and_then(|label| label.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty() && !label.contains('.'))
        })
    }

    /// Things a custodian should see but that do not make the kid unusable.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.host_is_known() {
            warnings.push(format!(
                "the kid's host {} is not a known Key Vault or Managed HSM host ({}): check it against `az keyvault key show`",
                self.host,
                KNOWN_HOST_SUFFIXES.join(", ")
            ));
        }
        if self.host.chars().any(|c| c.is_ascii_uppercase()) {
            warnings.push(format!(
                "the kid's host {} has capital letters; Azure prints kids in lowercase: copy the kid exactly as `az keyvault key show` prints it",
                self.host
            ));
        }
        warnings
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl std::str::FromStr for Kid {
    type Err = KekError;

    fn from_str(text: &str) -> Result<Kid, KekError> {
        Kid::parse(text)
    }
}

pub(super) fn strip_scheme(text: &str) -> Result<&str, &'static str> {
    if text.is_empty() {
        return Err("it is empty");
    }
    if text.trim() != text {
        return Err("it has leading or trailing whitespace");
    }
    if text.starts_with("http://") {
        return Err("it uses http://; Key Vault kids are https://");
    }
    text.strip_prefix("https://")
        .ok_or("it does not start with https://")
}

/// Checks `HOST` or `HOST:PORT`. Azure kids never carry a port, but a loopback test double of
/// Key Vault needs one; such a host is not a known Key Vault host, so [`Kid::warnings`] flags it.
pub(super) fn check_host(host_and_port: &str) -> Result<(), String> {
    let host = match host_and_port.split_once(':') {
        Some((host, port)) => {
            check_port(port)?;
            host
        }
        None => host_and_port,
    };
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if host.is_empty() || !labels_ok || !host.contains('.') {
        return Err(format!("its host {host:?} is not a DNS name"));
    }
    Ok(())
}

/// A decimal TCP port 1-65535, without sign or leading zeros.
pub(super) fn check_port(port: &str) -> Result<(), String> {
    let valid = !port.starts_with('0')
        && port.chars().all(|c| c.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p > 0);
    if valid {
        Ok(())
    } else {
        Err(format!("its port {port:?} is not a number from 1 to 65535"))
    }
}

pub(super) fn check_key_name(name: &str) -> Result<(), String> {
    // Key Vault object names: 1-127 characters, letters, digits and '-'.
    let valid = (1..=127).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the key name {name:?} is not 1-127 letters, digits or '-'"
        ))
    }
}

pub(super) fn check_version(version: &str) -> Result<(), String> {
    // Key Vault and Managed HSM versions are 32 lowercase hex digits.
    let valid = version.len() == 32
        && version
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the version {version:?} is not 32 lowercase hexadecimal digits"
        ))
    }
}
