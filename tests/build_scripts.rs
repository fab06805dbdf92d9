//! The token build script refuses a source archive that is not the pinned one, before it
//! builds anything (scripts/build-softhsm.sh checks the SHA-256 whatever the source).
use std::process::Command;

fn build_softhsm(tarball: &std::path::Path, dir: &std::path::Path) -> (i32, String) {
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/build-softhsm.sh"
    ))
    .env("BYOK_SOFTHSM_TARBALL", tarball)
    .env("BYOK_SOFTHSM_DIR", dir.join("prefix"))
    .env("BYOK_SOFTHSM_BUILD_DIR", dir.join("build"))
    .output()
    .expect("the script runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_archive_that_is_not_the_pinned_one_is_refused_before_any_build() {
    let dir = tempfile::Builder::new()
        .prefix("build-softhsm-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let forged = dir.path().join("SoftHSMv2-2.7.0.tar.gz");
    std::fs::write(&forged, b"not the reviewed source").expect("write");
    let (code, stderr) = build_softhsm(&forged, dir.path());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not the pinned"), "{stderr}");
    assert!(stderr.contains("not the reviewed source"), "{stderr}");
    assert!(
        !dir.path().join("prefix").exists(),
        "something was installed"
    );
    assert!(
        !stderr.contains("cmake configure"),
        "it went on to build:\n{stderr}"
    );

    let (code, stderr) = build_softhsm(&dir.path().join("missing.tar.gz"), dir.path());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is not a file"), "{stderr}");
}
