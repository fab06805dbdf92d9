//! Provisioning: put a token under quorum control.
//!
//! 1. Check the outputs can be written (nothing exists yet) before touching the token; find
//!    the token and have the people confirm it (nothing, not even the audit log, is written
//!    before they do). Take the room for every share file and the record on the medium.
//! 2. A fresh token: make its PINs (the OS generator: the token gives no random bytes before
//!    it is initialised), split them, and write and read back every share file; only then
//!    initialise the token with those PINs (C_InitToken, C_InitPIN). No failure can leave a
//!    fresh token whose PINs nobody holds.
//!    An adopted token: it keeps its current PINs until step 5.
//! 3. Generate the ceremony audit key inside the token.
//! 4. An adopted token: make the new PINs (OS generator XOR the token's), split them, commit to
//!    every share, check every set of M shares rebuilds its PIN, and write each custodian's
//!    share file. Then (both) the public record.
//! 5. An adopted token: only then set the new PINs (C_SetPIN), so that a failed write never
//!    leaves a token whose PIN nobody holds.
//! 6. Read M shares back from the custodians' files, rebuild each PIN and log in with it.
//! 7. Hand each custodian their share, one at a time (the guided UI shows it; headless, the
//!    file is the hand-out).
//!
//! The people in the room answer through [`ProvisionPeople`]: the headless command and the
//! guided terminal UI drive this same core, so both record the same quorum events.
pub mod people;

use std::path::{Path, PathBuf};

use cryptoki::session::UserType;
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::audit_key::{self, AuditKeyError};
use super::current_pins::{CurrentPins, CurrentPinsError};
use super::events::{EventSink, QuorumEvent};
use super::issue::{self, IssueError, IssuedSplit};
use super::outputs::{self, OutputError, Written};
use super::pin::{self, PinError, PinLimits, PinSecret};
use super::record::{
    ProvisioningRecord, RECORD_FORMAT, RECORD_VERSION, RecordError, TrustedKekRecord,
};
use super::script::{ProvisioningScript, TokenPlan};
use super::share::{PinGroup, Share};
use super::split::{self, SplitError};
use crate::byok::kek::Kek;
use crate::hsm::trusted_kek;
use crate::hsm::{Hsm, HsmError, HsmSession};
use crate::hsm_types::token::{TokenIdentity, TokenSelector};

pub use people::{HandOut, Headless, ProvisionPeople, ProvisionStep, TokenToChange};

