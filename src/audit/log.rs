//! The audit log file: JSON Lines of canonical JSON (RFC 8785), each entry chained to the one
//! before by SHA-256, each appended and flushed to the device before the effect it announces
//! runs.
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::time::rfc3339;
use crate::ceremony::machine::{Event, Role};

/// The `prev` of the first entry.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a log records: the ceremony machine's events, or provisioning's quorum events.
pub trait Logged: Serialize + serde::de::DeserializeOwned + Clone + std::fmt::Debug {
    /// The person who caused the event, if a person did.
    fn actor(&self) -> Option<&str>;
}

impl Logged for Event {
    fn actor(&self) -> Option<&str> {
        Event::actor(self)
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(deserialize = "E: serde::de::DeserializeOwned")
)]
pub struct Entry<E = Event> {
    pub seq: u64,
    /// Wall-clock time, UTC, RFC 3339.
    pub utc: String,
    /// Milliseconds since this process started: orders entries even if the wall clock jumps
    /// (it restarts from 0 after a crash; the `resumed` entry marks that).
    pub mono_ms: u64,
    pub actor: Option<String>,
    pub role: Option<Role>,
    /// True when the input came from an answers file rather than a person at the keyboard.
    pub scripted: bool,
    pub event: E,
    /// Hex SHA-256 of the previous entry (`GENESIS_PREV` for the first).
    pub prev: String,
    /// Hex SHA-256 of this entry's canonical JSON without the `hash` member.
    pub hash: String,
}

/// The hashed part of an entry: everything but `hash`.
#[derive(Serialize)]
struct Body<'a, E> {
    seq: u64,
    utc: &'a str,
    mono_ms: u64,
    actor: &'a Option<String>,
    role: &'a Option<Role>,
    scripted: bool,
    event: &'a E,
    prev: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(
        "could not write the log's copy {path}: {source}; the workstation's log holds every entry: check the medium, then restart to resume (the copy is completed from the workstation's log)"
    )]
    Copy {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} is a symbolic link; the tool never writes a log through one (it could point anywhere): remove the link, then try again"
    )]
    Symlink(PathBuf),
    #[error(
        "an audit log already exists at {0}; a ceremony never overwrites its log: resume or abort it, or choose another state directory"
    )]
    Exists(PathBuf),
    #[error(
        "could not write the audit log {path}: {source}; the ceremony stops here — check the disk, then restart to resume or abort"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not read the audit log {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit log line {line}: {problem}")]
    Corrupt { line: u64, problem: String },
    /// The last line has no end (the write was cut off); `complete_len` bytes before it form
    /// whole lines.
    #[error("audit log line {line}: the last line is incomplete (the write was cut off)")]
    Torn { line: u64, complete_len: u64 },
    #[error("could not encode an audit entry: {0}")]
    Encode(String),
}

impl<E: Logged> Entry<E> {
    /// Recomputes this entry's hash from its content.
    pub fn compute_hash(&self) -> Result<String, LogError> {
        let body = Body {
            seq: self.seq,
            utc: &self.utc,
            mono_ms: self.mono_ms,
            actor: &self.actor,
            role: &self.role,
            scripted: self.scripted,
            event: &self.event,
            prev: &self.prev,
        };
        let canonical = serde_jcs::to_vec(&body).map_err(|e| LogError::Encode(e.to_string()))?;
        Ok(hex::encode(Sha256::digest(canonical)))
    }

    /// The line as written: canonical JSON of the whole entry.
    pub fn to_line(&self) -> Result<Vec<u8>, LogError> {
        let mut line = serde_jcs::to_vec(self).map_err(|e| LogError::Encode(e.to_string()))?;
        line.push(b'\n');
        Ok(line)
    }
}

/// An open log being appended to.
#[derive(Debug)]
pub struct AuditLog<E = Event> {
    file: File,
    /// A second copy on the audit medium, appended and flushed in lockstep.
    mirror: Option<(File, PathBuf)>,
    path: PathBuf,
    next_seq: u64,
    head: String,
    started: Instant,
    _events: std::marker::PhantomData<E>,
}

/// O_NOFOLLOW for every open of a log or its copy.
const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// A log, or its copy on a medium, is never written through a symbolic link.
fn refuse_symlink(path: &Path) -> Result<(), LogError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(LogError::Symlink(path.to_owned())),
        _ => Ok(()),
    }
}

