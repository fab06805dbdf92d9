//! Writing a provisioning's outputs: one share file per custodian (their own medium; never
//! all shares in one file) and the public record. Nothing is overwritten, every name is
//! checked before the first byte is written, and each file is read back.
use std::path::{Path, PathBuf};

use super::events::{EventSink, QuorumEvent};
use super::issue::IssuedSplit;
use super::record::{ProvisioningRecord, RECORD_FILE, RecordError};
use super::share::{PinGroup, Share};
use super::share_file::{self, ShareFileError};
use crate::hsm_types::token::TokenIdentity;
use crate::media::atomic::{Reserved, WriteError, reserve};

/// Why the outputs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "the output directory {0} does not exist; create it (on the right medium) or choose another --out"
    )]
    NoDirectory(PathBuf),
    #[error(
        "{0} already exists; byok-ceremony never overwrites an output: use an empty output directory"
    )]
    Exists(PathBuf),
    #[error("{0}")]
    Write(#[from] WriteError),
    #[error("{0}")]
    ShareFile(#[from] ShareFileError),
    #[error("{0}")]
    Record(#[from] RecordError),
    #[error("could not restrict {path} to its owner: {source}; delete it and run again")]
    Permissions {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not read back {path}: {source}; the medium is faulty, use another one")]
    ReadBack {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} read back does not hold {custodian}'s {group} share; the medium is faulty, use another one"
    )]
    ReadBackMismatch {
        path: PathBuf,
        custodian: String,
        group: PinGroup,
    },
    #[error("no room was reserved for {0}'s share file; this is a bug: report it")]
    NotReserved(String),
}

/// Each custodian with the shares they receive, in order of first appearance.
pub fn handouts<'a>(splits: &[&'a IssuedSplit]) -> Vec<(String, Vec<&'a Share>)> {
    let mut out: Vec<(String, Vec<&Share>)> = Vec::new();
    for split in splits {
        for (name, share) in split.custodians.iter().zip(&split.split.shares) {
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, shares)) => shares.push(share),
                None => out.push((name.clone(), vec![share])),
            }
        }
    }
    out
}

/// Refuses before anything happens if the directory is missing or any output exists.
pub fn preflight<'a>(
    dir: &Path,
    custodians: impl IntoIterator<Item = &'a String>,
) -> Result<(), OutputError> {
    if !dir.is_dir() {
        return Err(OutputError::NoDirectory(dir.to_owned()));
    }
    let names = custodians
        .into_iter()
        .map(|c| share_file::file_name(c))
        .chain(std::iter::once(RECORD_FILE.to_owned()));
    for name in names {
        let path = dir.join(name);
        if crate::media::atomic::exists_here(&path) {
            return Err(OutputError::Exists(path));
        }
    }
    Ok(())
}

/// Where everything went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub share_files: Vec<(String, PathBuf)>,
    pub record: PathBuf,
}

/// Room for a custodian's share file: a header and up to two shares (user and SO PIN), each
/// with its QR code, take under 8 KiB.
const SHARE_FILE_ROOM: u64 = 16 * 1024;
/// Room for the record: commitments of every custodian and the audit key (a few KiB).
const RECORD_ROOM: u64 = 64 * 1024;

/// The room taken on the output medium for every share file and the record, before anything
/// irreversible is done: a full medium is found while the token is still untouched. Dropped
/// unwritten, it leaves nothing behind.
#[derive(Debug)]
pub struct Reservation {
    shares: Vec<(String, Reserved)>,
    record: Reserved,
}

/// Checks the names (as `preflight`) and takes the room for each custodian's share file and
/// for the record in `dir`.
pub fn reserve_all<'a>(
    dir: &Path,
    custodians: impl IntoIterator<Item = &'a String>,
) -> Result<Reservation, OutputError> {
    let mut names: Vec<&String> = Vec::new();
    for c in custodians {
        if !names.contains(&c) {
            names.push(c);
        }
    }
    preflight(dir, names.iter().copied())?;
    let mut shares = Vec::with_capacity(names.len());
    for custodian in names {
        // A share is readable by its owner only, from the moment the file exists.
        let room = reserve(
            dir,
            &share_file::file_name(custodian),
            0o400,
            SHARE_FILE_ROOM,
        )?;
        shares.push((custodian.clone(), room));
    }
    let record = reserve(dir, RECORD_FILE, 0o644, RECORD_ROOM)?;
    Ok(Reservation { shares, record })
}

