//! The frontend for migrations written as SQL files (sqlx, diesel, golang-migrate, dbmate,
//! Flyway, refinery): the up and down scripts become the neutral [`Migration`] the rules read,
//! statement by statement, each read by [`crate::sql`] like raw SQL in a Python revision.
//!
//! Positions: the rules see one position space. Position 0 stands for line 1 of the up file
//! (where findings about the whole migration go), the up text follows from 1, and the down
//! text after it; [`SqlPlace`] maps a position back to its file, line and column (a dbmate
//! section's lines counted from where it starts in the file).

use crate::finding::Hit;
use crate::model::{Action, Body, Kind, Migration, TxBlock, TxWhy, Via};
use crate::script::scan;
use crate::sql::{self, Control};
use crate::suppress::Suppressions;
use crate::{rules, to_findings, Dialect, Finding, Frontend, Place, Rule, Spot};
use rustpython_parser::text_size::{TextRange, TextSize};
use std::path::Path;

/// One SQL text of a migration: a whole file, or a section of one (dbmate).
#[derive(Debug, Clone, Copy)]
pub struct SqlSource<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    /// 1-based line of the file on which `text` starts (1 for a whole file; the line after
    /// `-- migrate:down` for a dbmate section).
    pub first_line: usize,
    /// The tool runs this script inside a transaction (sqlx unless the file starts with
    /// `-- no-transaction`, diesel unless metadata.toml says `run_in_transaction = false`,
    /// dbmate unless `-- migrate:up transaction:false`, Flyway yes, golang-migrate no).
    pub transactional: bool,
}

/// The down side of a SQL-file migration.
#[derive(Debug, Clone, Copy)]
pub enum SqlDown<'a> {
    Present(SqlSource<'a>),
    /// The layout has downs and this migration's is absent (MRT101 on the up file).
    Missing,
    /// Forward-only by design (refinery, sqlx "simple" migrations): no MRT101/MRT102 and no
    /// reverse-pairing rules that only make sense with a down, but every upgrade rule still runs.
    ForwardOnly,
}

/// One SQL-file migration to check.
#[derive(Debug, Clone, Copy)]
pub struct SqlFileContext<'a> {
    pub revision: Option<&'a str>,
    pub up: SqlSource<'a>,
    pub down: SqlDown<'a>,
    pub dialect: Dialect,
    /// Opt-in rules to run as well (codes or names, e.g. `MRT701`); empty runs none of them.
    pub opt_in_rules: &'a [&'a str],
}

/// Position of "line 1 of the up file".
const FILE_START: u32 = 0;
/// Where the up text starts in the position space.
const UP_BASE: u32 = 1;

/// Runs every enabled rule on one SQL-file migration. Findings carry the path of the file the
/// statement is in (up or down) and its line and column in that file; sorted up file first,
/// then by line, column, code; suppressed findings removed.
pub fn lint_sql_migration(ctx: &SqlFileContext) -> Vec<Finding> {
    let down_base = UP_BASE
        .saturating_add(to32(ctx.up.text.len()))
        .saturating_add(1);
    let mut statements = 0;
    let mut upgrade = body(&ctx.up, UP_BASE, ctx.dialect, &mut statements);
    // Findings about the whole migration (MRT101) go on the up file's first line.
    upgrade.def_start = TextSize::new(FILE_START);
    upgrade.header = TextRange::empty(upgrade.def_start);
    let (downgrade, forward_only) = match &ctx.down {
        SqlDown::Present(down) => (
            Some(body(down, down_base, ctx.dialect, &mut statements)),
            false,
        ),
        SqlDown::Missing => (None, false),
        SqlDown::ForwardOnly => (None, true),
    };
    let migration = Migration {
        upgrade: Some(upgrade),
        downgrade,
        fresh_tables: Vec::new(),
    };
    let rule_ctx = rules::Ctx {
        m: &migration,
        is_merge: false,
        forward_only,
        frontend: Frontend::SqlFiles,
        django: None,
    };
    let hits: Vec<(&'static Rule, Hit)> = rules::run(&rule_ctx, ctx.dialect, ctx.opt_in_rules);
    let mut place = SqlPlace::new(ctx, down_base);
    to_findings(ctx.revision, &mut place, hits)
}

fn to32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One script as a [`Body`]: its statements as actions at `base + offset`. Transaction control,
/// session settings and maintenance are no actions (a down migration has nothing to undo for
/// them); `BEGIN`/`COMMIT` mark where a transaction block runs.
fn body(src: &SqlSource, base: u32, dialect: Dialect, statements: &mut usize) -> Body {
    let at = |offset: usize| TextSize::new(base.saturating_add(to32(offset)));
    let whole = TextRange::new(at(0), at(src.text.len()));
    let script = scan(src.text, dialect);
    let mut body = Body {
        def_start: at(0),
        header: TextRange::empty(at(0)),
        whole,
        ..Body::default()
    };
    let mut opened: Option<usize> = None;
    let mut begun = Vec::new();
    for range in &script.statements {
        let piece = &src.text[range.clone()];
        let refused = sql::refused_in_transaction(piece);
        match sql::control(piece).filter(|_| refused.is_none()) {
            Some(Control::Begin) => {
                opened.get_or_insert(range.start);
                continue;
            }
            Some(Control::End) => {
                if let Some(from) = opened.take() {
                    begun.push(TextRange::new(at(from), at(range.end)));
                }
                continue;
            }
            Some(Control::Session | Control::Maintenance) => continue,
            None => {}
        }
        let mut kinds = sql::classify_file_statement(piece, dialect);
        if let Some(statement) = refused {
            kinds.push(Kind::NoTransaction { statement });
        }
        if matches!(kinds.as_slice(), [] | [Kind::OtherSql]) && sql::may_have_effects(piece) {
            body.opaque_effects = true;
        }
        let (start, span) = (
            at(range.start),
            TextRange::new(at(range.start), at(range.end)),
        );
        body.actions.extend(kinds.into_iter().map(|kind| Action {
            kind,
            via: Via::File,
            start,
            span,
            call: *statements,
        }));
        *statements += 1;
    }
    if let Some(from) = opened {
        begun.push(TextRange::new(at(from), whole.end()));
    }
    body.noop = body.actions.is_empty() && !body.opaque_effects;
    body.transactions = transactions(src, dialect, whole, begun, script.statements.len());
    body
}

/// Where the script runs inside a transaction block, most telling reason first.
fn transactions(
    src: &SqlSource,
    dialect: Dialect,
    whole: TextRange,
    begun: Vec<TextRange>,
    statements: usize,
) -> Vec<TxBlock> {
    let block = |range, why| TxBlock { range, why };
    let mut out = Vec::new();
    if src.transactional {
        out.push(block(whole, TxWhy::Tool));
    }
    out.extend(begun.into_iter().map(|r| block(r, TxWhy::Begin)));
    // A multi-statement string is one implicit transaction block on PostgreSQL only.
    let postgres = matches!(dialect, Dialect::Postgresql | Dialect::Generic);
    if postgres && statements > 1 {
        out.push(block(whole, TxWhy::OneString));
    }
    out
}

/// One script of the migration in the position space.
struct Segment<'a> {
    base: u32,
    src: SqlSource<'a>,
    /// Order of the file among the migration's (up 0, down 1).
    file: usize,
    line_starts: Vec<usize>,
    suppressions: Suppressions,
}

