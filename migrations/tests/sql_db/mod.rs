//! One connection to a scratch database on SQLite (in memory), PostgreSQL or MySQL/MariaDB, for
//! the tests that run SQL on real engines; plus a plain-text snapshot of a database's schema and
//! rows to compare states.

#![allow(dead_code)]

use mrt_db::Dialect;
use sqlx::{Connection, Row};
use std::str::FromStr;

/// The engines: dialect, server URL (`None`: its variable is unset), variable name.
pub fn engines() -> Vec<(Dialect, Option<String>, &'static str)> {
    vec![
        (Dialect::Sqlite, Some(String::new()), ""),
        (
            Dialect::Postgres,
            mrt_db::test_server_url("MRT_TEST_POSTGRES_URL"),
            "MRT_TEST_POSTGRES_URL",
        ),
        (
            Dialect::Mysql,
            mrt_db::test_server_url("MRT_TEST_MYSQL_URL"),
            "MRT_TEST_MYSQL_URL",
        ),
    ]
}

pub enum Conn {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
    Mysql(sqlx::MySqlConnection),
}

/// First column of a row as text, whatever its integer or text type.
fn text<'r, R: Row>(row: &'r R) -> String
where
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    if let Ok(v) = row.try_get::<i64, _>(0usize) {
        return v.to_string();
    }
    if let Ok(v) = row.try_get::<i32, _>(0usize) {
        return v.to_string();
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(0usize) {
        return v.unwrap_or_else(|| "NULL".into());
    }
    if let Ok(v) = row.try_get::<Vec<u8>, _>(0usize) {
        return String::from_utf8_lossy(&v).into_owned();
    }
    "<undecodable>".into()
}

impl Conn {
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
            Conn::Mysql(_) => Dialect::Mysql,
        }
    }

    /// Runs a script as one text (multi-statement), as an executor sends a migration file.
    pub async fn exec(&mut self, sql: &str) -> Result<(), String> {
        let r = match self {
            Conn::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Conn::Postgres(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Conn::Mysql(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        };
        r.map_err(|e| format!("{e}\n  in: {sql}"))
    }

    /// The first column of every row, as text.
    pub async fn column(&mut self, sql: &str) -> Result<Vec<String>, String> {
        let r = match self {
            Conn::Sqlite(c) => sqlx::query(sql)
                .fetch_all(c)
                .await
                .map(|rows| rows.iter().map(text).collect()),
            Conn::Postgres(c) => sqlx::query(sql)
                .fetch_all(c)
                .await
                .map(|rows| rows.iter().map(text).collect()),
            Conn::Mysql(c) => sqlx::query(sql)
                .fetch_all(c)
                .await
                .map(|rows| rows.iter().map(text).collect()),
        };
        r.map_err(|e| format!("{e}\n  in: {sql}"))
    }

    pub async fn bytes(&mut self, sql: &str) -> Result<Vec<u8>, String> {
        let r = match self {
            Conn::Sqlite(c) => sqlx::query_scalar(sql).fetch_one(c).await,
            Conn::Postgres(c) => sqlx::query_scalar(sql).fetch_one(c).await,
            Conn::Mysql(c) => sqlx::query_scalar(sql).fetch_one(c).await,
        };
        r.map_err(|e| format!("{e}\n  in: {sql}"))
    }
}

/// A scratch database `name` on the server (dropped first if a killed run left it), or an
/// in-memory SQLite database.
pub async fn connect(dialect: Dialect, url: &str, name: &str) -> Result<Conn, String> {
    let e = |e: sqlx::Error| e.to_string();
    match dialect {
        Dialect::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect("sqlite::memory:")
                .await
                .map_err(e)?;
            sqlx::raw_sql("PRAGMA foreign_keys = ON")
                .execute(&mut c)
                .await
                .map_err(e)?;
            Ok(Conn::Sqlite(c))
        }
        Dialect::Postgres => {
            let mut admin = sqlx::PgConnection::connect(url).await.map_err(e)?;
            for sql in [
                format!("DROP DATABASE IF EXISTS {name}"),
                format!("CREATE DATABASE {name}"),
            ] {
                sqlx::raw_sql(&sql).execute(&mut admin).await.map_err(e)?;
            }
            let opts = sqlx::postgres::PgConnectOptions::from_str(url)
                .map_err(e)?
                .database(name);
            Ok(Conn::Postgres(
                sqlx::PgConnection::connect_with(&opts).await.map_err(e)?,
            ))
        }
        Dialect::Mysql => {
            let mut admin = sqlx::MySqlConnection::connect(url).await.map_err(e)?;
            for sql in [
                format!("DROP DATABASE IF EXISTS {name}"),
                format!("CREATE DATABASE {name}"),
            ] {
                sqlx::raw_sql(&sql).execute(&mut admin).await.map_err(e)?;
            }
            let opts = sqlx::mysql::MySqlConnectOptions::from_str(url)
                .map_err(e)?
                .database(name);
            Ok(Conn::Mysql(
                sqlx::MySqlConnection::connect_with(&opts)
                    .await
                    .map_err(e)?,
            ))
        }
    }
}

