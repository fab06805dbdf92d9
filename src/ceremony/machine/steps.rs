//! The ceremony's steps, each event allowed only in its own phase: opening, preflight,
//! attendance, quorum, the KEK, the key, the wrap, export, sign-off and close.
use super::*;

/// The events of the ceremony's steps, each allowed only in its own phase.
pub(super) fn apply_in_phase(s: &mut State, event: &Event) -> Result<Vec<Effect>, Refusal> {
    match (s.phase, event) {
        (
            Phase::Opened,
            Event::CeremonyOpened {
                config, rehearsal, ..
            },
        ) => {
            s.config = Some(config.clone());
            s.rehearsal = *rehearsal;
            s.phase = Phase::Preflight;
            Ok(vec![Effect::RunPreflight])
        }
        (Phase::Preflight, Event::PreflightCompleted { checks }) => {
            preflight_completed(s, checks);
            Ok(vec![])
        }
        // The checks run again at attendance, while station checks are open (a retry after the
        // room fixed the station): the new results replace the old.
        (Phase::Attendance, Event::PreflightCompleted { checks })
            if !s.station_failures.is_empty() =>
        {
            preflight_completed(s, checks);
            Ok(vec![])
        }
        (Phase::Attendance, Event::CheckedIn { name }) => {
            if config(s)?.role_of(name).is_none() {
                return Err(refusal(s, "only people named in the script may check in"));
            }
            if s.present.contains(name) {
                return Err(refusal(s, "that person has already checked in"));
            }
            s.present.insert(name.clone());
            Ok(vec![])
        }
        (Phase::Attendance, Event::AttendanceClosed { by }) => close_attendance(s, by),
        (
            Phase::Quorum,
            Event::SharePresented {
                custodian,
                share_index,
                commitment_verified,
            },
        ) => accept_share(s, custodian, *share_index, *commitment_verified),
        (Phase::Quorum, Event::ShareRejected { .. }) => Ok(vec![]),
        (Phase::Quorum, Event::HsmAuthenticationPresented { custodian }) => {
            accept_native(s, custodian)
        }
        (Phase::Quorum, Event::LoggedIn { .. }) => log_in(s),
        (Phase::Quorum, Event::LoginFailed { .. }) => {
            s.shares_from.clear();
            s.share_indices.clear();
            Ok(vec![])
        }
        (
            Phase::KekLoad,
            Event::KekLoaded {
                fingerprint_sha256,
                target,
                ..
            },
        ) => {
            let config = config(s)?;
            let Some(next) = s.kek_target() else {
                return Err(refusal(s, "every target's KEK is confirmed already"));
            };
            if *target != config.event_target(next.cloud) {
                return Err(refusal(
                    s,
                    &format!(
                        "the KEK loaded next is {}'s, in the script's order",
                        next.cloud.title()
                    ),
                ));
            }
            if let Some(expected) = &next.expected_kek_fingerprint {
                if expected != fingerprint_sha256 {
                    return Err(refusal(
                        s,
                        "the KEK's fingerprint is not the one the script expects; load the right KEK file",
                    ));
                }
            }
            s.kek_fingerprint = Some(fingerprint_sha256.clone());
            s.kek_confirmed_by.clear();
            s.phase = Phase::KekConfirm;
            Ok(vec![])
        }
        (Phase::KekConfirm, Event::KekConfirmed { custodian }) => confirm_kek(s, custodian),
        (Phase::KekConfirm, Event::KekRejected { custodian, .. }) => {
            if !s.is_custodian_present(custodian) {
                return Err(refusal(
                    s,
                    "only a custodian who checked in may reject the KEK",
                ));
            }
            s.kek_fingerprint = None;
            s.kek_confirmed_by.clear();
            s.phase = Phase::KekLoad;
            Ok(vec![])
        }
        (Phase::KeyGeneration, Event::KeyGenerated { attributes, .. }) => {
            if !s.logged_in {
                return Err(refusal(s, "the HSM is used only after the quorum is met"));
            }
            if s.key_id_hex.is_some() {
                return Err(refusal(
                    s,
                    "this ceremony already generated its key; one ceremony makes one key",
                ));
            }
            if s.untested_target().is_some() {
                return Err(refusal(
                    s,
                    "no key is made before the HSM's wrap has passed its known-answer test for every target",
                ));
            }
            s.key_label = Some(attributes.label.clone());
            s.key_id_hex = Some(attributes.id_hex.clone());
            s.phase = Phase::Wrap;
            Ok(vec![Effect::Checkpoint(Phase::KeyGeneration), Effect::Wrap])
        }
        (
            Phase::KeyGeneration | Phase::Wrap,
            Event::WrapTested {
                oaep_hash,
                method,
                target,
                ..
            },
        ) => wrap_tested(s, *oaep_hash, method.as_ref(), *target),
        (
            Phase::Wrap,
            Event::Wrapped {
                byok_sha256,
                method,
                rehearsal_grade,
                target,
                ..
            },
        ) => {
            let config = config(s)?;
            if *target != config.event_target(Cloud::Azure) {
                return Err(refusal(
                    s,
                    "a .byok names its target exactly when the script lists targets",
                ));
            }
            let wrap = WrapDone {
                cloud: Cloud::Azure,
                method,
                rehearsal_grade: *rehearsal_grade,
                sha256: byok_sha256,
                kek_fingerprint: None,
                algorithm: None,
            };
            target_wrapped(s, &wrap)
        }
        (
            Phase::Wrap,
            Event::TargetWrapped {
                target,
                algorithm,
                kek_fingerprint_sha256,
                sha256,
                method,
                rehearsal_grade,
                ..
            },
        ) => {
            if *target == Cloud::Azure || config(s)?.targets.is_empty() {
                return Err(refusal(
                    s,
                    "Azure's wrap is a .byok (\"wrapped\"); only a listed Google Cloud or AWS target is wrapped raw",
                ));
            }
            let wrap = WrapDone {
                cloud: *target,
                method,
                rehearsal_grade: *rehearsal_grade,
                sha256,
                kek_fingerprint: Some(kek_fingerprint_sha256),
                algorithm: Some(algorithm),
            };
            target_wrapped(s, &wrap)
        }
        (Phase::Export, Event::Exported { files }) => {
            if s.wrapped.is_empty() || s.unwrapped_target().is_some() {
                return Err(refusal(
                    s,
                    "nothing is exported before the wrap for every target succeeded",
                ));
            }
            if files.is_empty() {
                return Err(refusal(s, "an export writes at least the .byok file"));
            }
            s.exported = files.clone();
            s.phase = Phase::Verification;
            Ok(vec![Effect::VerifyExport])
        }
        (Phase::Verification, Event::Verified { files }) => {
            if *files != s.exported {
                return Err(refusal(s, "the files read back differ from those written"));
            }
            let destroy = config(s)?.destroy_after_export;
            s.verified = true;
            s.phase = Phase::SignOff;
            let mut effects = vec![Effect::Checkpoint(Phase::Verification)];
            if destroy {
                effects.push(Effect::DestroyKey);
            }
            Ok(effects)
        }
        (Phase::SignOff, Event::KeyDestroyed { .. }) => {
            if s.key_destroyed {
                return Err(refusal(s, "the key is already destroyed"));
            }
            s.key_destroyed = true;
            Ok(vec![])
        }
        (Phase::SignOff, Event::SignedOff { name }) => sign_off(s, name),
        (Phase::SignOff, Event::Closed { by }) => close(s, by),
        _ => Err(refusal(
            s,
            &format!("\"{}\" cannot happen now", event.kind().replace('_', " ")),
        )),
    }
}

