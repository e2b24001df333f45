//! What the Python code of a `RunPython` operation does to the database, read from its
//! function (and the helpers of the same file it calls): ORM writes on models it gets from
//! `apps.get_model(...)` (`.update(...)`, `.delete()`, `.create(...)`, `save()`), raw SQL
//! through `schema_editor.execute(...)` or a cursor, and calls mrt cannot see into (a function
//! imported from the project, `call_command`), which may change anything.
//!
//! A model's table and columns come from the model state before the operation, so an
//! `Order.objects.filter(...).delete()` is a DELETE of the table the history gave `Order`.

use super::fields::keyword;
use super::parse::Source;
use super::state::ModelState;
use crate::model::{norm, Kind, Name, Via};
use crate::python::{callee, inert_module, is_noop};
use crate::Dialect;
use rustpython_parser::ast::{self, Constant, Expr, Ranged, Stmt};
use rustpython_parser::text_size::{TextRange, TextSize};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// A model as the code sees it: its table and the columns of its fields.
#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    pub table: Name,
    /// The model as the state knows it (for its fields' columns).
    model: Option<Rc<ModelState>>,
    /// Django's own bookkeeping (content types, permissions): `post_migrate` creates their
    /// rows whatever the migrations do, so rows a migration creates there are left behind by
    /// design.
    pub bookkeeping: bool,
}

impl ModelInfo {
    /// A model of `app` as the state knows it.
    pub fn of(m: &Rc<ModelState>, app: &str) -> Self {
        ModelInfo {
            table: Some(m.table(app)),
            model: Some(Rc::clone(m)),
            bookkeeping: false,
        }
    }

    /// The column of a field (its name when the state does not know it).
    fn column(&self, field: &str) -> String {
        self.model
            .as_ref()
            .and_then(|m| m.column(field))
            .unwrap_or_else(|| norm(field))
    }
}

/// Finds a model by app label and model name in the state before the operation.
pub type Lookup<'l> = dyn Fn(&str, &str) -> ModelInfo + 'l;

/// What a `code` or `reverse_code` argument is.
#[derive(Debug, Default)]
pub struct Code {
    /// Each write with where it is written: the call, and the statement holding it.
    pub actions: Vec<(Kind, Via, TextSize, TextRange)>,
    /// Something in it may change the database in a way no action shows.
    pub opaque: bool,
    /// `RunPython.noop`, a lambda returning `None`, or a function whose body does nothing.
    pub noop: bool,
    /// It writes rows of Django's bookkeeping (content types, permissions), which are not
    /// actions.
    pub bookkeeping: bool,
    /// The functions of this file it runs (for suppression comments and positions).
    pub functions: Vec<TextRange>,
}

/// Reads a `code` / `reverse_code` argument.
pub fn read(expr: &Expr, src: &Source, lookup: &Lookup, dialect: Dialect) -> Code {
    let mut w = Walker {
        src,
        lookup,
        dialect,
        env: HashMap::new(),
        visited: HashSet::new(),
        out: Code::default(),
        span: expr.range(),
    };
    match expr {
        Expr::Attribute(a) if a.attr.as_str() == "noop" => w.out.noop = true,
        Expr::Constant(c) if matches!(c.value, Constant::None) => w.out.noop = true,
        Expr::Lambda(l) => {
            if matches!(l.body.as_ref(), Expr::Constant(c) if matches!(c.value, Constant::None)) {
                w.out.noop = true;
            } else {
                w.bind_params(&l.args, &RUN_PYTHON_ARGS);
                w.expr(&l.body);
            }
        }
        Expr::Name(n) => match src.function(n.id.as_str()) {
            Some(def) => {
                w.out.noop = does_nothing(&def.body);
                w.function(def, &RUN_PYTHON_ARGS);
            }
            // Imported from elsewhere, or bound to something mrt cannot follow.
            None => w.out.opaque = true,
        },
        _ => w.out.opaque = true,
    }
    w.out
}

/// Only `pass`, docstrings, `...` and a bare `return`.
fn does_nothing(body: &[Stmt]) -> bool {
    body.iter().all(|s| match s {
        Stmt::Return(r) => r
            .value
            .as_deref()
            .is_none_or(|v| matches!(v, Expr::Constant(c) if matches!(c.value, Constant::None))),
        other => is_noop(std::slice::from_ref(other)),
    })
}