/// Why provisioning stopped. Messages say whether the token was changed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{0}")]
    AuditLog(String),
    #[error("{0}")]
    Hsm(#[from] HsmError),
    #[error("{0}")]
    Pin(#[from] PinError),
    #[error("{0}")]
    Issue(#[from] IssueError),
    #[error("{0}")]
    Record(#[from] RecordError),
    #[error("{0}")]
    AuditKey(#[from] AuditKeyError),
    #[error("{0}")]
    CurrentPins(#[from] CurrentPinsError),
    #[error(
        "writing the outputs failed: {0}. The token's PINs were NOT changed, and the share files written were removed (their shares are void): fix the medium and run again"
    )]
    Outputs(#[source] OutputError),
    #[error("writing the provisioning record failed: {0}")]
    RecordWrite(#[source] OutputError),
    #[error("{0}")]
    Preflight(#[source] OutputError),
    #[error(
        "the output medium cannot take the share files and the record ({0}); the token was NOT changed and nothing was left in the output directory: free space or use another medium, then run again"
    )]
    Reserve(#[source] OutputError),
    #[error("{cause}. THE TOKEN WAS CHANGED: {state}")]
    TokenChanged {
        cause: Box<ProvisionError>,
        state: String,
    },
    #[error(
        "no slot holds an uninitialised token; add one (softhsm2-util --init-token needs --free) or name it with slot_id"
    )]
    NoFreeSlot,
    #[error("slots {0:?} all hold uninitialised tokens; choose one with slot_id in the script")]
    SeveralFreeSlots(Vec<u64>),
    #[error("slot {0} has no uninitialised token; check slot_id against `pkcs11-tool -L`")]
    SlotNotFree(u64),
    #[error(
        "a token labelled \"{0}\" already exists; choose another label so that ceremonies can never confuse the two"
    )]
    LabelTaken(String),
    #[error(
        "adopting a token needs its current PINs: give --current-pins FILE (see the custodian guide)"
    )]
    CurrentPinsNeeded,
    #[error("--current-pins is only for mode = \"adopt\"; an initialised token gets fresh PINs")]
    CurrentPinsUnexpected,
    #[error(
        "the script splits the SO PIN, so the current-PINs file needs an `so=` line with the token's current SO PIN"
    )]
    SoPinNeeded,
    #[error(
        "the token refused the current {group}: {source}; check the current-PINs file. Nothing was changed"
    )]
    CurrentPinRefused {
        group: PinGroup,
        source: cryptoki::error::Error,
    },
    #[error(
        "the token refused to take the new {group} ({source}); the share files written are VOID for that PIN: destroy them. The token still has its previous {group}"
    )]
    SetPin {
        group: PinGroup,
        source: cryptoki::error::Error,
    },
    #[error(
        "the {group} rebuilt from the written share files did not log in ({detail}); treat the share files as void and investigate before using this token"
    )]
    Verify { group: PinGroup, detail: String },
    #[error("the trusted KEK cannot be used: {0}. Nothing was changed")]
    TrustedKek(String),
    #[error(
        "the script imports a trusted KEK, which only the security officer may do: the current-PINs file needs an `so=` line with the token's current SO PIN"
    )]
    TrustedKekNeedsSo,
    #[error(
        "provisioning was not confirmed, so it stopped before the token was changed; nothing was written. Run it again when everyone is ready"
    )]
    NotApproved,
    #[error(
        "the token is provisioned and every share file is in {0}, but the on-screen hand-out was left before {1} had their share: give each remaining custodian their own file"
    )]
    HandOutLeft(PathBuf, String),
}

/// Where the outputs go and what the command line gave.
#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    pub out_dir: PathBuf,
    pub current_pins: Option<PathBuf>,
}

/// What a provisioning (or re-split) did.
#[derive(Debug)]
pub struct ProvisionOutcome {
    pub record: ProvisioningRecord,
    pub written: Written,
    pub events: Vec<QuorumEvent>,
}

/// The token's PIN length limits.
pub(crate) fn limits(hsm: &Hsm, slot: Slot) -> Result<PinLimits, HsmError> {
    let info = hsm
        .context()
        .get_token_info(slot)
        .map_err(HsmError::p11("describe the token"))?;
    Ok(PinLimits {
        min: info.min_pin_length(),
        max: info.max_pin_length(),
    })
}

/// The provisioning audit log written beside the record: every quorum step, hash-chained.
pub const AUDIT_LOG_NAME: &str = "provisioning-audit.jsonl";

/// Runs the whole provisioning described by `script`, headless: the share files are the
/// hand-out.
pub fn provision(
    script: &ProvisioningScript,
    opts: &ProvisionOptions,
) -> Result<ProvisionOutcome, ProvisionError> {
    provision_with(script, opts, &mut Headless)
}

/// Everything provisioning needs that no person has to do, checked before anyone is asked to
/// check in: the output directory (there, and none of the files yet), the current-PINs file
/// (adopt), the trusted KEK (read, and its fingerprint the script's), the HSM module (it
/// loads) and the token to change (a free slot, or the token to adopt). Nothing is changed.
pub fn check_before_people(
    script: &ProvisioningScript,
    opts: &ProvisionOptions,
) -> Result<(), ProvisionError> {
    prepare(script, opts).map(drop)
}

/// What provisioning reads before anything is changed or written, each checked.
struct Prepared {
    current: Option<CurrentPins>,
    trusted: Option<Kek>,
    hsm: Hsm,
    slot: Slot,
    change: TokenToChange,
}

