//! The administrator's and witness's events that are allowed in any open phase: deviations,
//! their acknowledgement, retries, abort and resume.
use super::*;

/// Events allowed in any open phase once the ceremony has a configuration; None for the
/// others.
pub(super) fn apply_in_any_phase(
    s: &mut State,
    event: &Event,
) -> Option<Result<Vec<Effect>, Refusal>> {
    Some(match event {
        Event::DeviationRecorded { by, text } => record_deviation(s, by, text),
        Event::DeviationAcknowledged { by, deviation } => acknowledge_deviation(s, by, *deviation),
        Event::RetryRequested { by, phase } => retry(s, by, *phase),
        Event::StepFailed { phase, reason } => {
            if *phase != s.phase {
                return Some(Err(refusal(
                    s,
                    "a failure is recorded in the phase where it happened",
                )));
            }
            s.failures.push(format!("{}: {reason}", phase.title()));
            Ok(Vec::new())
        }
        Event::Checkpoint { gate, .. } => {
            if s.config.is_none() || *gate > s.phase {
                return Some(Err(refusal(s, "a checkpoint covers a gate already passed")));
            }
            s.checkpoints.push(*gate);
            Ok(Vec::new())
        }
        Event::Aborted {
            by,
            reason,
            after_crash,
        } => abort(s, by, reason, *after_crash),
        Event::Resumed { by } => resume(s, by),
        Event::InstructionShown { phase, text } => {
            if config(s).is_err() || *phase > s.phase || text.trim().is_empty() {
                return Some(Err(refusal(
                    s,
                    "an instruction is shown for the current step or one already reached",
                )));
            }
            Ok(Vec::new())
        }
        _ => return None,
    })
}

pub(super) fn record_deviation(
    s: &mut State,
    by: &str,
    text: &str,
) -> Result<Vec<Effect>, Refusal> {
    if by != config(s)?.administrator {
        return Err(refusal(
            s,
            "only the ceremony administrator records a deviation",
        ));
    }
    if !s.present.contains(by) {
        return Err(refusal(
            s,
            "the administrator records a deviation only after checking in",
        ));
    }
    if text.trim().is_empty() {
        return Err(refusal(s, "a deviation needs a description"));
    }
    // A deviation recorded at attendance while station checks are open is the one that lets
    // the ceremony go on despite those no earlier deviation waived: the people have the failed
    // checks before them on the attendance screen, and the log says which checks it waives.
    let waives = if s.phase == Phase::Attendance {
        s.station_failures_to_waive()
    } else {
        Vec::new()
    };
    let deviation = Deviation {
        phase: s.phase,
        by: by.to_owned(),
        text: text.to_owned(),
        acknowledged_by: None,
        waives,
    };
    s.deviations.push(deviation);
    Ok(Vec::new())
}

pub(super) fn acknowledge_deviation(
    s: &mut State,
    by: &str,
    index: usize,
) -> Result<Vec<Effect>, Refusal> {
    if by != config(s)?.witness {
        return Err(refusal(
            s,
            "only the internal witness acknowledges a deviation",
        ));
    }
    if !s.present.contains(by) {
        return Err(refusal(
            s,
            "the witness acknowledges a deviation only after checking in",
        ));
    }
    match s.deviations.get(index) {
        None => return Err(refusal(s, "there is no such deviation")),
        Some(d) if d.acknowledged_by.is_some() => {
            return Err(refusal(s, "that deviation is already acknowledged"));
        }
        Some(_) => {}
    }
    if let Some(d) = s.deviations.get_mut(index) {
        d.acknowledged_by = Some(by.to_owned());
    }
    Ok(Vec::new())
}

pub(super) fn retry(s: &State, by: &str, phase: Phase) -> Result<Vec<Effect>, Refusal> {
    if by != config(s)?.administrator {
        return Err(refusal(
            s,
            "only the ceremony administrator asks for a retry",
        ));
    }
    if phase != s.phase {
        return Err(refusal(s, "a retry is asked for in the current phase"));
    }
    let effect = retry_effect(s).ok_or_else(|| {
        refusal(
            s,
            "nothing to retry in this phase: only a step the tool runs is retried",
        )
    })?;
    Ok(vec![effect])
}

pub(super) fn abort(
    s: &mut State,
    by: &str,
    reason: &str,
    after_crash: bool,
) -> Result<Vec<Effect>, Refusal> {
    if by != config(s)?.administrator {
        return Err(refusal(
            s,
            "only the ceremony administrator aborts a ceremony",
        ));
    }
    if reason.trim().is_empty() {
        return Err(refusal(s, "an abort needs a reason"));
    }
    s.phase = Phase::Aborted;
    if after_crash {
        s.logged_in = false;
        s.shares_from.clear();
        s.share_indices.clear();
    }
    // Signed when the HSM was used: the quorum is logged in, or must log in to destroy a key.
    s.end_signature_due = s.logged_in || s.key_pending_destroy();
    // A key the run made must not outlive an aborted ceremony; destroying it and signing the
    // last checkpoint both need the quorum's login.
    Ok(match (s.key_pending_destroy(), s.logged_in) {
        (true, true) => vec![
            Effect::DestroyKey,
            Effect::Checkpoint(Phase::Aborted),
            Effect::Finish,
        ],
        (true, false) => vec![],
        (false, true) => vec![Effect::Checkpoint(Phase::Aborted), Effect::Finish],
        (false, false) => vec![Effect::Finish],
    })
}

pub(super) fn resume(s: &mut State, by: &str) -> Result<Vec<Effect>, Refusal> {
    if by != config(s)?.administrator {
        return Err(refusal(
            s,
            "only the ceremony administrator resumes a ceremony",
        ));
    }
    let stopped_in = s.phase;
    // A crash ends the HSM session and wipes the shares from memory; the wrap is proven again
    // by the process that will wrap.
    s.logged_in = false;
    s.wrap_method = None;
    s.wrap_methods.clear();
    s.shares_from.clear();
    s.share_indices.clear();
    // Past the quorum gate every step needs the HSM (at least to sign its checkpoint): a fresh
    // quorum logs in, then the run continues where it stopped. The KEK is reloaded and
    // reconfirmed before any wrap; an existing key is reused, never replaced.
    Ok(match stopped_in {
        Phase::Opened | Phase::Preflight => vec![Effect::RunPreflight],
        Phase::Attendance | Phase::Quorum | Phase::Closed | Phase::Aborted => vec![],
        Phase::KekLoad | Phase::KekConfirm | Phase::KeyGeneration | Phase::Wrap => {
            s.phase = Phase::Quorum;
            s.resume_to = Some(Phase::KekLoad);
            s.kek_fingerprint = None;
            s.kek_confirmed_by.clear();
            s.keks_confirmed.clear();
            vec![]
        }
        Phase::Export | Phase::Verification | Phase::SignOff => {
            s.phase = Phase::Quorum;
            s.resume_to = Some(stopped_in);
            vec![]
        }
    })
}
