//! MySQL/MariaDB as a [`RowDialect`]: integers are read as `Int`, floats as `Float`, binary
//! strings as `Bytes`, everything else (decimals, dates, times, JSON, ENUM/SET, ...) as
//! `CAST(col AS CHAR)`. MySQL has no boolean type (BOOLEAN is TINYINT(1)): booleans read back as
//! `Int`. Values are bound as they are: MySQL converts text to decimals, dates, JSON, ENUM, ...
//! itself, and in strict mode (the default) rejects what does not fit rather than truncating.

use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::Row as _;

use super::server::Mysql;
use crate::server_core::{Kind, Query, RowDialect};
use crate::{Dialect, Value};

/// Column `i` as text whatever the server sent (information_schema columns come back as
/// VARBINARY/BLOB on some versions and collations; `try_get::<String>` would refuse them).
fn text(row: &MySqlRow, i: usize) -> Result<String, sqlx::Error> {
    let bytes: Vec<u8> = row.try_get_unchecked(i)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn kind(data_type: &str, column_type: &str) -> Kind {
    match data_type {
        // BIGINT UNSIGNED may not fit an i64: read as text.
        "bigint" if column_type.contains("unsigned") => Kind::Text,
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year" => Kind::Int,
        "float" | "double" | "real" => Kind::Float,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit" => {
            Kind::Bytes
        }
        _ => Kind::Text,
    }
}

fn column(row: &MySqlRow) -> Result<(String, Kind), sqlx::Error> {
    let data_type = text(row, 1)?.to_ascii_lowercase();
    let column_type = text(row, 2)?.to_ascii_lowercase();
    Ok((text(row, 0)?, kind(&data_type, &column_type)))
}

impl RowDialect for Mysql {
    type Db = sqlx::MySql;
    const DIALECT: Dialect = Dialect::Mysql;
    type Column = Kind;
    const WRITES_READ_COLUMNS: bool = false;

    async fn columns(
        conn: &mut MySqlConnection,
        table: &str,
    ) -> Result<Vec<(String, Kind)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        )
        .bind(table)
        .fetch_all(conn)
        .await?;
        rows.iter().map(column).collect()
    }

    fn kind(column: &Kind) -> Kind {
        *column
    }

    fn select(kind: Kind, quoted: &str) -> String {
        match kind {
            Kind::Int => format!("CAST({quoted} AS SIGNED)"),
            // `col + 0e0` makes FLOAT a DOUBLE on every version (CAST AS DOUBLE is recent).
            Kind::Float => format!("({quoted} + 0e0)"),
            Kind::Bool | Kind::Bytes => quoted.to_string(),
            Kind::Text => format!("CAST({quoted} AS CHAR)"),
        }
    }

    /// Unchecked: the SELECT casts every column to the wire type decoded here.
    fn decode(row: &MySqlRow, i: usize, kind: Kind) -> Result<Option<Value>, sqlx::Error> {
        Ok(match kind {
            Kind::Int => row.try_get_unchecked::<Option<i64>, _>(i)?.map(Value::Int),
            Kind::Float => row
                .try_get_unchecked::<Option<f64>, _>(i)?
                .map(Value::Float),
            Kind::Bool => row
                .try_get_unchecked::<Option<bool>, _>(i)?
                .map(Value::Bool),
            Kind::Bytes => row
                .try_get_unchecked::<Option<Vec<u8>>, _>(i)?
                .map(Value::Bytes),
            Kind::Text => row
                .try_get_unchecked::<Option<Vec<u8>>, _>(i)?
                .map(|b| Value::Text(String::from_utf8_lossy(&b).into_owned())),
        })
    }

    fn placeholder(_n: usize, _column: Option<&Kind>) -> String {
        "?".into()
    }

    fn insert_sql(table: &str, columns: &[String], placeholders: &[String]) -> String {
        format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            placeholders.join(", ")
        )
    }

    fn bind<'q>(query: Query<'q, Self>, value: &'q Value) -> Query<'q, Self> {
        match value {
            Value::Null => query.bind(None::<String>),
            Value::Int(i) => query.bind(*i),
            Value::Float(f) => query.bind(*f),
            Value::Text(s) => query.bind(s.as_str()),
            Value::Bytes(b) => query.bind(b.as_slice()),
            Value::Bool(b) => query.bind(*b),
        }
    }

    /// The connection reports found rows (not changed ones), so an update that matches a row
    /// counts even when it changes nothing.
    async fn execute<'q>(
        conn: &mut MySqlConnection,
        query: Query<'q, Self>,
    ) -> Result<u64, sqlx::Error> {
        Ok(query.execute(conn).await?.rows_affected())
    }

    async fn fetch_all<'q>(
        conn: &mut MySqlConnection,
        query: Query<'q, Self>,
    ) -> Result<Vec<MySqlRow>, sqlx::Error> {
        query.fetch_all(conn).await
    }
}
