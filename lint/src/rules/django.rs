//! Rules about Django operations (MRT107-MRT110, MRT209-MRT212, MRT305, MRT411-MRT414,
//! MRT601, MRT602): pytest-mrt's Django codes, judged with the model state the project's own
//! history gives, and the reverses Django runs when it unapplies a migration.
//!
//! Each reads the operations ([`Facts`]) and the neutral model, where an operation's actions
//! carry its `call` index.

use super::{destructive, each_up_at, Ctx};
use crate::django::{Facts, FieldDef, OpFact, Reverse, What};
use crate::finding::Hit;
use crate::model::{show, surely_same, Action, DefaultKind, Kind, Migration, Name, Obj, Via};
use rustpython_parser::text_size::TextRange;

static NO_FACTS: Facts = Facts {
    ops: Vec::new(),
    squashed: false,
    unreplaced_squash: None,
};

fn facts<'a>(ctx: &Ctx<'a>) -> &'a Facts {
    ctx.django.unwrap_or(&NO_FACTS)
}

/// The upgrade actions of one operation, with their index in the upgrade.
fn actions_of<'m>(m: &'m Migration, op: &OpFact) -> impl Iterator<Item = (usize, &'m Action)> {
    let call = op.call;
    m.up_actions()
        .iter()
        .enumerate()
        .filter(move |(_, a)| a.call == call)
}

fn op_hit(code: &'static str, op: &OpFact, message: String) -> Hit {
    Hit::new(code, op.start, op.span, message)
}

/// The operation whose actions carry `call`.
fn op_of<'a>(ctx: &Ctx<'a>, call: usize) -> Option<&'a OpFact> {
    facts(ctx).ops.iter().find(|op| op.call == call)
}

/// `RunPython` / `RunSQL` and how they are reversed.
fn reversible(op: &OpFact) -> Option<(Reverse, bool, &'static str)> {
    match op.what {
        What::RunPython { reverse, opaque } => Some((reverse, opaque, "reverse_code")),
        What::RunSql { reverse, opaque } => Some((reverse, opaque, "reverse_sql")),
        _ => None,
    }
}

fn missing_reverse(ctx: &Ctx, code: &'static str, class: &str, database_half: bool) -> Vec<Hit> {
    facts(ctx)
        .ops
        .iter()
        .filter(|op| op.class == class && op.in_database_half == database_half)
        .filter(|op| matches!(reversible(op), Some((Reverse::Missing, ..))))
        .map(|op| {
            let arg = reversible(op).map_or("", |r| r.2);
            op_hit(
                code,
                op,
                format!(
                    "{class} without {arg}: Django refuses to unapply this migration (IrreversibleError), so no rollback can pass it"
                ),
            )
        })
        .collect()
}

/// MRT107.
pub fn run_python_without_reverse(ctx: &Ctx) -> Vec<Hit> {
    missing_reverse(ctx, "MRT107", "RunPython", false)
}

/// MRT108.
pub fn run_sql_without_reverse(ctx: &Ctx) -> Vec<Hit> {
    missing_reverse(ctx, "MRT108", "RunSQL", false)
}

/// MRT109: the reverse does nothing, while the operation changes data or schema that existed
/// before the migration (a backfill of a column the migration adds goes with the column).
pub fn noop_reverse(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    facts(ctx)
        .ops
        .iter()
        .filter_map(|op| {
            let (Reverse::Noop, opaque, _) = reversible(op)? else {
                return None;
            };
            let change = actions_of(m, op)
                .find_map(|(_, a)| lasting_change(m, &a.kind))
                .or_else(|| opaque.then(|| "calls code mrt cannot read, which may change the database".to_string()))?;
            let noop = if op.class == "RunSQL" {
                "RunSQL.noop"
            } else {
                "RunPython.noop"
            };
            Some(op_hit(
                "MRT109",
                op,
                format!(
                    "{}'s reverse does nothing ({noop} or code without effect), but the operation {change}: rolling back leaves that in place",
                    op.class
                ),
            ))
        })
        .collect()
}

