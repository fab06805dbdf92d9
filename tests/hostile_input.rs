//! Hostile input through the real binary (issue 13): inputs that are not regular files or are
//! larger than their format can hold are refused before they are read, with the limit named
//! and the right exit code; text echoed from a file never reaches the terminal raw; and a
//! symbolic link planted where the ceremony writes its log copy receives nothing.
mod ceremony;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ceremony::Room;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

const KEK_PUBLIC: &str = "independent/kek-2048.public.pem";

/// Runs the command; a run that does not end within a minute is a hang and fails the test
/// (this guards against blocking on a FIFO; it is not a performance check).
fn run_guarded(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the command hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn verify_byok(byok: &Path, kek: &Path) -> Output {
    run_guarded(bin().arg("verify-byok").arg(byok).arg("--kek").arg(kek))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn devices_fifos_and_huge_files_are_refused_before_they_are_read() {
    let dir = tempfile::tempdir().expect("dir");
    // A device: never read (it would be read until memory runs out).
    let out = verify_byok(Path::new("/dev/zero"), &data(KEK_PUBLIC));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("a character device"), "{}", text(&out));
    // A FIFO with no writer: refused at once, not waited on.
    let fifo = dir.path().join("x.byok");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let out = verify_byok(&fifo, &data(KEK_PUBLIC));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("a FIFO"), "{}", text(&out));
    // 100 MB where a .byok is expected: the limit is named; it is a bad file (exit 1).
    let big = dir.path().join("big.byok");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(100 * 1024 * 1024).expect("sparse 100 MB");
    let out = verify_byok(&big, &data(KEK_PUBLIC));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("larger than a .byok file can be (65536 bytes at most)"),
        "{}",
        text(&out)
    );
    // The KEK too.
    let out = verify_byok(
        &data("independent/rsa-2048.kek-2048.byok"),
        Path::new("/dev/zero"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("a KEK file"), "{}", text(&out));
}

#[test]
fn a_kek_that_reads_but_is_not_a_kek_exits_1_and_a_missing_one_3() {
    let byok = data("independent/rsa-2048.kek-2048.byok");
    let out = verify_byok(&byok, &data("kek/certificate.pem"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = verify_byok(&byok, &data("kek/no-such-kek.pem"));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[test]
fn escapes_in_a_byok_never_reach_the_terminal() {
    let dir = tempfile::tempdir().expect("dir");
    let good =
        std::fs::read_to_string(data("independent/rsa-2048.kek-2048.byok")).expect("good file");
    // JSON escapes: the parsed kid holds ESC and BEL.
    let hostile = good.replace(
        "independent-test.vault.azure.net",
        "evil\\u001b]0;owned\\u0007\\u001b[2J.vault.azure.net",
    );
    assert_ne!(hostile, good);
    let path = dir.path().join("hostile.byok");
    std::fs::write(&path, hostile).expect("write");
    let out = verify_byok(&path, &data(KEK_PUBLIC));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !stream.iter().any(|b| *b == 0x1b || *b == 0x07),
            "a raw ESC or BEL reached the terminal: {:?}",
            String::from_utf8_lossy(stream)
        );
    }
}

#[test]
fn a_symlink_planted_as_the_log_copy_receives_nothing() {
    let room = Room::new("planted link");
    room.write_answers(&["carol", "dave"], None);
    let elsewhere = room.path("elsewhere.txt");
    std::fs::write(&elsewhere, b"").expect("an empty file elsewhere");
    std::os::unix::fs::symlink(&elsewhere, room.path("out-usb/test-ceremony.audit.jsonl"))
        .expect("plant the link");
    let out = room.run_ceremony();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("symbolic link"), "{}", text(&out));
    assert_eq!(
        std::fs::read(&elsewhere).expect("read"),
        b"",
        "nothing went through the link"
    );
}
