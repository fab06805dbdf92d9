//! The preflight step: the station's checks (`crate::preflight`, the same as `byok-ceremony
//! preflight`), then the ceremony's own: the script, the output medium, the audit key and the
//! provisioning record. The machine decides what a failure means (see
//! `machine::steps::preflight_completed`).
use super::*;

impl Runner<'_> {
    pub(super) fn preflight(&mut self) -> Event {
        let mut checks = vec![Check::new(
            "script",
            true,
            format!("validated; SHA-256 {}", self.script.sha256),
        )];
        checks.extend(crate::preflight::station_checks(
            &crate::preflight::Options {
                sums: self.media.sums.clone(),
            },
        ));
        let media_ok = self.media.out.is_dir();
        checks.push(Check::new(
            "output medium",
            media_ok,
            if media_ok {
                format!("{} is mounted", self.media.out.display())
            } else {
                format!(
                    "{} is missing: mount the output medium",
                    self.media.out.display()
                )
            },
        ));
        checks.push(self.audit_key_check());
        if let QuorumMode::SplitPin { .. } = self.script.quorum {
            checks.push(match self.ensure_quorum() {
                Ok(()) => Check::new("provisioning record", true, "matches the token"),
                Err(e) => Check::new("provisioning record", false, e.to_string()),
            });
        }
        Event::PreflightCompleted { checks }
    }

    pub(super) fn audit_key_check(&mut self) -> Check {
        // Only the public half is visible before the quorum logs in.
        let result = self.session().and_then(|s| {
            crate::quorum::audit_key::find(&s)
                .map(|_| ())
                .map_err(step(Phase::Preflight))
        });
        match result {
            Ok(_) => Check::new("audit key", true, "the token holds the ceremony audit key"),
            Err(e) => Check::new(
                "audit key",
                false,
                format!("{e}: provision the token with `byok-ceremony provision`"),
            ),
        }
    }
}
