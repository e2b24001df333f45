//! Walking a migration's Python AST: which `op.X(...)`, `batch_op.X(...)` and `.execute(...)`
//! calls `upgrade()` and `downgrade()` make, following helper functions of the same file.
//!
//! Calls are matched by receiver as well as method name (pytest-mrt matched method names only,
//! so `df.drop_column(...)` counted); positions are byte offsets turned into lines later.

use crate::model::{norm, Name};
use rustpython_parser::ast::{self, Constant, Expr, Ranged, Stmt};
use rustpython_parser::text_size::{TextRange, TextSize};
use std::collections::{HashMap, HashSet};

/// Names given to expressions by assignments anywhere in the file. A name assigned exactly once
/// can be resolved (`users = sa.table("users", ...)`); one assigned several times cannot.
pub struct Module<'a> {
    pub suite: &'a [Stmt],
    funcs: HashMap<&'a str, &'a ast::StmtFunctionDef>,
    bindings: HashMap<&'a str, Vec<&'a Expr>>,
    /// Local names bound by `import` / `from ... import`, with the module they come from.
    imports: HashMap<&'a str, String>,
}

/// Who a call is made on.
#[derive(Debug, Clone)]
pub enum Recv<'a> {
    /// `op.X(...)`.
    Op,
    /// `batch_op.X(...)` inside `with op.batch_alter_table("t") as batch_op`.
    Batch(Name),
    /// Anything else (`connection`, `op.get_bind()`, `context`, an Enum object).
    Other(&'a Expr),
}

#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub recv: Recv<'a>,
    pub method: &'a str,
    pub args: &'a [Expr],
    pub keywords: &'a [ast::Keyword],
    pub start: TextSize,
    /// The innermost statement containing the call.
    pub span: TextRange,
}

impl<'a> Call<'a> {
    /// Argument by position or keyword, as Python binds it.
    pub fn arg(&self, pos: Option<usize>, kw: &str) -> Option<&'a Expr> {
        self.kwarg(kw).or_else(|| {
            let pos = pos?;
            let args = self.args;
            // A `*args` before the position makes the binding unknowable.
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

    pub fn kwarg(&self, kw: &str) -> Option<&'a Expr> {
        self.keywords
            .iter()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == kw))
            .map(|k| &k.value)
    }
}

/// A top-level function as the rules need it.
#[derive(Debug, Clone)]
pub struct Function<'a> {
    pub def: &'a ast::StmtFunctionDef,
    pub calls: Vec<Call<'a>>,
    /// Some call may change the database although no [`Call`] says how: an `op` operation mrt
    /// does not model, ORM session writes, code imported from the project, a database handle
    /// passed to code mrt cannot see.
    pub opaque_effects: bool,
}

impl<'a> Module<'a> {
    pub fn new(suite: &'a [Stmt]) -> Self {
        let mut funcs = HashMap::new();
        for stmt in suite {
            if let Stmt::FunctionDef(f) = stmt {
                funcs.insert(f.name.as_str(), f);
            }
        }
        let mut bindings: HashMap<&'a str, Vec<&'a Expr>> = HashMap::new();
        collect_bindings(suite, &mut bindings);
        Module {
            suite,
            funcs,
            bindings,
            imports: collect_imports(suite),
        }
    }

    /// The module a local name was imported from, if it was.
    pub fn imported_from(&self, name: &str) -> Option<&str> {
        self.imports.get(name).map(String::as_str)
    }

