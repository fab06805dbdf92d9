//! The HSM layer on three real PKCS#11 implementations: SoftHSM2 2.7.0 (built from source; native
//! CKM_RSA_AES_KEY_WRAP), kryoptic (two-step with 0x210B) and SoftHSM2 2.6.1 (Debian; zero-pads).
//!
//! For every key type and size Azure accepts, each token generates the target, wraps it for a
//! KEK, and the .byok is unwrapped in software: the recovered key must be the HSM's key. On
//! SoftHSM2 2.7.0 (native) and kryoptic the PKCS#8 must be byte-exact with no trailing byte;
//! SoftHSM2 2.6.1 zero-pads.
mod common;

use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::hsm::HsmError;
use byok_ceremony::hsm::kat;
use byok_ceremony::hsm::mechanisms::{CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD};
use byok_ceremony::hsm::target;
use byok_ceremony::hsm::throwaway::{SoftToken, ThrowawayToken};
use byok_ceremony::hsm::wrap::{self, WrapPath, WrapPolicy};
use byok_ceremony::hsm_types::key::{TargetRequest, TargetSpec};
use byok_ceremony::hsm_types::wrap::KwpBehaviour;
use byok_ceremony::hsm_types::wrap::OaepHash;
use byok_ceremony::hsm_types::wrap::WrapKatOutcome;

use common::{check_wrapped, kek, managed_hsm_kek, native_token, token};

const REHEARSAL: WrapPolicy = WrapPolicy {
    allow_zero_padding: true,
    oaep: OaepHash::Sha1,
};
const PRODUCTION: WrapPolicy = WrapPolicy {
    allow_zero_padding: false,
    oaep: OaepHash::Sha1,
};

/// The three test tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// SoftHSM2 2.7.0, built by scripts/build-softhsm.sh.
    Native,
    Kryoptic,
    /// The distro's SoftHSM2 2.6.1.
    SoftHsm261,
}

fn lock(t: Token) -> std::sync::MutexGuard<'static, ThrowawayToken> {
    match t {
        Token::Native => native_token(),
        Token::Kryoptic => token(SoftToken::Kryoptic),
        Token::SoftHsm261 => token(SoftToken::SoftHsm2),
    }
}

fn round_trip(kind: Token, spec: TargetSpec) {
    let sim = match spec {
        TargetSpec::Aes { .. } => managed_hsm_kek(),
        _ => kek(),
    };
    let token = lock(kind);
    let session = token.login().expect("login");
    let plan = wrap::plan(&session, REHEARSAL).expect("wrap plan");
    let label = format!("rt-{}-{}", spec.short_name(), std::process::id());
    let generated = target::generate(
        &session,
        &TargetRequest {
            spec,
            label,
            token_object: false,
            wrap_with_trusted: false,
        },
    )
    .expect("generate");
    assert!(generated.attributes.sensitive && generated.attributes.extractable);
    assert!(generated.attributes.local && generated.attributes.always_sensitive);
    let ciphertext = wrap::wrap(&session, &plan, sim.kek(), generated.key).expect("wrap");
    let report = check_wrapped(
        sim,
        ciphertext,
        generated.public_spki_der.as_deref(),
        kind == Token::SoftHsm261,
    );
    assert!(report.is_ok(), "{kind:?} {spec:?}: {:?}", report.problems);
    let recovered = report.recovered.expect("recovered key");
    match spec {
        TargetSpec::Aes { .. } => {
            let hsm = generated
                .check_value
                .as_ref()
                .expect("the token reports CKA_CHECK_VALUE");
            let sw = recovered.oct_check_value.expect("software check value");
            assert_eq!(hsm.as_slice(), sw.as_slice(), "AES key check values differ");
        }
        _ => assert!(
            generated.public_spki_der.is_some(),
            "the HSM reported a public key"
        ),
    }
    match kind {
        Token::Native => {
            assert_eq!(plan.path, WrapPath::Native, "SoftHSM2 2.7.0 wraps natively");
            assert_eq!(
                recovered.trailing_zero_bytes, 0,
                "native output is byte-exact"
            );
            assert!(!plan.zero_pads());
        }
        Token::Kryoptic => {
            assert!(matches!(plan.path, WrapPath::TwoStep { kwp } if kwp == CKM_AES_KEY_WRAP_KWP));
            assert_eq!(
                recovered.trailing_zero_bytes, 0,
                "kryoptic output is byte-exact"
            );
            assert!(!plan.zero_pads());
        }
        Token::SoftHsm261 => assert!(plan.zero_pads(), "SoftHSM2 2.6.1 zero-pads"),
    }
    target::destroy(&session, &generated).expect("destroy");
}

