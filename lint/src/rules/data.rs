//! Rules about rows: UPDATE/DELETE/TRUNCATE/INSERT and raw SQL without a reverse, and downgrades
//! that destroy data (MRT103-106, MRT203, MRT214, MRT215).

use super::{each, each_up, Ctx};
use crate::finding::Hit;
use crate::model::{same, show, Action, Cons, Kind, Migration, Name, Obj, Via};
use std::collections::BTreeMap;

pub fn update_without_reverse(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up(ctx, "MRT103", |a| {
        let Kind::Update { table, columns } = &a.kind else {
            return None;
        };
        let backfill = !columns.is_empty()
            && columns
                .iter()
                .all(|c| m.up_adds_column(table, &Some(c.clone())));
        let reversed = m.down_any(|k| matches!(k, Kind::Update { table: t, .. } if same(t, table)));
        (!backfill && !reversed && !m.up_creates_table(table)).then(|| {
            format!(
                "UPDATE of `{}` in upgrade() overwrites existing values and downgrade() does not restore them",
                show(table)
            )
        })
    })
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
        _ => return None,
    };
    (!reversed).then(|| describe(kind))
}

fn describe(kind: &Kind) -> String {
    match kind {
        Kind::Create { obj, name, .. } => format!("CREATE {} `{}`", obj.sql(), show(name)),
        Kind::CreateIndex { name, .. } => format!("CREATE INDEX `{}`", show(name)),
        Kind::Insert { table } => format!("INSERT INTO `{}`", show(table)),
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

pub fn bulk_insert_without_reverse(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT106", |a| match &a.kind {
        Kind::Insert { table } if a.via == Via::Op && !insert_reversed(ctx.m, table) => {
            Some(format!(
                "bulk_insert into `{}` in upgrade() but downgrade() deletes no rows from it",
                show(table)
            ))
        }
        _ => None,
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
    each(m.down_actions(), "MRT215", |a| match &a.kind {
        Kind::Drop {
            obj: Obj::Table,
            name,
        } if !up_creates(m, name) => Some(format!(
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
        Kind::DropColumn { table, column } if !up_adds(m, table, column) => Some(format!(
            "downgrade() drops column `{}.{}`, which upgrade() did not add: its values are lost",
            show(table),
            show(column)
        )),
        _ => None,
    })
}

fn up_creates(m: &Migration, table: &Name) -> bool {
    m.up_any(|k| matches!(k, Kind::Create { obj: Obj::Table, name, .. } if same(name, table)))
}

fn up_inserts(m: &Migration, table: &Name) -> bool {
    m.up_any(|k| matches!(k, Kind::Insert { table: t } if same(t, table)))
}

fn up_adds(m: &Migration, table: &Name, column: &Name) -> bool {
    up_creates(m, table)
        || m.up_any(|k| matches!(k, Kind::AddColumn { table: t, column: c, .. } if same(t, table) && same(c, column)))
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
