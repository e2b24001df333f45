//! Opt-in rolling-deploy checks (MRT701-MRT705): during a deploy the previous release still runs
//! against the upgraded schema, so anything it still reads or writes must keep working.

use super::{each_up, Ctx};
use crate::finding::Hit;
use crate::model::{show, DefaultKind, Kind, Obj};

pub fn drop_column(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT701", |a| match &a.kind {
        Kind::DropColumn { table, column } => Some(format!(
            "rolling deploy: the running release may still read `{}.{}`, which upgrade() drops",
            show(table),
            show(column)
        )),
        _ => None,
    })
}

pub fn rename_column(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT702", |a| match &a.kind {
        Kind::RenameColumn { table, from, .. } => Some(format!(
            "rolling deploy: the running release still uses `{}.{}`, which upgrade() renames",
            show(table),
            show(from)
        )),
        _ => None,
    })
}

pub fn drop_table(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT703", |a| match &a.kind {
        Kind::Drop {
            obj: Obj::Table,
            name,
        } if !ctx.m.up_creates_table(name) => Some(format!(
            "rolling deploy: the running release may still use table `{}`, which upgrade() drops",
            show(name)
        )),
        _ => None,
    })
}

pub fn not_null_without_server_default(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT704", |a| {
        match &a.kind {
        Kind::AddColumn { table, column, not_null: true, default: DefaultKind::None | DefaultKind::Backfill }
            if !ctx.m.up_creates_table(table) =>
        {
            Some(format!(
                "rolling deploy: the running release inserts into `{}` without `{}`, which is NOT NULL without a server default",
                show(table),
                show(column)
            ))
        }
        _ => None,
    }
    })
}

pub fn type_change(ctx: &Ctx) -> Vec<Hit> {
    each_up(ctx, "MRT705", |a| match &a.kind {
        Kind::ChangeType { table, column, .. } => Some(format!(
            "rolling deploy: the running release still reads and writes `{}.{}` with its old type",
            show(table),
            show(column)
        )),
        _ => None,
    })
}