fn read_nofollow(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW)
        .open(path)?
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

impl<E: Logged> AuditLog<E> {
    /// Starts a new log; refuses to touch an existing one.
    pub fn create(path: &Path) -> Result<AuditLog<E>, LogError> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .custom_flags(NOFOLLOW)
            .open(path)
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::AlreadyExists {
                    LogError::Exists(path.to_owned())
                } else {
                    LogError::Write {
                        path: path.to_owned(),
                        source,
                    }
                }
            })?;
        // The directory entry must survive a power cut too.
        if let Some(dir) = path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|source| LogError::Write {
                    path: path.to_owned(),
                    source,
                })?;
        }
        Ok(AuditLog {
            file,
            mirror: None,
            path: path.to_owned(),
            next_seq: 0,
            head: GENESIS_PREV.to_owned(),
            started: Instant::now(),
            _events: std::marker::PhantomData,
        })
    }

    /// Reopens an existing log to continue it after a crash. Nothing is changed before the
    /// whole log has been verified: every complete line must be exactly the canonical form of
    /// its entry, and the chain (seq, prev, hash) must hold. Only then is a torn last line
    /// (power cut mid-write) cut off, at the byte offset where the complete lines end: its
    /// event never took effect, because effects run only after a complete append.
    pub fn reopen(path: &Path) -> Result<(AuditLog<E>, Vec<Entry<E>>), LogError> {
        refuse_symlink(path)?;
        let (entries, valid_len) = read_verified::<E>(path)?;
        let file = OpenOptions::new()
            .append(true)
            .custom_flags(NOFOLLOW)
            .open(path)
            .map_err(|source| LogError::Write {
                path: path.to_owned(),
                source,
            })?;
        if file
            .metadata()
            .map_err(|source| LogError::Read {
                path: path.to_owned(),
                source,
            })?
            .len()
            != valid_len
        {
            file.set_len(valid_len).map_err(|source| LogError::Write {
                path: path.to_owned(),
                source,
            })?;
        }
        let (next_seq, head) = entries.last().map_or((0, GENESIS_PREV.to_owned()), |e| {
            (e.seq + 1, e.hash.clone())
        });
        Ok((
            AuditLog {
                file,
                mirror: None,
                path: path.to_owned(),
                next_seq,
                head,
                started: Instant::now(),
                _events: std::marker::PhantomData,
            },
            entries,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Mirrors the log to `mirror` (on the audit medium) from now on. A new mirror receives
    /// everything so far; an existing one (a resumed run) must be a prefix of the log and is
    /// completed. Never touches a file that is not an earlier copy of this very log.
    pub fn mirror_to(&mut self, mirror: &Path) -> Result<(), LogError> {
        let write_err = |source| LogError::Write {
            path: mirror.to_owned(),
            source,
        };
        let log = std::fs::read(&self.path).map_err(|source| LogError::Read {
            path: self.path.clone(),
            source,
        })?;
        refuse_symlink(mirror)?;
        let existing = match read_nofollow(mirror) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(LogError::Read {
                    path: mirror.to_owned(),
                    source,
                });
            }
        };
        if !log.starts_with(&existing) {
            return Err(LogError::Exists(mirror.to_owned()));
        }
        // A new copy is created exclusively; an existing one (a resumed ceremony's) is appended
        // to. Neither open follows a link planted in between.
        let mut file = if existing.is_empty() && std::fs::symlink_metadata(mirror).is_err() {
            OpenOptions::new()
                .append(true)
                .create_new(true)
                .custom_flags(NOFOLLOW)
                .open(mirror)
        } else {
            OpenOptions::new()
                .append(true)
                .custom_flags(NOFOLLOW)
                .open(mirror)
        }
        .map_err(write_err)?;
        file.write_all(&log[existing.len()..]).map_err(write_err)?;
        file.sync_data().map_err(write_err)?;
        if let Some(dir) = mirror.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(write_err)?;
        }
        self.mirror = Some((file, mirror.to_owned()));
        Ok(())
    }

    /// Hash of the last entry.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// Number of entries written.
    pub fn len(&self) -> u64 {
        self.next_seq
    }

    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    /// Appends `event` and flushes it to the device before returning.
    pub fn append(
        &mut self,
        event: &E,
        role: Option<Role>,
        scripted: bool,
    ) -> Result<Entry<E>, LogError> {
        let mut entry = Entry {
            seq: self.next_seq,
            utc: rfc3339(SystemTime::now()),
            mono_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            actor: Logged::actor(event).map(str::to_owned),
            role,
            scripted,
            event: event.clone(),
            prev: self.head.clone(),
            hash: String::new(),
        };
        entry.hash = entry.compute_hash()?;
        let line = entry.to_line()?;
        let write_err = |source| LogError::Write {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&line).map_err(write_err)?;
        self.file.sync_data().map_err(write_err)?;
        // The workstation copy is the record: the chain advances as soon as it is durable,
        // whatever happens to the mirror.
        self.next_seq += 1;
        self.head = entry.hash.clone();
        if let Some((mirror, path)) = self.mirror.as_mut() {
            let mirrored = mirror.write_all(&line).and_then(|()| mirror.sync_data());
            if let Err(source) = mirrored {
                let path = path.clone();
                // Stop mirroring a failed medium; the caller stops the ceremony, and a resumed
                // run completes the mirror from the workstation copy.
                self.mirror = None;
                return Err(LogError::Copy { path, source });
            }
        }
        Ok(entry)
    }
}

