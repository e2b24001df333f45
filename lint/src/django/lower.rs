//! Django operations into the neutral model: what each does going forward, and what Django does
//! when it unapplies it. Schema operations are reversed by Django itself, so their reverse is
//! synthesised here from the operation and the model state before it (AddField's reverse drops
//! the column, RemoveField's re-adds the field as the history defined it); `RunPython` and
//! `RunSQL` are reversed by their `reverse_code` / `reverse_sql`, or not at all.
//!
//! Every action of one operation shares its [`Action::call`] index with its [`OpFact`].
//! Forward actions are placed on the operation (or, for `RunPython` code, on the statement in
//! the function); reverse actions likewise.

use super::code::{self, Code, ModelInfo};
use super::facts::{OpFact, Reverse, What};
use super::fields::FieldDef;
use super::parse::{is_none, Op, OpKind, Source};
use super::state::{default_table, m2m_table, AppState, ModelState};
use crate::model::{norm, Action, Cons, DefaultKind, Kind, Name, Obj, Via};
use crate::{ops, sql, Dialect};
use rustpython_parser::ast::Expr;
use rustpython_parser::text_size::TextRange;

/// A migration's operations in the neutral model.
#[derive(Debug, Default)]
pub struct Lowered {
    pub upgrade: Vec<Action>,
    /// Per operation, in operation order; Django runs them last to first.
    reverses: Vec<Vec<Action>>,
    pub up_opaque: bool,
    pub down_opaque: bool,
    pub facts: Vec<OpFact>,
    /// Functions run by `RunPython` operations, with the span of each operation running them.
    pub code_owners: Vec<(TextRange, TextRange)>,
}

impl Lowered {
    /// The downgrade: each operation's reverse, last operation first.
    pub fn downgrade(&self) -> Vec<Action> {
        self.reverses.iter().rev().flatten().cloned().collect()
    }
}

/// Finds another app's model: its table and columns in the state before the migration.
pub type OtherApps<'l> = dyn Fn(&str, &str) -> Option<ModelInfo> + 'l;

pub struct Lowerer<'s, 'a> {
    pub src: &'s Source<'a>,
    pub app: &'s str,
    pub dialect: Dialect,
    pub others: &'s OtherApps<'s>,
    pub out: Lowered,
}

/// One operation's forward and reverse actions before they are placed.
#[derive(Default)]
struct Effect {
    forward: Vec<(Kind, Via)>,
    reverse: Vec<(Kind, Via)>,
}

impl Effect {
    fn both(&mut self, forward: Kind, reverse: Kind) {
        self.forward.push((forward, Via::Operation));
        self.reverse.push((reverse, Via::Operation));
    }
}

