//! Reading one Alembic revision file with a real Python parser, never importing it.

use crate::{Problem, ProblemKind, Revision};
use rustpython_parser::ast::{self, Constant, Expr, Ranged, Stmt};
use rustpython_parser::source_code::RandomLocator;
use rustpython_parser::text_size::TextSize;
use rustpython_parser::Parse;
use std::path::{Path, PathBuf};

/// What one `.py` file in a version location turned out to be.
#[derive(Debug)]
pub enum FileOutcome {
    Revision(Revision),
    /// A helper module or similar: it declares no `revision`.
    NotARevision(PathBuf, String),
    /// The file cannot be read as a revision; `salvaged_id` is the id found by a plain text scan,
    /// so that children pointing at it can be told which file is broken.
    Broken {
        problem: Problem,
        salvaged_id: Option<String>,
    },
}

pub fn read_revision_file(path: &Path) -> FileOutcome {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let problem = Problem::new(ProblemKind::Unreadable, path, format!("cannot read: {e}"));
            return FileOutcome::Broken {
                problem,
                salvaged_id: None,
            };
        }
    };
    match decode(&bytes) {
        Ok(source) => parse_revision_source(path, &source),
        Err((line, why)) => FileOutcome::Broken {
            problem: Problem::new(ProblemKind::NotUtf8, path, why).at(line, None),
            salvaged_id: None,
        },
    }
}

/// Decodes as UTF-8, or as Latin-1 when the file declares it with a PEP 263 coding cookie.
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

/// Parses a revision file's source. Module-level assignments are read as Python would: the last
/// one wins.
pub fn parse_revision_source(path: &Path, source: &str) -> FileOutcome {
    if let Some((line, why)) = super::too_complex(source) {
        let problem = Problem::new(
            ProblemKind::Syntax,
            path,
            format!("file too complex to analyse: {why}"),
        )
        .at(line, None);
        let salvaged_id = salvage_revision_id(source);
        let problem = match &salvaged_id {
            Some(id) => problem.of(id.clone()),
            None => problem,
        };
        return FileOutcome::Broken {
            problem,
            salvaged_id,
        };
    }
    let suite = match ast::Suite::parse(source, &path.display().to_string()) {
        Ok(s) => s,
        Err(err) => {
            let loc = RandomLocator::new(source).locate(err.offset);
            let problem = Problem::new(
                ProblemKind::Syntax,
                path,
                format!("syntax error: {}", err.error),
            )
            .at(loc.row.get() as usize, Some(loc.column.get() as usize));
            let salvaged_id = salvage_revision_id(source);
            let problem = match &salvaged_id {
                Some(id) => problem.of(id.clone()),
                None => problem,
            };
            return FileOutcome::Broken {
                problem,
                salvaged_id,
            };
        }
    };
    let mut reader = Reader {
        path,
        locator: RandomLocator::new(source),
        fields: Fields::default(),
    };
    for stmt in &suite {
        if let Err(problem) = reader.statement(stmt) {
            return FileOutcome::Broken {
                problem: *problem,
                salvaged_id: salvage_revision_id(source),
            };
        }
    }
    let Fields {
        revision,
        down,
        labels,
        depends,
    } = reader.fields;
    let Some((id, line)) = revision else {
        return FileOutcome::NotARevision(
            path.to_path_buf(),
            "declares no `revision` (Alembic itself refuses to load such a file)".into(),
        );
    };
    FileOutcome::Revision(Revision {
        id,
        down_revisions: down,
        branch_labels: labels,
        depends_on: depends,
        message: docstring_first_line(&suite),
        path: path.to_path_buf(),
        line,
    })
}

#[derive(Default)]
struct Fields {
    revision: Option<(String, usize)>,
    down: Vec<String>,
    labels: Vec<String>,
    depends: Vec<String>,
}

struct Reader<'a> {
    path: &'a Path,
    locator: RandomLocator<'a>,
    fields: Fields,
}

type ReadResult = Result<(), Box<Problem>>;

