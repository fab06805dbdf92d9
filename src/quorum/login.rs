//! Quorum login: custodians present their shares one at a time; each is checked at once;
//! the PIN is rebuilt only when M valid shares are present, used for one C_Login, and wiped.
//!
//! Each share is checked, in this order: it reads as a share (checksum: typos), it is for this
//! PIN (user or SO), it is of this record's split (not an older split, not another token's),
//! its index is in the record with the same M and N, it was not presented already, and its
//! salted commitment matches the custodian recorded for that index — which names the
//! custodian. Only then is it kept.
//!
//! Before the token is asked, its PIN flags are read: a locked PIN stops the login, and so
//! does CKF_*_PIN_FINAL_TRY unless the caller explicitly allows the last try (the TUI asks for
//! a typed confirmation). The PIN's own check value (see `split`) means a wrong set of shares
//! never reaches the token.
//!
//! HSM-native quorum: a token with CKF_PROTECTED_AUTHENTICATION_PATH (Luna PED, nShield card
//! sets) takes its PIN or cards on its own device; `login_protected` calls C_Login without a
//! PIN and the custodians present their keys or cards at the HSM. Software tokens have no such
//! path, so this branch is not exercised by the test suite.
use cryptoki::session::UserType;

use super::events::{LoginMethod, PresentOutcome, QuorumEvent, RejectReason};
use super::pin::PinSecret;
use super::record::{GroupRecord, ProvisioningRecord};
use super::share::{PinGroup, Share, ShareError, SplitId};
use super::split::{self, SplitError};
use crate::hsm::{HsmError, HsmSession};

/// Why a share was refused or the login did not happen. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the provisioning record has no {0} split; this token's {0} is not held by custodians")]
    NoGroup(PinGroup),
    #[error("share not accepted: {0}")]
    Share(#[from] ShareError),
    #[error(
        "this is a share of the {got}, but the {want} is being entered; present the other share"
    )]
    WrongGroup { got: PinGroup, want: PinGroup },
    #[error(
        "this share belongs to split {got}, but this token's {group} is split {want}: it is from an older split (replaced by a re-split) or from another token; bring the share of split {want}"
    )]
    WrongSplit {
        group: PinGroup,
        got: SplitId,
        want: SplitId,
    },
    #[error("share number {index} ({custodian}) was already presented; the next custodian, please")]
    Duplicate { index: u8, custodian: String },
    #[error(
        "share number {index} is not in the provisioning record, or its M/N differ from it; it is corrupt or forged"
    )]
    NotInRecord { index: u8 },
    #[error(
        "share number {index} is well-formed but is not the share recorded for {custodian}: it was mistyped in several places, or altered; {custodian} should re-enter it carefully"
    )]
    CommitmentMismatch { index: u8, custodian: String },
    #[error(
        "the share belongs to {owner}, not {presenter}: each custodian presents their own. It was not kept; the shares already accepted are kept: {presenter}, present your own share"
    )]
    WrongOwner { owner: String, presenter: String },
    #[error("{0} shares are already present; no more are needed")]
    AlreadyComplete(usize),
    #[error("{have} of {need} shares are present; {missing} more custodian(s) must present theirs", missing = need - have)]
    NotEnough { have: usize, need: usize },
    #[error("the PIN could not be rebuilt: {0}")]
    Rebuild(#[from] SplitError),
    #[error(
        "the provisioning record is for the token with serial {record}, but this token's serial is {token}; select the right token or bring its record"
    )]
    WrongToken { record: String, token: String },
    #[error(
        "the token's {0} is LOCKED; no login was attempted. Only the security officer can unlock it (C_InitPIN), or the token must be re-initialised"
    )]
    Locked(PinGroup),
    #[error(
        "the token reports that the next wrong {0} locks it (final try); no login was attempted. Check that these shares belong to the current split, then confirm the final try explicitly"
    )]
    FinalTry(PinGroup),
    #[error("the token could not be asked: {0}")]
    Hsm(#[from] HsmError),
    #[error(
        "the token refused the rebuilt {group} ({source}); the shares are consistent, so the token's PIN was changed after this record was written (a re-split?): use the current record and shares"
    )]
    Refused {
        group: PinGroup,
        source: cryptoki::error::Error,
    },
    #[error(
        "the HSM refused the login through its protected authentication path ({0}); the custodians' keys or cards were not accepted"
    )]
    ProtectedRefused(cryptoki::error::Error),
    #[error(
        "this token has no protected authentication path (PED, card reader); log in with custodian shares instead"
    )]
    NoProtectedPath,
}

