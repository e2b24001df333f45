//! Rules about rows: UPDATE/DELETE/TRUNCATE/INSERT and raw SQL without a reverse, and downgrades
//! that destroy data (MRT103-106, MRT203, MRT214, MRT215).

use super::{each, each_up, Ctx};
use crate::finding::Hit;
use crate::model::{
    copied_out_before, same, show, surely_same, Action, Cons, Kind, Migration, Name, Obj, Via,
};
use std::collections::BTreeMap;

pub fn update_without_reverse(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT103", |a| {
        let Kind::Update { table, .. } = &a.kind else {
            return None;
        };
        update_unreversed(ctx.m, &a.kind).then(|| {
            format!(
                "UPDATE of `{}` in upgrade() overwrites existing values and downgrade() does not restore them",
                show(table)
            )
        })
    })
}

/// An UPDATE that overwrites values older than the upgrade (not a backfill of columns it
/// added, not rows of a table it created) with no UPDATE of that table in downgrade.
fn update_unreversed(m: &Migration, kind: &Kind) -> bool {
    let Kind::Update { table, columns } = kind else {
        return false;
    };
    let backfill = !columns.is_empty()
        && columns
            .iter()
            .all(|c| m.up_adds_column(table, &Some(c.clone())));
    let reversed = m.down_any(|k| matches!(k, Kind::Update { table: t, .. } if same(t, table)));
    !backfill && !reversed && !m.up_creates_table(table)
}

pub fn op_execute_without_reverse(ctx: &Ctx) -> Vec<Hit> {
    raw_sql_without_reverse(ctx, Via::OpSql, "MRT104", "op.execute")
}

pub fn connection_execute_without_reverse(ctx: &Ctx) -> Vec<Hit> {
    raw_sql_without_reverse(ctx, Via::ConnSql, "MRT105", "connection-level execute")
}

/// Raw SQL whose effect no dedicated rule covers (CREATE of functions, views, tables; INSERT;
/// statements mrt does not model) must be undone by the matching statement in downgrade.
fn raw_sql_without_reverse(ctx: &Ctx, via: Via, code: &'static str, what: &str) -> Vec<Hit> {
    let mut by_call: BTreeMap<usize, Vec<&Action>> = BTreeMap::new();
    for a in ctx.m.up_actions().iter().filter(|a| a.via == via) {
        by_call.entry(a.call).or_default().push(a);
    }
    by_call
        .values()
        .filter_map(|actions| {
            let problem = actions
                .iter()
                .find_map(|a| unreversed_sql(ctx.m, &a.kind))?;
            let first = actions[0];
            Some(Hit::new(
                code,
                first.start,
                first.span,
                format!(
                    "{what} in upgrade(): {problem}, and downgrade() has nothing that reverses it"
                ),
            ))
        })
        .collect()
}

fn unreversed_sql(m: &Migration, kind: &Kind) -> Option<String> {
    let reversed = match kind {
        Kind::Create { obj: obj @ (Obj::Table | Obj::View | Obj::Index | Obj::Function | Obj::Other), name, .. } => {
            m.down_any(|k| matches!(k, Kind::Drop { obj: o, name: n } if o == obj && same(n, name)))
        }
        Kind::CreateIndex { name, table, .. } => {
            m.down_any(|k| matches!(k, Kind::Drop { obj: Obj::Index, name: n } if same(n, name)))
                || down_drops_table(m, table)
        }
        Kind::Insert { table } => insert_reversed(m, table),
        // Deleting selected rows is a data change too: only re-inserting them undoes it.
        Kind::Delete { table, has_where: true } => {
            m.up_creates_table(table) || m.down_any(|k| matches!(k, Kind::Insert { table: t } if same(t, table)))
        }
        Kind::AddColumn { table, column, .. } => {
            m.down_any(|k| matches!(k, Kind::DropColumn { table: t, column: c } if same(t, table) && same(c, column)))
                || down_drops_table(m, table)
        }
        Kind::AddConstraint { name, table, .. } => {
            m.down_any(|k| matches!(k, Kind::DropConstraint { name: n, .. } if same(n, name)))
                || down_drops_table(m, table)
        }
        Kind::DropNotNull { table, column } => {
            m.down_any(|k| matches!(k, Kind::SetNotNull { table: t, column: c } if same(t, table) && same(c, column)))
        }
        Kind::OtherSql => m.down_any(|k| matches!(k, Kind::OtherSql | Kind::DynamicSql)),
        // pytest-mrt's MRT104/MRT105 cover every raw UPDATE without a reverse; MRT103 may
        // report it as well, so `# noqa: MRT104` comments written for it keep working.
        Kind::Update { .. } => !update_unreversed(m, kind),
        _ => return None,
    };
    (!reversed).then(|| describe(kind))
}

