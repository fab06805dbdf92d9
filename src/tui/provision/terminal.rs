//! The loop: draw, then sleep on one channel until a key, a worker message or the clock's
//! tick (the next whole second) wakes it. The provisioning core runs on its own thread and
//! blocks on the UI only where people decide (the confirmation, each hand-out, and in a
//! re-split each old share).
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;

use crossterm::event::Event as TermEvent;

use super::app::ProvisionApp;
use super::old_quorum::OldQuorum;
use super::people::{FromWorker, GuidedPeople, Reply, Summary, Wake};
use super::resplit_people::GuidedResplit;
use super::screens;
use crate::quorum::provision::{
    AUDIT_LOG_NAME, ProvisionError, ProvisionOptions, ProvisionOutcome, provision_with,
};
use crate::quorum::resplit::{ResplitError, ResplitOptions, resplit_with};
use crate::quorum::script::ProvisioningScript;
use crate::tui::widgets::clock_now;

/// How a guided provisioning (or re-split, `E` = its error) ended.
#[derive(Debug)]
pub enum Ending<E = ProvisionError> {
    /// Provisioned, verified, and every custodian had their share.
    Done(Box<ProvisionOutcome>),
    /// The core stopped; the error says whether the token was changed.
    Failed(E),
    /// The people left before attendance closed: nothing was touched.
    LeftBeforeStart,
    /// The worker thread died (a bug); the message says what to check.
    Broken(String),
}

type Worker<E> = (
    Sender<Reply>,
    JoinHandle<Option<Result<ProvisionOutcome, E>>>,
);

/// Runs the guided provisioning of `script` (read from `script_path`, whose SHA-256 is
/// `script_sha256`). The terminal is restored before it returns.
pub fn run(
    script: ProvisioningScript,
    script_path: &Path,
    script_sha256: String,
    opts: ProvisionOptions,
) -> Ending {
    let script = Arc::new(script);
    let app = ProvisionApp::new(
        Arc::clone(&script),
        script_path.display().to_string(),
        script_sha256,
        opts.out_dir.clone(),
    );
    let out_dir = opts.out_dir.clone();
    drive(app, out_dir, move |mut people| {
        provision_with(&script, &opts, &mut people)
    })
}

/// Runs the guided re-split of `script`: `old` is the old quorum from the token's current
/// record (`opts.record`). The terminal is restored before it returns.
pub fn run_resplit(
    script: ProvisioningScript,
    script_path: &Path,
    script_sha256: String,
    opts: ResplitOptions,
    old: OldQuorum,
) -> Ending<ResplitError> {
    let script = Arc::new(script);
    let app = ProvisionApp::for_resplit(
        Arc::clone(&script),
        script_path.display().to_string(),
        script_sha256,
        opts.out_dir.clone(),
        old,
    );
    let out_dir = opts.out_dir.clone();
    drive(app, out_dir, move |people| {
        let mut people = GuidedResplit::new(people, &opts.share_files);
        resplit_with(&script, &opts, &mut people)
    })
}

/// The loop, with `job` (the core, talking to the people through the `GuidedPeople` it is
/// given) started on a worker thread once attendance closes.
fn drive<E, J>(mut app: ProvisionApp, out_dir: PathBuf, job: J) -> Ending<E>
where
    E: std::fmt::Display + Send + 'static,
    J: FnOnce(GuidedPeople) -> Result<ProvisionOutcome, E> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Wake>();
    crate::tui::terminal::forward_input(tx.clone(), Wake::Input, Wake::InputClosed);
    let mut terminal = ratatui::init();
    app.theme = crate::tui::theme::Theme::detect();
    let mut job = Some(job);
    let mut worker: Option<Worker<E>> = None;
    loop {
        if app.clear_requested {
            crate::tui::terminal::wipe(&mut terminal);
            app.clear_requested = false;
        }
        app.clock = clock_now();
        if terminal
            .draw(|f| {
                screens::draw(f, &app);
                crate::tui::plain_cells(f);
            })
            .is_err()
            || app.quit
        {
            break;
        }
        if app.started {
            if let Some(job) = job.take() {
                worker = Some(start_worker(tx.clone(), out_dir.clone(), job));
            }
        }
        match rx.recv_timeout(crate::tui::terminal::until_next_second()) {
            Ok(Wake::Input(TermEvent::Key(key))) => {
                if let (Some(reply), Some((to_worker, _))) = (app.on_key(key), &worker) {
                    let _ = to_worker.send(reply);
                }
            }
            Ok(Wake::Input(_)) => {} // resize and the rest: the next draw fits the new size
            Ok(Wake::Worker(msg)) => app.on_worker(msg),
            Ok(Wake::InputClosed) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    // Whatever was on screen goes, a share above all, before the terminal is handed back.
    drop(app);
    crate::tui::terminal::wipe(&mut terminal);
    ratatui::restore();
    let Some((to_worker, handle)) = worker else {
        return Ending::LeftBeforeStart;
    };
    // A worker waiting for the people learns they left and stops; one in the middle of HSM
    // work finishes that step first.
    drop(to_worker);
    match handle.join() {
        Ok(Some(Ok(outcome))) => Ending::Done(Box::new(outcome)),
        Ok(Some(Err(e))) => Ending::Failed(e),
        Ok(None) | Err(_) => Ending::Broken(
            "the provisioning worker stopped unexpectedly (a bug); check the token with `pkcs11-tool -L` and the audit log in the output directory before trying again"
                .into(),
        ),
    }
}

fn start_worker<E, J>(to_ui: Sender<Wake>, out_dir: PathBuf, job: J) -> Worker<E>
where
    E: std::fmt::Display + Send + 'static,
    J: FnOnce(GuidedPeople) -> Result<ProvisionOutcome, E> + Send + 'static,
{
    let (reply_tx, reply_rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let people = GuidedPeople::new(to_ui.clone(), reply_rx);
        // A panic must still end the UI's wait: caught here and reported as a broken run.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(people))).ok();
        let shown = match &result {
            Some(Ok(outcome)) => Ok(Summary::of(outcome, out_dir.join(AUDIT_LOG_NAME))),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the provisioning worker stopped unexpectedly (a bug); check the token and the output directory before trying again".into()),
        };
        let _ = to_ui.send(Wake::Worker(FromWorker::Finished(shown)));
        result
    });
    (reply_tx, handle)
}