/// What a forward action changes that the rollback of the rest of the migration does not undo,
/// in words; `None` for changes confined to tables and columns the migration itself creates.
fn lasting_change(m: &Migration, kind: &Kind) -> Option<String> {
    let new_table = |t: &Name| m.up_creates_table(t);
    Some(match kind {
        Kind::Update { table, columns } => {
            let backfill = !columns.is_empty()
                && columns
                    .iter()
                    .all(|c| m.up_adds_column(table, &Some(c.clone())));
            if new_table(table) || backfill {
                return None;
            }
            format!("updates rows of `{}`", show(table))
        }
        Kind::Insert { table } if !new_table(table) => {
            format!("inserts rows into `{}`", show(table))
        }
        Kind::Delete { table, .. } | Kind::Truncate { table } if !new_table(table) => {
            format!("deletes rows of `{}`", show(table))
        }
        Kind::Insert { .. } | Kind::Delete { .. } | Kind::Truncate { .. } => return None,
        Kind::CreateIndex { table, .. } | Kind::AddColumn { table, .. } if new_table(table) => {
            return None
        }
        Kind::NoTransaction { .. } => return None,
        Kind::Create { obj, name, .. } => format!(
            "creates {} `{}`",
            obj.sql().to_ascii_lowercase(),
            show(name)
        ),
        Kind::CreateIndex { name, .. } => format!("creates index `{}`", show(name)),
        Kind::AddColumn { table, column, .. } => {
            format!("adds column `{}.{}`", show(table), show(column))
        }
        Kind::DynamicSql => "runs SQL built at run time".to_string(),
        Kind::ChangeType { table, column, .. } => {
            format!("changes the type of `{}.{}`", show(table), show(column))
        }
        Kind::SetNotNull { table, column } | Kind::DropNotNull { table, column } => {
            format!(
                "changes the nullability of `{}.{}`",
                show(table),
                show(column)
            )
        }
        Kind::RenameTable { from, to } => {
            format!("renames table `{}` to `{}`", show(from), show(to))
        }
        Kind::RenameColumn { table, from, to } => format!(
            "renames column `{}.{}` to `{}`",
            show(table),
            show(from),
            show(to)
        ),
        Kind::AddConstraint { name, .. } => format!("adds constraint `{}`", show(name)),
        Kind::OtherSql => "runs SQL mrt does not model".to_string(),
        _ => "changes the schema".to_string(),
    })
}

/// MRT110: Django checks `reversible` on the migration's top-level operations only;
/// `SeparateDatabaseAndState` says it is reversible whatever its database half holds.
pub fn separate_state_irreversible(ctx: &Ctx) -> Vec<Hit> {
    facts(ctx)
        .ops
        .iter()
        .filter(|op| op.in_database_half)
        .filter_map(|op| {
            let (Reverse::Missing, _, arg) = reversible(op)? else {
                return None;
            };
            Some(op_hit(
                "MRT110",
                op,
                format!(
                    "{} without {arg} inside SeparateDatabaseAndState(database_operations=...): Django does not see that it is irreversible, starts unapplying the migration and fails half-way with NotImplementedError",
                    op.class
                ),
            ))
        })
        .collect()
}

/// MRT209: a field that existed before the migration (not one it added) is dropped.
pub fn remove_field(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    facts(ctx)
        .ops
        .iter()
        .filter_map(|op| {
            let What::RemoveField {
                model,
                field,
                prior,
            } = &op.what
            else {
                return None;
            };
            let (i, a) = actions_of(m, op).find(|(_, a)| {
                matches!(a.kind, Kind::DropColumn { .. } | Kind::Drop { obj: Obj::Table, .. })
            })?;
            let (what, temporary) = match &a.kind {
                Kind::DropColumn { table, column } => (
                    format!("column `{}.{}`", show(table), show(column)),
                    m.up_added_before(i, table, column),
                ),
                Kind::Drop { name, .. } => (
                    format!("join table `{}`", show(name)),
                    m.up_created_before(i, name),
                ),
                _ => return None,
            };
            if temporary {
                return None;
            }
            Some(op_hit(
                "MRT209",
                op,
                format!(
                    "RemoveField `{model}.{field}` drops {what}: its values are gone for good; rolling back re-adds it {}",
                    re_added(prior.as_ref())
                ),
            ))
        })
        .collect()
}

/// What Django's reverse of RemoveField puts in the re-added column.
fn re_added(prior: Option<&FieldDef>) -> &'static str {
    let Some(p) = prior else {
        return "without its values";
    };
    if p.is_m2m() {
        return "empty";
    }
    match (p.added_default(), p.not_null()) {
        (DefaultKind::None, Some(true)) => {
            "NOT NULL without a default, which fails on a table that has rows"
        }
        (DefaultKind::None, _) => "with NULL in every row",
        (DefaultKind::Backfill | DefaultKind::Static | DefaultKind::Volatile, _) => {
            "with its default in every row"
        }
        (DefaultKind::Unknown, _) => "without its values",
    }
}

