//! refinery: `V<n>__<name>.sql` and `U<n>__<name>.sql`, forward-only.
//!
//! Read from rust-db/refinery `refinery_core/src/util.rs` (`STEM_RE`, `find_migration_files`,
//! `parse_no_transaction`, `load_sql_migrations`), `refinery_core/src/migration.rs`
//! (`Migration::unapplied`, the checksum, `Ord` by version) and `refinery_core/src/traits/mod.rs`
//! (`verify_migrations`):
//! - the location is walked recursively (`WalkDir`, links not followed into folders); a file
//!   name must match `^([U|V])(\d+(?:\.\d+)?)__(\w+)\.sql$` or it is skipped with a warning;
//! - the version must parse as an `i32` (`1.5` matches the pattern but is refused:
//!   `InvalidVersion`);
//! - in refinery `U` means *unversioned*, not undo: a `U` migration is applied even when its
//!   version is below the database's current one, where a `V` would be reported missing. Both
//!   are recorded in the history table and both are forward-only: refinery has no down;
//! - migrations are sorted by version; two with one version are both applied and the second
//!   fails to record itself;
//! - a line `-- refinery:noTransaction` (`^[-]{2,}[\s]?(refinery:noTransaction)$`) anywhere in
//!   the file runs it outside a transaction.
//!
//! `\w` is Unicode-aware in the `regex` crate; mrt reads it as alphanumeric or `_`.

use super::files::{self, Target};
use super::version::VersionKey;
use super::{Read, SqlDown, SqlMigration, SqlScript};
use crate::{Problem, ProblemKind};
use std::path::Path;

const MAX_DEPTH: usize = 32;

pub(crate) fn read(dir: &Path) -> std::io::Result<Read> {
    let mut read = Read::default();
    walk(dir, dir, 0, &mut read)?;
    Ok(read)
}

fn walk(base: &Path, dir: &Path, depth: usize, read: &mut Read) -> std::io::Result<()> {
    for entry in files::list(dir)? {
        if !entry.is_link && entry.target == Target::Dir {
            if depth < MAX_DEPTH {
                if let Err(e) = walk(base, &entry.path, depth + 1, read) {
                    read.problems.push(Problem::new(
                        ProblemKind::Unreadable,
                        &entry.path,
                        format!("cannot list this folder ({e}); refinery skips what is in it"),
                    ));
                }
            }
            continue;
        }
        let Some(name) = entry.name.clone() else {
            read.ignored.push((
                entry.path.clone(),
                "file name is not UTF-8; refinery skips it".into(),
            ));
            continue;
        };
        let Some((prefix, digits, stem_name)) = parse_name(&name) else {
            read.ignored.push((
                entry.path.clone(),
                "not named [U|V]<version>__<name>.sql; refinery skips it with a warning".into(),
            ));
            continue;
        };
        let id = name.strip_suffix(".sql").unwrap_or(&name).to_string();
        if prefix == '|' {
            read.problems.push(
                Problem::new(
                    ProblemKind::Malformed,
                    &entry.path,
                    "the name starts with '|', which refinery's pattern [U|V] accepts and then cannot handle",
                )
                .at(1, None),
            );
            continue;
        }
        let Ok(version) = digits.parse::<i32>() else {
            read.problems.push(
                Problem::new(
                    ProblemKind::BadVersion,
                    &entry.path,
                    format!("version {digits} is not an i32: refinery refuses the migrations (InvalidVersion)"),
                )
                .at(1, None),
            );
            continue;
        };
        if entry.target != Target::File {
            read.problems
                .push(files::broken(&entry, "refinery cannot read this migration"));
            continue;
        }
        let text = match files::read_text(&entry.path) {
            Ok(text) => text,
            Err(problem) => {
                read.problems.push(problem);
                continue;
            }
        };
        let transactional = !text.lines().any(no_transaction);
        read.migrations.push((
            VersionKey::Int(i128::from(version)),
            SqlMigration {
                id,
                version: version.to_string(),
                description: stem_name.to_string(),
                up: SqlScript {
                    name: files::relative_name(base, &entry.path),
                    path: entry.path.clone(),
                    text,
                    first_line: 1,
                    transactional,
                },
                down: SqlDown::ForwardOnly,
            },
        ));
    }
    Ok(())
}

/// `^([U|V])(\d+(?:\.\d+)?)__(\w+)\.sql$`: (prefix, version text, name).
fn parse_name(name: &str) -> Option<(char, &str, &str)> {
    let prefix = name
        .chars()
        .next()
        .filter(|c| matches!(c, 'U' | 'V' | '|'))?;
    let rest = name[1..].strip_suffix(".sql")?;
    let (version, stem) = rest.split_once("__")?;
    let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let version_ok = match version.split_once('.') {
        Some((a, b)) => digits_ok(a) && digits_ok(b),
        None => digits_ok(version),
    };
    let word = |c: char| c.is_alphanumeric() || c == '_';
    (version_ok && !stem.is_empty() && stem.chars().all(word)).then_some((prefix, version, stem))
}

/// `^[-]{2,}[\s]?(refinery:noTransaction)$` on one line.
fn no_transaction(line: &str) -> bool {
    let dashes = line.bytes().take_while(|&b| b == b'-').count();
    if dashes < 2 {
        return false;
    }
    let rest = &line[dashes..];
    let rest = rest
        .strip_prefix(|c: char| c.is_whitespace())
        .unwrap_or(rest);
    rest == "refinery:noTransaction"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_refinery_matches_them() {
        assert_eq!(parse_name("V1__init.sql"), Some(('V', "1", "init")));
        assert_eq!(parse_name("U12__add_col.sql"), Some(('U', "12", "add_col")));
        assert_eq!(parse_name("V1.5__x.sql"), Some(('V', "1.5", "x")));
        assert_eq!(parse_name("V1__add-phone.sql"), None);
        assert_eq!(parse_name("V1_init.sql"), None);
        assert_eq!(parse_name("v1__init.sql"), None);
        assert_eq!(parse_name("V__init.sql"), None);
        assert_eq!(parse_name("V1__.sql"), None);
        assert_eq!(parse_name("V1__x.rs"), None);
    }

    #[test]
    fn no_transaction_annotation() {
        assert!(no_transaction("-- refinery:noTransaction"));
        assert!(no_transaction("---refinery:noTransaction"));
        assert!(!no_transaction("-- refinery:noTransaction;"));
        assert!(!no_transaction("  -- refinery:noTransaction"));
        assert!(!no_transaction("--  refinery:noTransaction"));
    }
}
