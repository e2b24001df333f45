//! MRT504: what the upgrade creates and the downgrade leaves behind. One symmetric check over
//! every create operation (tables, columns, indexes, constraints, views), followed through the
//! upgrade's own later drops and renames, so a temporary object needs no removal and a renamed
//! one is looked for under its final name.
//!
//! Objects with a more specific rule are left to it, so one hazard gives one finding: raw-SQL
//! creates in Python (MRT104/MRT105), triggers (MRT502), types and enums (MRT503), sequences
//! (MRT501). SQL files have no `execute` to pair, so their statements are followed here, also
//! for functions, extensions, triggers, types and sequences; the last three give way to their
//! own rule when it reports the same statement, and stand alone where it does not run.
//! A downgrade that is missing (MRT101), does nothing (MRT102) or only raises (the migration
//! declares itself irreversible) is not checked object by object.

use super::Ctx;
use crate::finding::Hit;
use crate::model::{same, show, surely_same, Action, Cons, Kind, Migration, Name, Obj, Via};
use crate::registry::Frontend;

/// The table of an object that has none (a view).
static NO_TABLE: Name = None;

/// An object an upgrade action made, under its current name.
#[derive(Debug, Clone)]
enum Made {
    Table(Name),
    View(Name),
    Column {
        table: Name,
        column: Name,
    },
    Index {
        name: Name,
        table: Name,
    },
    Constraint {
        name: Name,
        table: Name,
        cons: Cons,
    },
    /// Functions, triggers, types, sequences, extensions: made by SQL files only.
    Object {
        obj: Obj,
        name: Name,
        table: Name,
    },
}

impl Made {
    /// The table the object belongs to (a table is its own).
    fn table(&self) -> &Name {
        match self {
            Made::Table(t) => t,
            Made::View(_) => &NO_TABLE,
            Made::Column { table, .. }
            | Made::Index { table, .. }
            | Made::Constraint { table, .. }
            | Made::Object { table, .. } => table,
        }
    }

    /// The rule that reports this leftover more specifically, if any.
    fn specific_rule(&self) -> Option<&'static str> {
        match self {
            Made::Object {
                obj: Obj::Trigger, ..
            } => Some("MRT502"),
            Made::Object { obj: Obj::Type, .. } => Some("MRT503"),
            Made::Object {
                obj: Obj::Sequence, ..
            } => Some("MRT501"),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Made::Table(t) => format!("creates table `{}`", show(t)),
            Made::View(v) => format!("creates view `{}`", show(v)),
            Made::Column { table, column } => {
                format!("adds column `{}.{}`", show(table), show(column))
            }
            Made::Index { name, table } => {
                format!("creates index `{}` on `{}`", show(name), show(table))
            }
            Made::Constraint { name, table, cons } => format!(
                "creates {}constraint `{}` on `{}`",
                cons_word(*cons),
                show(name),
                show(table)
            ),
            Made::Object { obj, name, .. } => format!(
                "creates {} `{}`",
                obj.sql().to_ascii_lowercase(),
                show(name)
            ),
        }
    }
}

fn cons_word(cons: Cons) -> &'static str {
    match cons {
        Cons::ForeignKey => "foreign key ",
        Cons::Unique => "unique ",
        Cons::Check => "check ",
        Cons::PrimaryKey => "primary key ",
        Cons::Unknown => "",
    }
}

/// What an action creates, if it creates something this rule tracks.
fn made_by(action: &Action) -> Option<Made> {
    Some(match &action.kind {
        Kind::Create {
            obj: Obj::Table,
            name,
            ..
        } => Made::Table(name.clone()),
        Kind::Create {
            obj: Obj::View,
            name,
            ..
        } => Made::View(name.clone()),
        Kind::AddColumn { table, column, .. } => Made::Column {
            table: table.clone(),
            column: column.clone(),
        },
        Kind::CreateIndex { name, table, .. } => Made::Index {
            name: name.clone(),
            table: table.clone(),
        },
        Kind::AddConstraint {
            name, table, cons, ..
        } => Made::Constraint {
            name: name.clone(),
            table: table.clone(),
            cons: *cons,
        },
        Kind::Create { obj, name, table } if action.via == Via::File => Made::Object {
            obj: *obj,
            name: name.clone(),
            table: table.clone(),
        },
        _ => return None,
    })
}

