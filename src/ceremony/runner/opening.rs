//! Starting a ceremony, or reopening its log and replaying it to where it stopped.
use super::*;

impl<'p> Runner<'p> {
    pub(super) fn start(
        script: CeremonyScript,
        people: &'p mut dyn People,
        media: Media,
        log_path: &Path,
    ) -> Result<Runner<'p>, RunError> {
        let log = AuditLog::create(log_path)?;
        let mut runner = Runner::new(script, people, media, log);
        match runner.open() {
            Ok(()) => Ok(runner),
            Err(e) => {
                // Nothing was logged (the genesis entry is the first): the empty log would
                // only stop the next run from starting, so it goes; the HSM is let go.
                runner.close_hsm();
                if runner.log.is_empty() {
                    let _ = std::fs::remove_file(log_path);
                }
                Err(e)
            }
        }
    }

    /// Opens the HSM and logs the genesis entry.
    fn open(&mut self) -> Result<(), RunError> {
        let runner = self;
        runner.open_hsm()?;
        let hsm = runner.hsm_ref()?;
        let session = runner.session()?;
        let genesis = Event::CeremonyOpened {
            config: runner.script.machine_config(),
            script_sha256: runner.script.sha256.clone(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            binary_sha256: host::binary_sha256(),
            host: host::host_name(),
            os: host::os_description(),
            hsm: hsm
                .token_identity(session.slot())
                .map_err(step(Phase::Opened))?,
            hsm_module: hsm.path().display().to_string(),
            hsm_library: hsm.library_description().map_err(step(Phase::Opened))?,
            rehearsal: runner.script.rehearsal,
            purpose: Some(runner.script.purpose.clone()),
        };
        runner.commit(genesis, false)
    }

    pub(super) fn reopen(
        script: CeremonyScript,
        people: &'p mut dyn People,
        media: Media,
        log_path: &Path,
        recover: Option<Recovery>,
    ) -> Result<Runner<'p>, RunError> {
        let (log, entries) = AuditLog::reopen(log_path).map_err(does_not_verify)?;
        let mut runner = Runner::new(script, people, media, log);
        // Replay the log through the machine: the same code an auditor runs.
        runner.replay(&entries)?;
        if runner.state.end_left_undone().is_some() {
            // It ended, but a crash came before the end was complete (the closing checkpoint
            // unsigned, or an aborted run's key not destroyed): whichever way the room chose,
            // the quorum logs in once more to finish it, and only that.
            if recover.is_none() {
                return Err(RunError::Unfinished(runner.script.ceremony_id.clone()));
            }
            runner.open_hsm()?;
            let by = runner.script.administrator.clone();
            runner.commit(Event::Resumed { by }, true)?;
            return Ok(runner);
        }
        if runner.state.is_final() {
            // A fault after the last entry (a medium that failed while the log's copy was
            // written) leaves a copy short: complete every copy from the verified log, then
            // refuse to run the ceremony again.
            let name = format!("{}.audit.jsonl", runner.script.output_name);
            for dir in runner.output_media().iter().filter(|d| d.is_dir()) {
                runner.log.mirror_to(&dir.join(&name))?;
            }
            return Err(RunError::AlreadyFinished(runner.script.ceremony_id.clone()));
        }
        match recover {
            None => Err(RunError::Unfinished(runner.script.ceremony_id.clone())),
            Some(Recovery::Abort) => {
                let by = runner.script.administrator.clone();
                runner.commit(
                    Event::Aborted {
                        by,
                        reason: "aborted after an interrupted run".into(),
                        after_crash: true,
                    },
                    true,
                )?;
                if runner.state.key_pending_destroy() {
                    // The key this run made must go: the quorum logs in once more for that
                    // (the people present their shares in `drive`).
                    runner.open_hsm()?;
                }
                Ok(runner)
            }
            Some(Recovery::Resume) => {
                runner.open_hsm()?;
                let by = runner.script.administrator.clone();
                runner.commit(Event::Resumed { by }, true)?;
                Ok(runner)
            }
        }
    }

    /// Folds the entries (their form and chain already verified by the log's reader) through
    /// the machine: the same code an auditor runs.
    pub(super) fn replay(&mut self, entries: &[Entry]) -> Result<(), RunError> {
        for e in entries {
            self.state = fold(&self.state, e)?;
            self.facts.observe(&e.event, &e.hash);
            if let Event::PreflightCompleted { checks } = &e.event {
                self.checks = checks.clone();
            }
        }
        if let Some(Event::CeremonyOpened { script_sha256, .. }) = entries.first().map(|e| &e.event)
        {
            if *script_sha256 != self.script.sha256 {
                return Err(RunError::LogDoesNotVerify(
                    "the script changed since the ceremony started (its hash differs)".into(),
                ));
            }
        }
        Ok(())
    }
}
