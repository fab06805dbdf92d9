//! Several output files that belong together (a public key, a token, the JSON describing
//! them): refuse before any network traffic when one already exists, then write each with
//! byok-ceremony's no-clobber atomic writer, and take back the ones already written when a
//! later one fails, so the medium never holds half a set.
use std::path::{Path, PathBuf};

use byok_ceremony::media::atomic::{WriteError, write_new};

/// Fails when `dir` is missing or any of `names` already exists in it.
pub fn refuse_existing(dir: &Path, names: &[&str]) -> Result<(), WriteError> {
    if !dir.is_dir() {
        return Err(WriteError::NoDirectory(dir.to_owned()));
    }
    for name in names {
        let path = dir.join(name);
        // symlink_metadata: a dangling link is "already there" too, as byok-ceremony's writer says.
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(WriteError::Exists(path));
        }
    }
    Ok(())
}

/// Writes every `(name, bytes)` or none; returns the paths written, in order.
pub fn write_all(dir: &Path, files: &[(&str, &[u8])]) -> Result<Vec<PathBuf>, WriteError> {
    let mut written: Vec<PathBuf> = Vec::new();
    for (name, bytes) in files {
        if let Err(e) = write_new(dir, name, bytes) {
            for path in &written {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
        written.push(dir.join(name));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_or_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("b"), b"old").expect("write");
        assert!(matches!(
            refuse_existing(dir.path(), &["a", "b"]),
            Err(WriteError::Exists(_))
        ));
        let err = write_all(dir.path(), &[("a", b"1"), ("b", b"2")]).expect_err("b exists");
        assert!(matches!(err, WriteError::Exists(_)));
        assert!(!dir.path().join("a").exists(), "a was taken back");
        assert_eq!(std::fs::read(dir.path().join("b")).expect("b"), b"old");
        let paths = write_all(dir.path(), &[("c", b"3"), ("d", b"4")]).expect("written");
        assert_eq!(paths.len(), 2);
        assert!(refuse_existing(&dir.path().join("none"), &["x"]).is_err());
    }
}
