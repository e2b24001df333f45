//! Unit-level behaviour through the public API: argument binding, helper following, batch
//! aliases, suppression, dialect gating, runtime SQL, graph findings.

use mrt_lint::{
    dialect_from_url, find_rule, graph_findings, lint_file, problem_findings, Dialect, FileContext,
    Severity,
};
use mrt_migrations::{Problem, ProblemKind, Revision, RevisionGraph};
use std::path::{Path, PathBuf};

const HEAD: &str =
    "from alembic import op\nimport sqlalchemy as sa\nrevision = 'b'\ndown_revision = 'a'\n";

fn lint_with(src: &str, dialect: Dialect, merge: bool) -> Vec<(String, usize)> {
    let ctx = FileContext {
        dialect,
        is_merge: merge,
        ..FileContext::new(Path::new("m.py"), src)
    };
    lint_file(&ctx)
        .into_iter()
        .map(|f| (f.code.to_string(), f.line))
        .collect()
}

fn lint(src: &str) -> Vec<(String, usize)> {
    lint_with(src, Dialect::Generic, false)
}

fn codes(src: &str) -> Vec<String> {
    lint(src).into_iter().map(|(c, _)| c).collect()
}

fn file(up: &str, down: &str) -> String {
    format!("{HEAD}\ndef upgrade():\n{up}\n\ndef downgrade():\n{down}\n")
}

#[test]
fn positional_and_keyword_arguments_are_bound_alike() {
    let pos = file(
        "    op.drop_index('ix_a', 'users')",
        "    op.create_index('ix_b', 'users', ['b'])",
    );
    let kw = file(
        "    op.drop_index(index_name='ix_a', table_name='users')",
        "    op.create_index(index_name='ix_b', table_name='users', columns=['b'])",
    );
    assert_eq!(codes(&pos), ["MRT408"]);
    assert_eq!(codes(&kw), ["MRT408"]);
    let fixed = file(
        "    op.drop_index(index_name='ix_a')",
        "    op.create_index('ix_a', 'users', ['a'])",
    );
    assert!(codes(&fixed).is_empty());
}

#[test]
fn unrelated_reverse_never_silences() {
    let src = file(
        "    op.rename_table('a', 'b')\n    op.drop_index('ix_1')",
        "    op.rename_table('c', 'a')\n    op.create_index('ix_2', 't', ['x'])",
    );
    assert_eq!(codes(&src), ["MRT301", "MRT408"]);
}

#[test]
fn helpers_are_followed_transitively_without_looping() {
    let src = format!(
        "{HEAD}\ndef _inner():\n    op.drop_column('users', 'email')\n    _outer()\n\n\
         def _outer():\n    _inner()\n\n\
         def upgrade():\n    _outer()\n\ndef downgrade():\n    op.add_column('users', sa.Column('email', sa.String()))\n"
    );
    // Reported once, at the call inside the helper.
    assert_eq!(lint(&src), [("MRT201".to_string(), 7)]);
}

#[test]
fn batch_alias_names_any_variable() {
    let src = file(
        "    with op.batch_alter_table('users') as t:\n        t.drop_column('a')\n        t.drop_column('b')",
        "    with op.batch_alter_table('users') as t:\n        t.add_column(sa.Column('a', sa.Text()))\n        t.add_column(sa.Column('b', sa.Text()))",
    );
    assert_eq!(
        lint(&src),
        [("MRT206".to_string(), 8), ("MRT206".to_string(), 9)]
    );
}

#[test]
fn every_occurrence_is_reported_once() {
    let src = file(
        "    op.drop_table('a')\n    op.drop_table('b')\n    op.execute('DROP TABLE c; DROP TABLE d')",
        "    pass",
    );
    let found = lint(&src);
    let drops: Vec<usize> = found
        .iter()
        .filter(|(c, _)| c == "MRT202")
        .map(|(_, l)| *l)
        .collect();
    assert_eq!(drops, [7, 8, 9]);
}

