//! Reading a Django migration file without importing it: `class Migration` with its
//! `operations`, `atomic` and `replaces`, each operation a typed [`Op`] with its arguments
//! bound as Django binds them (by keyword or position).

use super::fields::{bool_const, field_def, keyword, FieldDef};
use crate::model::{norm, Cons};
use crate::python::Module;
use rustpython_parser::ast::{self, Constant, Expr, Ranged, Stmt};
use rustpython_parser::text_size::{TextRange, TextSize};

/// The module of a migration file, as [`crate::python`] reads it.
pub type Source<'a> = Module<'a>;

/// What `class Migration` declares.
pub struct MigrationClass<'a> {
    pub class: &'a ast::StmtClassDef,
    /// `operations = [...]`; `None` when it is not a list mrt can read.
    pub operations: Option<Vec<&'a Expr>>,
    /// `atomic = False` is absent: Django runs the migration in one transaction.
    pub atomic: bool,
    /// `replaces = [("app", "0001_x"), ...]` as ids (`app.0001_x`); empty when absent.
    pub replaces: Vec<String>,
    /// `initial = True`.
    pub initial: bool,
}

/// The last component of a callee: `migrations.AddField` -> `AddField`.
pub fn callee_name(func: &Expr) -> Option<&str> {
    crate::python::callee(func)
}

/// The top-level `class Migration`.
pub fn migration_class<'a>(suite: &'a [Stmt], src: &Source<'a>) -> Option<MigrationClass<'a>> {
    let class = suite.iter().rev().find_map(|s| match s {
        Stmt::ClassDef(c) if c.name.as_str() == "Migration" => Some(c),
        _ => None,
    })?;
    let mut out = MigrationClass {
        class,
        operations: None,
        atomic: true,
        replaces: Vec::new(),
        initial: false,
    };
    for stmt in &class.body {
        let (target, value) = match stmt {
            Stmt::Assign(a) => match a.targets.as_slice() {
                [Expr::Name(n)] => (n.id.as_str(), a.value.as_ref()),
                _ => continue,
            },
            Stmt::AnnAssign(a) => match (a.target.as_ref(), &a.value) {
                (Expr::Name(n), Some(v)) => (n.id.as_str(), v.as_ref()),
                _ => continue,
            },
            _ => continue,
        };
        match target {
            "operations" => out.operations = list_items(value, src, 0),
            "atomic" => out.atomic = bool_const(value) != Some(false),
            "initial" => out.initial = bool_const(value) == Some(true),
            "replaces" => {
                out.replaces = list_items(value, src, 0)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| match e {
                        Expr::Tuple(t) => match t.elts.as_slice() {
                            [a, b] => Some(format!("{}.{}", src.string(a)?, src.string(b)?)),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect()
            }
            _ => {}
        }
    }
    Some(out)
}

/// The elements of a list or tuple literal, a name bound to one, or a concatenation of them.
fn list_items<'a>(e: &'a Expr, src: &Source<'a>, depth: usize) -> Option<Vec<&'a Expr>> {
    if depth > 8 {
        return None;
    }
    match e {
        Expr::List(l) => Some(l.elts.iter().collect()),
        Expr::Tuple(t) => Some(t.elts.iter().collect()),
        Expr::Name(n) => list_items(src.resolve(n.id.as_str())?, src, depth + 1),
        Expr::BinOp(b) if b.op == ast::Operator::Add => {
            let mut items = list_items(&b.left, src, depth + 1)?;
            items.extend(list_items(&b.right, src, depth + 1)?);
            Some(items)
        }
        _ => None,
    }
}

/// One operation of the migration, where it is written.
#[derive(Debug, Clone)]
pub struct Op<'a> {
    pub start: TextSize,
    /// The whole call: a suppression comment on any of its lines applies.
    pub span: TextRange,
    /// The operation class as written (`AddField`), for messages.
    pub class: String,
    pub kind: OpKind<'a>,
}

/// `CreateModel(options={...})`, as far as the state needs it.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    pub db_table: Option<String>,
    /// `managed` (`True` unless the options say otherwise).
    pub managed: bool,
    /// `proxy=True`: the model uses its parent's table.
    pub proxy: bool,
    pub unique_together: Vec<Vec<String>>,
    pub index_together: Vec<Vec<String>>,
    pub indexes: Vec<String>,
    pub constraints: Vec<(String, Cons)>,
}

