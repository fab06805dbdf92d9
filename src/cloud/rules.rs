//! What each cloud refuses, refused here first: before the HSM makes or wraps anything, with the
//! rule and the fix in words for the people in the room.
use super::{Algorithm, Cloud, Envelope};
use crate::byok::curve::EcCurve;
use crate::hsm_types::key::TargetSpec;

/// How long a Cloud KMS import job lives after its creation.
pub const GCP_IMPORT_JOB_LIFETIME_SECS: i64 = 3 * 24 * 3600;
/// How long AWS's wrapping key and import token are valid, as a set.
pub const AWS_IMPORT_PARAMETERS_LIFETIME_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    #[error("unknown cloud \"{0}\"; use azure, gcp or aws")]
    UnknownCloud(String),
    #[error(
        "\"{name}\" is not a {cloud} wrapping algorithm this tool knows; use one of {}",
        known.join(", ")
    )]
    UnknownAlgorithm {
        cloud: Cloud,
        name: String,
        known: Vec<&'static str>,
    },
    /// A combination the cloud refuses: the rule it breaks, and what to do instead.
    #[error("{rule}: {fix}")]
    Rule { rule: String, fix: String },
    #[error(
        "\"{0}\" is not a time in RFC 3339 UTC (like 2026-12-04T09:30:00Z); copy it as byok-upload printed it"
    )]
    Time(String),
}

fn rule(rule: impl Into<String>, fix: impl Into<String>) -> CloudError {
    CloudError::Rule {
        rule: rule.into(),
        fix: fix.into(),
    }
}

/// Refuses a key the cloud cannot hold, or one the algorithm cannot carry. The key under
/// RSA-OAEP alone is an AES key only: an RSA private key is too long for one RSA block, and
/// PKCS#11's CKM_RSA_PKCS_OAEP wraps secret keys only (a 32-byte AES key fits one block of any
/// wrapping key the clouds use).
pub fn check_key(alg: Algorithm, key: TargetSpec) -> Result<(), CloudError> {
    check_key_type(alg.cloud, key)?;
    if alg.envelope != Envelope::RsaOaep {
        return Ok(());
    }
    let why = match key {
        TargetSpec::Aes { .. } => return Ok(()),
        TargetSpec::Rsa { .. } => {
            "is the key material under RSA-OAEP alone, and an RSA private key is too long for one RSA block"
        }
        TargetSpec::Ec { .. } => {
            "would be the EC private key under RSA-OAEP alone, and PKCS#11's CKM_RSA_PKCS_OAEP wraps secret keys only: no HSM can make it"
        }
    };
    // The fix: the same cloud's algorithm with the AES key wrap around it.
    let with_key_wrap = match alg.cloud {
        Cloud::Gcp => alg.name.to_owned() + "_AES_256",
        _ => alg.name.replace("RSAES_OAEP", "RSA_AES_KEY_WRAP"),
    };
    Err(rule(
        format!("{key} under {} {why}", alg.name),
        format!("use {with_key_wrap} (an AES-256 key under RSA-OAEP, then RFC 5649 of the key)"),
    ))
}

/// The key types each cloud imports (an HSM-protected key of that type and size).
fn check_key_type(cloud: Cloud, key: TargetSpec) -> Result<(), CloudError> {
    match (cloud, key) {
        (
            Cloud::Gcp,
            TargetSpec::Ec {
                curve: EcCurve::P521,
            },
        ) => Err(rule(
            "Google Cloud KMS has no P-521 keys",
            "use a P-256, P-384 or secp256k1 key for this target",
        )),
        (Cloud::Gcp | Cloud::Aws, TargetSpec::Aes { bits }) if bits != 256 => Err(rule(
            format!("{} imports AES keys of 256 bits, not {bits}", cloud.title()),
            "use an AES-256 key (oct-HSM, size 256)",
        )),
        _ => Ok(()),
    }
}

