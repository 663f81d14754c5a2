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
            write!(f, "{}:{}:{}: {kind}: ", self.file, d.at.line, d.at.col)?;
            if !d.field.is_empty() {
                write!(f, "field `{}`: ", d.field)?;
            }
            write!(f, "{}", d.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
