//! What the Django rules need beyond the neutral model: which operation each action came from,
//! how Django reverses it, and what the model state said about the fields it touches.
//!
//! The neutral [`crate::model::Migration`] of a Django migration holds every operation's
//! actions with [`crate::model::Action::call`] set to the operation's [`OpFact::call`], so a
//! rule finds an operation's forward and reverse actions there.

use super::fields::FieldDef;
use crate::model::Name;
use rustpython_parser::text_size::{TextRange, TextSize};

/// A Django migration as the Django rules see it.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Every operation, those inside `SeparateDatabaseAndState` included, in order.
    pub ops: Vec<OpFact>,
    /// `replaces = [...]`: a squashed migration.
    pub squashed: bool,
    /// Named like a squash (`0001_squashed_0004_x`) but without `replaces`: the
    /// `class Migration` statement, where that is reported.
    pub unreplaced_squash: Option<TextRange>,
}

#[derive(Debug, Clone)]
pub struct OpFact {
    /// The `call` index of its actions in the neutral model.
    pub call: usize,
    pub start: TextSize,
    pub span: TextRange,
    /// The operation class as written (`RemoveField`).
    pub class: String,
    /// Inside `SeparateDatabaseAndState(database_operations=[...])`.
    pub in_database_half: bool,
    pub what: What,
}

/// How an operation Django cannot reverse by itself is reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reverse {
    /// No `reverse_code` / `reverse_sql`: Django refuses to unapply it.
    Missing,
    /// `RunPython.noop`, `RunSQL.noop`, or code that does nothing to the database.
    Noop,
    /// A reverse that does something.
    Given,
}

#[derive(Debug, Clone)]
pub enum What {
    RunPython {
        reverse: Reverse,
        /// The forward code calls something mrt cannot see into.
        opaque: bool,
    },
    RunSql {
        reverse: Reverse,
        opaque: bool,
    },
    AddField {
        model: String,
        field: String,
        def: Option<FieldDef>,
    },
    AlterField {
        model: String,
        field: String,
    },
    RemoveField {
        model: String,
        field: String,
        /// The field before, from the project's history; `None` when it is not known.
        prior: Option<FieldDef>,
    },
    DeleteModel {
        model: String,
    },
    RenameModel {
        old: String,
        new: String,
        /// Its table before and after (the same when `db_table` is set).
        tables: (Name, Name),
    },
    Other,
}