macro_rules! round_trips {
    ($($name:ident: $kind:expr, $spec:expr;)*) => {$(
        #[test]
        fn $name() {
            round_trip($kind, $spec);
        }
    )*};
}

use Token::{Kryoptic, Native, SoftHsm261 as SoftHsm2};
round_trips! {
    native_rsa2048: Native, TargetSpec::Rsa { bits: 2048 };
    native_rsa3072: Native, TargetSpec::Rsa { bits: 3072 };
    native_rsa4096: Native, TargetSpec::Rsa { bits: 4096 };
    native_ec_p256: Native, TargetSpec::Ec { curve: EcCurve::P256 };
    native_ec_p384: Native, TargetSpec::Ec { curve: EcCurve::P384 };
    native_ec_p521: Native, TargetSpec::Ec { curve: EcCurve::P521 };
    native_ec_p256k: Native, TargetSpec::Ec { curve: EcCurve::P256K };
    native_aes128: Native, TargetSpec::Aes { bits: 128 };
    native_aes192: Native, TargetSpec::Aes { bits: 192 };
    native_aes256: Native, TargetSpec::Aes { bits: 256 };
    softhsm2_rsa2048: SoftHsm2, TargetSpec::Rsa { bits: 2048 };
    softhsm2_rsa3072: SoftHsm2, TargetSpec::Rsa { bits: 3072 };
    softhsm2_rsa4096: SoftHsm2, TargetSpec::Rsa { bits: 4096 };
    softhsm2_ec_p256: SoftHsm2, TargetSpec::Ec { curve: EcCurve::P256 };
    softhsm2_ec_p384: SoftHsm2, TargetSpec::Ec { curve: EcCurve::P384 };
    softhsm2_ec_p521: SoftHsm2, TargetSpec::Ec { curve: EcCurve::P521 };
    softhsm2_ec_p256k: SoftHsm2, TargetSpec::Ec { curve: EcCurve::P256K };
    softhsm2_aes128: SoftHsm2, TargetSpec::Aes { bits: 128 };
    softhsm2_aes192: SoftHsm2, TargetSpec::Aes { bits: 192 };
    softhsm2_aes256: SoftHsm2, TargetSpec::Aes { bits: 256 };
    kryoptic_rsa2048: Kryoptic, TargetSpec::Rsa { bits: 2048 };
    kryoptic_rsa3072: Kryoptic, TargetSpec::Rsa { bits: 3072 };
    kryoptic_rsa4096: Kryoptic, TargetSpec::Rsa { bits: 4096 };
    kryoptic_ec_p256: Kryoptic, TargetSpec::Ec { curve: EcCurve::P256 };
    kryoptic_ec_p384: Kryoptic, TargetSpec::Ec { curve: EcCurve::P384 };
    kryoptic_ec_p521: Kryoptic, TargetSpec::Ec { curve: EcCurve::P521 };
    kryoptic_aes128: Kryoptic, TargetSpec::Aes { bits: 128 };
    kryoptic_aes192: Kryoptic, TargetSpec::Aes { bits: 192 };
    kryoptic_aes256: Kryoptic, TargetSpec::Aes { bits: 256 };
}

#[test]
fn kryoptic_lacks_secp256k1_and_says_so() {
    let token = lock(Kryoptic);
    let session = token.login().expect("login");
    let err = target::generate(
        &session,
        &TargetRequest {
            spec: TargetSpec::Ec {
                curve: EcCurve::P256K,
            },
            label: "p256k".into(),
            token_object: false,
            wrap_with_trusted: false,
        },
    )
    .expect_err("kryoptic 1.5.4 has no secp256k1");
    assert!(err.to_string().contains("P-256K"), "{err}");
}