/// How careful to be before a login attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Attempt the login even when the token says it is the final try (the operator confirmed).
    pub allow_final_try: bool,
}

/// A share that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub custodian: String,
    pub share_index: u8,
    /// Shares now present.
    pub present: usize,
    /// M.
    pub needed: usize,
}

/// The token's PIN flags for one PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinFlags {
    pub count_low: bool,
    pub final_try: bool,
    pub locked: bool,
}

/// What a successful login reports besides its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    pub group: PinGroup,
    /// Warnings to show (a wrong PIN was entered since the last good login, ...).
    pub warnings: Vec<String>,
}

/// Who logs in with the PIN of `group`.
pub(crate) fn user_type(group: PinGroup) -> UserType {
    match group {
        PinGroup::UserPin => UserType::User,
        PinGroup::SoPin => UserType::So,
    }
}

/// Reads the token's flags for `group`'s PIN.
pub fn read_pin_flags(session: &HsmSession<'_>, group: PinGroup) -> Result<PinFlags, HsmError> {
    let info = session
        .hsm()
        .context()
        .get_token_info(session.slot())
        .map_err(|source| HsmError::Pkcs11 {
            action: "describe the token",
            source,
        })?;
    Ok(match group {
        PinGroup::UserPin => PinFlags {
            count_low: info.user_pin_count_low(),
            final_try: info.user_pin_final_try(),
            locked: info.user_pin_locked(),
        },
        PinGroup::SoPin => PinFlags {
            count_low: info.so_pin_count_low(),
            final_try: info.so_pin_final_try(),
            locked: info.so_pin_locked(),
        },
    })
}

/// Reads the flags, records them, and refuses to go on when a try would be unsafe. Returns
/// the warnings for a low count.
fn guard(
    session: &HsmSession<'_>,
    group: PinGroup,
    policy: LoginPolicy,
    events: &mut Vec<QuorumEvent>,
) -> Result<Vec<String>, LoginError> {
    let flags = read_pin_flags(session, group)?;
    events.push(QuorumEvent::PinFlagsRead {
        group,
        count_low: flags.count_low,
        final_try: flags.final_try,
        locked: flags.locked,
    });
    let withheld = if flags.locked {
        Some(LoginError::Locked(group))
    } else if flags.final_try && !policy.allow_final_try {
        Some(LoginError::FinalTry(group))
    } else {
        None
    };
    if let Some(e) = withheld {
        events.push(QuorumEvent::LoginWithheld {
            group,
            reason: e.to_string(),
        });
        return Err(e);
    }
    let mut warnings = Vec::new();
    if flags.count_low {
        warnings.push(format!(
            "the token reports a wrong {group} was entered since the last successful login (CKF_{}_PIN_COUNT_LOW); find out why",
            match group {
                PinGroup::UserPin => "USER",
                PinGroup::SoPin => "SO",
            }
        ));
    }
    if flags.final_try {
        warnings.push(format!(
            "the {group} was on its final try; the operator allowed it"
        ));
    }
    Ok(warnings)
}

/// Collects shares for one PIN of one provisioning record, then logs in.
#[derive(Debug)]
pub struct QuorumLogin<'r> {
    record: &'r ProvisioningRecord,
    group: PinGroup,
    split: &'r GroupRecord,
    accepted: Vec<Share>,
    events: Vec<QuorumEvent>,
}

impl<'r> QuorumLogin<'r> {
    pub fn new(record: &'r ProvisioningRecord, group: PinGroup) -> Result<Self, LoginError> {
        let split = record.group(group).ok_or(LoginError::NoGroup(group))?;
        Ok(QuorumLogin {
            record,
            group,
            split,
            accepted: Vec::new(),
            events: Vec::new(),
        })
    }

    /// M.
    pub fn needed(&self) -> usize {
        usize::from(self.split.threshold)
    }

    /// Shares accepted so far.
    pub fn present(&self) -> usize {
        self.accepted.len()
    }

    /// Whether M valid shares are present.
    pub fn ready(&self) -> bool {
        self.present() >= self.needed()
    }