pub async fn drop_scratch(dialect: Dialect, url: &str, name: &str) -> Result<(), String> {
    let sql = format!("DROP DATABASE IF EXISTS {name}");
    let e = |e: sqlx::Error| e.to_string();
    match dialect {
        Dialect::Sqlite => Ok(()),
        Dialect::Postgres => {
            let mut admin = sqlx::PgConnection::connect(url).await.map_err(e)?;
            sqlx::raw_sql(&sql).execute(&mut admin).await.map_err(e)?;
            Ok(())
        }
        Dialect::Mysql => {
            let mut admin = sqlx::MySqlConnection::connect(url).await.map_err(e)?;
            sqlx::raw_sql(&sql).execute(&mut admin).await.map_err(e)?;
            Ok(())
        }
    }
}

/// A column of a user table as the engine reports it.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    pub name: String,
    /// Lower case: `integer`, `varchar(30)`, `date`, `user-defined`, ...
    pub ty: String,
    pub nullable: bool,
    pub has_default: bool,
}

fn split(line: &str) -> Vec<String> {
    line.split('\u{1f}').map(str::to_string).collect()
}

impl Conn {
    /// User tables, sorted.
    pub async fn tables(&mut self) -> Result<Vec<String>, String> {
        let sql = match self.dialect() {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            Dialect::Postgres => "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
            Dialect::Mysql => "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1",
        };
        self.column(sql).await
    }

    pub async fn columns(&mut self, table: &str) -> Result<Vec<ColumnInfo>, String> {
        let sql = match self.dialect() {
            Dialect::Sqlite => format!(
                "SELECT name || char(31) || lower(type) || char(31) || (1 - \"notnull\") || char(31) || (dflt_value IS NOT NULL) FROM pragma_table_info('{table}') ORDER BY cid"
            ),
            Dialect::Postgres => format!(
                "SELECT column_name || chr(31) || lower(data_type) || coalesce('(' || character_maximum_length || ')', '') || chr(31) || (CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END) || chr(31) || (CASE WHEN column_default IS NULL THEN 0 ELSE 1 END) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
            ),
            Dialect::Mysql => format!(
                "SELECT CAST(CONCAT(column_name, CHAR(31), lower(column_type), CHAR(31), IF(is_nullable = 'YES', 1, 0), CHAR(31), IF(column_default IS NULL, 0, 1)) AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '{table}' ORDER BY ordinal_position"
            ),
        };
        Ok(self
            .column(&sql)
            .await?
            .iter()
            .map(|l| {
                let f = split(l);
                ColumnInfo {
                    name: f[0].clone(),
                    ty: f.get(1).cloned().unwrap_or_default(),
                    nullable: f.get(2).is_some_and(|v| v == "1"),
                    has_default: f.get(3).is_some_and(|v| v == "1"),
                }
            })
            .collect())
    }

