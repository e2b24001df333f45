//! Nullability, defaults, uniqueness, indexes and constraints (MRT213, MRT401-MRT410).

use super::{each_up, Ctx};
use crate::finding::Hit;
use crate::model::{same, show, surely_same, Cons, DefaultKind, Kind, Migration, Name, Obj, Via};

/// MRT213; when the downgrade does not make the column nullable again, MRT402 (op) or MRT403
/// (raw SQL) reports the same statement and names this one.
pub fn set_not_null_existing(ctx: &Ctx) -> Vec<Hit> {
    ctx.m
        .up_actions()
        .iter()
        .filter_map(|a| match &a.kind {
            Kind::SetNotNull { table, column } if !ctx.m.up_adds_column(table, column) => {
                let hit = Hit::new(
                    "MRT213",
                    a.start,
                    a.span,
                    format!(
                        "upgrade() makes existing column `{}.{}` NOT NULL: it fails on rows that hold NULL",
                        show(table),
                        show(column)
                    ),
                );
                Some(hit.yielding_at_call(if a.via.is_sql() { "MRT403" } else { "MRT402" }))
            }
            _ => None,
        })
        .collect()
}

fn not_null_reverted(m: &Migration, table: &Name, column: &Name) -> bool {
    m.down_any(|k| match k {
        Kind::DropNotNull {
            table: t,
            column: c,
        }
        | Kind::DropColumn {
            table: t,
            column: c,
        } => same(t, table) && same(c, column),
        Kind::Drop {
            obj: Obj::Table,
            name,
        } => same(name, table),
        _ => false,
    })
}

pub fn not_null_not_reverted(ctx: &Ctx) -> Vec<Hit> {
    not_null_unreverted(ctx, "MRT402", false)
}

pub fn not_null_sql_not_reverted(ctx: &Ctx) -> Vec<Hit> {
    not_null_unreverted(ctx, "MRT403", true)
}

fn not_null_unreverted(ctx: &Ctx, code: &'static str, sql: bool) -> Vec<Hit> {
    each_up(ctx, code, |a| match &a.kind {
        Kind::SetNotNull { table, column }
            if a.via.is_sql() == sql && !not_null_reverted(ctx.m, table, column) =>
        {
            Some(format!(
                "upgrade() makes `{}.{}` NOT NULL and downgrade() does not make it nullable again",
                show(table),
                show(column)
            ))
        }
        _ => None,
    })
}

pub fn not_null_without_default(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT401", |a| {
        match &a.kind {
        Kind::AddColumn { table, column, not_null: true, default: DefaultKind::None }
            if !ctx.m.up_creates_table(table) =>
        {
            Some(format!(
                "upgrade() adds NOT NULL column `{}.{}` without a server default: it fails on a table that has rows",
                show(table),
                show(column)
            ))
        }
        _ => None,
    }
    })
}

pub fn volatile_default(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT404", |a| {
        match &a.kind {
        Kind::AddColumn { table, column, default: DefaultKind::Volatile, .. } => Some(format!(
            "upgrade() adds `{}.{}` with a volatile default: every row is rewritten under an exclusive lock",
            show(table),
            show(column)
        )),
        _ => None,
    }
    })
}

/// A NOT NULL column with a server default is the recommended fix for MRT401, so only nullable
/// columns are reported: their existing rows silently get the default instead of NULL. A
/// default the framework only fills existing rows with (Django's `default=`) does the same.
pub fn server_default(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT405", |a| {
        let Kind::AddColumn {
            table,
            column,
            not_null: false,
            default: default @ (DefaultKind::Static | DefaultKind::Backfill),
        } = &a.kind
        else {
            return None;
        };
        if ctx.m.up_creates_table(table) {
            return None;
        }
        let what = if *default == DefaultKind::Static {
            "a server default"
        } else {
            "a default"
        };
        Some(format!(
            "upgrade() adds nullable column `{}.{}` with {what}: existing rows get the default, not NULL",
            show(table),
            show(column)
        ))
    })
}

pub fn unique_on_existing(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT406", |a| {
        match &a.kind {
        Kind::CreateIndex { table, unique: true, name, .. }
        | Kind::AddConstraint { table, cons: Cons::Unique, name, .. } => (!ctx.m.up_creates_table(table)).then(|| {
            format!(
                "upgrade() adds unique `{}` on existing table `{}`: it fails if current rows hold duplicates",
                show(name),
                show(table)
            )
        }),
        _ => None,
    }
    })
}

pub fn index_not_concurrent(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT407", |a| {
        match &a.kind {
        Kind::CreateIndex { name, table, concurrently: false, .. } if !ctx.m.up_creates_table(table) => Some(format!(
            "CREATE INDEX `{}` on existing table `{}` without CONCURRENTLY blocks writes while it builds",
            show(name),
            show(table)
        )),
        _ => None,
    }
    })
}

pub fn drop_index(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, "MRT408", |a| {
        let Kind::Drop {
            obj: Obj::Index,
            name,
        } = &a.kind
        else {
            return None;
        };
        let temporary =
            m.up_any(|k| matches!(k, Kind::CreateIndex { name: n, .. } if surely_same(n, name)));
        let restored =
            m.down_any(|k| matches!(k, Kind::CreateIndex { name: n, .. } if same(n, name)));
        (!temporary && !restored).then(|| {
            format!(
                "upgrade() drops index `{}` and downgrade() does not re-create it",
                show(name)
            )
        })
    })
}

pub fn drop_constraint(ctx: &Ctx) -> Vec<Hit> {
    constraint_unrestored(ctx, "MRT409", false)
}

pub fn batch_drop_constraint(ctx: &Ctx) -> Vec<Hit> {
    constraint_unrestored(ctx, "MRT410", true)
}

/// Foreign keys known to be foreign keys are MRT205's; this covers the rest.
fn constraint_unrestored(ctx: &Ctx, code: &'static str, batch: bool) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, code, |a| {
        let Kind::DropConstraint { name, cons, table } = &a.kind else {
            return None;
        };
        if *cons == Cons::ForeignKey || (a.via == Via::Batch) != batch {
            return None;
        }
        let restored = m.down_any(|k| match k {
            Kind::AddConstraint {
                name: n, cons: c, ..
            } => same(n, name) && (c == cons || *c == Cons::Unknown || *cons == Cons::Unknown),
            Kind::CreateIndex {
                name: n,
                unique: true,
                ..
            } => surely_same(n, name),
            _ => false,
        });
        (!restored).then(|| {
            format!(
                "upgrade() drops constraint `{}` on `{}` and downgrade() does not re-create it",
                show(name),
                show(table)
            )
        })
    })
}
