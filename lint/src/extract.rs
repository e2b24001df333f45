//! Builds the [`Migration`] model of one parsed file.

use crate::model::{Action, Body, Migration};
use crate::python::{is_noop, only_raises, Call, Module, Recv, INERT_OP};
use crate::{ops, Dialect};
use rustpython_parser::ast::Ranged;
use rustpython_parser::text_size::TextRange;

pub fn migration(module: &Module, dialect: Dialect) -> Migration {
    Migration {
        upgrade: body(module, "upgrade", dialect),
        downgrade: body(module, "downgrade", dialect),
        fresh_tables: Vec::new(),
    }
}

fn body(module: &Module, name: &str, dialect: Dialect) -> Option<Body> {
    let function = module.calls_of(name)?;
    let def = function.def;
    let mut actions = Vec::new();
    let mut opaque_effects = function.opaque_effects;
    for (index, call) in function.calls.iter().enumerate() {
        let kinds = ops::kinds(call, module, dialect);
        opaque_effects |= kinds.is_empty() && unmodelled_op(call);
        for (kind, via) in kinds {
            actions.push(Action {
                kind,
                via,
                start: call.start,
                span: call.span,
                call: index,
            });
        }
    }
    let start = def.range().start();
    // The `def` line, or through the return annotation when the signature spans lines.
    let header_end = def.returns.as_ref().map_or(start, |r| r.range().end());
    Some(Body {
        def_start: start,
        header: TextRange::new(start, header_end.max(start)),
        whole: def.range(),
        noop: is_noop(&def.body),
        raises: only_raises(&def.body),
        opaque_effects,
        actions,
        transactions: Vec::new(),
    })
}

/// An `op` operation mrt does not turn into an action (`alter_column(server_default=...)`,
/// `create_table_comment`, a custom operation): it still changes the database.
fn unmodelled_op(call: &Call) -> bool {
    matches!(call.recv, Recv::Op | Recv::Batch(_)) && !INERT_OP.contains(&call.method)
}
