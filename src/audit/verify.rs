//! `audit verify`: integrity (hash chain, checkpoint signatures), policy (the log replayed
//! through the same state machine that ran the ceremony) and artifacts (files on the media
//! match the hashes in the log). Streams the log: memory stays constant however long it is.
use std::path::Path;

use super::checkpoint;
use super::log::{GENESIS_PREV, LogError, stream};
use crate::ceremony::machine::{self, Event, Phase, State};
use crate::media::atomic::sha256_file;

/// What to check the log against.
#[derive(Debug, Default)]
pub struct VerifyOptions<'a> {
    /// SPKI DER of the audit key (from the provisioning record or --audit-key).
    pub audit_key_spki_der: Option<&'a [u8]>,
    /// Directory holding the ceremony's exported files.
    pub media: Option<&'a Path>,
    /// The script file, to compare with the hash pinned in the first entry.
    pub script: Option<&'a Path>,
}

/// The verdict.
#[derive(Debug)]
pub struct Verdict {
    pub entries: u64,
    pub head: String,
    pub final_state: State,
    pub checkpoints_verified: usize,
    pub artifacts_verified: usize,
}

/// The first problem found, naming the entry (seq and line) where it is.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Log(#[from] LogError),
    #[error("entry seq {seq} (line {line}): {problem}")]
    Entry {
        seq: u64,
        line: u64,
        problem: String,
    },
    #[error("{0}")]
    Problem(String),
}

/// Verifies the log at `path`. Ok only when every check holds.
pub fn verify(path: &Path, opts: &VerifyOptions<'_>) -> Result<Verdict, AuditError> {
    let mut state = State::new();
    let mut prev = GENESIS_PREV.to_owned();
    let mut count = 0u64;
    let mut checkpoints = 0usize;
    let mut script_hash: Option<String> = None;
    let mut exported: Vec<machine::FileRecord> = Vec::new();
    let mut byok_sha256: Option<String> = None;
    let mut last_checkpoint_seq: Option<u64> = None;
    // The first problem, typed; the closure stops the stream with a placeholder error.
    let mut failure: Option<AuditError> = None;
    let mut fail = |seq: u64, line: u64, problem: String| {
        failure = Some(AuditError::Entry { seq, line, problem });
        LogError::Corrupt {
            line,
            problem: String::new(),
        }
    };
    let streamed = stream(path, |line, entry| {
        if entry.seq != count {
            return Err(fail(
                entry.seq,
                line,
                format!(
                    "seq {} where {count} was expected: an entry was deleted, inserted or moved",
                    entry.seq
                ),
            ));
        }
        if entry.prev != prev {
            return Err(fail(
                entry.seq,
                line,
                "does not chain to the entry before it: entries were removed, reordered or edited"
                    .into(),
            ));
        }
        if entry.compute_hash()? != entry.hash {
            return Err(fail(
                entry.seq,
                line,
                "was edited: its hash does not match its content".into(),
            ));
        }
        if let Event::Checkpoint { note, .. } = &entry.event {
            let Some(key) = opts.audit_key_spki_der else {
                return Err(fail(
                    entry.seq,
                    line,
                    "a signed checkpoint, but no audit key was given: pass --audit-key or --record"
                        .into(),
                ));
            };
            let id = state
                .config
                .as_ref()
                .map(|c| c.ceremony_id.clone())
                .unwrap_or_default();
            if let Err(e) = checkpoint::verify(note, &id, entry.seq, &entry.prev, key) {
                return Err(fail(entry.seq, line, format!("checkpoint: {e}")));
            }
            checkpoints += 1;
            last_checkpoint_seq = Some(entry.seq);
        }
        // Policy: the same machine that ran the ceremony must accept every event.
        let next = match machine::step(&state, &entry.event) {
            Ok((next, _)) => next,
            Err(r) => return Err(fail(entry.seq, line, r.to_string())),
        };
        match &entry.event {
            Event::CeremonyOpened { script_sha256, .. } => {
                script_hash = Some(script_sha256.clone())
            }
            Event::Exported { files } => exported = files.clone(),
            Event::Wrapped { byok_sha256: h, .. } => byok_sha256 = Some(h.clone()),
            _ => {}
        }
        state = next;
        prev = entry.hash;
        count += 1;
        Ok(())
    });
    if let Some(f) = failure {
        return Err(f);
    }
    streamed?;
    if count == 0 {
        return Err(AuditError::Problem("the log is empty".into()));
    }
    if !state.is_final() {
        return Err(AuditError::Problem(format!(
            "the log ends at seq {} in phase \"{}\": the ceremony never closed (was the log truncated{}?)",
            count - 1,
            state.phase.title(),
            last_checkpoint_seq.map_or(String::new(), |s| format!(
                " after the checkpoint at seq {s}"
            ))
        )));
    }
    // An abort before the quorum logged in cannot be signed (the audit key needs the login),
    // and nothing reached the HSM then; every other end carries a signed checkpoint.
    let closing_checkpoint = match state.phase {
        Phase::Closed => state.checkpoints.contains(&Phase::Closed),
        _ => !state.logged_in || state.checkpoints.contains(&Phase::Aborted),
    };
    if !closing_checkpoint {
        return Err(AuditError::Problem(
            "the log has no signed checkpoint at its end: it may have been cut and re-chained"
                .into(),
        ));
    }
    if state.key_pending_destroy() && state.phase == Phase::Aborted {
        return Err(AuditError::Problem(
            "the ceremony was aborted but the key it made was never destroyed: it is still in the HSM".into(),
        ));
    }
    if let (Some(script), Some(pinned)) = (opts.script, &script_hash) {
        let actual = sha256_file(script)
            .map_err(|e| AuditError::Problem(format!("cannot read the script: {e}")))?;
        if hex::encode(actual) != *pinned {
            return Err(AuditError::Problem(format!(
                "the script {} is not the one the ceremony ran (its SHA-256 differs from the one pinned at seq 0)",
                script.display()
            )));
        }
    }
    let mut artifacts = 0;
    if let Some(media) = opts.media {
        for f in &exported {
            let path = media.join(&f.name);
            let actual = sha256_file(&path).map_err(|e| {
                AuditError::Problem(format!("artifact {} cannot be read: {e}", path.display()))
            })?;
            if hex::encode(actual) != f.sha256 {
                return Err(AuditError::Problem(format!(
                    "artifact {} does not match the hash the log recorded at export: it was swapped or altered",
                    path.display()
                )));
            }
            artifacts += 1;
        }
        if let (Some(h), false) = (&byok_sha256, exported.is_empty()) {
            if !exported
                .iter()
                .any(|f| f.name.ends_with(".byok") && f.sha256 == *h)
            {
                return Err(AuditError::Problem(
                    "the exported .byok is not the file the HSM wrapped".into(),
                ));
            }
        }
    }
    Ok(Verdict {
        entries: count,
        head: prev,
        final_state: state,
        checkpoints_verified: checkpoints,
        artifacts_verified: artifacts,
    })
}
