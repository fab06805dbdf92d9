//! The `.byok` transfer file of Azure's "new BYOK method":
//!
//! ```text
//! {"schema_version":"1.0.0","header":{"kid":"<KEK kid>","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"<base64url>","generator":"<text>"}
//! ```
//!
//! Written compact, in exactly that key order, UTF-8, base64url without '=' padding (as the Azure
//! SDKs and open implementations emit it) and with no trailing newline: `az keyvault key import`
//! uploads the file's raw bytes, so the bytes whose SHA-256 the manifest records are exactly the
//! JSON text, with nothing an editor or a shell could disagree about.
//!
//! Reading is strict: every deviation is a [`FormatError`], except '=' padding and whitespace
//! after the object, which JSON and base64url readers tolerate and which are reported as warnings.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

use crate::byok::kek::Kid;
use crate::byok::strict_json::{Json, ParseFailure, first_duplicate, member};

pub const SCHEMA_VERSION: &str = "1.0.0";
pub const ALG: &str = "dir";
pub const ENC: &str = "CKM_RSA_AES_KEY_WRAP";

const TOP_FIELDS: [&str; 4] = ["schema_version", "header", "ciphertext", "generator"];
const HEADER_FIELDS: [&str; 3] = ["kid", "alg", "enc"];

/// One thing wrong with a `.byok` file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the .byok file is empty: the export did not complete; export the key again")]
    Empty,
    #[error(
        "the .byok file is not UTF-8 (bad byte at offset {0}): it was damaged or is not a .byok file; export it again"
    )]
    NotUtf8(usize),
    #[error(
        "the .byok file starts with a byte-order mark, which Azure's parser may reject: remove it or export the file again"
    )]
    ByteOrderMark,
    #[error(
        "the .byok file is not JSON ({0}): it was damaged or is not a .byok file; export it again"
    )]
    NotJson(String),
    #[error("the .byok file is JSON {0}, not an object: it is not a .byok file")]
    NotAnObject(&'static str),
    #[error(
        "trailing data after the JSON object: the file was damaged or concatenated; export it again"
    )]
    TrailingData,
    #[error("the key {0:?} appears twice: the file was edited or damaged; export it again")]
    DuplicateKey(String),
    #[error(
        "unknown field {0:?}: a .byok file has only schema_version, header{{kid,alg,enc}}, ciphertext and generator; export it again"
    )]
    UnknownField(String),
    #[error("missing field {0:?}: the file is incomplete; export it again")]
    MissingField(String),
    #[error("field {field:?} is {found}, expected {expected}: export the file again")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error(
        "schema_version is {0:?}; only \"1.0.0\" is defined by the Azure BYOK specification: export with a tool that writes 1.0.0"
    )]
    UnsupportedSchemaVersion(String),
    #[error("header.alg is {0:?}, must be \"dir\": export the file again with this tool")]
    WrongAlg(String),
    #[error(
        "header.enc is {0:?}, must be \"CKM_RSA_AES_KEY_WRAP\": export the file again with this tool"
    )]
    WrongEnc(String),
    #[error("header.kid is not a valid Key Vault kid: {0}")]
    InvalidKid(String),
    #[error("ciphertext is empty: the export did not complete; export the key again")]
    EmptyCiphertext,
    #[error(
        "ciphertext uses the standard base64 alphabet ('+' or '/'); Azure expects base64url ('-' and '_'): export the file again with this tool"
    )]
    StandardBase64,
    #[error("ciphertext is not valid base64url ({0}): the file was damaged; export it again")]
    BadBase64(String),
}

/// The content of a `.byok` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByokFile {
    /// The KEK's full, versioned kid.
    pub kid: String,
    /// RSA-OAEP(KEK, AES key) || RFC 5649 wrap of the target key (not secret: it is encrypted).
    pub ciphertext: Vec<u8>,
    /// Informational: tool and version; HSM and firmware.
    pub generator: String,
}

/// A successfully parsed file with the harmless oddities found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub file: ByokFile,
    pub warnings: Vec<String>,
}

/// Everything found in a file: all problems (not just the first), the warnings, and the
/// content whenever kid and ciphertext could be read, so later checks can still run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inspection {
    pub file: Option<ByokFile>,
    /// header.kid whenever it is a string, even if the rest of the file is unreadable.
    pub header_kid: Option<String>,
    pub problems: Vec<FormatError>,
    pub warnings: Vec<String>,
}