fn prepare(
    script: &ProvisioningScript,
    opts: &ProvisionOptions,
) -> Result<Prepared, ProvisionError> {
    let mut everyone: Vec<&String> = script.user_pin.custodians.iter().collect();
    if let Some(so) = &script.so_pin {
        everyone.extend(&so.custodians);
    }
    outputs::preflight(&opts.out_dir, everyone).map_err(ProvisionError::Preflight)?;
    let current = match (&script.token, &opts.current_pins) {
        (TokenPlan::Adopt { .. }, Some(path)) => Some(CurrentPins::load(path)?),
        (TokenPlan::Adopt { .. }, None) => return Err(ProvisionError::CurrentPinsNeeded),
        (TokenPlan::Initialise { .. }, Some(_)) => {
            return Err(ProvisionError::CurrentPinsUnexpected);
        }
        (TokenPlan::Initialise { .. }, None) => None,
    };
    if script.so_pin.is_some() && current.as_ref().is_some_and(|c| c.so.is_none()) {
        return Err(ProvisionError::SoPinNeeded);
    }
    if script.trusted_kek.is_some() && current.as_ref().is_some_and(|c| c.so.is_none()) {
        return Err(ProvisionError::TrustedKekNeedsSo);
    }
    // The KEK to trust, read and checked against the script's pin before the token is touched.
    let trusted = script
        .trusted_kek
        .as_ref()
        .map(load_trusted_kek)
        .transpose()?;
    let hsm = Hsm::load(&script.module)?;
    // Which token changes, found to be shown before anything is changed or written.
    let (slot, change) = token_to_change(&hsm, &script.token)?;
    Ok(Prepared {
        current,
        trusted,
        hsm,
        slot,
        change,
    })
}