/// MRT210: a model whose table existed before the migration is deleted.
pub fn delete_model(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    facts(ctx)
        .ops
        .iter()
        .filter_map(|op| {
            let What::DeleteModel { model } = &op.what else {
                return None;
            };
            // The model's own table is dropped last, after its join tables.
            let (i, name) = actions_of(m, op)
                .filter_map(|(i, a)| match &a.kind {
                    Kind::Drop {
                        obj: Obj::Table,
                        name,
                    } => Some((i, name)),
                    _ => None,
                })
                .last()?;
            if m.up_created_before(i, name) || m.up_copied_out_before(i, name) {
                return None;
            }
            // makemigrations writes a rename it was told is none as create + delete.
            let created = m.up_actions().iter().find_map(|a| match &a.kind {
                Kind::Create {
                    obj: Obj::Table,
                    name: Some(new),
                    ..
                } if a.via == Via::Operation => Some(new.clone()),
                _ => None,
            });
            let rename = created.map_or(String::new(), |new| {
                format!("; the migration also creates `{new}`: if the model was renamed, RenameModel keeps the rows")
            });
            Some(op_hit(
                "MRT210",
                op,
                format!(
                    "DeleteModel `{model}` drops table `{}`: every row is gone for good; rolling back re-creates it empty{rename}",
                    show(name)
                ),
            ))
        })
        .collect()
}

/// MRT211: MRT202's hazard written as raw SQL in `RunSQL`.
pub fn run_sql_drop_table(ctx: &Ctx) -> Vec<Hit> {
    each_up_at(ctx, "MRT211", |i, a| {
        if a.via != Via::OpSql {
            return None;
        }
        destructive::dropped_table(ctx.m, i, a).map(|msg| format!("RunSQL: {msg}"))
    })
}

/// MRT212: TRUNCATE in `RunSQL` of a table the migration did not create.
pub fn run_sql_truncate(ctx: &Ctx) -> Vec<Hit> {
    each_up_at(ctx, "MRT212", |_, a| match &a.kind {
        Kind::Truncate { table } if a.via == Via::OpSql && !ctx.m.up_creates_table(table) => {
            Some(format!(
                "RunSQL truncates `{}`: every row is gone and no reverse_sql can bring them back",
                show(table)
            ))
        }
        _ => None,
    })
}

/// MRT305: a model renamed in a migration that also loses data of that model.
pub fn rename_model_with_loss(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    facts(ctx)
        .ops
        .iter()
        .filter_map(|op| {
            let What::RenameModel { old, new, tables } = &op.what else {
                return None;
            };
            let ours = |t: &Name| surely_same(t, &tables.0) || surely_same(t, &tables.1);
            let loss = m
                .up_actions()
                .iter()
                .filter(|a| a.call != op.call)
                .find_map(|a| match &a.kind {
                    Kind::DropColumn { table, column } if ours(table) => {
                        Some(format!("drops column `{}.{}`", show(table), show(column)))
                    }
                    Kind::Drop {
                        obj: Obj::Table,
                        name,
                    } if ours(name) => Some(format!("drops table `{}`", show(name))),
                    Kind::Truncate { table } | Kind::Delete { table, .. } if ours(table) => {
                        Some(format!("deletes rows of `{}`", show(table)))
                    }
                    _ => None,
                })?;
            Some(op_hit(
                "MRT305",
                op,
                format!(
                    "RenameModel `{old}` -> `{new}` in a migration that also {loss}: rolling back restores the name but not the data; keep the rename in a migration of its own"
                ),
            ))
        })
        .collect()
}

/// MRT411: `AddField` of a NOT NULL column to an existing table with nothing for the rows it
/// has (no `default=`, `db_default=`, blank text or `auto_now`), for Django's own field classes.
pub fn add_field_not_null(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    facts(ctx)
        .ops
        .iter()
        .filter_map(|op| {
            let What::AddField {
                model,
                field,
                def: Some(def),
            } = &op.what
            else {
                return None;
            };
            let (i, table, column) = actions_of(m, op).find_map(|(i, a)| match &a.kind {
                Kind::AddColumn { table, column, .. } => Some((i, table, column)),
                _ => None,
            })?;
            let fails = def.known().is_some()
                && def.not_null() == Some(true)
                && def.added_default() == DefaultKind::None
                && !def.primary_key;
            if !fails || m.up_created_before(i, table) {
                return None;
            }
            Some(op_hit(
                "MRT411",
                op,
                format!(
                    "AddField `{model}.{field}` adds NOT NULL column `{}.{}` without default= or db_default=: it fails on a table that has rows",
                    show(table),
                    show(column)
                ),
            ))
        })
        .collect()
}

/// MRT412: `AlterField` from `null=True` (as the history left the field) to NOT NULL without a
/// default Django could fill the NULL rows with.
pub fn alter_field_not_null(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    let ops = &facts(ctx).ops;
    ops.iter()
        .enumerate()
        .filter_map(|(k, op)| {
            let What::AlterField { model, field, .. } = &op.what else {
                return None;
            };
            let (i, table, column) = actions_of(m, op).find_map(|(i, a)| match &a.kind {
                Kind::SetNotNull { table, column } => Some((i, table, column)),
                _ => None,
            })?;
            if m.up_created_before(i, table) || backfilled(ctx, &ops[..k], model, field, table) {
                return None;
            }
            Some(op_hit(
                "MRT412",
                op,
                format!(
                    "AlterField makes `{model}.{field}` (column `{}.{}`, null=True until now) NOT NULL without default= or db_default=: it fails on rows that hold NULL",
                    show(table),
                    show(column)
                ),
            ))
        })
        .collect()
}

