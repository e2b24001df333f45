//! Raw SQL handed to `execute`, turned into the same [`Kind`]s as `op` calls.
//!
//! sqlparser reads the statements with the project's dialect. What it cannot parse (dialect
//! extensions, `DO $$ ... $$` blocks) falls back to a keyword reading of that statement alone,
//! which only recognises a statement by its leading words, so it errs towards `OtherSql`.

use crate::model::{norm, Cons, DefaultKind, Kind, Name, Obj};
use crate::Dialect;
use sqlparser::ast::{
    self, AlterColumnOperation, AlterTableOperation, AlterTypeOperation, ColumnOption, ObjectName,
    ObjectNamePart, ObjectType, ReferentialAction, Statement, TableConstraint, TableFactor,
};
use sqlparser::dialect::{GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// Everything one SQL string does, statement by statement.
pub fn classify(sql: &str, dialect: Dialect) -> Vec<Kind> {
    if let Ok(stmts) = parse(sql, dialect) {
        return stmts.iter().flat_map(statement).collect();
    }
    split_statements(sql)
        .into_iter()
        .flat_map(|piece| classify_statement(piece, dialect))
        .collect()
}

/// What one statement does: sqlparser with the dialect's grammar, the keyword reading when it
/// cannot parse it. Empty for statements that change nothing (queries).
pub fn classify_statement(piece: &str, dialect: Dialect) -> Vec<Kind> {
    match parse(piece, dialect) {
        Ok(stmts) => stmts.iter().flat_map(statement).collect(),
        Err(()) => fallback(piece),
    }
}

/// [`classify_statement`] for one statement of a SQL migration file (cut out by
/// [`crate::script::scan`]). It also reads schemas and procedures as objects, so that what a
/// file creates can be paired with what its down script drops. Raw SQL in Python revisions
/// keeps reading them as `OtherSql`, which its rules pair with any other unmodelled statement.
pub fn classify_file_statement(piece: &str, dialect: Dialect) -> Vec<Kind> {
    if let Ok(stmts) = parse(piece, dialect) {
        if let [only] = stmts.as_slice() {
            if let Some(kinds) = file_object(only) {
                return kinds;
            }
        }
    }
    classify_statement(piece, dialect)
}

fn file_object(stmt: &Statement) -> Option<Vec<Kind>> {
    Some(match stmt {
        Statement::CreateSchema { schema_name, .. } => {
            let name = match schema_name {
                ast::SchemaName::Simple(n) | ast::SchemaName::NamedAuthorization(n, _) => object(n),
                ast::SchemaName::UnnamedAuthorization(i) => ident(i),
            };
            vec![Kind::Create {
                obj: Obj::Other,
                name,
                table: None,
            }]
        }
        Statement::CreateProcedure { name, .. } => vec![Kind::Create {
            obj: Obj::Function,
            name: object(name),
            table: None,
        }],
        Statement::DropProcedure { proc_desc, .. } => proc_desc
            .iter()
            .map(|d| Kind::Drop {
                obj: Obj::Function,
                name: object(&d.name),
            })
            .collect(),
        _ => return None,
    })
}

fn parse(sql: &str, dialect: Dialect) -> Result<Vec<Statement>, ()> {
    let result = match dialect {
        Dialect::Generic => Parser::parse_sql(&GenericDialect {}, sql),
        Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, sql),
        Dialect::Postgresql => Parser::parse_sql(&PostgreSqlDialect {}, sql),
        Dialect::Mysql => Parser::parse_sql(&MySqlDialect {}, sql),
    };
    result.map_err(|_| ())
}

fn object(name: &ObjectName) -> Name {
    name.0.last().map(|part| match part {
        ObjectNamePart::Identifier(ident) => norm(&ident.value),
        other => norm(&other.to_string()),
    })
}

fn ident(i: &ast::Ident) -> Name {
    Some(norm(&i.value))
}