    pub fn function(&self, name: &str) -> Option<&'a ast::StmtFunctionDef> {
        self.funcs.get(name).copied()
    }

    /// The expression a name was bound to, when it was bound exactly once.
    pub fn resolve(&self, name: &str) -> Option<&'a Expr> {
        match self.bindings.get(name).map(Vec::as_slice) {
            Some([only]) => Some(*only),
            _ => None,
        }
    }

    /// Every relevant call `name()` makes, directly or through helpers of this file.
    pub fn calls_of(&self, name: &str) -> Option<Function<'a>> {
        let def = self.function(name)?;
        let mut walker = Walker {
            module: self,
            visited: HashSet::from([name.to_string()]),
            aliases: HashMap::new(),
            calls: Vec::new(),
            span: def.range(),
            opaque_effects: false,
        };
        walker.stmts(&def.body);
        Some(Function {
            def,
            calls: walker.calls,
            opaque_effects: walker.opaque_effects,
        })
    }

    /// Follows a name to a string literal (`"x"`, `op.f("x")`, a name bound to one).
    pub fn string(&self, expr: &Expr) -> Option<String> {
        self.string_depth(expr, 0)
    }

    fn string_depth(&self, expr: &Expr, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match expr {
            Expr::Constant(c) => match &c.value {
                Constant::Str(s) => Some(s.clone()),
                _ => None,
            },
            Expr::Name(n) => self.string_depth(self.resolve(n.id.as_str())?, depth + 1),
            Expr::Call(c) if matches!(callee(&c.func), Some("f" | "conv" | "quoted_name")) => {
                self.string_depth(c.args.first()?, depth + 1)
            }
            _ => None,
        }
    }

    /// A normalised object name from an argument; `None` when computed at run time.
    pub fn name(&self, expr: Option<&Expr>) -> Name {
        expr.and_then(|e| self.string(e)).map(|s| norm(&s))
    }
}

/// The last component of a callee: `sa.text` -> `text`, `text` -> `text`.
pub fn callee(func: &Expr) -> Option<&str> {
    match func {
        Expr::Name(n) => Some(n.id.as_str()),
        Expr::Attribute(a) => Some(a.attr.as_str()),
        _ => None,
    }
}

/// `import a.b as c`, `from a.b import c as d`, at the top level and in nested blocks.
fn collect_imports(stmts: &[Stmt]) -> HashMap<&str, String> {
    let mut out = HashMap::new();
    for stmt in stmts {
        match stmt {
            Stmt::Import(i) => {
                for alias in &i.names {
                    let module = alias.name.as_str();
                    let local = match &alias.asname {
                        Some(a) => a.as_str(),
                        None => module.split('.').next().unwrap_or(module),
                    };
                    out.insert(local, module.to_string());
                }
            }
            Stmt::ImportFrom(i) => {
                let module = i.module.as_ref().map_or("", |m| m.as_str());
                for alias in &i.names {
                    let local = alias.asname.as_ref().unwrap_or(&alias.name).as_str();
                    out.insert(local, module.to_string());
                }
            }
            _ => {}
        }
        for body in child_bodies(stmt) {
            out.extend(collect_imports(body));
        }
    }
    out
}

/// Modules whose functions never write to the database by themselves: SQLAlchemy and Alembic
/// objects only act through calls mrt models (`execute`, `create(bind)`, `op.X`), the rest is
/// the standard library a migration uses for logging and computing.
const INERT_MODULES: &[&str] = &[
    "sqlalchemy",
    "alembic",
    "logging",
    "warnings",
    "datetime",
    "time",
    "json",
    "os",
    "sys",
    "re",
    "uuid",
    "typing",
    "decimal",
    "enum",
    "math",
    "itertools",
    "functools",
    "collections",
    "textwrap",
    "string",
    "random",
    "hashlib",
    "pathlib",
    "pprint",
    "dataclasses",
    "__future__",
];

pub(crate) fn inert_module(module: &str) -> bool {
    let top = module.split('.').next().unwrap_or(module);
    INERT_MODULES.contains(&top)
}

/// `op` methods that read or build and change nothing.
pub const INERT_OP: &[&str] = &[
    "get_bind",
    "get_context",
    "f",
    "inline_literal",
    "implementation_for",
    "register_operation",
];

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