#[test]
fn suppression_forms() {
    let cases = [
        ("    op.drop_column('u', 'c')  # noqa", true),
        ("    op.drop_column('u', 'c')  # noqa: MRT201", true),
        ("    op.drop_column('u', 'c')  # NOQA:mrt999 mrt201", true),
        ("    op.drop_column('u', 'c')  # noqa: MRT202", false),
        ("    op.drop_column('u', 'c')  # mrt: ignore", true),
        ("    op.drop_column('u', 'c')  # mrt: ignore[MRT201]", true),
        ("    op.drop_column('u', 'c')  # mrt: ignore[MRT202]", false),
        ("    op.drop_column('u', 'c # noqa')", false),
        (
            "    op.drop_column(\n        'u',\n        'c',\n    )  # noqa: MRT201",
            true,
        ),
        (
            "    op.drop_column(  # noqa: MRT201\n        'u',\n        'c',\n    )",
            true,
        ),
    ];
    for (up, silenced) in cases {
        let src = file(up, "    op.add_column('u', sa.Column('c', sa.Text()))");
        let found = codes(&src).contains(&"MRT201".to_string());
        assert_eq!(found, !silenced, "{up}");
    }
}

#[test]
fn dialect_gating() {
    let src = file(
        "    op.execute(\"ALTER TYPE s ADD VALUE 'x'\")\n    op.create_index('ix', 't', ['c'])",
        "    op.drop_index('ix')",
    );
    let pg: Vec<String> = lint_with(&src, Dialect::Postgresql, false)
        .into_iter()
        .map(|x| x.0)
        .collect();
    let sqlite: Vec<String> = lint_with(&src, Dialect::Sqlite, false)
        .into_iter()
        .map(|x| x.0)
        .collect();
    let generic: Vec<String> = lint_with(&src, Dialect::Generic, false)
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(pg, ["MRT304", "MRT407"]);
    assert!(sqlite.is_empty(), "{sqlite:?}");
    assert_eq!(generic, ["MRT304"]);
}

#[test]
fn runtime_sql_is_reported_as_info() {
    let src = file(
        "    name = compute()\n    op.execute(f'DROP TABLE {name}')\n    op.execute('DELETE FROM t WHERE a = {}'.format(1))\n    op.execute('DROP TABLE ' + name)",
        "    op.execute(sa.text('SELECT 1'))",
    );
    let ctx = FileContext::new(Path::new("m.py"), &src);
    let found = lint_file(&ctx);
    let info: Vec<usize> = found
        .iter()
        .filter(|f| f.code == "MRT100")
        .map(|f| f.line)
        .collect();
    assert_eq!(info, [8, 9, 10]);
    assert!(
        found.iter().all(|f| f.severity == Severity::Info),
        "{found:#?}"
    );
}

#[test]
fn literal_sql_variants_are_parsed() {
    let src = file(
        "    op.execute(sa.text('ALTER TABLE u DROP COLUMN a'))\n    op.get_bind().execute(text('TRUNCATE u'))\n    SQL = 'DELETE FROM u'\n    context.execute(SQL)",
        "    pass",
    );
    let found = codes(&src);
    assert!(found.contains(&"MRT201".to_string()), "{found:?}");
    assert!(found.contains(&"MRT203".to_string()), "{found:?}");
    assert!(found.contains(&"MRT214".to_string()), "{found:?}");
}

#[test]
fn merge_revisions_may_be_empty() {
    let src = file("    pass", "    pass");
    assert!(lint_with(&src, Dialect::Generic, true).is_empty());
    let work = file(
        "    op.add_column('u', sa.Column('c', sa.Text()))",
        "    pass",
    );
    assert_eq!(codes(&work), ["MRT102"]);
    assert!(lint_with(&work, Dialect::Generic, true).is_empty());
}

#[test]
fn unparsable_file_gives_no_per_file_findings() {
    assert!(lint("def upgrade(:\n    op.drop_table('x')\n").is_empty());
}

#[test]
fn opt_in_rules_run_only_when_named() {
    let src = file(
        "    op.drop_column('u', 'c')",
        "    op.add_column('u', sa.Column('c', sa.Text()))",
    );
    let ctx = FileContext {
        opt_in_rules: &["deploy-drop-column"],
        ..FileContext::new(Path::new("m.py"), &src)
    };
    let found: Vec<&str> = lint_file(&ctx).iter().map(|f| f.code).collect();
    assert_eq!(found, ["MRT201", "MRT701"]);
}

