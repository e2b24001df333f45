//! Django linting through the public API: history decides, other apps' tables, squashes beside
//! their originals, what is unknown stays quiet, suppression on the operation, merged findings,
//! dialect gates, messages in Django's words, and no panic on any input.

use mrt_lint::{lint_django_migrations, Dialect, DjangoMigration, Finding};
use proptest::prelude::*;
use std::path::PathBuf;

/// A migration of a test project: `(id, dependencies, source)`.
type Spec<'a> = (&'a str, &'a [&'a str], String);

fn lint_with(specs: &[Spec], squashed: &[&str], dialect: Dialect, opt_in: &[&str]) -> Vec<Finding> {
    let paths: Vec<PathBuf> = specs
        .iter()
        .map(|(id, _, _)| PathBuf::from(format!("{}.py", id.replace('.', "/migrations/"))))
        .collect();
    let deps: Vec<Vec<String>> = specs
        .iter()
        .map(|(_, d, _)| d.iter().map(|s| s.to_string()).collect())
        .collect();
    let migrations: Vec<DjangoMigration> = specs
        .iter()
        .enumerate()
        .map(|(i, (id, _, source))| DjangoMigration {
            id,
            app: id.split('.').next().unwrap(),
            path: &paths[i],
            source,
            dependencies: &deps[i],
            squashed: squashed.contains(id),
        })
        .collect();
    lint_django_migrations(&migrations, dialect, opt_in)
}

fn lint(specs: &[Spec]) -> Vec<Finding> {
    lint_with(specs, &[], Dialect::Generic, &[])
}

/// `(revision, code, line)` of each finding.
fn spots(findings: &[Finding]) -> Vec<(String, &'static str, usize)> {
    findings
        .iter()
        .map(|f| (f.revision.clone().unwrap_or_default(), f.code, f.line))
        .collect()
}

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code).collect()
}

/// A migration file: `extra` at the top level, then `class Migration` with `operations`.
fn file(extra: &str, class_body: &str, ops: &str) -> String {
    format!(
        "from django.db import migrations, models\n{extra}\n\nclass Migration(migrations.Migration):\n{class_body}\n    operations = [\n{ops}\n    ]\n"
    )
}

fn create_order(note: &str) -> String {
    file(
        "",
        "    initial = True\n",
        &format!(
            "        migrations.CreateModel(\n            name='Order',\n            fields=[\n                ('id', models.BigAutoField(primary_key=True, serialize=False)),\n                ('note', {note}),\n            ],\n        ),"
        ),
    )
}

fn alter_note(field: &str) -> String {
    file(
        "",
        "",
        &format!("        migrations.AlterField(model_name='order', name='note', field={field}),"),
    )
}

#[test]
fn the_fields_history_decides_alter_field() {
    let tighten = alter_note("models.TextField()");
    let was_nullable = create_order("models.TextField(null=True)");
    let was_not_null = create_order("models.TextField()");
    let found = lint(&[
        ("shop.0001_initial", &[], was_nullable),
        ("shop.0002_note", &["shop.0001_initial"], tighten.clone()),
    ]);
    assert_eq!(spots(&found), [("shop.0002_note".to_string(), "MRT412", 7)]);
    assert!(lint(&[
        ("shop.0001_initial", &[], was_not_null),
        ("shop.0002_note", &["shop.0001_initial"], tighten.clone()),
    ])
    .is_empty());
    // Without the history (the first migration is not in the project) nothing is guessed.
    assert!(lint(&[("shop.0002_note", &[], tighten)]).is_empty());
}

