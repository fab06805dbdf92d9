//! What a report shows, gathered from a verified log in one streaming pass (the machine is
//! replayed again to know the phase of every entry). Lists that a hostile log could make
//! long are capped; the report says how many were left out.
use std::path::Path;

use crate::audit::log::{LogError, stream};
use crate::audit::verify::utc::Utc;
use crate::ceremony::machine::{self, Check, Event, FileRecord, MachineConfig, Phase, Role, State};
use crate::hsm_types::key::KeyAttributes;
use crate::hsm_types::token::TokenIdentity;
use crate::hsm_types::wrap::WrapMethod;

/// At most this many phase spans and exceptions are kept for the report.
pub const MAX_LISTED: usize = 500;

#[derive(Debug, Clone)]
pub struct Opened {
    pub config: MachineConfig,
    pub script_sha256: String,
    pub tool_version: String,
    pub binary_sha256: String,
    pub host: String,
    pub os: String,
    pub hsm: TokenIdentity,
    pub hsm_module: String,
    pub hsm_library: String,
    pub rehearsal: bool,
    /// The script's purpose as logged (None in logs of earlier versions).
    pub purpose: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Person {
    pub name: String,
    pub role: Option<Role>,
    pub checked_in: Option<String>,
    pub share_index: Option<u8>,
    pub authenticated_at_hsm: bool,
    pub kek_confirmed: Option<String>,
    pub signed_off: Option<String>,
}

/// A stretch of time the ceremony spent in one phase.
#[derive(Debug, Clone)]
pub struct Span {
    pub phase: Phase,
    pub start: Utc,
    pub end: Utc,
    pub first_seq: u64,
}

/// Something that did not go to plan: a refused share, a failed step, a restart.
#[derive(Debug, Clone)]
pub struct Exception {
    pub seq: u64,
    pub utc: String,
    pub phase: Phase,
    pub what: String,
}

#[derive(Debug, Clone)]
pub struct Kek {
    pub kid: String,
    pub fingerprint_sha256: String,
    pub bits: usize,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Key {
    pub kty: String,
    pub key_size: Option<u32>,
    pub crv: Option<String>,
    pub attributes: KeyAttributes,
    pub public_key_pem: Option<String>,
    pub check_value: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Wrap {
    pub byok_sha256: String,
    pub method: WrapMethod,
    pub rehearsal_grade: bool,
    /// Hash of the entry that logged the wrap (the manifest's audit_log_head_sha256).
    pub entry_hash: String,
}

#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub seq: u64,
    pub gate: Phase,
    pub at: Utc,
}

/// Everything the report shows.
#[derive(Debug)]
pub struct Facts {
    pub opened: Opened,
    pub state: State,
    pub entries: u64,
    pub head: String,
    pub first: (String, Utc),
    pub last: (String, Utc),
    pub people: Vec<Person>,
    pub spans: Vec<Span>,
    pub spans_left_out: u64,
    pub checkpoints: Vec<Checkpoint>,
    pub exceptions: Vec<Exception>,
    pub exceptions_left_out: u64,
    pub preflight: Vec<Check>,
    /// The Azure KEK of a single-cloud ceremony (a ceremony with several lists them in
    /// `clouds`).
    pub kek: Option<Kek>,
    pub key: Option<Key>,
    pub wrap: Option<Wrap>,
    /// A ceremony whose script listed `[[targets]]`: each cloud's KEK and wrapped key, in order.
    pub clouds: Vec<CloudLine>,
    pub exported: Vec<FileRecord>,
    pub key_destroyed: Option<String>,
}

/// One cloud of a ceremony with several.
#[derive(Debug, Clone)]
pub struct CloudLine {
    pub cloud: crate::cloud::Cloud,
    /// Azure: the KEK's kid; Google Cloud: the import job; AWS: the key.
    pub destination: String,
    pub algorithm: String,
    pub kek_fingerprint_sha256: String,
    pub kek_bits: usize,
    /// Once wrapped: the file it is exported as, and its SHA-256.
    pub file: Option<String>,
    pub sha256: Option<String>,
}

impl CloudLine {
    /// "DESTINATION (ALGORITHM, RSA N wrapping key), wrapped as FILE", for the summary.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, RSA {} wrapping key){}",
            self.destination,
            self.algorithm,
            self.kek_bits,
            self.file
                .as_ref()
                .map_or(String::new(), |file| format!(", wrapped as {file}"))
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{0}")]
    Log(#[from] LogError),
    #[error(
        "the log does not start with the ceremony's opening entry; run `byok-ceremony audit verify` on it"
    )]
    NotOpened,
    #[error(
        "entry seq {0} has a time the report cannot read; run `byok-ceremony audit verify` on it"
    )]
    Time(u64),
}