/// The preflight's results. A failed check that is not the station's (the script, the output
/// medium, the audit key, the provisioning record) keeps the ceremony in preflight: the people
/// fix it and retry, or abort. A failed station check (the air gap, memory, the tool's hash,
/// the clock) is a warning in a rehearsal; in a production ceremony it stays open, and the
/// ceremony goes on to attendance, where only the administrator's deviation for it, acknowledged
/// by the witness, lets attendance close: no deviation can be recorded before the people have
/// checked in, and nothing reaches the HSM before attendance closes.
///
/// Run again at attendance (a retry while station checks are open), the new results replace the
/// old: a ceremony check that fails now sends the ceremony back to preflight (the people checked
/// in stay checked in).
pub(super) fn preflight_completed(s: &mut State, checks: &[Check]) {
    let failed = || checks.iter().filter(|c| !c.passed);
    if failed().any(|c| !c.station) {
        s.failures
            .extend(failed().map(|c| format!("{}: {}", c.name, c.detail)));
        s.station_failures.clear();
        s.phase = Phase::Preflight;
        return;
    }
    s.station_failures = if s.rehearsal {
        Vec::new()
    } else {
        failed().cloned().collect()
    };
    s.phase = Phase::Attendance;
}

pub(super) fn close_attendance(s: &mut State, by: &str) -> Result<Vec<Effect>, Refusal> {
    let config = config(s)?;
    gate(s)?;
    let open = s.open_station_failures();
    if !open.is_empty() {
        return Err(refusal(
            s,
            &format!(
                "the station failed its preflight checks ({}): attendance closes only after the administrator records a deviation for them and the witness acknowledges it, or once the station is fixed and the checks, run again, pass",
                open.join(", ")
            ),
        ));
    }
    if by != config.administrator {
        return Err(refusal(s, "the ceremony administrator closes attendance"));
    }
    if !s.present.contains(&config.administrator) || !s.present.contains(&config.witness) {
        return Err(refusal(
            s,
            "the administrator and the witness must both be present",
        ));
    }
    if s.custodians_present_count() < config.threshold() {
        return Err(refusal(
            s,
            "fewer custodians are present than the quorum needs",
        ));
    }
    s.phase = Phase::Quorum;
    // No checkpoint yet: the audit key signs only after the quorum has logged in, and the
    // first checkpoint (at the quorum gate) covers attendance too.
    Ok(vec![])
}

