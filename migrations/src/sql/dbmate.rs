//! dbmate: `db/migrations/<version>_<name>.sql`, one file with `-- migrate:up` and
//! `-- migrate:down` sections.
//!
//! Read from amacneil/dbmate `pkg/dbmate/db.go` (`FindMigrations`, `migrationFileRegexp`) and
//! `pkg/dbmate/migration.go` (`parseMigrationContents`, `getMigrationSectionSubstrings`,
//! `parseMigrationSection`, `parseMigrationOptions`):
//! - only the folder itself is read; entries that are folders are skipped (`IsDir`, not
//!   following links); a name must match `^(\d+).*\.sql$`, the version being the leading digits;
//! - migrations are sorted by **file name** (byte order), not by numeric version, so `10_b.sql`
//!   runs before `2_c.sql`; two files with one version are both applied and the second fails
//!   to record itself;
//! - a directive is a line matching `(?m)^--\s*migrate:up(\s*$|\s+\S+)` (the same for
//!   `migrate:down`); the up block runs from its directive to the down directive, the down
//!   block from there to the end of the section; statements (lines that are not blank or `--`
//!   comments) before the first up directive are refused;
//! - options are `key:value` words on the directive line; `transaction:false` runs the block
//!   outside a transaction (per block);
//! - a missing up or down directive, or a down before the up, makes dbmate refuse the file.
//!   dbmate 2.34 and later split a file with several `-- migrate:up` directives into sections
//!   run one after another, but record the version once per section and so fail on the second
//!   (dbmate issue #820); mrt reads the first section and reports the file.

use super::files::{self, Target};
use super::version::VersionKey;
use super::{Read, SqlDown, SqlMigration, SqlScript};
use crate::{Problem, ProblemKind};
use std::path::Path;

/// Go RE2's `\s`: `[\t\n\f\r ]`.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// Byte offsets where `(?m)^--\s*migrate:<word>(\s*$|\s+\S+)` matches.
pub(crate) fn directives(text: &str, word: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let keyword = format!("migrate:{word}");
    let mut found = Vec::new();
    let mut start = 0;
    loop {
        if bytes[start..].starts_with(b"--") {
            let mut i = start + 2;
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            if bytes[i..].starts_with(keyword.as_bytes()) {
                let after = i + keyword.len();
                // `(\s*$|\s+\S+)`: the end of the text, or any `\s` next (`$` matches before a
                // newline, and a space is followed either by more text or by the end).
                if after == bytes.len() || is_space(bytes[after]) {
                    found.push(start);
                }
            }
        }
        match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(n) => start += n + 1,
            None => break,
        }
    }
    found
}

/// `key:value` options of a block's first line, as `parseMigrationOptions` reads them.
fn transaction(block: &str) -> bool {
    let line = block.split('\n').next().unwrap_or("");
    // Strip `^--\s*migrate:(up|down)`.
    let rest = line.strip_prefix("--").unwrap_or(line);
    let rest = rest.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
    let rest = rest
        .strip_prefix("migrate:up")
        .or_else(|| rest.strip_prefix("migrate:down"))
        .unwrap_or(rest);
    !rest
        .split(|c: char| c.is_ascii() && is_space(c as u8))
        .filter(|w| !w.is_empty())
        .filter_map(|w| {
            let pair: Vec<&str> = w.split(':').collect();
            (pair.len() == 2).then(|| (pair[0], pair[1]))
        })
        .any(|(k, v)| k == "transaction" && v == "false")
}

/// Lines before `until` that are neither blank nor `--` comments.
fn statements_before(text: &str, until: usize) -> Option<usize> {
    text[..until]
        .split('\n')
        .position(|line| {
            let t = line.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
            !t.is_empty() && !t.starts_with("--")
        })
        .map(|i| i + 1)
}

