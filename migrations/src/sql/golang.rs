//! golang-migrate: `<version>_<title>.up.<ext>` + `<version>_<title>.down.<ext>`.
//!
//! Read from golang-migrate/migrate `source/parse.go` (`Regex`, `Parse`),
//! `source/iofs/iofs.go` (`PartialDriver.Init`, used by the `file://` source),
//! `source/migration.go` (`Migrations.Append`, sorted `uintSlice` index) and `migrate.go`
//! (`newMigration`):
//! - only the folder itself is read; entries that are folders are skipped (`DirEntry.IsDir`,
//!   which does not follow links: a link is read by name and opened through the link);
//! - a name must match `^([0-9]+)_(.*)\.(down|up)\.(.*)$` (any extension; the `(.*)` is
//!   greedy, so the last `.up.` / `.down.` decides) or it is skipped silently; a version that
//!   does not fit `uint64` is skipped silently too;
//! - two files with one version and direction make the source fail (`ErrDuplicateMigration`);
//! - versions run in numeric order; a missing up or down file is run as an empty migration
//!   that still moves the version (`// create "empty" migration`);
//! - golang-migrate does not wrap migrations in transactions (a file holds its own
//!   `BEGIN;`/`COMMIT;`), except its `sqlite3` database driver, which wraps each file unless
//!   `x-no-tx-wrap=true` (and then a file's own `BEGIN` fails): mrt reads files as written,
//!   `transactional = false`.

use super::files::{self, Target};
use super::version::VersionKey;
use super::{Read, SqlDown, SqlMigration, SqlScript};
use crate::{Problem, ProblemKind};
use std::collections::BTreeMap;
use std::path::Path;

struct Parsed<'n> {
    digits: &'n str,
    title: &'n str,
    up: bool,
}

/// `^([0-9]+)_(.*)\.(down|up)\.(.*)$`, with the greedy middle group.
fn parse(name: &str) -> Option<Parsed<'_>> {
    let digits_end = name.bytes().position(|b| !b.is_ascii_digit())?;
    if digits_end == 0 || name.as_bytes()[digits_end] != b'_' {
        return None;
    }
    let rest = &name[digits_end + 1..];
    // The rightmost ".up." or ".down." (a greedy `(.*)` backtracks from the end).
    let bytes = rest.as_bytes();
    let (at, up) = (0..bytes.len()).rev().find_map(|i| {
        let tail = &bytes[i..];
        if tail.starts_with(b".up.") {
            Some((i, true))
        } else if tail.starts_with(b".down.") {
            Some((i, false))
        } else {
            None
        }
    })?;
    Some(Parsed {
        digits: &name[..digits_end],
        title: &rest[..at],
        up,
    })
}

struct File {
    version: u64,
    id: String,
    title: String,
    script: SqlScript,
}

pub(crate) fn read(dir: &Path) -> std::io::Result<Read> {
    let mut read = Read::default();
    let mut ups: BTreeMap<u64, Vec<File>> = BTreeMap::new();
    let mut downs: BTreeMap<u64, Vec<File>> = BTreeMap::new();
    for entry in files::list(dir)? {
        if !entry.is_link && entry.target == Target::Dir {
            read.ignored.push((
                entry.path.clone(),
                "a folder; golang-migrate reads only the files of the migrations folder".into(),
            ));
            continue;
        }
        let Some(name) = entry.name.clone() else {
            read.ignored
                .push((entry.path.clone(), "file name is not UTF-8".into()));
            continue;
        };
        let Some(parsed) = parse(&name) else {
            read.ignored.push((
                entry.path.clone(),
                "not named <version>_<title>.up.sql or .down.sql; golang-migrate skips it".into(),
            ));
            continue;
        };
        let Ok(version) = parsed.digits.parse::<u64>() else {
            read.problems.push(
                Problem::new(
                    ProblemKind::BadVersion,
                    &entry.path,
                    format!(
                        "version {} does not fit 64 bits: golang-migrate skips this file without a word",
                        parsed.digits
                    ),
                )
                .at(1, None),
            );
            continue;
        };
        if entry.target != Target::File {
            read.problems.push(files::broken(
                &entry,
                "golang-migrate fails when it runs this migration",
            ));
            continue;
        }
        let text = match files::read_text(&entry.path) {
            Ok(text) => text,
            Err(problem) => {
                read.problems.push(problem);
                continue;
            }
        };
        let file = File {
            version,
            id: format!("{}_{}", parsed.digits, parsed.title),
            title: parsed.title.to_string(),
            script: SqlScript {
                path: entry.path.clone(),
                text,
                first_line: 1,
                transactional: false,
                name: name.clone(),
            },
        };
        if parsed.up { &mut ups } else { &mut downs }
            .entry(version)
            .or_default()
            .push(file);
    }
    for (version, files) in &downs {
        for extra in files.iter().skip(1) {
            read.problems.push(duplicate(extra, *version, "down"));
        }
    }
    for (version, mut files) in ups {
        for extra in files.iter().skip(1) {
            read.problems.push(duplicate(extra, version, "up"));
        }
        let up = files.swap_remove(0);
        let down = match downs
            .remove(&version)
            .and_then(|mut d| (!d.is_empty()).then(|| d.swap_remove(0)))
        {
            Some(down) => SqlDown::Script(down.script),
            None => {
                read.problems.push(
                    Problem::new(
                        ProblemKind::MissingDown,
                        &up.script.path,
                        format!(
                            "no {}.down file: golang-migrate runs an empty down here and still moves the version",
                            up.id
                        ),
                    )
                    .at(1, None)
                    .of(up.id.clone()),
                );
                SqlDown::Missing
            }
        };
        read.migrations.push((
            VersionKey::Int(i128::from(version)),
            SqlMigration {
                id: up.id,
                version: version.to_string(),
                description: up.title,
                up: up.script,
                down,
            },
        ));
    }
    for down in downs.into_values().flat_map(|d| d.into_iter().take(1)) {
        read.problems.push(
            Problem::new(
                ProblemKind::MissingUp,
                &down.script.path,
                format!(
                    "no {}.up file: golang-migrate runs an empty up for version {} and this down undoes nothing it did",
                    down.id, down.version
                ),
            )
            .at(1, None)
            .of(down.id),
        );
    }
    Ok(read)
}

fn duplicate(extra: &File, version: u64, direction: &str) -> Problem {
    Problem::new(
        ProblemKind::DuplicateVersion,
        &extra.script.path,
        format!(
            "another {direction} file has version {version}: golang-migrate refuses the folder (duplicate migration file)"
        ),
    )
    .at(1, None)
    .of(extra.id.clone())
}
