//! PKCS#11 URIs (RFC 7512), the token-selecting part: `pkcs11:token=Ceremony;serial=1234`.
//!
//! Only the attributes that pick a token (and the module path) are meaningful here. Object
//! attributes are refused rather than ignored so that nobody believes a URI selects a key when
//! it does not, and a PIN in a URI is refused outright: PINs are split among custodians.

/// A parsed PKCS#11 URI, reduced to what selects a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    pub token: Option<String>,
    pub manufacturer: Option<String>,
    pub serial: Option<String>,
    pub model: Option<String>,
    pub slot_id: Option<u64>,
    pub module_path: Option<String>,
}

/// Why a PKCS#11 URI was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UriError {
    #[error("a PKCS#11 URI starts with \"pkcs11:\"; write e.g. pkcs11:token=Ceremony")]
    Scheme,
    #[error("\"{0}\" in the PKCS#11 URI is not NAME=VALUE; separate attributes with ';'")]
    NotAttribute(String),
    #[error("attribute \"{0}\" appears twice in the PKCS#11 URI; keep one")]
    Duplicate(String),
    #[error("bad percent-encoding in the PKCS#11 URI value \"{0}\"; use %XX with two hex digits")]
    Percent(String),
    #[error("slot-id \"{0}\" in the PKCS#11 URI is not a number")]
    SlotId(String),
    #[error(
        "the PKCS#11 URI carries a PIN ({0}); PINs are never written down, they are rebuilt from custodian shares: remove it"
    )]
    PinInUri(String),
    #[error(
        "the PKCS#11 URI attribute \"{0}\" is not supported here; a ceremony URI names a token with token, manufacturer, serial, model or slot-id"
    )]
    Unsupported(String),
    #[error(
        "the PKCS#11 URI names no token; add token=, serial=, model=, manufacturer= or slot-id="
    )]
    Empty,
}

impl Pkcs11Uri {
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let rest = uri.strip_prefix("pkcs11:").ok_or(UriError::Scheme)?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut out = Pkcs11Uri::default();
        for part in path.split(';').filter(|p| !p.is_empty()) {
            let (name, raw) = part
                .split_once('=')
                .ok_or_else(|| UriError::NotAttribute(part.to_owned()))?;
            let value = percent_decode(raw)?;
            let slot = match name {
                "token" => &mut out.token,
                "manufacturer" => &mut out.manufacturer,
                "serial" => &mut out.serial,
                "model" => &mut out.model,
                "slot-id" => {
                    if out.slot_id.is_some() {
                        return Err(UriError::Duplicate(name.to_owned()));
                    }
                    out.slot_id = Some(value.parse().map_err(|_| UriError::SlotId(value))?);
                    continue;
                }
                other => return Err(UriError::Unsupported(other.to_owned())),
            };
            if slot.replace(value).is_some() {
                return Err(UriError::Duplicate(name.to_owned()));
            }
        }
        for part in query.into_iter().flat_map(|q| q.split('&')) {
            let (name, raw) = part
                .split_once('=')
                .ok_or_else(|| UriError::NotAttribute(part.to_owned()))?;
            match name {
                "module-path" => {
                    if out.module_path.replace(percent_decode(raw)?).is_some() {
                        return Err(UriError::Duplicate(name.to_owned()));
                    }
                }
                "pin-value" | "pin-source" => return Err(UriError::PinInUri(name.to_owned())),
                other => return Err(UriError::Unsupported(other.to_owned())),
            }
        }
        if out.token.is_none()
            && out.manufacturer.is_none()
            && out.serial.is_none()
            && out.model.is_none()
            && out.slot_id.is_none()
        {
            return Err(UriError::Empty);
        }
        Ok(out)
    }
}

fn percent_decode(raw: &str) -> Result<String, UriError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| UriError::Percent(raw.to_owned()))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UriError::Percent(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_token_attributes_and_percent_encoding() {
        let uri =
            Pkcs11Uri::parse("pkcs11:token=My%20Token;serial=abc123;slot-id=7?module-path=/x.so")
                .expect("valid");
        assert_eq!(uri.token.as_deref(), Some("My Token"));
        assert_eq!(uri.serial.as_deref(), Some("abc123"));
        assert_eq!(uri.slot_id, Some(7));
        assert_eq!(uri.module_path.as_deref(), Some("/x.so"));
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        assert_eq!(Pkcs11Uri::parse("token=x"), Err(UriError::Scheme));
        assert_eq!(
            Pkcs11Uri::parse("pkcs11:token=a;token=b"),
            Err(UriError::Duplicate("token".into()))
        );
        assert_eq!(
            Pkcs11Uri::parse("pkcs11:token=a?pin-value=1234"),
            Err(UriError::PinInUri("pin-value".into()))
        );
        assert_eq!(
            Pkcs11Uri::parse("pkcs11:object=key"),
            Err(UriError::Unsupported("object".into()))
        );
        assert_eq!(Pkcs11Uri::parse("pkcs11:"), Err(UriError::Empty));
        assert!(matches!(
            Pkcs11Uri::parse("pkcs11:token=%G1"),
            Err(UriError::Percent(_))
        ));
        assert!(matches!(
            Pkcs11Uri::parse("pkcs11:slot-id=x"),
            Err(UriError::SlotId(_))
        ));
        assert!(matches!(
            Pkcs11Uri::parse("pkcs11:tokenx"),
            Err(UriError::NotAttribute(_))
        ));
    }
}
