//! Flyway: `V<version>__<description>.sql` (versioned), `U<version>__<description>.sql` (undo,
//! Flyway Teams), `R__<description>.sql` (repeatable).
//!
//! Read from flyway/flyway `flyway-core/.../internal/resource/ResourceNameParser.java` (prefix,
//! `__` separator, `.sql` suffix; callbacks such as `afterMigrate.sql`),
//! `flyway-core/.../api/MigrationVersion.java` (version parsing and order, see
//! [`FlywayVersion`]), `flyway-core/.../internal/sqlscript/SqlScriptMetadata.java` (a script's
//! `<script>.conf`, key `executeInTransaction`) and the Teams undo command `DbUndo.java` (an
//! undo runs the `U` file of the newest applied version and adds a row of type `UNDO_SQL`):
//! - a location is scanned recursively, symbolic links followed;
//! - the description is the text after `__` with `_` read as a space; the version is the text
//!   between prefix and `__`, with `_` read as `.`;
//! - a name whose version does not parse is invalid: Flyway skips it, or fails with
//!   `validateMigrationNaming=true`;
//! - two versioned migrations with one version (`1` and `1.0` are equal) make Flyway refuse
//!   the location; a `U` file pairs with the `V` file of an equal version;
//! - every script runs in a transaction unless its `.conf` says `executeInTransaction=false`
//!   (Flyway also decides this itself for statements that cannot run in one, such as
//!   PostgreSQL's `CREATE INDEX CONCURRENTLY`: not modelled here);
//! - the checksum is [`super::flyway_checksum`]; a leading byte-order mark is not part of the
//!   SQL.

use super::files::{self, Target};
use super::version::{FlywayVersion, VersionKey};
use super::{Read, SqlDown, SqlMigration, SqlScript};
use crate::{Problem, ProblemKind};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// How deep a location is scanned; deeper folders are reported, not followed (a link cycle).
const MAX_DEPTH: usize = 32;

struct File {
    version: FlywayVersion,
    id: String,
    description: String,
    script: SqlScript,
}

pub(crate) fn read(dir: &Path) -> std::io::Result<Read> {
    let mut read = Read::default();
    let mut versioned: Vec<File> = Vec::new();
    let mut undo: Vec<File> = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    scan(dir, dir, 0, &mut seen, &mut read, &mut versioned, &mut undo)?;
    for v in versioned {
        let position = undo.iter().position(|u| u.version == v.version);
        let down = match position {
            Some(i) => SqlDown::Script(undo.swap_remove(i).script),
            None => {
                read.problems.push(
                    Problem::new(
                        ProblemKind::MissingDown,
                        &v.script.path,
                        format!(
                            "no U{}__*.sql undo file: flyway undo cannot undo version {}",
                            v.version.display, v.version.display
                        ),
                    )
                    .at(1, None)
                    .of(v.id.clone()),
                );
                SqlDown::Missing
            }
        };
        read.migrations.push((
            VersionKey::Flyway(v.version.clone()),
            SqlMigration {
                id: v.id,
                version: v.version.display,
                description: v.description,
                up: v.script,
                down,
            },
        ));
    }
    for orphan in undo {
        read.problems.push(
            Problem::new(
                ProblemKind::MissingUp,
                &orphan.script.path,
                format!(
                    "no versioned migration V{}__*.sql for this undo file (or another undo file has its version)",
                    orphan.version.display
                ),
            )
            .at(1, None)
            .of(orphan.id),
        );
    }
    Ok(read)
}

