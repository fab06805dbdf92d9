//! The artifacts: the script the ceremony ran and the files it exported, compared with the
//! hashes the log recorded; the manifest compared with the log it points to.
use std::path::Path;

use super::Fault;
use super::policy::{At, Replay};
use crate::manifest::Manifest;
use crate::media::atomic::sha256_file;

/// The script's SHA-256 against the one pinned at seq 0. Ok(true) when checked.
pub fn script(script: Option<&Path>, replay: &Replay) -> Result<bool, Fault> {
    let (Some(script), Some(pinned)) = (script, &replay.script_sha256) else {
        return Ok(false);
    };
    let actual = sha256_file(script).map_err(|e| Fault::unreadable(script, &e))?;
    if hex::encode(actual) == *pinned {
        Ok(true)
    } else {
        Err(Fault::at(
            At { seq: 0, line: 1 },
            format!(
                "pins the script's SHA-256 {pinned}, but {} hashes to {}: it is not the script the ceremony ran",
                script.display(),
                hex::encode(actual)
            ),
        ))
    }
}

/// Every exported file on `media` against its hash at export; the .byok against the wrap; the
/// manifest's own claims against the log. Returns how many files matched.
pub fn media(media: &Path, replay: &Replay) -> Result<usize, Fault> {
    let Some((files, at)) = &replay.exported else {
        return Ok(0);
    };
    for f in files {
        let path = media.join(&f.name);
        let actual = sha256_file(&path).map_err(|e| {
            Fault::at(
                *at,
                format!(
                    "records the export of {}, which cannot be read on the media: {e}",
                    path.display()
                ),
            )
        })?;
        if hex::encode(actual) != f.sha256 {
            return Err(Fault::at(
                *at,
                format!(
                    "records {} with SHA-256 {}, but the file on the media hashes to {}: it was swapped or altered after the export",
                    f.name,
                    f.sha256,
                    hex::encode(actual)
                ),
            ));
        }
    }
    if let Some((byok_sha256, wrapped_entry, wrapped_at)) = &replay.wrapped {
        if !files
            .iter()
            .any(|f| f.name.ends_with(".byok") && f.sha256 == *byok_sha256)
        {
            return Err(Fault::at(
                *at,
                format!(
                    "exports no .byok with the SHA-256 of the key the HSM wrapped at seq {} (line {})",
                    wrapped_at.seq, wrapped_at.line
                ),
            ));
        }
        for f in files.iter().filter(|f| f.name.ends_with(".manifest.json")) {
            manifest(&media.join(&f.name), byok_sha256, wrapped_entry, *at)?;
        }
    }
    Ok(files.len())
}

fn manifest(path: &Path, byok_sha256: &str, wrapped_entry: &str, at: At) -> Result<(), Fault> {
    let bytes = crate::media::input::read_input(path, crate::media::input::MANIFEST)
        .map_err(|e| Fault::at(at, format!("exported a manifest that cannot be read: {e}")))?;
    let manifest = Manifest::parse(&bytes)
        .map_err(|e| Fault::at(at, format!("exported a manifest that does not parse: {e}")))?;
    if manifest.byok_sha256.as_deref() != Some(byok_sha256) {
        return Err(Fault::at(
            at,
            format!(
                "exported a manifest whose byok_sha256 ({}) is not the wrapped key's ({byok_sha256})",
                manifest.byok_sha256.as_deref().unwrap_or("absent")
            ),
        ));
    }
    if manifest.audit_log_head_sha256.as_deref() != Some(wrapped_entry) {
        return Err(Fault::at(
            at,
            "exported a manifest whose audit_log_head_sha256 is not the hash of the entry that recorded the wrap".into(),
        ));
    }
    Ok(())
}
