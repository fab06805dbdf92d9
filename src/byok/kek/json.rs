//! KEKs as JSON: `az keyvault key show` output, the REST key bundle, or a bare JWK, checked
//! field by field (no private members, no EC members, key_ops that allow wrapping).
use super::*;

impl Kek {
    pub(super) fn from_json(bytes: &[u8]) -> Result<Kek, KekError> {
        let json = Json::parse(bytes).map_err(|failure| match failure {
            ParseFailure::TrailingData => KekError::TrailingData("JSON object"),
            ParseFailure::NotUtf8(at) => KekError::BadJson(format!("not UTF-8 at byte {at}")),
            ParseFailure::Syntax(text) => KekError::BadJson(text),
        })?;
        if let Some(key) = duplicate_anywhere(&json) {
            return Err(KekError::DuplicateJsonKey(key));
        }
        let Json::Object(members) = &json else {
            return Err(KekError::NotAKeyObject(json.kind()));
        };
        match member(members, "key") {
            Some(key) => {
                check_fields(members, &KEY_BUNDLE_FIELDS, "")?;
                let Json::Object(jwk) = key else {
                    return Err(wrong_type("key", "an object", key));
                };
                let mut kek = Kek::from_jwk(jwk, "key.")?;
                if is_disabled(members) {
                    kek.push_warning(
                        "the KEK JSON says the key is disabled (attributes.enabled is false): Azure will refuse the import until it is enabled".to_owned(),
                    );
                }
                Ok(kek)
            }
            None => Kek::from_jwk(members, ""),
        }
    }

    /// `prefix` is "key." inside a key bundle and "" for a bare JWK (for error messages).
    pub(super) fn from_jwk(jwk: &[(String, Json)], prefix: &str) -> Result<Kek, KekError> {
        check_fields(jwk, &JWK_FIELDS, prefix)?;
        check_null_or_absent(jwk, prefix)?;
        let kty = required_str(jwk, "kty", prefix)?;
        check_kty(kty)?;
        check_key_ops(jwk, prefix)?;
        let kid = Kid::parse(required_str(jwk, "kid", prefix)?)?;
        let n = decode_base64_any(&format!("{prefix}n"), required_str(jwk, "n", prefix)?)?;
        let e = decode_base64_any(&format!("{prefix}e"), required_str(jwk, "e", prefix)?)?;
        let mut kek = Kek::from_n_e(&n, &e)?;
        if kty == "RSA" {
            kek.push_warning(
                "the KEK's kty is \"RSA\", not \"RSA-HSM\": Azure requires an HSM-protected KEK; check that it was created with --kty RSA-HSM".to_owned(),
            );
        }
        kek.set_kid(kid);
        Ok(kek)
    }
}

/// The first duplicated key anywhere in the document, as a dotted path.
pub(super) fn duplicate_anywhere(json: &Json) -> Option<String> {
    match json {
        Json::Object(members) => first_duplicate(members).map(str::to_owned).or_else(|| {
            members.iter().find_map(|(key, value)| {
                duplicate_anywhere(value).map(|inner| format!("{key}.{inner}"))
            })
        }),
        Json::Array(items) => items.iter().find_map(duplicate_anywhere),
        _ => None,
    }
}

/// `attributes.enabled == false` in a key bundle; the other attributes are informational.
pub(super) fn is_disabled(members: &[(String, Json)]) -> bool {
    match member(members, "attributes") {
        Some(Json::Object(attributes)) => member(attributes, "enabled") == Some(&Json::Bool(false)),
        _ => false,
    }
}

pub(super) fn check_fields(
    members: &[(String, Json)],
    allowed: &[&str],
    prefix: &str,
) -> Result<(), KekError> {
    match members
        .iter()
        .find(|(key, _)| !allowed.contains(&key.as_str()))
    {
        Some((key, _)) => Err(KekError::UnknownJsonField(format!("{prefix}{key}"))),
        None => Ok(()),
    }
}

pub(super) fn check_null_or_absent(jwk: &[(String, Json)], prefix: &str) -> Result<(), KekError> {
    for field in PRIVATE_JWK_FIELDS {
        if member(jwk, field).is_some_and(|v| *v != Json::Null) {
            return Err(KekError::PrivateMaterial(format!("{prefix}{field}")));
        }
    }
    for field in EC_JWK_FIELDS {
        if let Some(value) = member(jwk, field).filter(|v| **v != Json::Null) {
            return Err(wrong_type(
                &format!("{prefix}{field}"),
                "null for an RSA key",
                value,
            ));
        }
    }
    Ok(())
}

pub(super) fn required_str<'a>(
    jwk: &'a [(String, Json)],
    field: &str,
    prefix: &str,
) -> Result<&'a str, KekError> {
    match member(jwk, field) {
        None | Some(Json::Null) => Err(KekError::MissingJsonField(format!("{prefix}{field}"))),
        Some(Json::String(text)) => Ok(text),
        Some(other) => Err(wrong_type(&format!("{prefix}{field}"), "a string", other)),
    }
}

pub(super) fn wrong_type(field: &str, expected: &'static str, found: &Json) -> KekError {
    KekError::WrongJsonType {
        field: field.to_owned(),
        expected,
        found: found.kind(),
    }
}

pub(super) fn check_kty(kty: &str) -> Result<(), KekError> {
    match kty {
        "RSA-HSM" | "RSA" => Ok(()),
        other => Err(KekError::WrongKty(other.to_owned())),
    }
}

/// key_ops (REST/JWK) or keyOps (az CLI) must be present once and be exactly ["import"].
pub(super) fn check_key_ops(jwk: &[(String, Json)], prefix: &str) -> Result<(), KekError> {
    let ops = match (member(jwk, "key_ops"), member(jwk, "keyOps")) {
        (Some(_), Some(_)) => return Err(KekError::DuplicateJsonKey(format!("{prefix}key_ops"))),
        (Some(ops), None) | (None, Some(ops)) => ops,
        (None, None) => return Err(KekError::MissingJsonField(format!("{prefix}key_ops"))),
    };
    let Json::Array(items) = ops else {
        return Err(wrong_type(
            &format!("{prefix}key_ops"),
            "an array of strings",
            ops,
        ));
    };
    let names: Option<Vec<&str>> = items.iter().map(Json::as_str).collect();
    match names {
        Some(names) if names == ["import"] => Ok(()),
        Some(names) => Err(KekError::WrongKeyOps(format!("{names:?}"))),
        None => Err(wrong_type(
            &format!("{prefix}key_ops"),
            "an array of strings",
            ops,
        )),
    }
}

/// Decodes base64 in either alphabet, padded or not: `az` prints standard base64 with '=',
/// REST and JWK use unpadded base64url. Mixing the two alphabets is an error.
pub(super) fn decode_base64_any(field: &str, text: &str) -> Result<Vec<u8>, KekError> {
    let standard = text.contains(['+', '/']);
    let url_safe = text.contains(['-', '_']);
    let bad = |reason: String| KekError::BadBase64 {
        field: field.to_owned(),
        reason,
    };
    if standard && url_safe {
        return Err(bad(
            "it mixes the standard and URL-safe alphabets".to_owned()
        ));
    }
    let alphabet = if url_safe {
        &alphabet::URL_SAFE
    } else {
        &alphabet::STANDARD
    };
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    GeneralPurpose::new(alphabet, config)
        .decode(text)
        .map_err(|err| bad(err.to_string()))
}