impl Reader<'_> {
    fn statement(&mut self, stmt: &Stmt) -> ReadResult {
        match stmt {
            Stmt::Assign(a) => {
                for target in &a.targets {
                    self.assign(target, &a.value)?;
                }
                Ok(())
            }
            Stmt::AnnAssign(a) => match &a.value {
                Some(value) => self.assign(&a.target, value),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn assign(&mut self, target: &Expr, value: &Expr) -> ReadResult {
        let Expr::Name(name) = target else {
            return Ok(());
        };
        match name.id.as_str() {
            "revision" => {
                let line = self.line(target.start());
                let ids = self.strings(value, "revision")?;
                match ids.as_slice() {
                    [id] => self.fields.revision = Some((id.clone(), line)),
                    _ => return Err(self.not_literal(value, "revision", "one string")),
                }
            }
            "down_revision" => self.fields.down = self.strings(value, "down_revision")?,
            "branch_labels" => self.fields.labels = self.strings(value, "branch_labels")?,
            "depends_on" => self.fields.depends = self.strings(value, "depends_on")?,
            _ => {}
        }
        Ok(())
    }

    /// `None`, a string, or a tuple/list of strings, as Alembic's `util.to_tuple` accepts.
    fn strings(&mut self, value: &Expr, field: &str) -> Result<Vec<String>, Box<Problem>> {
        match value {
            Expr::Constant(c) => match &c.value {
                Constant::None => Ok(Vec::new()),
                Constant::Str(s) => Ok(vec![s.clone()]),
                _ => Err(self.not_literal(value, field, "a string, None, or a tuple of strings")),
            },
            Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }) => {
                elts.iter()
                    .map(|e| match e {
                        Expr::Constant(ast::ExprConstant {
                            value: Constant::Str(s),
                            ..
                        }) => Ok(s.clone()),
                        _ => Err(self.not_literal(e, field, "string items")),
                    })
                    .collect()
            }
            _ => Err(self.not_literal(value, field, "a literal")),
        }
    }

    fn not_literal(&mut self, at: &Expr, field: &str, expected: &str) -> Box<Problem> {
        let loc = self.locator.locate(at.start());
        Box::new(
            Problem::new(
                ProblemKind::NotLiteral,
                self.path,
                format!(
                    "`{field}` must be {expected}; mrt reads revision files without running them"
                ),
            )
            .at(loc.row.get() as usize, Some(loc.column.get() as usize)),
        )
    }

    fn line(&mut self, offset: TextSize) -> usize {
        self.locator.locate(offset).row.get() as usize
    }
}

fn docstring_first_line(suite: &[Stmt]) -> Option<String> {
    let Some(Stmt::Expr(e)) = suite.first() else {
        return None;
    };
    let Expr::Constant(ast::ExprConstant {
        value: Constant::Str(doc),
        ..
    }) = e.value.as_ref()
    else {
        return None;
    };
    doc.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// A plain line scan for `revision = "..."` (or `revision: str = "..."`) in a file that does not
/// parse, so the graph can say which file a missing parent lives in.
fn salvage_revision_id(source: &str) -> Option<String> {
    source.lines().rev().find_map(|line| {
        let rest = line.strip_prefix("revision")?;
        if !rest.starts_with([' ', ':', '=']) {
            return None;
        }
        let value = rest.split_once('=')?.1.trim();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = &value[1..];
        inner.find(quote).map(|end| inner[..end].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> FileOutcome {
        parse_revision_source(Path::new("v/x.py"), src)
    }

    fn revision(src: &str) -> Revision {
        match parse(src) {
            FileOutcome::Revision(r) => r,
            other => panic!("expected a revision, got {other:?}"),
        }
    }

    #[test]
    fn reads_classic_template() {
        let r = revision("\"\"\"add users\n\nRevision ID: a1\n\"\"\"\nrevision = 'a1'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n");
        assert_eq!(r.id, "a1");
        assert!(r.down_revisions.is_empty());
        assert_eq!(r.message.as_deref(), Some("add users"));
        assert_eq!(r.line, 5);
    }

    #[test]
    fn reads_annotated_template_and_merge_tuple() {
        let r = revision(
            "from typing import Sequence, Union\nrevision: str = \"m1\"\ndown_revision: Union[str, Sequence[str], None] = (\"a1\", \"b1\")\nbranch_labels: Union[str, Sequence[str], None] = ('lbl',)\ndepends_on: Union[str, Sequence[str], None] = ['x1']\n",
        );
        assert_eq!(r.id, "m1");
        assert_eq!(r.down_revisions, ["a1", "b1"]);
        assert_eq!(r.branch_labels, ["lbl"]);
        assert_eq!(r.depends_on, ["x1"]);
        assert_eq!(r.line, 2);
    }

    #[test]
    fn last_assignment_wins() {
        assert_eq!(revision("revision = 'a'\nrevision = 'b'\n").id, "b");
    }

    #[test]
    fn file_without_revision_is_not_a_revision() {
        assert!(matches!(
            parse("def helper():\n    pass\n"),
            FileOutcome::NotARevision(..)
        ));
    }

    #[test]
    fn syntax_error_names_line_and_salvages_id() {
        match parse("revision = 'c3'\ndown_revision = 'b2'\ndef upgrade(:\n    pass\n") {
            FileOutcome::Broken {
                problem,
                salvaged_id,
            } => {
                assert_eq!(problem.kind, ProblemKind::Syntax);
                assert_eq!(problem.line, Some(3));
                assert_eq!(salvaged_id.as_deref(), Some("c3"));
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn computed_revision_is_reported_not_guessed() {
        match parse("revision = make_id()\n") {
            FileOutcome::Broken { problem, .. } => {
                assert_eq!(problem.kind, ProblemKind::NotLiteral);
                assert_eq!(problem.line, Some(1));
            }
            other => panic!("expected NotLiteral, got {other:?}"),
        }
    }

    #[test]
    fn latin1_with_cookie_decodes_and_bad_utf8_reports_line() {
        let latin1 = b"# -*- coding: latin-1 -*-\n\"\"\"caf\xe9\"\"\"\nrevision = 'a'\n";
        assert!(decode(latin1).is_ok_and(|s| s.contains("caf\u{e9}")));
        let err = decode(b"revision = 'a'\n# \xff\n").unwrap_err();
        assert_eq!(err.0, 2);
    }
}
