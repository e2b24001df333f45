//! The model state a Django project's own migrations build, operation by operation, as
//! Django's `ProjectState` does (`state_forwards` of each operation): per app, its models with
//! their table, fields and named indexes and constraints.
//!
//! What the project's history does not say stays unknown: a model of an app outside the project
//! is absent, and after an operation mrt cannot read (a custom operation, a file that does not
//! parse) every model of that app is *uncertain*: rules that judge a change against the
//! previous state say nothing about it until a `CreateModel` makes it certain again.

use super::fields::FieldDef;
use super::parse::{ModelOptions, Op, OpKind};
use crate::model::{norm, Cons};
use std::collections::BTreeMap;
use std::rc::Rc;

/// One app's models, by lower-case name. Models are shared between copies of the state and
/// copied when one changes, so keeping the state before each migration costs little.
#[derive(Debug, Clone, Default)]
pub struct AppState {
    pub models: BTreeMap<String, Rc<ModelState>>,
    /// The operations being applied belong to an initial migration (`initial = True`).
    pub applying_initial: bool,
}

#[derive(Debug, Clone)]
pub struct ModelState {
    /// As written in `CreateModel` / `RenameModel`.
    pub name: String,
    /// `db_table` when the options set it.
    pub db_table: Option<String>,
    /// In declaration order; a field whose definition is not readable is `None`.
    pub fields: Vec<(String, Option<FieldDef>)>,
    /// `managed` option (Django leaves the table of an unmanaged model alone).
    pub managed: bool,
    /// A proxy model: it has its parent's table, none of its own.
    pub proxy: bool,
    /// Nothing mrt could not read has happened to the app since the model was created.
    pub certain: bool,
    /// Created by one of the app's initial migrations.
    pub initial: bool,
    pub unique_together: Vec<Vec<String>>,
    pub index_together: Vec<Vec<String>>,
    pub indexes: Vec<String>,
    pub constraints: Vec<(String, Cons)>,
}

impl ModelState {
    fn new(
        name: &str,
        fields: Option<Vec<(String, Option<FieldDef>)>>,
        o: &ModelOptions,
        initial: bool,
    ) -> Self {
        ModelState {
            initial,
            name: name.to_string(),
            db_table: o.db_table.clone(),
            fields: fields.unwrap_or_default(),
            managed: o.managed,
            proxy: o.proxy,
            certain: true,
            unique_together: o.unique_together.clone(),
            index_together: o.index_together.clone(),
            indexes: o.indexes.clone(),
            constraints: o.constraints.clone(),
        }
    }

    /// Django creates, changes and drops a table for it (`allow_migrate_model`: managed and
    /// not a proxy).
    pub fn has_table(&self) -> bool {
        self.managed && !self.proxy
    }

    /// The table name: `db_table`, or Django's default `<app>_<model>`; normalised.
    pub fn table(&self, app: &str) -> String {
        match &self.db_table {
            Some(t) => norm(t),
            None => default_table(app, &self.name),
        }
    }

    /// A field's definition, when the model is certain and the field readable.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        if !self.certain {
            return None;
        }
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, f)| f.as_ref())
    }

    /// The column of a field: from its definition, else its name (a field of an uncertain
    /// model is named as the operation names it).
    pub fn column(&self, name: &str) -> Option<String> {
        match self
            .fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, f)| f.as_ref())
        {
            Some(f) => f.column(name),
            None => Some(norm(name)),
        }
    }

    /// The tables of its auto-created many-to-many fields.
    pub fn m2m_tables(&self, app: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(_, f)| f.as_ref().is_some_and(|f| f.is_m2m() && !f.through))
            .map(|(n, _)| m2m_table(&self.table(app), n))
            .collect()
    }
}

/// Django's default table of a model: `<app_label>_<model_name lower-case>`.
pub fn default_table(app: &str, model: &str) -> String {
    norm(&format!("{app}_{model}"))
}

