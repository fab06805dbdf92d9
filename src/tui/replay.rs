//! `audit replay` in the terminal: the ceremony screens as the people saw them, one step per
//! log entry, drawn by the very same [`screens::draw`] from an [`App`] rebuilt from the step.
//! The bottom three lines (the live UI's status line and key legend, whose keys do nothing
//! here) become the replay bar: REPLAY (read-only), event i of n, its UTC time, its kind and
//! actor, and the replay's keys.
//!
//! Read-only by construction: this module holds a finished [`Replay`] and a terminal, nothing
//! that writes a file or reaches an HSM. The loop sleeps in the terminal's read until a key.
use std::sync::Arc;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::App;
use super::people::{Finished, FromRunner};
use super::screens;
use super::theme::Theme;
use crate::audit::replay::{Nav, Replay, Step};
use crate::ceremony::runner::{Media, View};
use crate::ceremony::script::CeremonyScript;

const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
const REVERSED: Style = Style::new().add_modifier(Modifier::REVERSED);

/// Rows the replay bar takes at the bottom: the live UI's status line and its two-line footer.
const BAR_ROWS: u16 = 3;
/// Rows of the live UI's header, kept above the help and event-list overlays.
const HEADER_ROWS: u16 = 2;

const MEDIUM_NOT_IN_LOG: &str = "(not recorded in the log)";

const LEGEND: &str = "Left/Right n/p: step  Home/End  g: go to  l: list  ?: help  q: quit";

const HELP: &str = "This is a replay of a ceremony's audit log, read-only: nothing is written and no HSM is used. \
Each entry of the log is one step. The screen is the ceremony screen the people saw right after that entry, \
rebuilt by folding the log through the same state machine that ran the ceremony. \
The bottom lines give the entry's number, its time (UTC, as logged), its kind, who caused it \
(\"tool\" when the tool did it itself) and what it records.\n\n\
Right, n: next entry.  Left, p: previous entry.  Home, End: first and last.  \
g: go to an entry (type its number, then Enter; Esc cancels).  l: the list of entries.  \
?: this help (Esc closes it).  q: quit.";

/// The replay being shown, and where the viewer is in it.
#[derive(Debug)]
pub struct Player {
    replay: Replay,
    script: Arc<CeremonyScript>,
    /// The log's name as given, for the summary screen.
    log_name: String,
    pub nav: Nav,
    pub help: bool,
    pub list: bool,
    /// Digits typed after `g`.
    pub jump: Option<String>,
    /// A line about the last key (a number out of range).
    pub hint: Option<String>,
    pub quit: bool,
    /// Colour or plain, as the live UI (plain until the run loop looks at the terminal).
    pub theme: Theme,
}

impl Player {
    pub fn new(replay: Replay, script: Arc<CeremonyScript>, log_name: String) -> Player {
        let nav = Nav::new(replay.steps.len());
        Player {
            replay,
            script,
            log_name,
            nav,
            help: false,
            list: false,
            jump: None,
            hint: None,
            quit: false,
            theme: Theme::PLAIN,
        }
    }

    /// The step on screen.
    pub fn step(&self) -> &Step {
        &self.replay.steps[self.nav.at()]
    }

