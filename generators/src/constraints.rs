//! What a table's constraints demand of its rows: which column sets must be unique (and how the
//! databases compare them), and what CHECK constraints say about single columns (ranges, lengths,
//! lists) and about pairs of columns (`start_at < end_at`). CHECKs that cannot be read this way
//! are left to the database; its insert error then names the constraint.

use crate::strategy::{Bound, Spec};
use crate::types::SqlType;
use mrt_db::{Table, Value};
use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// A set of columns that must not repeat, as column indexes (an index on `lower(email)` counts
/// as one on `email`; the text comparison in [`UniqueSet::key`] already ignores case).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UniqueSet {
    pub columns: Vec<usize>,
}

impl UniqueSet {
    /// The comparison key of a row, or `None` when a NULL makes the row exempt (NULLs are
    /// distinct in unique constraints on all three databases). Text is compared the way MySQL's
    /// default collations do — case-insensitively, ignoring trailing spaces, accents folded
    /// crudely — so rows that one database thinks equal are never generated.
    pub(crate) fn key(&self, row: &[Value]) -> Option<Vec<Value>> {
        self.columns
            .iter()
            .map(|&c| match row.get(c)? {
                Value::Null => None,
                Value::Text(s) => Some(Value::Text(collation_key(s))),
                other => Some(other.clone()),
            })
            .collect()
    }
}

fn collation_key(s: &str) -> String {
    s.trim_end_matches(' ')
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_ascii_lowercase()
            } else {
                '?'
            }
        })
        .collect()
}

/// Column sets that must be unique: the primary key, unique constraints, unique indexes
/// (partial ones too: unique everywhere is unique under any WHERE). Index entries such as
/// `email DESC`, `lower(email)` or `name COLLATE "C"` count as their column; other expressions
/// make the index unreadable and it is skipped.
pub(crate) fn unique_sets(table: &Table) -> Vec<UniqueSet> {
    let mut sets: Vec<UniqueSet> = Vec::new();
    let mut push = |cols: &[String]| {
        let idx: Option<Vec<usize>> = cols.iter().map(|c| index_column(table, c)).collect();
        if let Some(columns) = idx.filter(|i| !i.is_empty()) {
            let set = UniqueSet { columns };
            if !sets.contains(&set) {
                sets.push(set);
            }
        }
    };
    push(&table.primary_key);
    for u in &table.uniques {
        push(&u.columns);
    }
    for ix in table.indexes.iter().filter(|ix| ix.unique) {
        push(&ix.columns);
    }
    sets
}

fn index_column(table: &Table, entry: &str) -> Option<usize> {
    let find = |name: &str| {
        let name = name.trim().trim_matches(['"', '`', '[', ']']);
        table.columns.iter().position(|c| c.name == name)
    };
    if let Some(i) = find(entry) {
        return Some(i);
    }
    let lower = entry.to_ascii_lowercase();
    let head = entry
        .split(" DESC")
        .next()
        .and_then(|e| e.split(" COLLATE").next())
        .unwrap_or(entry);
    if let Some(i) = find(head) {
        return Some(i);
    }
    for f in ["lower(", "upper("] {
        if let Some(rest) = lower.strip_prefix(f) {
            let inner = &entry[f.len()..f.len() + rest.trim_end_matches(')').len()];
            let inner = inner
                .split("::")
                .next()
                .unwrap_or(inner)
                .trim_matches(['(', ')']);
            return find(inner);
        }
    }
    None
}

/// A CHECK between two columns of the same row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnComparison {
    pub left: usize,
    pub op: Cmp,
    pub right: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cmp {
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl ColumnComparison {
    /// Whether `row` satisfies it; NULLs satisfy a CHECK (it is not false).
    pub(crate) fn holds(&self, row: &[Value]) -> bool {
        let (Some(a), Some(b)) = (row.get(self.left), row.get(self.right)) else {
            return true;
        };
        let Some(ord) = compare(a, b) else {
            return true;
        };
        match self.op {
            Cmp::Lt => ord.is_lt(),
            Cmp::LtEq => ord.is_le(),
            Cmp::Gt => ord.is_gt(),
            Cmp::GtEq => ord.is_ge(),
        }
    }

    /// Swaps the two values when that makes the row satisfy the check (same kinds only).
    pub(crate) fn repair(&self, row: &mut [Value]) {
        if !self.holds(row)
            && std::mem::discriminant(&row[self.left]) == std::mem::discriminant(&row[self.right])
        {
            row.swap(self.left, self.right);
        }
    }
}

/// Orders numbers numerically (decimal text included) and other text as text, which is right
/// for ISO dates and timestamps of the same shape.
fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Text(x), Value::Text(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(p), Ok(q)) => p.partial_cmp(&q),
            _ => Some(x.cmp(y)),
        },
        (x, y) => Some(x.cmp(y)),
    }
}