fn describe(kind: &Kind) -> String {
    match kind {
        Kind::Create { obj, name, .. } => format!("CREATE {} `{}`", obj.sql(), show(name)),
        Kind::CreateIndex { name, .. } => format!("CREATE INDEX `{}`", show(name)),
        Kind::Insert { table } => format!("INSERT INTO `{}`", show(table)),
        Kind::Update { table, .. } => format!("UPDATE `{}`", show(table)),
        Kind::Delete { table, .. } => format!("DELETE FROM `{}`", show(table)),
        Kind::AddColumn { table, column, .. } => {
            format!("ADD COLUMN `{}.{}`", show(table), show(column))
        }
        Kind::AddConstraint { name, .. } => format!("ADD CONSTRAINT `{}`", show(name)),
        Kind::DropNotNull { table, column } => {
            format!("DROP NOT NULL on `{}.{}`", show(table), show(column))
        }
        _ => "a statement mrt cannot reverse-check".to_string(),
    }
}

fn down_drops_table(m: &Migration, table: &Name) -> bool {
    m.down_any(|k| matches!(k, Kind::Drop { obj: Obj::Table, name } if same(name, table)))
}

/// Rows the upgrade inserted are removed by a DELETE/TRUNCATE of that table in downgrade, or go
/// with the table when the upgrade created it.
fn insert_reversed(m: &Migration, table: &Name) -> bool {
    m.up_creates_table(table)
        || down_drops_table(m, table)
        || m.down_any(|k| matches!(k, Kind::Delete { table: t, .. } | Kind::Truncate { table: t } if same(t, table)))
}

/// `op.bulk_insert`, and INSERT statements of SQL files (raw SQL in Python is MRT104/MRT105's).
pub fn bulk_insert_without_reverse(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT106", |a| match &a.kind {
        Kind::Insert { table }
            if matches!(a.via, Via::Op | Via::File | Via::Orm)
                && !insert_reversed(ctx.m, table) =>
        {
            let what = match a.via {
                Via::File => "INSERT",
                Via::Orm => "ORM create",
                _ => "bulk_insert",
            };
            Some(format!(
                "{what} into `{}` in upgrade() but downgrade() deletes no rows from it",
                show(table)
            ))
        }
        _ => None,
    })
}

/// Rows the upgrade deletes from a table older than it come back only if the downgrade inserts
/// into that table again. (Python raw SQL: MRT104/MRT105 cover it.)
pub fn delete_without_reverse(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, "MRT216", |a| {
        match &a.kind {
        Kind::Delete {
            table,
            has_where: true,
        } if !matches!(a.via, Via::OpSql | Via::ConnSql)
            && !m.up_creates_table(table)
            && !m.down_any(|k| matches!(k, Kind::Insert { table: t } if same(t, table))) =>
        {
            Some(format!(
                "DELETE from `{}` in upgrade() and downgrade() inserts nothing back: the deleted rows are lost on rollback",
                show(table)
            ))
        }
        _ => None,
    }
    })
}

pub fn truncate(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT203", |a| match &a.kind {
        Kind::Truncate { table } if !ctx.m.up_creates_table(table) => Some(format!(
            "TRUNCATE `{}` deletes every row; no downgrade can bring them back",
            show(table)
        )),
        _ => None,
    })
}

pub fn delete_without_where(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT214", |a| match &a.kind {
        Kind::Delete {
            table,
            has_where: false,
        } if !ctx.m.up_creates_table(table) => Some(format!(
            "DELETE from `{}` without WHERE deletes every row; no downgrade can bring them back",
            show(table)
        )),
        _ => None,
    })
}

/// A downgrade must undo the upgrade, not destroy data that existed before it.
pub fn destructive_downgrade(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    let down = m.down_actions();
    let copied = |a: &Action, table: &Name| {
        let i = down.iter().position(|d| std::ptr::eq(d, a)).unwrap_or(0);
        copied_out_before(down, i, table)
    };
    each(down, "MRT215", |a| {
        match &a.kind {
        Kind::Drop {
            obj: Obj::Table,
            name,
        } if !up_creates(m, name) && !copied(a, name) => Some(format!(
            "downgrade() drops table `{}`, which upgrade() did not create: its rows are lost",
            show(name)
        )),
        Kind::Truncate { table } | Kind::Delete { table, .. }
            if !up_creates(m, table) && !up_inserts(m, table) =>
        {
            Some(format!(
                "downgrade() deletes rows of `{}` that upgrade() did not insert",
                show(table)
            ))
        }
        Kind::Update { table, .. } if !up_touches(m, table) => Some(format!(
            "downgrade() overwrites values in `{}`, which upgrade() did not change",
            show(table)
        )),
        Kind::Update { table, columns } => overwritten_old_column(m, table, columns).map(|c| {
            format!(
                "downgrade() overwrites column `{}.{c}`, which upgrade() did not change: its values from before the upgrade are lost",
                show(table)
            )
        }),
        Kind::DropColumn { table, column } if !up_adds(m, table, column) => Some(format!(
            "downgrade() drops column `{}.{}`, which upgrade() did not add: its values are lost",
            show(table),
            show(column)
        )),
        _ => None,
    }
    })
}

