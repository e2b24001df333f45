//! Alembic operations (`op.X` / `batch_op.X`) and `execute` calls, turned into [`Kind`]s.
//!
//! Arguments are bound the way Python binds them: by keyword or by position, where a
//! batch operation has no table argument (it comes from `batch_alter_table`).

use crate::model::{Cons, DefaultKind, Kind, Name, Obj, Via};
use crate::python::{callee, Call, Module, Recv};
use crate::{sql, Dialect};
use rustpython_parser::ast::{self, Constant, Expr, Operator};

/// What a call does; empty for calls that do nothing rules care about.
pub fn kinds(call: &Call, m: &Module, dialect: Dialect) -> Vec<(Kind, Via)> {
    match &call.recv {
        Recv::Op | Recv::Batch(_) => op_kinds(call, m, dialect),
        Recv::Other(target) => match call.method {
            "execute" | "exec_driver_sql" => {
                let stmt = call.arg(Some(0), "statement");
                executed(stmt, m, dialect)
                    .into_iter()
                    .map(|k| (k, Via::ConnSql))
                    .collect()
            }
            "create" | "drop" => enum_type(call, target, m)
                .into_iter()
                .map(|k| (k, Via::Op))
                .collect(),
            _ => Vec::new(),
        },
    }
}

/// Binds an `op` operation's arguments; in batch mode the table argument is absent.
struct Args<'c, 'a> {
    call: &'c Call<'a>,
    batch: Option<Name>,
    /// Position of `table_name` in the `op.` form.
    table_pos: usize,
}

impl<'a> Args<'_, 'a> {
    fn get(&self, pos: usize, kw: &str) -> Option<&'a Expr> {
        let pos = match self.batch {
            Some(_) if pos == self.table_pos => return None,
            Some(_) if pos > self.table_pos => pos - 1,
            _ => pos,
        };
        self.call.arg(Some(pos), kw)
    }

    fn table(&self, m: &Module) -> Name {
        match &self.batch {
            Some(t) => t.clone(),
            None => m.name(self.get(self.table_pos, "table_name")),
        }
    }
}

fn op_kinds(call: &Call, m: &Module, dialect: Dialect) -> Vec<(Kind, Via)> {
    let (batch, via) = match &call.recv {
        Recv::Batch(t) => (Some(t.clone()), Via::Batch),
        _ => (None, Via::Op),
    };
    let table_pos = match call.method {
        "create_index"
        | "drop_index"
        | "drop_constraint"
        | "create_unique_constraint"
        | "create_check_constraint"
        | "create_primary_key"
        | "create_foreign_key" => 1,
        _ => 0,
    };
    let a = Args {
        call,
        batch,
        table_pos,
    };
    let name0 = || m.name(a.get(0, "name"));
    let mut out: Vec<Kind> = match call.method {
        "create_table" => vec![Kind::Create {
            obj: Obj::Table,
            name: m.name(call.arg(Some(0), "table_name")),
            table: None,
        }],
        "drop_table" => vec![Kind::Drop {
            obj: Obj::Table,
            name: m.name(call.arg(Some(0), "table_name")),
        }],
        "rename_table" => vec![Kind::RenameTable {
            from: m.name(call.arg(Some(0), "old_table_name")),
            to: m.name(call.arg(Some(1), "new_table_name")),
        }],
        "add_column" => vec![add_column(a.table(m), a.get(1, "column"), m)],
        "drop_column" => vec![Kind::DropColumn {
            table: a.table(m),
            column: m.name(a.get(1, "column_name")),
        }],
        "alter_column" => alter_column(&a, m),
        "create_index" => vec![Kind::CreateIndex {
            name: m.name(a.get(0, "index_name")),
            table: a.table(m),
            unique: truthy(call.kwarg("unique")),
            concurrently: truthy(call.kwarg("postgresql_concurrently")),
        }],
        "drop_index" => vec![Kind::Drop {
            obj: Obj::Index,
            name: m.name(a.get(0, "index_name")),
        }],
        "create_foreign_key" => vec![Kind::AddConstraint {
            name: m.name(a.get(0, "constraint_name")),
            table: match &a.batch {
                Some(t) => t.clone(),
                None => m.name(call.arg(Some(1), "source_table")),
            },
            cons: Cons::ForeignKey,
            not_valid: false,
        }],
        "create_unique_constraint" => add_constraint(&a, m, Cons::Unique),
        "create_check_constraint" => add_constraint(&a, m, Cons::Check),
        "create_primary_key" => add_constraint(&a, m, Cons::PrimaryKey),
        "drop_constraint" => vec![Kind::DropConstraint {
            name: m.name(a.get(0, "constraint_name")),
            table: a.table(m),
            cons: constraint_type(a.get(2, "type_").and_then(|e| m.string(e))),
        }],
        "bulk_insert" => vec![Kind::Insert {
            table: table_of(call.arg(Some(0), "table"), m, 0),
        }],
        "execute" => {
            let via = Via::OpSql;
            let sql = call.arg(Some(0), "sqltext");
            return executed(sql, m, dialect)
                .into_iter()
                .map(|k| (k, via))
                .collect();
        }
        "sync_enum_values" => vec![Kind::AddEnumValue {
            ty: m.name(call.arg(Some(1), "enum_name")),
        }],
        "create_view" => vec![Kind::Create {
            obj: Obj::View,
            name: name0(),
            table: None,
        }],
        "drop_view" => vec![Kind::Drop {
            obj: Obj::View,
            name: name0(),
        }],
        _ => Vec::new(),
    };
    if cascades_anywhere(call) {
        out.push(Kind::Cascade);
    }
    out.into_iter().map(|k| (k, via)).collect()
}

