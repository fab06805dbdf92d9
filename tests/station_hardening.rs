//! The process hardening, on the real binary in a real ceremony: stalled right after the quorum
//! logged in (the rebuilt PIN has been in its memory), its memory is locked (VmLck), and a
//! SIGABRT leaves no core dump, although the shell that started it allowed unlimited ones and
//! the kernel writes them into the working directory. A control process started the same way
//! does dump core there, so the test would see one.
mod ceremony;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use ceremony::{HEADLESS_RUN, Room};

/// Core files the kernel wrote into `dir` ("core" or "core.PID").
fn cores(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n == "core" || n.starts_with("core."))
        .collect()
}

/// `sh -c 'ulimit -c unlimited; exec ...'`: the child may dump core as far as its limit goes.
fn unlimited_core(room: &Room, program: &str, args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", "ulimit -c unlimited && exec \"$0\" \"$@\""])
        .arg(program)
        .args(args)
        .env("SOFTHSM2_CONF", &room.conf)
        .current_dir(room.dir.path());
    c
}

fn abort(child: &mut Child) -> std::process::ExitStatus {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, rustix::process::Signal::ABORT).expect("SIGABRT");
    child.wait().expect("reaped")
}

#[test]
fn after_login_memory_is_locked_and_sigabrt_leaves_no_core() {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    if pattern.trim() != "core" && pattern.trim() != "core.%p" {
        eprintln!(
            "SKIPPED: core_pattern is {:?}, not a file in the working directory where the test can look for one",
            pattern.trim()
        );
        return;
    }
    let room = Room::new("hardening");

    // The control: a process started the same way dumps core into the room.
    let mut control = unlimited_core(&room, "sleep", &["30"])
        .spawn()
        .expect("sleep");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let status = abort(&mut control);
    if !status.core_dumped() {
        eprintln!("SKIPPED: this kernel or container does not dump core even for the control");
        return;
    }
    let dumped = cores(room.dir.path());
    assert!(
        !dumped.is_empty(),
        "the control dumped core but no file appeared"
    );
    for f in &dumped {
        std::fs::remove_file(room.path(f)).expect("rm core");
    }

    // The ceremony, stopped dead after the quorum logged in.
    let mut run = unlimited_core(&room, env!("CARGO_BIN_EXE_byok-ceremony"), &HEADLESS_RUN)
        .env(
            byok_ceremony::ceremony::runner::STALL_AFTER_ENV,
            "logged_in",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = run.stderr.take().expect("stderr");
    let mut seen = String::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("STALLED") {
            break;
        }
    }
    assert!(seen.contains("STALLED after logged_in"), "{seen}");
    let status_file = format!("/proc/{}/status", run.id());
    let status = std::fs::read_to_string(&status_file).expect("status");
    let locked = byok_ceremony::preflight::memory::vm_lck_kb(&status).expect("VmLck");
    assert!(
        locked > 0,
        "memory is not locked after login: VmLck {locked} kB\n{status}"
    );

    let status = abort(&mut run);
    assert_eq!(status.signal(), Some(libc_sigabrt()), "{status:?}");
    assert!(!status.core_dumped(), "the ceremony dumped core");
    assert_eq!(
        cores(room.dir.path()),
        Vec::<String>::new(),
        "a core file appeared"
    );
}

/// SIGABRT's number, from rustix rather than a constant.
fn libc_sigabrt() -> i32 {
    rustix::process::Signal::ABORT.as_raw()
}