#[test]
fn known_answer_test_passes_on_kryoptic_kwp() {
    let token = lock(Kryoptic);
    let session = token.login().expect("login");
    let report = kat::run(&session, CKM_AES_KEY_WRAP_KWP).expect("KAT runs");
    assert_eq!(report.behaviour, KwpBehaviour::Rfc5649);
    // The plan takes the byte-exact path, found through the raw mechanism list (cryptoki's
    // own list drops 0x210B), for SHA-1 (Azure) and SHA-256 (Google Cloud, AWS) alike.
    for oaep in [OaepHash::Sha1, OaepHash::Sha256] {
        let plan = wrap::plan(
            &session,
            WrapPolicy {
                allow_zero_padding: false,
                oaep,
            },
        )
        .expect("plan");
        assert_eq!(
            plan.path,
            WrapPath::TwoStep {
                kwp: CKM_AES_KEY_WRAP_KWP
            }
        );
        let rfc = plan.rfc5649.expect("the RFC 5649 vectors ran");
        assert_eq!(rfc.behaviour, KwpBehaviour::Rfc5649);
        assert_eq!(plan.kat.outcome, WrapKatOutcome::Exact, "{oaep}");
        assert_eq!(plan.kat.oaep_hash, oaep);
    }
}

#[test]
fn known_answer_test_reports_softhsm2_zero_padding() {
    let token = lock(SoftHsm2);
    let session = token.login().expect("login");
    let report = kat::run(&session, CKM_AES_KEY_WRAP_PAD).expect("KAT runs");
    assert_eq!(report.behaviour, KwpBehaviour::ZeroPadsThenRfc5649);
    // The whole path's test sees the same padding in the unwrapped keys.
    let survey = wrap::survey(&session, OaepHash::Sha1).expect("survey");
    assert!(survey.exact.is_none());
    let padded = survey.zero_padding.expect("the zero-padding path");
    assert_eq!(padded.kat.outcome, WrapKatOutcome::ZeroPadded);
    // Allowed for rehearsal, refused for production unless the script allows it.
    assert!(wrap::plan(&session, REHEARSAL).expect("plan").zero_pads());
    assert!(matches!(
        wrap::plan(&session, PRODUCTION),
        Err(HsmError::ZeroPaddingRefused)
    ));
}

/// SoftHSM2 2.7.0's native mechanism passes for SHA-1 (Azure): byte-exact, no fallback needed.
#[test]
fn the_native_known_answer_test_passes_on_softhsm_2_7_for_sha1() {
    let token = native_token();
    let session = token.login().expect("login");
    let survey = wrap::survey(&session, OaepHash::Sha1).expect("survey");
    let plan = survey.exact.expect("a byte-exact path");
    assert_eq!(plan.path, WrapPath::Native);
    assert_eq!(plan.kat.outcome, WrapKatOutcome::Exact);
    assert_eq!(plan.kat.vectors, 3);
    assert!(survey.failed.is_empty(), "{:?}", survey.failed);
    assert_eq!(wrap::plan(&session, PRODUCTION).expect("plan"), plan);
}

/// The trap measured on SoftHSM2 2.7.0: asked for SHA-256 OAEP, its native mechanism wraps with
/// SHA-1 without an error. The known-answer test for SHA-256 catches it; the token's two-step
/// path cannot do SHA-256 OAEP at all (CKR_ARGUMENTS_BAD): so the tool refuses, naming both.
#[test]
fn the_native_known_answer_test_catches_softhsm_2_7_ignoring_sha256() {
    let token = native_token();
    let session = token.login().expect("login");
    let survey = wrap::survey(&session, OaepHash::Sha256).expect("survey");
    assert!(survey.exact.is_none() && survey.zero_padding.is_none());
    let native = survey
        .failed
        .iter()
        .find(|r| r.path == "native")
        .expect("the native path was tried");
    assert_eq!(
        native.outcome,
        WrapKatOutcome::WrongOaepHash {
            used: OaepHash::Sha1
        }
    );
    let err = wrap::plan(
        &session,
        WrapPolicy {
            allow_zero_padding: true,
            oaep: OaepHash::Sha256,
        },
    )
    .expect_err("no path wraps correctly with SHA-256 here");
    let text = err.to_string();
    assert!(matches!(err, HsmError::NoWrapPath { .. }), "{text}");
    assert!(
        text.contains("wraps with SHA-1 OAEP when SHA-256 is asked for"),
        "{text}"
    );
    assert!(text.contains("two-step"), "{text}");
}

