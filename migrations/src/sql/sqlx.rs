//! sqlx: `<VERSION>_<DESCRIPTION>.up.sql` + `.down.sql` (reversible) or `<VERSION>_<DESCRIPTION>.sql`
//! (simple, no down).
//!
//! Read from sqlx-core 0.8.6 `src/migrate/source.rs` (`resolve_blocking`) and
//! `src/migrate/migration_type.rs`:
//! - only the folder itself is listed; `fs::metadata` follows symbolic links, entries that are
//!   not files are skipped, and an entry whose metadata cannot be read stops sqlx;
//! - the name (lossily decoded) splits at the first `_`; without one, or when the rest does not
//!   end in `.sql`, the file is skipped silently;
//! - the part before `_` must parse as an `i64` (`str::parse`), or sqlx refuses the whole folder;
//! - `.up.sql` / `.down.sql` / other `.sql` make the type; the description is the rest with the
//!   type's suffix trimmed (`trim_end_matches`) and `_` replaced by spaces;
//! - a file starting with `-- no-transaction` opts out of the transaction (honoured by the
//!   PostgreSQL driver only in 0.8.6: `sqlx-sqlite` and `sqlx-mysql` `apply` always begin one);
//! - migrations are sorted by version (stable).
//!
//! sqlx 0.8.6 accepts simple and reversible migrations in one folder
//! (`MigrateError::InvalidMixReversibleAndSimple` is deprecated: "migration types are now
//! inferred"), so a mix is not a problem: simple ones are forward-only (`Migrator::undo` only
//! runs `.down.sql` files).

use super::files::{self, Target};
use super::version::VersionKey;
use super::{Read, SqlDown, SqlMigration, SqlScript};
use crate::{Problem, ProblemKind};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Simple,
    Up,
    Down,
}

impl Kind {
    fn of(rest: &str) -> Kind {
        if rest.ends_with(".up.sql") {
            Kind::Up
        } else if rest.ends_with(".down.sql") {
            Kind::Down
        } else {
            Kind::Simple
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Kind::Simple => ".sql",
            Kind::Up => ".up.sql",
            Kind::Down => ".down.sql",
        }
    }
}

struct File {
    version: i64,
    kind: Kind,
    id: String,
    description: String,
    script: SqlScript,
}

pub(crate) fn read(dir: &Path) -> std::io::Result<Read> {
    let mut read = Read::default();
    let mut found: Vec<File> = Vec::new();
    for entry in files::list(dir)? {
        match entry.target {
            Target::File => {}
            Target::Broken => {
                read.problems.push(files::broken(
                    &entry,
                    "sqlx stops at it (error getting metadata of migration path)",
                ));
                continue;
            }
            Target::Dir | Target::Other => {
                read.ignored.push((
                    entry.path.clone(),
                    "not a file; sqlx reads only the files of the migrations folder".into(),
                ));
                continue;
            }
        }
        let name = entry.shown_name();
        let Some((prefix, rest)) = name.split_once('_').filter(|(_, r)| r.ends_with(".sql")) else {
            read.ignored.push((
                entry.path.clone(),
                "not named <VERSION>_<DESCRIPTION>.sql; sqlx skips it".into(),
            ));
            continue;
        };
        let Ok(version) = prefix.parse::<i64>() else {
            read.problems.push(
                Problem::new(
                    ProblemKind::BadVersion,
                    &entry.path,
                    format!(
                        "version {prefix:?} is not an integer: sqlx refuses the whole folder (error parsing migration filename; expected integer version prefix)"
                    ),
                )
                .at(1, None),
            );
            continue;
        };
        let kind = Kind::of(rest);
        let text = match files::read_text(&entry.path) {
            Ok(text) => text,
            Err(problem) => {
                read.problems.push(problem);
                continue;
            }
        };
        let transactional = !text.starts_with("-- no-transaction");
        found.push(File {
            version,
            kind,
            id: name
                .strip_suffix(kind.suffix())
                .unwrap_or(&name)
                .to_string(),
            description: rest.trim_end_matches(kind.suffix()).replace('_', " "),
            script: SqlScript {
                path: entry.path.clone(),
                text,
                first_line: 1,
                transactional,
                name: name.clone(),
            },
        });
    }
    pair(found, &mut read);
    Ok(read)
}

/// The down of `id`'s version, preferring the one with the same name.
fn take_down(downs: &mut Vec<File>, id: &str) -> Option<File> {
    let i = downs.iter().position(|d| d.id == id).unwrap_or(0);
    (i < downs.len()).then(|| downs.remove(i))
}

/// Pairs each up (or simple) file with the down of its version, as `Migrator::undo` finds it.
fn pair(found: Vec<File>, read: &mut Read) {
    let mut downs: BTreeMap<i64, Vec<File>> = BTreeMap::new();
    let mut ups = Vec::new();
    for f in found {
        if f.kind == Kind::Down {
            downs.entry(f.version).or_default().push(f);
        } else {
            ups.push(f);
        }
    }
    let up_versions: std::collections::BTreeSet<i64> = ups.iter().map(|u| u.version).collect();
    for up in ups {
        let down = match up.kind {
            Kind::Simple => SqlDown::ForwardOnly,
            _ => match downs
                .get_mut(&up.version)
                .and_then(|d| take_down(d, &up.id))
            {
                Some(down) => SqlDown::Script(down.script),
                None => {
                    read.problems.push(
                        Problem::new(
                            ProblemKind::MissingDown,
                            &up.script.path,
                            format!(
                                "{} has no {}.down.sql: sqlx migrate revert skips it and the migration cannot be reverted",
                                up.script.name, up.id
                            ),
                        )
                        .at(1, None)
                        .of(up.id.clone()),
                    );
                    SqlDown::Missing
                }
            },
        };
        read.migrations.push((
            VersionKey::Int(i128::from(up.version)),
            SqlMigration {
                id: up.id,
                version: up.version.to_string(),
                description: up.description,
                up: up.script,
                down,
            },
        ));
    }
    for (version, orphans) in downs {
        for orphan in orphans {
            let problem = if up_versions.contains(&version) {
                Problem::new(
                    ProblemKind::DuplicateVersion,
                    &orphan.script.path,
                    format!(
                        "another .down.sql has version {version}: sqlx reverts with one of them, which one is not defined"
                    ),
                )
            } else {
                Problem::new(
                    ProblemKind::MissingUp,
                    &orphan.script.path,
                    format!(
                        "{} has no {}.up.sql: sqlx never applies this version, so this down never runs",
                        orphan.script.name, orphan.id
                    ),
                )
            };
            read.problems.push(problem.at(1, None).of(orphan.id));
        }
    }
}
