//! Words a revision file mentions in its string literals: table names in `op.*` calls and in
//! SQL. The trial seeds and compares those tables (and their foreign-key relatives) instead of
//! every table, which keeps long chains linear; what a step really touched is checked afterwards
//! from the SQL it executed.

use rustpython_parser::{lexer, Mode, Tok};
use std::collections::BTreeSet;

/// Lower-cased identifier-like words found in every string literal of `source` (f-strings
/// included, expressions and all), or `None` when the file cannot be tokenized.
pub fn mentioned_words(source: &str) -> Option<BTreeSet<String>> {
    let mut words = BTreeSet::new();
    for token in lexer::lex(source, Mode::Module) {
        let (tok, _) = token.ok()?;
        if let Tok::String { value, .. } = tok {
            words.extend(sql_words(&value));
            // The whole literal too: `op.create_table("order items")` names one table, which
            // the word split would turn into two words that match nothing.
            words.insert(value.to_lowercase());
        }
    }
    Some(words)
}

/// Identifier-like words of a text (SQL or a plain name), lower-cased, quotes stripped; and the
/// contents of its quoted identifiers (`"order items"`, `` `tb-x` ``, `[tb.x]`) whole, since
/// such a name is no word of its own.
pub fn sql_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .chain(quoted_identifiers(text))
}

/// The contents of `"..."`, `` `...` `` and `[...]` in a text, lower-cased (a doubled quote
/// inside stands for one). Single quotes are string literals, not names.
fn quoted_identifiers(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut chars = text.chars().peekable();
    std::iter::from_fn(move || loop {
        let open = chars.next()?;
        let close = match open {
            '"' => '"',
            '`' => '`',
            '[' => ']',
            _ => continue,
        };
        let mut name = String::new();
        while let Some(c) = chars.next() {
            if c == close {
                if close != ']' && chars.peek() == Some(&close) {
                    chars.next();
                    name.push(c);
                    continue;
                }
                break;
            }
            name.push(c);
        }
        if !name.is_empty() {
            return Some(name.to_lowercase());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_names_from_calls_sql_and_fstrings() {
        let src = "op.add_column(\"Users\", sa.Column('email'))\nop.execute(\"UPDATE orders SET x = 1\")\nop.execute(f\"DELETE FROM {tbl} WHERE a = 'b'\")\n";
        let words = mentioned_words(src).unwrap();
        for w in ["users", "email", "orders", "tbl", "delete"] {
            assert!(words.contains(w), "{w} missing from {words:?}");
        }
        assert!(!words.contains("add_column"));
    }

    #[test]
    fn names_that_are_not_plain_identifiers_are_kept_whole() {
        let src = "op.create_table(\"order items\")\nop.execute('DELETE FROM `tb-x` WHERE \"val.ue\" = 1')\n";
        let words = mentioned_words(src).unwrap();
        for w in ["order items", "tb-x", "val.ue", "order", "items"] {
            assert!(words.contains(w), "{w} missing from {words:?}");
        }
        let sql: Vec<String> =
            sql_words("DELETE FROM \"Order \"\"Items\"\"\" WHERE [tb.x].a = 'lit eral'").collect();
        assert!(sql.contains(&"order \"items\"".to_string()), "{sql:?}");
        assert!(sql.contains(&"tb.x".to_string()), "{sql:?}");
        assert!(!sql.contains(&"lit eral".to_string()), "{sql:?}");
    }
}
