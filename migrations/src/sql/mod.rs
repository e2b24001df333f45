//! Projects whose migrations are plain SQL files, read the way their tool reads them: sqlx,
//! diesel, golang-migrate, dbmate, Flyway and refinery.
//!
//! This module finds the migrations folder ([`detect`]), lists its migrations in the tool's
//! order with their up and down scripts and transaction flags ([`load`]), reports what the tool
//! would refuse or silently skip ([`SqlProject::problems`], [`SqlProject::ignored`]), and knows
//! each tool's bookkeeping table ([`SqlTool::bookkeeping_ddl`], [`SqlTool::record_applied`],
//! ...), so an executor can run the scripts itself and leave the database exactly as the tool
//! would. Nothing here connects to a database.
//!
//! Each tool's rules are taken from its source; the reader of each tool names the files read
//! (`sqlx.rs`, `diesel.rs`, `golang.rs`, `dbmate.rs`, `flyway.rs`, `refinery.rs`).

mod bookkeeping;
mod dbmate;
mod detect;
mod diesel;
mod files;
mod flyway;
mod golang;
mod refinery;
mod sqlx;
mod version;

pub use bookkeeping::{flyway_checksum, refinery_checksum, sqlx_checksum};
pub use detect::{detect, detect_with_reason, Detection};

use crate::{Problem, ProblemKind, Revision};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use version::VersionKey;

/// The tool that owns a folder of SQL migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SqlTool {
    Sqlx,
    Diesel,
    GolangMigrate,
    Dbmate,
    Flyway,
    Refinery,
}

impl SqlTool {
    pub const ALL: [SqlTool; 6] = [
        SqlTool::Sqlx,
        SqlTool::Diesel,
        SqlTool::GolangMigrate,
        SqlTool::Dbmate,
        SqlTool::Flyway,
        SqlTool::Refinery,
    ];

    /// The name in configuration (`[sql] tool = "golang-migrate"`) and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SqlTool::Sqlx => "sqlx",
            SqlTool::Diesel => "diesel",
            SqlTool::GolangMigrate => "golang-migrate",
            SqlTool::Dbmate => "dbmate",
            SqlTool::Flyway => "flyway",
            SqlTool::Refinery => "refinery",
        }
    }
}

impl fmt::Display for SqlTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SQL migration tool {0:?}; expected one of sqlx, diesel, golang-migrate, dbmate, flyway, refinery")]
pub struct UnknownSqlTool(pub String);

impl<'de> serde::Deserialize<'de> for SqlTool {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for SqlTool {
    type Err = UnknownSqlTool;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SqlTool::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownSqlTool(s.to_string()))
    }
}

/// One script (an up or a down) as the tool runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlScript {
    pub path: PathBuf,
    /// The SQL the tool sends: the whole file, or the file's section for dbmate.
    pub text: String,
    /// 1-based line of the file where `text` starts.
    pub first_line: usize,
    /// Whether the tool wraps this script in a transaction, as the file declares it (see
    /// [`SqlTool::runs_in_transaction`] for what the tool does on each engine).
    pub transactional: bool,
    /// The path relative to the migrations folder, `/`-separated, as the tool names the script
    /// (Flyway's `script` column, diesel's `<folder>/up.sql`).
    pub name: String,
}

/// How a migration is undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlDown {
    Script(SqlScript),
    /// The tool expects a down script and there is none (also a [`ProblemKind::MissingDown`]).
    Missing,
    /// The tool has no down for this migration by design: refinery, sqlx simple migrations.
    ForwardOnly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlMigration {
    /// The file or folder name without direction suffix and extension: `20240101000003_drop_phone`,
    /// `2024-01-01-000003_drop_phone`, `000003_drop_phone`, `V3__drop_phone`.
    pub id: String,
    /// The version as the tool stores it in its bookkeeping table: sqlx `20240101000003` (an
    /// `i64`, so `0003` is `3`), diesel `20240101000003` (dashes removed), golang-migrate `3`,
    /// dbmate `20240101000003` (the digits as written), Flyway `1.1` (`_` read as `.`),
    /// refinery `3`.
    pub version: String,
    /// The description the tool derives from the name (sqlx and Flyway turn `_` into spaces).
    pub description: String,
    pub up: SqlScript,
    pub down: SqlDown,
}

