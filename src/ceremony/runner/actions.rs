//! What the people do: each action checked, turned into its event and committed.
use super::*;

impl Runner<'_> {
    /// Turns a person's action into an event (and, for a retry, runs the step again).
    pub(super) fn act(&mut self, action: Action) -> Result<(), RunError> {
        let admin = self.script.administrator.clone();
        let event = match action {
            Action::CheckIn(name) => Event::CheckedIn { name },
            Action::CloseAttendance => Event::AttendanceClosed { by: admin },
            Action::PresentShare { custodian, text } => {
                self.ensure_quorum()?;
                self.offer_share(&custodian, &text)
            }
            Action::ShareUnavailable { custodian, reason } => {
                Event::ShareRejected { custodian, reason }
            }
            Action::HsmAuthenticated(custodian) => Event::HsmAuthenticationPresented { custodian },
            Action::ConfirmKek(custodian) => Event::KekConfirmed { custodian },
            Action::RejectKek { custodian, reason } => Event::KekRejected { custodian, reason },
            Action::SignOff(name) => Event::SignedOff { name },
            Action::Close => Event::Closed { by: admin },
            Action::RecordDeviation(text) => Event::DeviationRecorded { by: admin, text },
            Action::AcknowledgeDeviation(deviation) => Event::DeviationAcknowledged {
                by: self.script.witness.clone(),
                deviation,
            },
            Action::Abort(reason) => Event::Aborted {
                by: admin,
                reason,
                after_crash: false,
            },
            // Logged as a choice of its own; the machine names the step, and the step's
            // result follows as its own event.
            Action::Retry => Event::RetryRequested {
                by: admin,
                phase: self.state.phase,
            },
            // A load from the medium people chose: the retry is logged, and the KEK's event
            // names the file it was read from.
            Action::LoadKekFrom(dir) => {
                if self.state.phase != Phase::KekLoad {
                    return Err(RunError::Refused(machine::Refusal {
                        phase: self.state.phase,
                        rule: "the KEK medium is chosen only while the KEK is loaded".into(),
                    }));
                }
                self.media.kek = dir;
                Event::RetryRequested {
                    by: admin,
                    phase: Phase::KekLoad,
                }
            }
        };
        self.commit(event, true)
    }

    /// Checks one share at once; the share text lives only in zeroizing memory.
    pub(super) fn offer_share(&mut self, custodian: &str, text: &str) -> Event {
        let reject = |reason: String| Event::ShareRejected {
            custodian: custodian.to_owned(),
            reason,
        };
        if !self.state.present.contains(custodian) {
            return reject("that custodian did not check in".into());
        }
        let Some(quorum) = self.quorum.as_mut() else {
            return reject("no provisioning record is loaded".into());
        };
        // A share recorded for someone else is refused and not kept; the shares already
        // accepted stay (the machine still counts them).
        match quorum.offer_as(Some(custodian), text) {
            Ok(accepted) => Event::SharePresented {
                custodian: custodian.to_owned(),
                share_index: accepted.share_index,
                commitment_verified: true,
            },
            Err(e) => reject(e.to_string()),
        }
    }

    // ----- effects -----
}
