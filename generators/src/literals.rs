//! Literal mining: the constants a revision compares columns with are the values its downgrade
//! treats specially (`DELETE ... WHERE status = 'deleted'`, `UPDATE ... WHERE price > 100`), so
//! seeding rows that hold them is what makes such a data loss visible. Reads Python with the
//! rustpython lexer (never imports or runs it) and the SQL inside its strings with sqlparser.

use crate::constraints::literal;
use crate::strategy::like_example;
use rustpython_parser::lexer::lex;
use rustpython_parser::{Mode, Tok};
use sqlparser::ast::{visit_expressions, BinaryOperator, Expr};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

/// Values worth seeding, found in a revision's source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Literals {
    /// Column name (lower case, unqualified) → values it was compared with, as text.
    pub columns: BTreeMap<String, BTreeSet<String>>,
    /// Short string constants from the source, for text columns now and then.
    pub strings: BTreeSet<String>,
    /// Number constants from the source, as written (`42`, `3.5`).
    pub numbers: BTreeSet<String>,
    /// Columns (lower case) the source tests for NULL (`IS NULL`, `== None`, `.is_(None)`,
    /// `isnull=True`): a downgrade that deletes such rows shows only on rows holding NULL.
    pub nulls: BTreeSet<String>,
    /// Columns (lower case) the source uses as a mapping (`row["settings"].get(...)`,
    /// `**row.settings`): JSON values there are objects, so the code does not crash on them.
    pub objects: BTreeSet<String>,
    /// Table → column → values the source's own `INSERT ... VALUES` puts there (lower-case
    /// names): a data migration's fixed rows. Generated rows keep clear of them in unique
    /// columns, or the migration's own insert would collide with rows mrt seeded.
    pub inserted: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Column → values an ORM call of the source creates a row with (`Category(id=1, ...)`,
    /// `objects.create(slug="x")`, `get_or_create(...)`), table unknown: kept clear of in
    /// every table's unique column of that name, for the same reason as [`Self::inserted`].
    pub created: BTreeMap<String, BTreeSet<String>>,
}

