//! Styles, with colour where the terminal has it. Colour only repeats what the text already
//! says ([FAIL], REHEARSAL, ...): a console without colour, or NO_COLOR, loses nothing.
use ratatui::style::{Color, Modifier, Style};

/// The screen's styles. Plain uses bold and reverse video only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Theme {
    pub colour: bool,
}

const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
const REVERSED: Style = Style::new().add_modifier(Modifier::REVERSED);

impl Theme {
    pub const PLAIN: Theme = Theme { colour: false };
    pub const COLOUR: Theme = Theme { colour: true };

    /// From this process's environment: see [`Theme::from_env`].
    pub fn detect() -> Theme {
        Theme::from_env(
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        )
    }

    /// No colour when NO_COLOR is set to anything non-empty (no-color.org) or when the
    /// terminal is unknown or "dumb". Everything else, the Linux console included, has the
    /// eight basic colours, the only ones used.
    pub fn from_env(no_color: Option<&std::ffi::OsStr>, term: Option<&std::ffi::OsStr>) -> Theme {
        let refused = no_color.is_some_and(|v| !v.is_empty());
        let known = term.is_some_and(|t| !t.is_empty() && t != "dumb");
        Theme {
            colour: known && !refused,
        }
    }

    fn pick(self, colour: Style, plain: Style) -> Style {
        if self.colour { colour } else { plain }
    }

    /// Header bar: blue for a real ceremony, yellow for a rehearsal.
    pub fn bar(self, rehearsal: bool) -> Style {
        let bg = if rehearsal {
            Color::Yellow
        } else {
            Color::Blue
        };
        let fg = if rehearsal {
            Color::Black
        } else {
            Color::White
        };
        self.pick(
            Style::new().fg(fg).bg(bg).add_modifier(Modifier::BOLD),
            REVERSED.add_modifier(Modifier::BOLD),
        )
    }

    /// Footer with the keys.
    pub fn keys(self) -> Style {
        self.pick(Style::new().fg(Color::Black).bg(Color::White), REVERSED)
    }

    /// Something the tool checked and found good.
    pub fn ok(self) -> Style {
        self.pick(BOLD.fg(Color::Green), BOLD)
    }

    /// Something that failed or was refused.
    pub fn bad(self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            REVERSED,
        )
    }

    /// A line people must act on: a hint, a notice, a word to type.
    pub fn attention(self) -> Style {
        self.pick(BOLD.fg(Color::Yellow), BOLD)
    }

    /// Headings.
    pub fn heading(self) -> Style {
        self.pick(BOLD.fg(Color::Cyan), BOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_where_the_terminal_has_it_and_nobody_refused_it() {
        let t = |no: Option<&str>, term: Option<&str>| {
            Theme::from_env(no.map(OsStr::new), term.map(OsStr::new)).colour
        };
        assert!(t(None, Some("linux")));
        assert!(t(None, Some("xterm-256color")));
        assert!(t(Some(""), Some("linux")), "an empty NO_COLOR is not set");
        assert!(!t(Some("1"), Some("linux")));
        assert!(!t(None, Some("dumb")));
        assert!(!t(None, None));
    }

    #[test]
    fn plain_styles_use_no_colour_at_all() {
        let p = Theme::PLAIN;
        for s in [
            p.bar(true),
            p.bar(false),
            p.keys(),
            p.ok(),
            p.bad(),
            p.attention(),
            p.heading(),
        ] {
            assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
        }
        assert_ne!(Theme::COLOUR.bar(true), Theme::COLOUR.bar(false));
    }
}
