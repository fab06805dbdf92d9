//! Which mounted media could hold the KEK: for the KEK screen's picker. Reads directory
//! listings only (never a file's content), so it is cheap enough to redo for each screen.
use std::path::{Path, PathBuf};

/// Where removable media are mounted on common Linux desktops and consoles.
pub const DEFAULT_ROOTS: [&str; 3] = ["/media", "/mnt", "/run/media"];

/// At most this many media and files per medium are listed (a screen, not a file manager).
const MAX_MEDIA: usize = 16;
const MAX_FILES: usize = 8;

/// A medium that may hold the KEK, and the KEK-looking files on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekMedium {
    pub dir: PathBuf,
    /// The directory exists (a configured medium may not be mounted yet).
    pub mounted: bool,
    /// File names ending in .pem, .der, .pub or .json, the script's file first.
    pub files: Vec<String>,
    /// The file the script names is here.
    pub has_script_file: bool,
}

/// The configured KEK medium first (mounted or not), then every directory up to two levels
/// under `roots` (`/media/LABEL`, `/media/USER/LABEL`) that holds a KEK-looking file.
pub fn kek_media(configured: &Path, roots: &[PathBuf], script_file: &str) -> Vec<KekMedium> {
    let mut found = vec![look(configured, script_file)];
    for root in roots {
        for dir in children(root) {
            for dir in std::iter::once(dir.clone()).chain(children(&dir)) {
                if found.len() >= MAX_MEDIA || found.iter().any(|m| same(&m.dir, &dir)) {
                    continue;
                }
                let medium = look(&dir, script_file);
                if !medium.files.is_empty() {
                    found.push(medium);
                }
            }
        }
    }
    found
}

fn same(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Sub-directories, sorted; none when `dir` cannot be read.
fn children(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn look(dir: &Path, script_file: &str) -> KekMedium {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            n == script_file
                || [".pem", ".der", ".pub", ".json"]
                    .iter()
                    .any(|x| n.to_lowercase().ends_with(x))
        })
        .collect();
    files.sort_by_key(|n| (n != script_file, n.clone()));
    files.truncate(MAX_FILES);
    KekMedium {
        dir: dir.to_owned(),
        mounted: dir.is_dir(),
        has_script_file: files.first().is_some_and(|n| n == script_file),
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_medium_first_then_media_with_kek_files() {
        let root = tempfile::tempdir().expect("dir");
        let r = root.path();
        for d in ["media/usb1", "media/alice/KEK", "media/photos", "mnt/empty"] {
            std::fs::create_dir_all(r.join(d)).expect("mkdir");
        }
        std::fs::write(r.join("media/usb1/kek.pem"), "x").expect("w");
        std::fs::write(r.join("media/usb1/notes.txt"), "x").expect("w");
        std::fs::write(r.join("media/alice/KEK/other.pem"), "x").expect("w");
        std::fs::write(r.join("media/alice/KEK/kek.json"), "x").expect("w");
        std::fs::write(r.join("media/photos/a.jpg"), "x").expect("w");
        let configured = r.join("kek-usb");
        let roots = [r.join("media"), r.join("mnt")];
        let found = kek_media(&configured, &roots, "kek.pem");
        let dirs: Vec<&Path> = found.iter().map(|m| m.dir.as_path()).collect();
        assert_eq!(
            dirs,
            [
                configured.as_path(),
                &r.join("media/alice/KEK"),
                &r.join("media/usb1")
            ]
        );
        assert!(!found[0].mounted && found[0].files.is_empty());
        assert_eq!(found[1].files, ["kek.json", "other.pem"]);
        assert!(!found[1].has_script_file);
        assert_eq!(found[2].files, ["kek.pem"]);
        assert!(found[2].has_script_file);
        // The configured medium is not listed twice when it is also under a root.
        let again = kek_media(&r.join("media/usb1"), &roots, "kek.pem");
        assert_eq!(again.len(), 2);
    }
}
