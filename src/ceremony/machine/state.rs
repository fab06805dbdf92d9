//! The ceremony's state: its phases, roles and configuration, the deviations recorded, and
//! why an event was refused.
use super::*;

/// The phases, in ceremony order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Opened,
    Preflight,
    Attendance,
    Quorum,
    KekLoad,
    KekConfirm,
    KeyGeneration,
    Wrap,
    Export,
    Verification,
    SignOff,
    Closed,
    Aborted,
}

impl Phase {
    /// The ordered steps people see (k of n in the UI).
    pub const STEPS: [Phase; 11] = [
        Phase::Preflight,
        Phase::Attendance,
        Phase::Quorum,
        Phase::KekLoad,
        Phase::KekConfirm,
        Phase::KeyGeneration,
        Phase::Wrap,
        Phase::Export,
        Phase::Verification,
        Phase::SignOff,
        Phase::Closed,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Phase::Opened => "Opened",
            Phase::Preflight => "Preflight checks",
            Phase::Attendance => "Attendance",
            Phase::Quorum => "Quorum: custodian shares",
            Phase::KekLoad => "Load the KEK",
            Phase::KekConfirm => "Confirm the KEK fingerprint",
            Phase::KeyGeneration => "Generate the key",
            Phase::Wrap => "Wrap the key",
            Phase::Export => "Export to media",
            Phase::Verification => "Verify the media",
            Phase::SignOff => "Sign-off",
            Phase::Closed => "Closed",
            Phase::Aborted => "Aborted",
        }
    }

    /// 1-based step number, for "step k of n".
    pub fn step_number(self) -> Option<usize> {
        Phase::STEPS.iter().position(|p| *p == self).map(|i| i + 1)
    }
}

/// The roles of a ceremony.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Administrator,
    Custodian,
    Witness,
    Auditor,
    /// The tool itself (HSM results, files written).
    System,
}

/// How the HSM is unlocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum QuorumMode {
    /// The user PIN is split among the custodians; `threshold` shares rebuild it.
    SplitPin { threshold: u8 },
    /// The HSM enforces its own M of N (PED keys, card sets); the tool only records it.
    HsmNative { threshold: u8, total: u8 },
}

/// What the machine needs to know from the script; pinned in the genesis entry so that a
/// replay needs nothing but the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineConfig {
    pub ceremony_id: String,
    pub administrator: String,
    pub witness: String,
    pub auditor: Option<String>,
    pub custodians: Vec<String>,
    pub quorum: QuorumMode,
    /// Lowercase hex of the KEK fingerprint the script expects, if it names one.
    pub expected_kek_fingerprint: Option<String>,
    /// Destroy the target in the HSM after export.
    pub destroy_after_export: bool,
    /// The script accepts a token whose wrap zero-pads the key (rehearsal-grade output) in a
    /// production ceremony. Absent in older logs: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_zero_padding: bool,
    /// The key is made with CKA_WRAP_WITH_TRUSTED and wrapped only by the trusted KEK: only the
    /// native mechanism can. Absent in older logs: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wrap_with_trusted: bool,
    /// The clouds the key is wrapped for, in order, when the script lists `[[targets]]`. Empty
    /// (and absent from the log) for a script with one Azure `[kek]`: then the events name no
    /// target, and `expected_kek_fingerprint` is the Azure KEK's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetConfig>,
}

impl MachineConfig {
    /// The clouds, in order: a `[kek]` script's one Azure target included.
    pub fn target_list(&self) -> Vec<TargetConfig> {
        if self.targets.is_empty() {
            vec![TargetConfig {
                cloud: Cloud::Azure,
                algorithm: "CKM_RSA_AES_KEY_WRAP".into(),
                oaep_hash: OaepHash::Sha1,
                resource: None,
                expected_kek_fingerprint: self.expected_kek_fingerprint.clone(),
            }]
        } else {
            self.targets.clone()
        }
    }

    /// How an event names `cloud`: not at all in a `[kek]` script's log.
    pub fn event_target(&self, cloud: Cloud) -> Option<Cloud> {
        (!self.targets.is_empty()).then_some(cloud)
    }

    pub(super) fn threshold(&self) -> usize {
        match self.quorum {
            QuorumMode::SplitPin { threshold } | QuorumMode::HsmNative { threshold, .. } => {
                usize::from(threshold)
            }
        }
    }

