//! Seeded row sets must satisfy the schema's constraints; mined literals must show up; shrinking
//! must keep foreign keys whole; custom seeds must convert or say exactly where they are wrong.

use super::*;
use mrt_db::{CheckConstraint, ForeignKey, UniqueConstraint};
use proptest::prelude::*;
use std::collections::HashSet;

fn column(name: &str, data_type: &str, nullable: bool) -> Column {
    Column {
        name: name.into(),
        data_type: data_type.into(),
        nullable,
        ..Column::default()
    }
}

fn fk(columns: &[&str], ref_table: &str, ref_columns: &[&str]) -> ForeignKey {
    ForeignKey {
        name: None,
        columns: columns.iter().map(|s| s.to_string()).collect(),
        ref_table: ref_table.into(),
        ref_columns: ref_columns.iter().map(|s| s.to_string()).collect(),
        on_delete: None,
        on_update: None,
    }
}

fn table(name: &str, columns: Vec<Column>, pk: &[&str]) -> Table {
    Table {
        name: name.into(),
        columns,
        primary_key: pk.iter().map(|s| s.to_string()).collect(),
        ..Table::default()
    }
}

/// users ← posts (nullable FK) ← comments (NOT NULL FK, composite unique), categories with a
/// self-reference, a CHECK range and a CHECK list.
fn schema() -> Schema {
    let mut users = table(
        "users",
        vec![
            Column {
                autoincrement: true,
                ..column("id", "INTEGER", false)
            },
            column("email", "VARCHAR(40)", false),
            column("status", "VARCHAR(10)", false),
            column("nickname", "TEXT", true),
            column("age", "SMALLINT", true),
            column("balance", "NUMERIC(8, 3)", true),
        ],
        &["id"],
    );
    users.uniques.push(UniqueConstraint {
        name: None,
        columns: vec!["email".into()],
    });
    users.checks.push(CheckConstraint {
        name: None,
        expression: "age BETWEEN 0 AND 130".into(),
    });
    let mut posts = table(
        "posts",
        vec![
            column("id", "bigint", false),
            column("author_id", "INTEGER", true),
            column("title", "character varying(5)", false),
            column("kind", "text", false),
            column("created_at", "timestamp without time zone", false),
            column("updated_at", "timestamp without time zone", true),
        ],
        &["id"],
    );
    posts
        .foreign_keys
        .push(fk(&["author_id"], "users", &["id"]));
    posts.checks.push(CheckConstraint {
        name: None,
        expression: "kind IN ('draft', 'live') AND length(title) >= 2".into(),
    });
    posts.checks.push(CheckConstraint {
        name: None,
        expression: "updated_at >= created_at".into(),
    });
    let mut comments = table(
        "comments",
        vec![
            column("post_id", "bigint", false),
            column("n", "int", false),
            column("user_id", "int", false),
            column("body", "text", true),
            column("score", "int", false),
        ],
        &["post_id", "n"],
    );
    comments
        .foreign_keys
        .push(fk(&["post_id"], "posts", &["id"]));
    comments
        .foreign_keys
        .push(fk(&["user_id"], "users", &["id"]));
    comments.checks.push(CheckConstraint {
        name: None,
        expression: "(score > 0)".into(),
    });
    let mut categories = table(
        "categories",
        vec![
            column("id", "int", false),
            column("parent_id", "int", false),
            column("name", "varchar(20)", true),
        ],
        &["id"],
    );
    categories
        .foreign_keys
        .push(fk(&["parent_id"], "categories", &["id"]));
    let mut s = Schema::default();
    for t in [users, posts, comments, categories] {
        s.tables.insert(t.name.clone(), std::sync::Arc::new(t));
    }
    s
}

fn options(rows: usize, seed: u64) -> SeedOptions {
    SeedOptions {
        rows_per_table: rows,
        seed,
        ..SeedOptions::default()
    }
}

fn rows_of<'a>(seeds: &'a Seeds, name: &str) -> &'a [Vec<Value>] {
    seeds
        .tables
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, r)| r.as_slice())
        .unwrap_or(&[])
}

