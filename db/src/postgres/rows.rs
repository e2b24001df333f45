//! PostgreSQL as a [`RowDialect`]: integers, floats, booleans and bytea are read natively,
//! everything else (numeric, dates, timestamps, uuid, json, enums, arrays, intervals, ...) as
//! `col::text`. Every value is written as text and cast to its column's type on the server.

use std::collections::HashMap;

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Row as _;

use super::server::Pg;
use crate::server_core::{step, Kind, Query, RowDialect, StepError};
use crate::{quote_ident, Dialect, Table, Value};

fn q(name: &str) -> String {
    quote_ident(Dialect::Postgres, name)
}

/// One column: how to read it, the type to cast written values to (without modifiers, so that
/// the assignment to the column applies them: an over-long string errors instead of being
/// truncated by an explicit cast to `varchar(n)`), and its owned sequence if any.
pub(crate) struct PgColumn {
    kind: Kind,
    cast_type: String,
    sequence: Option<String>,
}

fn kind(base_type: &str) -> Kind {
    match base_type {
        "int2" | "int4" | "int8" => Kind::Int,
        "float4" | "float8" => Kind::Float,
        "bool" => Kind::Bool,
        "bytea" => Kind::Bytes,
        _ => Kind::Text,
    }
}

/// Without its length, `character` means character(1): a cast to it would cut every value to
/// one character. `bpchar` is the same type with no length.
fn cast_type(format_type: String) -> String {
    match format_type.strip_prefix("character") {
        Some(rest) if rest.is_empty() || rest.starts_with('[') => format!("bpchar{rest}"),
        _ => format_type,
    }
}

fn column(row: &PgRow) -> Result<(String, PgColumn), sqlx::Error> {
    let name: String = row.try_get(0)?;
    let base: String = row.try_get(2)?;
    let column = PgColumn {
        kind: kind(&base),
        cast_type: cast_type(row.try_get(1)?),
        sequence: row.try_get(3)?,
    };
    Ok((name, column))
}

/// Every value is sent as text (or NULL) and cast on the server. Sending typed parameters would
/// break on the second row: sqlx caches the prepared statement with the parameter types of the
/// first row, and a later row with another kind in the same column (NULL, then an integer) would
/// be sent in a binary format the server reads as the wrong type.
fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.is_nan() => Some("NaN".into()),
        Value::Float(f) if f.is_infinite() => {
            Some(if *f > 0.0 { "Infinity" } else { "-Infinity" }.into())
        }
        // `{:?}` is the shortest text that reads back as exactly this f64.
        Value::Float(f) => Some(format!("{f:?}")),
        Value::Text(s) => Some(s.clone()),
        // bytea's hex input format.
        Value::Bytes(b) => {
            let mut s = String::with_capacity(2 + 2 * b.len());
            s.push_str("\\x");
            for byte in b {
                s.push_str(&format!("{byte:02x}"));
            }
            Some(s)
        }
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
    }
}

/// Move the sequence owned by `table.column` past the largest value in it, so that later
/// inserts by the migration do not collide with seeded ids.
async fn advance(
    conn: &mut PgConnection,
    table: &str,
    column: &str,
    sequence: &str,
) -> Result<(), StepError> {
    let sql = format!(
        "SELECT setval($1::regclass, m) FROM (SELECT max({})::int8 AS m FROM {}) x \
         WHERE m IS NOT NULL",
        q(column),
        q(table)
    );
    sqlx::query(&sql)
        .bind(sequence)
        .execute(conn)
        .await
        .map_err(step(format!(
            "advancing sequence {sequence} of {table}.{column}"
        )))?;
    Ok(())
}

impl RowDialect for Pg {
    type Db = sqlx::Postgres;
    const DIALECT: Dialect = Dialect::Postgres;
    type Column = PgColumn;
    const WRITES_READ_COLUMNS: bool = true;

    async fn columns(
        conn: &mut PgConnection,
        table: &str,
    ) -> Result<Vec<(String, PgColumn)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT a.attname::text, format_type(a.atttypid, NULL), \
               (CASE WHEN ty.typtype = 'd' THEN bt.typname ELSE ty.typname END)::text, \
               pg_get_serial_sequence(format('%I.%I', current_schema(), $1::text), a.attname) \
             FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid \
             LEFT JOIN pg_type bt ON bt.oid = ty.typbasetype \
             WHERE a.attrelid = to_regclass(format('%I.%I', current_schema(), $1::text)) \
               AND a.attnum > 0 AND NOT a.attisdropped",
        )
        .bind(table)
        .fetch_all(conn)
        .await?;
        rows.iter().map(column).collect()
    }

    fn kind(column: &PgColumn) -> Kind {
        column.kind
    }

    fn select(kind: Kind, quoted: &str) -> String {
        match kind {
            Kind::Int => format!("{quoted}::int8"),
            Kind::Float => format!("{quoted}::float8"),
            Kind::Bool | Kind::Bytes => quoted.to_string(),
            Kind::Text => format!("{quoted}::text"),
        }
    }

    fn decode(row: &PgRow, i: usize, kind: Kind) -> Result<Option<Value>, sqlx::Error> {
        Ok(match kind {
            Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
            Kind::Float => row.try_get::<Option<f64>, _>(i)?.map(Value::Float),
            Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
            Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
        })
    }

    /// Cast to the column's type (`CAST($1::text AS numeric)`), because values such as
    /// decimals, timestamps, UUIDs, JSON, enums and arrays arrive as text.
    fn placeholder(n: usize, column: Option<&PgColumn>) -> String {
        match column {
            Some(c) => format!("CAST(${n}::text AS {})", c.cast_type),
            None => format!("${n}::text"),
        }
    }

    /// `OVERRIDING SYSTEM VALUE` lets seeded rows carry their own ids even in `GENERATED
    /// ALWAYS` identity columns.
    fn insert_sql(table: &str, columns: &[String], placeholders: &[String]) -> String {
        if columns.is_empty() {
            return format!("INSERT INTO {table} DEFAULT VALUES");
        }
        format!(
            "INSERT INTO {table} ({}) OVERRIDING SYSTEM VALUE VALUES ({})",
            columns.join(", "),
            placeholders.join(", ")
        )
    }

    fn bind<'q>(query: Query<'q, Self>, value: &'q Value) -> Query<'q, Self> {
        query.bind(as_text(value))
    }

    async fn execute<'q>(
        conn: &mut PgConnection,
        query: Query<'q, Self>,
    ) -> Result<u64, sqlx::Error> {
        Ok(query.execute(conn).await?.rows_affected())
    }

    async fn fetch_all<'q>(
        conn: &mut PgConnection,
        query: Query<'q, Self>,
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        query.fetch_all(conn).await
    }

    async fn after_insert(
        conn: &mut PgConnection,
        table: &Table,
        columns: &HashMap<String, PgColumn>,
    ) -> Result<(), StepError> {
        for c in &table.columns {
            if let Some(sequence) = columns.get(&c.name).and_then(|i| i.sequence.as_ref()) {
                advance(conn, &table.name, &c.name, sequence).await?;
            }
        }
        Ok(())
    }
}
