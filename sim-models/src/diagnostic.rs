//! Problems found in a scenario file, each pointing at a file, line:column and field.

use std::fmt;

use crate::locate::Position;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem at one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub at: Position,
    /// Path of the field, e.g. `services[1].workers`; empty for syntax errors.
    pub field: String,
    pub message: String,
}

impl Diagnostic {
    pub fn error(at: Position, field: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            at,
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn warning(at: Position, field: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            at,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// All problems found in one file, in file order. As an error it holds at least one
/// `Severity::Error`; warnings found alongside are kept so the user sees everything at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics {
    pub file: String,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: &str, mut items: Vec<Diagnostic>) -> Self {
        items.sort_by_key(|d| (d.at.line, d.at.col, d.severity));
        Diagnostics {
            file: file.to_string(),
            items,
        }
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for Diagnostics {
    /// One line per problem: `file:line:col: error: field `path`: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let kind = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            write!(
                f,
                "{}:{}:{}: {kind}: ",
                escape(&self.file),
                d.at.line,
                d.at.col
            )?;
            if !d.field.is_empty() {
                write!(f, "field `{}`: ", escape(&d.field))?;
            }
            write!(f, "{}", escape(&d.message))?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// `text` with control characters written as escapes (`\u{1b}`, `\n`): a diagnostic
/// quotes the input, and the input must not be able to drive the terminal or forge lines.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// The known name closest to `name` by edit distance, if it is plausibly a typo.
pub fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        // A plausible typo: a few edits, and fewer edits than the name has letters.
        .filter(|&(d, k)| d <= 2.max(k.len() / 3) && d < name.chars().count())
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(escape("db"), "db");
        assert_eq!(escape("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
        let d = Diagnostics::new(
            "f\r.ron",
            vec![Diagnostic::error(
                Position { line: 1, col: 2 },
                "services[0].name",
                "name `\u{7}x` is bad",
            )],
        );
        assert_eq!(
            d.to_string(),
            "f\\r.ron:1:2: error: field `services[0].name`: name `\\u{7}x` is bad"
        );
    }
}