fn statement(stmt: &Statement) -> Vec<Kind> {
    let kinds = match stmt {
        Statement::Drop {
            object_type, names, ..
        } => {
            let obj = drop_obj(object_type);
            names
                .iter()
                .map(|n| Kind::Drop {
                    obj,
                    name: object(n),
                })
                .collect()
        }
        Statement::DropFunction(f) => f
            .func_desc
            .iter()
            .map(|d| Kind::Drop {
                obj: Obj::Function,
                name: object(&d.name),
            })
            .collect(),
        Statement::DropTrigger(t) => vec![Kind::Drop {
            obj: Obj::Trigger,
            name: object(&t.trigger_name),
        }],
        Statement::DropExtension(e) => e
            .names
            .iter()
            .map(|n| Kind::Drop {
                obj: Obj::Other,
                name: ident(n),
            })
            .collect(),
        Statement::AlterTable(t) => {
            let table = object(&t.name);
            t.operations
                .iter()
                .flat_map(|op| alter_table(&table, op))
                .collect()
        }
        Statement::RenameTable(renames) => renames
            .iter()
            .map(|r| Kind::RenameTable {
                from: object(&r.old_name),
                to: object(&r.new_name),
            })
            .collect(),
        Statement::Truncate(t) => t
            .table_names
            .iter()
            .map(|n| Kind::Truncate {
                table: object(&n.name),
            })
            .collect(),
        Statement::Delete(d) => vec![Kind::Delete {
            table: delete_table(d),
            has_where: d.selection.is_some(),
        }],
        Statement::Update(u) => vec![Kind::Update {
            table: relation(&u.table.relation),
            columns: assigned(&u.assignments),
        }],
        Statement::Insert(i) => {
            let into = insert_table(&i.table);
            let mut kinds = vec![Kind::Insert {
                table: into.clone(),
            }];
            kinds.extend(copies(i.source.as_deref(), &into));
            kinds
        }
        Statement::CreateTable(c) => create_table(c),
        Statement::CreateIndex(c) => vec![Kind::CreateIndex {
            name: c.name.as_ref().and_then(object),
            table: object(&c.table_name),
            unique: c.unique,
            concurrently: c.concurrently,
        }],
        Statement::CreateView(v) => vec![Kind::Create {
            obj: Obj::View,
            name: object(&v.name),
            table: None,
        }],
        Statement::CreateTrigger(t) => vec![Kind::Create {
            obj: Obj::Trigger,
            name: object(&t.name),
            table: object(&t.table_name),
        }],
        Statement::CreateType { name, .. } => vec![Kind::Create {
            obj: Obj::Type,
            name: object(name),
            table: None,
        }],
        Statement::AlterType(t) => match &t.operation {
            AlterTypeOperation::AddValue(_) => vec![Kind::AddEnumValue {
                ty: object(&t.name),
            }],
            _ => vec![Kind::OtherSql],
        },
        Statement::CreateSequence { name, .. } => vec![Kind::Create {
            obj: Obj::Sequence,
            name: object(name),
            table: None,
        }],
        Statement::CreateFunction(f) => vec![Kind::Create {
            obj: Obj::Function,
            name: object(&f.name),
            table: None,
        }],
        Statement::CreateExtension(e) => vec![Kind::Create {
            obj: Obj::Other,
            name: ident(&e.name),
            table: None,
        }],
        Statement::Query(q) => {
            // `SELECT setval('seq', ...)` moves a sequence; other queries change nothing.
            if q.to_string().to_ascii_lowercase().contains("setval(") {
                vec![Kind::AlterSequence { name: None }]
            } else {
                return Vec::new();
            }
        }
        _ => vec![Kind::OtherSql],
    };
    if kinds.is_empty() {
        vec![Kind::OtherSql]
    } else {
        kinds
    }
}

fn drop_obj(t: &ObjectType) -> Obj {
    match t {
        ObjectType::Table => Obj::Table,
        ObjectType::View | ObjectType::MaterializedView => Obj::View,
        ObjectType::Index => Obj::Index,
        ObjectType::Sequence => Obj::Sequence,
        ObjectType::Type => Obj::Type,
        _ => Obj::Other,
    }
}

fn relation(t: &TableFactor) -> Name {
    match t {
        TableFactor::Table { name, .. } => object(name),
        _ => None,
    }
}

fn delete_table(d: &ast::Delete) -> Name {
    let (ast::FromTable::WithFromKeyword(from) | ast::FromTable::WithoutKeyword(from)) = &d.from;
    from.first().and_then(|t| relation(&t.relation))
}

fn insert_table(t: &ast::TableObject) -> Name {
    match t {
        ast::TableObject::TableName(name) => object(name),
        _ => None,
    }
}