impl<'a> Lowerer<'_, 'a> {
    /// Lowers the operations of the migration, applying each to `state` as Django does.
    pub fn run(&mut self, ops: &[Op<'a>], state: &mut AppState) {
        for op in ops {
            self.op(op, state, false);
        }
    }

    fn op(&mut self, op: &Op<'a>, state: &mut AppState, in_database_half: bool) {
        let call = self.out.facts.len();
        let mut fact = OpFact {
            call,
            start: op.start,
            span: op.span,
            class: op.class.clone(),
            in_database_half,
            what: What::Other,
        };
        self.out.facts.push(fact.clone());
        let mut effect = Effect::default();
        let mut reverse_actions = Vec::new();
        match &op.kind {
            OpKind::RunSql {
                sql,
                reverse,
                state: _,
            } => {
                let forward = self.sql(*sql);
                let back = reverse.map(|r| self.sql(Some(r)));
                fact.what = What::RunSql {
                    reverse: match &back {
                        None => Reverse::Missing,
                        Some((kinds, opaque)) if kinds.is_empty() && !opaque => Reverse::Noop,
                        Some(_) => Reverse::Given,
                    },
                    opaque: forward.1,
                };
                self.out.up_opaque |= forward.1;
                effect.forward = forward.0.into_iter().map(|k| (k, Via::OpSql)).collect();
                if let Some((kinds, opaque)) = back {
                    self.out.down_opaque |= opaque;
                    effect.reverse = kinds.into_iter().map(|k| (k, Via::OpSql)).collect();
                }
                state.apply(op);
            }
            OpKind::RunPython { code, reverse } => {
                let forward = self.code(*code, state, op.span);
                let back = reverse.map(|r| self.code(Some(r), state, op.span));
                fact.what = What::RunPython {
                    reverse: match &back {
                        None => Reverse::Missing,
                        Some(c)
                            if c.noop || (c.actions.is_empty() && !c.opaque && !c.bookkeeping) =>
                        {
                            Reverse::Noop
                        }
                        Some(_) => Reverse::Given,
                    },
                    opaque: forward.opaque,
                };
                self.out.up_opaque |= forward.opaque;
                let actions = self.code_actions(forward, call);
                self.out.upgrade.extend(actions);
                if let Some(back) = back {
                    self.out.down_opaque |= back.opaque;
                    reverse_actions = self.code_actions(back, call);
                }
            }
            OpKind::SeparateDatabaseAndState {
                database,
                state: state_ops,
            } => {
                // Django runs the database half against its own copy of the state.
                let mut db_state = state.clone();
                // Each inner operation records its own reverse; the outer one has none.
                for inner in database {
                    self.op(inner, &mut db_state, true);
                }
                for inner in state_ops {
                    state.apply(inner);
                }
            }
            _ => {
                fact.what = self.schema(op, state, &mut effect);
                if matches!(op.kind, OpKind::Unknown) {
                    self.out.up_opaque = true;
                    self.out.down_opaque = true;
                }
                state.apply(op);
            }
        }
        self.out.facts[call] = fact;
        let place = |(kind, via): (Kind, Via)| Action {
            kind,
            via,
            start: op.start,
            span: op.span,
            call,
        };
        self.out
            .upgrade
            .extend(effect.forward.into_iter().map(place));
        reverse_actions.extend(effect.reverse.into_iter().map(place));
        self.out.reverses.push(reverse_actions);
    }

    /// The table of a model of this app, and whether Django touches it (`None` table: the model
    /// is not in the history).
    fn table_of(&self, state: &AppState, model: &str) -> (Name, bool) {
        match state.model(model) {
            Some(m) => (Some(m.table(self.app)), m.has_table()),
            None => (None, true),
        }
    }

    /// Schema operations: their forward actions, the reverse Django derives, and their facts.
    fn schema(&mut self, op: &Op<'a>, state: &AppState, e: &mut Effect) -> What {
        let app = self.app;
        match &op.kind {
            OpKind::CreateModel {
                name,
                fields,
                options,
            } => {
                if options.managed && !options.proxy {
                    let table = options
                        .db_table
                        .as_deref()
                        .map_or_else(|| default_table(app, name), norm);
                    e.both(
                        create_table(Some(table.clone())),
                        drop_table(Some(table.clone())),
                    );
                    for (field, def) in fields.iter().flatten() {
                        if def.as_ref().is_some_and(|d| d.is_m2m() && !d.through) {
                            let t = Some(m2m_table(&table, field));
                            e.both(create_table(t.clone()), drop_table(t));
                        }
                    }
                    // Django drops in the opposite order: join tables first.
                    e.reverse.reverse();
                }
                What::Other
            }
            OpKind::DeleteModel { name } => {
                let model = state.model(name);
                if model.is_none_or(ModelState::has_table) {
                    let table = model.map(|m| m.table(app));
                    for t in model.map(|m| m.m2m_tables(app)).unwrap_or_default() {
                        e.both(drop_table(Some(t.clone())), create_table(Some(t)));
                    }
                    e.both(drop_table(table.clone()), create_table(table));
                }
                What::DeleteModel {
                    model: name.clone(),
                }
            }
            OpKind::RenameModel { old, new } => {
                let mut tables = (None, None);
                if let Some(m) = state.model(old).filter(|m| m.has_table()) {
                    let from = m.table(app);
                    let to = match &m.db_table {
                        Some(t) => norm(t),
                        None => default_table(app, new),
                    };
                    tables = (Some(from.clone()), Some(to.clone()));
                    if from != to {
                        e.both(rename_table(&from, &to), rename_table(&to, &from));
                    }
                }
                What::RenameModel {
                    old: old.clone(),
                    new: new.clone(),
                    tables,
                }
            }
            OpKind::AlterModelTable { name, table } => {
                if let Some(m) = state.model(name).filter(|m| m.has_table()) {
                    let from = m.table(app);
                    let to = table
                        .as_deref()
                        .map_or_else(|| default_table(app, &m.name), norm);
                    if from != to {
                        e.both(rename_table(&from, &to), rename_table(&to, &from));
                    }
                }
                What::Other
            }
            OpKind::AddField {
                model, name, field, ..
            } => {
                let (table, has_table) = self.table_of(state, model);
                if has_table {
                    add_field(e, &table, name, field.as_ref());
                }
                What::AddField {
                    model: model.clone(),
                    field: name.clone(),
                    def: field.clone(),
                }
            }
            OpKind::RemoveField { model, name } => {
                let m = state.model(model);
                let (table, has_table) = self.table_of(state, model);
                let prior = m.and_then(|m| m.field(name)).cloned();
                if has_table {
                    remove_field(e, &table, name, m, prior.as_ref());
                }
                What::RemoveField {
                    model: model.clone(),
                    field: name.clone(),
                    prior,
                }
            }
            OpKind::AlterField {
                model, name, field, ..
            } => {
                let (table, has_table) = self.table_of(state, model);
                let prior = state.model(model).and_then(|m| m.field(name)).cloned();
                if let (true, Some(prior), Some(new)) = (has_table, &prior, field) {
                    alter_field(e, &table, name, prior, new);
                }
                What::AlterField {
                    model: model.clone(),
                    field: name.clone(),
                }
            }
            OpKind::RenameField { model, old, new } => {
                let (table, has_table) = self.table_of(state, model);
                if has_table {
                    let m = state.model(model);
                    let def = m.and_then(|m| {
                        m.fields
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case(old))
                            .and_then(|(_, f)| f.as_ref())
                    });
                    let (from, to) = match def {
                        Some(d) => (d.column(old), d.column(new)),
                        None => (Some(norm(old)), Some(norm(new))),
                    };
                    if from != to {
                        e.both(
                            Kind::RenameColumn {
                                table: table.clone(),
                                from: from.clone(),
                                to: to.clone(),
                            },
                            Kind::RenameColumn {
                                table,
                                from: to,
                                to: from,
                            },
                        );
                    }
                }
                What::Other
            }
            OpKind::AlterTogether {
                model,
                unique,
                sets: Some(sets),
            } => {
                if let Some(m) = state.model(model).filter(|m| m.has_table() && m.certain) {
                    let table = Some(m.table(app));
                    let old = if *unique {
                        &m.unique_together
                    } else {
                        &m.index_together
                    };
                    let added = sets.iter().filter(|s| !old.contains(s)).count();
                    let removed = old.iter().filter(|s| !sets.contains(s)).count();
                    let (make, unmake) = if *unique {
                        (unique_constraint(&table), drop_unique(&table))
                    } else {
                        (create_index(&table, None, false), drop_index(None))
                    };
                    for _ in 0..added {
                        e.both(make.clone(), unmake.clone());
                    }
                    for _ in 0..removed {
                        e.both(unmake.clone(), make.clone());
                    }
                }
                What::Other
            }
            OpKind::AddIndex {
                model,
                name,
                concurrently,
            } => {
                let (table, has_table) = self.table_of(state, model);
                if has_table {
                    let name = name.as_deref().map(norm);
                    e.forward.push((
                        create_index(&table, name.clone(), *concurrently),
                        Via::Operation,
                    ));
                    e.reverse.push((drop_index(name), Via::Operation));
                    if *concurrently {
                        e.reverse.push((drop_concurrently(), Via::Operation));
                    }
                }
                What::Other
            }
            OpKind::RemoveIndex {
                model,
                name,
                concurrently,
            } => {
                let (table, has_table) = self.table_of(state, model);
                if has_table {
                    let name = name.as_deref().map(norm);
                    e.forward.push((drop_index(name.clone()), Via::Operation));
                    if *concurrently {
                        e.forward.push((drop_concurrently(), Via::Operation));
                    }
                    e.reverse
                        .push((create_index(&table, name, *concurrently), Via::Operation));
                }
                What::Other
            }
            OpKind::AddConstraint {
                model,
                name,
                cons,
                not_valid,
            } => {
                let (table, has_table) = self.table_of(state, model);
                if has_table {
                    let name = name.as_deref().map(norm);
                    e.both(
                        Kind::AddConstraint {
                            name: name.clone(),
                            table: table.clone(),
                            cons: *cons,
                            not_valid: *not_valid,
                        },
                        Kind::DropConstraint {
                            name,
                            table,
                            cons: *cons,
                        },
                    );
                }
                What::Other
            }
            OpKind::RemoveConstraint { model, name } => {
                let (table, has_table) = self.table_of(state, model);
                if has_table {
                    let cons = state
                        .model(model)
                        .filter(|m| m.certain)
                        .and_then(|m| {
                            m.constraints
                                .iter()
                                .find(|(n, _)| Some(n) == name.as_ref())
                                .map(|(_, c)| *c)
                        })
                        .unwrap_or(Cons::Unknown);
                    let name = name.as_deref().map(norm);
                    e.both(
                        Kind::DropConstraint {
                            name: name.clone(),
                            table: table.clone(),
                            cons,
                        },
                        Kind::AddConstraint {
                            name,
                            table,
                            cons,
                            not_valid: false,
                        },
                    );
                }
                What::Other
            }
            OpKind::CreateExtension { name } => {
                let name = name.as_deref().map(norm);
                e.both(
                    Kind::Create {
                        obj: Obj::Other,
                        name: name.clone(),
                        table: None,
                    },
                    Kind::Drop {
                        obj: Obj::Other,
                        name,
                    },
                );
                What::Other
            }
            _ => What::Other,
        }
    }

    /// What a `RunSQL` argument runs: its statements' kinds, and whether some statement may do
    /// what no kind shows. A list holds strings or `(sql, params)` pairs.
    fn sql(&self, expr: Option<&Expr>) -> (Vec<Kind>, bool) {
        let Some(expr) = expr else {
            return (Vec::new(), false);
        };
        if matches!(expr, Expr::Attribute(a) if a.attr.as_str() == "noop") || is_none(expr) {
            return (Vec::new(), false);
        }
        let items: Vec<&Expr> = match expr {
            Expr::List(l) => l.elts.iter().collect(),
            Expr::Tuple(t) => t.elts.iter().collect(),
            other => vec![other],
        };
        let mut kinds = Vec::new();
        let mut opaque = false;
        for item in items {
            let item = match item {
                Expr::Tuple(t) if t.elts.len() == 2 => &t.elts[0],
                Expr::List(l) if l.elts.len() == 2 => &l.elts[0],
                other => other,
            };
            let (found, effects) = executed(item, self.src, self.dialect);
            kinds.extend(found);
            opaque |= effects;
        }
        (kinds, opaque)
    }

    /// Reads a `code` / `reverse_code` argument against the state before the operation.
    fn code(&mut self, expr: Option<&'a Expr>, state: &AppState, owner: TextRange) -> Code {
        let Some(expr) = expr else {
            return Code {
                opaque: true,
                ..Code::default()
            };
        };
        let app = self.app;
        let others = self.others;
        let lookup = |a: &str, model: &str| -> ModelInfo {
            if a.eq_ignore_ascii_case(app) {
                return state
                    .model(model)
                    .map(|m| ModelInfo::of(m, app))
                    .unwrap_or_default();
            }
            others(a, model).unwrap_or_default()
        };
        let read = code::read(expr, self.src, &lookup, self.dialect);
        self.out
            .code_owners
            .extend(read.functions.iter().map(|f| (*f, owner)));
        read
    }

    fn code_actions(&self, code: Code, call: usize) -> Vec<Action> {
        code.actions
            .into_iter()
            .map(|(kind, via, start, span)| Action {
                kind,
                via,
                start,
                span,
                call,
            })
            .collect()
    }
}