pub(super) fn log_in(s: &mut State) -> Result<Vec<Effect>, Refusal> {
    let config = config(s)?;
    if s.shares_from.len() < config.threshold() {
        return Err(refusal(s, "the HSM is used only after the quorum is met"));
    }
    gate(s)?;
    let destroy_pending = config.destroy_after_export && !s.key_destroyed;
    s.logged_in = true;
    s.phase = s.resume_to.take().unwrap_or(Phase::KekLoad);
    let next = match s.phase {
        Phase::Export => Some(Effect::Export),
        Phase::Verification => Some(Effect::VerifyExport),
        Phase::SignOff if destroy_pending => Some(Effect::DestroyKey),
        Phase::SignOff => None,
        _ => Some(Effect::LoadKek),
    };
    Ok(std::iter::once(Effect::Checkpoint(Phase::Quorum))
        .chain(next)
        .collect())
}

pub(super) fn confirm_kek(s: &mut State, custodian: &str) -> Result<Vec<Effect>, Refusal> {
    if !s.is_custodian_present(custodian) {
        return Err(refusal(
            s,
            "only a custodian who checked in confirms the KEK",
        ));
    }
    if s.kek_confirmed_by.contains(custodian) {
        return Err(refusal(s, "that custodian has already confirmed"));
    }
    // The last confirmation passes the gate: check it before recording anything.
    let last = s.kek_confirmed_by.len() + 1 == s.custodians_present_count();
    if last {
        gate(s)?;
    }
    s.kek_confirmed_by.insert(custodian.to_owned());
    if !last {
        return Ok(vec![]);
    }
    s.keks_confirmed
        .push(s.kek_fingerprint.clone().unwrap_or_default());
    // More clouds: their KEKs are loaded and confirmed the same way, one after the other, before
    // the HSM does anything.
    if s.kek_target().is_some() {
        s.kek_fingerprint = None;
        s.kek_confirmed_by.clear();
        s.phase = Phase::KekLoad;
        return Ok(vec![Effect::LoadKek]);
    }
    // Resumed after a crash with the key already made: never a second key.
    s.phase = if s.key_id_hex.is_some() {
        Phase::Wrap
    } else {
        Phase::KeyGeneration
    };
    Ok(vec![
        Effect::Checkpoint(Phase::KekConfirm),
        next_hsm_step(s),
    ])
}