    pub(super) fn role_of(&self, name: &str) -> Option<Role> {
        if name == self.administrator {
            Some(Role::Administrator)
        } else if name == self.witness {
            Some(Role::Witness)
        } else if self.auditor.as_deref() == Some(name) {
            Some(Role::Auditor)
        } else if self.custodians.iter().any(|c| c == name) {
            Some(Role::Custodian)
        } else {
            None
        }
    }
}

/// A deviation from the script, and whether the witness has acknowledged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deviation {
    pub phase: Phase,
    pub by: String,
    pub text: String,
    pub acknowledged_by: Option<String>,
    /// The failed station checks this deviation lets the ceremony go on despite (those no
    /// earlier deviation waived, when it was recorded at attendance); empty for any other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waives: Vec<String>,
}

impl Deviation {
    /// The deviation's text, with the failed station checks it lets the ceremony go on despite.
    pub fn described(&self) -> String {
        if self.waives.is_empty() {
            self.text.clone()
        } else {
            format!(
                "{} (waives the failed station checks: {})",
                self.text,
                self.waives.join(", ")
            )
        }
    }
}

/// The whole ceremony state; derived only from events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub phase: Phase,
    pub config: Option<MachineConfig>,
    pub rehearsal: bool,
    pub present: BTreeSet<String>,
    pub shares_from: BTreeSet<String>,
    pub share_indices: BTreeSet<u8>,
    pub logged_in: bool,
    pub kek_fingerprint: Option<String>,
    pub kek_confirmed_by: BTreeSet<String>,
    /// The KEKs every custodian present has confirmed, one per target in the script's order:
    /// the next KEK loaded is the next target's.
    #[serde(default)]
    pub keks_confirmed: Vec<String>,
    /// The wrap path this run's known-answer tests proved for each target (cleared when a run
    /// resumes). The Azure-only `wrap_method` below is the first target's.
    #[serde(default)]
    pub wrap_methods: BTreeMap<Cloud, WrapMethod>,
    /// The targets wrapped so far, with the SHA-256 of their output.
    #[serde(default)]
    pub wrapped: BTreeMap<Cloud, String>,
    /// The wrap path this run's known-answer test proved (cleared when a run resumes: the test
    /// is repeated by the process that wraps).
    pub wrap_method: Option<WrapMethod>,
    pub key_label: Option<String>,
    pub key_id_hex: Option<String>,
    pub key_destroyed: bool,
    pub byok_sha256: Option<String>,
    pub exported: Vec<FileRecord>,
    pub verified: bool,
    pub signed_off_by: BTreeSet<String>,
    pub deviations: Vec<Deviation>,
    pub failures: Vec<String>,
    pub checkpoints: Vec<Phase>,
    /// After a crash: where to continue once the custodians have logged in again.
    pub resume_to: Option<Phase>,
    /// The end (close, or an abort after the HSM was used) must carry a checkpoint signed in
    /// the HSM. Set when the ceremony ends; a restart after a crash before that signature
    /// asks the quorum to log in once more for it.
    #[serde(default)]
    pub end_signature_due: bool,
    /// A production ceremony's failed station checks, open until a deviation the witness
    /// acknowledged waives them; attendance does not close before.
    #[serde(default)]
    pub station_failures: Vec<Check>,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// Why an event was refused: the rule it would break, in words for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused in phase \"{phase}\": {rule}", phase = .phase.title())]
pub struct Refusal {
    pub phase: Phase,
    pub rule: String,
}

impl State {
    pub fn new() -> Self {
        State {
            phase: Phase::Opened,
            config: None,
            rehearsal: false,
            present: BTreeSet::new(),
            shares_from: BTreeSet::new(),
            share_indices: BTreeSet::new(),
            logged_in: false,
            kek_fingerprint: None,
            kek_confirmed_by: BTreeSet::new(),
            keks_confirmed: Vec::new(),
            wrap_methods: BTreeMap::new(),
            wrapped: BTreeMap::new(),
            wrap_method: None,
            key_label: None,
            key_id_hex: None,
            key_destroyed: false,
            byok_sha256: None,
            exported: Vec::new(),
            verified: false,
            signed_off_by: BTreeSet::new(),
            deviations: Vec::new(),
            failures: Vec::new(),
            checkpoints: Vec::new(),
            resume_to: None,
            end_signature_due: false,
            station_failures: Vec::new(),
        }
    }