/// Every constraint the schema states, checked on the rows.
fn assert_constraints(schema: &Schema, seeds: &Seeds) -> Result<(), TestCaseError> {
    for (name, rows) in &seeds.tables {
        let t = &schema.tables[name];
        let idx = |c: &str| t.columns.iter().position(|x| x.name == c).unwrap();
        for set in std::iter::once(&t.primary_key).chain(t.uniques.iter().map(|u| &u.columns)) {
            let keys: Vec<Vec<Value>> = rows
                .iter()
                .map(|r| set.iter().map(|c| r[idx(c)].clone()).collect::<Vec<_>>())
                .filter(|k| !k.contains(&Value::Null))
                .collect();
            let distinct: HashSet<_> = keys.iter().collect();
            prop_assert_eq!(distinct.len(), keys.len(), "{} {:?} repeats", name, set);
        }
        for f in &t.foreign_keys {
            let parent = &schema.tables[&f.ref_table];
            let pidx = |c: &str| parent.columns.iter().position(|x| x.name == c).unwrap();
            let parent_keys: HashSet<Vec<Value>> = rows_of(seeds, &f.ref_table)
                .iter()
                .map(|r| f.ref_columns.iter().map(|c| r[pidx(c)].clone()).collect())
                .collect();
            for r in rows {
                let key: Vec<Value> = f.columns.iter().map(|c| r[idx(c)].clone()).collect();
                prop_assert!(
                    key.contains(&Value::Null) || parent_keys.contains(&key),
                    "{name}: {key:?} dangles"
                );
            }
        }
        for (c, col) in t.columns.iter().enumerate() {
            if !col.nullable {
                prop_assert!(
                    rows.iter().all(|r| r[c] != Value::Null),
                    "{name}.{} NULL",
                    col.name
                );
            } else if rows.len() >= 2 && !seeded_later_parent(seeds, t, &col.name) {
                prop_assert!(
                    rows.iter().any(|r| r[c] != Value::Null),
                    "{name}.{} all NULL",
                    col.name
                );
            }
        }
    }
    Ok(())
}

