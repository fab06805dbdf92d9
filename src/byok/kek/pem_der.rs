//! KEKs as PEM, SubjectPublicKeyInfo DER or PKCS#1 DER: one PEM block, an RSA key for
//! encryption, nothing around it.
use super::*;

impl Kek {
    pub(super) fn from_spki_der(der: &[u8]) -> Result<Kek, KekError> {
        let (spki, rest) = SubjectPublicKeyInfoRef::from_der_partial(der)
            .map_err(|err| KekError::BadDer(err.to_string()))?;
        if !rest.is_empty() {
            return Err(KekError::TrailingData("DER public key"));
        }
        check_rsa_algorithm(&spki)?;
        let key_bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KekError::BadDer("the key BIT STRING has unused bits".to_owned()))?;
        let kek = Kek::from_pkcs1_der(key_bits)?;
        if kek.spki_der != der {
            return Err(KekError::NonCanonicalDer);
        }
        Ok(kek)
    }

    pub(super) fn from_pkcs1_der(der: &[u8]) -> Result<Kek, KekError> {
        let key = RsaPublicKeyRef::from_der(der)
            .map_err(|err| KekError::BadDer(format!("RSAPublicKey: {err}")))?;
        Kek::from_n_e(key.modulus.as_bytes(), key.public_exponent.as_bytes())
    }

    pub(super) fn from_pem(bytes: &[u8]) -> Result<Kek, KekError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| KekError::BadPem("it is not UTF-8 text".to_owned()))?;
        let block = single_pem_block(text)?;
        let (label, der) = decode_pem(block)?;
        match label {
            "PUBLIC KEY" => Kek::from_spki_der(&der).map_err(|e| match e {
                KekError::BadDer(why) => KekError::BadPem(format!(
                    "its PUBLIC KEY block is not an RSA SubjectPublicKeyInfo ({why})"
                )),
                other => other,
            }),
            "RSA PUBLIC KEY" => Kek::from_pkcs1_der(&der).map_err(|e| match e {
                KekError::BadDer(why) => KekError::BadPem(format!(
                    "its RSA PUBLIC KEY block is not a PKCS#1 RSAPublicKey ({why})"
                )),
                other => other,
            }),
            other => Err(KekError::WrongPemLabel {
                label: other.to_owned(),
                hint: pem_label_hint(other),
            }),
        }
    }
}

/// The label and the bytes of one PEM block. The base64 may be wrapped at any width (64 as
/// RFC 7468 says, 76 as MIME tools write, or not at all) and the whole block may be on one
/// line; the base64 itself must be canonical (standard alphabet, padded), and the END label
/// must be the BEGIN label.
pub(super) fn decode_pem(block: &str) -> Result<(&str, Vec<u8>), KekError> {
    let bad = |why: String| KekError::BadPem(why);
    let after_begin = block
        .strip_prefix("-----BEGIN ")
        .ok_or_else(|| bad("no -----BEGIN line".to_owned()))?;
    let (label, rest) = after_begin
        .split_once("-----")
        .ok_or_else(|| bad("the BEGIN line does not end with -----".to_owned()))?;
    let (body, end) = rest
        .split_once("-----END ")
        .ok_or_else(|| bad("no -----END line".to_owned()))?;
    let end_label = end
        .trim_end()
        .strip_suffix("-----")
        .ok_or_else(|| bad("the END line does not end with -----".to_owned()))?;
    if end_label != label {
        return Err(bad(format!(
            "it begins as \"{label}\" but ends as \"{end_label}\""
        )));
    }
    if body.contains(':') {
        return Err(bad(
            "it has header lines (Proc-Type, DEK-Info): an encrypted or legacy PEM is not a KEK"
                .to_owned(),
        ));
    }
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&base64)
        .map_err(|e| {
            bad(format!(
                "the base64 between its BEGIN and END lines is invalid: {e}"
            ))
        })?;
    Ok((label, der))
}

/// Returns the one PEM block in `text`, rejecting several blocks and surrounding text.
pub(super) fn single_pem_block(text: &str) -> Result<&str, KekError> {
    let blocks = text.matches("-----BEGIN ").count();
    if blocks > 1 {
        return Err(KekError::SeveralPemBlocks(blocks));
    }
    let start = text
        .find("-----BEGIN ")
        .ok_or_else(|| KekError::BadPem("no -----BEGIN line".to_owned()))?;
    if !text[..start].trim().is_empty() {
        return Err(KekError::TextBeforePem);
    }
    let end_marker = text[start..]
        .find("-----END ")
        .map(|at| start + at)
        .ok_or_else(|| KekError::BadPem("no -----END line".to_owned()))?;
    let end_line_len = text[end_marker..]
        .find('\n')
        .unwrap_or(text.len() - end_marker);
    let end = end_marker + end_line_len;
    if !text[end..].trim().is_empty() {
        return Err(KekError::TrailingData("PEM block"));
    }
    Ok(text[start..end].trim_end_matches('\r'))
}

pub(super) fn pem_label_hint(label: &str) -> &'static str {
    match label {
        "CERTIFICATE" => {
            "a Key Vault KEK is a key, not a certificate: use `az keyvault key download --file kek.pem`"
        }
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
            "this is a private key; the ceremony needs only the KEK's public key (`az keyvault key download`). Keep private keys away from this machine"
        }
        _ => "expected BEGIN PUBLIC KEY, as `az keyvault key download` writes",
    }
}

pub(super) fn check_rsa_algorithm(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<(), KekError> {
    let oid = spki.algorithm.oid;
    if oid == RSA_ENCRYPTION {
        return Ok(());
    }
    let what = if oid == ID_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        match curve {
            Some(oid) => match EcCurve::from_oid(&oid) {
                Some(curve) => format!("an EC {curve} key"),
                None => format!("an EC key on curve {oid}"),
            },
            None => "an EC key".to_owned(),
        }
    } else if oid == RSASSA_PSS {
        "an RSASSA-PSS-only key".to_owned()
    } else if oid == ED25519 {
        "an Ed25519 key".to_owned()
    } else {
        format!("a key of algorithm {oid}")
    };
    Err(KekError::NotRsa(what))
}
