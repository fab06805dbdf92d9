//! The whole path with the real binaries: `byok-upload fetch-kek` from the Key Vault test
//! double, `byok-ceremony rehearse --headless` on a throwaway SoftHSM2 token with that KEK,
//! then `byok-upload import` into the double, which really unwraps the file; the public key the
//! double recovered must be the one in the ceremony's manifest.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use byok_ceremony::manifest::Manifest;
use byok_upload::public_key::{rsa_spki, spki_from_pem};
use common::double::{Double, Kind};
use common::fixtures::kek_private;
use common::{printed_kid, stderr, upload};

const SOFTHSM2: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The station's binary, built now if needed: `CARGO_BIN_EXE_*` only exists for this package's
/// own binaries, so ask cargo (a no-op when it is up to date) and take it from the target dir.
fn station_binary() -> PathBuf {
    // This test binary lives in <target>/<profile>/deps/; the station is built beside it.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--offline",
            "--quiet",
            "-p",
            "byok-ceremony",
            "--bin",
            "byok-ceremony",
        ])
        .arg("--manifest-path")
        .arg(&manifest);
    if release {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building byok-ceremony failed");
    let station = profile_dir.join("byok-ceremony");
    assert!(station.is_file(), "{} is missing", station.display());
    station
}

#[test]
fn rehearsal_output_imports_into_the_double_with_the_same_public_key() {
    assert!(
        Path::new(SOFTHSM2).is_file(),
        "SoftHSM2 is missing: run scripts/install-deps.sh (apt-get install softhsm2)"
    );
    let station = station_binary();
    let double = Double::start(Kind::KeyVault);
    let kid = double.add_kek("ceremony-kek", kek_private(2048), &["import"]);
    let media = tempfile::tempdir().expect("dir");

    // Online: fetch the KEK for the station.
    let out = upload(
        &double,
        [
            "--credential",
            "client-secret",
            "fetch-kek",
            "--vault",
            &double.url(),
            "--name",
            "ceremony-kek",
            "--out",
            media.path().to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0));

    // Offline: the ceremony (a rehearsal on a throwaway SoftHSM2 token) with that KEK.
    let rehearsal = Command::new(&station)
        .args([
            "rehearse",
            "--headless",
            "--name",
            "e2e",
            "--key-type",
            "RSA-HSM",
        ])
        .args(["--key-size", "2048", "--module", SOFTHSM2])
        .arg("--out")
        .arg(media.path())
        .arg("--kek")
        .arg(media.path().join("ceremony-kek.public.pem"))
        .arg("--kek-json")
        .arg(media.path().join("ceremony-kek.key-show.json"))
        .output()
        .expect("byok-ceremony runs");
    eprintln!(
        "--- rehearse stdout\n{}--- rehearse stderr\n{}",
        String::from_utf8_lossy(&rehearsal.stdout),
        String::from_utf8_lossy(&rehearsal.stderr)
    );
    assert!(rehearsal.status.success(), "the rehearsal failed");
    let manifest_path = media.path().join("e2e.manifest.json");
    let manifest =
        Manifest::parse(&std::fs::read(&manifest_path).expect("manifest")).expect("parse");
    assert_eq!(manifest.kid, Some(kid));
    assert!(manifest.rehearsal);

    // Online again: import, and prove it.
    let out = upload(
        &double,
        [
            "--credential",
            "client-secret",
            "import",
            "--byok",
            media.path().join("e2e.byok").to_str().expect("utf-8"),
            "--manifest",
            manifest_path.to_str().expect("utf-8"),
            "--name",
            "e2e-key",
            "--vault",
            &double.url(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("rehearsal manifest"));
    let imported = printed_kid(&out);

    // What the double recovered by unwrapping equals the ceremony's recorded public key.
    let st = double.state.lock().expect("state");
    let key = st
        .keys
        .iter()
        .find(|k| imported.ends_with(&format!("/keys/{}/{}", k.name, k.version)))
        .expect("stored");
    let decode = |field: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key.public[field].as_str().expect("string"))
            .expect("base64url")
    };
    let recovered = rsa_spki(&decode("n"), &decode("e")).expect("rsa");
    let recorded = spki_from_pem(manifest.public_key_pem.as_deref().expect("pem")).expect("spki");
    assert_eq!(recovered, recorded);
    // SoftHSM2 2.6.1 zero-pads before RFC 5649; the double accepts that (whether Azure does is
    // unknown, which is why the manifest marks such output rehearsal-grade).
    eprintln!(
        "the double found {} zero bytes after the PKCS#8",
        key.trailing_zero_bytes
    );
}