impl ByokFile {
    /// The exact bytes of the `.byok` file: compact JSON, fixed key order, no trailing newline.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // serde_json's Display for a string value is its escaped JSON literal, infallibly.
        let string = |text: &str| serde_json::Value::from(text).to_string();
        format!(
            "{{\"schema_version\":{},\"header\":{{\"kid\":{},\"alg\":{},\"enc\":{}}},\"ciphertext\":{},\"generator\":{}}}",
            string(SCHEMA_VERSION),
            string(&self.kid),
            string(ALG),
            string(ENC),
            string(&URL_SAFE_NO_PAD.encode(&self.ciphertext)),
            string(&self.generator),
        )
        .into_bytes()
    }

    /// Parses a file strictly; the error is the first problem found.
    pub fn parse(bytes: &[u8]) -> Result<Parsed, FormatError> {
        let inspection = inspect(bytes);
        if let Some(first) = inspection.problems.into_iter().next() {
            return Err(first);
        }
        match inspection.file {
            Some(file) => Ok(Parsed {
                file,
                warnings: inspection.warnings,
            }),
            // Unreachable in practice: no problems means the file was read; report it as empty.
            None => Err(FormatError::Empty),
        }
    }
}

/// Checks a file and collects every problem and warning.
pub fn inspect(bytes: &[u8]) -> Inspection {
    let mut out = Inspection::default();
    match parse_object(bytes, &mut out.warnings) {
        Ok(members) => inspect_members(&members, &mut out),
        Err(problem) => out.problems.push(problem),
    }
    out
}

fn parse_object(
    bytes: &[u8],
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, Json)>, FormatError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FormatError::Empty);
    }
    if bytes.starts_with(&[0xef, 0xbb, 0xbf])
        || bytes.starts_with(&[0xff, 0xfe])
        || bytes.starts_with(&[0xfe, 0xff])
    {
        return Err(FormatError::ByteOrderMark);
    }
    let json = Json::parse(bytes).map_err(|failure| match failure {
        ParseFailure::NotUtf8(at) => FormatError::NotUtf8(at),
        ParseFailure::Syntax(text) => FormatError::NotJson(text),
        ParseFailure::TrailingData => FormatError::TrailingData,
    })?;
    let padded = |b: Option<&u8>| b.is_some_and(u8::is_ascii_whitespace);
    if padded(bytes.first()) || padded(bytes.last()) {
        warnings.push(
            "the file has whitespace around the JSON (a newline added by an editor?); JSON readers ignore it, but this tool writes none".to_owned(),
        );
    }
    match json {
        Json::Object(members) => Ok(members),
        other => Err(FormatError::NotAnObject(other.kind())),
    }
}

fn inspect_members(top: &[(String, Json)], out: &mut Inspection) {
    check_object_keys(top, &TOP_FIELDS, "", &mut out.problems);
    let header = match field(top, "header", "", &mut out.problems) {
        Some(Json::Object(header)) => Some(header.as_slice()),
        Some(other) => {
            out.problems.push(wrong_type("header", "an object", other));
            None
        }
        None => None,
    };
    if let Some(version) = string_field(top, "schema_version", "", &mut out.problems) {
        if version != SCHEMA_VERSION {
            out.problems
                .push(FormatError::UnsupportedSchemaVersion(version.to_owned()));
        }
    }
    let kid = header.and_then(|header| inspect_header(header, &mut out.problems));
    out.header_kid = kid.map(str::to_owned);
    let ciphertext = string_field(top, "ciphertext", "", &mut out.problems)
        .and_then(|text| decode_ciphertext(text, &mut out.problems, &mut out.warnings));
    let generator = string_field(top, "generator", "", &mut out.problems);
    if generator.is_some_and(str::is_empty) {
        out.warnings
            .push("the generator field is empty; it usually names the tool and HSM".to_owned());
    }
    if let (Some(kid), Some(ciphertext)) = (kid, ciphertext) {
        out.file = Some(ByokFile {
            kid: kid.to_owned(),
            ciphertext,
            generator: generator.unwrap_or_default().to_owned(),
        });
    }
}

/// Checks the header and returns the kid text when it is a string (valid or not, so the
/// caller can still compare it with the expected kid).
fn inspect_header<'a>(
    header: &'a [(String, Json)],
    problems: &mut Vec<FormatError>,
) -> Option<&'a str> {
    check_object_keys(header, &HEADER_FIELDS, "header.", problems);
    if let Some(alg) = string_field(header, "alg", "header.", problems) {
        if alg != ALG {
            problems.push(FormatError::WrongAlg(alg.to_owned()));
        }
    }
    if let Some(enc) = string_field(header, "enc", "header.", problems) {
        if enc != ENC {
            problems.push(FormatError::WrongEnc(enc.to_owned()));
        }
    }
    let kid = string_field(header, "kid", "header.", problems)?;
    if let Err(err) = Kid::parse(kid) {
        problems.push(FormatError::InvalidKid(err.to_string()));
    }
    Some(kid)
}