/// What running the SQL of `expr` does: the kinds of its statements (transaction control,
/// session settings and maintenance left out: they need no undoing), and whether a statement
/// may do what no kind shows (a `DO` block, a function call). SQL built at run time is
/// [`Kind::DynamicSql`].
pub(super) fn executed(expr: &Expr, src: &Source, dialect: Dialect) -> (Vec<Kind>, bool) {
    let Some(text) = ops::literal_sql(expr, src) else {
        return (vec![Kind::DynamicSql], false);
    };
    let mut kinds = Vec::new();
    let mut opaque = false;
    for piece in sql::split_statements(&text) {
        let refused = sql::refused_in_transaction(piece);
        if refused.is_none() && sql::control(piece).is_some() {
            continue;
        }
        let mut found = sql::classify_statement(piece, dialect);
        if let Some(statement) = refused {
            found.push(Kind::NoTransaction { statement });
        }
        if matches!(found.as_slice(), [] | [Kind::OtherSql]) && sql::may_have_effects(piece) {
            opaque = true;
        }
        kinds.extend(found);
    }
    (kinds, opaque)
}

fn create_table(name: Name) -> Kind {
    Kind::Create {
        obj: Obj::Table,
        name,
        table: None,
    }
}

fn drop_table(name: Name) -> Kind {
    Kind::Drop {
        obj: Obj::Table,
        name,
    }
}

