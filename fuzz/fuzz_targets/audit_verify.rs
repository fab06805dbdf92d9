//! `audit verify`: `audit::verify::verify` (canonical form, hash chain, checkpoint signatures,
//! the policy replay through the ceremony's state machine) on a log written to a scratch file.
//! Input: a provisioning record, a NUL, then the log (no NUL: the log alone, no audit key).
//! The record gives the audit key and is cross-checked against the log, as `--record` does.
//!
//! A mutated line no longer hashes to its chain, so on the log as given the fuzzer mostly
//! reaches the chain check; the log is therefore also checked a second time re-chained (each
//! line that reads as an entry gets its seq, prev and hash recomputed), which lets the
//! mutations reach the policy replay up to the first checkpoint whose signature they break.
//! A log that verifies must also pass `log::read_verified` (what resuming uses) in full.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::audit::log::{self, Entry, GENESIS_PREV};
use byok_ceremony::audit::verify::{VerifyOptions, verify};
use byok_ceremony::quorum::ProvisioningRecord;
use byok_ceremony_fuzz::{parts, scratch_file};
use libfuzzer_sys::fuzz_target;

fn check(log_bytes: &[u8], record: Option<&ProvisioningRecord>, key: Option<&[u8]>) {
    let path = scratch_file("audit.jsonl", log_bytes);
    let opts = VerifyOptions {
        audit_key_spki_der: key,
        record,
        ..VerifyOptions::default()
    };
    if let Ok(verdict) = verify(&path, &opts) {
        let (entries, len) = log::read_verified::<byok_ceremony::ceremony::machine::Event>(&path)
            .expect("a log audit verify accepts is read by the resuming reader");
        assert_eq!(entries.len() as u64, verdict.entries);
        assert_eq!(len, verdict.bytes);
        assert_eq!(
            entries.last().map(|e| e.hash.as_str()),
            Some(verdict.head.as_str())
        );
    }
}

/// Every line that reads as an entry, its chain members recomputed; None if a line does not.
fn rechained(log_bytes: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(log_bytes).ok()?;
    let mut out = Vec::with_capacity(log_bytes.len());
    let mut prev = GENESIS_PREV.to_owned();
    for (seq, line) in text.lines().enumerate() {
        let mut entry: Entry = serde_json::from_str(line).ok()?;
        entry.seq = seq as u64;
        entry.prev = prev;
        entry.hash = entry.compute_hash().ok()?;
        prev = entry.hash.clone();
        out.extend(entry.to_line().ok()?);
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let (record, log_bytes) = match parts(data, 2)[..] {
        [record, log_bytes] => (ProvisioningRecord::parse(record).ok(), log_bytes),
        [log_bytes] => (None, log_bytes),
        _ => return,
    };
    // As `audit verify --record` takes the audit key from the record.
    let key = record.as_ref().and_then(|r| {
        let (label, der) =
            der::pem::decode_vec(r.audit_key.public_key_pem.trim().as_bytes()).ok()?;
        (label == "PUBLIC KEY").then_some(der)
    });
    check(log_bytes, record.as_ref(), key.as_deref());
    if let Some(again) = rechained(log_bytes)
        && again != log_bytes
    {
        check(&again, record.as_ref(), key.as_deref());
    }
});