#[test]
fn an_existing_label_is_refused() {
    let token = lock(SoftHsm2);
    let session = token.login().expect("login");
    let request = TargetRequest {
        spec: TargetSpec::Aes { bits: 256 },
        label: "duplicate-label".into(),
        token_object: false,
        wrap_with_trusted: false,
    };
    let first = target::generate(&session, &request).expect("first");
    let err = target::generate(&session, &request).expect_err("second must be refused");
    assert!(
        matches!(err, HsmError::LabelExists(ref l) if l == "duplicate-label"),
        "{err}"
    );
    target::destroy(&session, &first).expect("destroy");
}

#[test]
fn tokens_are_found_by_label_serial_and_uri() {
    use byok_ceremony::hsm_types::token::TokenSelector;
    use byok_ceremony::hsm_types::uri::Pkcs11Uri;
    let token = lock(SoftHsm2);
    let hsm = token.hsm();
    let id = hsm.token_identity(token.slot()).expect("identity");
    for selector in [
        TokenSelector::Label(id.label.clone()),
        TokenSelector::Serial(id.serial.clone()),
        TokenSelector::Uri(
            Pkcs11Uri::parse(&format!(
                "pkcs11:token={};serial={}",
                id.label.replace(' ', "%20"),
                id.serial
            ))
            .expect("uri"),
        ),
    ] {
        assert_eq!(
            hsm.find_token(&selector).expect("found"),
            token.slot(),
            "{selector}"
        );
    }
    assert!(matches!(
        hsm.find_token(&TokenSelector::Label("no such token".into())),
        Err(HsmError::NoToken { .. })
    ));
}

/// SoftHSM2 2.6.1 has no CKM_RSA_AES_KEY_WRAP: the raw call (with its
/// CK_RSA_AES_KEY_WRAP_PARAMS) reaches the token and its refusal comes back as the token's own
/// return value, named, not a crash; and the plan never offers the native path there.
#[test]
fn the_native_mechanism_is_refused_by_softhsm_2_6() {
    use byok_ceremony::hsm::ffi::{FfiError, RawWrapParams};
    use byok_ceremony::hsm::mechanisms::CKM_RSA_AES_KEY_WRAP;
    let sim = kek();
    let token = lock(SoftHsm2);
    let session = token.login().expect("login");
    let generated = target::generate(
        &session,
        &TargetRequest {
            spec: TargetSpec::Aes { bits: 256 },
            label: "native-probe".into(),
            token_object: false,
            wrap_with_trusted: false,
        },
    )
    .expect("generate");
    let s = session.session();
    let kek_handle = s
        .create_object(&[
            cryptoki::object::Attribute::Class(cryptoki::object::ObjectClass::PUBLIC_KEY),
            cryptoki::object::Attribute::KeyType(cryptoki::object::KeyType::RSA),
            cryptoki::object::Attribute::Token(false),
            cryptoki::object::Attribute::Wrap(true),
            cryptoki::object::Attribute::Modulus(sim.kek().modulus_be()),
            cryptoki::object::Attribute::PublicExponent(sim.kek().exponent_be()),
        ])
        .expect("KEK object");
    let err = token
        .hsm()
        .raw()
        .wrap_key(
            s.handle(),
            CKM_RSA_AES_KEY_WRAP,
            RawWrapParams::RsaAesKeyWrap {
                aes_key_bits: 256,
                oaep: OaepHash::Sha1,
            },
            kek_handle.handle(),
            generated.key.handle(),
        )
        .expect_err("SoftHSM2 2.6.1 has no CKM_RSA_AES_KEY_WRAP");
    assert!(
        matches!(
            err,
            FfiError::Call {
                function: "C_WrapKey",
                rv: 0x70
            }
        ),
        "expected CKR_MECHANISM_INVALID, got {err}"
    );
    assert!(err.to_string().contains("CKR_MECHANISM_INVALID"));
    s.destroy_object(kek_handle).expect("destroy KEK");
    target::destroy(&session, &generated).expect("destroy");
    let plan = wrap::plan(&session, REHEARSAL).expect("plan");
    assert_ne!(plan.path, WrapPath::Native);
}