/// A column a downgrade UPDATE assigns although the upgrade neither changed nor added it (and
/// the downgrade does not re-add it to restore it). Unknown columns, and upgrades whose change
/// to the table cannot be pinned to columns, give `None`: only a sure overwrite is reported.
fn overwritten_old_column<'c>(
    m: &Migration,
    table: &Name,
    columns: &'c [String],
) -> Option<&'c str> {
    if columns.is_empty() || up_changes_whole_table(m, table) {
        return None;
    }
    columns
        .iter()
        .find(|c| {
            let column = Some((*c).clone());
            !up_changes_column(m, table, &column) && !down_adds(m, table, &column)
        })
        .map(String::as_str)
}

/// Upgrade changes to `table` that may touch any of its columns: the table created, dropped
/// or renamed, an UPDATE of unknown columns, SQL mrt does not model.
fn up_changes_whole_table(m: &Migration, table: &Name) -> bool {
    m.up_any(|k| match k {
        Kind::Create {
            obj: Obj::Table,
            name,
            ..
        }
        | Kind::Drop {
            obj: Obj::Table,
            name,
        } => same(name, table),
        Kind::RenameTable { from, to } => same(from, table) || same(to, table),
        Kind::Update { table: t, columns } => columns.is_empty() && same(t, table),
        Kind::OtherSql | Kind::DynamicSql | Kind::AddEnumValue { .. } => true,
        _ => false,
    })
}

fn up_changes_column(m: &Migration, table: &Name, column: &Name) -> bool {
    let hit = |t: &Name, c: &Name| same(t, table) && same(c, column);
    m.up_any(|k| match k {
        Kind::AddColumn {
            table: t,
            column: c,
            ..
        }
        | Kind::DropColumn {
            table: t,
            column: c,
        }
        | Kind::ChangeType {
            table: t,
            column: c,
            ..
        }
        | Kind::SetNotNull {
            table: t,
            column: c,
        }
        | Kind::DropNotNull {
            table: t,
            column: c,
        } => hit(t, c),
        Kind::RenameColumn { table: t, from, to } => hit(t, from) || hit(t, to),
        Kind::Update { table: t, columns } => {
            same(t, table) && columns.iter().any(|c| same(&Some(c.clone()), column))
        }
        _ => false,
    })
}

/// The downgrade re-adds the column (or re-creates the table) and may fill it back.
fn down_adds(m: &Migration, table: &Name, column: &Name) -> bool {
    m.down_any(|k| match k {
        Kind::AddColumn {
            table: t,
            column: c,
            ..
        } => same(t, table) && same(c, column),
        Kind::Create {
            obj: Obj::Table,
            name,
            ..
        } => same(name, table),
        _ => false,
    })
}

/// The upgrade created a table of this name, possibly under a temporary name it then renamed
/// (an old table renamed to it still holds old rows, so that does not count).
fn up_creates(m: &Migration, table: &Name) -> bool {
    m.up_any(|k| matches!(k, Kind::Create { obj: Obj::Table, name, .. } if same(name, table)))
        || m.up_any(|k| matches!(k, Kind::RenameTable { from, to } if surely_same(to, table) && m.up_creates_table(from)))
}

fn up_inserts(m: &Migration, table: &Name) -> bool {
    m.up_any(|k| matches!(k, Kind::Insert { table: t } if same(t, table)))
}

/// The upgrade added this column, possibly under a temporary name it then renamed.
fn up_adds(m: &Migration, table: &Name, column: &Name) -> bool {
    up_creates(m, table)
        || m.up_any(|k| matches!(k, Kind::AddColumn { table: t, column: c, .. } if same(t, table) && same(c, column)))
        || m.up_any(|k| matches!(k, Kind::RenameColumn { table: t, from, to } if same(t, table) && surely_same(to, column) && m.up_adds_column(t, from)))
}

/// The upgrade did something to this table, so a downgrade UPDATE may well be restoring it.
/// Changes mrt cannot attribute to a table (an enum value added, SQL it does not model) may
/// need rows moved back too, so they count for every table.
fn up_touches(m: &Migration, table: &Name) -> bool {
    m.up_any(|k| table_of(k).is_some_and(|t| same(t, table)))
        || m.up_any(|k| {
            matches!(
                k,
                Kind::OtherSql | Kind::DynamicSql | Kind::AddEnumValue { .. }
            )
        })
}

fn table_of(kind: &Kind) -> Option<&Name> {
    match kind {
        Kind::Create {
            obj: Obj::Table,
            name,
            ..
        }
        | Kind::Drop {
            obj: Obj::Table,
            name,
        } => Some(name),
        Kind::CreateIndex { table, .. }
        | Kind::AddColumn { table, .. }
        | Kind::DropColumn { table, .. }
        | Kind::RenameColumn { table, .. }
        | Kind::ChangeType { table, .. }
        | Kind::SetNotNull { table, .. }
        | Kind::DropNotNull { table, .. }
        | Kind::AddConstraint { table, .. }
        | Kind::Update { table, .. }
        | Kind::Delete { table, .. }
        | Kind::Insert { table }
        | Kind::Truncate { table } => Some(table),
        Kind::DropConstraint {
            table,
            cons: Cons::Check | Cons::Unknown,
            ..
        } => Some(table),
        Kind::RenameTable { to, .. } => Some(to),
        _ => None,
    }
}
