//! Export: the files of the ceremony, written to every output medium and read back.
use super::*;

impl Runner<'_> {
    /// The wrapped key for each cloud (and AWS's import token), then the manifest.
    pub(super) fn output_files(&self) -> Result<Vec<(String, Vec<u8>)>, RunError> {
        let problem = |reason| RunError::Step {
            phase: Phase::Export,
            reason,
        };
        let mut files = self.facts.target_files(&self.script).map_err(problem)?;
        let manifest = self.facts.manifest(&self.script).map_err(problem)?;
        files.push((
            format!("{}.manifest.json", self.script.output_name),
            manifest.into_bytes(),
        ));
        Ok(files)
    }

    pub(super) fn export(&mut self) -> Result<Option<Event>, RunError> {
        let files = self.output_files()?;
        let mut records = Vec::new();
        if self.script.second_copy && self.media.second.is_none() {
            return Err(RunError::Step {
                phase: Phase::Export,
                reason: "the script asks for a second copy: give second_media in the answers"
                    .into(),
            });
        }
        for dir in &self.output_media() {
            for (name, bytes) in &files {
                let hash = write_new_or_identical(dir, name, bytes).map_err(step(Phase::Export))?;
                if dir == &self.media.out {
                    records.push(FileRecord {
                        name: name.clone(),
                        sha256: hex::encode(hash),
                    });
                }
            }
        }
        Ok(Some(Event::Exported { files: records }))
    }

    pub(super) fn verify_export(&mut self) -> Result<Option<Event>, RunError> {
        let dirs = self.output_media();
        let mut files = Vec::new();
        for record in &self.state.exported {
            for dir in &dirs {
                let path = dir.join(&record.name);
                let hash = sha256_file(&path).map_err(|e| RunError::Step {
                    phase: Phase::Verification,
                    reason: format!("cannot read back {}: {e}", path.display()),
                })?;
                if hex::encode(hash) != record.sha256 {
                    return Err(RunError::Step {
                        phase: Phase::Verification,
                        reason: format!(
                            "{} reads back differently from what was written: the medium is faulty",
                            path.display()
                        ),
                    });
                }
            }
            files.push(record.clone());
        }
        Ok(Some(Event::Verified { files }))
    }

    /// The output medium, and the second one when the script asks for a copy and it is given
    /// (export refuses to start without it).
    pub(super) fn output_media(&self) -> Vec<PathBuf> {
        let mut media = vec![self.media.out.clone()];
        if self.script.second_copy {
            media.extend(self.media.second.clone());
        }
        media
    }

    /// The ceremony's files on each medium (the exported ones and the log's copy), whether
    /// this process or an earlier one wrote them, each with its SHA-256 as read back now.
    pub(super) fn outputs_on_media(&self) -> Vec<(PathBuf, String)> {
        let media = self.output_media();
        let log_copy = format!("{}.audit.jsonl", self.script.output_name);
        let names: Vec<&str> = self
            .state
            .exported
            .iter()
            .map(|f| f.name.as_str())
            .chain(std::iter::once(log_copy.as_str()))
            .collect();
        let mut out = Vec::new();
        for dir in &media {
            for name in &names {
                let path = dir.join(name);
                if let Ok(hash) = sha256_file(&path) {
                    out.push((path, hex::encode(hash)));
                }
            }
        }
        out
    }

    // ----- HSM plumbing -----
}
