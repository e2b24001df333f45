//! What a trial found, typed: every output (libtest text, the results file, shrinking, and later
//! JSON, the HTML report and bench) reads these values; none parses a message. `Display` gives
//! the text a user reads: a title line, then one line per object.

use mrt_db::{RowDifference, SchemaDifference};
use mrt_migrations::exec::StepError;
use std::fmt;

/// One thing that went wrong in a trial; a verdict keeps every one it saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// mrt could not do its own part (a database, a read, seeding): not a verdict on the
    /// migration, but the trial could not judge it.
    Setup {
        action: Setup,
        error: String,
    },
    /// Bringing the database to the state before the revision failed.
    CannotReachBefore {
        revision: String,
        step: String,
        error: StepError,
    },
    UpgradeFails {
        step: String,
        error: StepError,
    },
    /// The upgrade failed and the database keeps part of it (DDL that commits implicitly).
    NotRolledBack(Vec<SchemaDifference>),
    DowngradeFails {
        step: String,
        error: StepError,
    },
    /// After the downgrade the framework's bookkeeping names other revisions than expected.
    WrongHeads {
        expected: Vec<String>,
        found: Vec<String>,
    },
    SchemaNotRestored(Vec<SchemaDifference>),
    DataNotRestored(Vec<RowDifference>),
    UpgradeAgainFails {
        step: String,
        error: StepError,
    },
    SecondUpgradeDiffers(Vec<SchemaDifference>),
    /// The second upgrade differs, shown as what the database reported (the schemas could not
    /// be modelled).
    SecondUpgradeDiffersText(Vec<String>),
    /// A forward-only migration changed rows of tables its SQL does not name.
    ForwardChangedRows(Vec<RowDifference>),
    /// The database with every revision applied differs from the project's models (title, one
    /// line per difference).
    Drift(&'static str, Vec<String>),
    /// The project gives no models to compare with.
    NoDriftModel {
        why: String,
        fix: String,
    },
    DriftUnavailable(String),
    /// Which generated case failed, when there were several.
    Case {
        case: u64,
        of: u64,
    },
    /// The smallest rows the data failure still shows with, after shrinking.
    Shrunk {
        steps: usize,
        runs: usize,
        rows: Vec<String>,
    },
}

/// What mrt was doing when its own part failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setup {
    ServerGone,
    CreateDatabase,
    /// Starting the framework's step executor ("a Python worker").
    StartExecutor(String),
    ReadSchema(&'static str),
    ReadRows(String),
    ReadRowsAfterDowngrade(String),
    Seed,
    InsertRows(String),
    /// Filling foreign keys left NULL to break a cycle (table, whose rows).
    FillCycle(String, &'static str),
    RemoveSeeded,
    RestoreRows(String),
    CompareDrift,
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setup::ServerGone => f.write_str("the database server is gone"),
            Setup::CreateDatabase => f.write_str("cannot create a database"),
            Setup::StartExecutor(what) => write!(f, "cannot start {what}"),
            Setup::ReadSchema(when) => write!(f, "cannot read the schema {when}"),
            Setup::ReadRows(table) => write!(f, "cannot read rows of {table}"),
            Setup::ReadRowsAfterDowngrade(table) => {
                write!(f, "cannot read rows of {table} after the downgrade")
            }
            Setup::Seed => f.write_str("cannot seed the database"),
            Setup::InsertRows(table) => write!(f, "cannot insert generated rows into {table}"),
            Setup::FillCycle(table, what) => write!(
                f,
                "cannot fill the foreign keys of {table} ({what}) left NULL to break a cycle"
            ),
            Setup::RemoveSeeded => f.write_str("cannot remove the seeded rows"),
            Setup::RestoreRows(table) => write!(f, "cannot restore the rows of {table}"),
            Setup::CompareDrift => f.write_str("cannot compare with target_metadata"),
        }
    }
}

impl Failure {
    /// The first line: what went wrong.
    pub fn title(&self) -> String {
        match self {
            Failure::Setup { action, .. } => action.to_string(),
            Failure::CannotReachBefore { revision, step, .. } => {
                format!("cannot reach the state before {revision} ({step})")
            }
            Failure::UpgradeFails { step, .. } => {
                format!("upgrade fails with existing data ({step})")
            }
            Failure::NotRolledBack(_) => {
                "the failed upgrade was not rolled back (the database keeps part of it)".into()
            }
            Failure::DowngradeFails { step, .. } => format!("downgrade fails ({step})"),
            Failure::WrongHeads { .. } => {
                "downgrade left the version table at the wrong revision".into()
            }
            Failure::SchemaNotRestored(_) => "downgrade did not restore the schema".into(),
            Failure::DataNotRestored(_) => "downgrade did not restore the data".into(),
            Failure::UpgradeAgainFails { step, .. } => {
                format!("upgrade fails after the downgrade ({step})")
            }
            Failure::SecondUpgradeDiffers(_) | Failure::SecondUpgradeDiffersText(_) => {
                "second upgrade differs from the first".into()
            }
            Failure::ForwardChangedRows(_) => {
                "upgrade changed rows of tables it does not name".into()
            }
            Failure::Drift(title, _) => title.to_string(),
            Failure::NoDriftModel { why, .. } => why.clone(),
            Failure::DriftUnavailable(_) => "cannot compare with target_metadata".into(),
            Failure::Case { .. } => "generated case".into(),
            Failure::Shrunk { steps, runs, .. } => format!(
                "smallest failing rows ({steps} shrink steps in {runs} re-runs; the seed reproduces them)"
            ),
        }
    }

    /// The lines under the title, one per object (a line may hold several lines of text).
    pub fn lines(&self) -> Vec<String> {
        let shown = |v: &[String]| {
            if v.is_empty() {
                "nothing (base)".to_string()
            } else {
                v.join(", ")
            }
        };
        match self {
            Failure::Setup { error, .. } | Failure::DriftUnavailable(error) => vec![error.clone()],
            Failure::CannotReachBefore { error, .. }
            | Failure::UpgradeFails { error, .. }
            | Failure::DowngradeFails { error, .. }
            | Failure::UpgradeAgainFails { error, .. } => vec![step_detail(error)],
            Failure::NotRolledBack(d)
            | Failure::SchemaNotRestored(d)
            | Failure::SecondUpgradeDiffers(d) => d.iter().map(ToString::to_string).collect(),
            Failure::DataNotRestored(d) | Failure::ForwardChangedRows(d) => {
                d.iter().map(ToString::to_string).collect()
            }
            Failure::WrongHeads { expected, found } => vec![format!(
                "expected {}, found {}",
                shown(expected),
                shown(found)
            )],
            Failure::SecondUpgradeDiffersText(lines) | Failure::Drift(_, lines) => lines.clone(),
            Failure::NoDriftModel { fix, .. } => vec![fix.clone()],
            Failure::Case { case, of } => vec![format!("case {case} of {of} failed")],
            Failure::Shrunk { rows, .. } if rows.is_empty() => vec![
                "none: it fails with no generated rows at all (the rows it loses were in the database before seeding)".into(),
            ],
            Failure::Shrunk { rows, .. } => rows.clone(),
        }
    }
}

/// A failed step as the user reads it: the error, then where in their files it happened.
fn step_detail(error: &StepError) -> String {
    match error {
        StepError::Failed { error, frames } => frames
            .iter()
            .fold(error.clone(), |acc, frame| format!("{acc}\n{frame}")),
        other => other.to_string(),
    }
}