pub(crate) fn read(dir: &Path) -> std::io::Result<Read> {
    let mut read = Read::default();
    for entry in files::list(dir)? {
        if !entry.is_link && entry.target == Target::Dir {
            read.ignored.push((
                entry.path.clone(),
                "a folder; dbmate reads only the files of the migrations folder".into(),
            ));
            continue;
        }
        let Some(name) = entry.name.clone() else {
            read.ignored
                .push((entry.path.clone(), "file name is not UTF-8".into()));
            continue;
        };
        let digits = name.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || !name.ends_with(".sql") || name.len() < digits + 4 {
            read.ignored.push((
                entry.path.clone(),
                "not named <version>_<name>.sql; dbmate skips it".into(),
            ));
            continue;
        }
        if entry.target != Target::File {
            read.problems.push(files::broken(
                &entry,
                "dbmate fails when it reads this migration",
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
        let id = name.strip_suffix(".sql").unwrap_or(&name).to_string();
        let version = name[..digits].to_string();
        let description = id[digits..].trim_start_matches('_').to_string();
        if let Some(m) = parse(&entry.path, &name, &id, &text, &mut read) {
            read.migrations.push((
                VersionKey::Text(name.clone()),
                SqlMigration {
                    id,
                    version,
                    description,
                    up: m.0,
                    down: m.1,
                },
            ));
        }
    }
    Ok(read)
}

fn parse(
    path: &Path,
    name: &str,
    id: &str,
    text: &str,
    read: &mut Read,
) -> Option<(SqlScript, SqlDown)> {
    let problem = |kind, line: usize, message: String| {
        Problem::new(kind, path, message).at(line, None).of(id)
    };
    let ups = directives(text, "up");
    let downs = directives(text, "down");
    let Some(&up_at) = ups.first() else {
        read.problems.push(problem(
            ProblemKind::MissingUp,
            1,
            "no '-- migrate:up' line: dbmate refuses this migration".into(),
        ));
        return None;
    };
    if let Some(&early) = downs.iter().find(|&&d| d < up_at) {
        read.problems.push(problem(
            ProblemKind::Malformed,
            files::line_of(text, early),
            "'-- migrate:down' before '-- migrate:up': dbmate refuses this migration".into(),
        ));
        return None;
    }
    if let Some(line) = statements_before(text, up_at) {
        read.problems.push(problem(
            ProblemKind::Malformed,
            line,
            "a statement before '-- migrate:up': dbmate refuses this migration".into(),
        ));
        return None;
    }
    let section_end = ups.get(1).copied().unwrap_or(text.len());
    if ups.len() > 1 {
        read.problems.push(problem(
            ProblemKind::Malformed,
            files::line_of(text, ups[1]),
            format!(
                "{} '-- migrate:up' sections: dbmate 2.34 and later run them one by one but record the version once per section and fail on the second (dbmate issue #820); mrt reads the first section only",
                ups.len()
            ),
        ));
    }
    let section_downs: Vec<usize> = downs
        .iter()
        .copied()
        .filter(|&d| d > up_at && d < section_end)
        .collect();
    if section_downs.len() > 1 {
        read.problems.push(problem(
            ProblemKind::Malformed,
            files::line_of(text, section_downs[1]),
            "two '-- migrate:down' lines in one section: dbmate refuses this migration".into(),
        ));
        return None;
    }
    let script = |from: usize, to: usize| {
        let block = &text[from..to];
        SqlScript {
            path: path.to_path_buf(),
            text: block.to_string(),
            first_line: files::line_of(text, from),
            transactional: transaction(block),
            name: name.to_string(),
        }
    };
    match section_downs.first() {
        Some(&down_at) => Some((
            script(up_at, down_at),
            SqlDown::Script(script(down_at, section_end)),
        )),
        None => {
            read.problems.push(problem(
                ProblemKind::MissingDown,
                files::line_of(text, up_at),
                "no '-- migrate:down' line: dbmate refuses this migration".into(),
            ));
            Some((script(up_at, section_end), SqlDown::Missing))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_follow_dbmate_regex() {
        let text = "-- migrate:up\nx\n--migrate:up transaction:false\n-- migrate:upgrade\n  -- migrate:up\n-- migrate:up";
        assert_eq!(directives(text, "up"), vec![0, 16, 82]);
        assert_eq!(directives("-- migrate:down", "down"), vec![0]);
        assert_eq!(directives("-- migrate:down\t\n", "down"), vec![0]);
        // `\s*` crosses a line break, as in Go's regexp.
        assert_eq!(directives("--\nmigrate:up\n", "up"), vec![0]);
    }

    #[test]
    fn options_per_block() {
        assert!(!transaction(
            "-- migrate:up transaction:false\nCREATE INDEX ..."
        ));
        assert!(!transaction("--migrate:down  foo:bar transaction:false"));
        assert!(transaction("-- migrate:up transaction:true\n"));
        assert!(transaction("-- migrate:up transaction:false:x\n"));
        assert!(transaction("-- migrate:up\ntransaction:false"));
    }
}