/// What Django passes a RunPython function: the app registry and the schema editor.
const RUN_PYTHON_ARGS: [Option<Val>; 2] = [Some(Val::Apps), Some(Val::SchemaEditor)];

/// What a local name holds.
#[derive(Debug, Clone)]
enum Val {
    /// The `apps` registry (first parameter of a RunPython function).
    Apps,
    /// The schema editor (second parameter): `execute(sql)` runs SQL.
    SchemaEditor,
    /// A database cursor or connection.
    Cursor,
    Model(ModelInfo),
    /// A related manager of a row (`order.tags`): its table is not followed.
    Related,
    /// A manager or queryset of a model; `filtered` once `filter`/`exclude`/`get`/a slice
    /// narrows it.
    Query(ModelInfo, bool),
    /// One row: `created` when built with `Model(...)` and not yet saved; `dirty` the fields
    /// assigned since.
    Instance {
        model: ModelInfo,
        created: bool,
        dirty: Vec<String>,
    },
}

/// Queryset methods that narrow the rows.
const NARROWING: &[&str] = &[
    "filter", "exclude", "get", "first", "last", "earliest", "latest", "in_bulk",
];

/// Queryset methods that return one row.
const ONE_ROW: &[&str] = &["get", "first", "last", "earliest", "latest"];

struct Walker<'m, 'a> {
    src: &'m Source<'a>,
    lookup: &'m Lookup<'m>,
    dialect: Dialect,
    env: HashMap<String, Val>,
    visited: HashSet<String>,
    out: Code,
    span: TextRange,
}