/// The same object, by kind and name (both names known and equal).
fn same_object(a: &Made, b: &Made) -> bool {
    match (a, b) {
        (Made::Table(x), Made::Table(y)) | (Made::View(x), Made::View(y)) => surely_same(x, y),
        (
            Made::Column {
                table: t1,
                column: c1,
            },
            Made::Column {
                table: t2,
                column: c2,
            },
        ) => surely_same(t1, t2) && surely_same(c1, c2),
        (Made::Index { name: x, .. }, Made::Index { name: y, .. })
        | (Made::Constraint { name: x, .. }, Made::Constraint { name: y, .. }) => surely_same(x, y),
        (
            Made::Object {
                obj: o1, name: x, ..
            },
            Made::Object {
                obj: o2, name: y, ..
            },
        ) => o1 == o2 && surely_same(x, y),
        _ => false,
    }
}

/// Objects the upgrade has made so far, and names it dropped that existed before it.
#[derive(Default)]
struct Ledger<'a> {
    made: Vec<(Made, &'a Action)>,
    /// Dropped objects that the upgrade had not made: making one again replaces it (a changed
    /// index, a rebuilt table), which is not an object left behind.
    replaced: Vec<Made>,
}

impl<'a> Ledger<'a> {
    fn create(&mut self, made: Made, action: &'a Action) {
        if self.replaced.iter().any(|r| same_object(r, &made)) {
            return;
        }
        self.made.push((made, action));
    }

    /// Forgets what `gone` removes; records it as replaced when the upgrade did not make it.
    fn remove(&mut self, gone: Made) {
        let before = self.made.len();
        let table_gone = matches!(gone, Made::Table(_));
        self.made.retain(|(m, _)| {
            let on_gone_table = table_gone && surely_same(m.table(), gone.table());
            !(same_object(m, &gone) || on_gone_table)
        });
        if self.made.len() == before {
            self.replaced.push(gone);
        }
    }

    fn rename_table(&mut self, from: &Name, to: &Name) {
        for (m, _) in &mut self.made {
            let renamed = match m {
                Made::Table(t)
                | Made::Column { table: t, .. }
                | Made::Index { table: t, .. }
                | Made::Constraint { table: t, .. } => t,
                Made::View(_) | Made::Object { .. } => continue,
            };
            if surely_same(renamed, from) {
                *renamed = to.clone();
            }
        }
        // A new table renamed onto the name of one the upgrade dropped replaces it (create
        // `t_new`, copy, drop `t`, rename `t_new` to `t`).
        let replaced = &self.replaced;
        self.made
            .retain(|(m, _)| !replaced.iter().any(|r| same_object(r, m)));
    }

    fn rename_column(&mut self, table: &Name, from: &Name, to: &Name) {
        for (m, _) in &mut self.made {
            if let Made::Column { table: t, column } = m {
                if surely_same(t, table) && surely_same(column, from) {
                    *column = to.clone();
                }
            }
        }
        // Add `tmp`, copy, drop `c`, rename `tmp` to `c`: the new `c` replaces the old one.
        let replaced = &self.replaced;
        self.made
            .retain(|(m, _)| !replaced.iter().any(|r| same_object(r, m)));
    }

    fn apply(&mut self, action: &'a Action) {
        if let Some(made) = made_by(action) {
            self.create(made, action);
            return;
        }
        match &action.kind {
            Kind::Drop { obj, name } => {
                let gone = match obj {
                    Obj::Table => Made::Table(name.clone()),
                    Obj::View => Made::View(name.clone()),
                    Obj::Index => Made::Index {
                        name: name.clone(),
                        table: None,
                    },
                    obj => Made::Object {
                        obj: *obj,
                        name: name.clone(),
                        table: None,
                    },
                };
                self.remove(gone);
            }
            Kind::DropColumn { table, column } => self.remove(Made::Column {
                table: table.clone(),
                column: column.clone(),
            }),
            Kind::DropConstraint { name, table, cons } => self.remove(Made::Constraint {
                name: name.clone(),
                table: table.clone(),
                cons: *cons,
            }),
            Kind::RenameTable { from, to } => self.rename_table(from, to),
            Kind::RenameColumn { table, from, to } => self.rename_column(table, from, to),
            _ => {}
        }
    }
}

