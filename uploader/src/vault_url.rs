//! The `--vault` / `--hsm` URL: which service, which host, and whether it is a loopback test
//! double. Parsing is strict: `https://HOST[:PORT]` with at most a trailing '/', nothing else.
use std::fmt;
use std::net::IpAddr;

use byok_ceremony::byok::kek::KNOWN_HOST_SUFFIXES;

/// Key Vault (`--vault`) or Managed HSM (`--hsm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    KeyVault,
    ManagedHsm,
}

impl ServiceKind {
    pub fn flag(self) -> &'static str {
        match self {
            ServiceKind::KeyVault => "--vault",
            ServiceKind::ManagedHsm => "--hsm",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ServiceKind::KeyVault => "Key Vault",
            ServiceKind::ManagedHsm => "Managed HSM",
        }
    }
}

/// Why a vault URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultUrlError {
    #[error(
        "{url:?} does not start with https://: give the vault URL as `az keyvault show` prints it (https://NAME.vault.azure.net)"
    )]
    NotHttps { url: String },
    #[error(
        "{url:?} has a path, query, fragment or user name: give only https://HOST, e.g. https://NAME.vault.azure.net"
    )]
    NotJustAHost { url: String },
    #[error("{url:?} has no valid host name: give https://NAME.vault.azure.net")]
    BadHost { url: String },
    #[error("{url:?} has an invalid port: give the URL without a port")]
    BadPort { url: String },
    #[error(
        "{host} is a Managed HSM, but --vault was given: pass it as --hsm https://{host} instead"
    )]
    ManagedHsmGivenAsVault { host: String },
    #[error(
        "{host} is a Key Vault, but --hsm was given: pass it as --vault https://{host} instead"
    )]
    VaultGivenAsManagedHsm { host: String },
    #[error(
        "{host} is not a Key Vault or Managed HSM host (expected NAME.{suffixes}): check the URL with `az keyvault show` or `az keyvault list --resource-type hsm`"
    )]
    UnknownHost { host: String, suffixes: String },
}

/// A checked vault endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultUrl {
    kind: ServiceKind,
    /// `host` or `host:port`, lowercase; the default port 443 is dropped.
    authority: String,
    loopback: bool,
}

impl VaultUrl {
    /// Parses `text` given with `--vault` (Key Vault) or `--hsm` (Managed HSM).
    pub fn parse(text: &str, kind: ServiceKind) -> Result<VaultUrl, VaultUrlError> {
        let url = text.to_owned();
        let rest = text
            .strip_prefix("https://")
            .ok_or_else(|| VaultUrlError::NotHttps { url: url.clone() })?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@', '\\']) || authority.trim() != authority {
            return Err(VaultUrlError::NotJustAHost { url });
        }
        let authority = authority.to_ascii_lowercase();
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority.as_str(), None),
        };
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && !p.starts_with(['0', '+']) => Some(n),
                _ => return Err(VaultUrlError::BadPort { url }),
            },
        };
        let host_ok = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !host_ok {
            return Err(VaultUrlError::BadHost { url });
        }
        let loopback =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let authority = match port {
            None | Some(443) => host.to_owned(),
            Some(p) => format!("{host}:{p}"),
        };
        if !loopback {
            check_azure_host(host, kind)?;
        }
        Ok(VaultUrl {
            kind,
            authority,
            loopback,
        })
    }

    pub fn kind(&self) -> ServiceKind {
        self.kind
    }

    /// `host` or `host:port`, as it appears in the vault's kids.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// `https://host[:port]`, what the SDK's client is built with.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.authority)
    }

    /// True for 127.0.0.0/8, ::1 and localhost: a test double, never Azure.
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// True when a kid (`https://HOST[:PORT]/keys/...`) names a key in this vault.
    pub fn holds(&self, kid_host: &str) -> bool {
        let kid_host = kid_host.to_ascii_lowercase();
        let kid_host = kid_host.strip_suffix(":443").unwrap_or(&kid_host);
        kid_host == self.authority
    }
}

impl fmt::Display for VaultUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://{}", self.authority)
    }
}

fn check_azure_host(host: &str, kind: ServiceKind) -> Result<(), VaultUrlError> {
    let suffix = KNOWN_HOST_SUFFIXES.into_iter().find(|suffix| {
        host.strip_suffix(suffix)
            .and_then(|label| label.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.'))
    });
    let Some(suffix) = suffix else {
        return Err(VaultUrlError::UnknownHost {
            host: host.to_owned(),
            suffixes: KNOWN_HOST_SUFFIXES.join(", NAME."),
        });
    };
    let is_hsm = suffix.starts_with("managedhsm.");
    match (kind, is_hsm) {
        (ServiceKind::KeyVault, true) => Err(VaultUrlError::ManagedHsmGivenAsVault {
            host: host.to_owned(),
        }),
        (ServiceKind::ManagedHsm, false) => Err(VaultUrlError::VaultGivenAsManagedHsm {
            host: host.to_owned(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_hosts() {
        let v = VaultUrl::parse("https://Contoso.vault.azure.net/", ServiceKind::KeyVault)
            .expect("valid");
        assert_eq!(v.authority(), "contoso.vault.azure.net");
        assert_eq!(v.endpoint(), "https://contoso.vault.azure.net");
        assert!(!v.is_loopback());
        assert!(v.holds("contoso.vault.azure.net"));
        assert!(v.holds("contoso.vault.azure.net:443"));
        assert!(!v.holds("fabrikam.vault.azure.net"));
        let h = VaultUrl::parse("https://h.managedhsm.azure.net", ServiceKind::ManagedHsm)
            .expect("valid");
        assert_eq!(h.kind(), ServiceKind::ManagedHsm);
    }

    #[test]
    fn loopback_with_a_port() {
        let v = VaultUrl::parse("https://127.0.0.1:8443", ServiceKind::ManagedHsm).expect("valid");
        assert!(v.is_loopback());
        assert!(v.holds("127.0.0.1:8443"));
        assert!(!v.holds("127.0.0.1:8444"));
        assert!(!v.holds("127.0.0.1"));
    }

    #[test]
    fn refusals() {
        use ServiceKind::*;
        let cases: [(&str, ServiceKind, &str); 10] = [
            ("http://c.vault.azure.net", KeyVault, "https://"),
            ("https://c.vault.azure.net/keys", KeyVault, "path"),
            ("https://c.vault.azure.net?x=1", KeyVault, "path"),
            ("https://u@c.vault.azure.net", KeyVault, "path"),
            ("https://c.vault.azure.net:0", KeyVault, "port"),
            ("https://c.vault.azure.net:x", KeyVault, "port"),
            ("https://", KeyVault, "host"),
            ("https://h.managedhsm.azure.net", KeyVault, "--hsm"),
            ("https://c.vault.azure.net", ManagedHsm, "--vault"),
            (
                "https://c.vault.azure.net.evil.example",
                KeyVault,
                "not a Key Vault",
            ),
        ];
        for (url, kind, expected) in cases {
            let err = VaultUrl::parse(url, kind).expect_err(url);
            assert!(err.to_string().contains(expected), "{url}: {err}");
        }
    }
}
