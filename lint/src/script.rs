//! A SQL migration script cut into statements with their byte ranges, and the comments in it.
//!
//! A statement ends at the delimiter (`;`, or what a MySQL `DELIMITER` line sets) outside
//! string literals, quoted identifiers, PostgreSQL dollar-quoted bodies, comments and the
//! `BEGIN ... END` body of a trigger, procedure, function or event (SQLite and MySQL write
//! their bodies inline, with `;` between the inner statements). What is inside a body or a
//! literal is never read as a statement or a comment of the script: a function body holding
//! `DROP TABLE x;` and a string holding `-- noqa` are text, not SQL.
//!
//! Ranges start at the statement's first token (leading comments are not part of it) and end
//! after its last token, before the delimiter.

use crate::sql::{skip_dollar, skip_quoted, skip_until};
use crate::Dialect;
use std::ops::Range;

/// What [`scan`] found in a script.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Script {
    pub statements: Vec<Range<usize>>,
    /// Every comment, markers included (`-- ...` without its line break, `/* ... */`).
    pub comments: Vec<Range<usize>>,
}

/// Cuts `sql` into statements and comments, reading it with `dialect`'s lexical rules:
/// backslash escapes in MySQL strings, `#` comments on MySQL, dollar quoting on PostgreSQL
/// (and an unknown dialect), `DELIMITER` lines everywhere but PostgreSQL.
pub fn scan(sql: &str, dialect: Dialect) -> Script {
    Scanner::new(sql, dialect).run()
}

struct Scanner<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    dialect: Dialect,
    out: Script,
    delimiter: String,
    /// First token of the statement being read.
    start: Option<usize>,
    /// End of its last token so far.
    end: usize,
    /// Its first words, upper-case, to tell whether it has a `BEGIN ... END` body.
    words: Vec<String>,
    /// Open `BEGIN`/`CASE` blocks in such a body.
    depth: usize,
}

/// Words after `CREATE` that decide whether the statement may carry a compound body.
const BODY_OBJECTS: &[&str] = &["TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"];
const PLAIN_OBJECTS: &[&str] = &[
    "TABLE",
    "VIEW",
    "INDEX",
    "UNIQUE",
    "TYPE",
    "SEQUENCE",
    "SCHEMA",
    "EXTENSION",
    "DOMAIN",
    "MATERIALIZED",
    "DATABASE",
    "ROLE",
    "USER",
];
/// Loops and conditionals closed by `END IF`, `END LOOP`, ...: their `END` closes no `BEGIN`.
const END_QUALIFIERS: &[&str] = &["IF", "LOOP", "WHILE", "REPEAT", "FOR"];

impl<'a> Scanner<'a> {
    fn new(sql: &'a str, dialect: Dialect) -> Self {
        Scanner {
            sql,
            bytes: sql.as_bytes(),
            dialect,
            out: Script::default(),
            delimiter: ";".to_string(),
            start: None,
            end: 0,
            words: Vec::new(),
            depth: 0,
        }
    }

    fn run(mut self) -> Script {
        let mut i = 0;
        while i < self.bytes.len() {
            i = self.step(i);
        }
        self.finish_statement();
        self.out
    }

    /// Reads what starts at `i`; returns where the next thing starts.
    fn step(&mut self, i: usize) -> usize {
        let b = self.bytes;
        let c = b[i];
        if c.is_ascii_whitespace() {
            return i + 1;
        }
        if self.start.is_none() && self.dialect != Dialect::Postgresql {
            if let Some(next) = self.delimiter_line(i) {
                return next;
            }
        }
        let line_comment = (c == b'-' && b.get(i + 1) == Some(&b'-'))
            || (c == b'#' && self.dialect == Dialect::Mysql);
        if line_comment {
            let end = self.sql[i..].find('\n').map_or(b.len(), |n| i + n);
            self.out.comments.push(i..end);
            return end;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = skip_until(b, i + 2, b"*/");
            self.out.comments.push(i..end);
            return end;
        }
        if self.depth == 0 && self.sql[i..].starts_with(self.delimiter.as_str()) {
            self.finish_statement();
            return i + self.delimiter.len();
        }
        if self.start.is_none() {
            self.start = Some(i);
        }
        let next = match c {
            b'\'' => self.skip_string(i),
            b'"' | b'`' => skip_quoted(b, i),
            b'$' if self.dollar_quotes() && !self.after_identifier(i) => skip_dollar(self.sql, i),
            c if c.is_ascii_alphabetic() || c == b'_' => self.word(i),
            _ => i + self.sql[i..].chars().next().map_or(1, char::len_utf8),
        };
        self.end = next;
        next
    }

