//! Strict TOML for ceremony scripts, provisioning scripts and answers files: one place that
//! turns a parse error into the line and column a person can find in their editor.
#![forbid(unsafe_code)]

use serde::de::DeserializeOwned;

/// A TOML syntax or type error, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses `text` into `T` (whose `deny_unknown_fields` makes unknown keys errors).
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, TomlError> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        TomlError {
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based() {
        assert_eq!(line_col("a\nbc\n", 0), (1, 1));
        assert_eq!(line_col("a\nbc\n", 3), (2, 2));
        assert_eq!(line_col("a", 99), (1, 2));
    }

    #[test]
    fn a_syntax_error_is_located() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            a: u32,
        }
        let e = parse::<T>("a = 1\nb = = 2\n").expect_err("bad");
        assert_eq!(e.line, 2);
    }
}