fn add_constraint(a: &Args, m: &Module, cons: Cons) -> Vec<Kind> {
    vec![Kind::AddConstraint {
        name: m.name(a.get(0, "constraint_name")),
        table: a.table(m),
        cons,
        not_valid: false,
    }]
}

fn constraint_type(t: Option<String>) -> Cons {
    match t.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("foreignkey") => Cons::ForeignKey,
        Some("unique") => Cons::Unique,
        Some("check") => Cons::Check,
        Some("primary") => Cons::PrimaryKey,
        _ => Cons::Unknown,
    }
}

fn alter_column(a: &Args, m: &Module) -> Vec<Kind> {
    let call = a.call;
    let table = a.table(m);
    let column = m.name(a.get(1, "column_name"));
    let mut out = Vec::new();
    if let Some(new) = call.kwarg("new_column_name").filter(|e| !is_none(e)) {
        out.push(Kind::RenameColumn {
            table: table.clone(),
            from: column.clone(),
            to: m.name(Some(new)),
        });
    }
    if call.kwarg("type_").is_some_and(|e| !is_none(e)) {
        out.push(Kind::ChangeType {
            table: table.clone(),
            column: column.clone(),
            to: None,
        });
    }
    match call.kwarg("nullable").and_then(bool_const) {
        Some(false) => out.push(Kind::SetNotNull { table, column }),
        Some(true) => out.push(Kind::DropNotNull { table, column }),
        None => {}
    }
    out
}

/// `sa.Column("name", type, ..., nullable=False, server_default=...)`.
fn add_column(table: Name, column: Option<&Expr>, m: &Module) -> Kind {
    let col = column.and_then(|e| match e {
        Expr::Call(c) if callee(&c.func) == Some("Column") => Some(c),
        _ => None,
    });
    let Some(col) = col else {
        return Kind::AddColumn {
            table,
            column: None,
            not_null: false,
            default: DefaultKind::None,
        };
    };
    let kw = |name: &str| {
        col.keywords
            .iter()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
            .map(|k| &k.value)
    };
    let not_null = match kw("nullable").and_then(bool_const) {
        Some(nullable) => !nullable,
        None => kw("primary_key").and_then(bool_const).unwrap_or(false),
    };
    let default = match kw("server_default") {
        Some(e) if !is_none(e) => sql::default_kind(&default_text(e, m)),
        _ => DefaultKind::None,
    };
    let name = col
        .args
        .first()
        .and_then(|e| m.string(e))
        .map(|s| crate::model::norm(&s));
    Kind::AddColumn {
        table,
        column: name,
        not_null,
        default,
    }
}

