//! Re-split and custodian replacement: the old quorum rebuilds the user PIN and logs in; a
//! new random PIN is split among the (new) custodians of the script, their files and a new
//! record are written, and only then does C_SetPIN replace the PIN on the token, so the old
//! shares stop working. The SO split, if any, is carried over unchanged.
use std::path::PathBuf;

use super::audit_key;
use super::events::EventSink;
use super::issue;
use super::login::{LoginError, LoginPolicy, QuorumLogin};
use super::outputs::{self, OutputError};
use super::pin;
use super::provision::{self, ProvisionError, ProvisionOutcome};
use super::record::{ProvisioningRecord, RecordError};
use super::script::{ProvisioningScript, TokenPlan};
use super::share::PinGroup;
use super::share_file::ShareFileError;
use crate::hsm::{Hsm, HsmError, TokenSelector};

/// Why a re-split stopped.
#[derive(Debug, thiserror::Error)]
pub enum ResplitError {
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

/// Runs the re-split.
pub fn resplit(
    script: &ProvisioningScript,
    opts: &ResplitOptions,
) -> Result<ProvisionOutcome, ResplitError> {
    let bytes = std::fs::read(&opts.record).map_err(|source| ResplitError::ReadRecord {
        path: opts.record.display().to_string(),
        source,
    })?;
    let old = ProvisioningRecord::parse(&bytes)?;
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
    let session = hsm.open_session(slot)?;
    let mut quorum = QuorumLogin::new(&old, PinGroup::UserPin)?;
    let mut result = Ok(());
    for path in &opts.share_files {
        let shown = path.display().to_string();
        let offered = read_typed(path).and_then(|typed| {
            quorum.offer(&typed).map_err(|source| ResplitError::Share {
                path: shown.clone(),
                source,
            })
        });
        if let Err(e) = offered {
            result = Err(e);
            break;
        }
    }
    let mut events = EventSink::to_log(&opts.out_dir.join(provision::AUDIT_LOG_NAME))
        .map_err(|e| ProvisionError::AuditLog(e.to_string()))?;
    events.extend(quorum.take_events());
    result?;
    let logged_in = quorum.login_keeping_pin(&session, opts.policy);
    events.extend(quorum.take_events());
    let (_outcome, old_pin) = logged_in?;
    let token = hsm.token_identity(slot)?;
    if !provision::same_token(&token, &old.token) {
        return Err(ResplitError::OtherToken(old.token.serial.clone()));
    }
    let audit = audit_key::find(&session).map_err(ProvisionError::from)?;
    if audit != old.audit_key {
        return Err(ResplitError::AuditKeyChanged);
    }
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
        ..old.clone()
    };
    record.validate()?;
    let written = outputs::write_all(
        &opts.out_dir,
        &token,
        script.rehearsal,
        &outputs::handouts(&[&user]),
        &record,
        &mut events,
    )
    .map_err(ProvisionError::Outputs)?;
    events.healthy().map_err(ProvisionError::AuditLog)?;
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
    provision::verify_from_files(&session, &written, &user, PinGroup::UserPin)?;
    Ok(ProvisionOutcome {
        record,
        written,
        events: events.finish().map_err(ProvisionError::AuditLog)?,
    })
}

/// The user-PIN share in a custodian's file, as they would type it.
fn read_typed(path: &std::path::Path) -> Result<zeroize::Zeroizing<String>, ResplitError> {
    let shown = path.display().to_string();
    let fail = |source| ResplitError::ShareFile {
        path: shown.clone(),
        source,
    };
    let bytes =
        zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| fail(ShareFileError::Read(e)))?);
    let text = std::str::from_utf8(&bytes).map_err(|_| fail(ShareFileError::NotText))?;
    super::share_file::share_text_in(text, PinGroup::UserPin).map_err(fail)
}
