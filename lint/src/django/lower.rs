//! Django operations into the neutral model: what each does going forward, and what Django does
//! when it unapplies it. Schema operations are reversed by Django itself ([`schema`] derives
//! their reverse from the model state before them); `RunPython` and `RunSQL` are reversed by
//! their `reverse_code` / `reverse_sql`, or not at all; `SeparateDatabaseAndState` runs its
//! database half against a state of its own.
//!
//! Every action of one operation shares its [`Action::call`] index with its [`OpFact`].
//! Forward actions are placed on the operation (or, for `RunPython` code, on the statement in
//! the function); reverse actions likewise.

use super::code::{self, Code, ModelInfo};
use super::facts::{OpFact, Reverse, What};
use super::parse::{is_none, Op, OpKind, Source};
use super::schema::{self, Effect};
use super::state::AppState;
use crate::model::{Action, Kind, Via};
use crate::{ops, sql, Dialect};
use rustpython_parser::ast::{Expr, Ranged};
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
                    reverse: reverse_of(back.as_ref()),
                    opaque: forward.opaque,
                };
                self.place_run(forward, back, call, &mut reverse_actions);
                state.apply(op);
            }
            OpKind::RunPython { code, reverse } => {
                let forward = self.code(*code, state, op.span);
                let back = reverse.map(|r| self.code(Some(r), state, op.span));
                fact.what = What::RunPython {
                    reverse: reverse_of(back.as_ref()),
                    opaque: forward.opaque,
                };
                self.place_run(forward, back, call, &mut reverse_actions);
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
                fact.what = schema::lower(&op.kind, self.app, state, &mut effect);
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

    /// Places the actions of a `RunPython` / `RunSQL` and of its reverse.
    fn place_run(
        &mut self,
        forward: Code,
        back: Option<Code>,
        call: usize,
        reverse: &mut Vec<Action>,
    ) {
        self.out.up_opaque |= forward.opaque;
        let actions = self.code_actions(forward, call);
        self.out.upgrade.extend(actions);
        if let Some(back) = back {
            self.out.down_opaque |= back.opaque;
            *reverse = self.code_actions(back, call);
        }
    }

    /// What a `RunSQL` argument runs: its statements, each placed on the string that holds it
    /// (a list holds strings or `(sql, params)` pairs), and whether some statement may do what
    /// no action shows. `RunSQL.noop` runs nothing.
    fn sql(&self, expr: Option<&Expr>) -> Code {
        let mut out = Code::default();
        let Some(expr) = expr else {
            return out;
        };
        if matches!(expr, Expr::Attribute(a) if a.attr.as_str() == "noop") || is_none(expr) {
            out.noop = true;
            return out;
        }
        let items: Vec<&Expr> = match expr {
            Expr::List(l) => l.elts.iter().collect(),
            Expr::Tuple(t) => t.elts.iter().collect(),
            other => vec![other],
        };
        for item in items {
            let item = match item {
                Expr::Tuple(t) if t.elts.len() == 2 => &t.elts[0],
                Expr::List(l) if l.elts.len() == 2 => &l.elts[0],
                other => other,
            };
            let (kinds, opaque) = executed(item, self.src, self.dialect);
            let at = item.range();
            out.actions
                .extend(kinds.into_iter().map(|k| (k, Via::OpSql, at.start(), at)));
            out.opaque |= opaque;
        }
        out
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
                    .shared(model)
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

/// How an operation Django cannot reverse by itself is reversed: not at all, by something that
/// does nothing to the database (`noop`, code without writes), or by something.
fn reverse_of(back: Option<&Code>) -> Reverse {
    match back {
        None => Reverse::Missing,
        Some(c) if c.noop || (c.actions.is_empty() && !c.opaque && !c.bookkeeping) => Reverse::Noop,
        Some(_) => Reverse::Given,
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
