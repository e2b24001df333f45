//! `# noqa`, `# noqa: MRT201,MRT202`, `# mrt: ignore` and `# mrt: ignore[MRT201]` comments, and
//! the same in SQL files (`-- noqa: MRT201`, `/* mrt: ignore[MRT201] */`).
//!
//! Comments come from the Python lexer, or for SQL from [`crate::script::scan`], so a `#` or
//! `--` inside a string literal (or a dollar-quoted body) is never mistaken for one; a
//! suppression applies to any line of the statement a finding spans.

use crate::Dialect;
use rustpython_parser::lexer::lex;
use rustpython_parser::source_code::RandomLocator;
use rustpython_parser::{Mode, Tok};
use std::collections::HashMap;

/// What one comment silences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Silence {
    All,
    Codes(Vec<String>),
}

impl Silence {
    fn covers(&self, code: &str) -> bool {
        match self {
            Silence::All => true,
            Silence::Codes(codes) => codes.iter().any(|c| c.eq_ignore_ascii_case(code)),
        }
    }
}

/// Suppression comments by 1-based line.
#[derive(Debug, Default)]
pub struct Suppressions {
    by_line: HashMap<usize, Vec<Silence>>,
}

impl Suppressions {
    pub fn from_source(source: &str) -> Self {
        let mut locator = RandomLocator::new(source);
        let mut by_line: HashMap<usize, Vec<Silence>> = HashMap::new();
        for token in lex(source, Mode::Module) {
            let Ok((tok, range)) = token else { break };
            if let Tok::Comment(text) = tok {
                if let Some(silence) = parse_comment(&text) {
                    let line = locator.locate(range.start()).row.get() as usize;
                    by_line.entry(line).or_default().push(silence);
                }
            }
        }
        Suppressions { by_line }
    }

    /// The suppression comments of a SQL script whose text starts on line `first_line` of its
    /// file; lines are the file's.
    pub fn from_sql(text: &str, first_line: usize, dialect: Dialect) -> Self {
        let mut by_line: HashMap<usize, Vec<Silence>> = HashMap::new();
        for range in crate::script::scan(text, dialect).comments {
            if let Some(silence) = parse_sql_comment(&text[range.clone()]) {
                let line = first_line + text[..range.start].matches('\n').count();
                by_line.entry(line).or_default().push(silence);
            }
        }
        Suppressions { by_line }
    }

    /// True when any line in `first..=last` silences `code`.
    pub fn silences(&self, code: &str, first: usize, last: usize) -> bool {
        (first..=last.max(first)).any(|line| {
            self.by_line
                .get(&line)
                .is_some_and(|list| list.iter().any(|s| s.covers(code)))
        })
    }
}

/// Reads one comment (with its leading `#`). Codes may be separated by commas and/or spaces and
/// are matched case-insensitively; `# noqa:` with nothing readable after it silences everything,
/// as flake8 does.
pub fn parse_comment(comment: &str) -> Option<Silence> {
    let lower = comment.to_ascii_lowercase();
    // Each `#` may start a directive: `# reason  # noqa: MRT201` is honoured, `# see noqa docs` is not.
    lower
        .split('#')
        .skip(1)
        .find_map(|part| directive(part.trim_start()))
}

/// Reads one SQL comment, markers included: `-- noqa: MRT201`, `/* mrt: ignore[MRT201] */`, or
/// MySQL's `# noqa`. The grammar is [`parse_comment`]'s; each `--` may start a directive, as
/// each `#` does there (`-- archived  -- noqa: MRT201`).
pub fn parse_sql_comment(comment: &str) -> Option<Silence> {
    let lower = comment.to_ascii_lowercase();
    if let Some(block) = lower.strip_prefix("/*") {
        let inner = block.strip_suffix("*/").unwrap_or(block);
        return directive(inner.trim_start());
    }
    if lower.starts_with('#') {
        return parse_comment(comment);
    }
    lower
        .split("--")
        .skip(1)
        .find_map(|part| directive(part.trim_start()))
}

