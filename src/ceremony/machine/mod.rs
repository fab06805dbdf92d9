//! The ceremony as a pure state machine: `(State, Event) -> (State, [Effect])`.
//!
//! No I/O, no clock, no randomness: the runner feeds it events (from people, from the HSM, or
//! from an audit log being replayed) and executes the effects it asks for. Every rule the tool
//! enforces lives here, so an auditor's replay of the log re-checks all of them:
//!
//! preflight -> attendance -> quorum -> KEK load -> KEK confirmation -> key generation -> wrap
//! -> export -> verification -> sign-off -> closed
//!
//! Nothing reaches the HSM before quorum; nothing is wrapped before the KEK fingerprint is
//! confirmed; nothing is exported before the wrap succeeded; nothing happens after close.
//!
//! `apply` changes a state in place (an audit replay applies millions of events); `step` is
//! the same rules on a copy. A refused event changes nothing.
use std::collections::{BTreeMap, BTreeSet};

use crate::cloud::{Cloud, TargetConfig};

use serde::{Deserialize, Serialize};

use crate::hsm_types::key::KeyAttributes;
use crate::hsm_types::token::TokenIdentity;
use crate::hsm_types::wrap::OaepHash;
use crate::hsm_types::wrap::WrapKatReport;
use crate::hsm_types::wrap::WrapMethod;

mod any_phase;
mod events;
mod state;
mod steps;

pub use events::*;
pub use state::*;

use any_phase::apply_in_any_phase;
use steps::{apply_in_phase, next_hsm_step};
/// Applies one event. Pure: the same state and event always give the same answer.
///
/// A thin wrapper over [`apply`] for callers that keep the state before the event (the runner
/// logs an event before it takes the new state; tests compare before and after).
pub fn step(state: &State, event: &Event) -> Result<(State, Vec<Effect>), Refusal> {
    let mut next = state.clone();
    let effects = apply(&mut next, event)?;
    Ok((next, effects))
}

/// Applies one event to `state` in place: the one implementation of the rules, without the
/// copy of the whole state that `step` makes (an audit replay applies millions of events).
///
/// All or nothing: every rule is checked before anything changes, so a refused event leaves
/// `state` exactly as it was.
pub fn apply(state: &mut State, event: &Event) -> Result<Vec<Effect>, Refusal> {
    if state.is_final() {
        return apply_after_end(state, event);
    }
    if let Some(result) = apply_in_any_phase(state, event) {
        return result;
    }
    apply_in_phase(state, event)
}

/// The rule `rule`, broken in the current phase.
fn refusal(state: &State, rule: &str) -> Refusal {
    Refusal {
        phase: state.phase,
        rule: rule.to_owned(),
    }
}

/// After close or abort: only the closing checkpoint, and what finishes an incomplete end (a
/// key an abort left, a checkpoint a crash left unsigned) with one more login of the quorum.
fn apply_after_end(s: &mut State, event: &Event) -> Result<Vec<Effect>, Refusal> {
    match event {
        Event::Checkpoint { gate, .. } if *gate == s.phase && !s.checkpoints.contains(gate) => {
            s.checkpoints.push(*gate);
            Ok(Vec::new())
        }
        Event::KeyDestroyed { .. } if s.phase == Phase::Aborted && s.key_pending_destroy() => {
            s.key_destroyed = true;
            Ok(Vec::new())
        }
        // A restart after a crash at the end: the session died with the process, so the
        // quorum logs in again (the shares are presented anew), only to finish the end.
        Event::Resumed { by } if s.end_left_undone().is_some() => {
            if *by != config(s)?.administrator {
                return Err(refusal(
                    s,
                    "only the ceremony administrator resumes a ceremony",
                ));
            }
            s.logged_in = false;
            s.shares_from.clear();
            s.share_indices.clear();
            Ok(Vec::new())
        }
        Event::SharePresented {
            custodian,
            share_index,
            commitment_verified,
        } if s.awaits_final_login() => {
            accept_share(s, custodian, *share_index, *commitment_verified)
        }
        Event::HsmAuthenticationPresented { custodian } if s.awaits_final_login() => {
            accept_native(s, custodian)
        }
        Event::ShareRejected { .. } | Event::LoginFailed { .. } if s.awaits_final_login() => {
            s.shares_from.clear();
            s.share_indices.clear();
            Ok(Vec::new())
        }
        Event::LoggedIn { .. } if s.awaits_final_login() => {
            if s.shares_from.len() < config(s)?.threshold() {
                return Err(refusal(s, "the HSM is used only after the quorum is met"));
            }
            s.logged_in = true;
            s.end_signature_due = true;
            let mut effects = Vec::new();
            if s.phase == Phase::Aborted && s.key_pending_destroy() {
                effects.push(Effect::DestroyKey);
            }
            if !s.checkpoints.contains(&s.phase) {
                effects.push(Effect::Checkpoint(s.phase));
            }
            effects.push(Effect::Finish);
            Ok(effects)
        }
        _ => Err(refusal(
            s,
            "the ceremony is over; nothing may be added after it closed or aborted",
        )),
    }
}