    /// `$` belongs to identifiers, unless a `DELIMITER $$` made it the end of statements
    /// (`END$$`).
    fn dollar_in_words(&self) -> bool {
        !self.delimiter.starts_with('$')
    }

    fn dollar_quotes(&self) -> bool {
        matches!(self.dialect, Dialect::Postgresql | Dialect::Generic)
    }

    /// `a$b$`: a `$` inside an identifier does not open a dollar quote.
    fn after_identifier(&self, i: usize) -> bool {
        i > 0 && {
            let p = self.bytes[i - 1];
            p.is_ascii_alphanumeric() || p == b'_' || p == b'$'
        }
    }

    /// A single-quoted literal; MySQL strings (and PostgreSQL `E'...'`) take backslash escapes.
    fn skip_string(&self, i: usize) -> usize {
        let backslash = self.dialect == Dialect::Mysql
            || (i > 0 && matches!(self.bytes[i - 1], b'e' | b'E') && !self.after_identifier(i - 1));
        if !backslash {
            return skip_quoted(self.bytes, i);
        }
        let mut j = i + 1;
        while j < self.bytes.len() {
            match self.bytes[j] {
                b'\\' => j += 2,
                b'\'' if self.bytes.get(j + 1) == Some(&b'\'') => j += 2,
                b'\'' => return j + 1,
                _ => j += 1,
            }
        }
        self.bytes.len()
    }

    /// An identifier or keyword; tracks `BEGIN ... END` bodies of statements that have them.
    fn word(&mut self, i: usize) -> usize {
        let end = word_end(self.bytes, i, self.dollar_in_words());
        let word = self.sql[i..end].to_ascii_uppercase();
        // `E'...'`: the literal follows directly and is read as one.
        if word == "E" && self.bytes.get(end) == Some(&b'\'') {
            return end;
        }
        if self.words.len() < 12 {
            self.words.push(word.clone());
        }
        if self.has_body() {
            match word.as_str() {
                "BEGIN" | "CASE" => self.depth += 1,
                "END" => {
                    let qualifier = next_word(self.sql, end, self.dollar_in_words());
                    let qualifier = qualifier.to_ascii_uppercase();
                    if !END_QUALIFIERS.contains(&qualifier.as_str()) {
                        self.depth = self.depth.saturating_sub(1);
                    }
                }
                _ => {}
            }
        }
        end
    }

    /// `CREATE [OR REPLACE] [DEFINER = ...] TRIGGER|PROCEDURE|FUNCTION|EVENT ...`.
    fn has_body(&self) -> bool {
        if self.words.first().map(String::as_str) != Some("CREATE") {
            return false;
        }
        for w in &self.words[1..] {
            if BODY_OBJECTS.contains(&w.as_str()) {
                return true;
            }
            if PLAIN_OBJECTS.contains(&w.as_str()) {
                return false;
            }
        }
        false
    }

    /// `DELIMITER $$` on a line of its own, between statements (the mysql client's command):
    /// the rest of the line is the new delimiter. Returns the end of the line.
    fn delimiter_line(&mut self, i: usize) -> Option<usize> {
        let end = word_end(self.bytes, i, false);
        if !self.sql[i..end].eq_ignore_ascii_case("DELIMITER") {
            return None;
        }
        let line_end = self.sql[i..].find('\n').map_or(self.bytes.len(), |n| i + n);
        let new = self.sql[end..line_end].trim();
        if new.is_empty() || !self.bytes.get(end).is_some_and(u8::is_ascii_whitespace) {
            return None;
        }
        self.delimiter = new.to_string();
        Some(line_end)
    }

    fn finish_statement(&mut self) {
        if let Some(start) = self.start.take() {
            self.out.statements.push(start..self.end.max(start));
        }
        self.words.clear();
        self.depth = 0;
    }
}

