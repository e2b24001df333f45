//! Reading a Python file of a Django project (a migration, `manage.py`, settings, `apps.py`)
//! into a syntax tree, never importing it; a file that cannot be read becomes a [`Problem`].

use crate::{Problem, ProblemKind};
use rustpython_parser::ast::{self, Constant, Expr, Ranged, Stmt};
use rustpython_parser::source_code::RandomLocator;
use rustpython_parser::text_size::TextSize;
use rustpython_parser::Parse;
use std::path::Path;

/// A parsed file and what locates its nodes.
pub(crate) struct Source {
    pub text: String,
    pub suite: ast::Suite,
}

impl Source {
    /// Reads and parses `path`. Deeply nested files are refused before parsing (the parser
    /// recurses and would overflow the stack on them).
    pub fn read(path: &Path) -> Result<Source, Box<Problem>> {
        let bytes = std::fs::read(path).map_err(|e| {
            Box::new(Problem::new(
                ProblemKind::Unreadable,
                path,
                format!("cannot read: {e}"),
            ))
        })?;
        let text = decode(&bytes).map_err(|(line, why)| {
            Box::new(Problem::new(ProblemKind::NotUtf8, path, why).at(line, None))
        })?;
        Source::parse(path, text)
    }

    pub fn parse(path: &Path, text: String) -> Result<Source, Box<Problem>> {
        if let Some((line, why)) = crate::alembic::too_complex(&text) {
            return Err(Box::new(
                Problem::new(
                    ProblemKind::Syntax,
                    path,
                    format!("file too complex to analyse: {why}"),
                )
                .at(line, None),
            ));
        }
        match ast::Suite::parse(&text, &path.display().to_string()) {
            Ok(suite) => Ok(Source { text, suite }),
            Err(err) => {
                let loc = RandomLocator::new(&text).locate(err.offset);
                Err(Box::new(
                    Problem::new(
                        ProblemKind::Syntax,
                        path,
                        format!("syntax error: {}", err.error),
                    )
                    .at(loc.row.get() as usize, Some(loc.column.get() as usize)),
                ))
            }
        }
    }

    /// 1-based line and column of an offset.
    pub fn locate(&self, offset: TextSize) -> (usize, usize) {
        let loc = RandomLocator::new(&self.text).locate(offset);
        (loc.row.get() as usize, loc.column.get() as usize)
    }

    pub fn line_of(&self, node: &impl Ranged) -> usize {
        self.locate(node.start()).0
    }

    /// The source text of a node, for messages.
    pub fn snippet(&self, node: &impl Ranged) -> &str {
        let range = node.range();
        let (start, end) = (usize::from(range.start()), usize::from(range.end()));
        self.text.get(start..end).unwrap_or("")
    }

    /// First line of the module docstring.
    pub fn docstring_first_line(&self) -> Option<String> {
        let Some(Stmt::Expr(e)) = self.suite.first() else {
            return None;
        };
        string(&e.value)?
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    }
}

/// A string literal's value.
pub(crate) fn string(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Constant(ast::ExprConstant {
            value: Constant::Str(s),
            ..
        }) => Some(s),
        _ => None,
    }
}

/// The dotted name of a name or attribute chain (`migrations.Migration`, `settings.X`).
pub(crate) fn dotted(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(n) => Some(n.id.to_string()),
        Expr::Attribute(a) => Some(format!("{}.{}", dotted(&a.value)?, a.attr)),
        _ => None,
    }
}

/// Statements run at module level in source order, entering `if`/`else`, `try` and `with`
/// blocks (a settings file that sets a value in both branches of an `if` is read as if the last
/// branch ran: the value written last in the file).
pub(crate) fn flat_statements(suite: &[Stmt]) -> Vec<&Stmt> {
    let mut out = Vec::new();
    flatten(suite, &mut out);
    out
}

fn flatten<'a>(suite: &'a [Stmt], out: &mut Vec<&'a Stmt>) {
    for stmt in suite {
        match stmt {
            Stmt::If(s) => {
                flatten(&s.body, out);
                flatten(&s.orelse, out);
            }
            Stmt::Try(s) => {
                flatten(&s.body, out);
                for ast::ExceptHandler::ExceptHandler(h) in &s.handlers {
                    flatten(&h.body, out);
                }
                flatten(&s.orelse, out);
                flatten(&s.finalbody, out);
            }
            Stmt::With(s) => flatten(&s.body, out),
            other => out.push(other),
        }
    }
}

/// Decodes as UTF-8 (without a BOM), or as Latin-1 when a PEP 263 coding cookie declares it.
fn decode(bytes: &[u8]) -> Result<String, (usize, String)> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.strip_prefix('\u{feff}').unwrap_or(s).to_string()),
        Err(_) if declares_latin1(bytes) => Ok(bytes.iter().map(|&b| b as char).collect()),
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            Err((
                line,
                format!(
                    "file is not valid UTF-8 (invalid byte at offset {}); save it as UTF-8",
                    e.valid_up_to()
                ),
            ))
        }
    }
}

fn declares_latin1(bytes: &[u8]) -> bool {
    bytes.split(|&b| b == b'\n').take(2).any(|line| {
        let line = String::from_utf8_lossy(line).to_lowercase();
        line.trim_start().starts_with('#')
            && line.contains("coding")
            && ["latin-1", "latin1", "iso-8859-1", "iso8859-1"]
                .iter()
                .any(|enc| line.contains(enc))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_and_deep_files_are_problems_with_a_line() {
        let p = Source::parse(Path::new("m.py"), "x = 1\ndef f(:\n".into())
            .err()
            .unwrap();
        assert_eq!((p.kind, p.line), (ProblemKind::Syntax, Some(2)));
        let deep = format!("x = {}1{}\n", "(".repeat(300), ")".repeat(300));
        let p = Source::parse(Path::new("m.py"), deep).err().unwrap();
        assert!(p.message.contains("too complex"), "{}", p.message);
    }

    #[test]
    fn latin1_cookie_decodes_and_bad_bytes_name_the_line() {
        assert!(decode(b"# coding: latin-1\nx = '\xe9'\n").is_ok());
        assert_eq!(decode(b"x = 1\n# \xff\n").unwrap_err().0, 2);
    }

    #[test]
    fn flat_statements_enter_branches_in_source_order() {
        let src = Source::parse(
            Path::new("s.py"),
            "A = 1\nif x:\n    B = 2\nelse:\n    C = 3\ntry:\n    D = 4\nexcept E:\n    F = 5\n"
                .into(),
        )
        .ok()
        .unwrap();
        let names: Vec<String> = flat_statements(&src.suite)
            .into_iter()
            .filter_map(|s| match s {
                Stmt::Assign(a) => dotted(&a.targets[0]),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["A", "B", "C", "D", "F"]);
    }
}