fn assigned(assignments: &[ast::Assignment]) -> Vec<String> {
    assignments
        .iter()
        .flat_map(|a| match &a.target {
            ast::AssignmentTarget::ColumnName(n) => vec![object(n)],
            ast::AssignmentTarget::Tuple(ns) => ns.iter().map(object).collect(),
        })
        .flatten()
        .collect()
}

fn create_table(c: &ast::CreateTable) -> Vec<Kind> {
    let mut kinds = vec![Kind::Create {
        obj: Obj::Table,
        name: object(&c.name),
        table: None,
    }];
    let cascades = c
        .constraints
        .iter()
        .any(|k| matches!(k, TableConstraint::ForeignKey(fk) if cascade(&fk.on_delete)))
        || c.columns
            .iter()
            .any(|col| col.options.iter().any(|o| option_cascades(&o.option)));
    if cascades {
        kinds.push(Kind::Cascade);
    }
    kinds.extend(copies(c.query.as_deref(), &object(&c.name)));
    kinds
}

/// One [`Kind::CopyRows`] per table the query reads from.
fn copies(query: Option<&ast::Query>, into: &Name) -> Vec<Kind> {
    let mut tables = Vec::new();
    if let Some(q) = query {
        query_tables(&q.body, &mut tables);
    }
    tables
        .into_iter()
        .map(|from| Kind::CopyRows {
            from,
            into: into.clone(),
        })
        .collect()
}

/// Tables named in the FROM clauses (joins included) of a SELECT or set operation.
fn query_tables(body: &ast::SetExpr, out: &mut Vec<Name>) {
    match body {
        ast::SetExpr::Select(select) => {
            for t in &select.from {
                out.push(relation(&t.relation));
                out.extend(t.joins.iter().map(|j| relation(&j.relation)));
            }
        }
        ast::SetExpr::Query(q) => query_tables(&q.body, out),
        ast::SetExpr::SetOperation { left, right, .. } => {
            query_tables(left, out);
            query_tables(right, out);
        }
        _ => {}
    }
}

fn cascade(action: &Option<ReferentialAction>) -> bool {
    matches!(action, Some(ReferentialAction::Cascade))
}

fn option_cascades(option: &ColumnOption) -> bool {
    matches!(option, ColumnOption::ForeignKey(fk) if cascade(&fk.on_delete))
}

fn alter_table(table: &Name, op: &AlterTableOperation) -> Vec<Kind> {
    let table = table.clone();
    match op {
        AlterTableOperation::AddColumn { column_def, .. } => add_column(table, column_def),
        AlterTableOperation::DropColumn { column_names, .. } => column_names
            .iter()
            .map(|c| Kind::DropColumn {
                table: table.clone(),
                column: ident(c),
            })
            .collect(),
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => {
            vec![Kind::RenameColumn {
                table,
                from: ident(old_column_name),
                to: ident(new_column_name),
            }]
        }
        AlterTableOperation::RenameTable { table_name } => {
            let (ast::RenameTableNameKind::As(to) | ast::RenameTableNameKind::To(to)) = table_name;
            vec![Kind::RenameTable {
                from: table,
                to: object(to),
            }]
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            let column = ident(column_name);
            match op {
                AlterColumnOperation::SetNotNull => vec![Kind::SetNotNull { table, column }],
                AlterColumnOperation::DropNotNull => vec![Kind::DropNotNull { table, column }],
                AlterColumnOperation::SetDataType { data_type, .. } => {
                    vec![Kind::ChangeType {
                        table,
                        column,
                        to: Some(type_text(data_type)),
                    }]
                }
                _ => Vec::new(),
            }
        }
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            ..
        } => modify_column(table.clone(), ident(col_name), data_type, options),
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            ..
        } => {
            let mut kinds = modify_column(table.clone(), ident(old_name), data_type, options);
            if norm(&old_name.value) != norm(&new_name.value) {
                kinds.push(Kind::RenameColumn {
                    table,
                    from: ident(old_name),
                    to: ident(new_name),
                });
            }
            kinds
        }
        AlterTableOperation::AddConstraint {
            constraint,
            not_valid,
        } => add_constraint(table, constraint, *not_valid),
        AlterTableOperation::DropConstraint { name, .. } => {
            vec![Kind::DropConstraint {
                name: ident(name),
                table,
                cons: Cons::Unknown,
            }]
        }
        AlterTableOperation::DropForeignKey { name, .. } => {
            vec![Kind::DropConstraint {
                name: ident(name),
                table,
                cons: Cons::ForeignKey,
            }]
        }
        AlterTableOperation::DropPrimaryKey { .. } => {
            vec![Kind::DropConstraint {
                name: None,
                table,
                cons: Cons::PrimaryKey,
            }]
        }
        AlterTableOperation::DropIndex { name } => vec![Kind::Drop {
            obj: Obj::Index,
            name: ident(name),
        }],
        _ => Vec::new(),
    }
}