impl<'a> Segment<'a> {
    fn new(src: SqlSource<'a>, base: u32, file: usize, dialect: Dialect) -> Self {
        let line_starts = std::iter::once(0)
            .chain(src.text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Segment {
            base,
            src,
            file,
            line_starts,
            suppressions: Suppressions::from_sql(src.text, src.first_line.max(1), dialect),
        }
    }

    /// The file line and column of a position inside this script.
    fn line_column(&self, at: TextSize) -> (usize, usize) {
        let offset = (u32::from(at).saturating_sub(self.base) as usize).min(self.src.text.len());
        let index = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[index];
        let column = self
            .src
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (self.src.first_line.max(1) + index, column + 1)
    }
}

/// Where hits land in a SQL-file migration.
struct SqlPlace<'a> {
    up: Segment<'a>,
    down: Option<Segment<'a>>,
}

impl<'a> SqlPlace<'a> {
    fn new(ctx: &SqlFileContext<'a>, down_base: u32) -> Self {
        let down = match ctx.down {
            SqlDown::Present(down) => Some(Segment::new(down, down_base, 1, ctx.dialect)),
            SqlDown::Missing | SqlDown::ForwardOnly => None,
        };
        SqlPlace {
            up: Segment::new(ctx.up, UP_BASE, 0, ctx.dialect),
            down,
        }
    }

    fn segment(&self, at: TextSize) -> &Segment<'a> {
        match &self.down {
            Some(down) if u32::from(at) >= down.base => down,
            _ => &self.up,
        }
    }
}

impl Place for SqlPlace<'_> {
    fn locate(&mut self, at: TextSize) -> Spot {
        if u32::from(at) < UP_BASE {
            return Spot {
                file: 0,
                path: self.up.src.path.to_path_buf(),
                line: 1,
                column: 1,
            };
        }
        let segment = self.segment(at);
        let (line, column) = segment.line_column(at);
        Spot {
            file: segment.file,
            path: segment.src.path.to_path_buf(),
            line,
            column,
        }
    }

    fn silenced(&mut self, code: &str, span: TextRange) -> bool {
        if u32::from(span.start()) < UP_BASE {
            return self.up.suppressions.silences(code, 1, 1);
        }
        let segment = self.segment(span.start());
        let (first, _) = segment.line_column(span.start());
        let (last, _) = segment.line_column(span.end());
        segment.suppressions.silences(code, first, last)
    }

    /// Rules speak of `upgrade()` and `downgrade()`; a SQL migration has an up and a down.
    fn word(&self, message: String) -> String {
        message
            .replace("downgrade()", "the down migration")
            .replace("upgrade()", "the up migration")
    }
}