fn scan(
    base: &Path,
    dir: &Path,
    depth: usize,
    seen: &mut HashSet<PathBuf>,
    read: &mut Read,
    versioned: &mut Vec<File>,
    undo: &mut Vec<File>,
) -> std::io::Result<()> {
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !seen.insert(real) {
        return Ok(());
    }
    for entry in files::list(dir)? {
        match entry.target {
            Target::Dir if depth < MAX_DEPTH => {
                if let Err(e) = scan(base, &entry.path, depth + 1, seen, read, versioned, undo) {
                    read.problems.push(Problem::new(
                        ProblemKind::Unreadable,
                        &entry.path,
                        format!(
                            "cannot list this folder ({e}); the migrations in it were not read"
                        ),
                    ));
                }
                continue;
            }
            Target::Dir => {
                read.ignored.push((
                    entry.path.clone(),
                    format!("nested deeper than {MAX_DEPTH} folders; not read"),
                ));
                continue;
            }
            Target::Broken => {
                read.problems
                    .push(files::broken(&entry, "Flyway cannot read it"));
                continue;
            }
            Target::Other => continue,
            Target::File => {}
        }
        let Some(name) = entry.name.clone() else {
            read.ignored
                .push((entry.path.clone(), "file name is not UTF-8".into()));
            continue;
        };
        if let Some(script) = name.strip_suffix(".conf").filter(|s| s.ends_with(".sql")) {
            // Read with its script (`executeInTransaction`).
            if !entry.path.with_file_name(script).is_file() {
                read.ignored.push((
                    entry.path.clone(),
                    format!("a script configuration for {script}, which does not exist"),
                ));
            }
            continue;
        }
        let Some(stem) = name.strip_suffix(".sql") else {
            read.ignored.push((
                entry.path.clone(),
                "not a .sql file; Flyway reads only its sqlMigrationSuffixes (.sql)".into(),
            ));
            continue;
        };
        let kind = if stem.starts_with('V') {
            'V'
        } else if stem.starts_with('U') {
            'U'
        } else if stem.starts_with('R') {
            read.ignored.push((
                entry.path.clone(),
                "a Flyway repeatable migration (R__): it reruns after the versioned ones whenever its checksum changes; mrt does not test it".into(),
            ));
            continue;
        } else if stem.starts_with("before")
            || stem.starts_with("after")
            || stem.starts_with("createSchema")
        {
            read.ignored.push((
                entry.path.clone(),
                "a Flyway callback script, not a migration".into(),
            ));
            continue;
        } else {
            read.ignored.push((
                entry.path.clone(),
                "not named V<version>__<description>.sql; Flyway skips it".into(),
            ));
            continue;
        };
        let rest = &stem[1..];
        let (version_text, description) = match rest.find("__") {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => (rest, ""),
        };
        if !version_text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
            read.ignored.push((
                entry.path.clone(),
                format!("not named {kind}<version>__<description>.sql; Flyway skips it"),
            ));
            continue;
        }
        let Some(version) = FlywayVersion::parse(version_text) else {
            read.problems.push(
                Problem::new(
                    ProblemKind::BadVersion,
                    &entry.path,
                    format!(
                        "version {version_text:?} is not a Flyway version (numbers separated by . or _): Flyway skips this file, or fails with validateMigrationNaming=true"
                    ),
                )
                .at(1, None),
            );
            continue;
        };
        let text = match files::read_text(&entry.path) {
            Ok(text) => text
                .strip_prefix('\u{feff}')
                .map(str::to_owned)
                .unwrap_or(text),
            Err(problem) => {
                read.problems.push(problem);
                continue;
            }
        };
        let transactional = execute_in_transaction(&entry.path, read);
        let file = File {
            version,
            id: stem.to_string(),
            description: description.replace('_', " "),
            script: SqlScript {
                name: files::relative_name(base, &entry.path),
                path: entry.path.clone(),
                text,
                first_line: 1,
                transactional,
            },
        };
        if kind == 'V' {
            versioned.push(file);
        } else {
            undo.push(file);
        }
    }
    Ok(())
}

/// `executeInTransaction` from `<script>.conf` (Java properties: `key=value` or `key: value`,
/// `#`/`!` comments); `true` without the file or the key.
fn execute_in_transaction(script: &Path, read: &mut Read) -> bool {
    let mut conf = script.as_os_str().to_os_string();
    conf.push(".conf");
    let conf = PathBuf::from(conf);
    let Ok(text) = std::fs::read_to_string(&conf) else {
        return true;
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let cut = line.find(['=', ':']).unwrap_or(line.len());
        let key = line[..cut].trim_end();
        if key != "executeInTransaction" {
            continue;
        }
        let value = line.get(cut + 1..).unwrap_or("").trim();
        match value {
            "true" => return true,
            "false" => return false,
            other => {
                read.problems.push(
                    Problem::new(
                        ProblemKind::Malformed,
                        &conf,
                        format!("executeInTransaction = {other:?} is not true or false: Flyway refuses this script configuration"),
                    )
                    .at(n + 1, None),
                );
                return true;
            }
        }
    }
    true
}