/// MySQL `MODIFY`/`CHANGE` restate the whole column: its type may change and `NOT NULL` may be set.
fn modify_column(
    table: Name,
    column: Name,
    data_type: &ast::DataType,
    options: &[ColumnOption],
) -> Vec<Kind> {
    let mut kinds = vec![Kind::ChangeType {
        table: table.clone(),
        column: column.clone(),
        to: Some(type_text(data_type)),
    }];
    if options.iter().any(|o| matches!(o, ColumnOption::NotNull)) {
        kinds.push(Kind::SetNotNull { table, column });
    } else if options.iter().any(|o| matches!(o, ColumnOption::Null)) {
        kinds.push(Kind::DropNotNull { table, column });
    }
    kinds
}

fn add_column(table: Name, def: &ast::ColumnDef) -> Vec<Kind> {
    let opts: Vec<&ColumnOption> = def.options.iter().map(|o| &o.option).collect();
    let not_null = opts
        .iter()
        .any(|o| matches!(o, ColumnOption::NotNull | ColumnOption::PrimaryKey(_)));
    let default = opts
        .iter()
        .find_map(|o| match o {
            ColumnOption::Default(e) => Some(default_kind(&e.to_string())),
            _ => None,
        })
        .unwrap_or(DefaultKind::None);
    let mut kinds = vec![Kind::AddColumn {
        table,
        column: ident(&def.name),
        not_null,
        default,
    }];
    if opts.iter().any(|o| option_cascades(o)) {
        kinds.push(Kind::Cascade);
    }
    kinds
}

/// A type as [`Kind::ChangeType`] keeps it: lower-case, without spaces.
fn type_text(data_type: &ast::DataType) -> String {
    data_type
        .to_string()
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" (", "(")
        .replace(", ", ",")
}

fn add_constraint(table: Name, constraint: &TableConstraint, not_valid: bool) -> Vec<Kind> {
    let (name, cons) = match constraint {
        TableConstraint::ForeignKey(fk) => {
            let mut kinds = vec![Kind::AddConstraint {
                name: fk.name.as_ref().and_then(ident),
                table,
                cons: Cons::ForeignKey,
                not_valid,
            }];
            if cascade(&fk.on_delete) {
                kinds.push(Kind::Cascade);
            }
            return kinds;
        }
        TableConstraint::Unique(u) => (u.name.as_ref().and_then(ident), Cons::Unique),
        TableConstraint::PrimaryKey(p) => (p.name.as_ref().and_then(ident), Cons::PrimaryKey),
        TableConstraint::Check(c) => (c.name.as_ref().and_then(ident), Cons::Check),
        _ => (None, Cons::Unknown),
    };
    vec![Kind::AddConstraint {
        name,
        table,
        cons,
        not_valid,
    }]
}

/// Functions evaluated once per row, which make `ADD COLUMN ... DEFAULT` rewrite the table.
const VOLATILE: &[&str] = &[
    "random(",
    "rand(",
    "gen_random_uuid(",
    "uuid_generate_v",
    "uuid(",
    "clock_timestamp(",
    "timeofday(",
    "nextval(",
];

/// Classifies the text of a default expression.
pub fn default_kind(text: &str) -> DefaultKind {
    let lower = text.to_ascii_lowercase().replace(' ', "");
    if VOLATILE.iter().any(|f| lower.contains(f)) {
        DefaultKind::Volatile
    } else {
        DefaultKind::Static
    }
}