/// The return values people meet are named by their real numbers (cryptoki-sys's constants).
#[test]
fn return_values_are_named_by_their_numbers() {
    use byok_ceremony::hsm::ffi::rv_name;
    assert_eq!(rv_name(0x68), "CKR_KEY_FUNCTION_NOT_PERMITTED");
    assert_eq!(rv_name(0x69), "CKR_KEY_NOT_WRAPPABLE");
    assert_eq!(rv_name(0x6A), "CKR_KEY_UNEXTRACTABLE");
    assert_eq!(rv_name(0x70), "CKR_MECHANISM_INVALID");
    assert_eq!(rv_name(0x7), "CKR_ARGUMENTS_BAD");
}

/// Trusted-only wrapping on SoftHSM2 2.7.0: a target made with CKA_WRAP_WITH_TRUSTED wraps, by
/// the native mechanism, only for the KEK the security officer imported as trusted; the HSM
/// itself refuses an untrusted copy of the very same KEK, and the two-step path.
#[test]
fn trusted_only_wrapping_works_natively_with_the_kek_the_so_trusted() {
    use byok_ceremony::hsm::trusted_kek;
    let sim = kek();
    let token = native_token();
    {
        let so = token.login_so().expect("SO login");
        let handle = trusted_kek::import(&so, sim.kek()).expect("the SO imports the KEK");
        assert_eq!(
            trusted_kek::find(&so, sim.kek()).expect("find"),
            Some(handle)
        );
        let again = trusted_kek::import(&so, sim.kek()).expect_err("one copy only");
        assert!(again.to_string().contains("already holds"), "{again}");
        so.session().logout().expect("SO logout");
    }
    let session = token.login().expect("login");
    let trusted = trusted_kek::find(&session, sim.kek())
        .expect("find")
        .expect("the user sees the trusted KEK");
    let generated = target::generate(
        &session,
        &TargetRequest {
            spec: TargetSpec::Ec {
                curve: EcCurve::P384,
            },
            label: "trusted-only".into(),
            token_object: false,
            wrap_with_trusted: true,
        },
    )
    .expect("generate");
    assert!(generated.attributes.wrap_with_trusted, "read back");
    let plan = wrap::plan(&session, PRODUCTION).expect("plan");
    assert_eq!(plan.path, WrapPath::Native);
    // The untrusted session copy of the same KEK: the HSM refuses.
    let refused = wrap::wrap(&session, &plan, sim.kek(), generated.key)
        .expect_err("an untrusted KEK cannot wrap a WRAP_WITH_TRUSTED key");
    assert!(
        refused.to_string().contains("CKR_KEY_NOT_WRAPPABLE"),
        "{refused}"
    );
    // The trusted one: byte-exact.
    let ciphertext = wrap::wrap_with_trusted(&session, &plan, sim.kek(), trusted, generated.key)
        .expect("trusted wrap");
    let report = check_wrapped(sim, ciphertext, generated.public_spki_der.as_deref(), false);
    assert!(report.is_ok(), "{:?}", report.problems);
    // The two-step path cannot wrap it (its ephemeral AES key is not trusted).
    let two_step = wrap::WrapPlan {
        path: WrapPath::TwoStep {
            kwp: CKM_AES_KEY_WRAP_PAD,
        },
        ..plan.clone()
    };
    assert!(wrap::wrap(&session, &two_step, sim.kek(), generated.key).is_err());
    assert!(
        wrap::wrap_with_trusted(&session, &two_step, sim.kek(), trusted, generated.key)
            .expect_err("trusted-only is native-only")
            .to_string()
            .contains("native")
    );
    target::destroy(&session, &generated).expect("destroy");
    drop(session);
    let so = token.login_so().expect("SO login");
    // Object handles belong to sessions on SoftHSM2: find it again.
    let trusted = trusted_kek::find(&so, sim.kek())
        .expect("find")
        .expect("still there");
    so.session()
        .destroy_object(trusted)
        .expect("remove the trusted KEK");
    so.session().logout().expect("SO logout");
}
