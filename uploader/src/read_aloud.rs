//! How every `fetch-kek` (Azure, Google Cloud, AWS) shows a wrapping key's fingerprint: the
//! SHA-256 of its SubjectPublicKeyInfo DER as hex groups and as PGP words. One format, so the
//! custodians hear the same kind of words whichever cloud the KEK came from, and the station
//! shows the same words when it loads the file.
use byok_ceremony::byok::fingerprint::Fingerprint;

/// The two lines printed under a fetched KEK.
pub fn fingerprint_lines(fingerprint: &Fingerprint) -> [String; 2] {
    [
        format!(
            "  fingerprint (SHA-256 of the SPKI DER): {}",
            fingerprint.hex_groups()
        ),
        format!("  fingerprint words: {}", fingerprint.pgp_words().join(" ")),
    ]
}

/// The last line of every `fetch-kek`.
pub const READ_ALOUD: &str = "Read the fingerprint aloud to the custodians; the station shows the same words when it loads these files.";