/// Splits on `;` outside quotes, dollar-quoted bodies and comments, so a function body's
/// inner statements are never read as statements of the migration.
pub fn split_statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut pieces = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => i = skip_quoted(bytes, i),
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = skip_until(bytes, i, b"\n"),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_until(bytes, i + 2, b"*/"),
            b'$' => i = skip_dollar(sql, i),
            b';' => {
                pieces.push(&sql[start..i]);
                start = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    pieces.push(&sql[start..]);
    pieces
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect()
}

pub(crate) fn skip_quoted(bytes: &[u8], at: usize) -> usize {
    let quote = bytes[at];
    let mut i = at + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

pub(crate) fn skip_until(bytes: &[u8], from: usize, end: &[u8]) -> usize {
    let mut i = from;
    while i < bytes.len() {
        if bytes[i..].starts_with(end) {
            return i + end.len();
        }
        i += 1;
    }
    bytes.len()
}

/// `$tag$ ... $tag$` (PostgreSQL). A lone `$` (e.g. `$1`) is an ordinary character.
pub(crate) fn skip_dollar(sql: &str, at: usize) -> usize {
    let rest = &sql[at + 1..];
    let Some(close) = rest.find('$') else {
        return at + 1;
    };
    let tag = &rest[..close];
    if !tag.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return at + 1;
    }
    let delim = format!("${tag}$");
    let body_start = at + delim.len();
    match sql.get(body_start..).and_then(|b| b.find(&delim)) {
        Some(end) => body_start + end + delim.len(),
        None => sql.len(),
    }
}

/// Leading-keyword reading of one statement sqlparser could not parse.
fn fallback(piece: &str) -> Vec<Kind> {
    let words: Vec<String> = piece
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let u: Vec<&str> = upper.iter().map(String::as_str).collect();
    let name_at = |i: usize| words.get(i).map(|w| norm(w.trim_end_matches(';')));
    let kind = match u.as_slice() {
        ["DROP", kind, rest @ ..] => {
            let skip = skip_words(
                rest,
                &["MATERIALIZED", "VIEW", "CONCURRENTLY", "IF", "EXISTS"],
            );
            let obj = match *kind {
                "TABLE" => Obj::Table,
                "VIEW" | "MATERIALIZED" => Obj::View,
                "INDEX" => Obj::Index,
                "TRIGGER" => Obj::Trigger,
                "TYPE" => Obj::Type,
                "SEQUENCE" => Obj::Sequence,
                "FUNCTION" | "PROCEDURE" => Obj::Function,
                _ => Obj::Other,
            };
            Kind::Drop {
                obj,
                name: name_at(2 + skip),
            }
        }
        ["TRUNCATE", rest @ ..] => Kind::Truncate {
            table: name_at(1 + skip_words(rest, &["TABLE", "ONLY"])),
        },
        ["DELETE", "FROM", ..] => Kind::Delete {
            table: name_at(2),
            has_where: u.contains(&"WHERE"),
        },
        ["UPDATE", ..] => Kind::Update {
            table: name_at(1 + skip_words(&u[1..], &["ONLY"])),
            columns: fallback_set_columns(piece),
        },
        ["INSERT", "INTO", ..] => return fallback_insert(&words, &u),
        ["ALTER", "TYPE", _, "ADD", "VALUE", ..] => Kind::AddEnumValue { ty: name_at(2) },
        ["ALTER", "SEQUENCE", ..] => Kind::AlterSequence { name: name_at(2) },
        ["ALTER", "TABLE", rest @ ..] => return fallback_alter(&words[2..], rest),
        ["CREATE", rest @ ..] => return fallback_create(&words, rest),
        _ => Kind::OtherSql,
    };
    vec![kind]
}

/// `INSERT INTO t ... [SELECT ... FROM s]`: the insert, and the copy when it reads a table.
fn fallback_insert(words: &[String], upper: &[&str]) -> Vec<Kind> {
    let into = words.get(2).map(|w| norm(w));
    let mut kinds = vec![Kind::Insert {
        table: into.clone(),
    }];
    let from = upper
        .iter()
        .position(|w| *w == "SELECT")
        .and_then(|s| {
            upper[s..]
                .iter()
                .position(|w| *w == "FROM")
                .map(|f| s + f + 1)
        })
        .and_then(|i| words.get(i))
        .map(|w| norm(w.trim_end_matches(';')));
    if let Some(from) = from {
        kinds.push(Kind::CopyRows {
            from: Some(from),
            into,
        });
    }
    kinds
}