/// What the table's CHECKs add: per-column specs and column-pair comparisons.
pub(crate) struct Checks {
    pub specs: Vec<Spec>,
    pub comparisons: Vec<ColumnComparison>,
}

/// Reads the table's CHECK constraints into the per-column specs.
pub(crate) fn read_checks(table: &Table) -> Checks {
    let mut checks = Checks {
        specs: table.columns.iter().map(Spec::of).collect(),
        comparisons: Vec::new(),
    };
    for check in &table.checks {
        let parsed = Parser::new(&GenericDialect {})
            .try_with_sql(&check.expression)
            .and_then(|mut p| p.parse_expr());
        if let Ok(expr) = parsed {
            apply(table, &expr, &mut checks);
        }
    }
    checks
}

fn apply(table: &Table, expr: &Expr, checks: &mut Checks) {
    let col = |e: &Expr| column_of(table, e);
    match expr {
        Expr::Nested(inner) => apply(table, inner, checks),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            apply(table, left, checks);
            apply(table, right, checks);
        }
        Expr::BinaryOp { left, op, right } => {
            let Some(cmp) = cmp_of(op) else {
                if *op == BinaryOperator::Eq {
                    if let (Some(c), Some(v)) = (col(left), literal(right)) {
                        restrict_to(checks, c, vec![v]);
                    }
                }
                return;
            };
            if let (Some(c), Some(n)) = (col(left), number(right)) {
                bound(&mut checks.specs[c], cmp, n);
            } else if let (Some(n), Some(c)) = (number(left), col(right)) {
                bound(&mut checks.specs[c], flip(cmp), n);
            } else if let (Some(c), Some(n)) = (length_of(table, left), number(right)) {
                length(&mut checks.specs[c], cmp, n);
            } else if let (Some(n), Some(c)) = (number(left), length_of(table, right)) {
                length(&mut checks.specs[c], flip(cmp), n);
            } else if let (Some(l), Some(r)) = (col(left), col(right)) {
                checks.comparisons.push(ColumnComparison {
                    left: l,
                    op: cmp,
                    right: r,
                });
            }
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => {
            let (Some(lo), Some(hi)) = (number(low), number(high)) else {
                return;
            };
            if let Some(c) = col(expr) {
                bound(&mut checks.specs[c], Cmp::GtEq, lo);
                bound(&mut checks.specs[c], Cmp::LtEq, hi);
            } else if let Some(c) = length_of(table, expr) {
                length(&mut checks.specs[c], Cmp::GtEq, lo);
                length(&mut checks.specs[c], Cmp::LtEq, hi);
            }
        }
        Expr::InList {
            expr,
            list,
            negated: false,
        } => {
            let values: Option<Vec<String>> = list.iter().map(literal).collect();
            if let (Some(c), Some(values)) = (col(expr), values) {
                restrict_to(checks, c, values);
            }
        }
        Expr::AnyOp {
            left,
            compare_op: BinaryOperator::Eq,
            right,
            ..
        } => {
            // PostgreSQL's rendering of IN: `x = ANY (ARRAY['a', 'b'])`.
            let right = strip(right);
            if let (Some(c), Expr::Array(array)) = (col(left), right) {
                let values: Option<Vec<String>> = array.elem.iter().map(literal).collect();
                if let Some(values) = values {
                    restrict_to(checks, c, values);
                }
            }
        }
        // MariaDB's JSON is LONGTEXT with `CHECK (json_valid(c))`: the values must be JSON.
        Expr::Function(_) => {
            if let Some(c) = function_of_column(table, expr, &["json_valid"]) {
                checks.specs[c].ty = SqlType::Json;
            }
        }
        _ => {}
    }
}

/// Integer-like columns keep their type (a list of numbers is a range); others become enums.
fn restrict_to(checks: &mut Checks, c: usize, values: Vec<String>) {
    let spec = &mut checks.specs[c];
    match spec.ty {
        SqlType::Text { .. } | SqlType::Unknown | SqlType::Enum(_) => {
            spec.ty = SqlType::Enum(values)
        }
        _ => {
            let nums: Vec<f64> = values.iter().filter_map(|v| v.parse().ok()).collect();
            if let (Some(lo), Some(hi)) = (
                nums.iter().copied().reduce(f64::min),
                nums.iter().copied().reduce(f64::max),
            ) {
                // Only exact for contiguous lists; good enough for `x IN (0, 1)`.
                bound(spec, Cmp::GtEq, lo);
                bound(spec, Cmp::LtEq, hi);
            }
        }
    }
}

