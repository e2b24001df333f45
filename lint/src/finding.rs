//! What a rule reports. Rules produce [`Hit`]s (byte offsets); `lint_file` turns them into
//! [`Finding`]s (line and column) after suppression, so every finding has a real position.

use crate::Severity;
use rustpython_parser::text_size::{TextRange, TextSize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub revision: Option<String>,
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
}

/// A rule's raw report: where the offending call starts and the whole statement it spans, so a
/// `# noqa` on any line of a multi-line call suppresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub code: &'static str,
    pub start: TextSize,
    pub span: TextRange,
    pub message: String,
}

impl Hit {
    pub fn new(
        code: &'static str,
        start: TextSize,
        span: TextRange,
        message: impl Into<String>,
    ) -> Self {
        Hit {
            code,
            start,
            span,
            message: message.into(),
        }
    }
}