    /// The names of the custodians whose shares were accepted.
    pub fn presented_by(&self) -> Vec<String> {
        self.accepted
            .iter()
            .filter_map(|s| self.split.custodian(s.index).map(|c| c.name.clone()))
            .collect()
    }

    /// The audit events so far; the caller appends them to the log.
    pub fn take_events(&mut self) -> Vec<QuorumEvent> {
        std::mem::take(&mut self.events)
    }

    /// Checks one typed share at once and keeps it if it is valid.
    pub fn offer(&mut self, typed: &str) -> Result<Accepted, LoginError> {
        self.offer_as(None, typed)
    }

    /// `offer`, for a share presented by `presenter`: a valid share recorded for someone else is
    /// refused and not kept, and the shares already accepted stay.
    pub fn offer_as(
        &mut self,
        presenter: Option<&str>,
        typed: &str,
    ) -> Result<Accepted, LoginError> {
        let (result, index, custodian, checked) = self.check(presenter, typed);
        let outcome = match &result {
            Ok(_) => PresentOutcome::Accepted,
            Err(e) => PresentOutcome::Rejected(reason(e)),
        };
        self.events.push(QuorumEvent::SharePresented {
            group: self.group,
            expected_split_id: self.split.split_id,
            custodian: custodian.clone(),
            share_index: index,
            commitment_checked: checked,
            outcome,
        });
        let share = result?;
        self.accepted.push(share);
        Ok(Accepted {
            custodian: custodian.unwrap_or_default(),
            share_index: index.unwrap_or_default(),
            present: self.present(),
            needed: self.needed(),
        })
    }

    #[allow(clippy::type_complexity)]
    fn check(
        &self,
        presenter: Option<&str>,
        typed: &str,
    ) -> (Result<Share, LoginError>, Option<u8>, Option<String>, bool) {
        if self.ready() {
            return (
                Err(LoginError::AlreadyComplete(self.present())),
                None,
                None,
                false,
            );
        }
        let share = match Share::parse(typed) {
            Ok(s) => s,
            Err(e) => return (Err(e.into()), None, None, false),
        };
        let index = Some(share.index);
        if share.group != self.group {
            let e = LoginError::WrongGroup {
                got: share.group,
                want: self.group,
            };
            return (Err(e), index, None, false);
        }
        if share.split_id != self.split.split_id {
            let e = LoginError::WrongSplit {
                group: self.group,
                got: share.split_id,
                want: self.split.split_id,
            };
            return (Err(e), index, None, false);
        }
        let entry = match self.split.custodian(share.index) {
            Some(c)
                if (share.threshold, share.shares) == (self.split.threshold, self.split.shares) =>
            {
                c
            }
            _ => {
                return (
                    Err(LoginError::NotInRecord { index: share.index }),
                    index,
                    None,
                    false,
                );
            }
        };
        if self.accepted.iter().any(|s| s.index == share.index) {
            let e = LoginError::Duplicate {
                index: share.index,
                custodian: entry.name.clone(),
            };
            return (Err(e), index, Some(entry.name.clone()), false);
        }
        if !entry.holds(&share) {
            let e = LoginError::CommitmentMismatch {
                index: share.index,
                custodian: entry.name.clone(),
            };
            return (Err(e), index, None, true);
        }
        if let Some(p) = presenter.filter(|p| *p != entry.name) {
            let e = LoginError::WrongOwner {
                owner: entry.name.clone(),
                presenter: p.to_owned(),
            };
            return (Err(e), index, Some(entry.name.clone()), true);
        }
        (Ok(share), index, Some(entry.name.clone()), true)
    }

    /// Rebuilds the PIN from the M accepted shares, then wipes the shares.
    pub fn rebuild(&mut self) -> Result<PinSecret, LoginError> {
        let result = if self.ready() {
            split::combine_pin(&self.accepted).map_err(LoginError::from)
        } else {
            Err(LoginError::NotEnough {
                have: self.present(),
                need: self.needed(),
            })
        };
        let indices: Vec<u8> = self.accepted.iter().map(|s| s.index).collect();
        self.events.push(match &result {
            Ok(_) => QuorumEvent::PinRebuilt {
                group: self.group,
                split_id: self.split.split_id,
                share_indices: indices,
            },
            Err(e) => QuorumEvent::PinRebuildFailed {
                group: self.group,
                split_id: self.split.split_id,
                reason: e.to_string(),
            },
        });
        self.wipe();
        result
    }

