//! The loop: draw, then sleep on one channel until a key, a runner message or the clock's
//! tick (the next whole second) wakes it. The runner works on its own thread.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::Event as TermEvent;

use super::app::App;
use super::people::{Finished, FromRunner, Reply, TuiPeople, Wake};
use super::screens;
use super::widgets::clock_now;
use crate::ceremony::answers::Recovery;
use crate::ceremony::machine::Phase;
use crate::ceremony::runner::{self, Media};
use crate::ceremony::script::CeremonyScript;

/// Runs the ceremony `script_path` with the guided UI. Exit code 0 only when it closed.
pub fn run(
    script_path: &Path,
    media: Media,
    state_dir: &Path,
    recover: Option<Recovery>,
) -> ExitCode {
    let script = match CeremonyScript::load(script_path) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            crate::tell!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let (tx, rx) = mpsc::channel::<Wake>();
    forward_input(tx.clone(), Wake::Input, Wake::InputClosed);
    let mut terminal = ratatui::init();
    let mut app = App::new(script);
    app.theme = super::theme::Theme::detect();
    // An earlier run of this ceremony is put before the room (resume or abort, or: it is
    // over), unless the command line already chose.
    if recover.is_none() {
        match runner::inspect(script_path, state_dir) {
            Ok(found) => app.interrupted = found,
            Err(e) => app.finished = Some(Err(e.to_string())),
        }
    }
    let mut replies: Option<Sender<Reply>> = None;
    loop {
        if app.clear_requested {
            // After a share: nothing of it may linger in the terminal's buffers.
            wipe(&mut terminal);
            app.clear_requested = false;
        }
        app.clock = clock_now();
        if terminal
            .draw(|f| {
                screens::draw(f, &app);
                super::plain_cells(f);
            })
            .is_err()
            || app.quit
        {
            break;
        }
        if app.started && replies.is_none() {
            replies = Some(start_worker(
                tx.clone(),
                script_path.to_owned(),
                media.clone(),
                state_dir.to_owned(),
                recover.or(app.recover),
            ));
        }
        match rx.recv_timeout(until_next_second()) {
            Ok(Wake::Input(TermEvent::Key(key))) => {
                if let (Some(reply), Some(to_runner)) = (app.on_key(key), &replies) {
                    let _ = to_runner.send(reply);
                }
            }
            Ok(Wake::Input(_)) => {} // resize and the rest: the next draw fits the new size
            Ok(Wake::Runner(msg)) => app.on_runner(msg),
            Ok(Wake::InputClosed) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    ratatui::restore();
    // Dropping the reply channel tells a waiting runner the people left: it stops, and the
    // log stays resumable.
    drop(replies);
    match &app.finished {
        Some(Ok(f)) => {
            crate::say!("Ceremony {}.", f.phase.title().to_lowercase());
            crate::say!("  audit log: {}", f.log_path);
            crate::say!("  log head:  {}", f.head);
            for (name, hash) in &f.files {
                crate::say!("  wrote {name} (SHA-256 {hash})");
            }
            if f.phase == Phase::Closed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Some(Err(e)) => {
            crate::tell!("error: {e}");
            ExitCode::from(1)
        }
        None => {
            match &app.interrupted {
                Some(i) if i.is_over() && !app.started => crate::tell!(
                    "ceremony \"{}\" is already {}: nothing was done (one ceremony id makes one key)",
                    i.ceremony_id,
                    i.phase.title().to_lowercase()
                ),
                Some(_) if !app.started => crate::tell!(
                    "left before choosing: the interrupted ceremony stays as it was; start it again to resume or abort it"
                ),
                _ => crate::tell!(
                    "the ceremony was left before its end: start it again to resume or abort"
                ),
            }
            ExitCode::from(1)
        }
    }
}

/// Clears the screen and the terminal's scrollback, so nothing of a share stays behind.
///
/// Not `Terminal::clear`: it first asks the terminal where the cursor is, and the answer goes
/// to the input thread's blocking read, so it waits two seconds, fails, and clears nothing.
/// Instead the escape sequences go straight out, then a blank frame brings ratatui's idea of
/// the screen in line (and overwrites its copies of the share's cells), so the next frame is
/// drawn whole.
pub fn wipe(terminal: &mut ratatui::DefaultTerminal) {
    let backend = terminal.backend_mut();
    let _ = crossterm::execute!(
        backend,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::Purge)
    );
    let _ = std::io::Write::flush(backend);
    let _ = terminal.draw(|_| {});
}

/// Sends each terminal event to `to` (wrapped by `input`) from a thread that blocks in
/// read(): no polling. `closed` goes last when the terminal goes away. Ends with the process,
/// or when nobody listens any more.
pub fn forward_input<W: Send + 'static>(to: Sender<W>, input: fn(TermEvent) -> W, closed: W) {
    std::thread::spawn(move || {
        loop {
            match crossterm::event::read() {
                Ok(ev) => {
                    if to.send(input(ev)).is_err() {
                        break;
                    }
                }
                Err(_) => {
                    let _ = to.send(closed);
                    break;
                }
            }
        }
    });
}

/// How long until the clock shows the next second.
pub fn until_next_second() -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_millis(1000 - u64::from(now.subsec_millis())).max(Duration::from_millis(10))
}

fn start_worker(
    to_ui: Sender<Wake>,
    script: PathBuf,
    media: Media,
    state_dir: PathBuf,
    recover: Option<Recovery>,
) -> Sender<Reply> {
    let (reply_tx, reply_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut people = TuiPeople::new(to_ui.clone(), reply_rx);
        let result = runner::run_with(&script, &mut people, media, &state_dir, recover);
        let msg = result
            .map(|o| Finished {
                phase: o.state.phase,
                log_path: o.log_path.display().to_string(),
                head: o.head.clone(),
                files: o
                    .files
                    .iter()
                    .map(|(f, hash)| (f.display().to_string(), hash.clone()))
                    .collect(),
            })
            .map_err(|e| e.to_string());
        let _ = to_ui.send(Wake::Runner(FromRunner::Finished(msg)));
    });
    reply_tx
}