fn config(state: &State) -> Result<&MachineConfig, Refusal> {
    state.config.as_ref().ok_or_else(|| Refusal {
        phase: state.phase,
        rule: "the ceremony has not been opened".into(),
    })
}

/// A custodian's share, checked against the rules; `LogIn` once the quorum is complete.
fn accept_share(
    s: &mut State,
    custodian: &str,
    share_index: u8,
    commitment_verified: bool,
) -> Result<Vec<Effect>, Refusal> {
    let config = config(s)?;
    if !matches!(config.quorum, QuorumMode::SplitPin { .. }) {
        return Err(refusal(
            s,
            "this HSM uses its own quorum; no PIN shares are entered",
        ));
    }
    if config.role_of(custodian) != Some(Role::Custodian) || !s.present.contains(custodian) {
        return Err(refusal(
            s,
            "only a custodian who checked in may present a share",
        ));
    }
    if !commitment_verified {
        return Err(refusal(
            s,
            "a share whose commitment did not verify is not accepted",
        ));
    }
    if s.shares_from.contains(custodian) || s.share_indices.contains(&share_index) {
        return Err(refusal(
            s,
            "each custodian presents one share, and each share once",
        ));
    }
    let threshold = config.threshold();
    s.shares_from.insert(custodian.to_owned());
    s.share_indices.insert(share_index);
    Ok(if s.shares_from.len() == threshold {
        vec![Effect::LogIn]
    } else {
        vec![]
    })
}

/// A custodian authenticating at an HSM with its own quorum (PED key, card).
fn accept_native(s: &mut State, custodian: &str) -> Result<Vec<Effect>, Refusal> {
    let config = config(s)?;
    if !matches!(config.quorum, QuorumMode::HsmNative { .. }) {
        return Err(refusal(s, "this ceremony rebuilds the PIN from shares"));
    }
    if config.role_of(custodian) != Some(Role::Custodian) || !s.present.contains(custodian) {
        return Err(refusal(
            s,
            "only a custodian who checked in may authenticate",
        ));
    }
    if s.shares_from.contains(custodian) {
        return Err(refusal(s, "that custodian has already authenticated"));
    }
    let threshold = config.threshold();
    s.shares_from.insert(custodian.to_owned());
    Ok(if s.shares_from.len() == threshold {
        vec![Effect::LogIn]
    } else {
        vec![]
    })
}

/// Every gate waits until the witness has acknowledged each deviation.
fn gate(state: &State) -> Result<(), Refusal> {
    if state.unacknowledged_deviations() > 0 {
        Err(Refusal {
            phase: state.phase,
            rule: "a recorded deviation awaits the witness's acknowledgement".into(),
        })
    } else {
        Ok(())
    }
}

