//! Problems found while reading a project: each names the file and line so the user can go there.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    Syntax,
    NotUtf8,
    Unreadable,
    NotLiteral,
    DuplicateId,
    MissingParent,
    MissingDependency,
    DuplicateBranchLabel,
    Cycle,
    /// SQL-file migrations: two files share a version (both are named in the message).
    DuplicateVersion,
    /// SQL-file migrations: an up script without the down script its tool expects.
    MissingDown,
    /// SQL-file migrations: a down script without its up script, a diesel folder without
    /// `up.sql`, a dbmate file without `-- migrate:up`.
    MissingUp,
    /// SQL-file migrations: a version the tool cannot parse.
    BadVersion,
    /// SQL-file migrations numbered 1, 2, 3, ... with a number missing.
    VersionGap,
    /// A file or its settings the tool refuses or misreads (dbmate markers out of order, an
    /// invalid Flyway `.conf`, a Django migration module without a `Migration` class, a Django
    /// migrations folder without `__init__.py`, ...).
    Malformed,
    /// SQL-file migrations: a script the tool refuses because it is empty (diesel).
    EmptyScript,
    /// Django migrations: several leaf nodes in one app (`makemigrations --merge` joins them).
    ConflictingLeaves,
    /// Django migrations: a squash Django cannot use cleanly (some of the migrations it replaces
    /// are on disk and some are not, or another squash replaces it while it still replaces
    /// migrations).
    BadSquash,
}

/// A defect in a project that makes its graph untrustworthy; reported, never panicked on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The revision the problem belongs to, when it is known.
    pub revision: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn new(kind: ProblemKind, path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Problem {
            kind,
            path: path.into(),
            line: None,
            column: None,
            revision: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, line: usize, column: Option<usize>) -> Self {
        self.line = Some(line);
        self.column = column;
        self
    }

    pub fn of(mut self, revision: impl Into<String>) -> Self {
        self.revision = Some(revision.into());
        self
    }
}

/// A path as a user should read it in a message: relative to the working directory when inside it,
/// with control characters escaped (a file name can hold any byte but `/` and NUL).
pub fn shown(path: &Path) -> String {
    let path = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    crate::escape(&path.display().to_string()).into_owned()
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", shown(&self.path))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", crate::escape(&self.message))
    }
}