/// Columns assigned by `UPDATE t SET a = ..., b = CASE ... END WHERE ...`, read outside
/// parentheses and quotes so CASE arms and sub-selects are skipped. Empty (unknown) when an
/// assignment target is not a plain column name.
fn fallback_set_columns(piece: &str) -> Vec<String> {
    let flat = top_level(piece).to_ascii_uppercase();
    let words: Vec<&str> = flat.split_whitespace().collect();
    let Some(set) = words.iter().position(|w| *w == "SET") else {
        return Vec::new();
    };
    let clause: Vec<&str> = words[set + 1..]
        .iter()
        .take_while(|w| !matches!(**w, "WHERE" | "FROM" | "RETURNING"))
        .copied()
        .collect();
    let mut columns = Vec::new();
    for assignment in clause.join(" ").split(',') {
        let target = assignment.split('=').next().unwrap_or("").trim();
        if target.is_empty() || target.contains(char::is_whitespace) || !assignment.contains('=') {
            return Vec::new();
        }
        columns.push(norm(target));
    }
    columns
}

/// The statement with everything inside parentheses or quotes blanked out.
fn top_level(sql: &str) -> String {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    sql.chars()
        .map(|c| match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                ' '
            }
            (Some(_), _) => ' ',
            (None, '\'' | '"' | '`') => {
                quote = Some(c);
                ' '
            }
            (None, '(') => {
                depth += 1;
                ' '
            }
            (None, ')') => {
                depth = depth.saturating_sub(1);
                ' '
            }
            (None, _) if depth > 0 => ' ',
            (None, c) => c,
        })
        .collect()
}

fn skip_words(words: &[&str], skippable: &[&str]) -> usize {
    words.iter().take_while(|w| skippable.contains(w)).count()
}

fn fallback_create(words: &[String], rest: &[&str]) -> Vec<Kind> {
    let skip = skip_words(
        rest,
        &[
            "OR",
            "REPLACE",
            "UNIQUE",
            "MATERIALIZED",
            "CONSTRAINT",
            "TEMP",
            "TEMPORARY",
        ],
    );
    let Some(kind) = rest.get(skip) else {
        return vec![Kind::OtherSql];
    };
    let after = &rest[skip + 1..];
    let extra = skip_words(after, &["CONCURRENTLY", "IF", "NOT", "EXISTS"]);
    let name = words.get(2 + skip + extra).map(|w| norm(w));
    let obj = match *kind {
        "TABLE" => Obj::Table,
        "VIEW" => Obj::View,
        "TRIGGER" => Obj::Trigger,
        "TYPE" => Obj::Type,
        "SEQUENCE" => Obj::Sequence,
        "FUNCTION" | "PROCEDURE" => Obj::Function,
        "INDEX" => {
            let table = rest
                .iter()
                .position(|w| *w == "ON")
                .and_then(|i| words.get(2 + i))
                .map(|w| norm(w));
            return vec![Kind::CreateIndex {
                name,
                table,
                unique: rest[..skip].contains(&"UNIQUE"),
                concurrently: after.contains(&"CONCURRENTLY"),
            }];
        }
        _ => Obj::Other,
    };
    vec![Kind::Create {
        obj,
        name,
        table: None,
    }]
}