#[derive(Debug, Clone)]
pub enum OpKind<'a> {
    CreateModel {
        name: String,
        /// `None` when the list is not readable.
        fields: Option<Vec<(String, Option<FieldDef>)>>,
        options: ModelOptions,
    },
    DeleteModel {
        name: String,
    },
    RenameModel {
        old: String,
        new: String,
    },
    AlterModelTable {
        name: String,
        /// `None` resets the table to Django's default name.
        table: Option<String>,
    },
    /// `AlterModelOptions`: only `managed` matters to the database.
    AlterModelOptions {
        name: String,
        managed: Option<bool>,
    },
    AddField {
        model: String,
        name: String,
        field: Option<FieldDef>,
        preserve_default: bool,
    },
    RemoveField {
        model: String,
        name: String,
    },
    AlterField {
        model: String,
        name: String,
        field: Option<FieldDef>,
        preserve_default: bool,
    },
    RenameField {
        model: String,
        old: String,
        new: String,
    },
    /// `AlterUniqueTogether` (`unique`) or `AlterIndexTogether`.
    AlterTogether {
        model: String,
        unique: bool,
        sets: Option<Vec<Vec<String>>>,
    },
    AddIndex {
        model: String,
        name: Option<String>,
        concurrently: bool,
    },
    RemoveIndex {
        model: String,
        name: Option<String>,
        concurrently: bool,
    },
    RenameIndex {
        model: String,
        old: Option<String>,
        new: Option<String>,
    },
    AddConstraint {
        model: String,
        name: Option<String>,
        cons: Cons,
        not_valid: bool,
    },
    RemoveConstraint {
        model: String,
        name: Option<String>,
    },
    RunSql {
        sql: Option<&'a Expr>,
        reverse: Option<&'a Expr>,
        state: Vec<Op<'a>>,
    },
    RunPython {
        code: Option<&'a Expr>,
        reverse: Option<&'a Expr>,
    },
    SeparateDatabaseAndState {
        database: Vec<Op<'a>>,
        state: Vec<Op<'a>>,
    },
    CreateExtension {
        name: Option<String>,
    },
    /// Changes nothing mrt checks (`AlterModelManagers`, `ValidateConstraint`, comments,
    /// collations, ...).
    Inert,
    /// An operation mrt does not know (a custom or third-party class), or one whose model
    /// name is not a literal: it may change the database and the model state in any way.
    Unknown,
}

/// Binds a call's arguments by keyword or position.
struct Args<'a, 'm> {
    call: &'a ast::ExprCall,
    src: &'m Source<'a>,
}

impl<'a> Args<'a, '_> {
    fn get(&self, pos: usize, kw: &str) -> Option<&'a Expr> {
        keyword(&self.call.keywords, kw).or_else(|| {
            let args = &self.call.args;
            if args
                .iter()
                .take(pos + 1)
                .any(|a| matches!(a, Expr::Starred(_)))
            {
                return None;
            }
            args.get(pos)
        })
    }

    fn string(&self, pos: usize, kw: &str) -> Option<String> {
        self.src.string(self.get(pos, kw)?)
    }

    fn flag(&self, pos: usize, kw: &str, default: bool) -> bool {
        self.get(pos, kw).and_then(bool_const).unwrap_or(default)
    }

    fn ops(&self, pos: usize, kw: &str) -> Vec<Op<'a>> {
        self.get(pos, kw)
            .and_then(|e| list_items(e, self.src, 0))
            .unwrap_or_default()
            .into_iter()
            .map(|e| operation(e, self.src))
            .collect()
    }
}

/// Reads one element of `operations`.
pub fn operation<'a>(expr: &'a Expr, src: &Source<'a>) -> Op<'a> {
    let span = expr.range();
    let unknown = |class: &str| Op {
        start: span.start(),
        span,
        class: class.to_string(),
        kind: OpKind::Unknown,
    };
    let Expr::Call(call) = expr else {
        return unknown("?");
    };
    let Some(class) = callee_name(&call.func) else {
        return unknown("?");
    };
    let a = Args { call, src };
    let kind = op_kind(class, &a).unwrap_or(OpKind::Unknown);
    Op {
        start: span.start(),
        span,
        class: class.to_string(),
        kind,
    }
}

