//! Finding the migrations folder and the tool, with the reason shown to the user.

mod sql_common;

use mrt_migrations::sql::{self, SqlError, SqlTool};
use sql_common::*;
use std::path::Path;

fn updown(p: &TempProject, dir: &str) {
    p.file(&format!("{dir}/20240101000001_a.up.sql"), "SELECT 1;");
    p.file(&format!("{dir}/20240101000001_a.down.sql"), "SELECT 1;");
}

fn versioned(p: &TempProject, dir: &str) {
    p.file(&format!("{dir}/V1__a.sql"), "SELECT 1;");
    p.file(&format!("{dir}/V2__b.sql"), "SELECT 2;");
}

fn detected(p: &TempProject) -> sql::Detection {
    sql::detect_with_reason(p.root()).expect("detected")
}

#[test]
fn up_down_pairs_sqlx_or_golang_migrate() {
    let p = TempProject::new();
    updown(&p, "migrations");
    let d = detected(&p);
    assert_eq!(d.tool, SqlTool::Sqlx);
    assert_eq!(d.dir, p.root().join("migrations"));
    assert!(
        d.detected_by
            .contains("no Cargo.toml or go.mod tells which"),
        "{}",
        d.detected_by
    );
    assert!(
        d.detected_by.ends_with("migrations in migrations/"),
        "{}",
        d.detected_by
    );

    p.file(
        "go.mod",
        "module example.com/app\n\nrequire github.com/golang-migrate/migrate/v4 v4.17.0\n",
    );
    let d = detected(&p);
    assert_eq!(d.tool, SqlTool::GolangMigrate);
    assert!(d
        .detected_by
        .starts_with("go.mod requires github.com/golang-migrate/migrate"));

    p.file(
        "Cargo.toml",
        "[package]\nname = \"app\"\n\n[dependencies]\nsqlx = \"0.8\"\n",
    );
    let d = detected(&p);
    assert_eq!(d.tool, SqlTool::Sqlx);
    assert!(d.detected_by.starts_with("Cargo.toml depends on sqlx"));
    assert_eq!(
        sql::detect(p.root()),
        Some((SqlTool::Sqlx, p.root().join("migrations")))
    );
}

#[test]
fn a_go_module_without_migrate_in_go_mod() {
    let p = TempProject::new();
    updown(&p, "db/migrations");
    p.file("go.mod", "module example.com/app\n");
    let d = detected(&p);
    assert_eq!(d.tool, SqlTool::GolangMigrate);
    assert_eq!(d.dir, p.root().join("db/migrations"));
    assert!(
        d.detected_by.contains("a Go module (go.mod)"),
        "{}",
        d.detected_by
    );
}

#[test]
fn versioned_files_flyway_or_refinery() {
    let p = TempProject::new();
    versioned(&p, "migrations");
    let d = detected(&p);
    assert_eq!(d.tool, SqlTool::Refinery);
    assert!(
        d.detected_by.contains("refinery's default folder"),
        "{}",
        d.detected_by
    );

    let j = TempProject::new();
    versioned(&j, "src/main/resources/db/migration");
    let d = detected(&j);
    assert_eq!(d.tool, SqlTool::Flyway);
    assert!(
        d.detected_by.contains("read as Flyway"),
        "{}",
        d.detected_by
    );

    let pom = TempProject::new();
    versioned(&pom, "migrations");
    pom.file(
        "pom.xml",
        "<project><artifactId>flyway-maven-plugin</artifactId></project>",
    );
    let d = detected(&pom);
    assert_eq!(d.tool, SqlTool::Flyway);
    assert!(d.detected_by.starts_with("pom.xml names Flyway"));

    let cargo = TempProject::new();
    versioned(&cargo, "db/migration");
    cargo.file(
        "Cargo.toml",
        "[dependencies]\nrefinery = { version = \"0.8\", features = [\"rusqlite\"] }\n",
    );
    let d = detected(&cargo);
    assert_eq!(d.tool, SqlTool::Refinery);
    assert!(d.detected_by.starts_with("Cargo.toml depends on refinery"));

    let dotted = TempProject::new();
    dotted.file("migrations/V1.1__a.sql", "SELECT 1;");
    assert_eq!(detected(&dotted).tool, SqlTool::Flyway);
}

#[test]
fn flyway_configuration_names_the_folder() {
    let p = TempProject::new();
    versioned(&p, "database/sql");
    p.file(
        "flyway.conf",
        "flyway.url=jdbc:postgresql://localhost/app\nflyway.locations=filesystem:database/sql\n",
    );
    let d = detected(&p);
    assert_eq!(d.tool, SqlTool::Flyway);
    assert_eq!(d.dir, p.root().join("database/sql"));
    assert!(
        d.detected_by.starts_with("flyway.conf sets the locations"),
        "{}",
        d.detected_by
    );

    let t = TempProject::new();
    versioned(&t, "sql");
    t.file(
        "flyway.toml",
        "[flyway]\nlocations = [\"filesystem:sql\"]\n",
    );
    let d = detected(&t);
    assert_eq!((d.tool, d.dir), (SqlTool::Flyway, t.root().join("sql")));
}

