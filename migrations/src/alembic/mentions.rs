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
        }
    }
    Some(words)
}

/// Identifier-like words of a text (SQL or a plain name), lower-cased, quotes stripped.
pub fn sql_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
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
}
