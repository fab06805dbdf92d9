//! The guided terminal UI: the people in the room see where they are, what to do next and
//! what the tool has just verified.
//!
//! State, input handling and drawing live apart: [`app::App`] holds what is on screen and
//! turns keys into the runner's [`Action`](crate::ceremony::runner::Action)s, [`screens`]
//! draws an `App` (and nothing else), and [`terminal`] runs the loop. The runner (HSM, media,
//! audit log) runs on a worker thread behind [`people::TuiPeople`], the UI's side of the
//! runner's `People` seam; the UI thread sleeps on one channel until a key, a result or the
//! clock's tick arrives.
//!
//! Secrets are never drawn: a share being typed lives only in the input handler's
//! `Zeroizing<String>` and the screen shows a count of bullets; the terminal is cleared after
//! each share.
#![forbid(unsafe_code)]

pub mod app;
pub mod outputs;
pub mod people;
pub mod picker;
pub mod provision;
pub mod replay;
pub mod screens;
pub mod share_entry;
pub mod terminal;
pub mod theme;
pub mod widgets;

pub use terminal::run;

/// Makes every cell of a drawn frame plain text: a control or invisible character that came
/// from a file (a name in a replayed log, a token's label, a kid) is drawn as `?` instead of
/// reaching the terminal, where ESC or BEL would act. Called at the end of every draw.
pub fn plain_cells(frame: &mut ratatui::Frame) {
    for cell in frame.buffer_mut().content.iter_mut() {
        if cell.symbol().chars().any(crate::text::acts_unseen) {
            cell.set_symbol("?");
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::widgets::Paragraph;

    #[test]
    fn no_control_character_reaches_the_terminal() {
        let mut terminal = Terminal::new(TestBackend::new(20, 1)).expect("terminal");
        terminal
            .draw(|f| {
                let area = f.area();
                f.render_widget(Paragraph::new("ab\u{1b}]0;x\u{7}c\u{202e}d"), area);
                super::plain_cells(f);
            })
            .expect("draw");
        let drawn: String = terminal
            .backend()
            .buffer()
            .content
            .iter()
            .map(|c| c.symbol().to_owned())
            .collect();
        assert!(!drawn.chars().any(crate::text::acts_unseen), "{drawn:?}");
        assert!(drawn.starts_with("ab"), "{drawn:?}");
    }
}
