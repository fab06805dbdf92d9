//! Re-split and custodian replacement: the old quorum rebuilds the user PIN and logs in; a
//! new random PIN is split among the (new) custodians of the script, their files and a new
//! record are written, and only then does C_SetPIN replace the PIN on the token, so the old
//! shares stop working. The SO split, if any, is carried over unchanged.
//!
//! The people answer through [`ResplitPeople`]: the headless command (share files, no
//! questions) and the guided terminal UI (shares typed one custodian at a time, a typed
//! confirmation, the on-screen hand-out) drive this same core, so both record the same
//! quorum events and write the same files.
pub mod people;

use std::path::{Path, PathBuf};

use super::audit_key;
use super::events::EventSink;
use super::issue;
use super::login::{LoginError, LoginPolicy, QuorumLogin};
use super::outputs::{self, OutputError, Written};
use super::pin;
use super::provision::{
    self, HandOut, ProvisionError, ProvisionOutcome, ProvisionStep, TokenToChange,
};
use super::record::{ProvisioningRecord, RecordError};
use super::script::{ProvisioningScript, TokenPlan};
use super::share::{PinGroup, Share};
use super::share_file::ShareFileError;
use crate::hsm::{Hsm, HsmError};
use crate::hsm_types::token::TokenSelector;

pub use people::{FromFiles, Presented, QuorumSoFar, ResplitPeople};

/// Why a re-split stopped.
#[derive(Debug, thiserror::Error)]
pub enum ResplitError {
    #[error(transparent)]
    Input(#[from] crate::media::input::InputError),
    #[error("could not read the provisioning record {path}: {source}")]
    ReadRecord {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Record(#[from] RecordError),
    #[error(
        "a re-split changes an existing token: set mode = \"adopt\" in the script (the token is found by the record's serial)"
    )]
    NotAdopt,
    #[error(
        "a re-split replaces the user-PIN split only; remove [so_pin] from the script (the SO split stays as recorded)"
    )]
    SoGroupGiven,
    #[error(
        "the script selects a different token than the record's (serial {0}); use the record of this token"
    )]
    OtherToken(String),
    #[error("{path}: {source}")]
    ShareFile {
        path: String,
        source: ShareFileError,
    },
    #[error("{path}: {source}")]
    Share { path: String, source: LoginError },
    #[error("{custodian}'s share: {source}")]
    Typed {
        custodian: String,
        source: LoginError,
    },
    #[error("{0}")]
    Login(#[from] LoginError),
    #[error("{0}")]
    Hsm(#[from] HsmError),
    #[error("{0}")]
    Provision(#[from] ProvisionError),
    #[error(
        "the token's audit key differs from the one in the record; this is not the token the record describes, or it was tampered with"
    )]
    AuditKeyChanged,
    #[error(
        "the re-split was not confirmed, so it stopped before the token was used; the token still has its old PIN and the old shares still work. The shares presented are in the audit log in the output directory: run again (with a new output directory) when everyone is ready"
    )]
    NotApproved,
    #[error(
        "the user PIN is re-split and every new share file is in {0}, but the on-screen hand-out was left before {1} had their share: give each remaining custodian their own file"
    )]
    HandOutLeft(PathBuf, String),
}

/// What the command line gave a re-split.
#[derive(Debug, Clone)]
pub struct ResplitOptions {
    pub out_dir: PathBuf,
    pub record: PathBuf,
    /// The old custodians' share files (headless: each stands for a custodian typing).
    pub share_files: Vec<PathBuf>,
    pub policy: LoginPolicy,
}

/// Runs the re-split headless: the share files given stand for the old custodians typing.
pub fn resplit(
    script: &ProvisioningScript,
    opts: &ResplitOptions,
) -> Result<ProvisionOutcome, ResplitError> {
    resplit_with(script, opts, &mut FromFiles::new(&opts.share_files))
}

/// Everything a re-split needs that no person has to do, checked before anyone is asked: the
/// old record, the script's shape, the output directory, the HSM module and the token (the
/// record's, selected by the script). Nothing is changed.
pub fn check_before_people(
    script: &ProvisioningScript,
    opts: &ResplitOptions,
) -> Result<(), ResplitError> {
    prepare(script, opts).map(drop)
}