/// A folder of SQL migrations, read.
#[derive(Debug, Clone)]
pub struct SqlProject {
    pub tool: SqlTool,
    /// The migrations folder.
    pub dir: PathBuf,
    /// Why this tool and folder were chosen, for a message such as "read as sqlx (Cargo.toml
    /// depends on sqlx); set [sql] tool to change".
    pub detected_by: String,
    /// `DATABASE_URL` in the project's `.env` (sqlx's and dbmate's convention): the engine
    /// `mrt check` reads the SQL as when no dialect is configured. Never printed.
    pub database_url: Option<String>,
    /// In the tool's order; each version once.
    pub migrations: Vec<SqlMigration>,
    /// Migrations whose version an earlier one already has (a
    /// [`ProblemKind::DuplicateVersion`]): not in the chain, still files a check must read.
    pub shadowed: Vec<SqlMigration>,
    /// What the tool would refuse, misread or stop at, each naming its file.
    pub problems: Vec<Problem>,
    /// Files in the folder that are not migrations of the tool, with the reason.
    pub ignored: Vec<(PathBuf, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("{dir}: the SQL migrations folder does not exist")]
    MissingDir { dir: PathBuf },
    #[error("{root}: no SQL migrations found (looked for {looked}); set [sql] dir (and tool) in mrt.toml")]
    NotFound { root: PathBuf, looked: String },
    #[error("{dir}: cannot list the migrations folder: {source}")]
    Unlisted {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// What a tool's reader found in a folder.
#[derive(Debug, Default)]
pub(crate) struct Read {
    /// With the tool's sort key; sorted and deduplicated by [`load`].
    pub migrations: Vec<(VersionKey, SqlMigration)>,
    pub problems: Vec<Problem>,
    pub ignored: Vec<(PathBuf, String)>,
}

/// The folders detection looks in, for a message saying where no migrations were found.
pub fn looked_for(root: &Path) -> String {
    detect::looked_for(root, None)
}

/// Reads a project; `tool` and `dir` are the configuration's `[sql] tool` and `[sql] dir`
/// (`dir` relative to `root`). What is not given is detected (see [`detect_with_reason`]).
pub fn load(
    root: &Path,
    tool: Option<SqlTool>,
    dir: Option<&Path>,
) -> Result<SqlProject, SqlError> {
    if !root.is_dir() {
        return Err(SqlError::NotADirectory(root.to_path_buf()));
    }
    let (tool, dir, detected_by) = match (tool, dir) {
        (Some(tool), Some(dir)) => (
            tool,
            root.join(dir),
            "[sql] tool and dir in the configuration".to_string(),
        ),
        (Some(tool), None) => {
            let dir = detect::default_dir(root, tool).ok_or_else(|| SqlError::NotFound {
                root: root.to_path_buf(),
                looked: detect::looked_for(root, Some(tool)),
            })?;
            (
                tool,
                dir.path,
                format!("[sql] tool in the configuration; folder {}", dir.why),
            )
        }
        (None, Some(dir)) => {
            let dir = root.join(dir);
            if !dir.is_dir() {
                return Err(SqlError::MissingDir { dir });
            }
            let found = detect::classify(root, &dir);
            let (tool, why) = found.unwrap_or((
                SqlTool::Sqlx,
                "no migration file in the folder tells the tool; read as sqlx".to_string(),
            ));
            (tool, dir, format!("{why}; folder from [sql] dir"))
        }
        (None, None) => {
            let d = detect_with_reason(root).ok_or_else(|| SqlError::NotFound {
                root: root.to_path_buf(),
                looked: detect::looked_for(root, None),
            })?;
            (d.tool, d.dir, d.detected_by)
        }
    };
    if !dir.is_dir() {
        return Err(SqlError::MissingDir { dir });
    }
    let read = match tool {
        SqlTool::Sqlx => sqlx::read(&dir),
        SqlTool::Diesel => diesel::read(&dir),
        SqlTool::GolangMigrate => golang::read(&dir),
        SqlTool::Dbmate => dbmate::read(&dir),
        SqlTool::Flyway => flyway::read(&dir),
        SqlTool::Refinery => refinery::read(&dir),
    }
    .map_err(|source| SqlError::Unlisted {
        dir: dir.clone(),
        source,
    })?;
    let mut project = assemble(tool, dir, detected_by, read);
    project.database_url = std::fs::read_to_string(root.join(".env"))
        .ok()
        .and_then(|env| detect::dotenv_value(&env, "DATABASE_URL"));
    Ok(project)
}

/// Sorts in the tool's order (ties by id, so the order never depends on the file system), keeps
/// the first migration of each version and reports the others, and checks sequential numbering.
fn assemble(tool: SqlTool, dir: PathBuf, detected_by: String, read: Read) -> SqlProject {
    let Read {
        mut migrations,
        mut problems,
        ignored,
    } = read;
    migrations.sort_by(|(a, ma), (b, mb)| a.cmp_key(b).then_with(|| ma.id.cmp(&mb.id)));
    let mut kept: Vec<(VersionKey, SqlMigration)> = Vec::new();
    let mut shadowed = Vec::new();
    // dbmate sorts by file name, so files of one version need not be neighbours; the other
    // tools sort by version, where equal keys (`0001` and `1`, Flyway's `1.0` and `1`) are.
    let mut text_versions: std::collections::HashMap<String, usize> = Default::default();
    for (key, m) in migrations {
        let first = match &key {
            VersionKey::Text(_) => text_versions.get(&m.version).copied(),
            _ => kept
                .last()
                .filter(|(last, _)| last.cmp_key(&key).is_eq())
                .map(|_| kept.len() - 1),
        };
        match first {
            Some(i) => {
                problems.push(duplicate(tool, &kept[i].1, &m));
                shadowed.push(m);
            }
            None => {
                text_versions.insert(m.version.clone(), kept.len());
                kept.push((key, m));
            }
        }
    }
    let integers: Option<Vec<(i128, &SqlMigration)>> = kept
        .iter()
        .map(|(k, m)| integer_version(tool, k, m).map(|v| (v, m)))
        .collect();
    if let Some(integers) = integers {
        problems.extend(version::gaps(&integers));
    }
    SqlProject {
        tool,
        dir,
        detected_by,
        database_url: None,
        migrations: kept.into_iter().map(|(_, m)| m).collect(),
        shadowed,
        problems,
        ignored,
    }
}

/// The version as an integer when the tool's versions are numbers (dbmate and diesel versions
/// are digit strings; Flyway's may be dotted).
fn integer_version(tool: SqlTool, key: &VersionKey, m: &SqlMigration) -> Option<i128> {
    match key {
        VersionKey::Int(v) => Some(*v),
        VersionKey::Flyway(v) => v.as_integer(),
        VersionKey::Text(_) if matches!(tool, SqlTool::Dbmate | SqlTool::Diesel) => {
            let v = &m.version;
            (!v.is_empty() && v.len() < 30 && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse().ok())
                .flatten()
        }
        VersionKey::Text(_) => None,
    }
}

fn duplicate(tool: SqlTool, first: &SqlMigration, again: &SqlMigration) -> Problem {
    let consequence = match tool {
        SqlTool::Sqlx => "sqlx applies both and fails recording the second",
        SqlTool::Diesel => "diesel keeps one of them, which one is not defined",
        SqlTool::GolangMigrate => "golang-migrate refuses the folder (duplicate migration file)",
        SqlTool::Dbmate => "dbmate applies both and fails recording the second",
        SqlTool::Flyway => {
            "Flyway refuses the folder (found more than one migration with this version)"
        }
        SqlTool::Refinery => "refinery applies both and fails recording the second",
    };
    Problem::new(
        ProblemKind::DuplicateVersion,
        &again.up.path,
        format!(
            "version {} is also the version of {}: {consequence}; mrt tests only the first",
            again.version,
            crate::shown(&first.up.path)
        ),
    )
    .at(1, None)
    .of(again.id.clone())
}

impl SqlProject {
    /// The migrations as one linear chain in the tool's order: each revision's parent is the
    /// migration before it; `message` is the description, `path` the up file (dbmate: the file,
    /// diesel: `up.sql`) and `line` the line where the up script starts.
    pub fn revisions(&self) -> Vec<Revision> {
        let mut previous: Option<&str> = None;
        self.migrations
            .iter()
            .map(|m| {
                let rev = Revision {
                    id: m.id.clone(),
                    down_revisions: previous.map(str::to_string).into_iter().collect(),
                    branch_labels: Vec::new(),
                    depends_on: Vec::new(),
                    message: Some(m.description.clone()),
                    path: m.up.path.clone(),
                    line: m.up.first_line,
                };
                previous = Some(&m.id);
                rev
            })
            .collect()
    }

    /// The migration with this id, in the chain.
    pub fn get(&self, id: &str) -> Option<&SqlMigration> {
        self.migrations.iter().find(|m| m.id == id)
    }

    /// The migration before `id` in the chain (`None` for the first, or an unknown id).
    pub fn previous(&self, id: &str) -> Option<&SqlMigration> {
        let i = self.migrations.iter().position(|m| m.id == id)?;
        i.checked_sub(1).map(|p| &self.migrations[p])
    }
}

/// Byte offsets of dbmate's `-- migrate:up` directives in `text`, for detection.
pub(crate) fn dbmate_directives(text: &str) -> Vec<usize> {
    dbmate::directives(text, "up")
}
