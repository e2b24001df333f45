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
    /// The findings this one absorbed ("one hazard, one finding"), as their own rules reported
    /// them: when this finding's rule is turned off or not selected, they stand in for it, so
    /// the hazard is not lost with it.
    pub also: Vec<Finding>,
}

/// A rule's raw report: where the offending call starts and the whole statement it spans, so a
/// `# noqa` on any line of a multi-line call suppresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub code: &'static str,
    pub start: TextSize,
    pub span: TextRange,
    pub message: String,
    /// Set when another rule reports the same hazard more specifically: this hit is then
    /// dropped and named in that rule's message ("one hazard, one finding"). When several are
    /// named, the first one that is reported takes it.
    pub yields_to: Vec<Yield>,
}

/// The more specific hit a [`Hit`] gives way to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yield {
    pub code: &'static str,
    /// `Some`: only a hit of `code` at this call; `None`: any hit of `code` in the file.
    pub at: Option<TextSize>,
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
            yields_to: Vec::new(),
        }
    }

    /// This hit gives way to a hit of `code` at the same call, when there is one.
    pub fn yielding_at_call(mut self, code: &'static str) -> Self {
        let at = Some(self.start);
        self.yields_to.push(Yield { code, at });
        self
    }

    /// This hit gives way to any hit of `code` in the file, when there is one.
    pub fn yielding_in_file(mut self, code: &'static str) -> Self {
        self.yields_to.push(Yield { code, at: None });
        self
    }
}
