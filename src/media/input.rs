//! Reading what people bring on media: regular files only, never more than the format can
//! hold.
//!
//! Every input has a cap (a `.byok` cannot be larger than its largest key's ciphertext in
//! base64, a share file than its header and groups, ...). A file larger than its cap, or a
//! FIFO, device, socket or directory where a file is expected, is refused before it is read:
//! `/dev/zero` as a `.byok` must not be read until memory runs out, and a FIFO must not hang
//! the ceremony. The file is opened without blocking (a FIFO would otherwise wait for a
//! writer), checked with fstat on the open descriptor (no race with a rename), and read
//! through the cap (a file that grows while it is read is still refused).
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;
use zeroize::Zeroizing;

/// What a file is, and the most bytes it can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// For messages: "a .byok file", "a share file".
    pub what: &'static str,
    pub max_bytes: u64,
}

const KIB: u64 = 1024;

/// A `.byok`: kid, algorithm names, the generator, and the ciphertext of an RSA-4096 private
/// key in base64 (about 4 KiB). 64 KiB leaves room for any generator string.
pub const BYOK: Limit = Limit {
    what: "a .byok file",
    max_bytes: 64 * KIB,
};
/// A KEK: PEM, DER or `az keyvault key show` JSON of an RSA-4096 public key (about 3 KiB).
pub const KEK: Limit = Limit {
    what: "a KEK file",
    max_bytes: 64 * KIB,
};
/// An AWS import token (opaque; about 1-2 KiB as GetParametersForImport returns it).
pub const IMPORT_TOKEN: Limit = Limit {
    what: "an AWS import token",
    max_bytes: 64 * KIB,
};
/// A ceremony or provisioning script, instructions included.
pub const SCRIPT: Limit = Limit {
    what: "a script",
    max_bytes: 256 * KIB,
};
/// An answers file of a headless run.
pub const ANSWERS: Limit = Limit {
    what: "an answers file",
    max_bytes: 256 * KIB,
};
/// A custodian's share file: a header, the share in groups, and instructions (under 2 KiB).
pub const SHARE: Limit = Limit {
    what: "a share file",
    max_bytes: 16 * KIB,
};
/// A provisioning record (public: commitments, split ids, the audit key).
pub const RECORD: Limit = Limit {
    what: "a provisioning record",
    max_bytes: 256 * KIB,
};
/// A manifest of a ceremony's outputs.
pub const MANIFEST: Limit = Limit {
    what: "a manifest",
    max_bytes: 256 * KIB,
};
/// A PEM private key (a test KEK's, for rehearsals) or a current-PINs file.
pub const SMALL_SECRET: Limit = Limit {
    what: "a key or PIN file",
    max_bytes: 64 * KIB,
};

/// A SHA256SUMS file of a release (the preflight compares the tool's own hash with it).
pub const SUMS: Limit = Limit {
    what: "a SHA256SUMS file",
    max_bytes: 64 * KIB,
};

/// Why an input was refused.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}; check the path and that the medium is mounted")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is {kind}, not a regular file; give {what} as a plain file on the medium")]
    NotRegular {
        path: PathBuf,
        kind: &'static str,
        what: &'static str,
    },
    #[error(
        "{path} is larger than {what} can be ({max_bytes} bytes at most); it is not {what}: check that the right file was given"
    )]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        max_bytes: u64,
    },
    #[error("cannot read {path}: {source}; the medium may be faulty: try another copy")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl InputError {
    /// True when the input could not be read at all (exit 3), false when it was refused for
    /// what it is (too large: exit 1).
    pub fn unreadable(&self) -> bool {
        !matches!(self, InputError::TooLarge { .. })
    }

    /// The underlying I/O error kind when the file could not be opened or read (NotFound, ...).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            InputError::Open { source, .. } | InputError::Read { source, .. } => {
                Some(source.kind())
            }
            _ => None,
        }
    }
}

/// Reads `path` whole, refusing anything but a regular file of at most `limit.max_bytes`.
pub fn read_input(path: &Path, limit: Limit) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    read_into(path, limit, &mut bytes)?;
    Ok(bytes)
}

/// As `read_input`, into memory that is wiped when dropped (share files, private keys).
pub fn read_secret_input(path: &Path, limit: Limit) -> Result<Zeroizing<Vec<u8>>, InputError> {
    let mut bytes = Zeroizing::new(Vec::new());
    read_into(path, limit, &mut bytes)?;
    Ok(bytes)
}

/// As `read_input`, as UTF-8 text; `None` inside the Ok when it is not text.
pub fn read_text_input(path: &Path, limit: Limit) -> Result<Option<String>, InputError> {
    read_input(path, limit).map(|b| String::from_utf8(b).ok())
}

/// Opens `path` for reading as a regular file of at most `limit` (checked on the descriptor).
pub fn open_input(path: &Path, limit: Limit) -> Result<File, InputError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|source| InputError::Open {
            path: path.to_owned(),
            source,
        })?;
    let meta = file.metadata().map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    let kind = meta.file_type();
    let not_regular = if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    };
    if let Some(kind) = not_regular {
        return Err(InputError::NotRegular {
            path: path.to_owned(),
            kind,
            what: limit.what,
        });
    }
    if meta.len() > limit.max_bytes {
        return Err(too_large(path, limit));
    }
    Ok(file)
}

fn read_into(path: &Path, limit: Limit, out: &mut Vec<u8>) -> Result<(), InputError> {
    let file = open_input(path, limit)?;
    // One byte more than the cap tells a file that grew after fstat from one that fits.
    let cap = usize::try_from(limit.max_bytes).unwrap_or(usize::MAX);
    out.reserve(usize::try_from(file.metadata().map_or(0, |m| m.len())).unwrap_or(0));
    file.take(limit.max_bytes + 1)
        .read_to_end(out)
        .map_err(|source| InputError::Read {
            path: path.to_owned(),
            source,
        })?;
    if out.len() > cap {
        return Err(too_large(path, limit));
    }
    Ok(())
}

fn too_large(path: &Path, limit: Limit) -> InputError {
    InputError::TooLarge {
        path: path.to_owned(),
        what: limit.what,
        max_bytes: limit.max_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: Limit = Limit {
        what: "a test file",
        max_bytes: 8,
    };

    #[test]
    fn a_file_within_its_cap_is_read_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345678").expect("write");
        assert_eq!(read_input(&p, TINY).expect("fits"), b"12345678");
    }

    #[test]
    fn a_larger_file_names_the_limit() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("f");
        std::fs::write(&p, b"123456789").expect("write");
        let err = read_input(&p, TINY).expect_err("too large");
        assert!(
            matches!(err, InputError::TooLarge { max_bytes: 8, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("larger than a test file can be (8 bytes at most)"),
            "{err}"
        );
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_without_reading() {
        let err = read_input(Path::new("/dev/zero"), BYOK).expect_err("device");
        assert!(err.to_string().contains("a character device"), "{err}");
        let dir = tempfile::tempdir().expect("dir");
        let err = read_input(dir.path(), BYOK).expect_err("directory");
        assert!(err.to_string().contains("a directory"), "{err}");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        // Would block forever waiting for a writer if opened the ordinary way.
        let err = read_input(&fifo, SHARE).expect_err("fifo");
        assert!(err.to_string().contains("a FIFO"), "{err}");
    }
}
