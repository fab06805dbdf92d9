//! `audit verify` throughput and peak memory on a large log, against `openssl dgst -sha256`
//! over the same file.
//!
//! The log is real, then grown: a rehearsal on SoftHSM2 (the real binary) makes a closed,
//! signed ceremony log; the events the ceremony machine accepts any number of times without
//! growing its state are then repeated until the log reaches the wanted size: rejected shares
//! in the quorum phase (a custodian's share refused) and a KEK loaded then rejected by a
//! custodian in the KEK phases. Every entry is re-chained (seq, prev, hash) and every
//! checkpoint re-signed with a software P-256 audit key (the rehearsal's token is gone), so
//! the grown log passes the full `audit verify`: canonical form, hash chain, signatures and
//! the policy replay through the machine, entry by entry.
//!
//! Run: `scripts/bench-audit.sh` (= `cargo bench --bench audit_verify`, size in MiB from
//! BYOK_BENCH_LOG_MIB, default 1024). Prints a Markdown table for docs/benchmarks.md.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use byok_ceremony::audit::checkpoint::{self, CheckpointSigner};
use byok_ceremony::audit::log::{Entry, stream};
use byok_ceremony::ceremony::machine::{Event, Role};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};

const SOFTHSM2: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Best of this many: the machine is shared, and a run that another job slowed is not the tool's.
const RUNS: usize = 5;

struct SoftSigner {
    key: SigningKey,
    spki: Vec<u8>,
}

