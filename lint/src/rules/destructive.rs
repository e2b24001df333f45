//! Rules about schema changes that lose data even when the downgrade re-creates the shape
//! (MRT201, MRT202, MRT204-MRT208).

use super::{each_up, each_up_at, Ctx};
use crate::finding::Hit;
use crate::model::{same, show, surely_same, Action, Cons, Kind, Migration, Name, Obj, Via};

/// A column that existed before the upgrade, dropped by its `i`-th action. A column the
/// upgrade added itself (a temporary one) holds nothing older than the upgrade.
fn drops_old_column<'a>(m: &Migration, i: usize, a: &'a Action) -> Option<(&'a Name, &'a Name)> {
    match &a.kind {
        Kind::DropColumn { table, column } if !m.up_added_before(i, table, column) => {
            Some((table, column))
        }
        _ => None,
    }
}

/// MRT201; an add-copy-drop (MRT208) reports the same lost values more precisely.
pub fn drop_column(ctx: &Ctx) -> Vec<Hit> {
    each_up_at(ctx, "MRT201", |i, a| {
        let (table, column) = drops_old_column(ctx.m, i, a).filter(|_| a.via != Via::Batch)?;
        Some(format!(
            "upgrade() drops column `{}.{}`: its values are gone even if downgrade() re-adds the column",
            show(table),
            show(column)
        ))
    })
    .into_iter()
    .map(|h| h.yielding_at_call("MRT208"))
    .collect()
}

pub fn batch_drop_column(ctx: &Ctx) -> Vec<Hit> {
    each_up_at(ctx, "MRT206", |i, a| {
        let (table, column) = drops_old_column(ctx.m, i, a).filter(|_| a.via == Via::Batch)?;
        Some(format!(
            "batch_alter_table drops column `{}.{}` (the table is copied without it): its values are gone even if downgrade() re-adds it",
            show(table),
            show(column)
        ))
    })
    .into_iter()
    .map(|h| h.yielding_at_call("MRT208"))
    .collect()
}

/// A dropped table loses its rows unless the upgrade created it before (a temporary table) or
/// copied its rows into a table it keeps. Dropping and re-creating it under the same name (a
/// rebuild) loses them just the same, however alike the new table looks.
pub fn drop_table(ctx: &Ctx) -> Vec<Hit> {
    each_up_at(ctx, "MRT202", |i, a| dropped_table(ctx.m, i, a))
}

/// What MRT202 says about the upgrade's `i`-th action, when it drops a table whose rows are
/// lost.
pub fn dropped_table(m: &Migration, i: usize, a: &Action) -> Option<String> {
    let Kind::Drop {
        obj: Obj::Table,
        name,
    } = &a.kind
    else {
        return None;
    };
    if m.up_created_before(i, name) || m.up_copied_out_before(i, name) {
        return None;
    }
    let recreated = m.up_actions()[i + 1..].iter().any(
        |l| matches!(&l.kind, Kind::Create { obj: Obj::Table, name: n, .. } if surely_same(n, name)),
    );
    if !recreated {
        return Some(format!(
            "upgrade() drops table `{}`: its rows are gone even if downgrade() re-creates it",
            show(name)
        ));
    }
    // `DROP TABLE IF EXISTS t` + `CREATE TABLE t` for a table the downgrade simply drops
    // is the defensive creation of a new table, not a rebuild.
    (!downgrade_treats_as_new(m, name)).then(|| {
        format!(
            "upgrade() drops table `{0}` and re-creates it (a rebuild): the rows of the old `{0}` are gone; copy them first (rename the old table, `INSERT INTO {0} SELECT ... FROM` it, then drop it)",
            show(name)
        )
    })
}

/// The downgrade drops `table` and never creates it: it treats the table as new.
fn downgrade_treats_as_new(m: &Migration, table: &Name) -> bool {
    m.down_any(|k| matches!(k, Kind::Drop { obj: Obj::Table, name } if surely_same(name, table)))
        && !m.down_any(
            |k| matches!(k, Kind::Create { obj: Obj::Table, name, .. } if surely_same(name, table)),
        )
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
    each_up_at(ctx, "MRT208", |i, a| {
        let (table, column) = drops_old_column(m, i, a)?;
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
