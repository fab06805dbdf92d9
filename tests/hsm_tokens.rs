//! The HSM layer on two real PKCS#11 implementations: SoftHSM2 (Debian) and kryoptic.
//!
//! For every key type and size Azure accepts, each token generates the target, wraps it for a
//! KEK, and the .byok is unwrapped in software: the recovered key must be the HSM's key. On
//! kryoptic (RFC 5649 via 0x210B) the PKCS#8 must be byte-exact; SoftHSM2 2.6.1 zero-pads.
mod common;

use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::byok::format::ByokFile;
use byok_ceremony::byok::verify::{VerifyInputs, verify_byok};
use byok_ceremony::hsm::HsmError;
use byok_ceremony::hsm::kat::{self, KwpBehaviour};
use byok_ceremony::hsm::mechanisms::{CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD};
use byok_ceremony::hsm::target::{self, TargetRequest, TargetSpec};
use byok_ceremony::hsm::throwaway::SoftToken;
use byok_ceremony::hsm::wrap::{self, WrapPlan, WrapPolicy};

use common::{kek, managed_hsm_kek, token};

const REHEARSAL: WrapPolicy = WrapPolicy {
    allow_zero_padding: true,
};

fn round_trip(kind: SoftToken, spec: TargetSpec) {
    let sim = match spec {
        TargetSpec::Aes { .. } => managed_hsm_kek(),
        _ => kek(),
    };
    let token = token(kind);
    let session = token.login().expect("login");
    let plan = wrap::plan(&session, REHEARSAL).expect("wrap plan");
    let label = format!("rt-{}-{}", spec.short_name(), std::process::id());
    let generated = target::generate(
        &session,
        &TargetRequest {
            spec,
            label,
            token_object: false,
        },
    )
    .expect("generate");
    assert!(generated.attributes.sensitive && generated.attributes.extractable);
    assert!(generated.attributes.local && generated.attributes.always_sensitive);
    let ciphertext = wrap::wrap(&session, &plan, sim.kek(), generated.key).expect("wrap");
    let file = ByokFile {
        kid: sim.kek().kid().expect("kid").url().to_owned(),
        ciphertext,
        generator: "test".into(),
    };
    let report = verify_byok(
        &file.to_json_bytes(),
        &VerifyInputs {
            kek: sim.kek(),
            kid: None,
            kek_private: Some(sim.private_key()),
            expected_public_spki_der: generated.public_spki_der.as_deref(),
            allow_zero_padding: kind == SoftToken::SoftHsm2,
        },
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
    if kind == SoftToken::Kryoptic {
        assert_eq!(
            recovered.trailing_zero_bytes, 0,
            "kryoptic output must be byte-exact"
        );
        assert!(!plan.zero_pads());
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

use SoftToken::{Kryoptic, SoftHsm2};
round_trips! {
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
    let token = token(Kryoptic);
    let session = token.login().expect("login");
    let err = target::generate(
        &session,
        &TargetRequest {
            spec: TargetSpec::Ec {
                curve: EcCurve::P256K,
            },
            label: "p256k".into(),
            token_object: false,
        },
    )
    .expect_err("kryoptic 1.5.4 has no secp256k1");
    assert!(err.to_string().contains("P-256K"), "{err}");
}

#[test]
fn known_answer_test_passes_on_kryoptic_kwp() {
    let token = token(Kryoptic);
    let session = token.login().expect("login");
    let report = kat::run(&session, CKM_AES_KEY_WRAP_KWP).expect("KAT runs");
    assert_eq!(report.behaviour, KwpBehaviour::Rfc5649);
    // The plan takes the byte-exact path, found through the raw mechanism list (cryptoki's
    // own list drops 0x210B).
    match wrap::plan(
        &session,
        WrapPolicy {
            allow_zero_padding: false,
        },
    )
    .expect("plan")
    {
        WrapPlan::TwoStep { kwp, kat } => {
            assert_eq!(kwp, CKM_AES_KEY_WRAP_KWP);
            assert_eq!(kat.behaviour, KwpBehaviour::Rfc5649);
        }
        other => panic!("unexpected plan {other:?}"),
    }
}

#[test]
fn known_answer_test_reports_softhsm2_zero_padding() {
    let token = token(SoftHsm2);
    let session = token.login().expect("login");
    let report = kat::run(&session, CKM_AES_KEY_WRAP_PAD).expect("KAT runs");
    assert_eq!(report.behaviour, KwpBehaviour::ZeroPadsThenRfc5649);
    // Allowed for rehearsal, refused for production unless the script allows it.
    assert!(wrap::plan(&session, REHEARSAL).expect("plan").zero_pads());
    assert!(matches!(
        wrap::plan(
            &session,
            WrapPolicy {
                allow_zero_padding: false
            }
        ),
        Err(HsmError::ZeroPaddingRefused)
    ));
}

#[test]
fn an_existing_label_is_refused() {
    let token = token(SoftHsm2);
    let session = token.login().expect("login");
    let request = TargetRequest {
        spec: TargetSpec::Aes { bits: 256 },
        label: "duplicate-label".into(),
        token_object: false,
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
    use byok_ceremony::hsm::TokenSelector;
    use byok_ceremony::hsm::uri::Pkcs11Uri;
    let token = token(SoftHsm2);
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

/// Neither soft token has CKM_RSA_AES_KEY_WRAP, so the native path cannot run end to end
/// here; this proves the raw call (with its CK_RSA_AES_KEY_WRAP_PARAMS) reaches the token and
/// that its refusal comes back as the token's own return value, not a crash.
#[test]
fn the_native_mechanism_call_reaches_the_token() {
    use byok_ceremony::hsm::ffi::{FfiError, RawWrapParams};
    use byok_ceremony::hsm::mechanisms::CKM_RSA_AES_KEY_WRAP;
    let sim = kek();
    let token = token(SoftHsm2);
    let session = token.login().expect("login");
    let generated = target::generate(
        &session,
        &TargetRequest {
            spec: TargetSpec::Aes { bits: 256 },
            label: "native-probe".into(),
            token_object: false,
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
            RawWrapParams::RsaAesKeyWrapSha1 { aes_key_bits: 256 },
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
}