    /// A key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        self.hint = None;
        if let Some(typed) = self.jump.as_mut() {
            match key.code {
                KeyCode::Char(c) if c.is_ascii_digit() && typed.len() < 9 => typed.push(c),
                KeyCode::Backspace => {
                    typed.pop();
                }
                KeyCode::Esc => self.jump = None,
                KeyCode::Enter => {
                    let typed = self.jump.take().unwrap_or_default();
                    let number = typed.parse::<usize>().unwrap_or(0);
                    if let Err(e) = self.nav.go_to(number) {
                        self.hint = Some(e);
                    }
                }
                _ => {}
            }
            return;
        }
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Right | KeyCode::Char('n') => self.nav.forward(),
            KeyCode::Left | KeyCode::Char('p') => self.nav.back(),
            KeyCode::Down if self.list => self.nav.forward(),
            KeyCode::Up if self.list => self.nav.back(),
            KeyCode::Home => self.nav.first(),
            KeyCode::End => self.nav.last(),
            KeyCode::Char('g') => self.jump = Some(String::new()),
            KeyCode::Char('l') => {
                self.list = !self.list;
                self.help = false;
            }
            KeyCode::Char('?') => {
                self.help = !self.help;
                self.list = false;
            }
            KeyCode::Esc => {
                self.help = false;
                self.list = false;
            }
            _ => {}
        }
    }

    /// The ceremony UI's state as it stood after the current step.
    pub fn app(&self) -> App {
        let mut app = app_for(
            &self.replay,
            self.nav.at(),
            &self.script,
            self.log_name.clone(),
        );
        app.theme = self.theme;
        app
    }

    /// Draws the ceremony screen, then the replay's overlays and bar over it.
    pub fn draw(&self, frame: &mut Frame) {
        screens::draw(frame, &self.app());
        let area = frame.area();
        let bar_rows = BAR_ROWS.min(area.height);
        let bar = Rect {
            y: area.y + area.height - bar_rows,
            height: bar_rows,
            ..area
        };
        let body = Rect {
            y: area.y + HEADER_ROWS.min(area.height),
            height: area.height.saturating_sub(HEADER_ROWS + bar_rows),
            ..area
        };
        if self.help {
            overlay(frame, body, "Replay help", help_lines());
        } else if self.list {
            overlay(
                frame,
                body,
                "Entries (l: close)",
                self.list_lines(body.height),
            );
        }
        if let Some(u) = &self.replay.unverified {
            if body.height > 0 {
                let banner = Rect {
                    y: body.y + body.height - 1,
                    height: 1,
                    ..body
                };
                let here = if u.named == Some(self.nav.at()) {
                    "audit verify names THIS entry: "
                } else {
                    ""
                };
                let stopped = match (&u.stopped, self.nav.at() + 1 == self.nav.len()) {
                    (Some(s), true) => format!("{s}; "),
                    _ => String::new(),
                };
                frame.render_widget(Clear, banner);
                frame.render_widget(
                    Paragraph::new(format!(" NOT VERIFIED: {here}{stopped}{}", u.problem))
                        .style(self.theme.bad()),
                    banner,
                );
            }
        }
        frame.render_widget(Clear, bar);
        frame.render_widget(Paragraph::new(self.bar_lines()), bar);
    }

    fn bar_lines(&self) -> Vec<Line<'static>> {
        let step = self.step();
        let role = step
            .entry
            .role
            .filter(|_| step.entry.actor.is_some())
            .map(|r| format!(" ({})", crate::audit::verify::role_name(Some(r))))
            .unwrap_or_default();
        let unverified = if self.replay.unverified.is_some() {
            " NOT VERIFIED"
        } else {
            ""
        };
        let top = Line::styled(
            format!(
                " REPLAY (read-only){unverified}  entry seq {} of 0-{}  {}",
                step.entry.seq,
                self.nav.len() - 1,
                when(&step.entry.utc)
            ),
            self.theme.bar(self.script.rehearsal),
        );
        let what = match &self.hint {
            Some(hint) => Line::styled(format!(" {hint}"), self.theme.attention()),
            None => Line::styled(
                format!(
                    " {} by {}{role}: {}",
                    step.kind(),
                    step.actor(),
                    step.describe()
                ),
                self.theme.attention(),
            ),
        };
        let keys = match &self.jump {
            Some(typed) => format!(
                " Go to entry seq (0-{}): {typed}_  Enter: go  Esc: cancel",
                self.nav.len() - 1
            ),
            None if self.help => " Esc or ?: close help  q: quit".to_owned(),
            None => format!(" {LEGEND}"),
        };
        vec![top, what, Line::styled(keys, self.theme.keys())]
    }

    /// The entries around the current one, one line each, as many as fit `rows` (the pane's
    /// top border takes one).
    fn list_lines(&self, rows: u16) -> Vec<Line<'static>> {
        let fit = usize::from(rows.saturating_sub(1)).max(1);
        let steps = &self.replay.steps;
        let start = self
            .nav
            .at()
            .saturating_sub(fit / 2)
            .min(steps.len().saturating_sub(fit));
        steps
            .iter()
            .enumerate()
            .skip(start)
            .take(fit)
            .map(|(i, s)| {
                let here = i == self.nav.at();
                let time = s.entry.utc.get(11..19).unwrap_or(&s.entry.utc);
                let text = format!(
                    "{}{:>4}  {time}  {:<24} {}",
                    if here { "> " } else { "  " },
                    s.entry.seq,
                    s.kind(),
                    s.actor()
                );
                if here {
                    Line::styled(text, REVERSED)
                } else {
                    Line::raw(text)
                }
            })
            .collect()
    }
}