/// `None` when a name the operation needs is not a literal.
fn op_kind<'a>(class: &str, a: &Args<'a, '_>) -> Option<OpKind<'a>> {
    let src = a.src;
    Some(match class {
        "CreateModel" => OpKind::CreateModel {
            name: a.string(0, "name")?,
            fields: a.get(1, "fields").and_then(|e| fields(e, src)),
            options: a
                .get(2, "options")
                .map(|e| options(e, src))
                .unwrap_or_default(),
        },
        "DeleteModel" => OpKind::DeleteModel {
            name: a.string(0, "name")?,
        },
        "RenameModel" => OpKind::RenameModel {
            old: a.string(0, "old_name")?,
            new: a.string(1, "new_name")?,
        },
        "AlterModelTable" => OpKind::AlterModelTable {
            name: a.string(0, "name")?,
            table: match a.get(1, "table") {
                Some(e) if is_none(e) => None,
                Some(e) => Some(src.string(e)?),
                None => None,
            },
        },
        "AlterModelOptions" => OpKind::AlterModelOptions {
            name: a.string(0, "name")?,
            managed: a.get(1, "options").and_then(|e| match e {
                Expr::Dict(d) => Some(
                    dict_get(d, "managed", src)
                        .and_then(bool_const)
                        .unwrap_or(true),
                ),
                _ => None,
            }),
        },
        "AddField" | "AlterField" => {
            let model = a.string(0, "model_name")?;
            let name = a.string(1, "name")?;
            let field = a.get(2, "field").and_then(|e| field_def(e, src));
            let preserve_default = a.flag(3, "preserve_default", true);
            if class == "AddField" {
                OpKind::AddField {
                    model,
                    name,
                    field,
                    preserve_default,
                }
            } else {
                OpKind::AlterField {
                    model,
                    name,
                    field,
                    preserve_default,
                }
            }
        }
        "RemoveField" => OpKind::RemoveField {
            model: a.string(0, "model_name")?,
            name: a.string(1, "name")?,
        },
        "RenameField" => OpKind::RenameField {
            model: a.string(0, "model_name")?,
            old: a.string(1, "old_name")?,
            new: a.string(2, "new_name")?,
        },
        "AlterUniqueTogether" | "AlterIndexTogether" => {
            let unique = class == "AlterUniqueTogether";
            let kw = if unique {
                "unique_together"
            } else {
                "index_together"
            };
            OpKind::AlterTogether {
                model: a.string(0, "name")?,
                unique,
                sets: a.get(1, kw).and_then(|e| together(e, src)),
            }
        }
        "AddIndex" | "AddIndexConcurrently" => OpKind::AddIndex {
            model: a.string(0, "model_name")?,
            name: a.get(1, "index").and_then(|e| object_name(e, src)),
            concurrently: class == "AddIndexConcurrently",
        },
        "RemoveIndex" | "RemoveIndexConcurrently" => OpKind::RemoveIndex {
            model: a.string(0, "model_name")?,
            name: a.string(1, "name"),
            concurrently: class == "RemoveIndexConcurrently",
        },
        "RenameIndex" => OpKind::RenameIndex {
            model: a.string(0, "model_name")?,
            new: a.string(1, "new_name"),
            old: a.string(2, "old_name"),
        },
        "AddConstraint" | "AddConstraintNotValid" => {
            let constraint = a.get(1, "constraint");
            OpKind::AddConstraint {
                model: a.string(0, "model_name")?,
                name: constraint.and_then(|e| object_name(e, src)),
                cons: constraint.map_or(Cons::Unknown, constraint_type),
                not_valid: class == "AddConstraintNotValid",
            }
        }
        "RemoveConstraint" => OpKind::RemoveConstraint {
            model: a.string(0, "model_name")?,
            name: a.string(1, "name"),
        },
        "RunSQL" => OpKind::RunSql {
            sql: a.get(0, "sql"),
            reverse: a.get(1, "reverse_sql").filter(|e| !is_none(e)),
            state: a.ops(2, "state_operations"),
        },
        "RunPython" => OpKind::RunPython {
            code: a.get(0, "code"),
            reverse: a.get(1, "reverse_code").filter(|e| !is_none(e)),
        },
        "SeparateDatabaseAndState" => OpKind::SeparateDatabaseAndState {
            database: a.ops(0, "database_operations"),
            state: a.ops(1, "state_operations"),
        },
        "CreateExtension" => OpKind::CreateExtension {
            name: a.string(0, "name"),
        },
        "BloomExtension" | "BtreeGinExtension" | "BtreeGistExtension" | "CITextExtension"
        | "CryptoExtension" | "HStoreExtension" | "TrigramExtension" | "UnaccentExtension" => {
            OpKind::CreateExtension {
                name: Some(extension_name(class).to_string()),
            }
        }
        "AlterModelManagers"
        | "AlterModelTableComment"
        | "ValidateConstraint"
        | "AlterConstraint"
        | "CreateCollation"
        | "RemoveCollation" => OpKind::Inert,
        _ => OpKind::Unknown,
    })
}