impl Literals {
    /// Candidates for a column (case-insensitive name), empty when none were mined.
    pub fn for_column(&self, name: &str) -> Vec<String> {
        self.columns
            .get(&name.to_ascii_lowercase())
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Values the source inserts into `table.column` (case-insensitive), by SQL or an ORM call.
    pub fn inserted_into(&self, table: &str, column: &str) -> Vec<String> {
        let column = column.to_ascii_lowercase();
        let by_sql = (self.inserted.get(&table.to_ascii_lowercase()))
            .and_then(|columns| columns.get(&column));
        let by_orm = self.created.get(&column);
        by_sql
            .into_iter()
            .chain(by_orm)
            .flatten()
            .cloned()
            .collect()
    }

    /// Whether the source tests this column (case-insensitive) for NULL.
    pub fn wants_null(&self, name: &str) -> bool {
        self.nulls.contains(&name.to_ascii_lowercase())
    }

    /// Whether the source uses this column (case-insensitive) as a mapping.
    pub fn wants_object(&self, name: &str) -> bool {
        self.objects.contains(&name.to_ascii_lowercase())
    }

    fn add(&mut self, column: &str, value: String) {
        if let Some(column) = bare(column) {
            self.columns.entry(column).or_default().insert(value);
        }
    }

    fn add_null(&mut self, column: &str) {
        if let Some(column) = bare(column) {
            self.nulls.insert(column);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
            && self.strings.is_empty()
            && self.numbers.is_empty()
            && self.nulls.is_empty()
            && self.objects.is_empty()
            && self.inserted.is_empty()
            && self.created.is_empty()
    }
}

/// `users.c."Status"` -> `status`; `None` when nothing is left.
fn bare(column: &str) -> Option<String> {
    let column = column.rsplit('.').next().unwrap_or(column);
    let column = column
        .trim_matches(['"', '`', '[', ']'])
        .to_ascii_lowercase();
    (!column.is_empty()).then_some(column)
}

/// Longest string constant kept as a loose candidate: longer ones are docstrings and SQL.
const LOOSE_MAX: usize = 64;

/// Mines string and number constants from Python sources, column comparisons from the SQL in
/// their strings (or from plain SQL sources), and Python comparisons such as
/// `table.c.status == 'deleted'` or Django's `filter(status='deleted')`. Never fails: text that
/// does not lex or parse simply yields less.
pub fn mine_literals(sources: &[&str]) -> Literals {
    let mut out = Literals::default();
    for src in sources {
        let mut tokens: Vec<Tok> = Vec::new();
        let mut lexed_all = true;
        for tok in lex(src, Mode::Module) {
            match tok {
                Ok((tok, _)) => tokens.push(tok),
                Err(_) => {
                    lexed_all = false;
                    break;
                }
            }
        }
        if !lexed_all || looks_like_sql(src) {
            // Perhaps a plain SQL migration (which often lexes as Python too).
            mine_sql(src, &mut out);
        }
        python_tokens(&tokens, &mut out);
    }
    out
}

fn python_tokens(tokens: &[Tok], out: &mut Literals) {
    for (i, tok) in tokens.iter().enumerate() {
        match tok {
            Tok::String { value, .. } => {
                let value = unescape(value);
                if looks_like_sql(&value) {
                    mine_sql(&value, out);
                } else if value.chars().count() <= LOOSE_MAX && !value.contains('\n') {
                    out.strings.insert(value.clone());
                }
                python_comparison(tokens, i, &value, out);
            }
            Tok::Int { value } => {
                let text = value.to_string();
                python_comparison(tokens, i, &text, out);
                out.numbers.insert(text);
            }
            Tok::Float { value } => {
                let text = format!("{value:?}");
                python_comparison(tokens, i, &text, out);
                out.numbers.insert(text);
            }
            Tok::Lsqb | Tok::Lpar => in_call(tokens, i, out),
            Tok::None => python_null(tokens, i, out),
            Tok::True => django_isnull(tokens, i, out),
            Tok::Dot => mapping_use(tokens, i, out),
            Tok::DoubleStar => unpacked(tokens, i, out),
            _ => {}
        }
    }
}

/// `x == None`, `x is None`, `x.is_(None)`, `x.is_not(None)` with `None` at `i`.
fn python_null(tokens: &[Tok], i: usize, out: &mut Literals) {
    let at = |k: usize| i.checked_sub(k).and_then(|j| tokens.get(j));
    match (at(1), at(2), at(3), at(4)) {
        (Some(Tok::EqEqual | Tok::NotEqual | Tok::Is), ..) => {
            if let Some(subject) = subject_before(tokens, i - 1) {
                out.add_null(&subject);
            }
        }
        (Some(Tok::Not), Some(Tok::Is), ..) => {
            if let Some(subject) = subject_before(tokens, i - 2) {
                out.add_null(&subject);
            }
        }
        (
            Some(Tok::Lpar),
            Some(Tok::Name { name: method }),
            Some(Tok::Dot),
            Some(Tok::Name { name }),
        ) if ["is_", "is_not", "isnot"].contains(&method.as_str()) => {
            out.add_null(name);
        }
        _ => {}
    }
}

/// Django's `filter(deleted_at__isnull=True)` with `True` at `i`.
fn django_isnull(tokens: &[Tok], i: usize, out: &mut Literals) {
    let at = |k: usize| i.checked_sub(k).and_then(|j| tokens.get(j));
    if let (Some(Tok::Equal), Some(Tok::Name { name })) = (at(1), at(2)) {
        if let Some(column) = name.strip_suffix("__isnull") {
            out.add_null(column);
        }
    }
}

/// Methods only a mapping has, called on a column's value: `row["settings"].get(...)`,
/// `row.settings.items()`, `settings.get(...)` (a variable named after the column).
fn mapping_use(tokens: &[Tok], i: usize, out: &mut Literals) {
    let Some(Tok::Name { name: method }) = tokens.get(i + 1) else {
        return;
    };
    if !["get", "items", "keys", "values", "setdefault"].contains(&method.as_str()) {
        return;
    }
    let Some(before) = i.checked_sub(1) else {
        return;
    };
    let column = match (
        tokens.get(before),
        before.checked_sub(1).and_then(|j| tokens.get(j)),
    ) {
        (Some(Tok::Rsqb), Some(Tok::String { value, .. })) => value.clone(),
        (Some(Tok::Name { name }), _) => name.to_string(),
        _ => return,
    };
    if let Some(column) = bare(&column) {
        out.objects.insert(column);
    }
}

/// `**row["settings"]`, `**row.settings`, `**settings` with `**` at `i`.
fn unpacked(tokens: &[Tok], i: usize, out: &mut Literals) {
    let mut column = None;
    for tok in tokens[i + 1..].iter().take(6) {
        match tok {
            Tok::Name { name } => column = Some(name.to_string()),
            Tok::String { value, .. } => column = Some(value.clone()),
            Tok::Dot | Tok::Lsqb | Tok::Rsqb => {}
            _ => break,
        }
    }
    if let Some(column) = column.as_deref().and_then(bare) {
        out.objects.insert(column);
    }
}

/// `x == 'v'`, `x > 5`, `x != 'v'` (and `column('x') == 'v'`) with the literal at `i`; also
/// Django lookups `status='v'`, `amount__gt=5` inside a call.
fn python_comparison(tokens: &[Tok], i: usize, value: &str, out: &mut Literals) {
    let Some(op_index) = i.checked_sub(1) else {
        return;
    };
    let op = &tokens[op_index];
    let compares = matches!(
        op,
        Tok::EqEqual
            | Tok::NotEqual
            | Tok::Less
            | Tok::LessEqual
            | Tok::Greater
            | Tok::GreaterEqual
    );
    let keyword = matches!(op, Tok::Equal) && inside_call(tokens, op_index);
    let minus = matches!(op, Tok::Minus);
    if minus {
        // `x > -5`: treat as the comparison with a negative number.
        if i >= 2 {
            python_comparison(tokens, i - 1, &format!("-{value}"), out);
        }
        return;
    }
    if !(compares || keyword) {
        return;
    }
    let Some(subject) = subject_before(tokens, op_index) else {
        return;
    };
    let subject = if keyword {
        // Django lookups: `status__in`, `email__endswith` name the column before `__`.
        subject.split("__").next().unwrap_or(&subject).to_string()
    } else {
        subject
    };
    if keyword && creates_row(tokens, op_index) {
        if let Some(column) = bare(&subject) {
            out.created
                .entry(column)
                .or_default()
                .insert(value.to_string());
        }
    }
    out.add(&subject, value.to_string());
    if matches!(
        op,
        Tok::Less | Tok::LessEqual | Tok::Greater | Tok::GreaterEqual
    ) {
        for v in around(value) {
            out.add(&subject, v);
        }
    }
}

/// The name a comparison's left side refers to: `status`, `users.c.status`, `column('status')`.
fn subject_before(tokens: &[Tok], op_index: usize) -> Option<String> {
    let prev = tokens.get(op_index.checked_sub(1)?)?;
    match prev {
        Tok::Name { name } => Some(name.to_string()),
        Tok::Rpar => match (
            tokens.get(op_index.checked_sub(2)?),
            tokens.get(op_index.checked_sub(3)?),
        ) {
            (Some(Tok::String { value, .. }), Some(Tok::Lpar)) => Some(value.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the keyword argument at `i` is one of a call that creates a row: a model
/// constructor (`Category(id=1, ...)`) or `create`, `get_or_create`, `update_or_create`.
fn creates_row(tokens: &[Tok], i: usize) -> bool {
    let mut depth = 0i32;
    for (j, tok) in tokens[..i].iter().enumerate().rev() {
        match tok {
            Tok::Rpar | Tok::Rsqb => depth += 1,
            Tok::Lpar if depth == 0 => {
                let Some(Tok::Name { name }) = j.checked_sub(1).and_then(|k| tokens.get(k)) else {
                    return false;
                };
                let constructor = name.chars().next().is_some_and(char::is_uppercase);
                return constructor
                    || ["create", "get_or_create", "update_or_create"].contains(&name.as_str());
            }
            Tok::Lpar | Tok::Lsqb => depth -= 1,
            Tok::Newline => return false,
            _ => {}
        }
    }
    false
}

/// Whether the token at `i` is inside an unclosed `(` on its line of tokens.
fn inside_call(tokens: &[Tok], i: usize) -> bool {
    let mut depth = 0i32;
    for tok in tokens[..i].iter().rev() {
        match tok {
            Tok::Rpar | Tok::Rsqb => depth += 1,
            Tok::Lpar if depth == 0 => return true,
            Tok::Lpar | Tok::Lsqb => depth -= 1,
            Tok::Newline => return false,
            _ => {}
        }
    }
    false
}

/// `x.in_(['a', 'b'])`, `x.like('%@example.com')`, `status__in=['a', 'b']`: every literal in
/// the list belongs to x (LIKE patterns turned into a matching value).
fn in_call(tokens: &[Tok], i: usize, out: &mut Literals) {
    let at = |k: usize| i.checked_sub(k).and_then(|j| tokens.get(j));
    let method = match (at(1), at(2), at(3)) {
        (Some(Tok::Name { name: method }), Some(Tok::Dot), Some(Tok::Name { name: column }))
            if matches!(tokens[i], Tok::Lpar) =>
        {
            let method = method.to_string();
            ["in_", "like", "ilike", "startswith", "endswith", "contains"]
                .contains(&method.as_str())
                .then(|| (column.to_string(), method))
        }
        (Some(Tok::Equal), Some(Tok::Name { name }), _) if name.ends_with("__in") => {
            Some((name.trim_end_matches("__in").to_string(), "in_".to_string()))
        }
        _ => None,
    };
    let Some((column, method)) = method else {
        return;
    };
    let close = match tokens[i] {
        Tok::Lsqb => Tok::Rsqb,
        _ => Tok::Rpar,
    };
    for tok in &tokens[i + 1..] {
        match tok {
            t if *t == close => break,
            Tok::String { value, .. } => {
                let value = unescape(value);
                let value = match method.as_str() {
                    "like" | "ilike" => like_example(&value),
                    _ => value,
                };
                out.add(&column, value);
            }
            Tok::Int { value } => out.add(&column, value.to_string()),
            Tok::Float { value } => out.add(&column, format!("{value:?}")),
            Tok::Comma | Tok::Lsqb | Tok::Lpar => {}
            _ => break,
        }
    }
}

/// For `x > 5`: 5 itself and its neighbours, so rows sit on both sides of the boundary.
fn around(value: &str) -> Vec<String> {
    if let Ok(n) = value.parse::<i64>() {
        return [n.checked_sub(1), n.checked_add(1)]
            .into_iter()
            .flatten()
            .map(|v| v.to_string())
            .collect();
    }
    Vec::new()
}

/// The lexer keeps a string's escapes as written; undo the common ones.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn looks_like_sql(s: &str) -> bool {
    let upper = s.trim_start().to_ascii_uppercase();
    [
        "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "CREATE", "ALTER", "DROP", "MERGE",
        "REPLACE",
    ]
    .iter()
    .any(|k| upper.starts_with(k))
        || upper.contains(" WHERE ")
        || upper.contains(" = ")
        || upper.contains(" IN (")
        || upper.contains(" LIKE ")
}

/// Comparisons in SQL text: whole statements, or else a bare condition (`status = 'x'`, as in
/// `sa.text(...)` or a `postgresql_where`).
fn mine_sql(sql: &str, out: &mut Literals) {
    let dialect = GenericDialect {};
    if let Ok(statements) = Parser::parse_sql(&dialect, sql) {
        mine_statements(&statements, out);
        return;
    }
    // A whole file with one statement the generic grammar does not know: each piece alone.
    let pieces: Vec<&str> = sql.split(';').filter(|p| !p.trim().is_empty()).collect();
    if pieces.len() > 1 {
        for piece in pieces {
            if let Ok(statements) = Parser::parse_sql(&dialect, piece) {
                mine_statements(&statements, out);
            }
        }
        return;
    }
    let mut visit = |expr: &Expr| {
        sql_comparison(expr, out);
        ControlFlow::<()>::Continue(())
    };
    let condition = Parser::new(&dialect)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr());
    if let Ok(expr) = condition {
        let _ = visit_expressions(&expr, &mut visit);
    }
}

fn mine_statements(statements: &[sqlparser::ast::Statement], out: &mut Literals) {
    for statement in statements {
        let _ = visit_expressions(statement, &mut |expr: &Expr| {
            sql_comparison(expr, out);
            ControlFlow::<()>::Continue(())
        });
        if let sqlparser::ast::Statement::Insert(insert) = statement {
            inserted_values(insert, out);
        }
    }
}

/// `INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')`: the constants per column of `t`.
fn inserted_values(insert: &sqlparser::ast::Insert, out: &mut Literals) {
    let sqlparser::ast::TableObject::TableName(table) = &insert.table else {
        return;
    };
    let Some(table) = table.0.last().map(|p| p.to_string()).and_then(|t| bare(&t)) else {
        return;
    };
    let Some(source) = &insert.source else {
        return;
    };
    let sqlparser::ast::SetExpr::Values(values) = source.body.as_ref() else {
        return;
    };
    let columns: Vec<Option<String>> = (insert.columns.iter())
        .map(|c| c.0.last().map(|p| p.to_string()).and_then(|c| bare(&c)))
        .collect();
    for row in &values.rows {
        for (column, expr) in columns.iter().zip(&row.content) {
            if let (Some(column), Some(value)) = (column, literal(expr)) {
                let per_table = out.inserted.entry(table.clone()).or_default();
                per_table.entry(column.clone()).or_default().insert(value);
            }
        }
    }
}

fn name_of(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|p| p.value.clone()),
        Expr::Nested(inner) => name_of(inner),
        Expr::Cast { expr, .. } => name_of(expr),
        Expr::Function(f) => {
            // lower(email) = 'x' still tells us about email.
            let sqlparser::ast::FunctionArguments::List(list) = &f.args else {
                return None;
            };
            match list.args.as_slice() {
                [sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(e))] => {
                    name_of(e)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn sql_comparison(expr: &Expr, out: &mut Literals) {
    match expr {
        Expr::BinaryOp { left, op, right } => {
            let ordered = matches!(
                op,
                BinaryOperator::Gt
                    | BinaryOperator::GtEq
                    | BinaryOperator::Lt
                    | BinaryOperator::LtEq
            );
            if !(ordered || matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq)) {
                return;
            }
            let pair = match (name_of(left), literal(right), name_of(right), literal(left)) {
                (Some(c), Some(v), _, _) => Some((c, v)),
                (_, _, Some(c), Some(v)) => Some((c, v)),
                _ => None,
            };
            if let Some((column, value)) = pair {
                if ordered {
                    for v in around(&value) {
                        out.add(&column, v);
                    }
                }
                out.add(&column, value);
            }
        }
        Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
            if let Some(column) = name_of(inner) {
                out.add_null(&column);
            }
        }
        Expr::InList { expr, list, .. } => {
            if let Some(column) = name_of(expr) {
                for v in list.iter().filter_map(literal) {
                    out.add(&column, v);
                }
            }
        }
        Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
            if let (Some(column), Some(p)) = (name_of(expr), literal(pattern)) {
                out.add(&column, like_example(&p));
            }
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            if let Some(column) = name_of(expr) {
                for v in [literal(low), literal(high)].into_iter().flatten() {
                    out.add(&column, v);
                }
            }
        }
        _ => {}
    }
}