/// Whether `column` is a foreign key to a table seeded after `t` (an FK cycle): always NULL.
fn seeded_later_parent(seeds: &Seeds, t: &Table, column: &str) -> bool {
    let pos = |n: &str| seeds.tables.iter().position(|(x, _)| x == n);
    t.foreign_keys
        .iter()
        .any(|f| f.columns.iter().any(|c| c == column) && pos(&f.ref_table) > pos(&t.name))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn seeded_rows_satisfy_constraints(seed_value in any::<u64>(), rows in 2usize..12) {
        let schema = schema();
        let seeds = seed(&schema, options(rows, seed_value)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(seeds.tables.len(), 4);
        assert_constraints(&schema, &seeds)?;
        for r in rows_of(&seeds, "users") {
            prop_assert!(matches!(r[4], Value::Null) || matches!(r[4], Value::Int(a) if (0..=130).contains(&a)));
        }
        for r in rows_of(&seeds, "posts") {
            prop_assert!(matches!(&r[3], Value::Text(k) if k == "draft" || k == "live"));
            prop_assert!(matches!(&r[2], Value::Text(t) if (2..=5).contains(&t.chars().count())));
            if let (Value::Text(c), Value::Text(u)) = (&r[4], &r[5]) {
                prop_assert!(u >= c, "updated_at {} before created_at {}", u, c);
            }
        }
        for r in rows_of(&seeds, "comments") {
            prop_assert!(matches!(r[4], Value::Int(s) if s > 0));
        }
        // A NOT NULL self-reference: the first row points at itself, later ones at earlier rows.
        let cats = rows_of(&seeds, "categories");
        prop_assert_eq!(&cats[0][1], &cats[0][0]);
    }
}

#[test]
fn autoincrement_gets_explicit_distinct_values() {
    let seeds = seed(&schema(), options(8, 1)).unwrap();
    let ids: Vec<&Value> = rows_of(&seeds, "users").iter().map(|r| &r[0]).collect();
    assert_eq!(
        ids,
        (1..=8)
            .map(Value::Int)
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>()
    );
}

#[test]
fn determinism() {
    let a = seed(&schema(), options(8, 42)).unwrap();
    let b = seed(&schema(), options(8, 42)).unwrap();
    let c = seed(&schema(), options(8, 43)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.tables, c.tables);
}

/// A downgrade that rewrites case (`UPDATE users SET name = lower(name)` after an upgrade that
/// upper-cased it) is only seen when some seeded value has an ASCII capital, and its mirror when
/// some value has an ASCII small letter (SQLite's `upper`/`lower` change ASCII only). Every one of
/// these seeds must give both among a table's eight rows.
#[test]
fn seeded_text_has_both_letter_cases() {
    let users = table(
        "users",
        vec![
            Column {
                autoincrement: true,
                ..column("id", "INTEGER", false)
            },
            column("name", "VARCHAR(50)", false),
        ],
        &["id"],
    );
    let mut schema = Schema::default();
    schema
        .tables
        .insert("users".into(), std::sync::Arc::new(users));
    let mut missing = Vec::new();
    for seed_value in 0..300 {
        let seeds = seed(&schema, options(8, seed_value)).unwrap();
        let names: Vec<&str> = (rows_of(&seeds, "users").iter())
            .filter_map(|row| match row.get(1) {
                Some(Value::Text(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        let capital = names
            .iter()
            .any(|s| s.chars().any(|c| c.is_ascii_uppercase()));
        let small = names
            .iter()
            .any(|s| s.chars().any(|c| c.is_ascii_lowercase()));
        if !(capital && small) {
            missing.push((seed_value, names.join(" | ")));
        }
    }
    assert!(missing.is_empty(), "seeds without both cases: {missing:?}");
}

#[test]
fn uniqueness_failure_names_table_and_columns() {
    let mut t = table("flags", vec![column("on", "boolean", false)], &[]);
    t.uniques.push(UniqueConstraint {
        name: None,
        columns: vec!["on".into()],
    });
    let mut s = Schema::default();
    s.tables.insert("flags".into(), std::sync::Arc::new(t));
    let err = seed(&s, options(3, 0)).unwrap_err();
    assert!(
        matches!(&err, SeedError::Uniqueness { table, columns, .. } if table == "flags" && columns == "on"),
        "{err}"
    );
    assert!(err.to_string().contains("custom seed"));
}

/// `a.b_id` nullable -> b, `b.a_id` NOT NULL -> a, and `c` a child of both (NOT NULL).
fn cycle_schema(a_nullable: bool) -> Schema {
    let mut a = table(
        "a",
        vec![
            column("id", "int", false),
            column("b_id", "int", a_nullable),
        ],
        &["id"],
    );
    a.foreign_keys.push(fk(&["b_id"], "b", &["id"]));
    let mut b = table(
        "b",
        vec![column("id", "int", false), column("a_id", "int", false)],
        &["id"],
    );
    b.foreign_keys.push(fk(&["a_id"], "a", &["id"]));
    let mut c = table(
        "c",
        vec![
            column("id", "int", false),
            column("a_id", "int", false),
            column("b_id", "int", false),
        ],
        &["id"],
    );
    c.foreign_keys.push(fk(&["a_id"], "a", &["id"]));
    c.foreign_keys.push(fk(&["b_id"], "b", &["id"]));
    let mut s = Schema::default();
    for t in [a, b, c] {
        s.tables.insert(t.name.clone(), std::sync::Arc::new(t));
    }
    s
}

/// The rows as the database holds them once the updates ran.
fn applied(seeds: &Seeds) -> Seeds {
    let mut out = seeds.clone();
    for u in &seeds.updates {
        let (_, rows) = out.tables.iter_mut().find(|(n, _)| *n == u.table).unwrap();
        let matching: Vec<&mut Vec<Value>> = rows
            .iter_mut()
            .filter(|r| u.key_columns.iter().zip(&u.key).all(|(&c, v)| r[c] == *v))
            .collect();
        assert_eq!(matching.len(), 1, "update {u:?} must find exactly one row");
        for row in matching {
            for (&c, v) in u.columns.iter().zip(&u.values) {
                assert_eq!(row[c], Value::Null, "a deferred column is inserted NULL");
                row[c] = v.clone();
            }
        }
    }
    out.updates.clear();
    out
}

#[test]
fn fk_cycle_is_broken_at_the_nullable_edge_and_filled_by_updates() {
    let s = cycle_schema(true);
    let seeds = seed(&s, options(6, 7)).unwrap();
    let names: Vec<&str> = seeds.tables.iter().map(|(n, _)| n.as_str()).collect();
    // a first (its nullable b_id set aside), then b pointing at a, then their child c.
    assert_eq!(names, ["a", "b", "c"]);
    for name in ["a", "b", "c"] {
        assert_eq!(rows_of(&seeds, name).len(), 6, "{name} gets rows");
    }
    // As inserted: a.b_id NULL (b has no rows yet); the updates then point it at b's rows.
    assert!(rows_of(&seeds, "a").iter().all(|r| r[1] == Value::Null));
    assert!(!seeds.updates.is_empty());
    assert!(seeds
        .updates
        .iter()
        .all(|u| u.table == "a" && u.columns == [1] && u.parent == "b"));
    let done = applied(&seeds);
    assert_constraints(&s, &done).unwrap();
    // The database's view: grouped per table, by primary key.
    let updates = seeds.row_updates(&s);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].0.name, "a");
    assert_eq!(updates[0].1[0].key[0].0, "id");
    assert_eq!(updates[0].1[0].set[0].0, "b_id");
    assert_eq!(
        seed(&s, options(6, 7)).unwrap(),
        seeds,
        "same seed, same rows"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fk_cycle_seeds_hold_and_shrink_consistently(seed_value in any::<u64>(), rows in 1usize..9) {
        let s = cycle_schema(true);
        let seeds = seed(&s, options(rows, seed_value)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_constraints(&s, &applied(&seeds))?;
        for candidate in shrink_candidates(&seeds) {
            // Every update still finds its row and its parent; the rows stay insertable.
            assert_constraints(&s, &candidate)?;
            assert_constraints(&s, &applied(&candidate))?;
        }
    }
}

#[test]
fn fk_cycle_of_not_null_edges_names_the_cycle() {
    let s = cycle_schema(false);
    let err = seed(&s, options(4, 7)).unwrap_err();
    assert_eq!(
        err,
        SeedError::Cycle {
            cycle: "a.b_id -> b, b.a_id -> a".into()
        }
    );
    let text = err.to_string();
    assert!(text.contains("a.b_id -> b, b.a_id -> a"), "{text}");
    assert!(text.contains("custom seeds"), "{text}");
}

#[test]
fn fk_cycle_of_not_null_edges_enters_through_existing_rows() {
    // b already holds a row (a data migration's), so a can point at it before b is seeded.
    let s = cycle_schema(false);
    let mut opts = options(4, 7);
    opts.existing
        .insert("a".into(), vec![vec![Value::Int(100), Value::Null]]);
    opts.existing
        .insert("b".into(), vec![vec![Value::Int(200), Value::Int(100)]]);
    let seeds = seed(&s, opts).unwrap();
    assert!(seeds.updates.is_empty());
    assert!(rows_of(&seeds, "a").iter().all(|r| r[1] == Value::Int(200)));
    assert_eq!(rows_of(&seeds, "c").len(), 4);
}

#[test]
fn fk_cycle_custom_values_of_the_deferred_column_become_updates() {
    let s = cycle_schema(true);
    let mut opts = options(2, 3);
    let custom: CustomSeed = toml::from_str(
        r#"
        mode = "extend"
        rows = [{ id = 900, b_id = 1 }]
        "#,
    )
    .unwrap();
    opts.custom.insert("a".into(), custom);
    let seeds = seed(&s, opts).unwrap();
    let first = &rows_of(&seeds, "a")[0];
    assert_eq!(first, &vec![Value::Int(900), Value::Null]);
    assert!(seeds
        .updates
        .iter()
        .any(|u| u.key == [Value::Int(900)] && u.values == [Value::Int(1)]));
}

#[test]
fn composite_foreign_keys_take_one_parent_row() {
    let mut p = table(
        "p",
        vec![column("a", "int", false), column("b", "int", false)],
        &["a", "b"],
    );
    p.uniques.clear();
    let mut c = table(
        "c",
        vec![
            column("id", "int", false),
            column("pa", "int", false),
            column("pb", "int", false),
        ],
        &["id"],
    );
    c.foreign_keys.push(fk(&["pa", "pb"], "p", &["a", "b"]));
    let mut s = Schema::default();
    s.tables.insert("p".into(), std::sync::Arc::new(p));
    s.tables.insert("c".into(), std::sync::Arc::new(c));
    for seed_value in 0..20 {
        let seeds = seed(&s, options(6, seed_value)).unwrap();
        assert_constraints(&s, &seeds).unwrap();
    }
}

const DOWNGRADE: &str = r#"
revision = "abc123"

def upgrade():
    op.add_column("users", sa.Column("nickname", sa.Text(), nullable=True))

def downgrade():
    op.execute("DELETE FROM users WHERE status = 'deleted'")
    op.execute("UPDATE users SET age = 0 WHERE email LIKE '%@example.com' AND age > 120")
    op.execute(users.update().where(users.c.nickname.in_(["bob", "eve"])))
    op.drop_column("users", "nickname")
    limit = 3.5
"#;

#[test]
fn mining_finds_comparisons_in_sql_and_python() {
    let lit = mine_literals(&[DOWNGRADE]);
    assert_eq!(lit.for_column("status"), ["deleted"]);
    assert_eq!(lit.for_column("email"), ["a@example.com"]);
    assert_eq!(lit.for_column("age"), ["119", "120", "121"]);
    assert_eq!(lit.for_column("nickname"), ["bob", "eve"]);
    assert!(lit.strings.contains("abc123") && lit.strings.contains("nickname"));
    assert!(lit.numbers.contains("3.5"));
    // IN lists, qualified names and Django lookups.
    let more = mine_literals(&[
        "op.execute(\"DELETE FROM t WHERE t.kind IN ('a', 'b') OR n BETWEEN 1 AND 5\")",
        "Model.objects.filter(role='admin', score__gt=10).delete()",
    ]);
    assert_eq!(more.for_column("kind"), ["a", "b"]);
    assert_eq!(more.for_column("n"), ["1", "5"]);
    assert_eq!(more.for_column("role"), ["admin"]);
    assert_eq!(more.for_column("score"), ["10"]);
    // Bad SQL and bad Python never panic.
    let junk = mine_literals(&[
        "op.execute(\"DELETE FROM WHERE = = (\")",
        "def (:\n  'x",
        "SELECT * FROM t WHERE a = 'q'",
    ]);
    assert_eq!(junk.for_column("a"), ["q"]);
}

#[test]
fn rows_the_revision_inserts_are_kept_clear_of() {
    // A data migration's fixed rows, by SQL and by the ORM: recorded as created, not planted.
    let lit = mine_literals(&[
        "INSERT INTO users (id, email, status) VALUES (1, 'root@x', 'active'), (2, 'bot@x', 'active');",
        "Category(id=3, name='Uncategorised').save()\nUser.objects.create(email='ops@x')\nUser.objects.filter(id=9).delete()",
    ]);
    assert_eq!(lit.inserted_into("users", "id"), ["1", "2", "3"]);
    assert_eq!(
        lit.inserted_into("USERS", "email"),
        ["bot@x", "root@x", "ops@x"]
    );
    // A lookup is not a row: `filter(id=9)` plants 9, it does not reserve it.
    assert!(!lit.inserted_into("users", "id").contains(&"9".to_string()));
    let schema = schema();
    for seed_value in 0..20 {
        let opts = SeedOptions {
            literals: lit.clone(),
            ..options(8, seed_value)
        };
        let seeds = seed(&schema, opts).unwrap();
        for row in rows_of(&seeds, "users") {
            assert!(
                ![Value::Int(1), Value::Int(2), Value::Int(3)].contains(&row[0]),
                "seed {seed_value}: generated id {:?} collides with an inserted row",
                row[0]
            );
            assert!(
                !["root@x", "bot@x", "ops@x"].contains(&row[1].to_string().trim_matches('\'')),
                "seed {seed_value}: {:?}",
                row[1]
            );
        }
        assert_constraints(&schema, &seeds).unwrap();
    }
}

#[test]
fn mined_values_are_seeded() {
    let lit = mine_literals(&[DOWNGRADE]);
    let schema = schema();
    for seed_value in 0..10 {
        let opts = SeedOptions {
            literals: lit.clone(),
            ..options(8, seed_value)
        };
        let seeds = seed(&schema, opts).unwrap();
        let users = rows_of(&seeds, "users");
        let has = |c: usize, v: &str| users.iter().any(|r| r[c] == Value::Text(v.into()));
        assert!(has(2, "deleted"), "seed {seed_value}: no deleted status");
        assert!(has(1, "a@example.com"));
        assert!(users
            .iter()
            .any(|r| r[4] == Value::Int(121) || r[4] == Value::Int(120)));
        // And rows that do not match, so a delete of only those rows is told apart.
        assert!(
            users.iter().any(|r| r[2] != Value::Text("deleted".into())),
            "{users:?}"
        );
        assert_constraints(&schema, &seeds).unwrap();
    }
}

#[test]
fn shrinking_keeps_foreign_keys_and_gets_smaller() {
    let schema = schema();
    let seeds = seed(&schema, options(8, 3)).unwrap();
    let total = |s: &Seeds| s.tables.iter().map(|(_, r)| r.len()).sum::<usize>();
    let candidates = shrink_candidates(&seeds);
    assert!(!candidates.is_empty() && candidates.len() <= MAX_SHRINK_CANDIDATES);
    // The first candidate halves the first table; the third halves users and drops the
    // comments left dangling (their user_id is NOT NULL).
    assert_eq!(seeds.tables[0].0, "categories");
    assert_eq!(candidates[0].tables[0].1.len(), 4);
    let halved = &candidates[2];
    assert_eq!(rows_of(halved, "users").len(), 4);
    assert!(rows_of(halved, "comments").len() < 8);
    assert!(total(halved) < total(&seeds));
    let mut simpler_values = 0;
    for c in &candidates {
        assert_constraints(&schema, c)
            .or_else(|e| {
                // Nulling a nullable column may leave it all NULL; that is the point.
                if e.to_string().contains("all NULL") {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .unwrap();
        if total(c) == total(&seeds) {
            simpler_values += 1;
            assert_ne!(c, &seeds);
        } else {
            assert!(total(c) < total(&seeds));
        }
    }
    assert!(simpler_values > 0);
    // NULL for a nullable column and halved text are among them; keys never become NULL.
    assert!(candidates
        .iter()
        .any(|c| rows_of(c, "users").iter().all(|r| r[3] == Value::Null)));
    assert!(candidates
        .iter()
        .all(|c| rows_of(c, "users").iter().all(|r| r[0] != Value::Null)));
    // Repeated shrinking reaches a single row and stops offering row removals past empty.
    let mut current = seeds.clone();
    for _ in 0..10 {
        match shrink_candidates(&current).into_iter().next() {
            Some(next) => current = next,
            None => break,
        }
    }
    assert!(total(&current) < 4);
}

fn users_table() -> Table {
    (*schema().tables["users"]).clone()
}

#[test]
fn custom_rows_from_inline_toml() {
    let spec: CustomSeed = toml::from_str(
        r#"
        mode = "extend"
        rows = [
            { email = "a@b.c", status = "deleted", balance = "12.5", age = 40 },
            { id = 10, email = "x@y.z", status = "live", nickname = "Zed" },
        ]
        "#,
    )
    .unwrap();
    assert_eq!(spec.mode, CustomMode::Extend);
    let rows = custom_rows(&users_table(), &spec).unwrap();
    assert_eq!(
        rows[0],
        vec![
            Value::Int(11),
            Value::Text("a@b.c".into()),
            Value::Text("deleted".into()),
            Value::Null,
            Value::Int(40),
            Value::Text("12.5".into()),
        ]
    );
    assert_eq!(rows[1][0], Value::Int(10));
    // In seed(): extend keeps them and adds generated rows whose ids do not clash.
    let mut s = Schema::default();
    s.tables
        .insert("users".into(), std::sync::Arc::new(users_table()));
    let mut custom = BTreeMap::new();
    custom.insert("users".to_string(), spec.clone());
    let seeds = seed(
        &s,
        SeedOptions {
            custom,
            ..options(3, 0)
        },
    )
    .unwrap();
    let users = rows_of(&seeds, "users");
    assert_eq!(users.len(), 5);
    assert_eq!(users[..2], rows[..]);
    assert_constraints(&s, &seeds).unwrap();
    // Replace (default) keeps only them; children then draw from them.
    let mut replace = spec;
    replace.mode = CustomMode::Replace;
    let mut custom = BTreeMap::new();
    custom.insert("users".to_string(), replace);
    let seeds = seed(
        &schema(),
        SeedOptions {
            custom,
            ..options(4, 0)
        },
    )
    .unwrap();
    assert_eq!(rows_of(&seeds, "users").len(), 2);
    assert!(rows_of(&seeds, "comments")
        .iter()
        .all(|r| r[2] == Value::Int(10) || r[2] == Value::Int(11)));
}

#[test]
fn custom_errors_name_row_and_column() {
    let parse = |s: &str| toml::from_str::<CustomSeed>(s).unwrap();
    let err = custom_rows(&users_table(), &parse(r#"rows = [{ email = "a", status = "s" }, { email = "b", status = "this is too long" }]"#)).unwrap_err();
    assert!(
        matches!(&err, CustomSeedError::Value { row: 2, column, .. } if column == "status"),
        "{err}"
    );
    assert!(err.to_string().contains("row 2, column status"), "{err}");
    let err = custom_rows(
        &users_table(),
        &parse(r#"rows = [{ email = "a", status = "s", colour = "red" }]"#),
    )
    .unwrap_err();
    assert!(
        matches!(&err, CustomSeedError::UnknownColumn { row: 1, column, .. } if column == "colour")
    );
    let err = custom_rows(&users_table(), &parse(r#"rows = [{ email = "a" }]"#)).unwrap_err();
    assert!(matches!(&err, CustomSeedError::Missing { row: 1, column, .. } if column == "status"));
    let err = custom_rows(
        &users_table(),
        &parse(r#"rows = [{ email = "a", status = "s", age = 70000 }]"#),
    )
    .unwrap_err();
    assert!(err.to_string().contains("row 1, column age"), "{err}");
    assert!(
        toml::from_str::<CustomSeed>("rowz = []").is_err(),
        "unknown keys are refused"
    );
}

#[test]
fn custom_rows_from_json_and_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("users.json");
    std::fs::write(
        &json,
        r#"[{"id": 1, "email": "j@x", "status": "ok", "balance": 1.25, "nickname": null}]"#,
    )
    .unwrap();
    let spec = CustomSeed {
        file: Some(json.clone()),
        ..CustomSeed::default()
    };
    let rows = custom_rows(&users_table(), &spec).unwrap();
    assert_eq!(rows[0][5], Value::Text("1.25".into()));
    assert_eq!(rows[0][3], Value::Null);

    let csv = dir.path().join("users.csv");
    std::fs::write(
        &csv,
        "id,email,status,age,nickname\n1,c@x,ok,30,\n2,d@x,ok,,Dee\n",
    )
    .unwrap();
    let spec = CustomSeed {
        file: Some(csv.clone()),
        ..CustomSeed::default()
    };
    let rows = custom_rows(&users_table(), &spec).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][4], Value::Int(30));
    assert_eq!(rows[0][3], Value::Null);
    assert_eq!(rows[1][4], Value::Null);
    assert_eq!(rows[1][3], Value::Text("Dee".into()));

    std::fs::write(&csv, "id,email,status\n1,c@x,ok\n2,,ok\n").unwrap();
    let err = custom_rows(&users_table(), &spec).unwrap_err();
    assert!(
        matches!(&err, CustomSeedError::Value { row: 2, column, .. } if column == "email"),
        "{err}"
    );
    std::fs::write(&csv, "id,email,status\nx,c@x,ok\n").unwrap();
    let err = custom_rows(&users_table(), &spec).unwrap_err();
    assert!(err.to_string().contains("row 1, column id"), "{err}");
    std::fs::write(&json, r#"[{"email": "j@x", "status": 5, "age": "old"}]"#).unwrap();
    let spec = CustomSeed {
        file: Some(json),
        ..CustomSeed::default()
    };
    let err = custom_rows(&users_table(), &spec).unwrap_err();
    assert!(err.to_string().contains("row 1, column age"), "{err}");
    let missing = CustomSeed {
        file: Some(dir.path().join("nope.csv")),
        ..CustomSeed::default()
    };
    assert!(matches!(
        custom_rows(&users_table(), &missing),
        Err(CustomSeedError::File { .. })
    ));
}

#[test]
fn every_bounded_text_column_meets_its_maximum_length() {
    for seed in 0..20 {
        let t = table(
            "notes",
            vec![
                column("id", "INTEGER", false),
                column("title", "VARCHAR(30)", true),
            ],
            &["id"],
        );
        let mut s = Schema::default();
        s.tables.insert(t.name.clone(), std::sync::Arc::new(t));
        let seeds = seed_schema(&s, seed);
        let longest = rows_of(&seeds, "notes")
            .iter()
            .filter_map(|r| match &r[1] {
                Value::Text(v) => Some(v.chars().count()),
                _ => None,
            })
            .max();
        assert_eq!(longest, Some(30), "seed {seed}");
    }
}

fn seed_schema(s: &Schema, seed: u64) -> Seeds {
    super::seed(s, options(8, seed)).expect("seedable")
}

/// Rows a data migration left behind: users id 1 and 5 ('system@x', 'bot@x'), posts id 7.
fn existing_rows() -> BTreeMap<String, Vec<Row>> {
    let user = |id: i64, email: &str| {
        vec![
            Value::Int(id),
            Value::Text(email.into()),
            Value::Text("active".into()),
            Value::Null,
            Value::Null,
            Value::Null,
        ]
    };
    let mut existing = BTreeMap::new();
    existing.insert(
        "users".to_string(),
        vec![user(1, "system@x"), user(5, "bot@x")],
    );
    existing.insert(
        "posts".to_string(),
        vec![vec![
            Value::Int(7),
            Value::Int(1),
            Value::Text("ab".into()),
            Value::Text("live".into()),
            Value::Text("2026-01-01 00:00:00".into()),
            Value::Null,
        ]],
    );
    existing
}

#[test]
fn existing_rows_are_avoided_continued_and_referenced() {
    let s = schema();
    let existing = existing_rows();
    let mut referenced_existing = false;
    for seed_value in 0..20 {
        let seeds = seed(
            &s,
            SeedOptions {
                existing: existing.clone(),
                literals: mine_literals(&["WHERE email = 'system@x'"]),
                ..options(8, seed_value)
            },
        )
        .unwrap();
        let users = rows_of(&seeds, "users");
        assert_eq!(users.len(), 8, "existing rows are not part of the seeds");
        // Auto-numbered keys continue after the largest existing one, as the sequence would.
        let ids: Vec<i64> = users
            .iter()
            .map(|r| match r[0] {
                Value::Int(n) => n,
                ref v => panic!("id {v:?}"),
            })
            .collect();
        assert_eq!(ids, (6..14).collect::<Vec<_>>(), "seed {seed_value}");
        // The unique email of an existing row is never generated, even when mined.
        assert!(
            users
                .iter()
                .all(|r| r[1] != Value::Text("system@x".into())
                    && r[1] != Value::Text("bot@x".into()))
        );
        // Posts avoid the existing post's key; their authors may be existing users.
        let posts = rows_of(&seeds, "posts");
        assert!(posts.iter().all(|r| r[0] != Value::Int(7)));
        let mut known: HashSet<Value> = ids.iter().map(|&n| Value::Int(n)).collect();
        known.extend([Value::Int(1), Value::Int(5)]);
        for post in posts {
            assert!(
                post[1] == Value::Null || known.contains(&post[1]),
                "{post:?}"
            );
            referenced_existing |= post[1] == Value::Int(1) || post[1] == Value::Int(5);
        }
    }
    assert!(
        referenced_existing,
        "no post ever pointed at an existing user"
    );
}

#[test]
fn shrinking_keeps_children_of_existing_parents() {
    let s = schema();
    let points_at_existing = |r: &Row| r[1] == Value::Int(1) || r[1] == Value::Int(5);
    // One generated row per table: shrinking may empty `users`, a post of an existing user stays.
    let seeds = (0..50)
        .map(|n| {
            let existing = existing_rows();
            seed(
                &s,
                SeedOptions {
                    existing,
                    ..options(1, n)
                },
            )
            .unwrap()
        })
        .find(|seeds| rows_of(seeds, "posts").iter().any(points_at_existing))
        .expect("a post pointing at an existing user");
    let no_users = shrink_candidates(&seeds)
        .into_iter()
        .find(|c| rows_of(c, "users").is_empty())
        .expect("a candidate without generated users");
    let posts = rows_of(&no_users, "posts");
    assert_eq!(posts.len(), 1, "{no_users:?}");
    assert!(points_at_existing(&posts[0]));
}

#[test]
fn shaped_values_ids_objects_and_planted_nulls() {
    let source = r#"
def downgrade():
    for row in conn.execute(sa.select(prefs)):
        theme = row["settings"].get("theme")
    op.execute("DELETE FROM accounts WHERE deleted_at IS NULL")
    q.filter(Account.closed_at == None, archived_at__isnull=True)
    q.where(accounts.c.locked_at.is_(None))
"#;
    let lits = mine_literals(&[source]);
    for column in ["deleted_at", "closed_at", "archived_at", "locked_at"] {
        assert!(lits.wants_null(column), "{column}: {lits:?}");
    }
    assert!(lits.wants_object("settings"), "{lits:?}");
    let make = |name: &str| {
        table(
            name,
            vec![
                column("id", "CHAR(36)", false),
                column("external_id", "VARCHAR(64)", true),
                column("settings", "JSON", false),
                column("deleted_at", "TIMESTAMP", true),
            ],
            &["id"],
        )
    };
    let mut s = Schema::default();
    for t in [make("accounts"), make("archive")] {
        s.tables.insert(t.name.clone(), std::sync::Arc::new(t));
    }
    let mut opts = options(8, 5);
    opts.literals = lits;
    let seeds = seed(&s, opts).unwrap();
    let mut ids = HashSet::new();
    for name in ["accounts", "archive"] {
        for r in rows_of(&seeds, name) {
            // Ids: well-formed UUIDs, never shared between the two tables.
            let Value::Text(id) = &r[0] else {
                panic!("{r:?}")
            };
            assert!(strategy::parse_for(&Spec::of(&column("u", "uuid", false)), id).is_ok());
            assert!(ids.insert(id.clone()), "{id} repeats");
            if let Value::Text(ext) = &r[1] {
                assert_eq!(ext.len(), 36, "{ext}");
            }
            // settings is used as a mapping: always an object.
            let Value::Text(json) = &r[2] else {
                panic!("{r:?}")
            };
            let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
            assert!(parsed.is_object(), "{json}");
        }
        let rows = rows_of(&seeds, name);
        assert_eq!(rows[3][3], Value::Null, "NULL planted in deleted_at");
        assert!(rows.iter().any(|r| r[3] != Value::Null));
    }
}

#[test]
fn json_values_include_objects_arrays_and_scalars() {
    let s = {
        let mut s = Schema::default();
        let t = table(
            "docs",
            vec![column("id", "int", false), column("body", "jsonb", false)],
            &["id"],
        );
        s.tables.insert(t.name.clone(), std::sync::Arc::new(t));
        s
    };
    let seeds = seed(&s, options(64, 11)).unwrap();
    let kinds: HashSet<&str> = rows_of(&seeds, "docs")
        .iter()
        .map(|r| match &r[1] {
            Value::Text(j) => match serde_json::from_str::<serde_json::Value>(j).unwrap() {
                serde_json::Value::Object(_) => "object",
                serde_json::Value::Array(_) => "array",
                _ => "scalar",
            },
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, HashSet::from(["object", "array", "scalar"]));
}

/// MariaDB's JSON is LONGTEXT with `CHECK (json_valid(settings))`: the values must be JSON.
#[test]
fn json_valid_check_makes_a_text_column_json() {
    let mut t = table(
        "prefs",
        vec![
            column("id", "int(11)", false),
            column("settings", "longtext", false),
        ],
        &["id"],
    );
    t.checks.push(CheckConstraint {
        name: Some("settings".into()),
        expression: "json_valid(`settings`)".into(),
    });
    let mut s = Schema::default();
    s.tables.insert(t.name.clone(), std::sync::Arc::new(t));
    let seeds = seed(&s, options(8, 5)).unwrap();
    for row in rows_of(&seeds, "prefs") {
        let Value::Text(text) = &row[1] else {
            panic!("settings {:?}", row[1]);
        };
        assert!(
            serde_json::from_str::<serde_json::Value>(text).is_ok(),
            "not JSON: {text}"
        );
    }
}
