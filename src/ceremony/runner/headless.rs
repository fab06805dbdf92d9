//! The headless people: an answers file says what each person does.
use super::*;

/// The headless people: an answers file says what each person does.
#[derive(Debug)]
pub struct Headless {
    answers: Answers,
    next_share: usize,
    asked: usize,
    /// Why each refused share was refused (the runner's notice; never the share itself).
    refused: Vec<String>,
    /// The failed station checks have been said on stderr (once: later events, such as the
    /// instructions shown, leave the preflight as the latest news).
    station_told: bool,
}

impl Headless {
    pub fn new(answers: Answers) -> Headless {
        Headless {
            answers,
            next_share: 0,
            asked: 0,
            refused: Vec::new(),
            station_told: false,
        }
    }

    fn quorum_action(&mut self, view: &View) -> Result<Action, RunError> {
        let s = &view.state;
        if matches!(view.last_event, Some("share_rejected" | "login_failed")) {
            if let Some(notice) = &view.notice {
                self.refused.push(notice.clone());
            }
        }
        if let QuorumMode::HsmNative { threshold, .. } = view.script.quorum {
            return s
                .custodians_present()
                .into_iter()
                .take(usize::from(threshold))
                .find(|c| !s.shares_from.contains(c))
                .map(Action::HsmAuthenticated)
                .ok_or_else(|| RunError::Step {
                    phase: s.phase,
                    reason: "the HSM did not log in after the quorum authenticated".into(),
                });
        }
        let Some((custodian, file)) = self.answers.shares.get(self.next_share).cloned() else {
            return Err(RunError::Step {
                phase: Phase::Quorum,
                reason: format!(
                    "the quorum was not met: {} valid share(s) of {} needed{}",
                    s.shares_from.len(),
                    view.script.custodians.len().min(view.threshold()),
                    if self.refused.is_empty() {
                        String::new()
                    } else {
                        format!("; refused: {}", self.refused.join("; "))
                    }
                ),
            });
        };
        self.next_share += 1;
        Ok(match read_share(&file) {
            Ok(text) => Action::PresentShare { custodian, text },
            Err(reason) => Action::ShareUnavailable { custodian, reason },
        })
    }
}

impl People for Headless {
    /// Failed station checks are said on stderr as the preflight completes: a rehearsal goes
    /// on with them as warnings; a production ceremony needs a deviation for them.
    fn observe(&mut self, view: &View) {
        if self.station_told
            || view.last_event != Some("preflight_completed")
            || view.state.phase != Phase::Attendance
        {
            return;
        }
        self.station_told = true;
        for c in view.checks.iter().filter(|c| c.station && !c.passed) {
            let what = if view.state.rehearsal {
                "warning (a rehearsal goes on)"
            } else {
                "open until a deviation waives it"
            };
            crate::tell!("preflight: {} failed, {what}: {}", c.name, c.detail);
        }
    }

    fn next(&mut self, view: &View, problem: Option<RunError>) -> Result<Action, RunError> {
        let s = &view.state;
        if let Some(problem) = problem {
            // Attendance refused to close over failed station checks: say how an answers file
            // records the deviation that lets a production ceremony go on.
            if matches!(problem, RunError::Refused(_))
                && s.phase == Phase::Attendance
                && !s.open_station_failures().is_empty()
            {
                return Err(RunError::Step {
                    phase: Phase::Attendance,
                    reason: format!(
                        "{problem}. In the answers file that is a deviation at attendance, recorded by the administrator and acknowledged by the witness: [[deviations]] phase = \"attendance\", text = \"why the ceremony goes on although {} failed\"",
                        s.open_station_failures().join(", ")
                    ),
                });
            }
            return Err(problem);
        }
        self.asked += 1;
        if self.asked > 256 {
            return Err(RunError::Step {
                phase: s.phase,
                reason: "the answers file does not move the ceremony forward; check it against the script".into(),
            });
        }
        // At attendance, everyone checks in first: a deviation is recorded by a present
        // administrator and acknowledged by a present witness.
        let checking_in = s.phase == Phase::Attendance
            && self.answers.present.iter().any(|n| !s.present.contains(n));
        if !s.is_final() && !checking_in {
            // Deviations from the answers file are recorded by the administrator when their
            // phase comes, and acknowledged by the witness at once.
            let phase = phase_name(s.phase);
            if let Some((_, text)) = self
                .answers
                .deviations
                .iter()
                .find(|(p, t)| p == phase && !s.deviations.iter().any(|d| d.text == *t))
            {
                return Ok(Action::RecordDeviation(text.clone()));
            }
            if let Some(n) = s
                .deviations
                .iter()
                .position(|d| d.acknowledged_by.is_none())
            {
                return Ok(Action::AcknowledgeDeviation(n));
            }
        }
        match s.phase {
            Phase::Attendance => Ok(self
                .answers
                .present
                .iter()
                .find(|n| !s.present.contains(*n))
                .cloned()
                .map_or(Action::CloseAttendance, Action::CheckIn)),
            Phase::Quorum | Phase::Aborted | Phase::Closed => self.quorum_action(view),
            Phase::KekConfirm => {
                let read_aloud: String = s
                    .kek_target()
                    .and_then(|t| self.answers.kek_fingerprints_by_cloud.get(&t.cloud))
                    .unwrap_or(&self.answers.kek_fingerprint_read_aloud)
                    .chars()
                    .filter(|c| c.is_ascii_hexdigit())
                    .collect::<String>()
                    .to_lowercase();
                let actual = s.kek_fingerprint.clone().unwrap_or_default();
                let custodian = s
                    .custodians_present()
                    .into_iter()
                    .find(|c| !s.kek_confirmed_by.contains(c))
                    .unwrap_or_default();
                Ok(if read_aloud == actual {
                    Action::ConfirmKek(custodian)
                } else {
                    Action::RejectKek {
                        custodian,
                        reason: "the fingerprint read aloud from the online side differs from the KEK loaded here".into(),
                    }
                })
            }
            Phase::SignOff => Ok(self
                .answers
                .sign_off
                .iter()
                .find(|n| !s.signed_off_by.contains(*n))
                .cloned()
                .map_or(Action::Close, Action::SignOff)),
            phase => Err(RunError::Step {
                phase,
                reason: "the step did not complete; restart to resume or abort".into(),
            }),
        }
    }
}
