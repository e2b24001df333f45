//! Reads what SQLite's pragmas do not expose out of the stored `CREATE TABLE` / `CREATE INDEX`
//! text: CHECK conditions, constraint names, index expressions and partial-index predicates.

use sqlparser::ast::{
    ColumnOption, Expr, ForeignKeyConstraint, Ident, IndexColumn, ObjectName, Statement,
    TableConstraint, Value as SqlValue,
};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::normalize::normalize_expr;

/// Constraint details of one `CREATE TABLE` statement.
#[derive(Debug, Default)]
pub(crate) struct ParsedTable {
    pub checks: Vec<ParsedCheck>,
    pub uniques: Vec<ParsedNamed>,
    pub foreign_keys: Vec<ParsedForeignKey>,
}

#[derive(Debug)]
pub(crate) struct ParsedCheck {
    pub name: Option<String>,
    /// Normalised condition text.
    pub expression: String,
    /// `(column, values)` when the condition is `column IN ('a', 'b', ...)`.
    pub enum_values: Option<(String, Vec<String>)>,
}

#[derive(Debug)]
pub(crate) struct ParsedNamed {
    pub name: Option<String>,
    pub columns: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct ParsedForeignKey {
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub ref_table: String,
}

/// Key parts and predicate of one `CREATE INDEX` statement.
#[derive(Debug, Default)]
pub(crate) struct ParsedIndex {
    /// Normalised text of each key part's expression (without ASC/DESC).
    pub columns: Vec<String>,
    pub predicate: Option<String>,
}

/// Remove `ON CONFLICT <resolution>` clauses, which SQLite allows after constraints but
/// sqlparser does not parse; they do not affect anything mrt models.
fn strip_on_conflict(sql: &str) -> String {
    if !sql.to_uppercase().contains("CONFLICT") {
        return sql.to_string();
    }
    let Ok(tokens) = Tokenizer::new(&SQLiteDialect {}, sql).tokenize() else {
        return sql.to_string();
    };
    let is_word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    // Indices of non-whitespace tokens, to look ahead past spaces and comments.
    let significant: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t, Token::Whitespace(_)))
        .map(|(i, _)| i)
        .collect();
    let mut skip = vec![false; tokens.len()];
    for w in significant.windows(3) {
        if is_word(&tokens[w[0]], "ON")
            && is_word(&tokens[w[1]], "CONFLICT")
            && matches!(&tokens[w[2]], Token::Word(_))
        {
            skip[w[0]..=w[2]].fill(true);
        }
    }
    tokens
        .iter()
        .zip(skip)
        .filter(|(_, s)| !s)
        .map(|(t, _)| t.to_string())
        .collect()
}

/// Remove every column's declared type from a `CREATE TABLE`. SQLite accepts any words as a type
/// (`UNSIGNED BIG INT`, `VARYING CHARACTER(255)`) and sqlparser does not; types come from the
/// pragma anyway, so when parsing fails we retry without them. `None` if the text does not
/// tokenize.
fn strip_column_types(sql: &str) -> Option<String> {
    const STARTS_CONSTRAINT: [&str; 12] = [
        "CONSTRAINT",
        "PRIMARY",
        "NOT",
        "NULL",
        "UNIQUE",
        "CHECK",
        "DEFAULT",
        "COLLATE",
        "REFERENCES",
        "GENERATED",
        "AS",
        "FOREIGN",
    ];
    let tokens = Tokenizer::new(&SQLiteDialect {}, sql).tokenize().ok()?;
    let mut out = String::with_capacity(sql.len());
    let mut depth = 0usize;
    // 0: not in a column; 1: expecting the column name; 2: in the type; 3: in constraints.
    let mut state = 0u8;
    let mut skip_depth: Option<usize> = None;
    for token in &tokens {
        if let Some(d) = skip_depth {
            match token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == d {
                        skip_depth = None;
                    }
                }
                _ => {}
            }
            continue;
        }
        match token {
            Token::LParen => {
                if depth == 1 && state == 2 {
                    // Type arguments: `(255)`, `(12, 2)`.
                    skip_depth = Some(depth);
                    depth += 1;
                    continue;
                }
                depth += 1;
                if depth == 1 {
                    state = 1;
                }
            }
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 1 => state = 1,
            Token::Whitespace(_) => {}
            Token::Word(w) if depth == 1 => match state {
                1 => {
                    let is_table_constraint = w.quote_style.is_none()
                        && ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
                            .iter()
                            .any(|k| w.value.eq_ignore_ascii_case(k));
                    state = if is_table_constraint { 0 } else { 2 };
                }
                2 => {
                    if w.quote_style.is_none()
                        && STARTS_CONSTRAINT
                            .iter()
                            .any(|k| w.value.eq_ignore_ascii_case(k))
                    {
                        state = 3;
                    } else {
                        continue;
                    }
                }
                _ => {}
            },
            _ => {
                if depth == 1 && state == 2 {
                    state = 3;
                }
            }
        }
        out.push_str(&token.to_string());
    }
    Some(out)
}