#[test]
fn only_ancestors_make_the_history() {
    let nullable = alter_note("models.TextField(null=True)");
    let relabel = alter_note("models.TextField(verbose_name='remark')");
    let add_flag = file(
        "",
        "",
        "        migrations.AddField(model_name='order', name='flag', field=models.BooleanField(default=False)),",
    );
    let tighten = alter_note("models.TextField()");
    let project = |other_branch: String| {
        lint(&[
            ("shop.0001_initial", &[], create_order("models.TextField()")),
            ("shop.0002_a", &["shop.0001_initial"], nullable.clone()),
            ("shop.0002_b", &["shop.0001_initial"], other_branch),
            (
                "shop.0003_merge",
                &["shop.0002_a", "shop.0002_b"],
                file("", "", ""),
            ),
            ("shop.0004_tighten", &["shop.0003_merge"], tighten.clone()),
        ])
    };
    // 0002_b comes after 0002_a in graph order but never saw it: on its own branch the field
    // is NOT NULL, so relabelling it tightens nothing. At the merge Django applies both
    // branches in graph order, and b's definition is the last one.
    assert!(project(relabel).is_empty());
    // When the other branch leaves the field alone, the merge sees it nullable.
    assert_eq!(
        spots(&project(add_flag)),
        [("shop.0004_tighten".to_string(), "MRT412", 7)]
    );
}