/// Reports duplicate and unknown keys of one object.
fn check_object_keys(
    members: &[(String, Json)],
    allowed: &[&str],
    prefix: &str,
    problems: &mut Vec<FormatError>,
) {
    if let Some(key) = first_duplicate(members) {
        problems.push(FormatError::DuplicateKey(format!("{prefix}{key}")));
    }
    for (key, _) in members {
        if !allowed.contains(&key.as_str()) {
            problems.push(FormatError::UnknownField(format!("{prefix}{key}")));
        }
    }
}

fn field<'a>(
    members: &'a [(String, Json)],
    name: &str,
    prefix: &str,
    problems: &mut Vec<FormatError>,
) -> Option<&'a Json> {
    let value = member(members, name);
    if value.is_none() {
        problems.push(FormatError::MissingField(format!("{prefix}{name}")));
    }
    value
}

fn string_field<'a>(
    members: &'a [(String, Json)],
    name: &str,
    prefix: &str,
    problems: &mut Vec<FormatError>,
) -> Option<&'a str> {
    match field(members, name, prefix, problems)? {
        Json::String(text) => Some(text),
        other => {
            problems.push(wrong_type(&format!("{prefix}{name}"), "a string", other));
            None
        }
    }
}

fn wrong_type(field: &str, expected: &'static str, found: &Json) -> FormatError {
    FormatError::WrongType {
        field: field.to_owned(),
        expected,
        found: found.kind(),
    }
}