fn extension_name(class: &str) -> &'static str {
    match class {
        "BloomExtension" => "bloom",
        "BtreeGinExtension" => "btree_gin",
        "BtreeGistExtension" => "btree_gist",
        "CITextExtension" => "citext",
        "CryptoExtension" => "pgcrypto",
        "HStoreExtension" => "hstore",
        "TrigramExtension" => "pg_trgm",
        _ => "unaccent",
    }
}

/// `fields=[("id", models.AutoField(...)), ...]`.
fn fields(e: &Expr, src: &Source) -> Option<Vec<(String, Option<FieldDef>)>> {
    list_items(e, src, 0)?
        .into_iter()
        .map(|item| match item {
            Expr::Tuple(t) => match t.elts.as_slice() {
                [name, field] => Some((src.string(name)?, field_def(field, src))),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn dict_get<'a>(d: &'a ast::ExprDict, key: &str, src: &Source) -> Option<&'a Expr> {
    d.keys
        .iter()
        .zip(&d.values)
        .find(|(k, _)| k.as_ref().and_then(|k| src.string(k)).as_deref() == Some(key))
        .map(|(_, v)| v)
}

fn options(e: &Expr, src: &Source) -> ModelOptions {
    let Expr::Dict(d) = e else {
        return ModelOptions::default();
    };
    let get = |k: &str| dict_get(d, k, src);
    ModelOptions {
        db_table: get("db_table").and_then(|e| src.string(e)),
        managed: get("managed").and_then(bool_const).unwrap_or(true),
        proxy: get("proxy").and_then(bool_const).unwrap_or(false),
        unique_together: get("unique_together")
            .and_then(|e| together(e, src))
            .unwrap_or_default(),
        index_together: get("index_together")
            .and_then(|e| together(e, src))
            .unwrap_or_default(),
        indexes: get("indexes")
            .and_then(|e| list_items(e, src, 0))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| object_name(e, src))
            .collect(),
        constraints: get("constraints")
            .and_then(|e| list_items(e, src, 0))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| Some((object_name(e, src)?, constraint_type(e))))
            .collect(),
    }
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            db_table: None,
            managed: true,
            proxy: false,
            unique_together: Vec::new(),
            index_together: Vec::new(),
            indexes: Vec::new(),
            constraints: Vec::new(),
        }
    }
}

/// `{("a", "b")}`, `[("a", "b")]`, `set()`, or one tuple of names (Django normalises it to a
/// set of one).
fn together(e: &Expr, src: &Source) -> Option<Vec<Vec<String>>> {
    let names = |e: &Expr| -> Option<Vec<String>> {
        let items: Vec<&Expr> = match e {
            Expr::Tuple(t) => t.elts.iter().collect(),
            Expr::List(l) => l.elts.iter().collect(),
            _ => return None,
        };
        items
            .into_iter()
            .map(|i| src.string(i).map(|s| norm(&s)))
            .collect()
    };
    let items: Vec<&Expr> = match e {
        Expr::Set(s) => s.elts.iter().collect(),
        Expr::List(l) => l.elts.iter().collect(),
        Expr::Tuple(t) if t.elts.iter().all(|i| src.string(i).is_some()) => {
            return Some(if t.elts.is_empty() {
                Vec::new()
            } else {
                vec![names(e)?]
            })
        }
        Expr::Tuple(t) => t.elts.iter().collect(),
        Expr::Call(c) if callee_name(&c.func) == Some("set") && c.args.is_empty() => {
            return Some(Vec::new())
        }
        Expr::Constant(c) if matches!(c.value, Constant::None) => return Some(Vec::new()),
        _ => return None,
    };
    items.into_iter().map(names).collect()
}

/// `name=` of an `Index(...)` or a constraint.
fn object_name(e: &Expr, src: &Source) -> Option<String> {
    let Expr::Call(c) = e else { return None };
    keyword(&c.keywords, "name").and_then(|n| src.string(n))
}

fn constraint_type(e: &Expr) -> Cons {
    let Expr::Call(c) = e else {
        return Cons::Unknown;
    };
    match callee_name(&c.func) {
        Some("CheckConstraint") => Cons::Check,
        Some("UniqueConstraint") => Cons::Unique,
        _ => Cons::Unknown,
    }
}

pub fn is_none(e: &Expr) -> bool {
    matches!(e, Expr::Constant(c) if matches!(c.value, Constant::None))
}