/// Runs the whole provisioning described by `script`, asking `people` where people decide.
pub fn provision_with(
    script: &ProvisioningScript,
    opts: &ProvisionOptions,
    people: &mut dyn ProvisionPeople,
) -> Result<ProvisionOutcome, ProvisionError> {
    let Prepared {
        current,
        trusted,
        hsm,
        slot,
        change,
    } = prepare(script, opts)?;
    people.approve(&change)?;
    // The room for every share file and the record, taken while the token is untouched: a
    // full or failing medium stops provisioning here, with nothing changed and nothing left.
    let mut everyone: Vec<&String> = script.user_pin.custodians.iter().collect();
    if let Some(so) = &script.so_pin {
        everyone.extend(&so.custodians);
    }
    let reservation =
        outputs::reserve_all(&opts.out_dir, everyone).map_err(ProvisionError::Reserve)?;
    // Every quorum step from here on is appended to the provisioning audit log as it happens.
    let mut events = EventSink::to_log(&opts.out_dir.join(AUDIT_LOG_NAME))
        .map_err(|e| ProvisionError::AuditLog(e.to_string()))?;
    let fresh_label = match &script.token {
        TokenPlan::Initialise { label, .. } => Some(label.clone()),
        TokenPlan::Adopt { .. } => None,
    };
    // From here a failure leaves the token changed: say how, and how to recover.
    let changed = |cause: ProvisionError, pins_set: bool| {
        let state = match (&fresh_label, pins_set) {
            (Some(label), _) => format!(
                "the token \"{label}\" was initialised by this run with the PINs split in the share files in {out} (written and read back before the token was touched), so the custodians' shares unlock it; keep every share file. To start again instead: reset the token (SoftHSM2: softhsm2-util --delete-token --token \"{label}\"; another HSM: its own re-initialisation, with the SO PIN the SO-PIN shares hold), delete the share files, the record and {log} in {out}, then provision again",
                out = opts.out_dir.display(),
                log = AUDIT_LOG_NAME,
            ),
            (None, false) => "the token keeps its current PINs (the ones in the current-PINs file) but may hold a new audit key or trusted KEK object: delete the share files and the record written, then provision again (an existing audit key is reported by name)".to_owned(),
            (None, true) => format!(
                "the token's PINs are now the ones split in the share files in {} (written and read back before the PINs changed): keep every share file; the custodians' shares unlock the token",
                opts.out_dir.display()
            ),
        };
        ProvisionError::TokenChanged {
            cause: Box::new(cause),
            state,
        }
    };
    // The PINs the token has now: a fresh token's final ones (their shares already written),
    // or the adopted token's.
    let mut reservation = reservation;
    let (slot, old_user, old_so, fresh) = match (&script.token, current) {
        (TokenPlan::Initialise { label, .. }, _) => {
            let fresh = match write_before_init(
                &hsm,
                slot,
                label,
                script,
                people,
                &mut reservation,
                &mut events,
            ) {
                Ok(fresh) => fresh,
                Err(e) => {
                    // Nothing reached the token: the files of PINs never set go, with the log.
                    events.discard();
                    return Err(e);
                }
            };
            people.progress(ProvisionStep::InitialiseToken);
            let slot = match initialise(&hsm, slot, label, &fresh.so_pin, &fresh.user_pin) {
                Ok(slot) => slot,
                // C_InitToken may have taken effect before a later call failed: the token then
                // has the split SO PIN. One more try sets the user PIN; if that fails too,
                // say exactly which PIN the token has.
                Err(e) => match hsm.find_token(&TokenSelector::Label(label.clone())) {
                    Ok(slot) => match set_user_pin(&hsm, slot, &fresh.so_pin, &fresh.user_pin) {
                        Ok(()) => slot,
                        Err(_) if user_pin_set(&hsm, slot) => return Err(changed(e, true)),
                        Err(_) => {
                            return Err(ProvisionError::TokenChanged {
                                cause: Box::new(e),
                                state: format!(
                                    "the token \"{label}\" was initialised by this run: its SO PIN is the one split in the share files in {out} (written and read back before the token was touched), but its user PIN was not set. Reset it (SoftHSM2: softhsm2-util --delete-token --token \"{label}\"; another HSM: its own re-initialisation, with the SO PIN the SO-PIN shares hold), delete the share files and {log} in {out}, then provision again",
                                    out = opts.out_dir.display(),
                                    log = AUDIT_LOG_NAME,
                                ),
                            });
                        }
                    },
                    Err(_) => {
                        fresh.remove_files();
                        events.discard();
                        return Err(e);
                    }
                },
            };
            let id = hsm
                .token_identity(slot)
                .map_err(|e| changed(e.into(), true))?;
            events.push(QuorumEvent::TokenInitialised {
                label: id.label,
                serial: id.serial,
            });
            // C_InitToken set the SO PIN and C_InitPIN the user PIN: the split ones.
            for split in [&fresh.user, &fresh.so] {
                events.push(QuorumEvent::PinSet {
                    group: split.split.group,
                    split_id: split.split.split_id,
                    replaces: None,
                });
            }
            let (user, so) = (fresh.user_pin.auth_pin(), fresh.so_pin.auth_pin());
            (slot, user, Some(so), Some(fresh))
        }
        (TokenPlan::Adopt { .. }, Some(pins)) => {
            people.progress(ProvisionStep::PrepareToken);
            let id = hsm.token_identity(slot)?;
            events.push(QuorumEvent::TokenAdopted {
                label: id.label,
                serial: id.serial,
            });
            (slot, pins.user, pins.so, None)
        }
        (TokenPlan::Adopt { .. }, None) => return Err(ProvisionError::CurrentPinsNeeded),
    };
    let mut pins_set = fresh.is_some();
    let after = AfterChange {
        hsm: &hsm,
        slot,
        trusted: trusted.as_ref(),
        old_user,
        old_so,
        reservation,
        fresh,
    };
    finish(script, opts, people, after, events, &mut pins_set).map_err(|e| changed(e, pins_set))
}

/// A fresh token's PINs, split, with every share file written and read back: made before the
/// token is touched.
struct FreshPins {
    user_pin: PinSecret,
    so_pin: PinSecret,
    user: IssuedSplit,
    so: IssuedSplit,
    share_files: Vec<(String, PathBuf)>,
}