    /// Schema as sorted lines: tables, columns, indexes, constraints, PostgreSQL enum types.
    pub async fn schema(&mut self, skip: &[&str]) -> Result<Vec<String>, String> {
        let mut lines = Vec::new();
        for t in self.tables().await? {
            if skip.contains(&t.as_str()) {
                continue;
            }
            for c in self.columns(&t).await? {
                lines.push(format!(
                    "column {t}.{} {}{}{}",
                    c.name,
                    c.ty,
                    if c.nullable { "" } else { " not null" },
                    if c.has_default { " default" } else { "" }
                ));
            }
            let indexes = match self.dialect() {
                Dialect::Sqlite => format!(
                    "SELECT 'index ' || il.name || ' on {t} (' || (SELECT group_concat(ii.name) FROM pragma_index_info(il.name) ii) || ')' || CASE WHEN il.\"unique\" THEN ' unique' ELSE '' END FROM pragma_index_list('{t}') il"
                ),
                Dialect::Postgres => format!(
                    "SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = '{t}'"
                ),
                Dialect::Mysql => format!(
                    "SELECT CAST(CONCAT('index ', index_name, ' on {t} (', GROUP_CONCAT(column_name ORDER BY seq_in_index), ')', IF(MAX(non_unique) = 0, ' unique', '')) AS CHAR) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = '{t}' GROUP BY index_name"
                ),
            };
            lines.extend(self.column(&indexes).await?);
            let constraints = match self.dialect() {
                Dialect::Sqlite => format!(
                    "SELECT 'foreign key {t}.' || \"from\" || ' -> ' || \"table\" || '.' || \"to\" FROM pragma_foreign_key_list('{t}')"
                ),
                Dialect::Postgres => format!(
                    "SELECT 'constraint ' || conname || ' ' || contype::text || ' on {t}: ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'public.{t}'::regclass"
                ),
                Dialect::Mysql => format!(
                    "SELECT CAST(CONCAT('constraint ', constraint_name, ' ', constraint_type, ' on {t}') AS CHAR) FROM information_schema.table_constraints WHERE table_schema = DATABASE() AND table_name = '{t}'"
                ),
            };
            lines.extend(self.column(&constraints).await?);
            lines.push(format!("table {t}"));
        }
        if self.dialect() == Dialect::Postgres {
            lines.extend(
                self.column(
                    "SELECT 'enum type ' || typname FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype = 'e'",
                )
                .await?,
            );
        }
        lines.sort();
        Ok(lines)
    }

    /// Every row of every user table as `table: [values]`, sorted.
    pub async fn rows(&mut self, skip: &[&str]) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for t in self.tables().await? {
            if skip.contains(&t.as_str()) {
                continue;
            }
            let cols = self.columns(&t).await?;
            let q = |c: &str| mrt_db::quote_ident(self.dialect(), c);
            let list = cols
                .iter()
                .map(|c| q(&c.name))
                .collect::<Vec<_>>()
                .join(", ");
            let names = cols
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let sql = match self.dialect() {
                Dialect::Sqlite => format!("SELECT json_array({list}) FROM {}", q(&t)),
                Dialect::Postgres => {
                    format!("SELECT json_build_array({list})::text FROM {}", q(&t))
                }
                Dialect::Mysql => format!("SELECT CAST(JSON_ARRAY({list}) AS CHAR) FROM {}", q(&t)),
            };
            for r in self.column(&sql).await? {
                out.push(format!("{t} ({names}): {r}"));
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Lines only in `before` (`-`) and only in `after` (`+`).
pub fn diff(before: &[String], after: &[String]) -> Vec<String> {
    let mut out: Vec<String> = before
        .iter()
        .filter(|l| !after.contains(l))
        .map(|l| format!("- {l}"))
        .collect();
    out.extend(
        after
            .iter()
            .filter(|l| !before.contains(l))
            .map(|l| format!("+ {l}")),
    );
    out
}
