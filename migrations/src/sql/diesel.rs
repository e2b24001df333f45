//! diesel: one folder per migration, `<version>_<name>/up.sql` + `down.sql`, optionally
//! `metadata.toml`.
//!
//! Read from diesel-rs/diesel `diesel_migrations/migrations_internals/src/lib.rs`
//! (`migrations_directories`, `valid_sql_migration_directory`, `version_from_string`,
//! `TomlMetadata`), `diesel_migrations/src/file_based_migrations.rs` (`from_path`,
//! `SqlFileMigration`, `run_sql_from_file`) and `diesel_migrations/src/migration_harness.rs`
//! (`pending_migrations`, `run_migration`):
//! - every entry of the folder that is not a file (by `DirEntry::metadata`, which does not
//!   follow links, so a link counts as a folder) and whose name does not start with `.` is a
//!   migration folder; files and dot entries (`.keep`) are skipped;
//! - a migration folder must list `up.sql` (dot names aside), or diesel refuses the whole
//!   folder (`UnknownMigrationFormat`);
//! - the version is the name up to the first `_` with every `-` removed; any text is accepted,
//!   and migrations are sorted by that string; two with one version collapse into one
//!   (a `HashMap` keyed by version);
//! - an empty `up.sql` / `down.sql` fails when run (`EmptyMigration`); a missing `down.sql`
//!   fails when reverted (`NoMigrationRevertFile`);
//! - `metadata.toml` sets `run_in_transaction`; diesel's `TomlMetadata` gives the field
//!   `#[serde(default)]`, so a `metadata.toml` without the key means `false`, while a missing
//!   or unparsable file means the default, `true`. It applies to the up and the down.

use super::files::{self, Target};
use super::version::VersionKey;
use super::{Read, SqlDown, SqlMigration, SqlScript};
use crate::{Problem, ProblemKind};
use std::path::Path;

pub(crate) fn read(dir: &Path) -> std::io::Result<Read> {
    let mut read = Read::default();
    for entry in files::list(dir)? {
        let name = entry.shown_name();
        if name.starts_with('.') {
            read.ignored.push((
                entry.path.clone(),
                "name starts with a dot; diesel skips it".into(),
            ));
            continue;
        }
        if !entry.is_link && entry.target == Target::File {
            read.ignored.push((
                entry.path.clone(),
                "a file; diesel reads only migration folders here".into(),
            ));
            continue;
        }
        if entry.target != Target::Dir {
            read.problems.push(
                Problem::new(
                    ProblemKind::MissingUp,
                    &entry.path,
                    "not a folder with an up.sql: diesel refuses the migrations folder (UnknownMigrationFormat)",
                )
                .of(name),
            );
            continue;
        }
        if let Some(m) = read_migration(dir, &entry.path, &name, &mut read) {
            read.migrations.push(m);
        }
    }
    Ok(read)
}

fn read_migration(
    base: &Path,
    folder: &Path,
    name: &str,
    read: &mut Read,
) -> Option<(VersionKey, SqlMigration)> {
    let listed = match files::list(folder) {
        Ok(listed) => listed,
        Err(e) => {
            read.problems.push(Problem::new(
                ProblemKind::Unreadable,
                folder,
                format!(
                    "cannot list this migration folder ({e}); diesel refuses the migrations folder"
                ),
            ));
            return None;
        }
    };
    if !listed.iter().any(|e| e.name.as_deref() == Some("up.sql")) {
        read.problems.push(
            Problem::new(
                ProblemKind::MissingUp,
                folder,
                "no up.sql in this migration folder: diesel refuses the migrations folder (UnknownMigrationFormat)",
            )
            .of(name),
        );
        return None;
    }
    for e in &listed {
        let known = matches!(
            e.name.as_deref(),
            Some("up.sql" | "down.sql" | "metadata.toml")
        );
        if !known {
            read.ignored.push((
                e.path.clone(),
                "diesel reads only up.sql, down.sql and metadata.toml in a migration folder".into(),
            ));
        }
    }
    let transactional = run_in_transaction(&folder.join("metadata.toml"), read);
    let script = |file: &str, read: &mut Read| -> Option<SqlScript> {
        let path = folder.join(file);
        let text = match files::read_text(&path) {
            Ok(text) => text,
            Err(problem) => {
                read.problems.push(problem.of(name));
                return None;
            }
        };
        if text.is_empty() {
            read.problems.push(
                Problem::new(
                    ProblemKind::EmptyScript,
                    &path,
                    format!("{file} is empty: diesel refuses to run it (EmptyMigration)"),
                )
                .of(name),
            );
        }
        Some(SqlScript {
            name: files::relative_name(base, &path),
            path,
            text,
            first_line: 1,
            transactional,
        })
    };
    let up = script("up.sql", read)?;
    let down_path = folder.join("down.sql");
    let down = if std::fs::symlink_metadata(&down_path).is_err() {
        read.problems.push(
            Problem::new(
                ProblemKind::MissingDown,
                &up.path,
                "no down.sql: diesel migration revert fails (NoMigrationRevertFile)",
            )
            .at(1, None)
            .of(name),
        );
        SqlDown::Missing
    } else {
        match script("down.sql", read) {
            Some(down) => SqlDown::Script(down),
            None => SqlDown::Missing,
        }
    };
    let version = name.split('_').next().unwrap_or("").replace('-', "");
    let description = name
        .split_once('_')
        .map(|(_, d)| d)
        .unwrap_or("")
        .to_string();
    Some((
        VersionKey::Text(version.clone()),
        SqlMigration {
            id: name.to_string(),
            version,
            description,
            up,
            down,
        },
    ))
}

#[derive(serde::Deserialize)]
struct Metadata {
    #[serde(default)]
    run_in_transaction: bool,
}

/// `run_in_transaction` as diesel reads it: the file's value, `false` when the file lacks the
/// key, `true` when there is no file or it does not parse.
fn run_in_transaction(path: &Path, read: &mut Read) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return true;
    };
    match toml::from_str::<Metadata>(&text) {
        Ok(m) => m.run_in_transaction,
        Err(e) => {
            let why = e.message().to_string();
            read.ignored.push((
                path.to_path_buf(),
                format!("does not parse ({why}); diesel ignores it and runs this migration in a transaction"),
            ));
            true
        }
    }
}
