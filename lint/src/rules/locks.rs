//! PostgreSQL transactions and locks in SQL-file migrations (MRT415-MRT417): statements that
//! fail inside a transaction block, constraints that scan the table under an exclusive lock,
//! type changes that rewrite it.

use super::{each_up, Ctx};
use crate::finding::Hit;
use crate::model::{show, surely_same, Body, Cons, Kind, Name, TxWhy};

/// MRT415, in the upgrade and the downgrade: each runs as its own script.
pub fn concurrently_in_transaction(ctx: &Ctx) -> Vec<Hit> {
    [&ctx.m.upgrade, &ctx.m.downgrade]
        .into_iter()
        .flatten()
        .flat_map(refused_statements)
        .collect()
}

fn refused_statements(body: &Body) -> Vec<Hit> {
    body.actions
        .iter()
        .filter_map(|a| {
            let what = match &a.kind {
                Kind::CreateIndex {
                    concurrently: true,
                    ..
                } => "CREATE INDEX CONCURRENTLY",
                Kind::NoTransaction { statement } => statement,
                _ => return None,
            };
            let tx = body.transaction_at(a.start)?;
            let why = match tx.why {
                TxWhy::Tool => "the migration tool runs this script inside one: the migration fails unless the file opts out of the transaction (sqlx `-- no-transaction`, diesel `run_in_transaction = false`, dbmate `transaction:false`)",
                TxWhy::Begin => "the script opens one (BEGIN) before it: the migration fails",
                TxWhy::OneString => "the script holds other statements, which the tool sends with it as one string and PostgreSQL runs as one implicit transaction block: the migration fails; keep it alone in its file",
            };
            Some(Hit::new(
                "MRT415",
                a.start,
                a.span,
                format!("{what} cannot run inside a transaction block, and {why}"),
            ))
        })
        .collect()
}

/// MRT416: `CHECK` and `FOREIGN KEY` constraints validate every existing row when added.
pub fn constraint_without_not_valid(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT416", |a| {
        let Kind::AddConstraint {
            name,
            table,
            cons: cons @ (Cons::Check | Cons::ForeignKey),
            not_valid: false,
        } = &a.kind
        else {
            return None;
        };
        if ctx.m.up_creates_table(table) {
            return None;
        }
        let what = if *cons == Cons::Check {
            "CHECK"
        } else {
            "FOREIGN KEY"
        };
        Some(format!(
            "ADD CONSTRAINT `{}` {what} on existing table `{}` without NOT VALID checks every row while holding an ACCESS EXCLUSIVE lock: add it NOT VALID, then VALIDATE CONSTRAINT in a later migration",
            show(name),
            show(table)
        ))
    })
}

/// MRT417: a type change PostgreSQL performs by rewriting the table. The old type comes from
/// the downgrade's change back, when it has one; without it only changes to types that cannot
/// be a cheap widening are reported.
pub fn type_change_rewrites_table(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, "MRT417", |a| {
        let Kind::ChangeType {
            table,
            column,
            to: Some(to),
        } = &a.kind
        else {
            return None;
        };
        if m.up_adds_column(table, column) {
            return None;
        }
        let old = old_type(ctx, table, column);
        rewrites(old, to).then(|| {
            format!(
                "changing `{}.{}` to `{to}` rewrites the whole table on PostgreSQL, holding an ACCESS EXCLUSIVE lock until it is done",
                show(table),
                show(column)
            )
        })
    })
}

/// The type the downgrade gives the column back: its type before the upgrade.
fn old_type<'a>(ctx: &'a Ctx, table: &Name, column: &Name) -> Option<&'a str> {
    ctx.m.down_actions().iter().find_map(|a| match &a.kind {
        Kind::ChangeType {
            table: t,
            column: c,
            to: Some(to),
        } if surely_same(t, table) && surely_same(c, column) => Some(to.as_str()),
        _ => None,
    })
}

/// A type, with the names PostgreSQL gives the same type unified and its modifiers read.
#[derive(Debug, PartialEq)]
struct Ty {
    base: String,
    mods: Vec<u32>,
}

fn ty(text: &str) -> Ty {
    let (base, mods) = match text.split_once('(') {
        Some((b, rest)) => (b, rest.trim_end_matches(')')),
        None => (text, ""),
    };
    let base = match base.trim() {
        "character varying" => "varchar",
        "character" | "char" => "bpchar",
        "decimal" => "numeric",
        "int" | "int4" | "integer" => "integer",
        "int8" | "bigint" => "bigint",
        "int2" | "smallint" => "smallint",
        "timestamp without time zone" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        other => other,
    };
    Ty {
        base: base.to_string(),
        mods: mods
            .split(',')
            .filter_map(|m| m.trim().parse().ok())
            .collect(),
    }
}

/// Whether changing a column from `old` (when known) to `new` rewrites the table. PostgreSQL
/// only relabels a column for binary-compatible changes: `varchar(n)` to a longer or unbounded
/// `varchar` or to `text`, `text` to unbounded `varchar`, `numeric(p,s)` to a larger precision
/// with the same scale or to unconstrained `numeric`.
fn rewrites(old: Option<&str>, new: &str) -> bool {
    let new = ty(new);
    let Some(old) = old.map(ty) else {
        return !matches!(new.base.as_str(), "varchar" | "text" | "numeric");
    };
    if old == new {
        return false;
    }
    let relabel = match (old.base.as_str(), new.base.as_str()) {
        ("varchar" | "text", "text") => true,
        ("varchar" | "text", "varchar") if new.mods.is_empty() => true,
        ("varchar", "varchar") => old.mods.first().is_some_and(|&n| new.mods[0] >= n),
        ("numeric", "numeric") if new.mods.is_empty() => true,
        ("numeric", "numeric") => {
            let scale = |t: &Ty| t.mods.get(1).copied().unwrap_or(0);
            old.mods
                .first()
                .is_some_and(|&p| new.mods[0] >= p && scale(&new) == scale(&old))
        }
        _ => false,
    };
    !relabel
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_compatible_changes_do_not_rewrite() {
        assert!(!rewrites(Some("varchar(10)"), "varchar(20)"));
        assert!(!rewrites(Some("character varying(10)"), "text"));
        assert!(!rewrites(Some("varchar(10)"), "varchar"));
        assert!(!rewrites(Some("text"), "varchar"));
        assert!(!rewrites(Some("numeric(5,2)"), "numeric(7,2)"));
        assert!(!rewrites(Some("decimal(5,2)"), "numeric"));
        assert!(!rewrites(None, "text"));
    }

    #[test]
    fn other_changes_rewrite() {
        assert!(rewrites(Some("varchar(20)"), "varchar(10)"));
        assert!(rewrites(Some("text"), "varchar(5)"));
        assert!(rewrites(Some("integer"), "bigint"));
        assert!(rewrites(Some("numeric(5,2)"), "numeric(7,3)"));
        assert!(rewrites(Some("varchar"), "varchar(100)"));
        assert!(rewrites(None, "bigint"));
        assert!(rewrites(None, "timestamptz"));
    }
}
