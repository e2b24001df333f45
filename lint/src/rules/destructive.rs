//! Rules about schema changes that lose data even when the downgrade re-creates the shape
//! (MRT201, MRT202, MRT204-MRT208).

use super::{each_up, Ctx};
use crate::finding::Hit;
use crate::model::{same, show, surely_same, Cons, Kind, Obj, Via};

pub fn drop_column(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT201", |a| {
        match &a.kind {
        Kind::DropColumn { table, column } if a.via != Via::Batch => Some(format!(
            "upgrade() drops column `{}.{}`: its values are gone even if downgrade() re-adds the column",
            show(table),
            show(column)
        )),
        _ => None,
    }
    })
}

pub fn batch_drop_column(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT206", |a| {
        match &a.kind {
        Kind::DropColumn { table, column } if a.via == Via::Batch => Some(format!(
            "batch_alter_table drops column `{}.{}` (the table is copied without it): its values are gone even if downgrade() re-adds it",
            show(table),
            show(column)
        )),
        _ => None,
    }
    })
}

pub fn drop_table(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT202", |a| match &a.kind {
        Kind::Drop {
            obj: Obj::Table,
            name,
        } if !ctx.m.up_creates_table(name) => Some(format!(
            "upgrade() drops table `{}`: its rows are gone even if downgrade() re-creates it",
            show(name)
        )),
        _ => None,
    })
}

pub fn cascade_delete(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT204", |a| {
        matches!(a.kind, Kind::Cascade).then(|| {
            "foreign key with ON DELETE CASCADE: deleting a parent row now silently deletes its children".to_string()
        })
    })
}

pub fn drop_foreign_key(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, "MRT205", |a| {
        let Kind::DropConstraint {
            name,
            cons: Cons::ForeignKey,
            ..
        } = &a.kind
        else {
            return None;
        };
        let restored = m.down_any(|k| {
            matches!(k, Kind::AddConstraint { name: n, cons: Cons::ForeignKey | Cons::Unknown, .. } if same(n, name))
        });
        (!restored).then(|| {
            format!(
                "upgrade() drops foreign key `{}` and downgrade() does not re-create it",
                show(name)
            )
        })
    })
}

pub fn drop_view(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, "MRT207", |a| {
        let Kind::Drop {
            obj: Obj::View,
            name,
        } = &a.kind
        else {
            return None;
        };
        let temporary = m.up_any(
            |k| matches!(k, Kind::Create { obj: Obj::View, name: n, .. } if surely_same(n, name)),
        );
        let restored = m.down_any(
            |k| matches!(k, Kind::Create { obj: Obj::View, name: n, .. } if same(n, name)),
        );
        (!temporary && !restored).then(|| {
            format!(
                "upgrade() drops view `{}` and downgrade() does not re-create it",
                show(name)
            )
        })
    })
}

/// Add a column, copy data into it, drop the old one: the old column's values cannot come back.
pub fn multi_step(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, "MRT208", |a| {
        let Kind::DropColumn { table, column } = &a.kind else {
            return None;
        };
        let added = m.up_any(|k| {
            matches!(k, Kind::AddColumn { table: t, column: c, .. } if surely_same(t, table) && !surely_same(c, column))
        });
        let copied = m.up_any(|k| matches!(k, Kind::Update { table: t, .. } if same(t, table)));
        (added && copied).then(|| {
            format!(
                "upgrade() adds a column to `{}`, copies data into it and drops `{}`: a multi-step change whose old values downgrade() cannot restore",
                show(table),
                show(column)
            )
        })
    })
}