/// The step the tool runs again when the administrator asks for a retry in the current phase.
pub fn retry_effect(state: &State) -> Option<Effect> {
    match state.phase {
        Phase::Opened | Phase::Preflight => Some(Effect::RunPreflight),
        // The station failed a check and the room fixed it (unplugged the cable): the checks
        // run again, until attendance closes.
        Phase::Attendance if !state.station_failures.is_empty() => Some(Effect::RunPreflight),
        Phase::KekLoad => Some(Effect::LoadKek),
        Phase::KeyGeneration | Phase::Wrap => Some(next_hsm_step(state)),
        Phase::Export => Some(Effect::Export),
        Phase::Verification => Some(Effect::VerifyExport),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Events by every kind of person, in and out of turn; enough to reach every phase.
    fn pool() -> Vec<Event> {
        let config = MachineConfig {
            targets: Vec::new(),
            ceremony_id: "c".into(),
            administrator: "oscar".into(),
            witness: "wendy".into(),
            auditor: None,
            custodians: vec!["alice".into(), "bob".into()],
            quorum: QuorumMode::SplitPin { threshold: 2 },
            expected_kek_fingerprint: None,
            destroy_after_export: true,
            allow_zero_padding: false,
            wrap_with_trusted: false,
        };
        let native = WrapMethod::Native {
            kat: crate::hsm_types::wrap::WrapKatReport {
                path: "native".into(),
                mechanism: "CKM_RSA_AES_KEY_WRAP".into(),
                oaep_hash: OaepHash::Sha1,
                vectors: 3,
                outcome: crate::hsm_types::wrap::WrapKatOutcome::Exact,
            },
        };
        let files = vec![FileRecord {
            name: "k.byok".into(),
            sha256: "00".into(),
        }];
        let mut events = vec![
            Event::CeremonyOpened {
                config,
                script_sha256: String::new(),
                tool_version: String::new(),
                binary_sha256: String::new(),
                host: String::new(),
                os: String::new(),
                hsm: TokenIdentity::default(),
                hsm_module: String::new(),
                hsm_library: String::new(),
                rehearsal: true,
                purpose: None,
            },
            Event::PreflightCompleted { checks: vec![] },
            Event::LoggedIn {
                token_label: "t".into(),
            },
            Event::LoginFailed { reason: "r".into() },
            Event::KekLoaded {
                target: None,
                kid: "k".into(),
                fingerprint_sha256: "ff".into(),
                bits: 2048,
                warnings: vec![],
                file: None,
            },
            Event::KeyGenerated {
                kty: "RSA-HSM".into(),
                key_size: None,
                crv: None,
                attributes: KeyAttributes {
                    label: "k".into(),
                    id_hex: "01".into(),
                    token: true,
                    sensitive: true,
                    extractable: true,
                    local: true,
                    always_sensitive: true,
                    never_extractable: false,
                    wrap_with_trusted: false,
                },
                public_key_pem: None,
                check_value: None,
            },
            Event::Wrapped {
                target: None,
                byok_json: String::new(),
                byok_sha256: "11".into(),
                method: native.clone(),
                rehearsal_grade: false,
            },
            Event::WrapTested {
                target: None,
                oaep_hash: OaepHash::Sha1,
                method: Some(native),
                failed: vec![],
            },
            Event::Exported {
                files: files.clone(),
            },
            Event::Verified { files },
            Event::KeyDestroyed {
                label: "k".into(),
                id_hex: "01".into(),
            },
            Event::DeviationAcknowledged {
                by: "wendy".into(),
                deviation: 0,
            },
        ];
        for phase in [Phase::Quorum, Phase::KekLoad, Phase::Wrap, Phase::SignOff] {
            events.push(Event::Checkpoint {
                gate: phase,
                note: String::new(),
            });
            events.push(Event::StepFailed {
                phase,
                reason: "r".into(),
            });
        }
        for (i, who) in (1..).zip(["oscar", "wendy", "alice", "bob", "mallory"]) {
            let who = who.to_owned();
            events.extend([
                Event::CheckedIn { name: who.clone() },
                Event::AttendanceClosed { by: who.clone() },
                Event::SharePresented {
                    custodian: who.clone(),
                    share_index: i,
                    commitment_verified: true,
                },
                Event::ShareRejected {
                    custodian: who.clone(),
                    reason: "r".into(),
                },
                Event::KekConfirmed {
                    custodian: who.clone(),
                },
                Event::KekRejected {
                    custodian: who.clone(),
                    reason: "r".into(),
                },
                Event::SignedOff { name: who.clone() },
                Event::Closed { by: who.clone() },
                Event::DeviationRecorded {
                    by: who.clone(),
                    text: "t".into(),
                },
                Event::RetryRequested {
                    by: who.clone(),
                    phase: Phase::KekLoad,
                },
                Event::Resumed { by: who.clone() },
                Event::Aborted {
                    by: who,
                    reason: "r".into(),
                    after_crash: i % 2 == 0,
                },
            ]);
        }
        events
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// `apply` is all or nothing: a refused event leaves the state exactly as it was, and
        /// an accepted one gives what `step` gives.
        #[test]
        fn a_refused_event_changes_nothing(picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..300)) {
            let pool = pool();
            let mut state = State::new();
            for pick in picks {
                // Mostly an event the machine accepts, so that runs get deep into the ceremony.
                let accepted: Vec<&Event> = pool.iter().filter(|e| step(&state, e).is_ok()).collect();
                let event = match accepted.len() {
                    0 => pick.get(&pool),
                    n if pick.index(4) > 0 => accepted[pick.index(n)],
                    _ => pick.get(&pool),
                };
                let before = state.clone();
                let stepped = step(&before, event);
                match apply(&mut state, event) {
                    Ok(effects) => prop_assert_eq!(stepped, Ok((state.clone(), effects))),
                    Err(refusal) => {
                        prop_assert_eq!(&state, &before, "refused {:?} but changed the state", event);
                        prop_assert_eq!(stepped, Err(refusal));
                    }
                }
            }
        }
    }
}