/// Reads a ceremony log line by line, calling `each` with every parsed entry; constant
/// memory. Returns the number of bytes that form complete lines.
pub fn stream(
    path: &Path,
    each: impl FnMut(u64, Entry) -> Result<(), LogError>,
) -> Result<u64, LogError> {
    stream_of::<Event>(path, each)
}

/// As `stream`, for a log of any event type.
pub fn stream_of<E: Logged>(
    path: &Path,
    mut each: impl FnMut(u64, Entry<E>) -> Result<(), LogError>,
) -> Result<u64, LogError> {
    stream_lines_of(path, |number, _, entry| each(number, entry))
}

/// As `stream_of`, also handing over each line's bytes as written (without its newline).
fn stream_lines_of<E: Logged>(
    path: &Path,
    mut each: impl FnMut(u64, &[u8], Entry<E>) -> Result<(), LogError>,
) -> Result<u64, LogError> {
    let file = File::open(path).map_err(|source| LogError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::with_capacity(4096);
    let mut offset = 0u64;
    let mut number = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| LogError::Read {
                path: path.to_owned(),
                source,
            })?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            return Err(LogError::Torn {
                line: number,
                complete_len: offset,
            });
        }
        let raw = &line[..line.len() - 1];
        let entry: Entry<E> = serde_json::from_slice(raw).map_err(|e| LogError::Corrupt {
            line: number,
            problem: format!("not a valid entry: {e}"),
        })?;
        each(number, raw, entry)?;
        offset += n as u64;
    }
    Ok(offset)
}

/// Reads and verifies every complete entry (for resuming; small logs), changing nothing: each
/// line must be byte for byte its entry's canonical form, and the chain must hold. A torn final
/// line is tolerated (not returned), and the byte length of the complete lines is returned with
/// the entries: where the log is to be cut.
pub fn read_verified<E: Logged>(path: &Path) -> Result<(Vec<Entry<E>>, u64), LogError> {
    let mut entries: Vec<Entry<E>> = Vec::new();
    let result = stream_lines_of::<E>(path, |line, raw, entry| {
        let expected_prev = entries.last().map_or(GENESIS_PREV, |e| e.hash.as_str());
        let problem = if entry.to_line()?.strip_suffix(b"\n") != Some(raw) {
            Some("the line is not in the canonical form the tool writes (it was edited)".into())
        } else {
            link_problem(&entry, entries.len() as u64, expected_prev)?
        };
        if let Some(problem) = problem {
            return Err(LogError::Corrupt { line, problem });
        }
        entries.push(entry);
        Ok(())
    });
    let len = match result {
        Ok(len) => len,
        Err(LogError::Torn { complete_len, .. }) => complete_len,
        Err(e) => return Err(e),
    };
    Ok((entries, len))
}