/// Text of a `server_default`: `"0"`, `sa.text("now()")`, `sa.func.gen_random_uuid()`.
fn default_text(e: &Expr, m: &Module) -> String {
    if let Some(s) = m.string(e) {
        return s;
    }
    match e {
        Expr::Call(c) if callee(&c.func) == Some("text") => {
            c.args.first().and_then(|a| m.string(a)).unwrap_or_default()
        }
        Expr::Call(c) => callee(&c.func)
            .map(|f| format!("{f}()"))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn cascades_anywhere(call: &Call) -> bool {
    call.args.iter().any(cascades)
        || call
            .keywords
            .iter()
            .any(|k| is_cascade_kw(k) || cascades(&k.value))
}

fn is_cascade_kw(k: &ast::Keyword) -> bool {
    k.arg.as_ref().is_some_and(|a| a.as_str() == "ondelete")
        && matches!(&k.value, Expr::Constant(c) if matches!(&c.value, Constant::Str(s) if s.eq_ignore_ascii_case("cascade")))
}

/// An `ondelete="CASCADE"` inside nested `sa.Column(..., sa.ForeignKey(...))` arguments.
fn cascades(e: &Expr) -> bool {
    match e {
        Expr::Call(c) => {
            c.keywords
                .iter()
                .any(|k| is_cascade_kw(k) || cascades(&k.value))
                || c.args.iter().any(cascades)
        }
        Expr::List(l) => l.elts.iter().any(cascades),
        Expr::Tuple(t) => t.elts.iter().any(cascades),
        _ => false,
    }
}

fn truthy(e: Option<&Expr>) -> bool {
    e.and_then(bool_const).unwrap_or(false)
}

fn bool_const(e: &Expr) -> Option<bool> {
    match e {
        Expr::Constant(c) => match c.value {
            Constant::Bool(b) => Some(b),
            _ => None,
        },
        _ => None,
    }
}

fn is_none(e: &Expr) -> bool {
    matches!(e, Expr::Constant(c) if matches!(c.value, Constant::None))
}

/// Where the SQL of an `execute` comes from.
enum SqlSource {
    Literal(String),
    /// A SQLAlchemy statement object (`users.update().where(...)`).
    Statement(Kind),
    Dynamic,
}

/// What executing `expr` does.
pub(crate) fn executed(expr: Option<&Expr>, m: &Module, dialect: Dialect) -> Vec<Kind> {
    let Some(expr) = expr else { return Vec::new() };
    match sql_source(expr, m, 0) {
        SqlSource::Literal(text) => sql::classify(&text, dialect),
        SqlSource::Statement(kind) => vec![kind],
        SqlSource::Dynamic => vec![Kind::DynamicSql],
    }
}

/// The SQL text of an expression built from literals only (`"..."`, `sa.text("...")`, a name
/// bound to one, a concatenation); `None` when it is computed at run time.
pub(crate) fn literal_sql(expr: &Expr, m: &Module) -> Option<String> {
    match sql_source(expr, m, 0) {
        SqlSource::Literal(text) => Some(text),
        SqlSource::Statement(_) | SqlSource::Dynamic => None,
    }
}

fn sql_source(expr: &Expr, m: &Module, depth: usize) -> SqlSource {
    if depth > 8 {
        return SqlSource::Dynamic;
    }
    match expr {
        Expr::Constant(c) => match &c.value {
            Constant::Str(s) => SqlSource::Literal(s.clone()),
            _ => SqlSource::Dynamic,
        },
        // An f-string without placeholders is still a literal.
        Expr::JoinedStr(j) => j
            .values
            .iter()
            .map(|v| match v {
                Expr::Constant(ast::ExprConstant {
                    value: Constant::Str(s),
                    ..
                }) => Some(s.as_str()),
                _ => None,
            })
            .collect::<Option<String>>()
            .map_or(SqlSource::Dynamic, SqlSource::Literal),
        Expr::BinOp(b) if b.op == Operator::Add => {
            match (
                sql_source(&b.left, m, depth + 1),
                sql_source(&b.right, m, depth + 1),
            ) {
                (SqlSource::Literal(l), SqlSource::Literal(r)) => SqlSource::Literal(l + &r),
                _ => SqlSource::Dynamic,
            }
        }
        Expr::Name(n) => match m.resolve(n.id.as_str()) {
            Some(bound) => sql_source(bound, m, depth + 1),
            None => SqlSource::Dynamic,
        },
        Expr::Call(c) => call_source(c, m, depth),
        _ => SqlSource::Dynamic,
    }
}

fn call_source(c: &ast::ExprCall, m: &Module, depth: usize) -> SqlSource {
    match callee(&c.func) {
        Some("text" | "literal_column") => match c.args.first() {
            Some(arg) => sql_source(arg, m, depth + 1),
            None => SqlSource::Dynamic,
        },
        Some("bindparams" | "execution_options" | "columns") => match c.func.as_ref() {
            Expr::Attribute(a) => sql_source(&a.value, m, depth + 1),
            _ => SqlSource::Dynamic,
        },
        _ => sa_statement(c, m).map_or(SqlSource::Dynamic, SqlSource::Statement),
    }
}

/// `users.update().where(...).values(x=...)`, `sa.delete(users)`, `sa.insert(t).values(...)`.
fn sa_statement(c: &ast::ExprCall, m: &Module) -> Option<Kind> {
    let mut has_where = false;
    let mut columns = Vec::new();
    let mut cur = c;
    loop {
        let method = callee(&cur.func)?;
        let receiver = match cur.func.as_ref() {
            Expr::Attribute(a) => Some(a.value.as_ref()),
            _ => None,
        };
        match method {
            "where" | "filter" | "filter_by" => has_where = true,
            "values" => columns.extend(
                cur.keywords
                    .iter()
                    .filter_map(|k| k.arg.as_ref())
                    .map(|a| crate::model::norm(a.as_str())),
            ),
            "update" | "delete" | "insert" => {
                let is_module = match receiver {
                    None => true,
                    Some(Expr::Name(n)) => {
                        matches!(n.id.as_str(), "sa" | "sqlalchemy" | "expression")
                    }
                    _ => false,
                };
                let table_expr = if is_module && !cur.args.is_empty() {
                    cur.args.first()
                } else {
                    receiver
                };
                let table = table_of(table_expr, m, 0);
                return Some(match method {
                    "update" => Kind::Update { table, columns },
                    "delete" => Kind::Delete { table, has_where },
                    _ => Kind::Insert { table },
                });
            }
            _ => {}
        }
        match receiver {
            Some(Expr::Call(inner)) => cur = inner,
            _ => return None,
        }
    }
}

/// The table a SQLAlchemy table object names: `sa.table("users", ...)`, `sa.Table("users", meta)`
/// or a name bound to one.
fn table_of(expr: Option<&Expr>, m: &Module, depth: usize) -> Name {
    if depth > 8 {
        return None;
    }
    match expr? {
        Expr::Call(c) if matches!(callee(&c.func), Some("table" | "Table")) => {
            m.name(c.args.first())
        }
        Expr::Name(n) => table_of(m.resolve(n.id.as_str()), m, depth + 1),
        _ => None,
    }
}

/// `sa.Enum(..., name="mood").create(bind)` and `.drop(bind)` on PostgreSQL enum objects.
fn enum_type(call: &Call, target: &Expr, m: &Module) -> Option<Kind> {
    let ctor = match target {
        Expr::Name(n) => m.resolve(n.id.as_str())?,
        other => other,
    };
    let Expr::Call(c) = ctor else { return None };
    if !matches!(callee(&c.func), Some("Enum" | "ENUM")) {
        return None;
    }
    let name = c
        .keywords
        .iter()
        .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "name"))
        .and_then(|k| m.string(&k.value))
        .map(|s| crate::model::norm(&s));
    Some(match call.method {
        "create" => Kind::Create {
            obj: Obj::Type,
            name,
            table: None,
        },
        _ => Kind::Drop {
            obj: Obj::Type,
            name,
        },
    })
}
