//! The loop: draw, then sleep on one channel until a key, a worker message or the clock's
//! tick (the next whole second) wakes it. The provisioning core runs on its own thread and
//! blocks on the UI only where people decide (the confirmation, each hand-out).
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;

use crossterm::event::Event as TermEvent;

use super::app::ProvisionApp;
use super::people::{FromWorker, GuidedPeople, Reply, Summary, Wake};
use super::screens;
use crate::quorum::provision::{
    AUDIT_LOG_NAME, ProvisionError, ProvisionOptions, ProvisionOutcome, provision_with,
};
use crate::quorum::script::ProvisioningScript;
use crate::tui::widgets::clock_now;

/// How a guided provisioning ended.
#[derive(Debug)]
pub enum Ending {
    /// Provisioned, verified, and every custodian had their share.
    Done(Box<ProvisionOutcome>),
    /// The core stopped; the error says whether the token was changed.
    Failed(ProvisionError),
    /// The people left before attendance closed: nothing was touched.
    LeftBeforeStart,
    /// The worker thread died (a bug); the message says what to check.
    Broken(String),
}

type Worker = (
    Sender<Reply>,
    JoinHandle<Option<Result<ProvisionOutcome, ProvisionError>>>,
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
    let (tx, rx) = mpsc::channel::<Wake>();
    crate::tui::terminal::forward_input(tx.clone(), Wake::Input, Wake::InputClosed);
    let mut terminal = ratatui::init();
    let mut app = ProvisionApp::new(
        Arc::clone(&script),
        script_path.display().to_string(),
        script_sha256,
        opts.out_dir.clone(),
    );
    app.theme = crate::tui::theme::Theme::detect();
    let mut worker: Option<Worker> = None;
    loop {
        if app.clear_requested {
            crate::tui::terminal::wipe(&mut terminal);
            app.clear_requested = false;
        }
        app.clock = clock_now();
        if terminal.draw(|f| screens::draw(f, &app)).is_err() || app.quit {
            break;
        }
        if app.started && worker.is_none() {
            worker = Some(start_worker(tx.clone(), Arc::clone(&script), opts.clone()));
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

fn start_worker(
    to_ui: Sender<Wake>,
    script: Arc<ProvisioningScript>,
    opts: ProvisionOptions,
) -> Worker {
    let (reply_tx, reply_rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut people = GuidedPeople::new(to_ui.clone(), reply_rx);
        // A panic must still end the UI's wait: caught here and reported as a broken run.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            provision_with(&script, &opts, &mut people)
        }))
        .ok();
        let shown = match &result {
            Some(Ok(outcome)) => Ok(Summary::of(outcome, opts.out_dir.join(AUDIT_LOG_NAME))),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the provisioning worker stopped unexpectedly (a bug); check the token and the output directory before trying again".into()),
        };
        let _ = to_ui.send(Wake::Worker(FromWorker::Finished(shown)));
        result
    });
    (reply_tx, handle)
}