fn collect_bindings<'a>(stmts: &'a [Stmt], out: &mut HashMap<&'a str, Vec<&'a Expr>>) {
    for stmt in stmts {
        match stmt {
            Stmt::Assign(a) => {
                for target in &a.targets {
                    if let Expr::Name(n) = target {
                        out.entry(n.id.as_str()).or_default().push(&a.value);
                    }
                }
            }
            Stmt::AnnAssign(a) => {
                if let (Expr::Name(n), Some(v)) = (a.target.as_ref(), &a.value) {
                    out.entry(n.id.as_str()).or_default().push(v);
                }
            }
            _ => {}
        }
        for body in child_bodies(stmt) {
            collect_bindings(body, out);
        }
    }
}

/// Nested statement lists of a compound statement (not nested functions' bodies: those run
/// only when called, and helpers are followed through calls instead).
fn child_bodies(stmt: &Stmt) -> Vec<&[Stmt]> {
    match stmt {
        Stmt::FunctionDef(f) => vec![&f.body],
        Stmt::If(s) => vec![&s.body, &s.orelse],
        Stmt::For(s) => vec![&s.body, &s.orelse],
        Stmt::AsyncFor(s) => vec![&s.body, &s.orelse],
        Stmt::While(s) => vec![&s.body, &s.orelse],
        Stmt::With(s) => vec![&s.body],
        Stmt::AsyncWith(s) => vec![&s.body],
        Stmt::Try(s) => try_bodies(&s.body, &s.handlers, &s.orelse, &s.finalbody),
        Stmt::TryStar(s) => try_bodies(&s.body, &s.handlers, &s.orelse, &s.finalbody),
        Stmt::Match(s) => s.cases.iter().map(|c| c.body.as_slice()).collect(),
        _ => Vec::new(),
    }
}

fn try_bodies<'a>(
    body: &'a [Stmt],
    handlers: &'a [ast::ExceptHandler],
    orelse: &'a [Stmt],
    finalbody: &'a [Stmt],
) -> Vec<&'a [Stmt]> {
    let mut out = vec![body];
    out.extend(handlers.iter().map(|h| match h {
        ast::ExceptHandler::ExceptHandler(h) => h.body.as_slice(),
    }));
    out.push(orelse);
    out.push(finalbody);
    out
}

struct Walker<'m, 'a> {
    module: &'m Module<'a>,
    /// Helpers already expanded for this body: each is followed once, which also stops recursion.
    visited: HashSet<String>,
    aliases: HashMap<&'a str, Name>,
    calls: Vec<Call<'a>>,
    span: TextRange,
    opaque_effects: bool,
}

