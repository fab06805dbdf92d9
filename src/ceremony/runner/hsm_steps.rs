//! The steps that use the HSM: opening it, the quorum's login, loading the KEK, generating the
//! key, testing and running the wrap, destroying the key, and closing the HSM.
use super::*;

impl Runner<'_> {
    pub(super) fn ensure_quorum(&mut self) -> Result<(), RunError> {
        if self.quorum.is_some() {
            return Ok(());
        }
        let path = self.script.record.clone().ok_or_else(|| RunError::Step {
            phase: self.state.phase,
            reason: "the script names no provisioning record".into(),
        })?;
        let bytes = crate::media::input::read_input(&path, crate::media::input::RECORD)
            .map_err(step(self.state.phase))?;
        let record = ProvisioningRecord::parse(&bytes).map_err(step(self.state.phase))?;
        let hsm = self.hsm_ref()?;
        let session = self.session()?;
        let id = hsm
            .token_identity(session.slot())
            .map_err(step(self.state.phase))?;
        if record.token.serial != id.serial || record.token.label != id.label {
            return Err(RunError::Step {
                phase: self.state.phase,
                reason: format!(
                    "the provisioning record is for token \"{}\" (serial {}), not this one (\"{}\", serial {})",
                    record.token.label, record.token.serial, id.label, id.serial
                ),
            });
        }
        // The record lives as long as the process: the quorum borrows it throughout.
        let record: &'static ProvisioningRecord = Box::leak(Box::new(record));
        self.record = Some(record);
        self.quorum =
            Some(QuorumLogin::new(record, PinGroup::UserPin).map_err(step(self.state.phase))?);
        Ok(())
    }

    pub(super) fn log_in(&mut self) -> Result<Option<Event>, RunError> {
        let session = self.session()?;
        let label = self
            .hsm_ref()?
            .token_identity(session.slot())
            .map_err(step(Phase::Quorum))?
            .label;
        let result = match self.script.quorum {
            QuorumMode::HsmNative { .. } => {
                login_protected(&session, PinGroup::UserPin, LoginPolicy::default()).map(|_| ())
            }
            QuorumMode::SplitPin { .. } => {
                let quorum = self.quorum.as_mut().ok_or_else(|| RunError::Step {
                    phase: Phase::Quorum,
                    reason: "no provisioning record".into(),
                })?;
                // Rebuilds the PIN, logs in, wipes shares and PIN on every path.
                let r = quorum.login(&session, LoginPolicy::default()).map(|_| ());
                self.quorum = self
                    .record
                    .and_then(|r| QuorumLogin::new(r, PinGroup::UserPin).ok());
                r
            }
        };
        Ok(Some(match result {
            Ok(()) => Event::LoggedIn { token_label: label },
            Err(e) => Event::LoginFailed {
                reason: e.to_string(),
            },
        }))
    }

    /// The script's target whose KEK is loaded next (the machine keeps the order).
    pub(super) fn kek_target(&self) -> Option<&CloudTarget> {
        self.state
            .kek_target()
            .and_then(|t| self.script.target_for(t.cloud))
    }

    /// The script's entry for a target the machine names.
    fn script_target(&self, cloud: Option<Cloud>, phase: Phase) -> Result<CloudTarget, RunError> {
        cloud
            .and_then(|c| self.script.target_for(c))
            .cloned()
            .ok_or_else(|| RunError::Step {
                phase,
                reason: "the log's targets are not the script's: run the ceremony with the script it was opened with".into(),
            })
    }

    /// The event's name for a target, as the machine pinned the targets: none in a `[kek]`
    /// script's log.
    fn event_target(&self, cloud: Cloud) -> Option<Cloud> {
        self.state
            .config
            .as_ref()
            .and_then(|c| c.event_target(cloud))
    }

    pub(super) fn load_kek(&mut self) -> Result<Option<Event>, RunError> {
        let target =
            self.script_target(self.state.kek_target().map(|t| t.cloud), Phase::KekLoad)?;
        let dir = &self.media.kek;
        let file = dir.join(&target.kek_file);
        let kek = match target.cloud {
            Cloud::Azure => {
                let json = target.kek_json.as_ref().map(|j| dir.join(j));
                let kid = target.expected_kid.as_ref().map(|k| k.url().to_owned());
                Kek::load(&file, json.as_deref(), kid.as_deref()).map_err(step(Phase::KekLoad))?
            }
            _ => Kek::load(&file, None, None).map_err(step(Phase::KekLoad))?,
        };
        let mut warnings = kek.warnings().to_vec();
        let kid = match target.cloud {
            Cloud::Azure => kek.kid().map(|k| k.url().to_owned()).ok_or_else(|| RunError::Step {
                phase: Phase::KekLoad,
                reason: "the KEK has no kid: set the Azure KEK's kid in the script or bring the `az keyvault key show` JSON".into(),
            })?,
            _ => target.resource.clone().unwrap_or_default(),
        };
        let refused = |e: crate::cloud::CloudError| RunError::Step {
            phase: Phase::KekLoad,
            reason: format!("{}: {e}", target.cloud.title()),
        };
        crate::cloud::check_kek_bits(target.algorithm, target.kek_bits, kek.bits())
            .map_err(refused)?;
        let now = host::unix_now();
        if let Some(created) = target.job_created {
            crate::cloud::check_gcp_job_age(created, now).map_err(refused)?;
        }
        if let Some(valid_to) = target.valid_to {
            warnings.extend(crate::cloud::aws_parameters_warning(valid_to, now));
        }
        if let Some(token) = &target.import_token {
            let path = dir.join(token);
            let bytes = crate::media::input::read_input(&path, crate::media::input::IMPORT_TOKEN)
                .map_err(step(Phase::KekLoad))?;
            if bytes.is_empty() {
                return Err(RunError::Step {
                    phase: Phase::KekLoad,
                    reason: format!(
                        "the AWS import token {} is empty: bring the token byok-upload aws fetch-kek wrote with this wrapping key",
                        path.display()
                    ),
                });
            }
            self.import_tokens.insert(target.cloud, bytes);
        }
        let event = Event::KekLoaded {
            kid,
            fingerprint_sha256: kek.fingerprint().hex(),
            bits: kek.bits(),
            warnings,
            file: Some(file.display().to_string()),
            target: self.event_target(target.cloud),
        };
        self.keks.insert(target.cloud, kek);
        Ok(Some(event))
    }

    pub(super) fn generate_key(&mut self) -> Result<Option<Event>, RunError> {
        // In the run's long-lived session: a session object (keep_in_hsm = false) lives only
        // as long as the session that made it, and the wrap comes in a later step.
        let session = self.lasting_session()?;
        let generated = target::generate(
            session,
            &TargetRequest {
                spec: self.script.target,
                label: self.script.target_label.clone(),
                token_object: self.script.keep_in_hsm,
                wrap_with_trusted: self.script.wrap_with_trusted,
            },
        )
        .map_err(step(Phase::KeyGeneration))?;
        let pem = generated
            .public_spki_der
            .as_deref()
            .map(|der| der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, der))
            .transpose()
            .map_err(|e| RunError::Step {
                phase: Phase::KeyGeneration,
                reason: e.to_string(),
            })?;
        let (key_size, crv) = self.facts_of_spec();
        Ok(Some(Event::KeyGenerated {
            kty: self.script.target.kty().into(),
            key_size,
            crv,
            attributes: generated.attributes.clone(),
            public_key_pem: pem,
            check_value: generated.check_value.as_deref().map(hex::encode),
        }))
    }

    pub(super) fn facts_of_spec(&self) -> (Option<u32>, Option<String>) {
        use crate::hsm_types::key::TargetSpec;
        match self.script.target {
            TargetSpec::Rsa { bits } | TargetSpec::Aes { bits } => (Some(bits), None),
            TargetSpec::Ec { curve } => (None, Some(curve.azure_name().into())),
        }
    }

    pub(super) fn wrap(&mut self) -> Result<Option<Event>, RunError> {
        let target =
            self.script_target(self.state.unwrapped_target().map(|t| t.cloud), Phase::Wrap)?;
        let session = self.session()?;
        let kek = self.keks.get(&target.cloud).ok_or_else(|| RunError::Step {
            phase: Phase::Wrap,
            reason: format!("no KEK loaded for {}", target.cloud.title()),
        })?;
        let id = self
            .state
            .key_id_hex
            .as_deref()
            .ok_or_else(|| RunError::Step {
                phase: Phase::Wrap,
                reason: "the log records no key for this ceremony; abort it".into(),
            })?;
        let key = target::find_by_id(&session, id)
            .map_err(|e| RunError::Step {
                phase: Phase::Wrap,
                reason: format!(
                    "{e}; the key this ceremony made is gone (a session key does not survive a crash): abort the ceremony"
                ),
            })?;
        let plan = self
            .plans
            .get(&target.cloud)
            .ok_or_else(|| RunError::Step {
                phase: Phase::Wrap,
                reason: "the HSM's wrap was not proven in this run; retry the step".into(),
            })?;
        let ciphertext = if self.script.wrap_with_trusted {
            // Only the KEK the security officer imported as trusted can wrap this key, and it
            // must be the very KEK the custodians confirmed.
            let trusted = trusted_kek::find(&session, kek)
                .map_err(step(Phase::Wrap))?
                .ok_or_else(|| RunError::Step {
                    phase: Phase::Wrap,
                    reason: format!(
                        "the token holds no trusted KEK equal to the one confirmed (fingerprint {}): the security officer imports it at provisioning ([trusted_kek] in the provisioning script); abort, or re-provision and run again",
                        kek.fingerprint().hex_groups()
                    ),
                })?;
            wrap::wrap_with_trusted(&session, plan, kek, trusted, key)
        } else {
            wrap::wrap(&session, plan, kek, key)
        }
        .map_err(step(Phase::Wrap))?;
        if target.cloud != Cloud::Azure {
            return Ok(Some(self.target_wrapped(&target, kek, plan, ciphertext)));
        }
        let id = self.facts.hsm.clone().unwrap_or_default();
        let kid = self
            .facts
            .targets
            .get(&Cloud::Azure)
            .map(|t| t.kid.clone())
            .unwrap_or_default();
        let file = ByokFile {
            kid,
            ciphertext,
            generator: format!(
                "byok-ceremony {}; {} {} firmware {}",
                env!("CARGO_PKG_VERSION"),
                id.manufacturer,
                id.model,
                id.firmware
            ),
        };
        let bytes = file.to_json_bytes();
        // What leaves the room is checked first: format, header, kid and length for this KEK.
        // (Only the KEK's holder can check the wrap itself; the known-answer test stands in.)
        let mut inputs = VerifyInputs::new(kek);
        inputs.kid = Some(file.kid.as_str());
        let report = verify_byok(&bytes, &inputs);
        if !report.is_ok() {
            return Err(RunError::Step {
                phase: Phase::Wrap,
                reason: format!(
                    "the .byok the HSM produced fails its own check, so it is not exported: {}",
                    report.problems.join("; ")
                ),
            });
        }
        Ok(Some(Event::Wrapped {
            byok_sha256: hex::encode(Sha256::digest(&bytes)),
            byok_json: String::from_utf8(bytes).map_err(|e| RunError::Step {
                phase: Phase::Wrap,
                reason: e.to_string(),
            })?,
            method: plan.method(),
            rehearsal_grade: plan.zero_pads(),
            target: self.event_target(Cloud::Azure),
        }))
    }

    /// A Google Cloud or AWS wrap, as the log records it. (Its length was checked by the wrap
    /// against the KEK's modulus.)
    fn target_wrapped(
        &self,
        target: &CloudTarget,
        kek: &Kek,
        plan: &WrapPlan,
        wrapped: Vec<u8>,
    ) -> Event {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        Event::TargetWrapped {
            target: target.cloud,
            algorithm: target.algorithm.name.to_owned(),
            kek_fingerprint_sha256: kek.fingerprint().hex(),
            file: target.output_file(&self.script.output_name),
            sha256: hex::encode(Sha256::digest(&wrapped)),
            wrapped_b64: b64.encode(&wrapped),
            method: plan.method(),
            rehearsal_grade: plan.zero_pads(),
            import_token_b64: self.import_tokens.get(&target.cloud).map(|t| b64.encode(t)),
        }
    }

    /// Proves the HSM's wrap paths with throwaway keys, for the next target's algorithm and
    /// OAEP hash (SHA-1 for Azure).
    pub(super) fn test_wrap(&mut self) -> Result<Option<Event>, RunError> {
        let phase = self.state.phase;
        let target = self.script_target(self.state.untested_target().map(|t| t.cloud), phase)?;
        let session = self.session()?;
        let survey = wrap::survey_for(&session, target.algorithm.oaep, target.algorithm.envelope)
            .map_err(step(phase))?;
        let best = survey.best().cloned();
        let method = best.as_ref().map(WrapPlan::method);
        match best {
            Some(plan) => self.plans.insert(target.cloud, plan),
            None => self.plans.remove(&target.cloud),
        };
        Ok(Some(Event::WrapTested {
            oaep_hash: survey.oaep,
            method,
            failed: survey.failed,
            target: self.event_target(target.cloud),
        }))
    }

    pub(super) fn destroy_key(&mut self) -> Result<Option<Event>, RunError> {
        let session = self.session()?;
        let (Some(id), Some(label)) = (self.state.key_id_hex.clone(), self.state.key_label.clone())
        else {
            return Err(RunError::Step {
                phase: self.state.phase,
                reason: "the log records no key to destroy".into(),
            });
        };
        // A session key vanishes with a crashed session: then nothing is left to destroy.
        target::destroy_by_id(&session, &label, &id).map_err(step(self.state.phase))?;
        Ok(Some(Event::KeyDestroyed { label, id_hex: id }))
    }

    pub(super) fn open_hsm(&mut self) -> Result<(), RunError> {
        if self.hsm.is_some() {
            return Ok(());
        }
        let hsm = Hsm::load(&self.script.module).map_err(step(Phase::Opened))?;
        // The module stays loaded for the whole run; sessions borrow it.
        let hsm: &'static Hsm = Box::leak(Box::new(hsm));
        let slot = hsm
            .find_token(&self.script.token)
            .map_err(step(Phase::Opened))?;
        self.session = Some(hsm.open_session(slot).map_err(step(Phase::Opened))?);
        self.hsm = Some(hsm);
        Ok(())
    }

    /// Ends the run's use of the HSM: C_Logout on the session that holds the login, then
    /// C_Finalize. (The module itself stays mapped for the process's life.)
    pub(super) fn close_hsm(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = session.session().logout();
            drop(session);
        }
        if let Some(hsm) = self.hsm.take() {
            let _ = hsm.context().clone().finalize();
        }
    }

    pub(super) fn hsm_ref(&self) -> Result<&'static Hsm, RunError> {
        self.hsm.ok_or_else(|| RunError::Step {
            phase: self.state.phase,
            reason: "the HSM is not open".into(),
        })
    }

    /// The run's first session, open until the run ends: where objects that must outlive a
    /// step are made.
    pub(super) fn lasting_session(&self) -> Result<&HsmSession<'static>, RunError> {
        self.session.as_ref().ok_or_else(|| RunError::Step {
            phase: self.state.phase,
            reason: "no HSM session".into(),
        })
    }

    /// A session on the ceremony token. The first one stays open for the whole run, which
    /// keeps the login alive (PKCS#11 login state belongs to the application, not a session).
    pub(super) fn session(&self) -> Result<HsmSession<'static>, RunError> {
        let hsm = self.hsm_ref()?;
        let slot = self
            .session
            .as_ref()
            .map(HsmSession::slot)
            .ok_or_else(|| RunError::Step {
                phase: self.state.phase,
                reason: "no HSM session".into(),
            })?;
        hsm.open_session(slot).map_err(step(self.state.phase))
    }
}
