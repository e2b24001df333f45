//! Renames and type changes (MRT301-MRT304).

use super::{each_up, each_up_at, Ctx};
use crate::finding::Hit;
use crate::model::{same, show, surely_same, Kind, Migration, Name, Obj};

/// A table the upgrade created before renaming it (built under a temporary name) needs no
/// rename back: the downgrade drops it under its final name.
pub fn rename_table(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up_at(ctx, "MRT301", |i, a| {
        let Kind::RenameTable { from, to } = &a.kind else {
            return None;
        };
        if m.up_created_before(i, from) || replaced_later(m, i, from, to) {
            return None;
        }
        let reversed = m.down_any(
            |k| matches!(k, Kind::RenameTable { from: f, to: t } if same(f, to) && same(t, from)),
        );
        (!reversed).then(|| {
            format!(
                "upgrade() renames table `{}` to `{}` and downgrade() does not rename `{}` back to `{}`",
                show(from),
                show(to),
                show(to),
                show(from)
            )
        })
    })
}

/// After renaming `from` to `to`, the upgrade creates a new `from` or drops `to`: the rename
/// moved the old table aside for a rebuild, and the downgrade deals with `from`, not `to`.
fn replaced_later(m: &Migration, i: usize, from: &Name, to: &Name) -> bool {
    m.up_actions()[i + 1..].iter().any(|a| match &a.kind {
        Kind::Create {
            obj: Obj::Table,
            name,
            ..
        } => surely_same(name, from),
        Kind::Drop {
            obj: Obj::Table,
            name,
        } => surely_same(name, to),
        _ => false,
    })
}

/// As for tables: a column the upgrade added before renaming it is new under either name.
pub fn rename_column(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up_at(ctx, "MRT302", |i, a| {
        let Kind::RenameColumn { table, from, to } = &a.kind else {
            return None;
        };
        if m.up_added_before(i, table, from) {
            return None;
        }
        let reversed = m.down_any(|k| {
            matches!(k, Kind::RenameColumn { table: t, from: f, to: n } if same(t, table) && same(f, to) && same(n, from))
        });
        (!reversed).then(|| {
            format!(
                "upgrade() renames column `{}.{}` to `{}` and downgrade() does not rename it back",
                show(table),
                show(from),
                show(to)
            )
        })
    })
}

/// MRT303; when the change also rewrites a PostgreSQL table (MRT417), that finding names this one.
pub fn type_change(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT303", |a| {
        match &a.kind {
        Kind::ChangeType { table, column, .. } if !ctx.m.up_adds_column(table, column) => Some(format!(
            "upgrade() changes the type of `{}.{}`: values may be truncated or rounded on the way, and again on the way back",
            show(table),
            show(column)
        )),
        _ => None,
    }
    })
    .into_iter()
    .map(|h| h.yielding_at_call("MRT417"))
    .collect()
}

/// PostgreSQL cannot remove an enum value; only re-creating the type undoes it.
pub fn enum_value_added(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, "MRT304", |a| {
        let Kind::AddEnumValue { ty } = &a.kind else {
            return None;
        };
        let recreated = m.down_any(|k| {
            matches!(k, Kind::Create { obj: Obj::Type, name, .. } | Kind::Drop { obj: Obj::Type, name } if same(name, ty))
        });
        (!recreated).then(|| {
            format!(
                "upgrade() adds a value to enum type `{}`; PostgreSQL cannot drop enum values and downgrade() does not re-create the type",
                show(ty)
            )
        })
    })
}