/// What breaks the chain at `entry`, expected to be number `seq` after the entry whose hash is
/// `prev`: its seq, its link, or its own hash.
fn link_problem<E: Logged>(
    entry: &Entry<E>,
    seq: u64,
    prev: &str,
) -> Result<Option<String>, LogError> {
    Ok(if entry.seq != seq {
        Some(format!("seq {} where {seq} was expected", entry.seq))
    } else if entry.prev != prev {
        Some(format!(
            "entry seq {} does not chain to the one before",
            entry.seq
        ))
    } else if entry.compute_hash()? != entry.hash {
        Some(format!("entry seq {} was edited", entry.seq))
    } else {
        None
    })
}

/// Checks a log's hash chain (sequence, links, hashes) without interpreting its events, and
/// returns the number of entries and the head. Any event type; constant memory.
pub fn verify_chain<E: Logged>(path: &Path) -> Result<(u64, String), LogError> {
    let mut prev = GENESIS_PREV.to_owned();
    let mut count = 0u64;
    stream_of::<E>(path, |line, entry| {
        if let Some(problem) = link_problem(&entry, count, &prev)? {
            return Err(LogError::Corrupt { line, problem });
        }
        prev = entry.hash;
        count += 1;
        Ok(())
    })?;
    Ok((count, prev))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked_in(name: &str) -> Event {
        Event::CheckedIn { name: name.into() }
    }

    #[test]
    fn the_mirror_follows_the_log_and_a_resumed_run_completes_it() {
        let dir = tempfile::tempdir().expect("dir");
        let primary = dir.path().join("log.jsonl");
        let mirror = dir.path().join("mirror.jsonl");
        let mut log = AuditLog::<Event>::create(&primary).expect("create");
        log.append(&checked_in("a"), None, false).expect("append");
        log.mirror_to(&mirror).expect("mirror");
        log.append(&checked_in("b"), None, false).expect("append");
        assert_eq!(std::fs::read(&primary).ok(), std::fs::read(&mirror).ok());
        drop(log);
        // A crash: the mirror missed the last entry. Reopening completes it.
        let full = std::fs::read(&primary).expect("read");
        let first_line = full.iter().position(|b| *b == b'\n').expect("line") + 1;
        std::fs::write(&mirror, &full[..first_line]).expect("truncate mirror");
        let (mut log, entries) = AuditLog::<Event>::reopen(&primary).expect("reopen");
        assert_eq!(entries.len(), 2);
        log.mirror_to(&mirror).expect("complete the mirror");
        log.append(&checked_in("c"), None, false).expect("append");
        assert_eq!(std::fs::read(&primary).ok(), std::fs::read(&mirror).ok());
        assert_eq!(verify_chain::<Event>(&mirror).expect("chain").0, 3);
    }

    #[test]
    fn a_foreign_file_is_never_used_as_a_mirror() {
        let dir = tempfile::tempdir().expect("dir");
        let primary = dir.path().join("log.jsonl");
        let other = dir.path().join("other.jsonl");
        std::fs::write(&other, b"someone else's file\n").expect("write");
        let mut log = AuditLog::<Event>::create(&primary).expect("create");
        log.append(&checked_in("a"), None, false).expect("append");
        assert!(matches!(log.mirror_to(&other), Err(LogError::Exists(_))));
        assert_eq!(
            std::fs::read(&other).expect("read"),
            b"someone else's file\n"
        );
    }

    /// Issue 13, item 1: a link planted where the copy goes (to an empty file elsewhere, or
    /// dangling) never receives the log, and nothing is created at its target.
    #[test]
    fn a_symlink_planted_as_the_copy_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().expect("dir");
        let primary = dir.path().join("log.jsonl");
        let elsewhere = dir.path().join("elsewhere.txt");
        std::fs::write(&elsewhere, b"").expect("empty target");
        let planted = dir.path().join("copy.jsonl");
        std::os::unix::fs::symlink(&elsewhere, &planted).expect("plant");
        let dangling = dir.path().join("dangling.jsonl");
        let nowhere = dir.path().join("nowhere.txt");
        std::os::unix::fs::symlink(&nowhere, &dangling).expect("plant dangling");
        let mut log = AuditLog::<Event>::create(&primary).expect("create");
        log.append(&checked_in("a"), None, false).expect("append");
        let err = log.mirror_to(&planted).expect_err("a link is refused");
        assert!(matches!(err, LogError::Symlink(_)), "{err}");
        assert!(err.to_string().contains("remove the link"), "{err}");
        assert_eq!(std::fs::read(&elsewhere).expect("read"), b"");
        assert!(matches!(
            log.mirror_to(&dangling),
            Err(LogError::Symlink(_))
        ));
        assert!(
            !nowhere.exists(),
            "nothing is created through a dangling link"
        );
        // The log itself: created only where nothing is, reopened only if not a link.
        assert!(matches!(
            AuditLog::<Event>::create(&dangling),
            Err(LogError::Exists(_))
        ));
        drop(log);
        let linked_log = dir.path().join("linked.jsonl");
        std::os::unix::fs::symlink(&primary, &linked_log).expect("link the log");
        assert!(matches!(
            AuditLog::<Event>::reopen(&linked_log),
            Err(LogError::Symlink(_))
        ));
    }

    /// Item 9 of issue 10, reproduced: one extra space in line 1 and a torn tail. The old
    /// reopen cut the file one byte short (re-serialised lengths) and fused the next two
    /// entries on one line. Now the non-canonical line is refused, and the file is untouched.
    #[test]
    fn a_non_canonical_line_is_refused_before_anything_is_cut() {
        let dir = tempfile::tempdir().expect("dir");
        let primary = dir.path().join("log.jsonl");
        let mut log = AuditLog::<Event>::create(&primary).expect("create");
        log.append(&checked_in("a"), None, false).expect("append");
        log.append(&checked_in("b"), None, false).expect("append");
        drop(log);
        let text = std::fs::read_to_string(&primary).expect("read");
        let spaced = text.replacen("{\"actor\"", "{ \"actor\"", 1) + "{\"seq\":2,\"ut";
        std::fs::write(&primary, &spaced).expect("write");
        let err = AuditLog::<Event>::reopen(&primary).expect_err("a non-canonical line");
        assert!(
            matches!(&err, LogError::Corrupt { line: 1, problem } if problem.contains("canonical")),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&primary).expect("read"),
            spaced,
            "the log was touched"
        );
    }

    /// A log whose chain is broken is refused too, untouched.
    #[test]
    fn a_broken_chain_is_refused_before_anything_is_cut() {
        let dir = tempfile::tempdir().expect("dir");
        let primary = dir.path().join("log.jsonl");
        let mut log = AuditLog::<Event>::create(&primary).expect("create");
        log.append(&checked_in("a"), None, false).expect("append");
        log.append(&checked_in("b"), None, false).expect("append");
        drop(log);
        let text = std::fs::read_to_string(&primary).expect("read");
        let second = text.lines().nth(1).expect("line 2").to_owned() + "\n";
        let broken = second.clone() + &second + "{\"seq\"";
        std::fs::write(&primary, &broken).expect("write");
        let err = AuditLog::<Event>::reopen(&primary).expect_err("broken chain");
        assert!(matches!(err, LogError::Corrupt { line: 1, .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&primary).expect("read"), broken);
    }

    #[test]
    fn a_torn_last_line_is_cut_on_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let primary = dir.path().join("log.jsonl");
        let mut log = AuditLog::<Event>::create(&primary).expect("create");
        log.append(&checked_in("a"), None, false).expect("append");
        drop(log);
        let mut f = OpenOptions::new()
            .append(true)
            .open(&primary)
            .expect("open");
        f.write_all(b"{\"seq\":1,\"utc\":").expect("torn write");
        drop(f);
        let complete = std::fs::read(&primary).expect("read").len() - 15;
        let (mut log, entries) = AuditLog::<Event>::reopen(&primary).expect("reopen");
        assert_eq!(entries.len(), 1);
        assert_eq!(
            std::fs::metadata(&primary).expect("stat").len() as usize,
            complete,
            "cut exactly where the complete lines end"
        );
        log.append(&checked_in("b"), None, false).expect("append");
        assert_eq!(verify_chain::<Event>(&primary).expect("chain").0, 2);
        let text = std::fs::read_to_string(&primary).expect("read");
        assert_eq!(text.lines().count(), 2, "one entry a line");
    }
}