/// What the HSM does next once the KEK is confirmed: prove the wrap first, then make the key
/// (or, resumed with the key already made, wrap it).
pub(super) fn next_hsm_step(s: &State) -> Effect {
    match (s.untested_target().is_none(), s.phase) {
        (false, _) => Effect::TestWrap,
        (true, Phase::Wrap) => Effect::Wrap,
        (true, _) => Effect::GenerateKey,
    }
}

/// The HSM's wrap, proven (or not) with throwaway keys. A path that zero-pads is taken only in a
/// rehearsal or where the script allows it; otherwise, or when no path passed, the step fails
/// here, before any key is made, and the people retry on another token or abort.
pub(super) fn wrap_tested(
    s: &mut State,
    oaep_hash: OaepHash,
    method: Option<&WrapMethod>,
    target: Option<Cloud>,
) -> Result<Vec<Effect>, Refusal> {
    use crate::cloud::Envelope;
    use crate::hsm_types::wrap::WrapKatOutcome;
    let config = config(s)?;
    if !s.logged_in {
        return Err(refusal(s, "the HSM is used only after the quorum is met"));
    }
    let Some(next) = s.untested_target() else {
        return Err(refusal(
            s,
            "the HSM's wrap is already proven in this run for every target",
        ));
    };
    if target != config.event_target(next.cloud) {
        return Err(refusal(
            s,
            &format!(
                "the wrap tested next is {}'s, in the script's order",
                next.cloud.title()
            ),
        ));
    }
    let cloud = next.cloud.title();
    if oaep_hash != next.oaep_hash {
        return Err(refusal(
            s,
            &format!(
                "{cloud} unwraps {} with OAEP {}: the wrap is tested for {}",
                next.algorithm, next.oaep_hash, next.oaep_hash
            ),
        ));
    }
    let Some(method) = method else {
        s.failures.push(format!(
            "no wrap path of the HSM passed its known-answer test for {} (OAEP {}): nothing it wraps for {cloud} can be trusted; use another HSM, or abort",
            next.algorithm, next.oaep_hash
        ));
        return Ok(vec![]);
    };
    let kat = method.path_kat();
    let envelope = next.algorithm().map(|a| a.envelope);
    if kat.oaep_hash != oaep_hash
        || !matches!(
            kat.outcome,
            WrapKatOutcome::Exact | WrapKatOutcome::ZeroPadded
        )
        || (envelope == Some(Envelope::RsaOaep)) != matches!(method, WrapMethod::PlainOaep { .. })
    {
        return Err(refusal(
            s,
            "a wrap path is chosen only after its known-answer test passed for the target's algorithm and OAEP hash",
        ));
    }
    if config.wrap_with_trusted && !matches!(method, WrapMethod::Native { .. }) {
        s.failures.push(
            "the script asks for trusted-only wrapping (wrap_with_trusted), which only the native CKM_RSA_AES_KEY_WRAP can do, and this HSM's native wrap did not pass its known-answer test: use an HSM whose native wrap does, or abort".into(),
        );
        return Ok(vec![]);
    }
    if method.zero_pads() && !s.rehearsal && !config.allow_zero_padding {
        s.failures.push(format!(
            "the HSM's wrap zero-pads the key before RFC 5649 (known-answer test), so what it wraps for {cloud} would carry trailing zero bytes that the cloud may reject; a production ceremony refuses it before any key is made: use an HSM whose wrap is byte-exact, or abort (a script may accept it with allow_zero_padding = true)"
        ));
        return Ok(vec![]);
    }
    if s.wrap_methods.is_empty() {
        s.wrap_method = Some(method.clone());
    }
    s.wrap_methods.insert(next.cloud, method.clone());
    Ok(vec![next_hsm_step(s)])
}

