//! A token whose native wrap is wrong without an error: the real SoftHSM2 2.7.0 behind the test
//! shim (tests/p11shim), which flips the last byte of every CKM_RSA_AES_KEY_WRAP output.
//!
//! The known-answer test must fail the native path, and the tool must then take a path that is
//! correct on the same token (2.7.0's two-step wrap with its plain RFC 5649 0x210A), never write
//! the wrong bytes. One test in its own binary: it points the process at the shim through the
//! environment before any module is loaded.
mod common;

use byok_ceremony::byok::simulated_kek::SimulatedKek;
use byok_ceremony::hsm::ffi::set_token_config_env;
use byok_ceremony::hsm::mechanisms::{CKM_AES_KEY_WRAP_PAD, CKM_RSA_AES_KEY_WRAP};
use byok_ceremony::hsm::target;
use byok_ceremony::hsm::throwaway::{SoftToken, ThrowawayToken};
use byok_ceremony::hsm::wrap::{self, WrapPath, WrapPolicy};
use byok_ceremony::hsm_types::key::{TargetRequest, TargetSpec};
use byok_ceremony::hsm_types::wrap::OaepHash;
use byok_ceremony::hsm_types::wrap::WrapKatOutcome;

#[test]
fn a_native_wrap_that_alters_its_output_fails_its_test_and_is_never_used() {
    set_token_config_env("P11SHIM_MODULE", common::native_module().as_os_str());
    set_token_config_env(
        "P11SHIM_FLIP_WRAP",
        format!("{CKM_RSA_AES_KEY_WRAP:#x}").as_ref(),
    );
    let token = ThrowawayToken::create(
        SoftToken::SoftHsm2,
        &common::shim_module(),
        "misbehaving",
        Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))),
    )
    .expect("token behind the shim");
    let session = token.login().expect("login");

    let survey = wrap::survey(&session, OaepHash::Sha1).expect("survey");
    let native = survey
        .failed
        .iter()
        .find(|r| r.path == "native")
        .expect("the native path was tried and failed");
    assert!(
        matches!(native.outcome, WrapKatOutcome::Mismatch { .. }),
        "{native:?}"
    );
    let plan = survey
        .exact
        .clone()
        .expect("a correct path on the same token");
    assert_eq!(
        plan.path,
        WrapPath::TwoStep {
            kwp: CKM_AES_KEY_WRAP_PAD
        }
    );
    assert_eq!(
        wrap::plan(
            &session,
            WrapPolicy {
                allow_zero_padding: false,
                oaep: OaepHash::Sha1
            }
        )
        .expect("plan"),
        plan
    );

    // The real key, wrapped along the path the test chose, unwraps byte for byte.
    let sim = SimulatedKek::generate(2048, false).expect("KEK");
    let generated = target::generate(
        &session,
        &TargetRequest {
            spec: TargetSpec::Rsa { bits: 2048 },
            label: "misbehaving-target".into(),
            token_object: false,
            wrap_with_trusted: false,
        },
    )
    .expect("generate");
    let ciphertext = wrap::wrap(&session, &plan, sim.kek(), generated.key).expect("wrap");
    let report = common::check_wrapped(
        &sim,
        ciphertext,
        generated.public_spki_der.as_deref(),
        false,
    );
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.recovered.expect("key").trailing_zero_bytes, 0);

    // And the native path, forced, really is wrong here (the shim works): its output does not
    // unwrap.
    let forced = wrap::WrapPlan {
        path: WrapPath::Native,
        ..plan
    };
    let bad = wrap::wrap(&session, &forced, sim.kek(), generated.key).expect("native wrap");
    let report = common::check_wrapped(&sim, bad, None, false);
    assert!(!report.is_ok(), "the altered native output must not unwrap");
    target::destroy(&session, &generated).expect("destroy");
}