/// Refuses a wrapping key whose size is not the one the algorithm (or the AWS wrapping key
/// spec the script declares) fixes.
pub fn check_kek_bits(
    alg: Algorithm,
    declared: Option<usize>,
    actual: usize,
) -> Result<(), CloudError> {
    if let Some(bits) = alg.kek_bits {
        if bits != actual {
            return Err(rule(
                format!(
                    "the import method {} needs a {bits}-bit wrapping key, and this one has {actual} bits",
                    alg.name
                ),
                "bring the public key of an import job with this method, or change import_method to the job's",
            ));
        }
    }
    if let Some(bits) = declared {
        if bits != actual {
            return Err(rule(
                format!(
                    "the script declares a wrapping key spec of RSA_{bits}, and this wrapping key has {actual} bits"
                ),
                "bring the wrapping key GetParametersForImport returned with that spec, or correct wrapping_key_spec",
            ));
        }
    }
    Ok(())
}

/// Refuses a Cloud KMS import job created more than 3 days before `now` (it has expired, and
/// nothing wrapped for it can be imported). Times in seconds since 1970.
pub fn check_gcp_job_age(created: i64, now: i64) -> Result<(), CloudError> {
    let age = now - created;
    if age > GCP_IMPORT_JOB_LIFETIME_SECS {
        return Err(rule(
            format!(
                "the import job was created {} ago by this workstation's clock, and Cloud KMS import jobs expire 3 days after creation",
                human_duration(age)
            ),
            "create a new import job (byok-upload gcp fetch-kek --create), bring its public key, and update the script",
        ));
    }
    Ok(())
}

/// A warning when AWS's import parameters are no longer valid by the workstation's clock: the
/// import will be refused, but the station's clock may be wrong, so the ceremony goes on and the
/// warning is logged. Times in seconds since 1970.
pub fn aws_parameters_warning(valid_to: i64, now: i64) -> Option<String> {
    (now > valid_to).then(|| {
        format!(
            "the AWS wrapping key and import token expired {} ago by this workstation's clock (they are valid 24 hours from GetParametersForImport): AWS will refuse the import unless the clock is wrong; fetch new parameters (byok-upload aws fetch-kek) and wrap again",
            human_duration(now - valid_to)
        )
    })
}

fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs >= 2 * 86_400 {
        format!("{} days {} hours", secs / 86_400, (secs % 86_400) / 3600)
    } else if secs >= 3600 {
        format!("{} hours {} minutes", secs / 3600, (secs % 3600) / 60)
    } else {
        format!("{} minutes", secs / 60)
    }
}

