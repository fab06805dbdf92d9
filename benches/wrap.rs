//! Wrap time per key type: byok-ceremony's `wrap::wrap` against a minimal baseline that makes
//! the same PKCS#11 calls directly, on the same token, in the same run. Native path (SoftHSM2
//! 2.7.0): import the KEK, one C_WrapKey with CKM_RSA_AES_KEY_WRAP, destroy the KEK. Two-step
//! path (kryoptic, SoftHSM2 2.6.1): import the KEK, generate the ephemeral AES key, RFC 5649
//! wrap, RSA-OAEP wrap, destroy both.
//!
//! Run: `scripts/bench.sh` (builds the tokens, then `cargo bench --bench wrap`). Prints a
//! Markdown table for docs/benchmarks.md. The ratio tool/baseline is the figure to watch: it
//! shows what the tool's checks and guards cost over bare PKCS#11 calls. The known-answer test
//! that picks the path runs once per ceremony, before the key exists; its time is printed
//! separately.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::byok::simulated_kek::SimulatedKek;
use byok_ceremony::hsm::HsmSession;
use byok_ceremony::hsm::ffi::RawWrapParams;
use byok_ceremony::hsm::mechanisms::CKM_RSA_AES_KEY_WRAP;
use byok_ceremony::hsm::target;
use byok_ceremony::hsm::throwaway::{ThrowawayToken, installed_modules};
use byok_ceremony::hsm::wrap::{self, WrapPath, WrapPlan, WrapPolicy};
use byok_ceremony::hsm_types::key::{TargetRequest, TargetSpec};
use byok_ceremony::hsm_types::wrap::OaepHash;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};

const ITERATIONS: u32 = 200;

fn main() {
    let kek = SimulatedKek::generate(2048, true).expect("KEK");
    let specs = [
        TargetSpec::Rsa { bits: 2048 },
        TargetSpec::Rsa { bits: 3072 },
        TargetSpec::Rsa { bits: 4096 },
        TargetSpec::Ec {
            curve: EcCurve::P256,
        },
        TargetSpec::Ec {
            curve: EcCurve::P384,
        },
        TargetSpec::Ec {
            curve: EcCurve::P521,
        },
        TargetSpec::Ec {
            curve: EcCurve::P256K,
        },
        TargetSpec::Aes { bits: 128 },
        TargetSpec::Aes { bits: 192 },
        TargetSpec::Aes { bits: 256 },
    ];
    let mut kat_lines = Vec::new();
    println!("| token | path | key | tool (µs/wrap) | baseline (µs/wrap) | tool / baseline |");
    println!("|---|---|---|---|---|---|");
    for (kind, module) in installed_modules() {
        let token = ThrowawayToken::create(kind, &module, &format!("bench {}", kind.name()), None)
            .expect("token");
        let session = token.login().expect("login");
        let library = token.hsm().library_description().expect("library");
        let t = Instant::now();
        let plan = wrap::plan(&session, WrapPolicy::azure(true)).expect("plan");
        kat_lines.push(format!(
            "| {library} | {} | {:.1} |",
            plan.method().describe(),
            t.elapsed().as_secs_f64() * 1e3
        ));
        for spec in specs {
            let generated = match target::generate(
                &session,
                &TargetRequest {
                    spec,
                    label: format!("bench-{}", spec.short_name()),
                    token_object: false,
                    wrap_with_trusted: false,
                },
            ) {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("{library}: {} skipped: {e}", spec.short_name());
                    println!(
                        "| {library} | {} | {} | - | - | the token cannot make this key |",
                        plan.path.name(),
                        spec.short_name()
                    );
                    continue;
                }
            };
            // Warm up both paths, then interleave batches so drift hits both alike.
            let mut tool = Duration::ZERO;
            let mut base = Duration::ZERO;
            for round in 0..=ITERATIONS / 20 {
                let t = Instant::now();
                for _ in 0..20 {
                    wrap::wrap(&session, &plan, kek.kek(), generated.key).expect("wrap");
                }
                let tool_batch = t.elapsed();
                let t = Instant::now();
                for _ in 0..20 {
                    baseline(&session, &plan, &kek, generated.key);
                }
                let base_batch = t.elapsed();
                if round > 0 {
                    tool += tool_batch;
                    base += base_batch;
                }
            }
            let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(ITERATIONS);
            println!(
                "| {library} | {} | {} | {:.1} | {:.1} | {:.3} |",
                plan.path.name(),
                spec.short_name(),
                per(tool),
                per(base),
                tool.as_secs_f64() / base.as_secs_f64()
            );
            target::destroy(&session, &generated).expect("destroy");
        }
    }
    println!();
    println!("| token | path chosen by the known-answer tests | time to choose (ms) |");
    println!("|---|---|---|");
    for line in kat_lines {
        println!("{line}");
    }
}

/// The same PKCS#11 calls the tool makes, with no checks, guards or plan.
fn baseline(session: &HsmSession<'_>, plan: &WrapPlan, kek: &SimulatedKek, target: ObjectHandle) {
    let s = session.session();
    let kek_obj = s
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Wrap(true),
            Attribute::Encrypt(true),
            Attribute::Modulus(kek.kek().modulus_be()),
            Attribute::PublicExponent(kek.kek().exponent_be()),
        ])
        .expect("KEK");
    let WrapPath::TwoStep { kwp } = plan.path else {
        let out = session
            .hsm()
            .raw()
            .wrap_key(
                s.handle(),
                CKM_RSA_AES_KEY_WRAP,
                RawWrapParams::RsaAesKeyWrap {
                    aes_key_bits: 256,
                    oaep: OaepHash::Sha1,
                },
                kek_obj.handle(),
                target.handle(),
            )
            .expect("native wrap");
        s.destroy_object(kek_obj).expect("destroy KEK");
        std::hint::black_box(out);
        return;
    };
    let aes = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Token(false),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
                Attribute::Wrap(true),
            ],
        )
        .expect("AES");
    let wrapped = session
        .hsm()
        .raw()
        .wrap_key(
            s.handle(),
            kwp,
            RawWrapParams::None,
            aes.handle(),
            target.handle(),
        )
        .expect("KWP");
    let oaep = PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    );
    let mut out = s
        .wrap_key(&Mechanism::RsaPkcsOaep(oaep), kek_obj, aes)
        .expect("OAEP");
    out.extend_from_slice(&wrapped);
    s.destroy_object(aes).expect("destroy AES");
    s.destroy_object(kek_obj).expect("destroy KEK");
    std::hint::black_box(out);
}