/// A logged time for people: `2026-11-29 14:23:57.881 UTC` (as logged if it is not in the
/// tool's form, which only a log that does not verify can hold).
fn when(utc: &str) -> String {
    match utc.strip_suffix('Z') {
        Some(t) if t.len() == 23 && t.as_bytes()[10] == b'T' => {
            format!("{} {} UTC", &t[..10], &t[11..])
        }
        _ => utc.to_owned(),
    }
}

fn help_lines() -> Vec<Line<'static>> {
    HELP.split('\n').map(|l| Line::raw(l.to_owned())).collect()
}

fn overlay(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'static>>) {
    if area.height == 0 {
        return;
    }
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::new()
                    .borders(Borders::TOP)
                    .title(Line::styled(format!(" {title} "), BOLD)),
            )
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// The live UI's state after step `at`, built from the message the runner sent the UI then
/// (an update, a question with the problem it reported, or a typed confirmation), and the
/// summary once the run was over. The clock shows the entry's logged time.
pub fn app_for(replay: &Replay, at: usize, script: &Arc<CeremonyScript>, log_name: String) -> App {
    let step = &replay.steps[at];
    let mut app = App::new(Arc::clone(script));
    app.started = true;
    app.preflight_seen = step.preflight_seen;
    app.export_seen = step.export_seen;
    app.clock = step.entry.utc.get(11..19).unwrap_or("--:--:--").to_owned();
    let view = Box::new(View {
        state: step.state.clone(),
        facts: step.facts.clone(),
        script: Arc::clone(script),
        // Where the media were mounted is not in the log (nor in the script).
        media: Media {
            kek: MEDIUM_NOT_IN_LOG.into(),
            out: MEDIUM_NOT_IN_LOG.into(),
            second: None,
            roots: Vec::new(),
            sums: None,
        },
        log_head: step.entry.hash.clone(),
        log_len: at as u64 + 1,
        last_event: Some(step.kind()),
        checks: step.checks.clone(),
        notice: None,
        // The media offered then were not logged; the KEK's event names the file used.
        kek_media: Vec::new(),
    });
    app.on_runner(match &step.approval {
        Some(effect) => FromRunner::Approve {
            view,
            effect: effect.clone(),
        },
        None if step.waiting => FromRunner::Ask {
            view,
            problem: step.problem.clone(),
        },
        None => FromRunner::Update(view),
    });
    // The person the entry names is the one the cursor was on when they acted.
    if let Some(i) = step
        .entry
        .actor
        .as_ref()
        .and_then(|who| app.choices().iter().position(|n| n == who))
    {
        app.cursor = i;
    }
    // The run was over once its last entry was in: the live UI then showed the summary.
    if at + 1 == replay.steps.len() && step.state.is_final() {
        app.on_runner(FromRunner::Finished(Ok(Finished {
            phase: step.state.phase,
            log_path: log_name,
            head: step.entry.hash.clone(),
            files: step
                .state
                .exported
                .iter()
                .map(|f| (f.name.clone(), f.sha256.clone()))
                .collect(),
        })));
    }
    app
}

/// Runs the replay in the terminal until q. Sleeps in the terminal's read between keys.
pub fn run(player: &mut Player) -> std::io::Result<()> {
    player.theme = Theme::detect();
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            let _ = ratatui::try_restore();
            return Err(e);
        }
    };
    let result = (|| -> std::io::Result<()> {
        loop {
            terminal.draw(|f| {
                player.draw(f);
                super::plain_cells(f);
            })?;
            if player.quit {
                return Ok(());
            }
            // Blocks until the next key. A resize (or anything else) only needs the redraw
            // at the top of the loop.
            if let TermEvent::Key(key) = crossterm::event::read()? {
                player.on_key(key);
            }
        }
    })();
    ratatui::restore();
    result
}