/// Parses an RFC 3339 time in UTC as the clouds print them (`2026-12-04T09:30:00Z`, with or
/// without a fraction, `Z` or `+00:00`), to seconds since 1970.
pub fn parse_utc(text: &str) -> Result<i64, CloudError> {
    let bad = || CloudError::Time(text.to_owned());
    let t = text.trim();
    let body = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix("+00:00"))
        .ok_or_else(bad)?;
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            (w, f)
        }
        Some(_) => return Err(bad()),
        None => (body, ""),
    };
    let millis = format!("{:0<3}", &frac[..frac.len().min(3)]);
    let normal = format!("{whole}.{millis}Z");
    let utc = crate::audit::verify::utc::Utc::parse(&normal).ok_or_else(bad)?;
    Ok(utc.unix_ms.div_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hsm_types::wrap::OaepHash;

    fn find(cloud: Cloud, name: &str) -> Algorithm {
        Algorithm::find(cloud, name).expect("accepted")
    }

    #[test]
    fn every_name_is_found_and_unknown_names_list_the_cloud_s() {
        for a in super::super::ALGORITHMS {
            assert_eq!(Algorithm::find(a.cloud, a.name).expect("accepted"), a);
        }
        let e = Algorithm::find(Cloud::Gcp, "RSA_OAEP_2048_SHA256").expect_err("refused");
        assert!(
            e.to_string().contains("RSA_OAEP_3072_SHA256_AES_256"),
            "{e}"
        );
        let e = Algorithm::find(Cloud::Aws, "RSAES_PKCS1_V1_5").expect_err("refused");
        assert!(e.to_string().contains("since 2023"), "{e}");
        assert_eq!(
            find(Cloud::Gcp, "RSA_OAEP_4096_SHA1_AES_256").oaep,
            OaepHash::Sha1
        );
        assert_eq!(
            find(Cloud::Aws, "RSAES_OAEP_SHA_256").oaep,
            OaepHash::Sha256
        );
    }

    #[test]
    fn an_rsa_key_under_plain_oaep_is_refused_with_the_aes_form_as_the_fix() {
        let rsa = TargetSpec::Rsa { bits: 2048 };
        let e = check_key(find(Cloud::Gcp, "RSA_OAEP_3072_SHA256"), rsa).expect_err("refused");
        assert!(
            e.to_string().contains("use RSA_OAEP_3072_SHA256_AES_256"),
            "{e}"
        );
        let e = check_key(find(Cloud::Aws, "RSAES_OAEP_SHA_1"), rsa).expect_err("refused");
        assert!(e.to_string().contains("use RSA_AES_KEY_WRAP_SHA_1"), "{e}");
        check_key(find(Cloud::Aws, "RSA_AES_KEY_WRAP_SHA_256"), rsa).expect("accepted");
    }

    #[test]
    fn an_ec_key_under_plain_oaep_is_refused_because_pkcs11_wraps_only_secret_keys_so() {
        for curve in EcCurve::ALL {
            let ec = TargetSpec::Ec { curve };
            for name in ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
                let e = check_key(find(Cloud::Aws, name), ec).expect_err("refused");
                assert!(e.to_string().contains("secret keys only"), "{e}");
            }
        }
        let aes = TargetSpec::Aes { bits: 256 };
        check_key(find(Cloud::Gcp, "RSA_OAEP_3072_SHA256"), aes).expect("accepted");
        check_key(find(Cloud::Aws, "RSAES_OAEP_SHA_1"), aes).expect("accepted");
    }

    #[test]
    fn key_types_a_cloud_has_no_place_for_are_refused() {
        let e = check_key(
            Algorithm::default_for(Cloud::Gcp),
            TargetSpec::Ec {
                curve: EcCurve::P521,
            },
        )
        .expect_err("refused");
        assert!(e.to_string().contains("no P-521"), "{e}");
        for cloud in [Cloud::Gcp, Cloud::Aws] {
            let e = check_key(Algorithm::default_for(cloud), TargetSpec::Aes { bits: 128 })
                .expect_err("refused");
            assert!(e.to_string().contains("AES-256"), "{e}");
        }
        check_key(
            Algorithm::default_for(Cloud::Azure),
            TargetSpec::Aes { bits: 128 },
        )
        .expect("accepted");
    }

    #[test]
    fn the_kek_size_must_be_the_method_s_and_the_declared_spec() {
        let alg = find(Cloud::Gcp, "RSA_OAEP_4096_SHA256_AES_256");
        let e = check_kek_bits(alg, None, 3072).expect_err("refused");
        assert!(e.to_string().contains("needs a 4096-bit"), "{e}");
        check_kek_bits(alg, None, 4096).expect("accepted");
        let aws = Algorithm::default_for(Cloud::Aws);
        assert!(check_kek_bits(aws, Some(3072), 2048).is_err());
        check_kek_bits(aws, Some(2048), 2048).expect("accepted");
    }

    #[test]
    fn a_job_older_than_three_days_is_refused_and_an_expired_token_warns() {
        let created = parse_utc("2026-12-01T09:00:00Z").expect("accepted");
        check_gcp_job_age(created, created + GCP_IMPORT_JOB_LIFETIME_SECS).expect("accepted");
        let e = check_gcp_job_age(created, created + GCP_IMPORT_JOB_LIFETIME_SECS + 60)
            .expect_err("refused");
        assert!(e.to_string().contains("3 days"), "{e}");
        let valid_to = parse_utc("2026-12-02T09:00:00.123456Z").expect("accepted");
        assert!(aws_parameters_warning(valid_to, valid_to).is_none());
        let w = aws_parameters_warning(valid_to, valid_to + 7200).expect("accepted");
        assert!(w.contains("expired 2 hours"), "{w}");
    }

    #[test]
    fn cloud_times_parse_strictly() {
        assert_eq!(parse_utc("1970-01-01T00:00:10Z").expect("accepted"), 10);
        assert_eq!(
            parse_utc("1970-01-01T00:00:10.999999999+00:00").expect("accepted"),
            10
        );
        for bad in [
            "2026-12-04",
            "2026-12-04T09:30:00",
            "2026-12-04T09:30:00+01:00",
            "2026-13-01T00:00:00Z",
            "2026-12-04T09:30:00.Z",
        ] {
            assert!(parse_utc(bad).is_err(), "{bad}");
        }
    }
}