impl<'a> Walker<'_, 'a> {
    fn stmts(&mut self, stmts: &'a [Stmt]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &'a Stmt) {
        self.span = stmt.range();
        match stmt {
            Stmt::FunctionDef(_) | Stmt::AsyncFunctionDef(_) | Stmt::ClassDef(_) => return,
            Stmt::With(w) => self.with_items(&w.items),
            Stmt::AsyncWith(w) => self.with_items(&w.items),
            Stmt::Expr(e) => self.expr(&e.value),
            Stmt::Assign(a) => self.expr(&a.value),
            Stmt::AnnAssign(a) => {
                if let Some(v) = &a.value {
                    self.expr(v)
                }
            }
            Stmt::AugAssign(a) => self.expr(&a.value),
            Stmt::Return(r) => {
                if let Some(v) = &r.value {
                    self.expr(v)
                }
            }
            Stmt::If(s) => self.expr(&s.test),
            Stmt::While(s) => self.expr(&s.test),
            Stmt::For(s) => self.expr(&s.iter),
            Stmt::AsyncFor(s) => self.expr(&s.iter),
            Stmt::Match(s) => self.expr(&s.subject),
            _ => {}
        }
        for body in child_bodies(stmt) {
            self.stmts(body);
        }
    }

    fn with_items(&mut self, items: &'a [ast::WithItem]) {
        for item in items {
            self.expr(&item.context_expr);
            let Some(Expr::Name(alias)) = item.optional_vars.as_deref() else {
                continue;
            };
            if let Expr::Call(c) = &item.context_expr {
                if is_op_attr(&c.func, "batch_alter_table") {
                    let table = c
                        .keywords
                        .iter()
                        .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "table_name"))
                        .map(|k| &k.value)
                        .or(c.args.first());
                    self.aliases
                        .insert(alias.id.as_str(), self.module.name(table));
                }
            }
        }
    }

    fn exprs(&mut self, exprs: &'a [Expr]) {
        for e in exprs {
            self.expr(e);
        }
    }

    fn expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Call(c) => self.call(c),
            Expr::BoolOp(e) => self.exprs(&e.values),
            Expr::NamedExpr(e) => self.expr(&e.value),
            Expr::BinOp(e) => {
                self.expr(&e.left);
                self.expr(&e.right)
            }
            Expr::UnaryOp(e) => self.expr(&e.operand),
            Expr::IfExp(e) => {
                self.expr(&e.test);
                self.expr(&e.body);
                self.expr(&e.orelse)
            }
            Expr::Dict(e) => {
                self.exprs(&e.values);
                for k in e.keys.iter().flatten() {
                    self.expr(k);
                }
            }
            Expr::Set(e) => self.exprs(&e.elts),
            Expr::List(e) => self.exprs(&e.elts),
            Expr::Tuple(e) => self.exprs(&e.elts),
            Expr::ListComp(e) => self.comprehension(&e.elt, &e.generators),
            Expr::SetComp(e) => self.comprehension(&e.elt, &e.generators),
            Expr::GeneratorExp(e) => self.comprehension(&e.elt, &e.generators),
            Expr::DictComp(e) => {
                self.expr(&e.value);
                self.generators(&e.generators)
            }
            Expr::Await(e) => self.expr(&e.value),
            Expr::Compare(e) => {
                self.expr(&e.left);
                self.exprs(&e.comparators)
            }
            Expr::Attribute(e) => self.expr(&e.value),
            Expr::Subscript(e) => self.expr(&e.value),
            Expr::Starred(e) => self.expr(&e.value),
            _ => {}
        }
    }

    fn comprehension(&mut self, elt: &'a Expr, generators: &'a [ast::Comprehension]) {
        self.expr(elt);
        self.generators(generators);
    }

    fn generators(&mut self, generators: &'a [ast::Comprehension]) {
        for g in generators {
            self.expr(&g.iter);
            self.exprs(&g.ifs);
        }
    }

    fn call(&mut self, c: &'a ast::ExprCall) {
        if !self.opaque_effects && self.may_change_db(c) {
            self.opaque_effects = true;
        }
        if let Some(recv) = self.receiver(&c.func) {
            if let Expr::Attribute(a) = c.func.as_ref() {
                self.calls.push(Call {
                    recv,
                    method: a.attr.as_str(),
                    args: &c.args,
                    keywords: &c.keywords,
                    start: c.range.start(),
                    span: self.span,
                });
            }
        }
        self.expr(&c.func);
        self.exprs(&c.args);
        for k in &c.keywords {
            self.expr(&k.value);
        }
        if let Expr::Name(n) = c.func.as_ref() {
            self.helper(n.id.as_str());
        }
    }

    fn receiver(&self, func: &'a Expr) -> Option<Recv<'a>> {
        let Expr::Attribute(a) = func else {
            return None;
        };
        match a.value.as_ref() {
            Expr::Name(n) if n.id.as_str() == "op" => Some(Recv::Op),
            Expr::Name(n) if self.aliases.contains_key(n.id.as_str()) => Some(Recv::Batch(
                self.aliases.get(n.id.as_str()).cloned().flatten(),
            )),
            // Alembic's generated name; also covers a batch_op passed to a helper.
            Expr::Name(n) if n.id.as_str() == "batch_op" => Some(Recv::Batch(None)),
            other => matches!(
                a.attr.as_str(),
                "execute" | "exec_driver_sql" | "create" | "drop"
            )
            .then_some(Recv::Other(other)),
        }
    }

    /// Whether a call may write to the database in a way the model does not show. Errs towards
    /// yes for code mrt cannot read, so a downgrade that does nothing is never let through
    /// because the work hides in an imported helper.
    fn may_change_db(&self, c: &ast::ExprCall) -> bool {
        let method = match c.func.as_ref() {
            Expr::Attribute(a) => Some(a.attr.as_str()),
            _ => None,
        };
        // `op` operations are judged by what they do (see `extract`), not here.
        if let Some(Recv::Op | Recv::Batch(_)) = self.receiver(&c.func) {
            return false;
        }
        if matches!(method, Some("create_all" | "drop_all")) {
            return true;
        }
        // `table.create(bind)`, `sa.Enum(...).drop(bind=conn)`: DDL on a SQLAlchemy object.
        if matches!(method, Some("create" | "drop"))
            && !(c.args.is_empty() && c.keywords.is_empty())
        {
            return true;
        }
        let root = root_name(&c.func);
        if method.is_some() && root.is_some_and(is_session_name) {
            return true;
        }
        if let Expr::Name(n) = c.func.as_ref() {
            if self.module.function(n.id.as_str()).is_some() {
                return false; // a helper of this file: followed instead
            }
        }
        let foreign = root
            .and_then(|r| self.module.imported_from(r))
            .is_some_and(|m| !inert_module(m));
        let inert_callee = root
            .and_then(|r| self.module.imported_from(r))
            .is_some_and(inert_module);
        foreign || (!inert_callee && self.passes_db_handle(c))
    }

    /// An argument is `op`, a batch operation, a connection or a session.
    fn passes_db_handle(&self, c: &ast::ExprCall) -> bool {
        let handle = |e: &Expr| match e {
            Expr::Name(n) => {
                let id = n.id.as_str();
                matches!(
                    id,
                    "op" | "batch_op" | "conn" | "connection" | "bind" | "engine"
                ) || is_session_name(id)
                    || self.aliases.contains_key(id)
                    || self.module.resolve(id).is_some_and(is_bind_call)
            }
            other => is_bind_call(other),
        };
        c.args.iter().any(handle) || c.keywords.iter().any(|k| handle(&k.value))
    }

    fn helper(&mut self, name: &str) {
        let Some(def) = self.module.function(name) else {
            return;
        };
        if !self.visited.insert(name.to_string()) {
            return;
        }
        let saved = self.span;
        self.stmts(&def.body);
        self.span = saved;
    }
}

