//! The checks behind each registered rule code, grouped by family. Each check looks only at the
//! [`Migration`] model and returns [`Hit`]s; the registry says whether it runs.

mod constraints;
mod data;
mod deploy;
mod destructive;
mod leftovers;
mod objects;
mod rename;
mod structure;

use crate::finding::Hit;
use crate::model::{Action, Migration};

/// What a check may look at.
pub struct Ctx<'a> {
    pub m: &'a Migration,
    pub is_merge: bool,
}

pub type Check = fn(&Ctx) -> Vec<Hit>;

/// The check of a per-file rule; `None` for graph rules (MRT901, MRT902, MRT903).
pub fn check(code: &str) -> Option<Check> {
    Some(match code {
        "MRT100" => objects::runtime_sql,
        "MRT101" => structure::missing_downgrade,
        "MRT102" => structure::noop_downgrade,
        "MRT103" => data::update_without_reverse,
        "MRT104" => data::op_execute_without_reverse,
        "MRT105" => data::connection_execute_without_reverse,
        "MRT106" => data::bulk_insert_without_reverse,
        "MRT201" => destructive::drop_column,
        "MRT202" => destructive::drop_table,
        "MRT203" => data::truncate,
        "MRT204" => destructive::cascade_delete,
        "MRT205" => destructive::drop_foreign_key,
        "MRT206" => destructive::batch_drop_column,
        "MRT207" => destructive::drop_view,
        "MRT208" => destructive::multi_step,
        "MRT213" => constraints::set_not_null_existing,
        "MRT214" => data::delete_without_where,
        "MRT215" => data::destructive_downgrade,
        "MRT301" => rename::rename_table,
        "MRT302" => rename::rename_column,
        "MRT303" => rename::type_change,
        "MRT304" => rename::enum_value_added,
        "MRT401" => constraints::not_null_without_default,
        "MRT402" => constraints::not_null_not_reverted,
        "MRT403" => constraints::not_null_sql_not_reverted,
        "MRT404" => constraints::volatile_default,
        "MRT405" => constraints::server_default,
        "MRT406" => constraints::unique_on_existing,
        "MRT407" => constraints::index_not_concurrent,
        "MRT408" => constraints::drop_index,
        "MRT409" => constraints::drop_constraint,
        "MRT410" => constraints::batch_drop_constraint,
        "MRT501" => objects::sequence,
        "MRT502" => objects::trigger,
        "MRT503" => objects::create_type,
        "MRT504" => leftovers::create_without_drop,
        "MRT701" => deploy::drop_column,
        "MRT702" => deploy::rename_column,
        "MRT703" => deploy::drop_table,
        "MRT704" => deploy::not_null_without_server_default,
        "MRT705" => deploy::type_change,
        _ => return None,
    })
}

/// Like [`each_up`], for checks that need the action's position in the upgrade (what ran
/// before it, what runs after).
fn each_up_at(
    ctx: &Ctx,
    code: &'static str,
    f: impl Fn(usize, &Action) -> Option<String>,
) -> Vec<Hit> {
    ctx.m
        .up_actions()
        .iter()
        .enumerate()
        .filter_map(|(i, a)| f(i, a).map(|msg| Hit::new(code, a.start, a.span, msg)))
        .collect()
}

/// One hit per upgrade action the closure has a message for.
fn each_up(ctx: &Ctx, code: &'static str, f: impl Fn(&Action) -> Option<String>) -> Vec<Hit> {
    each(ctx.m.up_actions(), code, f)
}

fn each(actions: &[Action], code: &'static str, f: impl Fn(&Action) -> Option<String>) -> Vec<Hit> {
    actions
        .iter()
        .filter_map(|a| f(a).map(|msg| Hit::new(code, a.start, a.span, msg)))
        .collect()
}