fn cmp_of(op: &BinaryOperator) -> Option<Cmp> {
    Some(match op {
        BinaryOperator::Lt => Cmp::Lt,
        BinaryOperator::LtEq => Cmp::LtEq,
        BinaryOperator::Gt => Cmp::Gt,
        BinaryOperator::GtEq => Cmp::GtEq,
        _ => return None,
    })
}

fn flip(c: Cmp) -> Cmp {
    match c {
        Cmp::Lt => Cmp::Gt,
        Cmp::LtEq => Cmp::GtEq,
        Cmp::Gt => Cmp::Lt,
        Cmp::GtEq => Cmp::LtEq,
    }
}

fn tighter(old: Option<Bound>, new: Bound, lower: bool) -> Option<Bound> {
    match old {
        Some(o) if (lower && o.0 > new.0) || (!lower && o.0 < new.0) => Some(o),
        Some(o) if o.0 == new.0 => Some((o.0, o.1 && new.1)),
        _ => Some(new),
    }
}

fn bound(spec: &mut Spec, cmp: Cmp, n: f64) {
    match cmp {
        Cmp::Gt => spec.lo = tighter(spec.lo, (n, false), true),
        Cmp::GtEq => spec.lo = tighter(spec.lo, (n, true), true),
        Cmp::Lt => spec.hi = tighter(spec.hi, (n, false), false),
        Cmp::LtEq => spec.hi = tighter(spec.hi, (n, true), false),
    }
}

fn length(spec: &mut Spec, cmp: Cmp, n: f64) {
    let n = n.max(0.0) as u32;
    match cmp {
        Cmp::Gt => spec.min_chars = spec.min_chars.max(n + 1),
        Cmp::GtEq => spec.min_chars = spec.min_chars.max(n),
        Cmp::Lt => {
            spec.max_chars = Some(
                spec.max_chars
                    .map_or(n.saturating_sub(1), |m| m.min(n.saturating_sub(1))),
            )
        }
        Cmp::LtEq => spec.max_chars = Some(spec.max_chars.map_or(n, |m| m.min(n))),
    }
}

/// Drops parentheses and casts (`(price)::numeric`), which PostgreSQL adds when it prints a CHECK.
fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => strip(inner),
        Expr::Cast { expr, .. } => strip(expr),
        other => other,
    }
}

pub(crate) fn column_of(table: &Table, e: &Expr) -> Option<usize> {
    let name = match strip(e) {
        Expr::Identifier(ident) => &ident.value,
        Expr::CompoundIdentifier(parts) => &parts.last()?.value,
        _ => return None,
    };
    table.columns.iter().position(|c| &c.name == name)
}

/// `length(x)`, `char_length(x)`, `character_length(x)`, `len(x)` → x.
fn length_of(table: &Table, e: &Expr) -> Option<usize> {
    function_of_column(
        table,
        e,
        &["length", "char_length", "character_length", "len"],
    )
}

/// The column `e` applies one of the functions `names` to (`length(title)` -> title).
fn function_of_column(table: &Table, e: &Expr, names: &[&str]) -> Option<usize> {
    let Expr::Function(f) = strip(e) else {
        return None;
    };
    let name = f.name.to_string().to_ascii_lowercase();
    if !names.contains(&name.as_str()) {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] => column_of(table, arg),
        _ => None,
    }
}

fn number(e: &Expr) -> Option<f64> {
    match strip(e) {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Number(n, _) => n.parse().ok(),
            sqlparser::ast::Value::SingleQuotedString(s) => s.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => number(expr).map(|n| -n),
        _ => None,
    }
}

/// A literal's text: strings unquoted, numbers as written.
pub(crate) fn literal(e: &Expr) -> Option<String> {
    match strip(e) {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Number(n, _) => Some(n.to_string()),
            sqlparser::ast::Value::SingleQuotedString(s)
            | sqlparser::ast::Value::DoubleQuotedString(s)
            | sqlparser::ast::Value::EscapedStringLiteral(s)
            | sqlparser::ast::Value::NationalStringLiteral(s) => Some(s.clone()),
            sqlparser::ast::Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => number(expr).map(|n| format!("{}", -n)),
        _ => None,
    }
}
