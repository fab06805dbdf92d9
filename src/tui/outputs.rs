//! The wrapped keys a ceremony writes, one per cloud, as the screens show them: with several
//! clouds, one hash (hex, words, QR) is shown at a time, Tab shows the next, and the export is
//! not confirmed before every one has been on the screen (each is read to its cloud's side).
#![forbid(unsafe_code)]

use crate::ceremony::runner::View;

/// One wrapped key, once the HSM has made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// "Azure Key Vault", "Google Cloud KMS", "AWS KMS".
    pub cloud: &'static str,
    /// The file it is written as.
    pub file: String,
    pub sha256: String,
}

/// The wrapped keys made so far, in the script's order.
pub fn outputs(view: &View) -> Vec<Output> {
    view.script
        .targets
        .iter()
        .filter_map(|t| {
            view.state.wrapped.get(&t.cloud).map(|sha| Output {
                cloud: t.cloud.title(),
                file: t.output_file(&view.script.output_name),
                sha256: sha.clone(),
            })
        })
        .collect()
}

/// The one shown now (`index` wraps around), and its place: (output, 1-based k, n).
pub fn shown(view: &View, index: usize) -> Option<(Output, usize, usize)> {
    let all = outputs(view);
    let n = all.len();
    let k = index.checked_rem(n)?;
    all.into_iter().nth(k).map(|o| (o, k + 1, n))
}