/// Writes each custodian's file (owner-read-only) into its reserved room, reads it back, then
/// writes the record.
pub fn write_all(
    mut reservation: Reservation,
    token: &TokenIdentity,
    rehearsal: bool,
    handouts: &[(String, Vec<&Share>)],
    record: &ProvisioningRecord,
    events: &mut EventSink,
) -> Result<Written, OutputError> {
    let commitment = |group: PinGroup, index: u8| {
        record
            .group(group)
            .and_then(|g| g.custodian(index))
            .map(|c| c.commitment.clone())
            .unwrap_or_default()
    };
    let share_files = reservation.write_shares(token, rehearsal, handouts, &commitment, events)?;
    let paths: Vec<PathBuf> = share_files.iter().map(|(_, p)| p.clone()).collect();
    reservation
        .write_record(share_files, record)
        .inspect_err(|_| {
            // The PINs were not changed: shares of PINs nobody will set are void.
            remove_all(&paths);
        })
}

fn remove_all(paths: &[PathBuf]) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}

impl Reservation {
    /// Writes each custodian's file (owner-read-only) into its reserved room and reads it
    /// back; `commitment` gives each share's commitment for the log.
    pub fn write_shares(
        &mut self,
        token: &TokenIdentity,
        rehearsal: bool,
        handouts: &[(String, Vec<&Share>)],
        commitment: &dyn Fn(PinGroup, u8) -> String,
        events: &mut EventSink,
    ) -> Result<Vec<(String, PathBuf)>, OutputError> {
        let mut share_files = Vec::with_capacity(handouts.len());
        let written = self.write_each(
            token,
            rehearsal,
            handouts,
            commitment,
            events,
            &mut share_files,
        );
        if let Err(e) = written {
            // Nothing is changed on the token before every share is written: the files
            // written so far hold void shares, and a partial set helps nobody.
            let paths: Vec<PathBuf> = share_files.into_iter().map(|(_, p)| p).collect();
            remove_all(&paths);
            return Err(e);
        }
        Ok(share_files)
    }

    fn write_each(
        &mut self,
        token: &TokenIdentity,
        rehearsal: bool,
        handouts: &[(String, Vec<&Share>)],
        commitment: &dyn Fn(PinGroup, u8) -> String,
        events: &mut EventSink,
        share_files: &mut Vec<(String, PathBuf)>,
    ) -> Result<(), OutputError> {
        for (custodian, shares) in handouts {
            let name = share_file::file_name(custodian);
            let text = share_file::render(custodian, token, shares, rehearsal)?;
            let at = self
                .shares
                .iter()
                .position(|(c, _)| c == custodian)
                .ok_or_else(|| OutputError::NotReserved(custodian.clone()))?;
            let (_, room) = self.shares.swap_remove(at);
            let path = room.target().to_owned();
            room.fill(text.as_bytes())?;
            share_files.push((custodian.clone(), path.clone()));
            for share in shares {
                let back = read_share(&path, share.group)?;
                if back.value() != share.value() || back.index != share.index {
                    return Err(OutputError::ReadBackMismatch {
                        path,
                        custodian: custodian.clone(),
                        group: share.group,
                    });
                }
                events.push(QuorumEvent::ShareIssued {
                    group: share.group,
                    split_id: share.split_id,
                    custodian: custodian.clone(),
                    share_index: share.index,
                    commitment: commitment(share.group, share.index),
                    medium: name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Writes the record into its reserved room (read back by `fill`).
    pub fn write_record(
        self,
        share_files: Vec<(String, PathBuf)>,
        record: &ProvisioningRecord,
    ) -> Result<Written, OutputError> {
        let record_path = self.record.target().to_owned();
        self.record.fill(record.to_json()?.as_bytes())?;
        Ok(Written {
            share_files,
            record: record_path,
        })
    }
}

/// The share of `group` in the share file at `path`.
pub fn read_share(path: &Path, group: PinGroup) -> Result<Share, OutputError> {
    let bytes =
        zeroize::Zeroizing::new(std::fs::read(path).map_err(|source| OutputError::ReadBack {
            path: path.to_owned(),
            source,
        })?);
    let text = std::str::from_utf8(&bytes).map_err(|_| OutputError::ReadBack {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"),
    })?;
    Ok(share_file::share_in(text, group)?)
}