/// The old record, the loaded module and the token's slot, each checked (see
/// `check_before_people`).
fn prepare(
    script: &ProvisioningScript,
    opts: &ResplitOptions,
) -> Result<(ProvisioningRecord, Hsm, cryptoki::slot::Slot), ResplitError> {
    let old = read_record(&opts.record)?;
    let TokenPlan::Adopt { selector } = &script.token else {
        return Err(ResplitError::NotAdopt);
    };
    if script.so_pin.is_some() {
        return Err(ResplitError::SoGroupGiven);
    }
    outputs::preflight(&opts.out_dir, &script.user_pin.custodians)
        .map_err(|e: OutputError| ProvisionError::Preflight(e))?;
    let hsm = Hsm::load(&script.module)?;
    let slot = hsm.find_token(&TokenSelector::Serial(old.token.serial.clone()))?;
    if hsm.find_token(selector)? != slot {
        return Err(ResplitError::OtherToken(old.token.serial.clone()));
    }
    Ok((old, hsm, slot))
}

/// Runs the re-split, asking `people` for the old shares and wherever people decide.
pub fn resplit_with(
    script: &ProvisioningScript,
    opts: &ResplitOptions,
    people: &mut dyn ResplitPeople,
) -> Result<ProvisionOutcome, ResplitError> {
    let (old, hsm, slot) = prepare(script, opts)?;
    let session = hsm.open_session(slot)?;
    let mut quorum = QuorumLogin::new(&old, PinGroup::UserPin)?;
    let log_path = opts.out_dir.join(provision::AUDIT_LOG_NAME);
    // The log is opened with the first share presented, so each refusal is on record at once;
    // people who leave before presenting any share leave nothing behind.
    let mut log: Option<EventSink> = None;
    while let Some(presented) = people.next_share(&QuorumSoFar {
        present: quorum.present(),
        needed: quorum.needed(),
    }) {
        let events = open_log(&mut log, &log_path)?;
        let by = presented.by();
        let offered = offer(&mut quorum, presented);
        events.extend(quorum.take_events());
        match offered {
            Ok(accepted) => people.accepted(&by, &accepted),
            Err(e) => people.refused(&by, e)?,
        }
    }
    let mut events = match log {
        Some(sink) => sink,
        None => create_log(&log_path)?,
    };
    if quorum.ready() {
        // The token whose PIN changes, confirmed by the people before the old PIN is used.
        let id = hsm.token_identity(slot)?;
        people
            .approve(&TokenToChange::Adopt {
                label: id.label,
                serial: id.serial,
                manufacturer: id.manufacturer,
                model: id.model,
            })
            .map_err(|_| ResplitError::NotApproved)?;
    }
    people.progress(ProvisionStep::PrepareToken);
    let logged_in = quorum.login_keeping_pin(&session, opts.policy);
    events.extend(quorum.take_events());
    let (_outcome, old_pin) = logged_in?;
    let token = hsm.token_identity(slot)?;
    if !provision::same_token(&token, &old.token) {
        return Err(ResplitError::OtherToken(old.token.serial.clone()));
    }
    people.progress(ProvisionStep::AuditKey);
    let audit = audit_key::find(&session).map_err(ProvisionError::from)?;
    if audit != old.audit_key {
        return Err(ResplitError::AuditKeyChanged);
    }
    people.progress(ProvisionStep::Split);
    let new_pin =
        pin::generate(&session, provision::limits(&hsm, slot)?).map_err(ProvisionError::from)?;
    let user = issue::issue(
        &new_pin,
        PinGroup::UserPin,
        &script.user_pin,
        script.policy(),
        &mut events,
    )
    .map_err(ProvisionError::from)?;
    let record = ProvisioningRecord {
        tool: provision::tool(),
        rehearsal: script.rehearsal,
        token: token.clone(),
        user_pin: user.record.clone(),
        supersedes: Some(old.user_pin.split_id),
        trusted_kek: old.trusted_kek.clone(),
        ..old.clone()
    };
    record.validate()?;
    let handouts = outputs::handouts(&[&user]);
    people.progress(ProvisionStep::WriteFiles);
    let reservation = outputs::reserve_all(&opts.out_dir, &script.user_pin.custodians)
        .map_err(ProvisionError::Outputs)?;
    let written = outputs::write_all(
        reservation,
        &token,
        script.rehearsal,
        &handouts,
        &record,
        &mut events,
    )
    .map_err(ProvisionError::Outputs)?;
    // Only now, with the files written and the audit trail intact: the old shares stop working.
    events.healthy().map_err(ProvisionError::AuditLog)?;
    people.progress(ProvisionStep::SetPins);
    provision::set_pin(
        &session,
        PinGroup::UserPin,
        &old_pin.auth_pin(),
        &new_pin,
        &mut events,
        user.split.split_id,
        Some(old.user_pin.split_id),
    )?;
    drop(old_pin);
    drop(new_pin);
    provision::logout(&session)?;
    people.progress(ProvisionStep::Verify);
    provision::verify_from_files(&session, &written, &user, PinGroup::UserPin)?;
    hand_out_all(people, &handouts, &written, &opts.out_dir)?;
    Ok(ProvisionOutcome {
        record,
        written,
        events: events.finish().map_err(ProvisionError::AuditLog)?,
    })
}