#[test]
fn a_squash_beside_its_originals_is_not_applied_twice() {
    // A squash whose CreateModel disagrees with its originals: whichever is applied shows.
    let squash = create_order("models.TextField(null=True)").replace(
        "    initial = True\n",
        "    initial = True\n    replaces = [('shop', '0001_initial'), ('shop', '0002_note')]\n",
    );
    let found = lint_with(
        &[
            (
                "shop.0001_initial",
                &[],
                create_order("models.TextField(null=True)"),
            ),
            (
                "shop.0002_note",
                &["shop.0001_initial"],
                alter_note("models.TextField(default='')"),
            ),
            ("shop.0001_squashed_0002_note", &[], squash),
            (
                "shop.0003_tighten",
                &["shop.0002_note", "shop.0001_squashed_0002_note"],
                alter_note("models.TextField(help_text='x')"),
            ),
        ],
        &["shop.0001_squashed_0002_note"],
        Dialect::Generic,
        &[],
    );
    // The originals left the field NOT NULL, so 0003 changes nothing about nullability: the
    // squash's `null=True` was not applied on top of them.
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn other_apps_models_are_read_from_their_history() {
    let shop = file(
        "",
        "    initial = True\n",
        "        migrations.CreateModel(name='Order', fields=[('id', models.AutoField(primary_key=True))], options={'db_table': 'legacy_orders'}),",
    );
    let purge = file(
        "\n\ndef purge(apps, schema_editor):\n    Order = apps.get_model('shop', 'Order')\n    Order.objects.all().delete()\n",
        "",
        "        migrations.RunPython(purge, migrations.RunPython.noop),",
    );
    let found = lint(&[
        ("shop.0001_initial", &[], shop),
        ("reports.0001_purge", &["shop.0001_initial"], purge),
    ]);
    assert_eq!(codes(&found), ["MRT214"]);
    assert!(
        found[0].message.contains("`legacy_orders`"),
        "{}",
        found[0].message
    );
    assert_eq!(found[0].line, 6, "on the ORM call in the function");
    // MRT109 (no-op reverse) on the same operation is folded into it.
    assert_eq!(
        found[0].also.iter().map(|f| f.code).collect::<Vec<_>>(),
        ["MRT109"]
    );
}

#[test]
fn unreadable_history_is_unknown_not_guessed() {
    let broken =
        "from django.db import migrations\n\nclass Migration(migrations.Migration:\n".to_string();
    let custom = file(
        "import shop.operations",
        "",
        "        shop.operations.RewriteNotes(),",
    );
    for middle in [broken, custom] {
        let found = lint(&[
            (
                "shop.0001_initial",
                &[],
                create_order("models.TextField(null=True)"),
            ),
            ("shop.0002_middle", &["shop.0001_initial"], middle),
            (
                "shop.0003_note",
                &["shop.0002_middle"],
                alter_note("models.TextField()"),
            ),
        ]);
        assert!(found.is_empty(), "{found:#?}");
    }
}

#[test]
fn a_noqa_on_the_operation_silences_findings_in_its_code() {
    let code = "\n\ndef purge(apps, schema_editor):\n    apps.get_model('shop', 'Order').objects.all().delete()\n";
    let loud = file(
        code,
        "",
        "        migrations.RunPython(purge, migrations.RunPython.noop),",
    );
    let quiet = file(
        code,
        "",
        "        migrations.RunPython(\n            purge,\n            migrations.RunPython.noop,  # noqa: MRT214\n        ),",
    );
    let history = (
        "shop.0001_initial",
        &[] as &[&str],
        create_order("models.TextField()"),
    );
    assert_eq!(
        codes(&lint(&[
            history.clone(),
            ("shop.0002_purge", &["shop.0001_initial"], loud)
        ])),
        ["MRT214"]
    );
    assert!(lint(&[history, ("shop.0002_purge", &["shop.0001_initial"], quiet)]).is_empty());
}

#[test]
fn the_generic_code_silences_the_django_finding_it_is_folded_into() {
    let remove = |comment: &str| {
        file(
            "",
            "",
            &format!("        migrations.RemoveField(model_name='order', name='note'),{comment}"),
        )
    };
    let history = (
        "shop.0001_initial",
        &[] as &[&str],
        create_order("models.TextField(null=True)"),
    );
    let found = lint(&[
        history.clone(),
        ("shop.0002_rm", &["shop.0001_initial"], remove("")),
    ]);
    assert_eq!(codes(&found), ["MRT209"]);
    assert_eq!(found[0].also[0].code, "MRT201");
    for comment in [
        "  # noqa: MRT201",
        "  # noqa: MRT209",
        "  # mrt: ignore[MRT209]",
    ] {
        let found = lint(&[
            history.clone(),
            ("shop.0002_rm", &["shop.0001_initial"], remove(comment)),
        ]);
        assert!(found.is_empty(), "{comment}: {found:#?}");
    }
}

#[test]
fn findings_follow_the_migrations_in_order_with_their_ids() {
    let found = lint(&[
        ("shop.0001_initial", &[], create_order("models.TextField(null=True)")),
        (
            "shop.0002_rm",
            &["shop.0001_initial"],
            file("", "", "        migrations.RunSQL('TRUNCATE shop_order'),\n        migrations.RemoveField(model_name='order', name='note'),"),
        ),
        (
            "shop.0003_drop",
            &["shop.0002_rm"],
            file("", "", "        migrations.DeleteModel(name='Order'),"),
        ),
    ]);
    assert_eq!(
        spots(&found),
        [
            ("shop.0002_rm".to_string(), "MRT108", 7),
            ("shop.0002_rm".to_string(), "MRT212", 7),
            ("shop.0002_rm".to_string(), "MRT209", 8),
            ("shop.0003_drop".to_string(), "MRT210", 7),
        ]
    );
    for f in &found {
        let id = f.revision.as_deref().unwrap();
        assert!(f
            .path
            .to_string_lossy()
            .contains(&id.replace('.', "/migrations/")));
        for word in ["upgrade()", "downgrade()", "op.execute", "bulk_insert"] {
            assert!(!f.message.contains(word), "{}: {}", f.code, f.message);
        }
    }
}

#[test]
fn dialects_gate_the_postgresql_rules() {
    let history = (
        "shop.0001_initial",
        &[] as &[&str],
        create_order("models.TextField()"),
    );
    let add_index = file(
        "",
        "",
        "        migrations.AddIndex(model_name='order', index=models.Index(fields=['note'], name='ix_note')),",
    );
    let concurrent = file(
        "from django.contrib.postgres.operations import AddIndexConcurrently",
        "",
        "        AddIndexConcurrently(model_name='order', index=models.Index(fields=['note'], name='ix_note')),",
    );
    let non_atomic = concurrent.replace(
        "class Migration(migrations.Migration):\n",
        "class Migration(migrations.Migration):\n    atomic = False\n",
    );
    let run = |source: &String, dialect| {
        codes(&lint_with(
            &[
                history.clone(),
                ("shop.0002_ix", &["shop.0001_initial"], source.clone()),
            ],
            &[],
            dialect,
            &[],
        ))
    };
    assert_eq!(run(&add_index, Dialect::Postgresql), ["MRT413"]);
    for d in [Dialect::Generic, Dialect::Sqlite, Dialect::Mysql] {
        assert!(run(&add_index, d).is_empty(), "{d}");
    }
    assert_eq!(run(&concurrent, Dialect::Postgresql), ["MRT414"]);
    assert_eq!(run(&concurrent, Dialect::Generic), ["MRT414"]);
    assert!(run(&concurrent, Dialect::Sqlite).is_empty());
    assert!(run(&non_atomic, Dialect::Postgresql).is_empty());
}

#[test]
fn opt_in_rules_run_when_asked() {
    let history = (
        "shop.0001_initial",
        &[] as &[&str],
        create_order("models.TextField(null=True)"),
    );
    let rm = file(
        "",
        "",
        "        migrations.RemoveField(model_name='order', name='note'),",
    );
    let specs = [
        history,
        ("shop.0002_rm", &["shop.0001_initial"] as &[&str], rm),
    ];
    assert_eq!(codes(&lint(&specs)), ["MRT209"]);
    let found = lint_with(&specs, &[], Dialect::Generic, &["deploy-drop-column"]);
    assert_eq!(codes(&found), ["MRT209", "MRT701"]);
}

#[test]
fn files_that_are_not_django_migrations_give_nothing() {
    let alembic = "from alembic import op\n\ndef upgrade():\n    op.drop_table('users')\n\ndef downgrade():\n    pass\n".to_string();
    let no_ops = "from django.db import migrations\n\nclass Migration(migrations.Migration):\n    operations = build_operations()\n".to_string();
    assert!(lint(&[("a.0001", &[], alembic), ("a.0002", &["a.0001"], no_ops)]).is_empty());
    assert!(lint(&[]).is_empty());
}

const TOKENS: &[&str] = &[
    "migrations.",
    "AddField",
    "RemoveField",
    "AlterField",
    "CreateModel",
    "DeleteModel",
    "RenameModel",
    "RunPython",
    "RunSQL",
    "SeparateDatabaseAndState",
    "AddIndex",
    "AddIndexConcurrently",
    "AddConstraint",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "=",
    "'order'",
    "'note'",
    "\"DROP TABLE x\"",
    "model_name",
    "name",
    "field",
    "fields",
    "options",
    "models.CharField",
    "models.ForeignKey",
    "null",
    "True",
    "False",
    "None",
    "default",
    "db_default",
    "reverse_code",
    "reverse_sql",
    "database_operations",
    "state_operations",
    "noop",
    "apps.get_model",
    ".objects",
    ".filter",
    ".delete",
    ".update",
    "lambda a, b: None",
    "\n",
    "    ",
    "# noqa",
    "*",
    "**",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|t| t.join(""))
}

