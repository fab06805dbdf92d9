//! Never overwrite an output; never leave a partial one.
//!
//! A file is written to a temporary name in the destination directory, flushed to the device,
//! then moved into place with a no-clobber rename (renameat2 RENAME_NOREPLACE, or link + unlink
//! where the filesystem lacks it), and finally the directory itself is flushed so the new name
//! survives a power cut. The file is read back and its SHA-256 compared before success: from
//! the device, not the page cache (the file's cached pages are dropped first), so a medium that
//! loses writes is caught here and not at the uploader.
//!
//! Nothing follows a symbolic link: a name that exists as a link (even a dangling one) is
//! "already there", and every open of an output uses O_NOFOLLOW.
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;
use sha2::{Digest, Sha256};

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{0} already exists; byok-ceremony never overwrites an output: move it away or choose another name"
    )]
    Exists(PathBuf),
    #[error("the output directory {0} does not exist; create it or choose another directory")]
    NoDirectory(PathBuf),
    #[error(
        "could not write {path}: {source}; {advice}, then try again (nothing partial was left)",
        advice = io_advice(.source)
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} read back differently from what was written; the medium is faulty: use another one (the bad copy was removed)"
    )]
    ReadBackMismatch(PathBuf),
}

/// What to do about a failed write, by its cause: a device error means a failing medium.
fn io_advice(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(5) => "the medium reports a device error (EIO): it may be failing; use another medium",
        Some(28) => "the medium is full: free space or use another medium",
        Some(30) => "the medium is read-only: unlock it or use another medium",
        _ => "check that the medium is mounted, writable and not full",
    }
}

/// Writes `bytes` as `dir/name`, atomically and without replacing anything; returns the
/// SHA-256 of what was read back.
pub fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> Result<[u8; 32], WriteError> {
    // Outputs are public (ciphertext, hashes, public keys) and travel to other machines.
    write_new_with_mode(dir, name, bytes, 0o644)
}

/// As `write_new`, with the file's permission bits set before any byte is written (0o400 for
/// a custodian's share: never readable by anyone else, not even for a moment).
pub fn write_new_with_mode(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<[u8; 32], WriteError> {
    reserve(dir, name, mode, 0)?.fill(bytes)
}

/// An output whose room on the medium is taken before the work that produces it: a
/// temporary file in the destination directory, `bytes` long and flushed, so that a full
/// medium is found before anything irreversible happens (provisioning reserves every share
/// file and the record before it touches the token). Dropped unfilled, it is removed.
#[derive(Debug)]
pub struct Reserved {
    dir: PathBuf,
    target: PathBuf,
    temp: tempfile::NamedTempFile,
}

/// Takes `bytes` of room for `dir/name` (mode `mode`), refusing a name already there.
pub fn reserve(dir: &Path, name: &str, mode: u32, bytes: u64) -> Result<Reserved, WriteError> {
    if !dir.is_dir() {
        return Err(WriteError::NoDirectory(dir.to_owned()));
    }
    let target = dir.join(name);
    let io = |source| WriteError::Io {
        path: target.clone(),
        source,
    };
    if exists_here(&target) {
        return Err(WriteError::Exists(target));
    }
    let mut temp = tempfile::Builder::new()
        .prefix(".byok-partial-")
        .tempfile_in(dir)
        .map_err(io)?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io)?;
    if bytes > 0 {
        // Real blocks, not a sparse file: zeros written and flushed (fallocate is not on
        // every filesystem a USB stick carries).
        let zeros = vec![0u8; 64 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
            temp.write_all(&zeros[..n]).map_err(io)?;
            left -= n as u64;
        }
        temp.as_file().sync_all().map_err(io)?;
    }
    Ok(Reserved {
        dir: dir.to_owned(),
        target,
        temp,
    })
}

