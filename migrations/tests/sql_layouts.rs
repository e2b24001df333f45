//! Every layout read as its tool reads it: ids, versions, descriptions, the tool's order, up and
//! down texts, transaction flags, and the files each tool skips.

mod sql_common;

use mrt_migrations::sql::{SqlDown, SqlTool};
use sql_common::*;

#[test]
fn sqlx_reversible_and_simple() {
    let p = TempProject::new();
    p.file(
        "migrations/20240101000002_add_phone.up.sql",
        "ALTER TABLE users ADD COLUMN phone TEXT;\n",
    );
    p.file(
        "migrations/20240101000002_add_phone.down.sql",
        "ALTER TABLE users DROP COLUMN phone;\n",
    );
    p.file(
        "migrations/20240101000001_create_users.up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    );
    p.file(
        "migrations/20240101000001_create_users.down.sql",
        "DROP TABLE users;\n",
    );
    p.file(
        "migrations/20240101000003_backfill.sql",
        "-- no-transaction\nUPDATE users SET phone = '';\n",
    );
    p.file("migrations/README.md", "notes");
    p.file("migrations/schema_notes.txt", "x");
    p.file("migrations/nested/1_x.up.sql", "SELECT 1;");
    let proj = p.load(SqlTool::Sqlx, "migrations");
    assert_eq!(
        ids(&proj),
        [
            "20240101000001_create_users",
            "20240101000002_add_phone",
            "20240101000003_backfill"
        ]
    );
    assert!(proj.problems.is_empty(), "{:#?}", proj.problems);
    let m = &proj.migrations[1];
    assert_eq!(m.version, "20240101000002");
    assert_eq!(m.description, "add phone");
    assert_eq!(m.up.name, "20240101000002_add_phone.up.sql");
    assert_eq!(down_text(m), "ALTER TABLE users DROP COLUMN phone;\n");
    assert!(m.up.transactional);
    let simple = &proj.migrations[2];
    assert_eq!(simple.down, SqlDown::ForwardOnly);
    assert!(!simple.up.transactional, "-- no-transaction opts out");
    assert_eq!(
        ignored_names(&proj),
        ["README.md", "nested", "schema_notes.txt"]
    );
}

#[test]
fn sqlx_orders_by_integer_version() {
    let p = TempProject::new();
    for name in ["10_ten", "9_nine", "0011_eleven", "+12_twelve"] {
        p.file(&format!("m/{name}.up.sql"), "SELECT 1;");
        p.file(&format!("m/{name}.down.sql"), "SELECT 1;");
    }
    let proj = p.load(SqlTool::Sqlx, "m");
    assert_eq!(
        ids(&proj),
        ["9_nine", "10_ten", "0011_eleven", "+12_twelve"]
    );
    assert_eq!(proj.migrations[2].version, "11");
    assert_eq!(proj.migrations[3].version, "12");
}

#[test]
fn sqlx_description_trims_suffix_like_sqlx() {
    let p = TempProject::new();
    p.file("m/1_a_b_c.sql", "SELECT 1;");
    let proj = p.load(SqlTool::Sqlx, "m");
    assert_eq!(proj.migrations[0].description, "a b c");
    assert_eq!(proj.migrations[0].id, "1_a_b_c");
}

#[test]
fn diesel_folders_and_metadata() {
    let p = TempProject::new();
    p.file("migrations/.keep", "");
    p.file("migrations/README.md", "x");
    p.file(
        "migrations/00000000000000_diesel_initial_setup/up.sql",
        "SELECT 1;\n",
    );
    p.file(
        "migrations/00000000000000_diesel_initial_setup/down.sql",
        "SELECT 1;\n",
    );
    p.file(
        "migrations/2024-01-01-000002_add_sku/up.sql",
        "ALTER TABLE products ADD COLUMN sku TEXT;\n",
    );
    p.file(
        "migrations/2024-01-01-000002_add_sku/down.sql",
        "ALTER TABLE products DROP COLUMN sku;\n",
    );
    p.file(
        "migrations/2024-01-01-000002_add_sku/metadata.toml",
        "run_in_transaction = false\n",
    );
    p.file(
        "migrations/2024-01-01-000001_create_products/up.sql",
        "CREATE TABLE products (id INTEGER PRIMARY KEY);\n",
    );
    p.file(
        "migrations/2024-01-01-000001_create_products/down.sql",
        "DROP TABLE products;\n",
    );
    p.file(
        "migrations/2024-01-01-000001_create_products/notes.txt",
        "x",
    );
    p.file("migrations/2024-01-01-000003_no_key/up.sql", "SELECT 3;\n");
    p.file(
        "migrations/2024-01-01-000003_no_key/down.sql",
        "SELECT 3;\n",
    );
    p.file(
        "migrations/2024-01-01-000003_no_key/metadata.toml",
        "owner = \"me\"\n",
    );
    p.file(
        "migrations/2024-01-01-000004_bad_toml/up.sql",
        "SELECT 4;\n",
    );
    p.file(
        "migrations/2024-01-01-000004_bad_toml/down.sql",
        "SELECT 4;\n",
    );
    p.file(
        "migrations/2024-01-01-000004_bad_toml/metadata.toml",
        "run_in_transaction = = false\n",
    );
    let proj = p.load(SqlTool::Diesel, "migrations");
    assert_eq!(
        ids(&proj),
        [
            "00000000000000_diesel_initial_setup",
            "2024-01-01-000001_create_products",
            "2024-01-01-000002_add_sku",
            "2024-01-01-000003_no_key",
            "2024-01-01-000004_bad_toml",
        ]
    );
    assert!(proj.problems.is_empty(), "{:#?}", proj.problems);
    let sku = &proj.migrations[2];
    assert_eq!(sku.version, "20240101000002");
    assert_eq!(sku.description, "add_sku");
    assert_eq!(sku.up.name, "2024-01-01-000002_add_sku/up.sql");
    assert!(!sku.up.transactional);
    assert!(matches!(&sku.down, SqlDown::Script(d) if !d.transactional));
    assert!(
        proj.migrations[1].up.transactional,
        "no metadata.toml: in a transaction"
    );
    // diesel's TomlMetadata gives run_in_transaction #[serde(default)]: absent key = false.
    assert!(!proj.migrations[3].up.transactional);
    // An unparsable metadata.toml is ignored by diesel (unwrap_or_default): true.
    assert!(proj.migrations[4].up.transactional);
    assert_eq!(
        ignored_names(&proj),
        [".keep", "README.md", "metadata.toml", "notes.txt"]
    );
}

#[test]
fn golang_migrate_numeric_order_and_no_transaction() {
    let p = TempProject::new();
    for (v, title) in [(10, "ten"), (9, "nine"), (1, "one")] {
        p.file(
            &format!("db/{v:06}_{title}.up.sql"),
            "BEGIN;\nSELECT 1;\nCOMMIT;\n",
        );
        p.file(&format!("db/{v:06}_{title}.down.sql"), "SELECT 2;\n");
    }
    p.file("db/000011_a.up.b.down.sql", "SELECT 11;\n");
    p.file("db/000011_a.up.b.up.sql", "SELECT 11;\n");
    p.file("db/notes.md", "x");
    let proj = p.load(SqlTool::GolangMigrate, "db");
    assert_eq!(
        ids(&proj),
        ["000001_one", "000009_nine", "000010_ten", "000011_a.up.b"]
    );
    assert_eq!(proj.migrations[2].version, "10");
    assert_eq!(proj.migrations[2].description, "ten");
    assert!(proj.migrations.iter().all(|m| !m.up.transactional));
    assert_eq!(down_text(&proj.migrations[3]), "SELECT 11;\n");
    assert_eq!(ignored_names(&proj), ["notes.md"]);
}

#[test]
fn golang_migrate_accepts_any_extension() {
    let p = TempProject::new();
    p.file("m/1_x.up.cql", "x");
    p.file("m/1_x.down.cql", "y");
    let proj = p.load(SqlTool::GolangMigrate, "m");
    assert_eq!(ids(&proj), ["1_x"]);
}

#[test]
fn dbmate_sections_flags_and_file_name_order() {
    let p = TempProject::new();
    p.file(
        "db/migrations/2_c.sql",
        "-- a comment before is fine\n\n-- migrate:up transaction:false\nCREATE INDEX ix ON t (a);\n\n-- migrate:down\nDROP INDEX ix;\n",
    );
    p.file(
        "db/migrations/10_b.sql",
        "-- migrate:up\nSELECT 10;\n-- migrate:down transaction:false\nSELECT -10;\n",
    );
    p.file("db/migrations/schema.txt", "x");
    p.file("db/migrations/notes.sql", "x");
    let proj = p.load(SqlTool::Dbmate, "db/migrations");
    // Versions 2 and 10 of a sequence: 3 to 9 are missing.
    assert_eq!(kinds(&proj), [mrt_migrations::ProblemKind::VersionGap]);
    // dbmate sorts by file name: "10_b.sql" < "2_c.sql".
    assert_eq!(ids(&proj), ["10_b", "2_c"]);
    let c = &proj.migrations[1];
    assert_eq!(c.version, "2");
    assert_eq!(c.description, "c");
    assert_eq!(c.up.first_line, 3);
    assert_eq!(
        c.up.text,
        "-- migrate:up transaction:false\nCREATE INDEX ix ON t (a);\n\n"
    );
    assert!(!c.up.transactional);
    let SqlDown::Script(down) = &c.down else {
        panic!()
    };
    assert_eq!(down.first_line, 6);
    assert_eq!(down.text, "-- migrate:down\nDROP INDEX ix;\n");
    assert!(down.transactional);
    let b = &proj.migrations[0];
    assert!(b.up.transactional);
    assert!(matches!(&b.down, SqlDown::Script(d) if !d.transactional));
    assert_eq!(ignored_names(&proj), ["notes.sql", "schema.txt"]);
}

#[test]
fn flyway_versions_undo_and_script_config() {
    let p = TempProject::new();
    let loc = "src/main/resources/db/migration";
    for v in ["1", "1.1", "1.9", "1.10", "2", "1_2"] {
        p.file(
            &format!("{loc}/V{v}__step_{}.sql", v.replace(['.', '_'], "x")),
            "SELECT 1;\n",
        );
    }
    p.file(&format!("{loc}/U1.10__undo_it.sql"), "SELECT -1;\n");
    p.file(
        &format!("{loc}/V2__step_2.sql.conf"),
        "# config\nexecuteInTransaction=false\n",
    );
    p.file(
        &format!("{loc}/R__views.sql"),
        "CREATE VIEW v AS SELECT 1;\n",
    );
    p.file(&format!("{loc}/afterMigrate.sql"), "SELECT 1;\n");
    p.file(
        &format!("{loc}/sub/V3__in_subfolder.sql"),
        "\u{feff}SELECT 3;\n",
    );
    p.file(&format!("{loc}/notes.txt"), "x");
    p.file(
        &format!("{loc}/V9__gone.sql.conf"),
        "executeInTransaction=false\n",
    );
    let proj = p.load(SqlTool::Flyway, loc);
    assert_eq!(
        ids(&proj),
        [
            "V1__step_1",
            "V1.1__step_1x1",
            "V1_2__step_1x2",
            "V1.9__step_1x9",
            "V1.10__step_1x10",
            "V2__step_2",
            "V3__in_subfolder"
        ]
    );
    assert_eq!(proj.migrations[2].version, "1.2");
    assert_eq!(proj.migrations[0].description, "step 1");
    let ten = &proj.migrations[4];
    assert_eq!(down_text(ten), "SELECT -1;\n");
    assert!(!proj.migrations[5].up.transactional);
    assert!(proj.migrations[4].up.transactional);
    let sub = &proj.migrations[6];
    assert_eq!(sub.up.name, "sub/V3__in_subfolder.sql");
    assert_eq!(sub.up.text, "SELECT 3;\n", "the byte-order mark is not SQL");
    assert_eq!(
        ignored_names(&proj),
        [
            "R__views.sql",
            "V9__gone.sql.conf",
            "afterMigrate.sql",
            "notes.txt"
        ]
    );
    assert!(
        proj.ignored
            .iter()
            .any(|(_, why)| why.contains("repeatable")),
        "{:?}",
        proj.ignored
    );
    // Every versioned migration but 1.10 lacks its undo file.
    assert_eq!(
        kinds(&proj)
            .iter()
            .filter(|k| **k == mrt_migrations::ProblemKind::MissingDown)
            .count(),
        6
    );
}

#[test]
fn refinery_is_forward_only() {
    let p = TempProject::new();
    p.file(
        "migrations/V1__create_users.sql",
        "CREATE TABLE users (id INT4 PRIMARY KEY);\n",
    );
    p.file(
        "migrations/V3__index.sql",
        "-- refinery:noTransaction\nCREATE INDEX ix ON users (id);\n",
    );
    p.file(
        "migrations/nested/U2__backfill.sql",
        "UPDATE users SET id = id;\n",
    );
    p.file("migrations/V4__bad-name.sql", "x");
    p.file("migrations/V5__x.rs", "x");
    let proj = p.load(SqlTool::Refinery, "migrations");
    assert_eq!(
        ids(&proj),
        ["V1__create_users", "U2__backfill", "V3__index"]
    );
    assert!(proj
        .migrations
        .iter()
        .all(|m| m.down == SqlDown::ForwardOnly));
    assert_eq!(proj.migrations[1].version, "2");
    assert_eq!(proj.migrations[1].description, "backfill");
    assert_eq!(proj.migrations[1].up.name, "nested/U2__backfill.sql");
    assert!(!proj.migrations[2].up.transactional);
    assert!(proj.migrations[0].up.transactional);
    assert_eq!(ignored_names(&proj), ["V4__bad-name.sql", "V5__x.rs"]);
}

#[test]
fn revisions_form_one_chain() {
    let p = TempProject::new();
    p.file("migrations/000001_a.up.sql", "SELECT 1;\n");
    p.file("migrations/000001_a.down.sql", "SELECT 1;\n");
    p.file("migrations/000002_b.up.sql", "\nSELECT 2;\n");
    p.file("migrations/000002_b.down.sql", "SELECT 2;\n");
    let proj = p.load(SqlTool::GolangMigrate, "migrations");
    let revs = proj.revisions();
    assert_eq!(revs.len(), 2);
    assert!(revs[0].down_revisions.is_empty());
    assert_eq!(revs[1].down_revisions, ["000001_a"]);
    assert_eq!(revs[1].message.as_deref(), Some("b"));
    assert!(revs[1].path.ends_with("000002_b.up.sql"));
    assert_eq!(revs[1].line, 1);
    let graph = mrt_migrations::RevisionGraph::build(revs, &[]);
    assert!(graph.problems().is_empty());
    assert_eq!(graph.heads().len(), 1);
    assert_eq!(
        proj.previous("000002_b").map(|m| m.id.as_str()),
        Some("000001_a")
    );
    assert!(proj.previous("000001_a").is_none());
}

#[test]
fn dbmate_revision_points_at_the_up_section() {
    let p = TempProject::new();
    p.file(
        "db/migrations/1_a.sql",
        "-- header\n\n-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n",
    );
    let proj = p.load(SqlTool::Dbmate, "db/migrations");
    let rev = &proj.revisions()[0];
    assert!(rev.path.ends_with("1_a.sql"));
    assert_eq!(rev.line, 3);
}

#[cfg(unix)]
#[test]
fn symbolic_links_as_the_tools_follow_them() {
    let p = TempProject::new();
    let target = p.file("shared/up.sql", "SELECT 1;\n");
    p.file("m/1_a.down.sql", "SELECT 2;\n");
    p.dir("m");
    std::os::unix::fs::symlink(&target, p.root().join("m/1_a.up.sql")).unwrap();
    std::os::unix::fs::symlink(p.root().join("nowhere.sql"), p.root().join("m/2_b.up.sql"))
        .unwrap();
    let proj = p.load(SqlTool::Sqlx, "m");
    assert_eq!(ids(&proj), ["1_a"]);
    assert_eq!(proj.migrations[0].up.text, "SELECT 1;\n");
    problem(&proj, mrt_migrations::ProblemKind::Unreadable, "2_b.up.sql");

    // diesel: a link to a migration folder is a migration folder.
    let d = TempProject::new();
    let folder = d.dir("elsewhere/2024-01-01-000001_a");
    std::fs::write(folder.join("up.sql"), "SELECT 1;\n").unwrap();
    std::fs::write(folder.join("down.sql"), "SELECT 2;\n").unwrap();
    d.dir("migrations");
    std::os::unix::fs::symlink(&folder, d.root().join("migrations/2024-01-01-000001_a")).unwrap();
    let proj = d.load(SqlTool::Diesel, "migrations");
    assert_eq!(ids(&proj), ["2024-01-01-000001_a"]);

    // golang-migrate reads a link by its name (DirEntry.IsDir does not follow it): a link to a
    // folder named like a migration is a file it cannot read.
    let g = TempProject::new();
    let folder = g.dir("elsewhere");
    g.dir("m");
    std::os::unix::fs::symlink(&folder, g.root().join("m/1_a.up.sql")).unwrap();
    let proj = g.load(SqlTool::GolangMigrate, "m");
    let pr = problem(&proj, mrt_migrations::ProblemKind::Unreadable, "1_a.up.sql");
    assert!(pr.message.contains("leads to a folder"), "{}", pr.message);
}

#[test]
fn no_input_panics() {
    let names = [
        "_.sql",
        "__.sql",
        "V.sql",
        "V__.sql",
        "U__x.sql",
        "V1.__x.sql",
        "V.1__x.sql",
        "V-1__x.sql",
        "V+1__x.sql",
        "V1..2__x.sql",
        "1",
        "1_",
        "1_.up.sql",
        "1_.down.sql",
        ".up.sql",
        "1.up.sql",
        "99999999999999999999999_x.up.sql",
        "99999999999999999999999_x.sql",
        "1_x.up.",
        "|1__x.sql",
        "V99999999999__x.sql",
        "é_x.sql",
        "1_é.up.sql",
        "V1__é.sql",
        "-- migrate:up",
        "1x.sql",
        "1_x.sql.conf",
        "V1__x.sql.conf",
    ];
    let contents: [&[u8]; 6] = [
        b"",
        b"-- migrate:up",
        b"-- migrate:down\n-- migrate:up\n",
        b"\xff\xfe\x00garbage",
        b"--\n",
        b"-- migrate:up\n-- migrate:down\n-- migrate:down\n-- migrate:up\n",
    ];
    let p = TempProject::new();
    for (i, name) in names.iter().enumerate() {
        p.bytes(&format!("m/{name}"), contents[i % contents.len()]);
        p.bytes(
            &format!("m/dir{i}/{name}"),
            contents[(i + 1) % contents.len()],
        );
    }
    p.file("m/V1__x.sql.conf", "executeInTransaction=maybe\n");
    for tool in SqlTool::ALL {
        let proj = p.load(tool, "m");
        let _ = proj.revisions();
    }
    let _ = mrt_migrations::sql::detect(p.root());
}