    /// The targets, in order (empty before the ceremony opened).
    pub fn targets(&self) -> Vec<TargetConfig> {
        self.config
            .as_ref()
            .map(MachineConfig::target_list)
            .unwrap_or_default()
    }

    /// The target whose KEK is loaded or confirmed next.
    pub fn kek_target(&self) -> Option<TargetConfig> {
        self.targets().into_iter().nth(self.keks_confirmed.len())
    }

    /// The first target whose wrap path is not proven yet in this run.
    pub fn untested_target(&self) -> Option<TargetConfig> {
        self.targets()
            .into_iter()
            .find(|t| !self.wrap_methods.contains_key(&t.cloud))
    }

    /// The first target not wrapped yet.
    pub fn unwrapped_target(&self) -> Option<TargetConfig> {
        self.targets()
            .into_iter()
            .find(|t| !self.wrapped.contains_key(&t.cloud))
    }

    /// True once nothing more may happen.
    pub fn is_final(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::Aborted)
    }

    /// Custodians present: the people who must confirm the KEK and sign off.
    pub fn custodians_present(&self) -> Vec<String> {
        match &self.config {
            Some(c) => c
                .custodians
                .iter()
                .filter(|n| self.present.contains(*n))
                .cloned()
                .collect(),
            None => Vec::new(),
        }
    }

    /// How many custodians are present: `custodians_present().len()` without the copies.
    pub(super) fn custodians_present_count(&self) -> usize {
        self.config.as_ref().map_or(0, |c| {
            c.custodians
                .iter()
                .filter(|n| self.present.contains(*n))
                .count()
        })
    }

    /// `custodians_present().contains(name)` without the copies.
    pub(super) fn is_custodian_present(&self, name: &str) -> bool {
        self.present.contains(name)
            && self
                .config
                .as_ref()
                .is_some_and(|c| c.custodians.iter().any(|n| n == name))
    }

    /// The run made a key that is still in the HSM.
    pub fn key_pending_destroy(&self) -> bool {
        self.key_id_hex.is_some() && !self.key_destroyed
    }

    /// Over, but not yet complete: the key an abort left must still be destroyed, or the end's
    /// checkpoint is not signed (a crash came first). Says what is left, in words for people.
    pub fn end_left_undone(&self) -> Option<&'static str> {
        if !self.is_final() {
            return None;
        }
        if self.phase == Phase::Aborted && self.key_pending_destroy() {
            Some("the key this run made is still in the HSM and must be destroyed")
        } else if self.end_signature_due && !self.checkpoints.contains(&self.phase) {
            Some("the closing checkpoint is not signed")
        } else {
            None
        }
    }

    /// Over but incomplete, and the quorum is not logged in: it logs in once more to finish
    /// the end (destroy the key, sign the checkpoint), and only for that.
    pub fn awaits_final_login(&self) -> bool {
        self.end_left_undone().is_some() && !self.logged_in
    }

    /// The names of the failed station checks no acknowledged deviation waives yet: the
    /// attendance gate waits for them.
    pub fn open_station_failures(&self) -> Vec<&str> {
        self.unwaived(|d| d.acknowledged_by.is_some())
    }

    /// The failed station checks no deviation (acknowledged or not) waives yet: what the next
    /// deviation recorded at attendance waives.
    pub(super) fn station_failures_to_waive(&self) -> Vec<String> {
        self.unwaived(|_| true)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn unwaived(&self, counts: impl Fn(&Deviation) -> bool) -> Vec<&str> {
        self.station_failures
            .iter()
            .map(|c| c.name.as_str())
            .filter(|name| {
                !self
                    .deviations
                    .iter()
                    .any(|d| counts(d) && d.waives.iter().any(|w| w == name))
            })
            .collect()
    }

    /// Deviations the witness has not yet acknowledged (they block every gate).
    pub fn unacknowledged_deviations(&self) -> usize {
        self.deviations
            .iter()
            .filter(|d| d.acknowledged_by.is_none())
            .count()
    }
}