impl<'a> Walker<'_, 'a> {
    fn function(&mut self, def: &'a ast::StmtFunctionDef, args: &[Option<Val>]) {
        if !self.visited.insert(def.name.to_string()) {
            return;
        }
        self.out.functions.push(def.range());
        let saved_env = std::mem::take(&mut self.env);
        let saved_span = self.span;
        self.bind_params(&def.args, args);
        self.stmts(&def.body);
        self.env = saved_env;
        self.span = saved_span;
    }

    /// Binds parameters to the values passed, by position.
    fn bind_params(&mut self, params: &ast::Arguments, args: &[Option<Val>]) {
        let names = params.posonlyargs.iter().chain(&params.args);
        for (p, v) in names.zip(args) {
            if let Some(v) = v {
                self.env.insert(p.def.arg.to_string(), v.clone());
            }
        }
    }

    fn stmts(&mut self, stmts: &'a [Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, stmt: &'a Stmt) {
        self.span = stmt.range();
        match stmt {
            Stmt::FunctionDef(_) | Stmt::AsyncFunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::Expr(e) => {
                self.expr(&e.value);
            }
            Stmt::Assign(a) => {
                let value = self.expr(&a.value);
                for target in &a.targets {
                    self.assign(target, value.clone());
                }
            }
            Stmt::AnnAssign(a) => {
                if let Some(v) = &a.value {
                    let value = self.expr(v);
                    self.assign(&a.target, value);
                }
            }
            Stmt::AugAssign(a) => {
                self.expr(&a.value);
                self.assign(&a.target, None);
            }
            Stmt::Return(r) => {
                if let Some(v) = &r.value {
                    self.expr(v);
                }
            }
            Stmt::If(s) => {
                self.expr(&s.test);
                self.stmts(&s.body);
                self.stmts(&s.orelse);
            }
            Stmt::While(s) => {
                self.expr(&s.test);
                self.stmts(&s.body);
                self.stmts(&s.orelse);
            }
            Stmt::For(s) => {
                let iter = self.expr(&s.iter);
                self.assign(&s.target, iter.and_then(row_of));
                self.stmts(&s.body);
                self.stmts(&s.orelse);
            }
            Stmt::With(w) => {
                for item in &w.items {
                    let value = self.expr(&item.context_expr);
                    if let Some(target) = &item.optional_vars {
                        self.assign(target, value);
                    }
                }
                self.stmts(&w.body);
            }
            Stmt::Try(t) => {
                self.stmts(&t.body);
                for h in &t.handlers {
                    let ast::ExceptHandler::ExceptHandler(h) = h;
                    self.stmts(&h.body);
                }
                self.stmts(&t.orelse);
                self.stmts(&t.finalbody);
            }
            Stmt::Delete(d) => {
                for t in &d.targets {
                    self.expr(t);
                }
            }
            _ => {}
        }
    }

    /// `x = value`, `obj.field = value` (a field of a row to be saved), tuples.
    fn assign(&mut self, target: &'a Expr, value: Option<Val>) {
        match target {
            Expr::Name(n) => match value {
                Some(v) => {
                    self.env.insert(n.id.to_string(), v);
                }
                None => {
                    self.env.remove(n.id.as_str());
                }
            },
            Expr::Attribute(a) => {
                if let Expr::Name(n) = a.value.as_ref() {
                    if let Some(Val::Instance { dirty, .. }) = self.env.get_mut(n.id.as_str()) {
                        dirty.push(a.attr.to_string());
                    }
                }
            }
            Expr::Tuple(t) => {
                for e in &t.elts {
                    self.assign(e, None);
                }
            }
            _ => {}
        }
    }

    fn record(&mut self, kind: Kind, via: Via, at: TextSize) {
        self.out.actions.push((kind, via, at, self.span));
    }

    /// An ORM write: not recorded on Django's bookkeeping tables.
    fn write(&mut self, model: &ModelInfo, kind: Kind, at: TextSize) {
        if model.bookkeeping {
            self.out.bookkeeping = true;
        } else {
            self.record(kind, Via::Orm, at);
        }
    }

    /// Walks an expression for its effects; returns what it evaluates to, when that matters.
    fn expr(&mut self, e: &'a Expr) -> Option<Val> {
        match e {
            Expr::Call(c) => self.call(c),
            Expr::Name(n) => self.name(n.id.as_str()),
            Expr::Attribute(a) => {
                let base = self.expr(&a.value)?;
                match base {
                    // `Order.objects`, `Order._default_manager`.
                    Val::Model(m) => Some(Val::Query(m, false)),
                    Val::SchemaEditor if a.attr.as_str() == "connection" => Some(Val::Cursor),
                    Val::Instance { .. } => Some(Val::Related),
                    _ => None,
                }
            }
            Expr::Subscript(s) => {
                let base = self.expr(&s.value);
                self.expr(&s.slice);
                match base {
                    Some(Val::Query(m, _)) => Some(Val::Query(m, true)),
                    _ => None,
                }
            }
            Expr::Await(a) => self.expr(&a.value),
            Expr::NamedExpr(n) => {
                let v = self.expr(&n.value);
                self.assign(&n.target, v.clone());
                v
            }
            _ => {
                self.children(e);
                None
            }
        }
    }

    fn children(&mut self, e: &'a Expr) {
        let each = |w: &mut Self, x: &'a Expr| {
            w.expr(x);
        };
        match e {
            Expr::BoolOp(x) => x.values.iter().for_each(|v| each(self, v)),
            Expr::BinOp(x) => {
                each(self, &x.left);
                each(self, &x.right)
            }
            Expr::UnaryOp(x) => each(self, &x.operand),
            Expr::IfExp(x) => {
                each(self, &x.test);
                each(self, &x.body);
                each(self, &x.orelse)
            }
            Expr::Dict(x) => {
                x.values.iter().for_each(|v| each(self, v));
                x.keys.iter().flatten().for_each(|k| each(self, k))
            }
            Expr::Set(x) => x.elts.iter().for_each(|v| each(self, v)),
            Expr::List(x) => x.elts.iter().for_each(|v| each(self, v)),
            Expr::Tuple(x) => x.elts.iter().for_each(|v| each(self, v)),
            Expr::ListComp(x) => self.comprehension(&x.elt, &x.generators),
            Expr::SetComp(x) => self.comprehension(&x.elt, &x.generators),
            Expr::GeneratorExp(x) => self.comprehension(&x.elt, &x.generators),
            Expr::DictComp(x) => {
                self.generators(&x.generators);
                each(self, &x.key);
                each(self, &x.value)
            }
            Expr::Compare(x) => {
                each(self, &x.left);
                x.comparators.iter().for_each(|v| each(self, v))
            }
            Expr::Starred(x) => each(self, &x.value),
            Expr::JoinedStr(x) => x.values.iter().for_each(|v| each(self, v)),
            Expr::FormattedValue(x) => each(self, &x.value),
            _ => {}
        }
    }

    fn comprehension(&mut self, elt: &'a Expr, generators: &'a [ast::Comprehension]) {
        self.generators(generators);
        self.expr(elt);
    }

    fn generators(&mut self, generators: &'a [ast::Comprehension]) {
        for g in generators {
            let iter = self.expr(&g.iter);
            self.assign(&g.target, iter.and_then(row_of));
            for cond in &g.ifs {
                self.expr(cond);
            }
        }
    }

    fn name(&self, id: &str) -> Option<Val> {
        if let Some(v) = self.env.get(id) {
            return Some(v.clone());
        }
        // A model imported from an app's models module (against Django's advice, but seen):
        // its table is not known from the history.
        let module = self.src.imported_from(id)?;
        (module.ends_with(".models") && !module.starts_with("django"))
            .then(|| Val::Model(ModelInfo::default()))
    }

    fn call(&mut self, c: &'a ast::ExprCall) -> Option<Val> {
        let at = c.range.start();
        let args: Vec<Option<Val>> = c.args.iter().map(|a| self.expr(a)).collect();
        for k in &c.keywords {
            self.expr(&k.value);
        }
        let (receiver, method) = match c.func.as_ref() {
            Expr::Attribute(a) => (Some(a.value.as_ref()), Some(a.attr.as_str())),
            _ => (None, None),
        };
        let recv = receiver.and_then(|r| self.expr(r));
        if let Some(method) = method {
            if let Some(v) = self.method(recv.as_ref(), method, c, at) {
                return v;
            }
        }
        if let Expr::Name(n) = c.func.as_ref() {
            return self.plain_call(n.id.as_str(), c, &args);
        }
        if recv.is_none() {
            self.foreign_call(c, &args);
        }
        None
    }

    /// A method call on something the code holds. `Some(result)` when the method was
    /// understood (even as "no value").
    fn method(
        &mut self,
        recv: Option<&Val>,
        method: &str,
        c: &'a ast::ExprCall,
        at: TextSize,
    ) -> Option<Option<Val>> {
        Some(match (recv, method) {
            // A model named through settings (`settings.AUTH_USER_MODEL`) has an unknown table.
            (Some(Val::Apps), "get_model") => {
                Some(Val::Model(self.get_model(c).unwrap_or_default()))
            }
            (Some(Val::SchemaEditor | Val::Cursor), "cursor") => Some(Val::Cursor),
            (Some(Val::SchemaEditor | Val::Cursor), "execute" | "executemany") => {
                if let Some(sql) = c.args.first().or_else(|| keyword(&c.keywords, "sql")) {
                    let (kinds, opaque) = super::lower::executed(sql, self.src, self.dialect);
                    self.out.opaque |= opaque;
                    for kind in kinds {
                        self.record(kind, Via::ConnSql, at);
                    }
                }
                None
            }
            (Some(Val::Model(m)), "objects" | "_default_manager" | "_base_manager") => {
                Some(Val::Query(m.clone(), false))
            }
            (Some(Val::Query(m, filtered)), _) => {
                return Some(self.query_method(m.clone(), *filtered, method, c, at))
            }
            (
                Some(Val::Instance {
                    model,
                    created,
                    dirty,
                }),
                "save",
            ) => {
                let table = model.table.clone();
                let kind = if *created {
                    Kind::Insert { table }
                } else {
                    let columns = match keyword(&c.keywords, "update_fields") {
                        Some(list) => self.field_list(model, list),
                        None => dirty.iter().map(|f| model.column(f)).collect(),
                    };
                    Kind::Update { table, columns }
                };
                self.write(model, kind, at);
                None
            }
            (Some(Val::Instance { model, .. }), "delete") => {
                let kind = Kind::Delete {
                    table: model.table.clone(),
                    has_where: true,
                };
                self.write(model, kind, at);
                None
            }
            // `row.tags.add(...)`: a many-to-many table mrt does not follow.
            (
                Some(Val::Related),
                "add" | "remove" | "set" | "clear" | "create" | "update" | "delete" | "bulk_create"
                | "get_or_create" | "update_or_create",
            ) => {
                self.out.opaque = true;
                None
            }
            _ => return None,
        })
    }

    fn query_method(
        &mut self,
        m: ModelInfo,
        filtered: bool,
        method: &str,
        c: &'a ast::ExprCall,
        at: TextSize,
    ) -> Option<Val> {
        let table = m.table.clone();
        match method {
            "update" => {
                let columns = if c.keywords.iter().any(|k| k.arg.is_none()) {
                    Vec::new()
                } else {
                    c.keywords
                        .iter()
                        .filter_map(|k| k.arg.as_ref())
                        .map(|a| m.column(a.as_str()))
                        .collect()
                };
                self.write(&m, Kind::Update { table, columns }, at);
                None
            }
            "delete" => {
                let kind = Kind::Delete {
                    table,
                    has_where: filtered,
                };
                self.write(&m, kind, at);
                None
            }
            // `update_or_create` upserts rows the code names (seed data): its update only
            // touches rows it would otherwise insert.
            "create" | "get_or_create" | "bulk_create" | "update_or_create" => {
                self.write(&m, Kind::Insert { table }, at);
                (method == "create").then(|| Val::Instance {
                    model: m,
                    created: false,
                    dirty: Vec::new(),
                })
            }
            "bulk_update" => {
                let columns = c
                    .args
                    .get(1)
                    .or_else(|| keyword(&c.keywords, "fields"))
                    .map(|l| self.field_list(&m, l))
                    .unwrap_or_default();
                self.write(&m, Kind::Update { table, columns }, at);
                None
            }
            // Reads that return values, not rows.
            "raw" | "count" | "exists" | "aggregate" | "explain" | "contains" | "values"
            | "values_list" | "in_bulk" => None,
            m_name if ONE_ROW.contains(&m_name) => Some(Val::Instance {
                model: m,
                created: false,
                dirty: Vec::new(),
            }),
            m_name => Some(Val::Query(m, filtered || NARROWING.contains(&m_name))),
        }
    }

    /// `["a", "b"]` as columns of the model; empty (unknown) if any is not a literal.
    fn field_list(&self, m: &ModelInfo, list: &Expr) -> Vec<String> {
        let items: Vec<&Expr> = match list {
            Expr::List(l) => l.elts.iter().collect(),
            Expr::Tuple(t) => t.elts.iter().collect(),
            _ => return Vec::new(),
        };
        items
            .into_iter()
            .map(|e| self.src.string(e).map(|f| m.column(&f)))
            .collect::<Option<Vec<String>>>()
            .unwrap_or_default()
    }

    /// `apps.get_model("shop", "Order")`, `apps.get_model("shop.Order")`,
    /// `apps.get_model(app_label=..., model_name=...)`.
    fn get_model(&self, c: &ast::ExprCall) -> Option<ModelInfo> {
        let arg = |pos: usize, kw: &str| {
            keyword(&c.keywords, kw)
                .or(c.args.get(pos))
                .and_then(|e| self.src.string(e))
        };
        let first = arg(0, "app_label")?;
        let (app, model) = match arg(1, "model_name") {
            Some(model) => (first, model),
            None => {
                let (app, model) = first.split_once('.')?;
                (app.to_string(), model.to_string())
            }
        };
        let mut info = (self.lookup)(&app, &model);
        info.bookkeeping = matches!(
            (
                app.to_ascii_lowercase().as_str(),
                model.to_ascii_lowercase().as_str()
            ),
            ("contenttypes", "contenttype") | ("auth", "permission")
        );
        Some(info)
    }

    /// `helper(apps, schema_editor)` (followed), `Order(...)` (a new row), `call_command(...)`
    /// and functions imported from code mrt cannot read.
    fn plain_call(
        &mut self,
        name: &str,
        c: &'a ast::ExprCall,
        args: &[Option<Val>],
    ) -> Option<Val> {
        if let Some(Val::Model(m)) = self.env.get(name).cloned() {
            return Some(Val::Instance {
                model: m,
                created: true,
                dirty: c
                    .keywords
                    .iter()
                    .filter_map(|k| k.arg.as_ref().map(|a| a.to_string()))
                    .collect(),
            });
        }
        if let Some(def) = self.src.function(name) {
            let mut passed: Vec<Option<Val>> = args.to_vec();
            // Keyword arguments bind by name.
            let params: Vec<&str> = def
                .args
                .posonlyargs
                .iter()
                .chain(&def.args.args)
                .map(|p| p.def.arg.as_str())
                .collect();
            for k in &c.keywords {
                let Some(kw) = &k.arg else { continue };
                if let Some(i) = params.iter().position(|p| *p == kw.as_str()) {
                    if passed.len() <= i {
                        passed.resize(i + 1, None);
                    }
                    passed[i] = self.expr_value(&k.value);
                }
            }
            self.function(def, &passed);
            return None;
        }
        self.foreign_call(c, args);
        None
    }

    /// The value of an expression already walked (no effects recorded twice).
    fn expr_value(&self, e: &Expr) -> Option<Val> {
        match e {
            Expr::Name(n) => self.name(n.id.as_str()),
            _ => None,
        }
    }

    /// A call into code mrt cannot read: it may change the database when it comes from the
    /// project (not Django or the standard library), is `call_command`, or is handed the app
    /// registry, the schema editor, a model or rows.
    fn foreign_call(&mut self, c: &ast::ExprCall, args: &[Option<Val>]) {
        let name = callee(&c.func).unwrap_or("");
        if name == "call_command" {
            self.out.opaque = true;
            return;
        }
        let root = root_name(&c.func);
        let module = root.and_then(|r| self.module_of(r));
        let project_code = module.is_some_and(|m| !inert(m));
        let handle = |v: &Option<Val>| {
            matches!(
                v,
                Some(
                    Val::Apps
                        | Val::SchemaEditor
                        | Val::Cursor
                        | Val::Model(_)
                        | Val::Query(..)
                        | Val::Related
                )
            )
        };
        let handed_db = args.iter().any(handle)
            || c.keywords
                .iter()
                .any(|k| handle(&self.expr_value(&k.value)));
        let inert_callee = module.is_some_and(inert) || is_builtin(name, &c.func);
        if project_code || (handed_db && !inert_callee) {
            self.out.opaque = true;
        }
    }
}