/// A wrap's result, from a `wrapped` (Azure) or `target_wrapped` event.
pub(super) struct WrapDone<'e> {
    pub cloud: Cloud,
    pub method: &'e WrapMethod,
    pub rehearsal_grade: bool,
    pub sha256: &'e str,
    /// Google Cloud and AWS: the KEK and algorithm the event names.
    pub kek_fingerprint: Option<&'e str>,
    pub algorithm: Option<&'e str>,
}

/// One target wrapped: in the script's order, with the path its test proved, for the KEK the
/// custodians confirmed. After the last, export.
pub(super) fn target_wrapped(s: &mut State, w: &WrapDone<'_>) -> Result<Vec<Effect>, Refusal> {
    if !s.logged_in {
        return Err(refusal(s, "the HSM is used only after the quorum is met"));
    }
    let targets = s.targets();
    if s.keks_confirmed.len() < targets.len()
        || s.kek_confirmed_by.len() < s.custodians_present_count()
    {
        return Err(refusal(
            s,
            "nothing is wrapped before the KEK fingerprint is confirmed",
        ));
    }
    let Some(next) = s.unwrapped_target() else {
        return Err(refusal(s, "every target is wrapped already"));
    };
    if next.cloud != w.cloud {
        return Err(refusal(
            s,
            &format!(
                "the target wrapped next is {}'s, in the script's order",
                next.cloud.title()
            ),
        ));
    }
    if s.wrap_methods.get(&w.cloud) != Some(w.method) {
        return Err(refusal(
            s,
            "the wrap takes the path its known-answer test proved in this run",
        ));
    }
    if w.rehearsal_grade != w.method.zero_pads() {
        return Err(refusal(
            s,
            "a wrap is rehearsal-grade exactly when its path zero-pads",
        ));
    }
    let index = targets.iter().position(|t| t.cloud == w.cloud).unwrap_or(0);
    if w.kek_fingerprint
        .is_some_and(|f| s.keks_confirmed.get(index).map(String::as_str) != Some(f))
    {
        return Err(refusal(
            s,
            "a target is wrapped only for the KEK the custodians confirmed for it",
        ));
    }
    if w.algorithm.is_some_and(|a| a != next.algorithm) {
        return Err(refusal(
            s,
            "a target is wrapped with the algorithm the script names for it",
        ));
    }
    s.wrapped.insert(w.cloud, w.sha256.to_owned());
    if w.cloud == Cloud::Azure {
        s.byok_sha256 = Some(w.sha256.to_owned());
    }
    if s.unwrapped_target().is_some() {
        return Ok(vec![Effect::Wrap]);
    }
    s.phase = Phase::Export;
    Ok(vec![Effect::Checkpoint(Phase::Wrap), Effect::Export])
}

pub(super) fn sign_off(s: &mut State, name: &str) -> Result<Vec<Effect>, Refusal> {
    let role = config(s)?.role_of(name);
    if !s.present.contains(name)
        || !matches!(
            role,
            Some(Role::Administrator | Role::Witness | Role::Custodian | Role::Auditor)
        )
    {
        return Err(refusal(s, "only people present sign off"));
    }
    if s.signed_off_by.contains(name) {
        return Err(refusal(s, "that person has already signed off"));
    }
    s.signed_off_by.insert(name.to_owned());
    Ok(vec![])
}

pub(super) fn close(s: &mut State, by: &str) -> Result<Vec<Effect>, Refusal> {
    let config = config(s)?;
    gate(s)?;
    if by != config.administrator {
        return Err(refusal(s, "the ceremony administrator closes the ceremony"));
    }
    let signed = |name: &String| s.signed_off_by.contains(name);
    let everyone_signed = signed(&config.administrator)
        && signed(&config.witness)
        && config
            .custodians
            .iter()
            .filter(|c| s.present.contains(*c))
            .all(signed);
    if !everyone_signed {
        return Err(refusal(
            s,
            "the administrator, the witness and every custodian present must sign off before close",
        ));
    }
    if config.destroy_after_export && !s.key_destroyed {
        return Err(refusal(
            s,
            "the script says destroy the key after export; it is not destroyed yet",
        ));
    }
    s.phase = Phase::Closed;
    s.end_signature_due = true;
    Ok(vec![Effect::Checkpoint(Phase::Closed), Effect::Finish])
}
