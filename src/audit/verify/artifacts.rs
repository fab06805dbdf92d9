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
    if let Some((byok_sha256, _, wrapped_at)) = &replay.wrapped {
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
    }
    for t in &replay.target_outputs {
        if !files
            .iter()
            .any(|f| f.name == t.file && f.sha256 == t.sha256)
        {
            return Err(Fault::at(
                *at,
                format!(
                    "exports no {} with the SHA-256 of the key wrapped for {} at seq {} (line {})",
                    t.file,
                    t.cloud.title(),
                    t.at.seq,
                    t.at.line
                ),
            ));
        }
    }
    if let Some(last_wrap) = &replay.last_wrap_entry {
        for f in files.iter().filter(|f| f.name.ends_with(".manifest.json")) {
            manifest(&media.join(&f.name), replay, last_wrap, *at)?;
        }
    }
    Ok(files.len())
}

fn manifest(path: &Path, replay: &Replay, wrapped_entry: &str, at: At) -> Result<(), Fault> {
    let bytes = crate::media::input::read_input(path, crate::media::input::MANIFEST)
        .map_err(|e| Fault::at(at, format!("exported a manifest that cannot be read: {e}")))?;
    let manifest = Manifest::parse(&bytes)
        .map_err(|e| Fault::at(at, format!("exported a manifest that does not parse: {e}")))?;
    let byok_sha256 = replay.wrapped.as_ref().map(|(h, ..)| h.as_str());
    if manifest.byok_sha256.as_deref() != byok_sha256 {
        return Err(Fault::at(
            at,
            format!(
                "exported a manifest whose byok_sha256 ({}) is not the wrapped key's ({})",
                manifest.byok_sha256.as_deref().unwrap_or("absent"),
                byok_sha256.unwrap_or("none: the log wrapped no .byok")
            ),
        ));
    }
    if manifest.audit_log_head_sha256.as_deref() != Some(wrapped_entry) {
        return Err(Fault::at(
            at,
            "exported a manifest whose audit_log_head_sha256 is not the hash of the entry that recorded the last wrap".into(),
        ));
    }
    outputs(&manifest, replay, at)
}

/// The manifest's `outputs` are exactly the log's wraps: each names the file, hash, algorithm
/// and wrapping key the log recorded. (Manifests of earlier versions list none; their logs have
/// only the .byok, checked above.)
fn outputs(manifest: &Manifest, replay: &Replay, at: At) -> Result<(), Fault> {
    use crate::cloud::Cloud;
    let fault = |what: String| {
        Err(Fault::at(
            at,
            format!("exported a manifest whose outputs {what}"),
        ))
    };
    if manifest.outputs.is_empty() && replay.target_outputs.is_empty() {
        return Ok(());
    }
    let expected = replay.target_outputs.len() + usize::from(replay.wrapped.is_some());
    if manifest.outputs.len() != expected {
        return fault(format!(
            "list {} files, and the log recorded {expected} wraps",
            manifest.outputs.len()
        ));
    }
    for o in &manifest.outputs {
        if o.cloud == Cloud::Azure {
            if replay.wrapped.as_ref().map(|(h, ..)| h) != Some(&o.sha256) {
                return fault(format!("name {} with a hash the log never wrapped", o.file));
            }
            continue;
        }
        let Some(t) = replay.target_outputs.iter().find(|t| t.cloud == o.cloud) else {
            return fault(format!(
                "name {} for {}, which the log never wrapped for",
                o.file, o.cloud
            ));
        };
        if (
            &t.file,
            &t.sha256,
            &t.algorithm,
            &t.kek_fingerprint,
            &t.import_token_sha256,
        ) != (
            &o.file,
            &o.sha256,
            &o.algorithm,
            &o.kek_fingerprint_sha256,
            &o.import_token_sha256,
        ) {
            return fault(format!(
                "describe {} otherwise than the log's wrap for {} at seq {} (file, hash, algorithm, wrapping key or import token)",
                o.file,
                t.cloud.title(),
                t.at.seq
            ));
        }
    }
    Ok(())
}
