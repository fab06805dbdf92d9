//! The preflight step: the station's checks and the audit key's.
use super::*;

impl Runner<'_> {
    pub(super) fn preflight(&mut self) -> Event {
        let mut checks = vec![Check {
            name: "script".into(),
            passed: true,
            detail: format!("validated; SHA-256 {}", self.script.sha256),
        }];
        checks.push(host::network_check(self.script.rehearsal));
        let media_ok = self.media.out.is_dir();
        checks.push(Check {
            name: "output medium".into(),
            passed: media_ok,
            detail: if media_ok {
                format!("{} is mounted", self.media.out.display())
            } else {
                format!(
                    "{} is missing: mount the output medium",
                    self.media.out.display()
                )
            },
        });
        checks.push(self.audit_key_check());
        if let QuorumMode::SplitPin { .. } = self.script.quorum {
            checks.push(match self.ensure_quorum() {
                Ok(()) => Check {
                    name: "provisioning record".into(),
                    passed: true,
                    detail: "matches the token".into(),
                },
                Err(e) => Check {
                    name: "provisioning record".into(),
                    passed: false,
                    detail: e.to_string(),
                },
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
            Ok(_) => Check {
                name: "audit key".into(),
                passed: true,
                detail: "the token holds the ceremony audit key".into(),
            },
            Err(e) => Check {
                name: "audit key".into(),
                passed: false,
                detail: format!("{e}: provision the token with `byok-ceremony provision`"),
            },
        }
    }
}
