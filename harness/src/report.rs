//! Verdicts: what a failed trial tells the user, naming revision, database, object, before and
//! after, and how to reproduce it.

use crate::failure::Failure;
use std::fmt::{self, Write as _};

/// Why a trial failed. Every failure is kept, so one run reports every difference it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub db: Box<str>,
    pub revision: String,
    pub message: Option<Box<str>>,
    pub failures: Vec<Failure>,
    pub seed: u64,
    /// The test's name when it is not `<db>::<revision>` (`drift::sqlite`).
    pub test: Option<Box<str>>,
    /// What the reproduce line runs, before the test name (see `Settings::reproduce`).
    pub command: Box<str>,
}

/// Lines shown per failure; the rest are counted, so a table of 10,000 rows stays readable.
const MAX_LINES: usize = 20;

impl Verdict {
    pub fn new(db: &str, revision: &str, message: Option<&str>, seed: u64) -> Self {
        Verdict {
            db: db.into(),
            revision: revision.to_string(),
            message: message.map(Into::into),
            failures: Vec::new(),
            seed,
            test: None,
            command: "mrt test".into(),
        }
    }

    /// The command its reproduce line starts with.
    pub fn with_command(mut self, command: &str) -> Self {
        self.command = command.into();
        self
    }

    pub fn add(&mut self, failure: Failure) {
        self.failures.push(failure);
    }

    /// Whether the rows were not restored (what shrinking works on).
    pub fn lost_data(&self) -> bool {
        (self.failures.iter()).any(|f| matches!(f, Failure::DataNotRestored(_)))
    }

    pub fn is_empty(&self) -> bool {
        self.failures.is_empty()
    }

    fn test_name(&self) -> String {
        match &self.test {
            Some(name) => name.to_string(),
            None => format!("{}::{}", self.db, self.revision),
        }
    }

    fn render(&self) -> Result<String, fmt::Error> {
        let mut f = String::new();
        let about = self
            .message
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        match &self.test {
            Some(_) => writeln!(f, "{}{about} on {}:", self.revision, self.db)?,
            None => writeln!(f, "revision {}{about} on {}:", self.revision, self.db)?,
        }
        for failure in &self.failures {
            writeln!(f, "  {}", failure.title())?;
            let lines = failure.lines();
            for line in lines.iter().take(MAX_LINES) {
                for (i, part) in line.lines().enumerate() {
                    let indent = if i == 0 { "    " } else { "      " };
                    writeln!(f, "{indent}{part}")?;
                }
            }
            if lines.len() > MAX_LINES {
                writeln!(f, "    ... and {} more", lines.len() - MAX_LINES)?;
            }
        }
        write!(
            f,
            "  reproduce: MRT_SEED={} {} '{}' --exact",
            self.seed,
            self.command,
            self.test_name()
        )?;
        Ok(f)
    }
}

/// The text is scrubbed of known passwords here, once, since lines come from user code and
/// drivers (an error echoing `$DATABASE_URL`).
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mrt_db::scrub_secrets(&self.render()?))
    }
}