/// Gathers the facts; the log must have verified first.
pub fn gather(path: &Path) -> Result<Facts, DataError> {
    let mut g = Gatherer::default();
    let mut bad_time = None;
    stream(path, |_, entry| {
        match Utc::parse(&entry.utc) {
            Some(t) => g.observe(&entry.event, entry.seq, &entry.utc, t, &entry.hash),
            None => bad_time = bad_time.or(Some(entry.seq)),
        }
        Ok(())
    })?;
    if let Some(seq) = bad_time {
        return Err(DataError::Time(seq));
    }
    g.finish()
}

#[derive(Default)]
struct Gatherer {
    opened: Option<Opened>,
    state: State,
    entries: u64,
    head: String,
    first: Option<(String, Utc)>,
    last: Option<(String, Utc)>,
    people: Vec<Person>,
    spans: Vec<Span>,
    spans_left_out: u64,
    checkpoints: Vec<Checkpoint>,
    exceptions: Vec<Exception>,
    exceptions_left_out: u64,
    preflight: Vec<Check>,
    /// KEK, key and wrap: the same facts the ceremony's outputs are made of.
    outputs: crate::ceremony::facts::Facts,
    exported: Vec<FileRecord>,
    key_destroyed: Option<String>,
}

impl Gatherer {
    fn observe(&mut self, event: &Event, seq: u64, utc: &str, t: Utc, hash: &str) {
        let phase_before = self.state.phase;
        self.record(event, seq, utc, t, phase_before);
        self.outputs.observe(event, hash);
        // The log verified: the machine accepts every event; keep the state as it was if not.
        if let Ok((next, _)) = machine::step(&self.state, event) {
            self.state = next;
        }
        self.entries += 1;
        self.head = hash.to_owned();
        self.first.get_or_insert_with(|| (utc.to_owned(), t));
        self.last = Some((utc.to_owned(), t));
        let phase = self.state.phase;
        match self.spans.last_mut() {
            Some(span) if span.phase == phase => span.end = t,
            Some(span) => {
                span.end = t;
                self.push_span(phase, t, seq);
            }
            None => self.push_span(phase, t, seq),
        }
    }

    fn push_span(&mut self, phase: Phase, t: Utc, seq: u64) {
        if self.spans.len() < MAX_LISTED {
            self.spans.push(Span {
                phase,
                start: t,
                end: t,
                first_seq: seq,
            });
        } else {
            self.spans_left_out += 1;
        }
    }

    fn exception(&mut self, seq: u64, utc: &str, phase: Phase, what: String) {
        if self.exceptions.len() < MAX_LISTED {
            self.exceptions.push(Exception {
                seq,
                utc: utc.to_owned(),
                phase,
                what,
            });
        } else {
            self.exceptions_left_out += 1;
        }
    }

    fn person(&mut self, name: &str) -> Option<&mut Person> {
        self.people.iter_mut().find(|p| p.name == name)
    }