fn fallback_alter(words: &[String], upper: &[&str]) -> Vec<Kind> {
    let skip = skip_words(upper, &["IF", "EXISTS", "ONLY"]);
    let table = words.get(skip).map(|w| norm(w));
    let at = |i: usize| words.get(i).map(|w| norm(w.trim_end_matches(';')));
    let mut kinds = Vec::new();
    for (i, w) in upper.iter().enumerate() {
        let next = upper.get(i + 1).copied();
        match (*w, next) {
            ("DROP", Some("COLUMN")) => {
                let skip = skip_words(&upper[i + 2..], &["IF", "EXISTS"]);
                kinds.push(Kind::DropColumn {
                    table: table.clone(),
                    column: at(i + 2 + skip),
                });
            }
            ("DROP", Some("CONSTRAINT")) => kinds.push(Kind::DropConstraint {
                name: at(i + 2),
                table: table.clone(),
                cons: Cons::Unknown,
            }),
            ("DROP", Some("FOREIGN")) => kinds.push(Kind::DropConstraint {
                name: at(i + 3),
                table: table.clone(),
                cons: Cons::ForeignKey,
            }),
            ("SET", Some("NOT")) | ("DROP", Some("NOT")) => {
                let column = upper[..i]
                    .iter()
                    .rposition(|w| *w == "COLUMN")
                    .and_then(|c| at(c + 1));
                let kind = if *w == "SET" {
                    Kind::SetNotNull {
                        table: table.clone(),
                        column,
                    }
                } else {
                    Kind::DropNotNull {
                        table: table.clone(),
                        column,
                    }
                };
                kinds.push(kind);
            }
            ("RENAME", Some("TO")) => kinds.push(Kind::RenameTable {
                from: table.clone(),
                to: at(i + 2),
            }),
            ("RENAME", Some("COLUMN")) => kinds.push(Kind::RenameColumn {
                table: table.clone(),
                from: at(i + 2),
                to: at(i + 4),
            }),
            ("CASCADE", _) if i > 1 && upper[i - 2] == "ON" && upper[i - 1] == "DELETE" => {
                kinds.push(Kind::Cascade)
            }
            _ => {}
        }
    }
    if kinds.is_empty() {
        kinds.push(Kind::OtherSql);
    }
    kinds
}

/// A statement of a migration script that a down migration has nothing to undo for, read by
/// its leading words: transaction control, session settings, maintenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`, `END`, `ROLLBACK` (not `ROLLBACK TO SAVEPOINT`).
    End,
    /// `SET`, `RESET`, `SAVEPOINT`, `PRAGMA`, `LOCK`, ...: no lasting logical effect.
    Session,
    /// `ALTER TABLE ... VALIDATE CONSTRAINT`, `ANALYZE`, `REFRESH MATERIALIZED VIEW`,
    /// `CLUSTER`, `REINDEX`: they change no schema and no row a downgrade could restore.
    Maintenance,
}

fn leading_words(piece: &str, n: usize) -> Vec<String> {
    piece
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';' | '='))
        .filter(|w| !w.is_empty())
        .take(n)
        .map(str::to_ascii_uppercase)
        .collect()
}

/// Reads a statement as transaction control or a session setting.
pub fn control(piece: &str) -> Option<Control> {
    let words = leading_words(piece, 8);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    Some(match w.as_slice() {
        ["BEGIN", ..] | ["START", "TRANSACTION", ..] => Control::Begin,
        ["ROLLBACK", "TO", ..] => Control::Session,
        ["COMMIT" | "END" | "ROLLBACK", ..] => Control::End,
        ["SET" | "RESET" | "SAVEPOINT" | "RELEASE" | "PRAGMA" | "LOCK" | "SHOW" | "EXPLAIN"
        | "CHECKPOINT" | "DISCARD" | "USE", ..] => Control::Session,
        ["ANALYZE" | "ANALYSE" | "CLUSTER" | "REINDEX", ..]
        | ["REFRESH", "MATERIALIZED", "VIEW", ..] => Control::Maintenance,
        ["ALTER", "TABLE", rest @ ..] if rest.contains(&"VALIDATE") => Control::Maintenance,
        _ => return None,
    })
}

/// A PostgreSQL statement that fails inside a transaction block, other than
/// `CREATE INDEX CONCURRENTLY` (which [`Kind::CreateIndex`] carries).
pub fn refused_in_transaction(piece: &str) -> Option<&'static str> {
    let words = leading_words(piece, 6);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["DROP", "INDEX", "CONCURRENTLY", ..] => Some("DROP INDEX CONCURRENTLY"),
        ["REINDEX", rest @ ..] if rest.contains(&"CONCURRENTLY") => Some("REINDEX CONCURRENTLY"),
        ["VACUUM", ..] => Some("VACUUM"),
        _ => None,
    }
}