/// What the upgrade has made by its end, with the action that made each.
fn net_made(m: &Migration) -> Vec<(Made, &Action)> {
    let mut ledger = Ledger::default();
    for action in m.up_actions() {
        ledger.apply(action);
    }
    ledger.made
}

/// The downgrade removes the object: drops it (or its table), renames it away, or drops a
/// column of its table that the upgrade added (indexes and constraints go with their column).
/// SQL files change views and functions with `CREATE OR REPLACE` both ways: a downgrade that
/// creates the same view or function again restores its previous definition.
fn removed(m: &Migration, made: &Made, via: Via) -> bool {
    let table = made.table();
    let drops_table =
        |k: &Kind| matches!(k, Kind::Drop { obj: Obj::Table, name } if same(name, table));
    let drops_new_column = |k: &Kind| matches!(k, Kind::DropColumn { table: t, column } if same(t, table) && m.up_adds_column(t, column));
    m.down_any(|k| match (made, k) {
        (Made::Table(t), Kind::RenameTable { from, .. }) => same(from, t),
        (Made::Table(_), _) => drops_table(k),
        (
            Made::View(v),
            Kind::Drop {
                obj: Obj::View,
                name,
            },
        ) => same(name, v),
        (
            Made::View(v),
            Kind::Create {
                obj: Obj::View,
                name,
                ..
            },
        ) if via == Via::File => same(name, v),
        (Made::View(_), _) => false,
        (
            Made::Object {
                obj: Obj::Function,
                name,
                ..
            },
            Kind::Create {
                obj: Obj::Function,
                name: n,
                ..
            },
        ) => same(n, name),
        (Made::Object { obj, name, .. }, Kind::Drop { obj: o, name: n }) if o == obj => {
            same(n, name)
        }
        (
            Made::Object {
                obj: Obj::Trigger, ..
            },
            _,
        ) => table.is_some() && drops_table(k),
        (Made::Object { .. }, _) => false,
        (
            Made::Column { column, .. },
            Kind::DropColumn {
                table: t,
                column: c,
            },
        ) => same(t, table) && same(c, column),
        (Made::Column { column, .. }, Kind::RenameColumn { table: t, from, .. }) => {
            same(t, table) && same(from, column)
        }
        (Made::Column { .. }, _) => drops_table(k),
        (
            Made::Index { name, .. },
            Kind::Drop {
                obj: Obj::Index,
                name: n,
            },
        ) => same(n, name),
        (Made::Constraint { name, .. }, Kind::DropConstraint { name: n, .. })
        | (
            Made::Constraint { name, .. },
            Kind::Drop {
                obj: Obj::Index,
                name: n,
            },
        ) => same(n, name),
        (Made::Index { .. } | Made::Constraint { .. }, _) => drops_table(k) || drops_new_column(k),
    })
}

/// Whether the downgrade is one this rule checks object by object. A SQL down script with a
/// statement mrt cannot see into (a `DO` block, `CALL`) may remove anything, so only sure
/// leftovers would be guesses there.
fn downgrade_checked(ctx: &Ctx) -> bool {
    ctx.m.downgrade.as_ref().is_some_and(|d| {
        !(d.noop || d.raises || (ctx.frontend == Frontend::SqlFiles && d.opaque_effects))
    })
}

pub fn create_without_drop(ctx: &Ctx) -> Vec<Hit> {
    if !downgrade_checked(ctx) {
        return Vec::new();
    }
    net_made(ctx.m)
        .into_iter()
        .filter(|(_, a)| matches!(a.via, Via::Op | Via::Batch | Via::File))
        .filter(|(made, a)| !removed(ctx.m, made, a.via))
        .map(|(made, a)| {
            let hit = Hit::new(
                "MRT504",
                a.start,
                a.span,
                format!(
                    "upgrade() {} and downgrade() does not remove it: it stays behind after the rollback and the next upgrade fails on it",
                    made.describe()
                ),
            );
            match made.specific_rule() {
                Some(code) => hit.yielding_at_call(code),
                None => hit,
            }
        })
        .collect()
}