    fn record(&mut self, event: &Event, seq: u64, utc: &str, t: Utc, phase: Phase) {
        let at = || utc.to_owned();
        match event {
            Event::CeremonyOpened {
                config,
                script_sha256,
                tool_version,
                binary_sha256,
                host,
                os,
                hsm,
                hsm_module,
                hsm_library,
                rehearsal,
                purpose,
            } => {
                let mut names = vec![
                    (&config.administrator, Role::Administrator),
                    (&config.witness, Role::Witness),
                ];
                names.extend(config.auditor.iter().map(|a| (a, Role::Auditor)));
                names.extend(config.custodians.iter().map(|c| (c, Role::Custodian)));
                self.people = names
                    .into_iter()
                    .map(|(name, role)| Person {
                        name: name.clone(),
                        role: Some(role),
                        ..Person::default()
                    })
                    .collect();
                self.opened = Some(Opened {
                    config: config.clone(),
                    script_sha256: script_sha256.clone(),
                    tool_version: tool_version.clone(),
                    binary_sha256: binary_sha256.clone(),
                    host: host.clone(),
                    os: os.clone(),
                    hsm: hsm.clone(),
                    hsm_module: hsm_module.clone(),
                    hsm_library: hsm_library.clone(),
                    rehearsal: *rehearsal,
                    purpose: purpose.clone(),
                });
            }
            Event::PreflightCompleted { checks } => {
                self.preflight = checks.clone();
                for c in checks.iter().filter(|c| !c.passed) {
                    let what = format!("preflight check \"{}\" failed: {}", c.name, c.detail);
                    self.exception(seq, utc, phase, what);
                }
            }
            Event::CheckedIn { name } => {
                if let Some(p) = self.person(name) {
                    p.checked_in = Some(at());
                }
            }
            Event::SharePresented {
                custodian,
                share_index,
                ..
            } => {
                if let Some(p) = self.person(custodian) {
                    p.share_index = Some(*share_index);
                }
            }
            Event::HsmAuthenticationPresented { custodian } => {
                if let Some(p) = self.person(custodian) {
                    p.authenticated_at_hsm = true;
                }
            }
            Event::ShareRejected { custodian, reason } => {
                self.exception(
                    seq,
                    utc,
                    phase,
                    format!("share of {custodian} refused: {reason}"),
                );
            }
            Event::LoginFailed { reason } => {
                self.exception(seq, utc, phase, format!("HSM login failed: {reason}"));
            }
            Event::KekConfirmed { custodian } => {
                if let Some(p) = self.person(custodian) {
                    p.kek_confirmed = Some(at());
                }
            }
            Event::KekRejected { custodian, reason } => {
                self.exception(
                    seq,
                    utc,
                    phase,
                    format!("KEK rejected by {custodian}: {reason}"),
                );
                for p in &mut self.people {
                    p.kek_confirmed = None;
                }
            }
            Event::Exported { files } => self.exported = files.clone(),
            Event::KeyDestroyed { .. } => self.key_destroyed = Some(at()),
            Event::SignedOff { name } => {
                if let Some(p) = self.person(name) {
                    p.signed_off = Some(at());
                }
            }
            Event::StepFailed { phase, reason } => {
                self.exception(seq, utc, *phase, format!("step failed: {reason}"));
            }
            Event::Aborted {
                by,
                reason,
                after_crash,
            } => {
                let crash = if *after_crash {
                    " after an interrupted run"
                } else {
                    ""
                };
                self.exception(seq, utc, phase, format!("aborted by {by}{crash}: {reason}"));
            }
            Event::Resumed { by } => {
                self.exception(
                    seq,
                    utc,
                    phase,
                    format!("resumed by {by} after an interrupted run"),
                );
            }
            Event::Checkpoint { gate, .. } => self.checkpoints.push(Checkpoint {
                seq,
                gate: *gate,
                at: t,
            }),
            // Deviations come from the replayed state; the rest only move the phase.
            _ => {}
        }
    }

    fn finish(self) -> Result<Facts, DataError> {
        let (Some(opened), Some(first), Some(last)) = (self.opened, self.first, self.last) else {
            return Err(DataError::NotOpened);
        };
        let o = self.outputs;
        let clouds: Vec<CloudLine> = opened
            .config
            .targets
            .iter()
            .filter_map(|t| {
                let f = o.targets.get(&t.cloud)?;
                Some(CloudLine {
                    cloud: t.cloud,
                    destination: f.kid.clone(),
                    algorithm: t.algorithm.clone(),
                    kek_fingerprint_sha256: f.kek_fingerprint.clone(),
                    kek_bits: f.kek_bits,
                    file: f.sha256.as_ref().map(|_| match t.cloud {
                        crate::cloud::Cloud::Azure => ".byok".to_owned(),
                        _ => f.file.clone().unwrap_or_default(),
                    }),
                    sha256: f.sha256.clone(),
                })
            })
            .collect();
        let kek = o
            .kid
            .zip(o.kek_fingerprint)
            .map(|(kid, fingerprint_sha256)| Kek {
                kid,
                fingerprint_sha256,
                bits: o.kek_bits,
                warnings: o.kek_warnings,
            })
            .filter(|_| opened.config.targets.is_empty());
        let key = o.attributes.map(|attributes| Key {
            kty: o.kty,
            key_size: o.key_size,
            crv: o.crv,
            attributes,
            public_key_pem: o.public_key_pem,
            check_value: o.check_value,
        });
        let wrap = match (o.byok_sha256, o.wrap_method, o.wrapped_entry_hash) {
            (Some(byok_sha256), Some(method), Some(entry_hash)) => Some(Wrap {
                byok_sha256,
                method,
                rehearsal_grade: o.rehearsal_grade,
                entry_hash,
            }),
            _ => None,
        };
        Ok(Facts {
            opened,
            state: self.state,
            entries: self.entries,
            head: self.head,
            first,
            last,
            people: self.people,
            spans: self.spans,
            spans_left_out: self.spans_left_out,
            checkpoints: self.checkpoints,
            exceptions: self.exceptions,
            exceptions_left_out: self.exceptions_left_out,
            preflight: self.preflight,
            kek,
            key,
            wrap,
            clouds,
            exported: self.exported,
            key_destroyed: self.key_destroyed,
        })
    }
}