/// The token's current record, strictly parsed.
fn read_record(path: &Path) -> Result<ProvisioningRecord, ResplitError> {
    let bytes = crate::media::input::read_input(path, crate::media::input::RECORD)?;
    Ok(ProvisioningRecord::parse(&bytes)?)
}

/// The provisioning audit log, created the first time it is needed.
fn open_log<'l>(
    log: &'l mut Option<EventSink>,
    path: &Path,
) -> Result<&'l mut EventSink, ResplitError> {
    let sink = match log.take() {
        Some(sink) => sink,
        None => create_log(path)?,
    };
    Ok(log.insert(sink))
}

fn create_log(path: &Path) -> Result<EventSink, ResplitError> {
    Ok(EventSink::to_log(path).map_err(|e| ProvisionError::AuditLog(e.to_string()))?)
}

/// Checks one presented share against the old record; the text is wiped when this returns.
fn offer(
    quorum: &mut QuorumLogin<'_>,
    presented: Presented,
) -> Result<super::login::Accepted, ResplitError> {
    match presented {
        Presented::File(path) => {
            let shown = path.display().to_string();
            let typed = read_typed(&path)?;
            quorum.offer(&typed).map_err(|source| ResplitError::Share {
                path: shown,
                source,
            })
        }
        Presented::Typed { custodian, text } => quorum
            .offer(&text)
            .map_err(|source| ResplitError::Typed { custodian, source }),
    }
}

/// Each new custodian's turn, in the order of the script; the shares handed out are exactly
/// the ones written to (and read back from) their files.
fn hand_out_all(
    people: &mut dyn ResplitPeople,
    handouts: &[(String, Vec<&Share>)],
    written: &Written,
    out_dir: &Path,
) -> Result<(), ResplitError> {
    let left = |who: &str| ResplitError::HandOutLeft(out_dir.to_owned(), who.to_owned());
    for (i, (custodian, shares)) in handouts.iter().enumerate() {
        let file = written
            .share_files
            .iter()
            .find(|(c, _)| c == custodian)
            .map(|(_, p)| p.as_path())
            .ok_or_else(|| left(custodian))?;
        people
            .hand_out(&HandOut {
                custodian,
                shares,
                file,
                number: i + 1,
                of: handouts.len(),
            })
            .map_err(|_| left(custodian))?;
    }
    Ok(())
}

/// The user-PIN share in a custodian's file, as they would type it.
fn read_typed(path: &Path) -> Result<zeroize::Zeroizing<String>, ResplitError> {
    let shown = path.display().to_string();
    let fail = |source| ResplitError::ShareFile {
        path: shown.clone(),
        source,
    };
    let bytes = crate::media::input::read_secret_input(path, crate::media::input::SHARE)
        .map_err(|e| fail(ShareFileError::Input(e)))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| fail(ShareFileError::NotText))?;
    super::share_file::share_text_in(text, PinGroup::UserPin).map_err(fail)
}