/// base64url, unpadded; '=' padding is tolerated with a warning. The standard alphabet is an error
/// of its own because it is the most likely mistake of a hand-rolled exporter.
fn decode_ciphertext(
    text: &str,
    problems: &mut Vec<FormatError>,
    warnings: &mut Vec<String>,
) -> Option<Vec<u8>> {
    if text.is_empty() {
        problems.push(FormatError::EmptyCiphertext);
        return None;
    }
    if text.contains(['+', '/']) {
        problems.push(FormatError::StandardBase64);
        return None;
    }
    let decoded = if text.ends_with('=') {
        warnings.push(
            "ciphertext has '=' padding; .byok files are normally unpadded base64url, and whether Azure accepts padding is not documented".to_owned(),
        );
        URL_SAFE.decode(text)
    } else {
        URL_SAFE_NO_PAD.decode(text)
    };
    match decoded {
        Ok(bytes) => Some(bytes),
        Err(err) => {
            problems.push(FormatError::BadBase64(err.to_string()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KID: &str = "https://contoso.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef";

    fn sample() -> ByokFile {
        ByokFile {
            kid: KID.to_owned(),
            ciphertext: vec![0xfb, 0xff, 0x00, 0x01, 0x02],
            generator: "byok-ceremony 0.1.0; SoftHSM 2.6.1".to_owned(),
        }
    }

    fn json(text: &str) -> Vec<u8> {
        text.replace("KID", KID).into_bytes()
    }

    fn problems(text: &str) -> Vec<FormatError> {
        inspect(&json(text)).problems
    }

    #[test]
    fn writes_the_exact_format() {
        let bytes = sample().to_json_bytes();
        let expected = format!(
            "{{\"schema_version\":\"1.0.0\",\"header\":{{\"kid\":\"{KID}\",\"alg\":\"dir\",\"enc\":\"CKM_RSA_AES_KEY_WRAP\"}},\"ciphertext\":\"-_8AAQI\",\"generator\":\"byok-ceremony 0.1.0; SoftHSM 2.6.1\"}}"
        );
        assert_eq!(String::from_utf8(bytes).expect("utf-8"), expected);
    }

    #[test]
    fn round_trips() {
        let parsed = ByokFile::parse(&sample().to_json_bytes()).expect("valid");
        assert_eq!(parsed.file, sample());
        assert!(parsed.warnings.is_empty());
    }

    #[test]
    fn generator_is_escaped() {
        let mut file = sample();
        file.generator = "quote \" backslash \\ newline \n".to_owned();
        let parsed = ByokFile::parse(&file.to_json_bytes()).expect("valid");
        assert_eq!(parsed.file.generator, file.generator);
    }

    #[test]
    fn padding_and_whitespace_are_warnings() {
        let text = r#" {"schema_version":"1.0.0","header":{"kid":"KID","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"-_8AAQI=","generator":"g"}
"#;
        let parsed = ByokFile::parse(&json(text)).expect("valid with warnings");
        assert_eq!(parsed.file.ciphertext, [0xfb, 0xff, 0, 1, 2]);
        assert_eq!(parsed.warnings.len(), 2, "{:?}", parsed.warnings);
    }

    #[test]
    fn every_problem_is_collected() {
        let found = problems(
            r#"{"schema_version":"2.0","header":{"kid":"KID","alg":"RSA-OAEP","enc":"A256GCM"},"ciphertext":"AQ","generator":"g","extra":1}"#,
        );
        assert_eq!(
            found,
            [
                FormatError::UnknownField("extra".to_owned()),
                FormatError::UnsupportedSchemaVersion("2.0".to_owned()),
                FormatError::WrongAlg("RSA-OAEP".to_owned()),
                FormatError::WrongEnc("A256GCM".to_owned()),
            ]
        );
        let inspection = inspect(&json(
            r#"{"schema_version":"2.0","header":{"kid":"KID","alg":"x","enc":"y"},"ciphertext":"AQ","generator":"g"}"#,
        ));
        assert!(
            inspection.file.is_some(),
            "content still readable for later checks"
        );
    }

    #[test]
    fn structural_problems() {
        let cases: [(&str, FormatError); 12] = [
            ("", FormatError::Empty),
            ("  \n", FormatError::Empty),
            ("not json", FormatError::NotJson(String::new())),
            ("[1,2]", FormatError::NotAnObject("an array")),
            ("{} {}", FormatError::TrailingData),
            ("\u{feff}{}", FormatError::ByteOrderMark),
            (
                r#"{"schema_version":"1.0.0","schema_version":"1.0.0","header":{"kid":"KID","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"AQ","generator":"g"}"#,
                FormatError::DuplicateKey("schema_version".to_owned()),
            ),
            (
                r#"{"schema_version":"1.0.0","header":{"kid":"KID","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP","x":"y"},"ciphertext":"AQ","generator":"g"}"#,
                FormatError::UnknownField("header.x".to_owned()),
            ),
            (
                r#"{"schema_version":"1.0.0","header":{"kid":"KID","enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"AQ","generator":"g"}"#,
                FormatError::MissingField("header.alg".to_owned()),
            ),
            (
                r#"{"schema_version":"1.0.0","header":"KID","ciphertext":"AQ","generator":"g"}"#,
                FormatError::WrongType {
                    field: "header".to_owned(),
                    expected: "an object",
                    found: "a string",
                },
            ),
            (
                r#"{"schema_version":1,"header":{"kid":"KID","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"AQ","generator":"g"}"#,
                FormatError::WrongType {
                    field: "schema_version".to_owned(),
                    expected: "a string",
                    found: "a number",
                },
            ),
            (
                r#"{"schema_version":"1.0.0","header":{"kid":"KID","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"AQ"}"#,
                FormatError::MissingField("generator".to_owned()),
            ),
        ];
        for (text, expected) in cases {
            let found = problems(text);
            let first = found
                .first()
                .unwrap_or_else(|| panic!("{text}: no problem"));
            match (&expected, first) {
                (FormatError::NotJson(_), FormatError::NotJson(_)) => {}
                _ => assert_eq!(first, &expected, "{text}"),
            }
        }
    }

    #[test]
    fn ciphertext_problems() {
        let with = |ciphertext: &str| {
            problems(&format!(
                r#"{{"schema_version":"1.0.0","header":{{"kid":"KID","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"}},"ciphertext":"{ciphertext}","generator":"g"}}"#
            ))
        };
        assert_eq!(with(""), [FormatError::EmptyCiphertext]);
        assert_eq!(with("+/8"), [FormatError::StandardBase64]);
        assert!(matches!(with("AQ AB")[..], [FormatError::BadBase64(_)]));
        assert!(
            matches!(with("A")[..], [FormatError::BadBase64(_)]),
            "impossible length"
        );
        assert!(
            matches!(with("AR")[..], [FormatError::BadBase64(_)]),
            "non-canonical trailing bits"
        );
        assert!(
            matches!(with("AQ=")[..], [FormatError::BadBase64(_)]),
            "wrong padding"
        );
        assert!(with("AQ==").is_empty());
    }

    #[test]
    fn invalid_kid_is_a_problem_but_the_kid_is_kept() {
        let inspection = inspect(&json(
            r#"{"schema_version":"1.0.0","header":{"kid":"https://contoso.vault.azure.net/keys/kek","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"AQ","generator":"g"}"#,
        ));
        assert!(matches!(
            inspection.problems[..],
            [FormatError::InvalidKid(_)]
        ));
        let file = inspection.file.expect("kept");
        assert_eq!(file.kid, "https://contoso.vault.azure.net/keys/kek");
    }

    #[test]
    fn not_utf8() {
        assert_eq!(
            inspect(b"{\"a\":\"\xc3\x28\"}").problems,
            [FormatError::NotUtf8(6)]
        );
    }

    #[test]
    fn messages_say_what_to_do() {
        for err in [
            FormatError::Empty,
            FormatError::TrailingData,
            FormatError::StandardBase64,
            FormatError::MissingField("ciphertext".to_owned()),
        ] {
            let text = err.to_string();
            assert!(text.contains("export"), "{text}");
        }
    }
}