    fn wipe(&mut self) {
        let shares = self.accepted.len();
        // Dropping a Share zeroizes its value.
        self.accepted.clear();
        self.events.push(QuorumEvent::SecretsWiped {
            group: self.group,
            shares,
        });
    }

    /// Checks the token and its PIN flags, rebuilds the PIN, logs in, and wipes everything.
    pub fn login(
        &mut self,
        session: &HsmSession<'_>,
        policy: LoginPolicy,
    ) -> Result<LoginOutcome, LoginError> {
        self.login_keeping_pin(session, policy).map(|(o, _pin)| o)
    }

    /// As `login`, but hands the rebuilt PIN back (zeroizing) for C_SetPIN in a re-split.
    pub(crate) fn login_keeping_pin(
        &mut self,
        session: &HsmSession<'_>,
        policy: LoginPolicy,
    ) -> Result<(LoginOutcome, PinSecret), LoginError> {
        if !self.ready() {
            // Nothing to rebuild; the shares stay so the remaining custodians can go on.
            return Err(LoginError::NotEnough {
                have: self.present(),
                need: self.needed(),
            });
        }
        let checked = self
            .check_token(session)
            .and_then(|()| guard(session, self.group, policy, &mut self.events));
        let warnings = match checked {
            Ok(w) => w,
            Err(e) => {
                self.wipe();
                return Err(e);
            }
        };
        let pin = self.rebuild()?;
        let result = session
            .session()
            .login(user_type(self.group), Some(&pin.auth_pin()));
        self.events.push(QuorumEvent::LoginAttempted {
            group: self.group,
            method: LoginMethod::QuorumPin,
            succeeded: result.is_ok(),
            error: result.as_ref().err().map(ToString::to_string),
        });
        result.map_err(|source| LoginError::Refused {
            group: self.group,
            source,
        })?;
        Ok((
            LoginOutcome {
                group: self.group,
                warnings,
            },
            pin,
        ))
    }

    fn check_token(&self, session: &HsmSession<'_>) -> Result<(), LoginError> {
        let id = session.hsm().token_identity(session.slot())?;
        if id.serial != self.record.token.serial {
            return Err(LoginError::WrongToken {
                record: self.record.token.serial.clone(),
                token: id.serial,
            });
        }
        Ok(())
    }
}

fn reason(e: &LoginError) -> RejectReason {
    match e {
        LoginError::WrongGroup { .. } => RejectReason::WrongPin,
        LoginError::WrongSplit { .. } => RejectReason::WrongSplit,
        LoginError::Duplicate { .. } => RejectReason::Duplicate,
        LoginError::NotInRecord { .. } => RejectReason::NotInRecord,
        LoginError::CommitmentMismatch { .. } => RejectReason::CommitmentMismatch,
        LoginError::AlreadyComplete(_) => RejectReason::AlreadyComplete,
        LoginError::WrongOwner { .. } => RejectReason::WrongOwner,
        _ => RejectReason::Mistyped,
    }
}

/// HSM-native quorum: log in through the token's protected authentication path (PED keys,
/// card sets); the custodians present their keys or cards at the HSM, which enforces its own
/// M of N. No PIN passes through byok-ceremony. Untestable on software tokens.
pub fn login_protected(
    session: &HsmSession<'_>,
    group: PinGroup,
    policy: LoginPolicy,
) -> Result<(LoginOutcome, Vec<QuorumEvent>), LoginError> {
    let mut events = Vec::new();
    let id = session.hsm().token_identity(session.slot())?;
    if !id.protected_authentication_path {
        return Err(LoginError::NoProtectedPath);
    }
    let warnings = guard(session, group, policy, &mut events)?;
    let result = session.session().login(user_type(group), None);
    events.push(QuorumEvent::LoginAttempted {
        group,
        method: LoginMethod::ProtectedAuthenticationPath,
        succeeded: result.is_ok(),
        error: result.as_ref().err().map(ToString::to_string),
    });
    result.map_err(LoginError::ProtectedRefused)?;
    Ok((LoginOutcome { group, warnings }, events))
}
