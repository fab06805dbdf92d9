//! The first screen of `byok-ceremony` without a command: the ceremony scripts found
//! (ceremony-scripts/, then mounted media), one to choose. State and keys here, drawing in
//! [`draw`], and a loop that blocks on the next key (nothing runs while people read).
use std::path::PathBuf;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::theme::Theme;
use super::widgets::hex_groups;

/// What a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    /// `byok-ceremony run`: generate, wrap and export a key.
    Ceremony,
    /// `byok-ceremony provision`: put a token under quorum control.
    Provisioning,
}

/// A script found on disk, with what people need to pick the right one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundScript {
    pub path: PathBuf,
    pub kind: ScriptKind,
    pub ceremony_id: String,
    pub rehearsal: bool,
    /// What the ceremony makes, e.g. "RSA-HSM 3072 bits", or the quorum a provisioning sets.
    pub target: String,
    pub sha256: String,
}

/// What the people chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Run(PathBuf),
    Quit,
}

#[derive(Debug)]
pub struct Picker {
    pub found: Vec<FoundScript>,
    pub cursor: usize,
    pub help: bool,
    pub theme: Theme,
}

impl Picker {
    pub fn new(found: Vec<FoundScript>) -> Picker {
        Picker {
            found,
            cursor: 0,
            help: false,
            theme: Theme::PLAIN,
        }
    }

    /// A key press: a choice once one is made.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Choice> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Choice::Quit);
        }
        if self.help {
            self.help = !matches!(key.code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter);
            return None;
        }
        match key.code {
            KeyCode::Up => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Down if self.cursor + 1 < self.found.len() => self.cursor += 1,
            KeyCode::Enter => {
                return self
                    .found
                    .get(self.cursor)
                    .map(|f| Choice::Run(f.path.clone()));
            }
            KeyCode::Char('q') | KeyCode::Esc => return Some(Choice::Quit),
            KeyCode::Char('?') => self.help = true,
            _ => {}
        }
        None
    }
}

const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);

/// Draws the list (or its help) with the same header and footer bars as the ceremony.
pub fn draw(frame: &mut Frame, picker: &Picker) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let rehearsal = picker.found.get(picker.cursor).is_some_and(|f| f.rehearsal);
    frame.render_widget(
        Paragraph::new(" byok-ceremony | Choose the ceremony script")
            .style(picker.theme.bar(rehearsal)),
        header,
    );
    let keys = if picker.help {
        " Esc or ?: close help"
    } else {
        " Up/Down: choose  Enter: start this ceremony  q: quit  ?: help"
    };
    frame.render_widget(Paragraph::new(keys).style(picker.theme.keys()), footer);
    let block = Block::new().borders(Borders::TOP);
    if picker.help {
        let help = vec![
            Line::styled("Which script?", BOLD),
            Line::raw("Scripts are read from ceremony-scripts/ in this directory, then from"),
            Line::raw("ceremony-scripts/ on each mounted medium (/media/*, /mnt/*)."),
            Line::raw("Start the one the ceremony plan names, and compare its SHA-256 with the"),
            Line::raw("signed paper copy before anyone goes on: the next screen shows it whole."),
        ];
        frame.render_widget(
            Paragraph::new(help)
                .block(block.title(" Help "))
                .wrap(Wrap { trim: false }),
            body,
        );
        return;
    }
    let mut lines = Vec::new();
    if picker.found.is_empty() {
        lines.push(Line::raw(
            "No ceremony script was found in ceremony-scripts/ or on a mounted medium.",
        ));
        lines.push(Line::raw(
            "Mount the medium that holds the script, or run `byok-ceremony run SCRIPT`.",
        ));
    }
    // Each script takes two lines (three when selected); scroll to keep the cursor shown.
    let fits = (usize::from(body.height.saturating_sub(3)) / 2).max(1);
    let first = (picker.cursor + 1).saturating_sub(fits);
    if first > 0 {
        lines.push(Line::raw(format!("  ({first} more above)")));
    }
    for (i, f) in picker.found.iter().enumerate().skip(first).take(fits) {
        let selected = i == picker.cursor;
        let marker = if selected { "> " } else { "  " };
        let style = if selected {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        let kind = match (f.kind, f.rehearsal) {
            (ScriptKind::Ceremony, true) => "rehearsal",
            (ScriptKind::Ceremony, false) => "CEREMONY",
            (ScriptKind::Provisioning, true) => "PROV rehearsal",
            (ScriptKind::Provisioning, false) => "PROVISION",
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{marker}{:<24}", f.ceremony_id), style),
            Span::raw(format!(" {kind:<14} {}", f.target)),
        ]));
        lines.push(Line::raw(format!("    {}", f.path.display())));
        if selected {
            let short: String = f.sha256.chars().take(16).collect();
            lines.push(Line::raw(format!("    SHA-256 {} ...", hex_groups(&short))));
        }
    }
    let below = picker.found.len().saturating_sub(first + fits);
    if below > 0 {
        lines.push(Line::raw(format!("  ({below} more below)")));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block.title(Span::styled(" Ceremony scripts found ", BOLD)))
            .wrap(Wrap { trim: false }),
        body,
    );
}

/// Shows the list until a choice; blocks on each key (no clock here, so no ticks).
pub fn choose(found: Vec<FoundScript>) -> std::io::Result<Choice> {
    let mut picker = Picker::new(found);
    picker.theme = Theme::detect();
    let mut terminal = ratatui::init();
    let choice = loop {
        if let Err(e) = terminal.draw(|f| {
            draw(f, &picker);
            super::plain_cells(f);
        }) {
            break Err(e);
        }
        match crossterm::event::read() {
            Ok(TermEvent::Key(key)) => {
                if let Some(choice) = picker.on_key(key) {
                    break Ok(choice);
                }
            }
            Ok(_) => {} // a resize: the next draw fits the new size
            Err(e) => break Err(e),
        }
    };
    ratatui::restore();
    choice
}