/// Django's recipe for a new NOT NULL column on a table with rows, in one migration: `AddField`
/// with `null=True`, a `RunPython`/`RunSQL` that fills it, then `AlterField` to NOT NULL. `ops`
/// are the operations before the `AlterField`: the field is added among them, and after it comes
/// code that updates `table` (or a table mrt cannot name: a model from a setting) or that mrt
/// cannot see into (a helper from elsewhere).
fn backfilled(ctx: &Ctx, ops: &[OpFact], model: &str, field: &str, table: &Name) -> bool {
    let added = ops.iter().position(|op| {
        matches!(&op.what, What::AddField { model: m, field: f, .. }
            if m.eq_ignore_ascii_case(model) && f.eq_ignore_ascii_case(field))
    });
    let Some(added) = added else {
        return false;
    };
    ops[added + 1..].iter().any(|op| match &op.what {
        What::RunPython { opaque: true, .. } | What::RunSql { opaque: true, .. } => true,
        What::RunPython { .. } | What::RunSql { .. } => actions_of(ctx.m, op).any(|(_, a)| {
            // A table mrt cannot name (a model from a setting) may be this one.
            matches!(&a.kind, Kind::Update { table: t, .. } if t.is_none() || surely_same(t, table))
        }),
        _ => false,
    })
}

/// MRT413: an index built by a Django operation on a table that existed before the migration,
/// without `AddIndexConcurrently`.
pub fn index_not_concurrent(ctx: &Ctx) -> Vec<Hit> {
    let m = ctx.m;
    each_up_at(ctx, "MRT413", |i, a| {
        let Kind::CreateIndex {
            name,
            table,
            concurrently: false,
            ..
        } = &a.kind
        else {
            return None;
        };
        if a.via != Via::Operation || m.up_created_before(i, table) {
            return None;
        }
        let class = op_of(ctx, a.call).map_or("the operation", |op| op.class.as_str());
        let index = match name {
            Some(n) => format!("index `{n}`"),
            None => "an index".to_string(),
        };
        Some(format!(
            "{class} builds {index} on existing table `{}` and blocks writes to it until done: use AddIndexConcurrently (django.contrib.postgres.operations) in a migration with atomic = False",
            show(table)
        ))
    })
}

/// MRT414: a statement PostgreSQL refuses inside a transaction, in a migration Django runs in
/// one (`atomic` not set to False); forward or in the reverse.
pub fn concurrent_in_atomic(ctx: &Ctx) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (body, side) in [(&ctx.m.upgrade, "it"), (&ctx.m.downgrade, "its reverse")] {
        let Some(body) = body else { continue };
        for a in &body.actions {
            let what = match &a.kind {
                Kind::CreateIndex {
                    concurrently: true, ..
                } => "CREATE INDEX CONCURRENTLY",
                Kind::NoTransaction { statement } => statement,
                _ => continue,
            };
            if body.transaction_at(a.start).is_none() {
                continue;
            }
            // One finding per operation, forward or reverse.
            let op = op_of(ctx, a.call);
            let class = op.map_or("An operation", |op| op.class.as_str());
            let (start, span) = op.map_or((a.start, a.span), |op| (op.start, op.span));
            hits.push(Hit::new(
                "MRT414",
                start,
                span,
                format!(
                    "{class}: {side} runs {what}, which cannot run inside a transaction, and this migration is atomic: it fails every time; set `atomic = False` on the Migration class"
                ),
            ));
        }
    }
    hits
}

/// MRT601: an operation without a reverse in a squashed migration.
pub fn squash_irreversible(ctx: &Ctx) -> Vec<Hit> {
    let f = facts(ctx);
    if !f.squashed {
        return Vec::new();
    }
    f.ops
        .iter()
        .filter_map(|op| {
            let (Reverse::Missing, _, arg) = reversible(op)? else {
                return None;
            };
            Some(op_hit(
                "MRT601",
                op,
                format!(
                    "this squashed migration holds {} without {arg}: no rollback can pass the squash, also on databases that applied the migrations it replaces",
                    op.class
                ),
            ))
        })
        .collect()
}

/// MRT602: named like a squash, without `replaces`.
pub fn squash_without_replaces(ctx: &Ctx) -> Vec<Hit> {
    let Some(at) = facts(ctx).unreplaced_squash else {
        return Vec::new();
    };
    vec![Hit::new(
        "MRT602",
        at.start(),
        TextRange::empty(at.start()),
        "named like a squashed migration but without `replaces`: Django applies it as a migration of its own, on top of the migrations it was meant to replace",
    )]
}
