//! Helpers for the SQL-migration tests: temporary projects written file by file.

#![allow(dead_code)]

use mrt_migrations::sql::{self, SqlDown, SqlMigration, SqlProject, SqlTool};
use mrt_migrations::ProblemKind;
use std::path::{Path, PathBuf};

pub struct TempProject {
    pub dir: tempfile::TempDir,
}

impl TempProject {
    pub fn new() -> Self {
        TempProject {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` at `rel`, creating folders.
    pub fn file(&self, rel: &str, text: &str) -> PathBuf {
        self.bytes(rel, text.as_bytes())
    }

    pub fn bytes(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn dir(&self, rel: &str) -> PathBuf {
        let path = self.root().join(rel);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    pub fn load(&self, tool: SqlTool, dir: &str) -> SqlProject {
        sql::load(self.root(), Some(tool), Some(Path::new(dir))).expect("load")
    }
}

pub fn ids(p: &SqlProject) -> Vec<&str> {
    p.migrations.iter().map(|m| m.id.as_str()).collect()
}

pub fn kinds(p: &SqlProject) -> Vec<ProblemKind> {
    p.problems.iter().map(|p| p.kind.clone()).collect()
}

pub fn down_text(m: &SqlMigration) -> &str {
    match &m.down {
        SqlDown::Script(s) => &s.text,
        other => panic!("{}: expected a down script, got {other:?}", m.id),
    }
}

pub fn ignored_names(p: &SqlProject) -> Vec<String> {
    let mut names: Vec<String> = p
        .ignored
        .iter()
        .map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The problem of `kind` whose path ends with `file`; panics listing all problems if none.
pub fn problem<'p>(
    p: &'p SqlProject,
    kind: ProblemKind,
    file: &str,
) -> &'p mrt_migrations::Problem {
    p.problems
        .iter()
        .find(|pr| pr.kind == kind && pr.path.ends_with(file))
        .unwrap_or_else(|| {
            panic!(
                "no {kind:?} problem for {file}; problems: {:#?}",
                p.problems
            )
        })
}

/// Two migrations of `tool`'s layout, read (the second with a quote and a backslash in its
/// sqlx description), for bookkeeping statements.
pub fn project(tool: SqlTool) -> SqlProject {
    let p = TempProject::new();
    let dir = match tool {
        SqlTool::Sqlx => {
            p.file(
                "m/20240101000001_create_users.up.sql",
                "CREATE TABLE users (id INT);\n",
            );
            p.file(
                "m/20240101000001_create_users.down.sql",
                "DROP TABLE users;\n",
            );
            p.file("m/20240101000002_it's_a\\test.up.sql", "SELECT 1;\n");
            p.file("m/20240101000002_it's_a\\test.down.sql", "SELECT 1;\n");
            "m"
        }
        SqlTool::Diesel => {
            for n in ["2024-01-01-000001_a", "2024-01-01-000002_b"] {
                p.file(&format!("m/{n}/up.sql"), "SELECT 1;\n");
                p.file(&format!("m/{n}/down.sql"), "SELECT 1;\n");
            }
            "m"
        }
        SqlTool::GolangMigrate => {
            for n in ["000001_a", "000002_b"] {
                p.file(&format!("m/{n}.up.sql"), "SELECT 1;\n");
                p.file(&format!("m/{n}.down.sql"), "SELECT 1;\n");
            }
            "m"
        }
        SqlTool::Dbmate => {
            for n in ["20240101000001_a", "20240101000002_b"] {
                p.file(
                    &format!("m/{n}.sql"),
                    "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n",
                );
            }
            "m"
        }
        SqlTool::Flyway => {
            p.file(
                "m/V1__create_users.sql",
                "CREATE TABLE users (\n  id INT\n);\n",
            );
            p.file("m/U1__create_users.sql", "DROP TABLE users;\n");
            p.file("m/V1_1__add_phone.sql", "SELECT 1;\n");
            p.file("m/U1_1__drop_phone_again.sql", "SELECT 2;\n");
            "m"
        }
        SqlTool::Refinery => {
            p.file("m/V1__create_users.sql", "SELECT 1;\n");
            p.file(
                "m/V2__drop_phone.sql",
                "ALTER TABLE users DROP COLUMN phone;\n",
            );
            "m"
        }
    };
    let proj = p.load(tool, dir);
    assert!(proj.problems.is_empty(), "{tool}: {:#?}", proj.problems);
    assert_eq!(proj.migrations.len(), 2);
    proj
}