fn directive(text: &str) -> Option<Silence> {
    if let Some(rest) = text.strip_prefix("noqa") {
        return Some(match rest.trim_start().strip_prefix(':') {
            Some(list) => codes_or_all(leading_codes(list)),
            None => Silence::All,
        });
    }
    let rest = text
        .strip_prefix("mrt:")?
        .trim_start()
        .strip_prefix("ignore")?;
    match rest.trim_start().strip_prefix('[') {
        Some(list) => {
            let inside = list.split(']').next().unwrap_or("");
            Some(codes_or_all(leading_codes(inside)))
        }
        None => Some(Silence::All),
    }
}

fn codes_or_all(codes: Vec<String>) -> Silence {
    if codes.is_empty() {
        Silence::All
    } else {
        Silence::Codes(codes)
    }
}

/// Codes at the start of `text`: letters followed by digits, stopping at the first word that is
/// not one (so `# noqa: MRT201 because ...` reads only MRT201).
fn leading_codes(text: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for word in text.split(|c: char| c == ',' || c.is_whitespace()) {
        if word.is_empty() {
            continue;
        }
        if !is_code(word) {
            break;
        }
        codes.push(word.to_ascii_uppercase());
    }
    codes
}

fn is_code(word: &str) -> bool {
    let letters = word.chars().take_while(|c| c.is_ascii_alphabetic()).count();
    letters > 0 && letters < word.len() && word[letters..].chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms() {
        assert_eq!(parse_comment("# noqa"), Some(Silence::All));
        assert_eq!(
            parse_comment("# noqa: MRT201,mrt202"),
            Some(Silence::Codes(vec!["MRT201".into(), "MRT202".into()]))
        );
        assert_eq!(
            parse_comment("#noqa:MRT201 MRT202 reason"),
            Some(Silence::Codes(vec!["MRT201".into(), "MRT202".into()]))
        );
        assert_eq!(parse_comment("# mrt: ignore"), Some(Silence::All));
        assert_eq!(
            parse_comment("# mrt: ignore[MRT201, MRT408]"),
            Some(Silence::Codes(vec!["MRT201".into(), "MRT408".into()]))
        );
        assert_eq!(parse_comment("# just a comment"), None);
        assert_eq!(parse_comment("# mrt: something"), None);
        assert_eq!(parse_comment("# see the noqa docs"), None);
        assert_eq!(
            parse_comment("# archived in 4.2  # noqa: MRT201"),
            Some(Silence::Codes(vec!["MRT201".into()]))
        );
    }

    #[test]
    fn reads_the_sql_forms() {
        assert_eq!(parse_sql_comment("-- noqa"), Some(Silence::All));
        assert_eq!(
            parse_sql_comment("--noqa: MRT201, mrt202 reason"),
            Some(Silence::Codes(vec!["MRT201".into(), "MRT202".into()]))
        );
        assert_eq!(
            parse_sql_comment("/* mrt: ignore[MRT415] */"),
            Some(Silence::Codes(vec!["MRT415".into()]))
        );
        assert_eq!(
            parse_sql_comment("-- kept for audit -- mrt: ignore"),
            Some(Silence::All)
        );
        assert_eq!(parse_sql_comment("-- see the noqa docs"), None);
        assert_eq!(
            parse_sql_comment("# noqa: MRT201"),
            Some(Silence::Codes(vec!["MRT201".into()]))
        );
    }

    #[test]
    fn sql_comments_are_found_outside_literals_on_file_lines() {
        let text = "SELECT '-- noqa';\nDROP TABLE a; -- noqa: MRT202\nCREATE FUNCTION f() AS $$ -- noqa $$;\n";
        let s = Suppressions::from_sql(text, 10, Dialect::Postgresql);
        assert!(!s.silences("MRT202", 10, 10));
        assert!(s.silences("MRT202", 11, 11));
        assert!(!s.silences("MRT201", 11, 11));
        assert!(!s.silences("MRT504", 12, 12));
    }

    #[test]
    fn hash_in_string_is_not_a_comment() {
        let s = Suppressions::from_source("x = '# noqa'\ny = 1  # noqa: MRT201\n");
        assert!(!s.silences("MRT201", 1, 1));
        assert!(s.silences("MRT201", 2, 2));
        assert!(!s.silences("MRT202", 2, 2));
        assert!(s.silences("MRT201", 1, 3));
    }
}