impl Reserved {
    /// The name the output will have.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes `bytes` into the reserved room, flushes them, moves the file into place without
    /// replacing anything, flushes the directory, and reads the file back from the device;
    /// returns the SHA-256 read back.
    pub fn fill(self, bytes: &[u8]) -> Result<[u8; 32], WriteError> {
        let Reserved {
            dir,
            target,
            mut temp,
        } = self;
        let io = |source| WriteError::Io {
            path: target.clone(),
            source,
        };
        temp.as_file_mut().seek(SeekFrom::Start(0)).map_err(io)?;
        temp.write_all(bytes).map_err(io)?;
        temp.as_file().set_len(bytes.len() as u64).map_err(io)?;
        temp.as_file().sync_all().map_err(io)?;
        temp.persist_noclobber(&target).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                WriteError::Exists(target.clone())
            } else {
                io(e.error)
            }
        })?;
        // Named now: from here a failure removes it, so no file that was not durably
        // written and read back is left under its final name.
        let checked = File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io)
            .and_then(|()| sha256_from_device(&target).map_err(io))
            .and_then(|read_back| {
                if read_back == Sha256::digest(bytes).as_slice() {
                    Ok(read_back)
                } else {
                    Err(WriteError::ReadBackMismatch(target.clone()))
                }
            });
        if checked.is_err() {
            let _ = std::fs::remove_file(&target);
        }
        checked
    }
}

/// As `write_new`, but a file already there with exactly these bytes is accepted (a resumed
/// ceremony exporting again); any other existing file is still never overwritten.
pub fn write_new_or_identical(
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<[u8; 32], WriteError> {
    let target = dir.join(name);
    if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(WriteError::Exists(target));
    }
    if exists_here(&target) {
        let existing = sha256_from_device(&target).map_err(|source| WriteError::Io {
            path: target.clone(),
            source,
        })?;
        let wanted: [u8; 32] = Sha256::digest(bytes).into();
        return if existing == wanted {
            Ok(existing)
        } else {
            Err(WriteError::Exists(target))
        };
    }
    write_new(dir, name, bytes)
}

/// True when something (a file, a directory, a symbolic link even if dangling) has this name.
pub fn exists_here(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Opens an output the tool wrote, for reading, refusing a symbolic link in its place.
pub fn open_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// The SHA-256 of an output as the medium holds it: the file's cached pages are written and
/// dropped first, so the bytes hashed come from the device.
pub fn sha256_from_device(path: &Path) -> std::io::Result<[u8; 32]> {
    let file = open_nofollow(path)?;
    file.sync_all()?;
    // Advice only: where the kernel keeps the pages anyway the read is from cache, as before.
    let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed);
    sha256_of(file)
}

/// Streams a file through SHA-256.
pub fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
    sha256_of(File::open(path)?)
}

fn sha256_of(mut file: File) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let hash = write_new(dir.path(), "a.byok", b"first").expect("first write");
        assert_eq!(hash.as_slice(), Sha256::digest(b"first").as_slice());
        let err = write_new(dir.path(), "a.byok", b"second").expect_err("must refuse");
        assert!(matches!(err, WriteError::Exists(_)));
        assert_eq!(
            std::fs::read(dir.path().join("a.byok")).expect("read"),
            b"first"
        );
        // No temporary file is left behind, on success or on refusal.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.byok")]);
    }

    /// Issue 13, item 1: a link at the output's name, dangling or to a file with the very
    /// bytes, is "already there"; nothing is written through it.
    #[test]
    fn a_symlink_at_the_name_is_never_written_through() {
        let dir = tempfile::tempdir().expect("temp dir");
        let nowhere = dir.path().join("nowhere");
        std::os::unix::fs::symlink(&nowhere, dir.path().join("a.byok")).expect("plant");
        let err = write_new(dir.path(), "a.byok", b"x").expect_err("link");
        assert!(matches!(err, WriteError::Exists(_)), "{err}");
        assert!(!nowhere.exists());
        let same = dir.path().join("same");
        std::fs::write(&same, b"x").expect("write");
        std::os::unix::fs::symlink(&same, dir.path().join("b.byok")).expect("plant");
        let err = write_new_or_identical(dir.path(), "b.byok", b"x").expect_err("link");
        assert!(matches!(err, WriteError::Exists(_)), "{err}");
    }

    /// A full medium is found when the room is reserved, and nothing is left behind.
    #[test]
    fn a_reservation_takes_real_room_and_an_unfilled_one_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let r = reserve(dir.path(), "share.txt", 0o400, 16 * 1024).expect("reserve");
        let temp_files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").metadata().expect("meta").len())
            .collect();
        assert_eq!(temp_files, vec![16 * 1024]);
        drop(r);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
        let r = reserve(dir.path(), "share.txt", 0o400, 16 * 1024).expect("reserve");
        r.fill(b"short").expect("fill");
        assert_eq!(
            std::fs::read(dir.path().join("share.txt")).expect("read"),
            b"short"
        );
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = write_new(&dir.path().join("nope"), "x", b"x").expect_err("no dir");
        assert!(err.to_string().contains("does not exist"));
    }
}