impl CheckpointSigner for SoftSigner {
    fn key_name(&self) -> &str {
        "byok-ceremony.audit/bench"
    }
    fn public_spki_der(&self) -> &[u8] {
        &self.spki
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let sig: Signature = self.key.sign(message);
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

fn main() {
    let mib: u64 = std::env::var("BYOK_BENCH_LOG_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-audit");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rehearsal")).expect("bench dir");

    let source = rehearse(&dir.join("rehearsal"));
    let key = SigningKey::from_slice(&[0x5a; 32]).expect("key");
    let spki = key
        .verifying_key()
        .to_public_key_der()
        .expect("spki")
        .as_bytes()
        .to_vec();
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("pem");
    let key_path = dir.join("audit-key.pem");
    std::fs::write(&key_path, pem).expect("key file");
    let signer = SoftSigner { key, spki };

    let log = dir.join("grown.audit.jsonl");
    let started = Instant::now();
    let entries = grow(&source, &log, mib << 20, &signer);
    let size = std::fs::metadata(&log).expect("log").len();
    eprintln!(
        "grew the log to {entries} entries, {size} bytes in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Warm the page cache so both sides read from memory.
    let _ = Command::new("cat")
        .arg(&log)
        .stdout(std::process::Stdio::null())
        .status();
    wait_until_quiet();
    let machine = machine();
    let mut openssl = Vec::new();
    let mut verify = Vec::new();
    for _ in 0..RUNS {
        openssl.push(timed(
            Command::new("openssl").arg("dgst").arg("-sha256").arg(&log),
        ));
        verify.push(timed(
            Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
                .args(["audit", "verify"])
                .arg(&log)
                .arg("--audit-key")
                .arg(&key_path),
        ));
    }
    println!("Machine: {machine}");
    println!(
        "Commands: `openssl dgst -sha256 LOG` and `byok-ceremony audit verify LOG --audit-key PEM` \
         (release build), alternately, {RUNS} runs each, both from the page cache; peak RSS from \
         `/usr/bin/time -v`.\n"
    );
    let best = |runs: &[(f64, u64)]| runs.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
    let peak = |runs: &[(f64, u64)]| runs.iter().map(|r| r.1).max().unwrap_or(0);
    let mb = size as f64 / 1e6;
    let (o, v) = (mb / best(&openssl), mb / best(&verify));
    println!("| log | entries | tool | MB/s (best of {RUNS}) | peak RSS (MiB) |");
    println!("|---|---|---|---|---|");
    println!(
        "| {mb:.0} MB | {entries} | `openssl dgst -sha256` | {o:.0} | {:.1} |",
        peak(&openssl) as f64 / 1024.0
    );
    println!(
        "| {mb:.0} MB | {entries} | `byok-ceremony audit verify` | {v:.0} | {:.1} |",
        peak(&verify) as f64 / 1024.0
    );
    println!("\nverify / openssl throughput: {:.2}", v / o);
    if std::env::var_os("BYOK_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_file(&log);
    }
}

/// Waits, at most BYOK_BENCH_QUIET_SECS (default 300) seconds, until the 1-minute load average
/// is below 0.8: on a shared machine a run that another job slowed measures that job. verify
/// needs both cores, openssl one, so contention skews the ratio, not just the figures.
fn wait_until_quiet() {
    let limit: u64 = std::env::var("BYOK_BENCH_QUIET_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let load = || -> f64 {
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0)
    };
    let started = Instant::now();
    while load() >= 0.8 && started.elapsed().as_secs() < limit {
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    if load() >= 0.8 {
        eprintln!(
            "the machine is still busy (load {:.2}): figures will be low",
            load()
        );
    }
}

/// `nproc`, the CPU model (from /proc/cpuinfo) and the load average: what a figure depends on.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let sha = if cpuinfo.split_whitespace().any(|f| f == "sha_ni") {
        "with SHA extensions"
    } else {
        "without SHA extensions"
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    format!("nproc {cpus}, {model} ({sha}); load average before the runs {load}")
}

/// A real rehearsal on SoftHSM2; returns its audit log.
fn rehearse(out: &Path) -> PathBuf {
    let status = Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
        .args([
            "rehearse",
            "--headless",
            "--name",
            "bench",
            "--module",
            SOFTHSM2,
        ])
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("the binary runs");
    assert!(status.success(), "the rehearsal failed");
    out.join("bench.audit.jsonl")
}

/// Runs `command` under /usr/bin/time -v; returns (seconds, peak RSS in KiB).
fn timed(command: &mut Command) -> (f64, u64) {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .output()
        .expect("/usr/bin/time (Debian package time) runs");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rss = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.parse().ok())
        .expect("peak RSS in /usr/bin/time's output");
    (seconds, rss)
}

/// Copies `source` into `target`, repeating machine-valid, state-neutral events until the log
/// holds about `bytes`; re-chains every entry and re-signs every checkpoint. Streams both.
fn grow(source: &Path, target: &Path, bytes: u64, signer: &SoftSigner) -> u64 {
    let mut original = Vec::new();
    stream(source, |_, e| {
        original.push(e);
        Ok(())
    })
    .expect("the rehearsal log");
    let ceremony_id = match &original[0].event {
        Event::CeremonyOpened { config, .. } => config.ceremony_id.clone(),
        other => panic!("the log starts with {}", other.kind()),
    };
    let kek_loaded = original
        .iter()
        .find(|e| e.event.kind() == "kek_loaded")
        .expect("a KEK was loaded")
        .clone();
    let custodian = "alice".to_owned();
    let share_rejected = Event::ShareRejected {
        custodian: custodian.clone(),
        reason: "the share's checksum does not match: a word was mistyped; compare it with the printed share and type it again".into(),
    };
    let kek_rejected = Event::KekRejected {
        custodian: custodian.clone(),
        reason: "the fingerprint read aloud from the online side differs from the KEK loaded here"
            .into(),
    };
    let mut w = Writer {
        out: BufWriter::with_capacity(1 << 20, File::create(target).expect("grown log")),
        seq: 0,
        prev: byok_ceremony::audit::log::GENESIS_PREV.to_owned(),
        written: 0,
        mono_ms: 0,
    };
    let half = bytes / 2;
    for e in &original {
        let template = |event: Event, actor: Option<String>, role: Role, scripted: bool| Entry {
            seq: 0,
            utc: e.utc.clone(),
            mono_ms: 0,
            actor,
            role: Some(role),
            scripted,
            event,
            prev: String::new(),
            hash: String::new(),
        };
        match e.event.kind() {
            // Before the first share: custodians' shares refused, over and over.
            "share_presented" if w.written < half => {
                let rejected = template(
                    share_rejected.clone(),
                    Some(custodian.clone()),
                    Role::Custodian,
                    true,
                );
                while w.written < half {
                    w.put(rejected.clone());
                }
            }
            // Before the KEK that is confirmed: a KEK loaded and rejected, over and over.
            "kek_loaded" if w.written < bytes => {
                let loaded = template(kek_loaded.event.clone(), None, Role::System, false);
                let rejected = template(
                    kek_rejected.clone(),
                    Some(custodian.clone()),
                    Role::Custodian,
                    true,
                );
                while w.written < bytes {
                    w.put(loaded.clone());
                    w.put(rejected.clone());
                }
            }
            _ => {}
        }
        let mut entry = e.clone();
        if let Event::Checkpoint { gate, .. } = &e.event {
            let note = checkpoint::sign(signer, &ceremony_id, w.seq, &w.prev).expect("sign");
            entry.event = Event::Checkpoint { gate: *gate, note };
        }
        w.put(entry);
    }
    w.out.flush().expect("flush");
    w.seq
}

struct Writer {
    out: BufWriter<File>,
    seq: u64,
    prev: String,
    written: u64,
    mono_ms: u64,
}

impl Writer {
    fn put(&mut self, mut entry: Entry) {
        entry.seq = self.seq;
        entry.prev = std::mem::take(&mut self.prev);
        self.mono_ms = self.mono_ms.max(entry.mono_ms);
        entry.mono_ms = self.mono_ms;
        entry.hash = entry.compute_hash().expect("hash");
        let line = entry.to_line().expect("line");
        self.out.write_all(&line).expect("write");
        self.written += line.len() as u64;
        self.seq += 1;
        self.prev = entry.hash;
    }
}
