//! What Django's schema operations do to the database, and what Django does to undo them: the
//! reverse is derived from the operation and the model state before it, as Django derives it
//! (`database_backwards`): AddField's reverse drops the column, RemoveField's re-adds the field
//! as the history defined it, AlterField's alters it back.
//!
//! A model Django creates no table for (a proxy, `managed = False`) gives no action; a model
//! the history does not know is assumed to have a table, named `None`.

use super::facts::What;
use super::fields::FieldDef;
use super::parse::{ModelOptions, OpKind};
use super::state::{default_table, m2m_table, AppState, ModelState};
use crate::model::{norm, Cons, DefaultKind, Kind, Name, Obj, Via};

/// One operation's forward and reverse actions, before they are placed.
#[derive(Default)]
pub struct Effect {
    pub forward: Vec<(Kind, Via)>,
    pub reverse: Vec<(Kind, Via)>,
}

impl Effect {
    fn both(&mut self, forward: Kind, reverse: Kind) {
        self.forward.push((forward, Via::Operation));
        self.reverse.push((reverse, Via::Operation));
    }
}

/// The model an operation of `app` names, in the state before it.
struct Target<'s> {
    model: Option<&'s ModelState>,
    /// Its table (`None`: the model is not in the history).
    table: Name,
    /// Django touches its table (a model the history does not know is assumed to have one).
    has_table: bool,
}

fn target<'s>(app: &str, state: &'s AppState, model: &str) -> Target<'s> {
    let m = state.model(model);
    Target {
        model: m,
        table: m.map(|m| m.table(app)),
        has_table: m.is_none_or(ModelState::has_table),
    }
}