#[test]
fn diesel_toml_and_dbmate_env() {
    let p = TempProject::new();
    p.file(
        "diesel.toml",
        "[print_schema]\nfile = \"src/schema.rs\"\n\n[migrations_directory]\ndir = \"db/diesel\"\n",
    );
    p.file("db/diesel/2024-01-01-000001_a/up.sql", "SELECT 1;");
    p.file("db/diesel/2024-01-01-000001_a/down.sql", "SELECT 1;");
    let d = detected(&p);
    assert_eq!(
        (d.tool, d.dir.clone()),
        (SqlTool::Diesel, p.root().join("db/diesel"))
    );
    assert!(d
        .detected_by
        .starts_with("diesel.toml sets migrations_directory"));

    let plain = TempProject::new();
    plain.file("migrations/2024-01-01-000001_a/up.sql", "SELECT 1;");
    plain.file("migrations/.keep", "");
    let d = detected(&plain);
    assert_eq!(d.tool, SqlTool::Diesel);
    assert!(d.detected_by.contains("diesel's layout"));

    let e = TempProject::new();
    e.file(
        ".env",
        "DATABASE_URL=postgres://x\nDBMATE_MIGRATIONS_DIR=./sql/changes\n",
    );
    e.file(
        "sql/changes/20240101000001_a.sql",
        "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n",
    );
    let d = detected(&e);
    assert_eq!(d.tool, SqlTool::Dbmate);
    assert_eq!(d.dir, e.root().join("sql/changes"));
    assert!(d.detected_by.starts_with(".env sets DBMATE_MIGRATIONS_DIR"));

    let dm = TempProject::new();
    dm.file(
        "db/migrations/20240101000001_a.sql",
        "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n",
    );
    dm.file("db/schema.sql", "CREATE TABLE x (id INT);");
    let d = detected(&dm);
    assert_eq!(
        (d.tool, d.dir),
        (SqlTool::Dbmate, dm.root().join("db/migrations"))
    );
}

#[test]
fn sqlx_simple_migrations() {
    let p = TempProject::new();
    p.file(
        "migrations/20240101000001_init.sql",
        "CREATE TABLE t (id INT);",
    );
    p.file(
        "migrations/20240101000002_more.sql",
        "ALTER TABLE t ADD COLUMN x INT;",
    );
    let d = detected(&p);
    assert_eq!(d.tool, SqlTool::Sqlx);
    assert!(d.detected_by.contains("simple migrations"));
}

#[test]
fn first_folder_with_migrations_wins() {
    let p = TempProject::new();
    p.file("migrations/README.md", "nothing here");
    versioned(&p, "db/migration");
    let d = detected(&p);
    assert_eq!(
        (d.tool, d.dir),
        (SqlTool::Flyway, p.root().join("db/migration"))
    );
}

#[test]
fn nothing_to_find() {
    let p = TempProject::new();
    p.file("migrations/env.py", "import alembic");
    assert!(sql::detect(p.root()).is_none());
    match sql::load(p.root(), None, None) {
        Err(SqlError::NotFound { looked, .. }) => {
            assert!(
                looked.contains("migrations/")
                    && looked.contains("src/main/resources/db/migration/"),
                "{looked}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        sql::load(p.root(), Some(SqlTool::Sqlx), Some(Path::new("nope"))),
        Err(SqlError::MissingDir { .. })
    ));
    assert!(matches!(
        sql::load(&p.root().join("migrations/env.py"), None, None),
        Err(SqlError::NotADirectory(_))
    ));
}

#[test]
fn configuration_overrides() {
    let p = TempProject::new();
    updown(&p, "migrations");
    p.file("go.mod", "module x\n");
    let proj = sql::load(p.root(), Some(SqlTool::Sqlx), None).unwrap();
    assert_eq!(proj.tool, SqlTool::Sqlx);
    assert!(
        proj.detected_by
            .starts_with("[sql] tool in the configuration"),
        "{}",
        proj.detected_by
    );
    let proj = sql::load(p.root(), None, Some(Path::new("migrations"))).unwrap();
    assert_eq!(proj.tool, SqlTool::GolangMigrate);
    assert!(
        proj.detected_by.ends_with("folder from [sql] dir"),
        "{}",
        proj.detected_by
    );
    let proj = sql::load(p.root(), Some(SqlTool::Sqlx), Some(Path::new("migrations"))).unwrap();
    assert_eq!(proj.detected_by, "[sql] tool and dir in the configuration");
}

#[test]
fn tool_names_round_trip() {
    for tool in SqlTool::ALL {
        assert_eq!(tool.to_string().parse::<SqlTool>().unwrap(), tool);
    }
    assert_eq!(
        "golang-migrate".parse::<SqlTool>().unwrap(),
        SqlTool::GolangMigrate
    );
    let err = "liquibase".parse::<SqlTool>().unwrap_err();
    assert!(err.to_string().contains("golang-migrate"));
}
