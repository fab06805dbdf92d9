//! `byok-ceremony provision` refusals that need no token: usage, and script errors that name
//! their line.
use std::process::Command;

fn provision(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
        .arg("provision")
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn script_errors_name_the_line_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ceremony-scripts/provisioning-3of5.toml"
    ))
    .expect("example script");
    let bad = example.replace("threshold = 3\n", "threshold = 3\npin = \"1234\"\n");
    let line = bad
        .lines()
        .position(|l| l.starts_with("pin ="))
        .expect("inserted")
        + 1;
    let script = dir.path().join("bad.toml");
    std::fs::write(&script, bad).expect("write");
    let out = dir.path().to_str().expect("utf-8 path");
    let o = provision(&[script.to_str().expect("path"), "--headless", "--out", out]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("line {line}")) && err.contains("unknown field"),
        "{err}"
    );

    // The guided UI needs a terminal; from a pipe it says to add --headless.
    let o = provision(&[script.to_str().expect("path"), "--out", out]);
    assert_eq!(o.status.code(), Some(2), "no terminal here");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--headless"));
    let o = provision(&["missing.toml", "--headless", "--out", out]);
    assert_eq!(o.status.code(), Some(3));
    let o = provision(&["x.toml", "--headless", "--out", out, "--share", "a"]);
    assert_eq!(o.status.code(), Some(2), "--share needs --resplit");
}