/// A schema operation's effect on `e`, and what the Django rules need to know about it.
pub fn lower(op: &OpKind, app: &str, state: &AppState, e: &mut Effect) -> What {
    let on = |model: &str| target(app, state, model);
    match op {
        OpKind::CreateModel {
            name,
            fields,
            options,
        } => {
            create_model(e, app, name, fields.as_deref().unwrap_or_default(), options);
            What::Other
        }
        OpKind::DeleteModel { name } => {
            delete_model(e, app, &on(name));
            What::DeleteModel {
                model: name.clone(),
            }
        }
        OpKind::RenameModel { old, new } => What::RenameModel {
            old: old.clone(),
            new: new.clone(),
            tables: rename_model(e, app, &on(old), new),
        },
        OpKind::AlterModelTable { name, table } => {
            alter_model_table(e, app, &on(name), table.as_deref());
            What::Other
        }
        OpKind::AddField {
            model, name, field, ..
        } => {
            let t = on(model);
            if t.has_table {
                add_field(e, &t.table, name, field.as_ref());
            }
            What::AddField {
                model: model.clone(),
                field: name.clone(),
                def: field.clone(),
            }
        }
        OpKind::RemoveField { model, name } => {
            let t = on(model);
            let prior = t.model.and_then(|m| m.field(name)).cloned();
            if t.has_table {
                remove_field(e, &t, name, prior.as_ref());
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
            let t = on(model);
            let prior = t.model.and_then(|m| m.field(name));
            if let (true, Some(prior), Some(new)) = (t.has_table, prior, field) {
                alter_field(e, &t.table, name, prior, new);
            }
            What::AlterField {
                model: model.clone(),
                field: name.clone(),
            }
        }
        OpKind::RenameField { model, old, new } => {
            rename_field(e, &on(model), old, new);
            What::Other
        }
        OpKind::AlterTogether {
            model,
            unique,
            sets: Some(sets),
        } => {
            alter_together(e, &on(model), *unique, sets);
            What::Other
        }
        OpKind::AddIndex {
            model,
            name,
            concurrently,
        } => {
            let t = on(model);
            if t.has_table {
                add_index(e, &t.table, name.as_deref().map(norm), *concurrently);
            }
            What::Other
        }
        OpKind::RemoveIndex {
            model,
            name,
            concurrently,
        } => {
            let t = on(model);
            if t.has_table {
                remove_index(e, &t.table, name.as_deref().map(norm), *concurrently);
            }
            What::Other
        }
        OpKind::AddConstraint {
            model,
            name,
            cons,
            not_valid,
        } => {
            let t = on(model);
            if t.has_table {
                let name = name.as_deref().map(norm);
                e.both(
                    add_constraint(&t.table, name.clone(), *cons, *not_valid),
                    drop_constraint(&t.table, name, *cons),
                );
            }
            What::Other
        }
        OpKind::RemoveConstraint { model, name } => {
            let t = on(model);
            if t.has_table {
                remove_constraint(e, &t, name.as_deref());
            }
            What::Other
        }
        OpKind::CreateExtension { name } => {
            let name = name.as_deref().map(norm);
            let extension = |name| Kind::Create {
                obj: Obj::Other,
                name,
                table: None,
            };
            e.both(
                extension(name.clone()),
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

/// The model's table and its auto-created join tables; Django drops them join tables first.
fn create_model(
    e: &mut Effect,
    app: &str,
    name: &str,
    fields: &[(String, Option<FieldDef>)],
    options: &ModelOptions,
) {
    if !options.managed || options.proxy {
        return;
    }
    let table = options
        .db_table
        .as_deref()
        .map_or_else(|| default_table(app, name), norm);
    e.both(
        create_table(Some(table.clone())),
        drop_table(Some(table.clone())),
    );
    for (field, def) in fields {
        if def.as_ref().is_some_and(|d| d.is_m2m() && !d.through) {
            let t = Some(m2m_table(&table, field));
            e.both(create_table(t.clone()), drop_table(t));
        }
    }
    e.reverse.reverse();
}

fn delete_model(e: &mut Effect, app: &str, t: &Target) {
    if !t.has_table {
        return;
    }
    for join in t.model.map(|m| m.m2m_tables(app)).unwrap_or_default() {
        e.both(drop_table(Some(join.clone())), create_table(Some(join)));
    }
    e.both(drop_table(t.table.clone()), create_table(t.table.clone()));
}

/// Renames the table when its name follows the model's (no `db_table`); returns the table
/// before and after.
fn rename_model(e: &mut Effect, app: &str, t: &Target, new: &str) -> (Name, Name) {
    let Some(m) = t.model.filter(|m| m.has_table()) else {
        return (None, None);
    };
    let from = m.table(app);
    let to = match &m.db_table {
        Some(table) => norm(table),
        None => default_table(app, new),
    };
    if from != to {
        e.both(rename_table(&from, &to), rename_table(&to, &from));
    }
    (Some(from), Some(to))
}

/// `table=None` gives the model its default table name back.
fn alter_model_table(e: &mut Effect, app: &str, t: &Target, table: Option<&str>) {
    let Some(m) = t.model.filter(|m| m.has_table()) else {
        return;
    };
    let from = m.table(app);
    let to = table.map_or_else(|| default_table(app, &m.name), norm);
    if from != to {
        e.both(rename_table(&from, &to), rename_table(&to, &from));
    }
}

/// The column is renamed unless `db_column` pins it.
fn rename_field(e: &mut Effect, t: &Target, old: &str, new: &str) {
    if !t.has_table {
        return;
    }
    let def = t.model.and_then(|m| {
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
            rename_column(&t.table, from.clone(), to.clone()),
            rename_column(&t.table, to, from),
        );
    }
}

/// Sets added become unique constraints (or indexes), sets removed lose them; judged against
/// the sets the history left, so only when the model is certain.
fn alter_together(e: &mut Effect, t: &Target, unique: bool, sets: &[Vec<String>]) {
    let Some(m) = t.model.filter(|m| m.has_table() && m.certain) else {
        return;
    };
    let old = if unique {
        &m.unique_together
    } else {
        &m.index_together
    };
    let (make, unmake) = if unique {
        (
            add_constraint(&t.table, None, Cons::Unique, false),
            drop_constraint(&t.table, None, Cons::Unique),
        )
    } else {
        (create_index(&t.table, None, false), drop_index(None))
    };
    for _ in sets.iter().filter(|s| !old.contains(s)) {
        e.both(make.clone(), unmake.clone());
    }
    for _ in old.iter().filter(|s| !sets.contains(s)) {
        e.both(unmake.clone(), make.clone());
    }
}

fn add_index(e: &mut Effect, table: &Name, name: Name, concurrently: bool) {
    e.forward.push((
        create_index(table, name.clone(), concurrently),
        Via::Operation,
    ));
    e.reverse.push((drop_index(name), Via::Operation));
    if concurrently {
        e.reverse.push((drop_concurrently(), Via::Operation));
    }
}

fn remove_index(e: &mut Effect, table: &Name, name: Name, concurrently: bool) {
    e.forward.push((drop_index(name.clone()), Via::Operation));
    if concurrently {
        e.forward.push((drop_concurrently(), Via::Operation));
    }
    e.reverse
        .push((create_index(table, name, concurrently), Via::Operation));
}

/// The reverse re-adds the constraint as the history defined it (its kind, when certain).
fn remove_constraint(e: &mut Effect, t: &Target, name: Option<&str>) {
    let cons = t
        .model
        .filter(|m| m.certain)
        .and_then(|m| {
            m.constraints
                .iter()
                .find(|(n, _)| Some(n.as_str()) == name)
                .map(|(_, c)| *c)
        })
        .unwrap_or(Cons::Unknown);
    let name = name.map(norm);
    e.both(
        drop_constraint(&t.table, name.clone(), cons),
        add_constraint(&t.table, name, cons, false),
    );
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

fn add_constraint(table: &Name, name: Name, cons: Cons, not_valid: bool) -> Kind {
    Kind::AddConstraint {
        name,
        table: table.clone(),
        cons,
        not_valid,
    }
}

fn drop_constraint(table: &Name, name: Name, cons: Cons) -> Kind {
    Kind::DropConstraint {
        name,
        table: table.clone(),
        cons,
    }
}

fn rename_column(table: &Name, from: Name, to: Name) -> Kind {
    Kind::RenameColumn {
        table: table.clone(),
        from,
        to,
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
            e.forward.push((
                add_constraint(table, None, Cons::Unique, false),
                Via::Operation,
            ));
        }
    }
}

fn remove_field(e: &mut Effect, t: &Target, name: &str, prior: Option<&FieldDef>) {
    let table = &t.table;
    let model = t.model;
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
            rename_column(table, old_col.clone(), column.clone()),
            rename_column(table, column.clone(), old_col),
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
        e.both(
            add_constraint(table, None, Cons::Unique, false),
            drop_constraint(table, None, Cons::Unique),
        );
    } else if was_unique && !unique {
        e.both(
            drop_constraint(table, None, Cons::Unique),
            add_constraint(table, None, Cons::Unique, false),
        );
    }
    match (prior.indexed(), new.indexed()) {
        (false, true) => e.both(create_index(table, None, false), drop_index(None)),
        (true, false) => e.both(drop_index(None), create_index(table, None, false)),
        _ => {}
    }
}
