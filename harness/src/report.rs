//! Verdicts: what a failed trial tells the user, naming revision, database, object, before and
//! after, and how to reproduce it.

use std::fmt;

/// Why a trial failed. Sections are kept apart so one run reports every difference it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub db: String,
    pub revision: String,
    pub message: Option<String>,
    pub sections: Vec<Section>,
    pub seed: u64,
    /// The test's name when it is not `<db>::<revision>` (`drift::sqlite`).
    pub test: Option<Box<str>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub lines: Vec<String>,
}

/// Lines shown per section; the rest are counted, so a table of 10,000 rows stays readable.
const MAX_LINES: usize = 20;

impl Verdict {
    pub fn new(db: &str, revision: &str, message: Option<&str>, seed: u64) -> Self {
        Verdict {
            db: db.to_string(),
            revision: revision.to_string(),
            message: message.map(String::from),
            sections: Vec::new(),
            seed,
            test: None,
        }
    }

    /// Adds a section; every text is scrubbed of known passwords here, once, since lines come
    /// from user code and drivers (an error echoing `$DATABASE_URL`).
    pub fn add(&mut self, title: impl Into<String>, lines: Vec<String>) {
        self.sections.push(Section {
            title: mrt_db::scrub_secrets(&title.into()),
            lines: lines.iter().map(|l| mrt_db::scrub_secrets(l)).collect(),
        });
    }

    /// Whether a section with this title was recorded.
    pub fn has(&self, title: &str) -> bool {
        self.sections.iter().any(|s| s.title == title)
    }

    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let about = self
            .message
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        match &self.test {
            Some(_) => writeln!(f, "{}{about} on {}:", self.revision, self.db)?,
            None => writeln!(f, "revision {}{about} on {}:", self.revision, self.db)?,
        }
        for section in &self.sections {
            writeln!(f, "  {}", section.title)?;
            for line in section.lines.iter().take(MAX_LINES) {
                for (i, part) in line.lines().enumerate() {
                    let indent = if i == 0 { "    " } else { "      " };
                    writeln!(f, "{indent}{part}")?;
                }
            }
            if section.lines.len() > MAX_LINES {
                writeln!(f, "    ... and {} more", section.lines.len() - MAX_LINES)?;
            }
        }
        let test = match &self.test {
            Some(name) => name.to_string(),
            None => format!("{}::{}", self.db, self.revision),
        };
        write!(
            f,
            "  reproduce: MRT_SEED={} mrt test '{test}' --exact",
            self.seed
        )
    }
}