fn dialect() -> impl Strategy<Value = Dialect> {
    prop_oneof![
        Just(Dialect::Generic),
        Just(Dialect::Sqlite),
        Just(Dialect::Postgresql),
        Just(Dialect::Mysql)
    ]
}

fn check(second: String, d: Dialect) {
    let found = lint_with(
        &[
            (
                "shop.0001_initial",
                &[],
                create_order("models.TextField(null=True)"),
            ),
            (
                "shop.0002_x",
                &["shop.0001_initial", "shop.9999_missing"],
                second.clone(),
            ),
            ("shop.0003_y", &["shop.0002_x"], second),
        ],
        &["shop.0003_y"],
        d,
        &["MRT701", "MRT702", "MRT703", "MRT704", "MRT705"],
    );
    for f in found {
        assert!(f.line >= 1 && f.column >= 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn never_panics_on_any_text(src in any::<String>(), d in dialect()) {
        check(src, d);
    }

    #[test]
    fn never_panics_on_operation_soup(ops in soup(), code in soup(), d in dialect()) {
        check(file(&format!("\n\ndef f(apps, schema_editor):\n    {code}\n"), "", &format!("        {ops}")), d);
        check(file("", "    atomic = False\n    replaces = [('shop', '0001_initial')]\n", &format!("        migrations.RunPython(f, {ops}),\n        {ops}")), d);
    }
}