/// The table of an auto-created many-to-many field: `<model table>_<field name>`.
pub fn m2m_table(model_table: &str, field: &str) -> String {
    norm(&format!("{model_table}_{field}"))
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

impl AppState {
    pub fn model(&self, name: &str) -> Option<&ModelState> {
        self.models.get(&key(name)).map(Rc::as_ref)
    }

    /// The model, shared.
    pub fn shared(&self, name: &str) -> Option<&Rc<ModelState>> {
        self.models.get(&key(name))
    }

    fn model_mut(&mut self, name: &str) -> Option<&mut ModelState> {
        self.models.get_mut(&key(name)).map(Rc::make_mut)
    }

    /// After something mrt cannot read: every model may have changed.
    pub fn taint(&mut self) {
        for m in self.models.values_mut() {
            Rc::make_mut(m).certain = false;
        }
    }

    /// Applies one operation's state change (Django's `state_forwards`).
    pub fn apply(&mut self, op: &Op) {
        match &op.kind {
            OpKind::CreateModel {
                name,
                fields,
                options,
            } => {
                let model = ModelState::new(name, fields.clone(), options, self.applying_initial);
                self.models.insert(key(name), Rc::new(model));
            }
            OpKind::DeleteModel { name } => {
                self.models.remove(&key(name));
            }
            OpKind::RenameModel { old, new } => {
                if let Some(mut m) = self.models.remove(&key(old)) {
                    Rc::make_mut(&mut m).name = new.clone();
                    self.models.insert(key(new), m);
                }
            }
            OpKind::AlterModelTable { name, table } => {
                if let Some(m) = self.model_mut(name) {
                    m.db_table = table.clone();
                }
            }
            OpKind::AlterModelOptions { name, managed } => {
                if let (Some(m), Some(managed)) = (self.model_mut(name), managed) {
                    m.managed = *managed;
                }
            }
            OpKind::AddField {
                model,
                name,
                field,
                preserve_default,
            }
            | OpKind::AlterField {
                model,
                name,
                field,
                preserve_default,
            } => {
                if let Some(m) = self.model_mut(model) {
                    let mut field = field.clone();
                    // `preserve_default=False`: the default served this migration only.
                    if let (false, Some(f)) = (*preserve_default, field.as_mut()) {
                        f.has_default = false;
                    }
                    match m
                        .fields
                        .iter_mut()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    {
                        Some(slot) => slot.1 = field,
                        None => m.fields.push((name.clone(), field)),
                    }
                }
            }
            OpKind::RemoveField { model, name } => {
                if let Some(m) = self.model_mut(model) {
                    m.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                }
            }
            OpKind::RenameField { model, old, new } => {
                if let Some(m) = self.model_mut(model) {
                    if let Some(slot) = m
                        .fields
                        .iter_mut()
                        .find(|(n, _)| n.eq_ignore_ascii_case(old))
                    {
                        slot.0 = new.clone();
                    }
                    let (old, new) = (norm(old), norm(new));
                    for set in m
                        .unique_together
                        .iter_mut()
                        .chain(m.index_together.iter_mut())
                    {
                        for f in set.iter_mut().filter(|f| **f == old) {
                            *f = new.clone();
                        }
                    }
                }
            }
            OpKind::AlterTogether {
                model,
                unique,
                sets,
            } => {
                if let Some(m) = self.model_mut(model) {
                    match sets {
                        Some(sets) if *unique => m.unique_together = sets.clone(),
                        Some(sets) => m.index_together = sets.clone(),
                        None => m.certain = false,
                    }
                }
            }
            OpKind::AddIndex { model, name, .. } => {
                if let (Some(m), Some(name)) = (self.model_mut(model), name) {
                    m.indexes.push(name.clone());
                }
            }
            OpKind::RemoveIndex { model, name, .. } => {
                if let (Some(m), Some(name)) = (self.model_mut(model), name) {
                    m.indexes.retain(|i| i != name);
                }
            }
            OpKind::RenameIndex { model, old, new } => {
                if let (Some(m), Some(old), Some(new)) = (self.model_mut(model), old, new) {
                    for i in m.indexes.iter_mut().filter(|i| *i == old) {
                        *i = new.clone();
                    }
                }
            }
            OpKind::AddConstraint {
                model, name, cons, ..
            } => {
                if let (Some(m), Some(name)) = (self.model_mut(model), name) {
                    m.constraints.push((name.clone(), *cons));
                }
            }
            OpKind::RemoveConstraint { model, name } => {
                if let (Some(m), Some(name)) = (self.model_mut(model), name) {
                    m.constraints.retain(|(n, _)| n != name);
                }
            }
            OpKind::RunSql { state, .. } | OpKind::SeparateDatabaseAndState { state, .. } => {
                for op in state {
                    self.apply(op);
                }
            }
            OpKind::RunPython { .. } | OpKind::CreateExtension { .. } | OpKind::Inert => {}
            OpKind::Unknown => self.taint(),
        }
    }
}