fn word_end(bytes: &[u8], i: usize, dollar: bool) -> usize {
    let mut j = i;
    while j < bytes.len()
        && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || (dollar && bytes[j] == b'$'))
    {
        j += 1;
    }
    j
}

/// The word after `at`, past whitespace (empty when something else comes first).
fn next_word(sql: &str, at: usize, dollar: bool) -> &str {
    let rest = &sql[at..];
    let skipped = rest.len() - rest.trim_start().len();
    let from = at + skipped;
    &sql[from..word_end(sql.as_bytes(), from, dollar)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, dialect: Dialect) -> Vec<&str> {
        scan(sql, dialect)
            .statements
            .into_iter()
            .map(|r| &sql[r])
            .collect()
    }

    #[test]
    fn ranges_start_at_the_first_token_and_stop_before_the_delimiter() {
        let sql = "-- lead\nCREATE TABLE a (id int);\n\n  DROP TABLE b ;  -- tail\n";
        let script = scan(sql, Dialect::Postgresql);
        let stmts: Vec<&str> = script.statements.iter().map(|r| &sql[r.clone()]).collect();
        assert_eq!(stmts, ["CREATE TABLE a (id int)", "DROP TABLE b"]);
        let comments: Vec<&str> = script.comments.iter().map(|r| &sql[r.clone()]).collect();
        assert_eq!(comments, ["-- lead", "-- tail"]);
    }

    #[test]
    fn quotes_dollar_bodies_and_comments_hide_semicolons() {
        let sql = "CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN DROP TABLE x; RETURN NEW; END $body$ LANGUAGE plpgsql;\n\
                   INSERT INTO t VALUES ('a;b', 'it''s -- no comment');\n\
                   /* a; b */ SELECT \"odd;name\" FROM t;\n\
                   DO $$ BEGIN PERFORM 1; END $$;";
        let stmts = texts(sql, Dialect::Postgresql);
        assert_eq!(stmts.len(), 4, "{stmts:?}");
        assert!(stmts[0].ends_with("LANGUAGE plpgsql"));
        assert!(stmts[2].starts_with("SELECT"));
        let comments = scan(sql, Dialect::Postgresql).comments;
        assert_eq!(
            comments.len(),
            1,
            "the `--` inside the literal is no comment"
        );
    }

    #[test]
    fn trigger_bodies_are_one_statement() {
        let sql = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET n = n + 1;\n  DELETE FROM c WHERE x = CASE WHEN 1 THEN 2 END;\nEND;\nDROP TABLE z;";
        let stmts = texts(sql, Dialect::Sqlite);
        assert_eq!(stmts.len(), 2, "{stmts:?}");
        assert!(stmts[0].ends_with("END"));
        assert_eq!(stmts[1], "DROP TABLE z");
    }

    #[test]
    fn mysql_delimiter_and_compound_bodies() {
        let sql = "DELIMITER $$\nCREATE PROCEDURE p() BEGIN\n  IF 1 THEN SELECT 1; END IF;\n  SELECT 'a\\'; b';\nEND$$\nDELIMITER ;\nDROP TABLE z; # gone\n";
        let script = scan(sql, Dialect::Mysql);
        let stmts: Vec<&str> = script.statements.iter().map(|r| &sql[r.clone()]).collect();
        assert_eq!(stmts.len(), 2, "{stmts:?}");
        assert!(stmts[0].starts_with("CREATE PROCEDURE") && stmts[0].ends_with("END"));
        assert_eq!(stmts[1], "DROP TABLE z");
        assert_eq!(script.comments.len(), 1);
    }

    #[test]
    fn a_table_named_like_a_body_object_is_plain() {
        let sql = "CREATE TABLE trigger_log (begin_at int);\nDROP TABLE y;";
        assert_eq!(texts(sql, Dialect::Sqlite).len(), 2);
    }

    #[test]
    fn unterminated_input_never_panics() {
        for sql in [
            "'abc",
            "$$ x",
            "/* x",
            "CREATE TRIGGER t BEGIN",
            "é;ü",
            "E'\\",
            "DELIMITER",
        ] {
            let _ = scan(sql, Dialect::Postgresql);
            let _ = scan(sql, Dialect::Mysql);
            let _ = scan(sql, Dialect::Sqlite);
        }
    }
}
