//! The checks behind each registered rule code, grouped by family. Each check looks only at the
//! [`Migration`] model and returns [`Hit`]s; the registry says whether it runs.

mod constraints;
mod data;
mod deploy;
mod destructive;
mod django;
mod leftovers;
mod locks;
mod objects;
mod rename;
mod structure;

use crate::finding::Hit;
use crate::model::{Action, Migration};
use crate::registry::{rules, Frontend, Rule};
use crate::Dialect;

/// What a check may look at.
pub struct Ctx<'a> {
    pub m: &'a Migration,
    pub is_merge: bool,
    /// The migration has no downgrade by design (refinery, sqlx simple migrations): rules that
    /// pair the upgrade with its downgrade do not run.
    pub forward_only: bool,
    /// The kind of migration: rules restricted to others do not run.
    pub frontend: Frontend,
    /// What a Django migration's operations are, for the rules about Django operations
    /// (`None` for the other frontends).
    pub django: Option<&'a crate::django::Facts>,
}

/// Rules that judge the upgrade by what its downgrade does; meaningless without one.
const NEEDS_DOWNGRADE: &[&str] = &[
    "MRT101", "MRT102", "MRT103", "MRT104", "MRT105", "MRT106", "MRT205", "MRT207", "MRT215",
    "MRT216", "MRT301", "MRT302", "MRT304", "MRT402", "MRT403", "MRT408", "MRT409", "MRT410",
    "MRT502", "MRT503", "MRT504",
];

/// The hits of every rule that runs here: on this dialect, opted into when opt-in, for this
/// kind of migration.
pub fn run(ctx: &Ctx, dialect: Dialect, opt_in: &[&str]) -> Vec<(&'static Rule, Hit)> {
    let mut hits = Vec::new();
    for rule in rules().iter().filter(|r| enabled(r, ctx, dialect, opt_in)) {
        if let Some(check) = check(rule.code) {
            hits.extend(check(ctx).into_iter().map(|h| (rule, h)));
        }
    }
    hits
}

fn enabled(rule: &Rule, ctx: &Ctx, dialect: Dialect, opt_in: &[&str]) -> bool {
    let opted = || {
        opt_in
            .iter()
            .any(|o| o.eq_ignore_ascii_case(rule.code) || o.eq_ignore_ascii_case(rule.name))
    };
    rule.runs_on(dialect)
        && (!rule.opt_in || opted())
        && rule.runs_in(ctx.frontend)
        && !(ctx.forward_only && NEEDS_DOWNGRADE.contains(&rule.code))
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
        "MRT107" => django::run_python_without_reverse,
        "MRT108" => django::run_sql_without_reverse,
        "MRT109" => django::noop_reverse,
        "MRT110" => django::separate_state_irreversible,
        "MRT201" => destructive::drop_column,
        "MRT202" => destructive::drop_table,
        "MRT203" => data::truncate,
        "MRT204" => destructive::cascade_delete,
        "MRT205" => destructive::drop_foreign_key,
        "MRT206" => destructive::batch_drop_column,
        "MRT207" => destructive::drop_view,
        "MRT208" => destructive::multi_step,
        "MRT209" => django::remove_field,
        "MRT210" => django::delete_model,
        "MRT211" => django::run_sql_drop_table,
        "MRT212" => django::run_sql_truncate,
        "MRT213" => constraints::set_not_null_existing,
        "MRT214" => data::delete_without_where,
        "MRT215" => data::destructive_downgrade,
        "MRT216" => data::delete_without_reverse,
        "MRT301" => rename::rename_table,
        "MRT302" => rename::rename_column,
        "MRT303" => rename::type_change,
        "MRT304" => rename::enum_value_added,
        "MRT305" => django::rename_model_with_loss,
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
        "MRT411" => django::add_field_not_null,
        "MRT412" => django::alter_field_not_null,
        "MRT413" => django::index_not_concurrent,
        "MRT414" => django::concurrent_in_atomic,
        "MRT415" => locks::concurrently_in_transaction,
        "MRT416" => locks::constraint_without_not_valid,
        "MRT417" => locks::type_change_rewrites_table,
        "MRT501" => objects::sequence,
        "MRT502" => objects::trigger,
        "MRT503" => objects::create_type,
        "MRT504" => leftovers::create_without_drop,
        "MRT601" => django::squash_irreversible,
        "MRT602" => django::squash_without_replaces,
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
