//! A ceremony found in the state directory by a new run: what the room is shown before it
//! chooses to resume or abort.
use super::*;

/// A ceremony found already in the state directory: what the room is shown before choosing to
/// resume or abort it (or, closed, that there is nothing more to do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    pub ceremony_id: String,
    /// Where it stopped (Closed or Aborted: it is over).
    pub phase: Phase,
    /// The last entry: its event, who (if a person), and its UTC time.
    pub last_event: String,
    pub last_actor: Option<String>,
    pub last_utc: String,
    /// Who had checked in.
    pub present: Vec<String>,
    pub entries: u64,
    /// Over but incomplete: what is left for the quorum's last login (see
    /// `State::end_left_undone`).
    pub end_left_undone: Option<&'static str>,
}

impl Interrupted {
    /// Nothing more can happen in it.
    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::Aborted) && self.end_left_undone.is_none()
    }
}

/// Reads (without changing it) the log an earlier run of `script_path` left in `state_dir`,
/// checks its chain and replays it through the machine; None when there is none.
pub fn inspect(script_path: &Path, state_dir: &Path) -> Result<Option<Interrupted>, RunError> {
    let script = CeremonyScript::load(script_path)?;
    let log_path = state_dir.join(format!("{}.audit.jsonl", script.ceremony_id));
    if std::fs::symlink_metadata(&log_path).is_err() {
        return Ok(None);
    }
    // The reader resuming uses, without the cut: a torn last line is left as it is.
    let (entries, _) =
        crate::audit::log::read_verified::<Event>(&log_path).map_err(does_not_verify)?;
    let mut state = State::new();
    for e in &entries {
        state = fold(&state, e)?;
    }
    let Some(last) = entries.last() else {
        return Ok(None);
    };
    Ok(Some(Interrupted {
        ceremony_id: script.ceremony_id.clone(),
        phase: state.phase,
        last_event: last.event.kind().replace('_', " "),
        last_actor: last.actor.clone(),
        last_utc: last.utc.clone(),
        present: state.present.iter().cloned().collect(),
        entries: last.seq + 1,
        end_left_undone: state.end_left_undone(),
    }))
}

/// The state after `entry`, or why the machine refuses it (then the log is not resumed).
pub(super) fn fold(state: &State, entry: &Entry) -> Result<State, RunError> {
    machine::step(state, &entry.event)
        .map(|(next, _)| next)
        .map_err(|r| RunError::LogDoesNotVerify(format!("entry {}: {r}", entry.seq)))
}

/// A log whose lines or chain do not verify is not resumed: it goes to the auditor.
pub(super) fn does_not_verify(e: LogError) -> RunError {
    match e {
        LogError::Corrupt { .. } => RunError::LogDoesNotVerify(e.to_string()),
        other => RunError::Log(other),
    }
}