#[test]
fn names_and_parsing_helpers() {
    assert_eq!(
        dialect_from_url("postgresql+psycopg://u@h/db"),
        Some(Dialect::Postgresql)
    );
    assert_eq!(
        dialect_from_url("postgres://u@h/db"),
        Some(Dialect::Postgresql)
    );
    assert_eq!(dialect_from_url("sqlite:///x.db"), Some(Dialect::Sqlite));
    assert_eq!(
        dialect_from_url("mysql+pymysql://r@h/db"),
        Some(Dialect::Mysql)
    );
    assert_eq!(dialect_from_url("mariadb://r@h/db"), Some(Dialect::Mysql));
    assert_eq!(dialect_from_url("oracle://x"), None);
    assert_eq!(dialect_from_url("nonsense"), None);
    assert_eq!("WARNING".parse::<Severity>(), Ok(Severity::Warning));
    assert!("fatal".parse::<Severity>().is_err());
    assert_eq!(Severity::Error.to_string(), "error");
    assert_eq!(
        find_rule("MRT206").map(|r| r.name),
        Some("batch-drop-column")
    );
}

fn revision(id: &str, parents: &[&str]) -> Revision {
    Revision {
        id: id.to_string(),
        down_revisions: parents.iter().map(|p| p.to_string()).collect(),
        branch_labels: Vec::new(),
        depends_on: Vec::new(),
        message: None,
        path: PathBuf::from(format!("versions/{id}.py")),
        line: 3,
    }
}

#[test]
fn multiple_heads_are_reported_on_each_head() {
    let graph = RevisionGraph::build(
        vec![
            revision("a", &[]),
            revision("b", &["a"]),
            revision("c", &["a"]),
        ],
        &[],
    );
    let found = graph_findings(&graph);
    assert_eq!(found.len(), 2);
    assert!(found
        .iter()
        .all(|f| f.code == "MRT901" && f.message.contains('b') && f.message.contains('c')));
    let merged = RevisionGraph::build(
        vec![
            revision("a", &[]),
            revision("b", &["a"]),
            revision("c", &["a"]),
            revision("m", &["b", "c"]),
        ],
        &[],
    );
    assert!(graph_findings(&merged).is_empty());
}

/// A head file listed twice (reached by two paths, or named twice by the graph) is reported
/// once, and its id is named once.
#[test]
fn multiple_heads_give_one_finding_per_head_file() {
    let mut twice = revision("c", &["a"]);
    twice.path = PathBuf::from("versions/./b.py");
    let mut same_file = revision("b", &["a"]);
    same_file.path = PathBuf::from("versions/b.py");
    let graph = RevisionGraph::build(
        vec![revision("a", &[]), same_file, revision("d", &["a"]), twice],
        &[],
    );
    let found = graph_findings(&graph);
    let paths: Vec<String> = found.iter().map(|f| f.path.display().to_string()).collect();
    assert_eq!(found.len(), 2, "{paths:?}");
    assert!(
        found
            .iter()
            .all(|f| f.code == "MRT901" && f.message.starts_with("3 heads: b, d, c")),
        "{found:#?}"
    );
}

#[test]
fn syntax_problems_become_mrt902() {
    let problems = vec![
        Problem::new(ProblemKind::Syntax, "v/x.py", "syntax error: bad")
            .at(4, Some(7))
            .of("x"),
        Problem::new(ProblemKind::NotUtf8, "v/y.py", "not UTF-8").at(1, None),
        Problem::new(ProblemKind::Cycle, "v/z.py", "cycle"),
    ];
    let found = problem_findings(&problems);
    // A cycle is no longer left to a stderr warning: it is an MRT903 (the graph cannot be trusted).
    assert_eq!(found.len(), 3);
    assert_eq!(
        (found[0].code, found[0].line, found[0].column),
        ("MRT902", 4, 7)
    );
    assert_eq!(found[0].revision.as_deref(), Some("x"));
    assert_eq!((found[1].line, found[1].column), (1, 1));
    assert_eq!((found[2].code, found[2].line), ("MRT903", 1));
}