/// Functions that only compute: calling them from a query changes nothing.
const PURE: &[&str] = &[
    "abs",
    "all",
    "and",
    "any",
    "array",
    "array_agg",
    "as",
    "avg",
    "case",
    "cast",
    "ceil",
    "char_length",
    "coalesce",
    "concat",
    "count",
    "current_date",
    "current_setting",
    "current_timestamp",
    "date_trunc",
    "else",
    "exists",
    "extract",
    "filter",
    "floor",
    "format",
    "from",
    "generate_series",
    "greatest",
    "group",
    "in",
    "join",
    "json_agg",
    "json_build_object",
    "jsonb_agg",
    "jsonb_build_object",
    "lateral",
    "least",
    "length",
    "lower",
    "max",
    "min",
    "not",
    "now",
    "nullif",
    "on",
    "or",
    "over",
    "partition",
    "pg_typeof",
    "rank",
    "round",
    "row",
    "row_number",
    "select",
    "string_agg",
    "substr",
    "substring",
    "sum",
    "then",
    "to_char",
    "to_date",
    "to_timestamp",
    "trim",
    "unnest",
    "upper",
    "using",
    "values",
    "version",
    "when",
    "where",
    "with",
];

/// A statement whose effect mrt cannot model but which may change the database: a `DO` block,
/// `CALL`/`EXECUTE`, or a query that calls a function other than the pure ones
/// (`SELECT create_hypertable('t', 'at')`, `SELECT audit.enable('users')`).
pub fn may_have_effects(piece: &str) -> bool {
    let first = leading_words(piece, 1);
    if matches!(
        first.first().map(String::as_str),
        Some("DO" | "CALL" | "EXEC" | "EXECUTE" | "PERFORM")
    ) {
        return true;
    }
    let bytes = piece.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => i = skip_quoted(bytes, i),
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = skip_until(bytes, i, b"\n"),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_until(bytes, i + 2, b"*/"),
            b'$' => i = skip_dollar(piece, i),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = piece[start..i].to_ascii_lowercase();
                let called = piece[i..].trim_start().starts_with('(');
                if called && !PURE.contains(&word.as_str()) {
                    return true;
                }
            }
            _ => i += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_dollar_bodies() {
        let sql = "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN DELETE FROM x; RETURN NEW; END $$ LANGUAGE plpgsql; SELECT ';'";
        let pieces = split_statements(sql);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
    }

    #[test]
    fn reads_destructive_statements() {
        let kinds = classify(
            "ALTER TABLE users DROP COLUMN email; DROP TABLE IF EXISTS \"Old\"",
            Dialect::Postgresql,
        );
        assert!(kinds.contains(&Kind::DropColumn {
            table: Some("users".into()),
            column: Some("email".into())
        }));
        assert!(kinds.contains(&Kind::Drop {
            obj: Obj::Table,
            name: Some("old".into())
        }));
    }

    #[test]
    fn reads_control_statements_and_effects() {
        assert_eq!(control("BEGIN"), Some(Control::Begin));
        assert_eq!(control("start transaction"), Some(Control::Begin));
        assert_eq!(control("COMMIT"), Some(Control::End));
        assert_eq!(control("ROLLBACK TO SAVEPOINT a"), Some(Control::Session));
        assert_eq!(control("SET lock_timeout = '1s'"), Some(Control::Session));
        assert_eq!(control("SELECT 1"), None);
        assert_eq!(
            control("ALTER TABLE ONLY orders VALIDATE CONSTRAINT fk"),
            Some(Control::Maintenance)
        );
        assert_eq!(
            control("ALTER TABLE orders ADD COLUMN validated bool"),
            None
        );
        assert_eq!(
            refused_in_transaction("DROP INDEX CONCURRENTLY IF EXISTS ix"),
            Some("DROP INDEX CONCURRENTLY")
        );
        assert_eq!(refused_in_transaction("DROP INDEX ix"), None);
        assert!(may_have_effects("DO $$ BEGIN PERFORM 1; END $$"));
        assert!(may_have_effects("SELECT create_hypertable('t', 'at')"));
        assert!(!may_have_effects("SELECT 1"));
        assert!(!may_have_effects(
            "SELECT count(*) FROM t WHERE x IN (1, 2)"
        ));
        assert!(!may_have_effects("SELECT 'drop_all()' -- f()"));
    }

    #[test]
    fn fallback_reads_unparseable_sql() {
        let kinds = fallback("ALTER SEQUENCE s RESTART WITH 5");
        assert_eq!(
            kinds,
            vec![Kind::AlterSequence {
                name: Some("s".into())
            }]
        );
        let kinds = fallback("DROP TABLE IF EXISTS foo CASCADE");
        assert_eq!(
            kinds,
            vec![Kind::Drop {
                obj: Obj::Table,
                name: Some("foo".into())
            }]
        );
    }
}