fn single_statement(sql: &str) -> Result<Statement, String> {
    let sql = strip_on_conflict(sql);
    let parsed =
        Parser::parse_sql(&SQLiteDialect {}, &sql).or_else(|first| {
            match strip_column_types(&sql) {
                Some(stripped) if stripped != sql => {
                    Parser::parse_sql(&SQLiteDialect {}, &stripped).map_err(|_| first)
                }
                _ => Err(first),
            }
        });
    let mut stmts = parsed.map_err(|e| e.to_string())?;
    if stmts.len() != 1 {
        return Err(format!("expected one statement, found {}", stmts.len()));
    }
    stmts.pop().ok_or_else(|| "no statement".to_string())
}

fn expr_text(expr: &Expr) -> String {
    normalize_expr(&SQLiteDialect {}, &expr.to_string())
}

fn ident_name(ident: &Ident) -> String {
    ident.value.clone()
}

fn object_last_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map(ident_name)
        .unwrap_or_else(|| name.to_string())
}

fn index_column_name(col: &IndexColumn) -> String {
    match &col.column.expr {
        Expr::Identifier(id) => ident_name(id),
        other => expr_text(other),
    }
}

/// `col IN ('a', 'b')` with only string literals -> (col, [a, b]).
fn enum_values(expr: &Expr) -> Option<(String, Vec<String>)> {
    let expr = match expr {
        Expr::Nested(inner) => inner.as_ref(),
        e => e,
    };
    let Expr::InList {
        expr,
        list,
        negated: false,
    } = expr
    else {
        return None;
    };
    let column = match expr.as_ref() {
        Expr::Identifier(id) => ident_name(id),
        _ => return None,
    };
    let values = list
        .iter()
        .map(|item| match item {
            Expr::Value(v) => match &v.value {
                SqlValue::SingleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some((column, values))
}

fn check(name: Option<&Ident>, expr: &Expr) -> ParsedCheck {
    ParsedCheck {
        name: name.map(ident_name),
        expression: expr_text(expr),
        enum_values: enum_values(expr),
    }
}

fn foreign_key(
    outer_name: Option<&Ident>,
    fk: &ForeignKeyConstraint,
    columns: Vec<String>,
) -> ParsedForeignKey {
    ParsedForeignKey {
        name: fk.name.as_ref().or(outer_name).map(ident_name),
        columns,
        ref_table: object_last_name(&fk.foreign_table),
    }
}

/// Parse a `CREATE TABLE` statement as stored in `sqlite_master.sql`.
pub(crate) fn parse_create_table(sql: &str) -> Result<ParsedTable, String> {
    let Statement::CreateTable(ct) = single_statement(sql)? else {
        return Err("not a CREATE TABLE statement".into());
    };
    let mut out = ParsedTable::default();
    for col in &ct.columns {
        let col_name = ident_name(&col.name);
        for opt in &col.options {
            match &opt.option {
                ColumnOption::Check(c) => {
                    out.checks
                        .push(check(c.name.as_ref().or(opt.name.as_ref()), &c.expr));
                }
                ColumnOption::Unique(u) => out.uniques.push(ParsedNamed {
                    name: u.name.as_ref().or(opt.name.as_ref()).map(ident_name),
                    columns: vec![col_name.clone()],
                }),
                ColumnOption::ForeignKey(fk) => {
                    out.foreign_keys.push(foreign_key(
                        opt.name.as_ref(),
                        fk,
                        vec![col_name.clone()],
                    ));
                }
                _ => {}
            }
        }
    }
    for constraint in &ct.constraints {
        match constraint {
            TableConstraint::Check(c) => out.checks.push(check(c.name.as_ref(), &c.expr)),
            TableConstraint::Unique(u) => out.uniques.push(ParsedNamed {
                name: u.name.as_ref().map(ident_name),
                columns: u.columns.iter().map(index_column_name).collect(),
            }),
            TableConstraint::ForeignKey(fk) => {
                let cols = fk.columns.iter().map(ident_name).collect();
                out.foreign_keys.push(foreign_key(None, fk, cols));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Parse a `CREATE INDEX` statement as stored in `sqlite_master.sql`.
pub(crate) fn parse_create_index(sql: &str) -> Result<ParsedIndex, String> {
    let Statement::CreateIndex(ci) = single_statement(sql)? else {
        return Err("not a CREATE INDEX statement".into());
    };
    Ok(ParsedIndex {
        columns: ci.columns.iter().map(index_column_name).collect(),
        predicate: ci.predicate.as_ref().map(expr_text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_variants() {
        let sqls = [
            "CREATE TABLE t (a, b)",
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, x TEXT)",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT) WITHOUT ROWID",
            "CREATE TABLE [t] (`a` INT, \"b\" TEXT COLLATE NOCASE)",
            "CREATE TABLE t (a INT DEFAULT (datetime('now')), b TEXT NOT NULL ON CONFLICT REPLACE)",
            "CREATE TABLE t (a INT REFERENCES p(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED)",
            "CREATE TABLE t (a INT, UNIQUE (a) ON CONFLICT IGNORE)",
            "CREATE TABLE t (a INT, b INT GENERATED ALWAYS AS (a * 2) STORED)",
            "CREATE TABLE t (a INT PRIMARY KEY ASC, b TEXT CONSTRAINT nn NOT NULL, c DEFAULT -1)",
            "CREATE TABLE t (a PRIMARY KEY, b INTEGER) STRICT",
            "CREATE TABLE IF NOT EXISTS \"t\" (id INTEGER NOT NULL, x BOOLEAN CHECK (x IN (0, 1)), PRIMARY KEY (id))",
            "CREATE TABLE users (\n\tid INTEGER NOT NULL, \n\tname VARCHAR(50) NOT NULL, \n\tcreated DATETIME DEFAULT (CURRENT_TIMESTAMP), \n\tPRIMARY KEY (id), \n\tUNIQUE (name)\n)",
            "CREATE TABLE t (a TEXT NOT NULL ON CONFLICT FAIL UNIQUE ON CONFLICT IGNORE, \"on\" INT)",
            "CREATE TABLE t (a UNSIGNED BIG INT NOT NULL, b VARYING CHARACTER(255) CHECK (b <> ''), \
             c NATIVE CHARACTER (70), CONSTRAINT ck CHECK (a > 0))",
        ];
        for sql in sqls {
            if let Err(e) = parse_create_table(sql) {
                panic!("{sql}: {e}");
            }
        }
    }

    #[test]
    fn reads_constraints() {
        let p = parse_create_table(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, s VARCHAR(5) CONSTRAINT ck_s CHECK (s IN ('a', 'b')), \
             o INT CONSTRAINT fk_o REFERENCES orgs (id), e TEXT UNIQUE, \
             CONSTRAINT uq_so UNIQUE (s, o), CHECK (o > 0), FOREIGN KEY (e) REFERENCES x(y))",
        )
        .unwrap_or_default();
        assert_eq!(p.checks.len(), 2);
        assert_eq!(p.checks[0].name.as_deref(), Some("ck_s"));
        assert_eq!(
            p.checks[0].enum_values,
            Some(("s".to_string(), vec!["a".to_string(), "b".to_string()]))
        );
        assert_eq!(p.checks[1].expression, "o > 0");
        assert_eq!(p.uniques.len(), 2);
        assert_eq!(p.uniques[1].name.as_deref(), Some("uq_so"));
        assert_eq!(p.foreign_keys.len(), 2);
        assert_eq!(p.foreign_keys[0].name.as_deref(), Some("fk_o"));
        assert_eq!(p.foreign_keys[1].ref_table, "x");
    }

    #[test]
    fn multi_word_types_keep_constraints() {
        let p = parse_create_table(
            "CREATE TABLE t (a UNSIGNED BIG INT NOT NULL CHECK (a > 0), b VARYING CHARACTER(255) \
             CONSTRAINT uq_b UNIQUE, CONSTRAINT ck_ab CHECK (a < length(b)))",
        )
        .unwrap_or_default();
        let checks: Vec<_> = p
            .checks
            .iter()
            .map(|c| (c.name.clone(), c.expression.clone()))
            .collect();
        assert_eq!(
            checks,
            [
                (None, "a > 0".to_string()),
                (Some("ck_ab".to_string()), "a < length (b)".to_string())
            ]
        );
        assert_eq!(p.uniques[0].name.as_deref(), Some("uq_b"));
    }

    #[test]
    fn reads_index() {
        let p =
            parse_create_index("CREATE INDEX ix ON t (lower(name), b DESC) WHERE b IS NOT NULL")
                .unwrap_or_default();
        assert_eq!(p.columns, vec!["lower (name)".to_string(), "b".to_string()]);
        assert_eq!(p.predicate.as_deref(), Some("b is not null"));
    }
}