fn rename_table(from: &str, to: &str) -> Kind {
    Kind::RenameTable {
        from: Some(from.to_string()),
        to: Some(to.to_string()),
    }
}

fn create_index(table: &Name, name: Name, concurrently: bool) -> Kind {
    Kind::CreateIndex {
        name,
        table: table.clone(),
        unique: false,
        concurrently,
    }
}

fn drop_index(name: Name) -> Kind {
    Kind::Drop {
        obj: Obj::Index,
        name,
    }
}

fn drop_concurrently() -> Kind {
    Kind::NoTransaction {
        statement: "DROP INDEX CONCURRENTLY",
    }
}

fn unique_constraint(table: &Name) -> Kind {
    Kind::AddConstraint {
        name: None,
        table: table.clone(),
        cons: Cons::Unique,
        not_valid: false,
    }
}

fn drop_unique(table: &Name) -> Kind {
    Kind::DropConstraint {
        name: None,
        table: table.clone(),
        cons: Cons::Unique,
    }
}

/// The column `AddField` adds (or the join table of a many-to-many field), as the database sees
/// it: NOT NULL unless `null=True`, with what existing rows get.
fn added_column(table: &Name, name: &str, def: Option<&FieldDef>) -> Kind {
    let Some(def) = def else {
        return Kind::AddColumn {
            table: table.clone(),
            column: Some(norm(name)),
            not_null: false,
            default: DefaultKind::Unknown,
        };
    };
    Kind::AddColumn {
        table: table.clone(),
        column: def.column(name),
        not_null: def.not_null().unwrap_or(false),
        default: if def.null.is_some() {
            def.added_default()
        } else {
            DefaultKind::Unknown
        },
    }
}