impl FreshPins {
    /// The token was not initialised after all: the files hold PINs no token has.
    fn remove_files(self) {
        for (_, path) in &self.share_files {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A fresh token: its PINs (from the OS generator: it has no random bytes to give before it
/// is initialised), split, committed and checked, and every share file written and read back,
/// while the token is untouched. A failure part way removes the files it wrote.
fn write_before_init(
    hsm: &Hsm,
    slot: Slot,
    label: &str,
    script: &ProvisioningScript,
    people: &mut dyn ProvisionPeople,
    reservation: &mut outputs::Reservation,
    events: &mut EventSink,
) -> Result<FreshPins, ProvisionError> {
    people.progress(ProvisionStep::SplitFresh);
    let so_group = script.so_pin.as_ref().ok_or(ProvisionError::SoPinNeeded)?;
    let len = pin::secret_len_for(limits(hsm, slot)?)?;
    let user_pin = pin::generate_os_only(len)?;
    let so_pin = pin::generate_os_only(len)?;
    let policy = script.policy();
    let user = issue::issue(
        &user_pin,
        PinGroup::UserPin,
        &script.user_pin,
        policy,
        events,
    )?;
    let so = issue::issue(&so_pin, PinGroup::SoPin, so_group, policy, events)?;
    // The token's own description before it is initialised: the label it will carry; its
    // serial (often given only at initialisation) is in the record.
    let mut token = hsm.token_identity(slot)?;
    token.label = label.to_owned();
    let handouts = outputs::handouts(&[&user, &so]);
    let commitment = |group: PinGroup, index: u8| {
        let split = if group == PinGroup::UserPin {
            &user
        } else {
            &so
        };
        split
            .record
            .custodian(index)
            .map(|c| c.commitment.clone())
            .unwrap_or_default()
    };
    people.progress(ProvisionStep::WriteShares);
    let share_files = reservation
        .write_shares(&token, script.rehearsal, &handouts, &commitment, events)
        .map_err(ProvisionError::Outputs)?;
    events.healthy().map_err(ProvisionError::AuditLog)?;
    Ok(FreshPins {
        user_pin,
        so_pin,
        user,
        so,
        share_files,
    })
}

/// What provisioning has when the token has been initialised or adopted.
struct AfterChange<'h> {
    hsm: &'h Hsm,
    slot: Slot,
    trusted: Option<&'h Kek>,
    old_user: AuthPin,
    old_so: Option<AuthPin>,
    reservation: outputs::Reservation,
    /// A fresh token: its PINs are already the split ones, their share files written.
    fresh: Option<FreshPins>,
}

/// The rest of provisioning, once the token has changed: the audit key; for an adopted token
/// the new PINs, their shares and files, and the PINs set; the record; and the check from the
/// files. `pins_set` turns true the moment the token holds the split PINs.
fn finish(
    script: &ProvisioningScript,
    opts: &ProvisionOptions,
    people: &mut dyn ProvisionPeople,
    after: AfterChange<'_>,
    mut events: EventSink,
    pins_set: &mut bool,
) -> Result<ProvisionOutcome, ProvisionError> {
    let AfterChange {
        hsm,
        slot,
        trusted,
        old_user,
        old_so,
        reservation,
        fresh,
    } = after;
    let token = hsm.token_identity(slot)?;
    let limits = limits(hsm, slot)?;
    let session = hsm.open_session(slot)?;
    let trusted_kek = match (&trusted, &old_so) {
        (Some(kek), Some(so)) => Some(import_trusted_kek(&session, kek, so, &mut events)?),
        (Some(_), None) => return Err(ProvisionError::TrustedKekNeedsSo),
        (None, _) => None,
    };
    login_current(&session, UserType::User, &old_user)?;
    people.progress(ProvisionStep::AuditKey);
    let audit = audit_key::generate(&session)?;
    events.push(QuorumEvent::AuditKeyGenerated {
        label: audit.label.clone(),
        public_key_sha256: audit.public_key_sha256.clone(),
    });
    // A fresh token's PINs were split and written before it was initialised; an adopted
    // token's new PINs are made now, with the token's randomness mixed in.
    let (user, so, new_pins, share_files) = match fresh {
        Some(f) => (f.user, Some(f.so), None, Some(f.share_files)),
        None => {
            people.progress(ProvisionStep::Split);
            let user_pin = pin::generate(&session, limits)?;
            let user = issue::issue(
                &user_pin,
                PinGroup::UserPin,
                &script.user_pin,
                script.policy(),
                &mut events,
            )?;
            let so = match &script.so_pin {
                Some(group) => {
                    let so_pin = pin::generate(&session, limits)?;
                    let issued = issue::issue(
                        &so_pin,
                        PinGroup::SoPin,
                        group,
                        script.policy(),
                        &mut events,
                    )?;
                    Some((so_pin, issued))
                }
                None => None,
            };
            let (so_pin, so) = so.map_or((None, None), |(p, i)| (Some(p), Some(i)));
            (user, so, Some((user_pin, so_pin)), None)
        }
    };
    let record = ProvisioningRecord {
        format: RECORD_FORMAT.to_owned(),
        version: RECORD_VERSION,
        tool: tool(),
        rehearsal: script.rehearsal,
        token: token.clone(),
        user_pin: user.record.clone(),
        so_pin: so.as_ref().map(|i| i.record.clone()),
        audit_key: audit,
        supersedes: None,
        trusted_kek,
    };
    record.validate()?;
    let mut splits: Vec<&IssuedSplit> = vec![&user];
    splits.extend(so.as_ref());
    let handouts = outputs::handouts(&splits);
    let written = match share_files {
        Some(files) => {
            people.progress(ProvisionStep::WriteRecord);
            reservation
                .write_record(files, &record)
                .map_err(ProvisionError::RecordWrite)
        }
        None => {
            people.progress(ProvisionStep::WriteFiles);
            outputs::write_all(
                reservation,
                &token,
                script.rehearsal,
                &handouts,
                &record,
                &mut events,
            )
            .map_err(ProvisionError::Outputs)
        }
    }?;

    if let Some((user_pin, so_pin)) = new_pins {
        // Only now: the new PINs go onto the token (and only with the audit trail intact).
        events.healthy().map_err(ProvisionError::AuditLog)?;
        people.progress(ProvisionStep::SetPins);
        set_pin(
            &session,
            PinGroup::UserPin,
            &old_user,
            &user_pin,
            &mut events,
            user.split.split_id,
            None,
        )?;
        *pins_set = true;
        logout(&session)?;
        if let (Some(so_pin), Some(issued), Some(old)) = (&so_pin, &so, &old_so) {
            login_current(&session, UserType::So, old)?;
            set_pin(
                &session,
                PinGroup::SoPin,
                old,
                so_pin,
                &mut events,
                issued.split.split_id,
                None,
            )?;
            logout(&session)?;
        }
    } else {
        logout(&session)?;
    }
    people.progress(ProvisionStep::Verify);
    verify_from_files(&session, &written, &user, PinGroup::UserPin)?;
    if let Some(issued) = &so {
        verify_from_files(&session, &written, issued, PinGroup::SoPin)?;
    }
    hand_out_all(people, &handouts, &written, &opts.out_dir)?;
    Ok(ProvisionOutcome {
        record,
        written,
        events: events.finish().map_err(ProvisionError::AuditLog)?,
    })
}

/// Reads the KEK file and checks it against the fingerprint the script pins.
fn load_trusted_kek(plan: &super::script::TrustedKekPlan) -> Result<Kek, ProvisionError> {
    let kek =
        Kek::load(&plan.file, None, None).map_err(|e| ProvisionError::TrustedKek(e.to_string()))?;
    if kek.fingerprint() != plan.fingerprint {
        return Err(ProvisionError::TrustedKek(format!(
            "{} has fingerprint {}, not the {} the script pins; bring the KEK the online side read aloud",
            plan.file.display(),
            kek.fingerprint().hex_groups(),
            plan.fingerprint.hex_groups()
        )));
    }
    Ok(kek)
}

/// The security officer imports the KEK as a trusted wrapping key, then logs out.
fn import_trusted_kek(
    session: &HsmSession<'_>,
    kek: &Kek,
    so_pin: &AuthPin,
    events: &mut EventSink,
) -> Result<TrustedKekRecord, ProvisionError> {
    login_current(session, UserType::So, so_pin)?;
    trusted_kek::import(session, kek)?;
    logout(session)?;
    let record = TrustedKekRecord {
        label: trusted_kek::label_for(kek),
        fingerprint_sha256: kek.fingerprint().hex(),
    };
    events.push(QuorumEvent::TrustedKekImported {
        label: record.label.clone(),
        fingerprint_sha256: record.fingerprint_sha256.clone(),
    });
    Ok(record)
}

/// Each custodian's turn, in the order of the script; the shares handed out are exactly the
/// ones written to (and read back from) their files.
fn hand_out_all(
    people: &mut dyn ProvisionPeople,
    handouts: &[(String, Vec<&Share>)],
    written: &Written,
    out_dir: &Path,
) -> Result<(), ProvisionError> {
    for (i, (custodian, shares)) in handouts.iter().enumerate() {
        let Some(file) = share_path(written, custodian) else {
            return Err(ProvisionError::HandOutLeft(
                out_dir.to_owned(),
                custodian.clone(),
            ));
        };
        people.hand_out(&HandOut {
            custodian,
            shares,
            file,
            number: i + 1,
            of: handouts.len(),
        })?;
    }
    Ok(())
}

pub(crate) fn tool() -> String {
    format!("byok-ceremony {}", env!("CARGO_PKG_VERSION"))
}

/// The slot to change and what the people are shown about it before they confirm.
fn token_to_change(hsm: &Hsm, plan: &TokenPlan) -> Result<(Slot, TokenToChange), ProvisionError> {
    match plan {
        TokenPlan::Initialise { label, slot_id } => {
            let slot = choose_free_slot(hsm, label, *slot_id)?;
            let info = hsm
                .context()
                .get_token_info(slot)
                .map_err(HsmError::p11("describe the slot"))?;
            let change = TokenToChange::Initialise {
                slot: slot.id(),
                label: label.clone(),
                manufacturer: info.manufacturer_id().trim().to_owned(),
                model: info.model().trim().to_owned(),
            };
            Ok((slot, change))
        }
        TokenPlan::Adopt { selector } => {
            let slot = hsm.find_token(selector)?;
            let id = hsm.token_identity(slot)?;
            let change = TokenToChange::Adopt {
                label: id.label,
                serial: id.serial,
                manufacturer: id.manufacturer,
                model: id.model,
            };
            Ok((slot, change))
        }
    }
}

/// The uninitialised slot to provision, refusing a label another token already has.
fn choose_free_slot(hsm: &Hsm, label: &str, slot_id: Option<u64>) -> Result<Slot, ProvisionError> {
    match hsm.find_token(&TokenSelector::Label(label.to_owned())) {
        Ok(_) | Err(HsmError::AmbiguousToken { .. }) => {
            return Err(ProvisionError::LabelTaken(label.to_owned()));
        }
        Err(_) => {}
    }
    free_slot(hsm, slot_id)
}

/// C_InitToken with the SO PIN, then C_InitPIN with the user PIN: both already split and in
/// the custodians' files.
fn initialise(
    hsm: &Hsm,
    slot: Slot,
    label: &str,
    so: &PinSecret,
    user: &PinSecret,
) -> Result<Slot, ProvisionError> {
    hsm.context()
        .init_token(slot, &so.auth_pin(), label)
        .map_err(HsmError::p11("initialise the token"))?;
    // SoftHSM2 moves a freshly initialised token to a new slot; find it by its label.
    let slot = hsm.find_token(&TokenSelector::Label(label.to_owned()))?;
    set_user_pin(hsm, slot, so, user)?;
    Ok(slot)
}

/// The security officer sets the user PIN (C_InitPIN) of a token just initialised.
fn set_user_pin(
    hsm: &Hsm,
    slot: Slot,
    so: &PinSecret,
    user: &PinSecret,
) -> Result<(), ProvisionError> {
    let session = hsm.open_session(slot)?;
    let s = session.session();
    s.login(UserType::So, Some(&so.auth_pin()))
        .map_err(HsmError::p11(
            "log in as security officer with the new SO PIN",
        ))?;
    s.init_pin(&user.auth_pin())
        .map_err(HsmError::p11("set the user PIN"))?;
    s.logout()
        .map_err(HsmError::p11("log the security officer out"))?;
    Ok(())
}

/// Whether the token says its user PIN was set (CKF_USER_PIN_INITIALIZED); false when it
/// cannot say.
fn user_pin_set(hsm: &Hsm, slot: Slot) -> bool {
    hsm.context()
        .get_token_info(slot)
        .is_ok_and(|i| i.user_pin_initialized())
}

fn free_slot(hsm: &Hsm, slot_id: Option<u64>) -> Result<Slot, ProvisionError> {
    let mut free = Vec::new();
    for slot in hsm
        .context()
        .get_slots_with_token()
        .map_err(HsmError::p11("list its slots"))?
    {
        let info = hsm
            .context()
            .get_token_info(slot)
            .map_err(HsmError::p11("describe a slot"))?;
        if !info.token_initialized() {
            free.push(slot);
        }
    }
    match (slot_id, free.as_slice()) {
        (Some(id), _) => free
            .into_iter()
            .find(|s| s.id() == id)
            .ok_or(ProvisionError::SlotNotFree(id)),
        (None, [one]) => Ok(*one),
        (None, []) => Err(ProvisionError::NoFreeSlot),
        (None, many) => Err(ProvisionError::SeveralFreeSlots(
            many.iter().map(|s| s.id()).collect(),
        )),
    }
}

fn login_current(
    session: &HsmSession<'_>,
    who: UserType,
    pin: &AuthPin,
) -> Result<(), ProvisionError> {
    session
        .session()
        .login(who, Some(pin))
        .map_err(|source| ProvisionError::CurrentPinRefused {
            group: match who {
                UserType::So => PinGroup::SoPin,
                _ => PinGroup::UserPin,
            },
            source,
        })
}

pub(crate) fn logout(session: &HsmSession<'_>) -> Result<(), HsmError> {
    session.session().logout().map_err(HsmError::p11("log out"))
}

/// C_SetPIN in the session logged in as `group`'s owner.
pub(crate) fn set_pin(
    session: &HsmSession<'_>,
    group: PinGroup,
    old: &AuthPin,
    new: &PinSecret,
    events: &mut EventSink,
    split_id: super::share::SplitId,
    replaces: Option<super::share::SplitId>,
) -> Result<(), ProvisionError> {
    session
        .session()
        .set_pin(old, &new.auth_pin())
        .map_err(|source| ProvisionError::SetPin { group, source })?;
    events.push(QuorumEvent::PinSet {
        group,
        split_id,
        replaces,
    });
    Ok(())
}

/// Reads M shares back from the custodians' files, rebuilds the PIN, and logs in with it.
pub(crate) fn verify_from_files(
    session: &HsmSession<'_>,
    written: &Written,
    issued: &IssuedSplit,
    group: PinGroup,
) -> Result<(), ProvisionError> {
    let fail = |detail: String| ProvisionError::Verify { group, detail };
    let mut shares: Vec<Share> = Vec::new();
    for name in issued
        .custodians
        .iter()
        .take(usize::from(issued.split.threshold))
    {
        let path = share_path(written, name).ok_or_else(|| fail(format!("no file for {name}")))?;
        shares.push(outputs::read_share(path, group).map_err(|e| fail(e.to_string()))?);
    }
    let pin = split::combine_pin(&shares).map_err(|e: SplitError| fail(e.to_string()))?;
    drop(shares);
    let who = super::login::user_type(group);
    session
        .session()
        .login(who, Some(&pin.auth_pin()))
        .map_err(|e| fail(e.to_string()))?;
    logout(session).map_err(|e| fail(e.to_string()))
}

fn share_path<'w>(written: &'w Written, custodian: &str) -> Option<&'w Path> {
    written
        .share_files
        .iter()
        .find(|(c, _)| c == custodian)
        .map(|(_, p)| p.as_path())
}

/// The token identity a record must match.
pub(crate) fn same_token(a: &TokenIdentity, b: &TokenIdentity) -> bool {
    a.serial == b.serial && a.manufacturer == b.manufacturer && a.model == b.model
}