impl Walker<'_, '_> {
    /// The module a name comes from: imported from it, or bound at the top of the file to
    /// something built from it (`log = logging.getLogger(__name__)`).
    fn module_of(&self, name: &str) -> Option<&str> {
        self.src.imported_from(name).or_else(|| {
            let bound = self.src.resolve(name)?;
            self.src.imported_from(root_name(bound)?)
        })
    }
}

/// What iterating over a value gives.
fn row_of(v: Val) -> Option<Val> {
    match v {
        Val::Query(model, _) => Some(Val::Instance {
            model,
            created: false,
            dirty: Vec::new(),
        }),
        _ => None,
    }
}

/// Django (but its management commands, which may do anything) and the standard library.
fn inert(module: &str) -> bool {
    (module.starts_with("django") && !module.starts_with("django.core.management"))
        || inert_module(module)
}

fn is_builtin(name: &str, func: &Expr) -> bool {
    matches!(func, Expr::Name(_))
        && matches!(
            name,
            "print"
                | "len"
                | "list"
                | "dict"
                | "set"
                | "tuple"
                | "str"
                | "int"
                | "float"
                | "bool"
                | "sorted"
                | "range"
                | "enumerate"
                | "zip"
                | "isinstance"
                | "getattr"
                | "setattr"
                | "hasattr"
                | "min"
                | "max"
                | "sum"
                | "any"
                | "all"
                | "repr"
                | "iter"
                | "next"
                | "map"
                | "filter"
                | "reversed"
        )
}

/// The name a call chain starts from: `a` for `a.b(x).c`.
fn root_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Name(n) => Some(n.id.as_str()),
        Expr::Attribute(a) => root_name(&a.value),
        Expr::Call(c) => root_name(&c.func),
        Expr::Subscript(s) => root_name(&s.value),
        _ => None,
    }
}
