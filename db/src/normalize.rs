//! Text normalisation for SQL fragments (defaults, CHECK conditions, view and trigger bodies) and
//! type names. A table that Alembic's batch mode rebuilds faithfully comes back with different
//! quoting, spacing and case; normalising both sides makes it compare equal, while any change in
//! tokens (names, literals, operators) still shows.

use sqlparser::dialect::Dialect as SqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Normalised form of a SQL fragment: comments and whitespace dropped, words (keywords and
/// identifiers, quoted or not) lower-cased and unquoted where that is unambiguous, string literals
/// kept exactly, tokens joined by single spaces (none inside parentheses or before commas).
///
/// Falls back to whitespace collapsing when the text does not tokenize, so callers always get a
/// comparable string.
pub fn normalize_sql(dialect: &dyn SqlDialect, sql: &str) -> String {
    let tokens = match Tokenizer::new(dialect, sql).tokenize() {
        Ok(t) => t,
        Err(_) => return collapse_whitespace(sql),
    };
    let mut parts: Vec<String> = Vec::with_capacity(tokens.len());
    for token in tokens {
        let text = match token {
            Token::Whitespace(_) | Token::EOF => continue,
            Token::Word(w) => render_word(&w.value),
            other => other.to_string(),
        };
        parts.push(text);
    }
    // Strip a trailing statement terminator: `CREATE VIEW v AS ...;` vs without.
    while parts.last().is_some_and(|p| p == ";") {
        parts.pop();
    }
    join_tokens(&parts)
}

/// Like [`normalize_sql`], then removes parentheses that wrap the whole expression, since
/// `DEFAULT (0)` and `DEFAULT 0`, or `CHECK ((a > 0))` and `CHECK (a > 0)`, mean the same.
pub fn normalize_expr(dialect: &dyn SqlDialect, sql: &str) -> String {
    let mut s = normalize_sql(dialect, sql);
    while let Some(inner) = strip_outer_parens(&s) {
        s = inner.to_string();
    }
    s
}

/// Canonical spelling of a declared type for comparison: upper case, no space inside parentheses
/// except one after each comma, and the few synonyms that SQLAlchemy's reflection rewrites when it
/// recreates a table (`INT` -> `INTEGER`, `BOOL` -> `BOOLEAN`), which are synonyms in every
/// supported dialect.
pub fn canonical_type(data_type: &str) -> String {
    let upper = collapse_whitespace(data_type).to_uppercase();
    let mut out = String::with_capacity(upper.len());
    let mut chars = upper.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' if matches!(chars.peek(), Some('(') | Some(')') | Some(',')) => {}
            '(' => {
                out.push('(');
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            ',' => {
                out.push_str(", ");
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            _ => out.push(c),
        }
    }
    let (base, rest) = match out.find('(') {
        Some(i) => out.split_at(i),
        None => (out.as_str(), ""),
    };
    let base = match base.trim_end() {
        "INT" => "INTEGER",
        "BOOL" => "BOOLEAN",
        other => other,
    };
    format!("{base}{rest}")
}

/// Collapse runs of whitespace to one space and trim.
pub fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn render_word(value: &str) -> String {
    let lower = value.to_lowercase();
    let plain = !lower.is_empty()
        && lower
            .chars()
            .all(|c| c == '_' || c.is_ascii_lowercase() || c.is_ascii_digit() || !c.is_ascii())
        && !lower.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        lower
    } else {
        format!("\"{}\"", lower.replace('"', "\"\""))
    }
}

fn join_tokens(parts: &[String]) -> String {
    let mut out = String::new();
    let mut prev: Option<&str> = None;
    for p in parts {
        // No space around `.` and PostgreSQL's `::` cast, inside brackets (`ARRAY['a']`,
        // `text[]`), or inside parentheses.
        let space = match prev {
            None | Some("(") | Some(".") | Some("::") | Some("[") => false,
            Some(_) => !matches!(p.as_str(), ")" | "," | "." | ";" | "::" | "[" | "]"),
        };
        if space {
            out.push(' ');
        }
        out.push_str(p);
        prev = Some(p);
    }
    out
}

/// The inside of `( ... )` when that pair of parentheses encloses the whole string.
fn strip_outer_parens(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('(')?.strip_suffix(')')?;
    // The first "(" must close at the very end: scan depth, ignoring quoted text.
    let mut depth = 1i32;
    let mut quote: Option<char> = None;
    for c in inner.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return None;
                    }
                }
                _ => {}
            },
        }
    }
    (depth == 1).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::SQLiteDialect;

    #[test]
    fn quoting_case_and_space_do_not_matter() {
        let d = SQLiteDialect {};
        let a = normalize_sql(
            &d,
            "CREATE VIEW v AS SELECT \"id\", Name FROM [users] WHERE x='A b' -- c\n;",
        );
        let b = normalize_sql(
            &d,
            "create view v as\n  select id,name from `users` where x = 'A b'",
        );
        assert_eq!(a, b);
        assert_eq!(
            b,
            "create view v as select id, name from users where x = 'A b'"
        );
        assert_ne!(
            b,
            normalize_sql(
                &d,
                "create view v as select id,name from users where x = 'a b'"
            )
        );
    }

    #[test]
    fn postgres_casts_and_arrays() {
        let d = sqlparser::dialect::PostgreSqlDialect {};
        assert_eq!(
            normalize_expr(
                &d,
                "(status)::text = ANY ((ARRAY['a'::character varying])::text[])"
            ),
            "(status)::text = any ((array['a'::character varying])::text[])"
        );
    }

    #[test]
    fn outer_parens() {
        let d = SQLiteDialect {};
        assert_eq!(normalize_expr(&d, "((price > 0))"), "price > 0");
        assert_eq!(normalize_expr(&d, "(datetime('now'))"), "datetime ('now')");
        assert_eq!(normalize_expr(&d, "(a) + (b)"), "(a) + (b)");
        assert_eq!(normalize_expr(&d, "0"), "0");
    }

    #[test]
    fn types() {
        assert_eq!(canonical_type("numeric( 12 ,2 )"), "NUMERIC(12, 2)");
        assert_eq!(canonical_type("NUMERIC(12, 2)"), "NUMERIC(12, 2)");
        assert_eq!(canonical_type("int"), "INTEGER");
        assert_eq!(canonical_type("varchar (50)"), "VARCHAR(50)");
        assert_eq!(canonical_type("double  precision"), "DOUBLE PRECISION");
    }
}
