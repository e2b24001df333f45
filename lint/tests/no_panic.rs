//! `lint_file` must never panic, whatever the file holds.

use mrt_lint::{lint_file, Dialect, FileContext};
use proptest::prelude::*;
use std::path::Path;

fn check(src: &str, dialect: Dialect) {
    let ctx = FileContext {
        dialect,
        opt_in_rules: &["MRT701", "MRT702", "MRT703", "MRT704", "MRT705"],
        ..FileContext::new(Path::new("fuzz.py"), src)
    };
    for f in lint_file(&ctx) {
        assert!(f.line >= 1 && f.column >= 1);
    }
}

fn dialect() -> impl Strategy<Value = Dialect> {
    prop_oneof![
        Just(Dialect::Generic),
        Just(Dialect::Sqlite),
        Just(Dialect::Postgresql),
        Just(Dialect::Mysql)
    ]
}

const TOKENS: &[&str] = &[
    "op",
    ".",
    "execute",
    "drop_column",
    "drop_table",
    "alter_column",
    "batch_alter_table",
    "rename_table",
    "create_index",
    "drop_index",
    "drop_constraint",
    "bulk_insert",
    "(",
    ")",
    ",",
    ":",
    "=",
    "\n",
    "    ",
    "def",
    "upgrade",
    "downgrade",
    "with",
    "as",
    "batch_op",
    "'users'",
    "\"x\"",
    "f'{a}'",
    "sa.text",
    "nullable",
    "False",
    "True",
    "type_",
    "new_column_name",
    "#",
    "# noqa",
    "# noqa: MRT201",
    "pass",
    "...",
    "helper",
    "return",
    "[",
    "]",
    "*",
    "**",
    "+",
    "%",
    "None",
    "sa.Column",
    "ondelete='CASCADE'",
    "\"\"\"",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|t| t.join(" "))
}

const SQL_WORDS: &[&str] = &[
    "ALTER",
    "TABLE",
    "DROP",
    "COLUMN",
    "CREATE",
    "TYPE",
    "TRIGGER",
    "INDEX",
    "CONCURRENTLY",
    "ON",
    "users",
    "SET",
    "NOT",
    "NULL",
    "DELETE",
    "FROM",
    "WHERE",
    "UPDATE",
    "TRUNCATE",
    "INSERT",
    "INTO",
    "VALUES",
    "(",
    ")",
    ";",
    "$$",
    "$tag$",
    "'",
    "--",
    "/*",
    "*/",
    "ADD",
    "VALUE",
    "RENAME",
    "TO",
    "SEQUENCE",
    "IF",
    "EXISTS",
    "CASCADE",
    "1",
    "x",
];

fn sql() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(SQL_WORDS), 0..40).prop_map(|t| t.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text(src in any::<String>(), d in dialect()) {
        check(&src, d);
    }

    #[test]
    fn python_token_soup(body in soup(), d in dialect()) {
        check(&body, d);
        check(&format!("def upgrade():\n    {body}\n\ndef downgrade():\n    pass\n"), d);
    }

    #[test]
    fn arbitrary_sql_in_execute(s in sql(), raw in any::<String>(), d in dialect()) {
        for text in [s, raw] {
            let lit = format!("{text:?}");
            let src = format!("from alembic import op\n\ndef upgrade():\n    op.execute({lit})\n    op.get_bind().execute(sa.text({lit}))\n\ndef downgrade():\n    op.execute({lit})\n");
            check(&src, d);
        }
    }
}