fn is_session_name(name: &str) -> bool {
    name.to_ascii_lowercase().contains("session")
}

/// `op.get_bind()` / `op.get_context()`.
fn is_bind_call(e: &Expr) -> bool {
    matches!(e, Expr::Call(c) if is_op_attr(&c.func, "get_bind") || is_op_attr(&c.func, "get_context"))
}

/// `op.<attr>`.
pub fn is_op_attr(func: &Expr, attr: &str) -> bool {
    matches!(func, Expr::Attribute(a) if a.attr.as_str() == attr
        && matches!(a.value.as_ref(), Expr::Name(n) if n.id.as_str() == "op"))
}

/// A body that only refuses: `raise` (with `pass`, docstrings and `...` around it), the
/// documented way to declare a migration irreversible.
pub fn only_raises(body: &[Stmt]) -> bool {
    body.iter().any(|s| matches!(s, Stmt::Raise(_)))
        && body
            .iter()
            .all(|s| matches!(s, Stmt::Raise(_)) || is_noop(std::slice::from_ref(s)))
}

/// A body that does nothing: only `pass`, docstrings and `...`.
pub fn is_noop(body: &[Stmt]) -> bool {
    body.iter().all(|s| match s {
        Stmt::Pass(_) => true,
        Stmt::Expr(e) => matches!(
            e.value.as_ref(),
            Expr::Constant(ast::ExprConstant {
                value: Constant::Str(_) | Constant::Ellipsis,
                ..
            })
        ),
        _ => false,
    })
}