fn add_field(e: &mut Effect, table: &Name, name: &str, def: Option<&FieldDef>) {
    if let Some(d) = def.filter(|d| d.is_m2m()) {
        if !d.through {
            let t = table.as_deref().map(|t| m2m_table(t, name));
            e.both(create_table(t.clone()), drop_table(t));
        }
        return;
    }
    let column = def.map_or_else(|| Some(norm(name)), |d| d.column(name));
    e.both(
        added_column(table, name, def),
        Kind::DropColumn {
            table: table.clone(),
            column,
        },
    );
    // Every existing row gets the same default: a unique column fails on the second row.
    if let Some(d) = def {
        let one_value = matches!(
            d.added_default(),
            DefaultKind::Backfill | DefaultKind::Static
        );
        if d.unique && !d.primary_key && d.null == Some(false) && one_value {
            e.forward.push((unique_constraint(table), Via::Operation));
        }
    }
}

fn remove_field(
    e: &mut Effect,
    table: &Name,
    name: &str,
    model: Option<&ModelState>,
    prior: Option<&FieldDef>,
) {
    if let Some(p) = prior.filter(|p| p.is_m2m()) {
        if !p.through {
            let t = table.as_deref().map(|t| m2m_table(t, name));
            e.both(drop_table(t.clone()), create_table(t));
        }
        return;
    }
    let column = match model {
        Some(m) => m.column(name),
        None => Some(norm(name)),
    };
    e.both(
        Kind::DropColumn {
            table: table.clone(),
            column,
        },
        added_column(table, name, prior),
    );
}

/// What `AlterField` changes in the database, judged against the field's previous definition.
fn alter_field(e: &mut Effect, table: &Name, name: &str, prior: &FieldDef, new: &FieldDef) {
    if prior.is_m2m() || new.is_m2m() {
        return;
    }
    let (old_col, column) = (prior.column(name), new.column(name));
    if old_col != column {
        e.both(
            Kind::RenameColumn {
                table: table.clone(),
                from: old_col.clone(),
                to: column.clone(),
            },
            Kind::RenameColumn {
                table: table.clone(),
                from: column.clone(),
                to: old_col,
            },
        );
    }
    let change_type = |column: &Name| Kind::ChangeType {
        table: table.clone(),
        column: column.clone(),
        to: None,
    };
    if let (Some(a), Some(b)) = (prior.db_type(), new.db_type()) {
        if a != b {
            e.both(change_type(&column), change_type(&column));
        }
    }
    let set = Kind::SetNotNull {
        table: table.clone(),
        column: column.clone(),
    };
    let drop = Kind::DropNotNull {
        table: table.clone(),
        column: column.clone(),
    };
    match (prior.null, new.null) {
        // With `default=` or `db_default=`, Django first fills the NULL rows with it.
        (Some(true), Some(false)) if !new.has_default && new.db_default.is_none() => {
            e.both(set, drop)
        }
        (Some(false), Some(true)) => e.both(drop, set),
        _ => {}
    }
    let (was_unique, unique) = (
        prior.unique && !prior.primary_key,
        new.unique && !new.primary_key,
    );
    if !was_unique && unique {
        e.both(unique_constraint(table), drop_unique(table));
    } else if was_unique && !unique {
        e.both(drop_unique(table), unique_constraint(table));
    }
    match (prior.indexed(), new.indexed()) {
        (false, true) => e.both(create_index(table, None, false), drop_index(None)),
        (true, false) => e.both(drop_index(None), create_index(table, None, false)),
        _ => {}
    }
}
