//! Row I/O for PostgreSQL. Values are read in a form that compares exactly: integers, floats,
//! booleans and bytea natively, everything else (numeric, dates, timestamps, uuid, json, enums,
//! arrays, intervals, ...) as the server's canonical text (`col::text`), so a NUMERIC(10,3) ->
//! NUMERIC(10,2) round trip shows `12.345` vs `12.35` and no client-side type mapping can blur it.
//!
//! The representation is chosen from the live catalog, not the model, so a `Table` from an older
//! introspection still reads correctly.

use std::collections::HashMap;

use sqlx::postgres::PgRow;
use sqlx::Row as _;

use super::server::{PgDb, DIALECT};
use crate::{
    quote_ident, unlink_statements, update_sql, DbError, Dialect, Row, RowUpdate, Table, Value,
};

fn q(name: &str) -> String {
    quote_ident(Dialect::Postgres, name)
}

/// How one column is read.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Int,
    Float,
    Bool,
    Bytes,
    Text,
}

/// Per column: how to read it, the type to cast inserted values to (without modifiers, so that
/// the assignment to the column applies them: an over-long string errors instead of being
/// truncated by an explicit cast to `varchar(n)`), and its owned sequence if any.
struct ColumnInfo {
    kind: Kind,
    cast_type: String,
    sequence: Option<String>,
}

async fn column_info(
    db: &PgDb,
    conn: &mut sqlx::PgConnection,
    table: &Table,
) -> Result<HashMap<String, ColumnInfo>, DbError> {
    let err = |e| db.query_error(format!("reading column types of table {}", table.name), e);
    let rows = sqlx::query(
        "SELECT a.attname::text, format_type(a.atttypid, NULL), \
           (CASE WHEN ty.typtype = 'd' THEN bt.typname ELSE ty.typname END)::text, \
           pg_get_serial_sequence(format('%I.%I', current_schema(), $1::text), a.attname) \
         FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid \
         LEFT JOIN pg_type bt ON bt.oid = ty.typbasetype \
         WHERE a.attrelid = to_regclass(format('%I.%I', current_schema(), $1::text)) \
           AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(&table.name)
    .fetch_all(&mut *conn)
    .await
    .map_err(err)?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let name: String = r.try_get(0).map_err(err)?;
        let cast_type: String = r.try_get(1).map_err(err)?;
        // Without its length, `character` means character(1): a cast to it would cut every
        // value to one character. `bpchar` is the same type with no length.
        let cast_type = match cast_type.strip_prefix("character") {
            Some(rest) if rest.is_empty() || rest.starts_with('[') => format!("bpchar{rest}"),
            _ => cast_type,
        };
        let base: String = r.try_get(2).map_err(err)?;
        let sequence: Option<String> = r.try_get(3).map_err(err)?;
        let kind = match base.as_str() {
            "int2" | "int4" | "int8" => Kind::Int,
            "float4" | "float8" => Kind::Float,
            "bool" => Kind::Bool,
            "bytea" => Kind::Bytes,
            _ => Kind::Text,
        };
        out.insert(
            name,
            ColumnInfo {
                kind,
                cast_type,
                sequence,
            },
        );
    }
    if out.is_empty() {
        return Err(DbError::Invalid {
            dialect: DIALECT,
            db: db.name.clone(),
            message: format!("table {} does not exist (or has no columns)", table.name),
        });
    }
    Ok(out)
}

fn row_values(db: &PgDb, table: &Table, kinds: &[Kind], row: &PgRow) -> Result<Row, DbError> {
    let mut out = Vec::with_capacity(kinds.len());
    for (i, kind) in kinds.iter().enumerate() {
        let err = |e| {
            db.query_error(
                format!("reading column {}.{}", table.name, table.columns[i].name),
                e,
            )
        };
        let value = match kind {
            Kind::Int => row
                .try_get::<Option<i64>, _>(i)
                .map_err(err)?
                .map(Value::Int),
            Kind::Float => row
                .try_get::<Option<f64>, _>(i)
                .map_err(err)?
                .map(Value::Float),
            Kind::Bool => row
                .try_get::<Option<bool>, _>(i)
                .map_err(err)?
                .map(Value::Bool),
            Kind::Bytes => row
                .try_get::<Option<Vec<u8>>, _>(i)
                .map_err(err)?
                .map(Value::Bytes),
            Kind::Text => row
                .try_get::<Option<String>, _>(i)
                .map_err(err)?
                .map(Value::Text),
        };
        out.push(value.unwrap_or(Value::Null));
    }
    Ok(out)
}

pub(crate) async fn read_rows(db: &PgDb, table: &Table) -> Result<Vec<Row>, DbError> {
    if table.columns.is_empty() {
        return Ok(Vec::new());
    }
    let pool = db.pool();
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| db.query_error(format!("reading rows of table {}", table.name), e))?;
    let info = column_info(db, &mut conn, table).await?;
    let kinds: Vec<Kind> = table
        .columns
        .iter()
        .map(|c| info.get(&c.name).map_or(Kind::Text, |i| i.kind))
        .collect();
    let select: Vec<String> = table
        .columns
        .iter()
        .zip(&kinds)
        .map(|(c, kind)| match kind {
            Kind::Int => format!("{}::int8", q(&c.name)),
            Kind::Float => format!("{}::float8", q(&c.name)),
            Kind::Bool | Kind::Bytes => q(&c.name),
            Kind::Text => format!("{}::text", q(&c.name)),
        })
        .collect();
    // By primary key; without one by every selected value (their text form, which every type
    // has: json has no ordering operator of its own). Order only makes output stable: row
    // comparison is by key or as a multiset.
    let order: Vec<String> = if table.primary_key.is_empty() {
        (1..=select.len()).map(|i| i.to_string()).collect()
    } else {
        table.primary_key.iter().map(|c| q(c)).collect()
    };
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        select.join(", "),
        q(&table.name),
        order.join(", ")
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db.query_error(format!("reading rows of table {}", table.name), e))?;
    rows.iter()
        .map(|r| row_values(db, table, &kinds, r))
        .collect()
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

/// Insert with every value cast to its column's type (`CAST($1 AS numeric)`), because values
/// such as decimals, timestamps, UUIDs, JSON, enums and arrays arrive as text. `OVERRIDING SYSTEM
/// VALUE` lets seeded rows carry their own ids even in `GENERATED ALWAYS` identity columns; the
/// columns' sequences are then moved past the seeded ids so that later inserts by the migration
/// do not collide with them.
pub(crate) async fn insert_rows(db: &PgDb, table: &Table, rows: &[Row]) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let width = table.columns.len();
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != width) {
        return Err(DbError::Invalid {
            dialect: DIALECT,
            db: db.name.clone(),
            message: format!(
                "row {i} for table {} has {} values, the table has {width} columns",
                table.name,
                row.len()
            ),
        });
    }
    let pool = db.pool();
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| db.query_error(format!("beginning insert into table {}", table.name), e))?;
    let info = column_info(db, &mut tx, table).await?;
    let sql = if width == 0 {
        format!("INSERT INTO {} DEFAULT VALUES", q(&table.name))
    } else {
        let values: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| match info.get(&c.name) {
                Some(ci) => format!("CAST(${}::text AS {})", i + 1, ci.cast_type),
                None => format!("${}::text", i + 1),
            })
            .collect();
        format!(
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({})",
            q(&table.name),
            table
                .columns
                .iter()
                .map(|c| q(&c.name))
                .collect::<Vec<_>>()
                .join(", "),
            values.join(", ")
        )
    };
    for (row_index, row) in rows.iter().enumerate() {
        let mut query = sqlx::query(&sql);
        for value in row {
            query = query.bind(as_text(value));
        }
        query
            .execute(&mut *tx)
            .await
            .map_err(|source| DbError::Insert {
                dialect: DIALECT,
                db: db.name.clone(),
                table: table.name.clone(),
                row_index,
                source,
            })?;
    }
    for c in &table.columns {
        let Some(sequence) = info.get(&c.name).and_then(|i| i.sequence.as_ref()) else {
            continue;
        };
        let sql = format!(
            "SELECT setval($1::regclass, m) FROM (SELECT max({})::int8 AS m FROM {}) x \
             WHERE m IS NOT NULL",
            q(&c.name),
            q(&table.name)
        );
        sqlx::query(&sql)
            .bind(sequence)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                db.query_error(
                    format!("advancing sequence {sequence} of {}.{}", table.name, c.name),
                    e,
                )
            })?;
    }
    tx.commit()
        .await
        .map_err(|e| db.query_error(format!("committing insert into table {}", table.name), e))
}

/// `DELETE` (not `TRUNCATE`: that would need every referencing table listed or CASCADE, which
/// could reach tables outside the list) in the given child-first order, in one transaction.
pub(crate) async fn delete_all_rows(db: &PgDb, tables: &[&Table]) -> Result<(), DbError> {
    let pool = db.pool();
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| db.query_error("beginning delete", e))?;
    for sql in unlink_statements(Dialect::Postgres, tables) {
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| db.query_error(format!("before deleting: {sql}"), e))?;
    }
    for table in tables {
        sqlx::query(&format!("DELETE FROM {}", q(&table.name)))
            .execute(&mut *tx)
            .await
            .map_err(|e| db.query_error(format!("deleting rows of table {}", table.name), e))?;
    }
    tx.commit()
        .await
        .map_err(|e| db.query_error("committing delete", e))
}

impl PgDb {
    /// See [`crate::TempDb::update_rows`]; every value sent as text and cast to its column's
    /// type, as `insert_rows` does.
    pub(crate) async fn update_rows(
        &self,
        table: &Table,
        updates: &[RowUpdate],
    ) -> Result<(), DbError> {
        if updates.is_empty() {
            return Ok(());
        }
        let pool = self.pool();
        let mut tx = pool.begin().await.map_err(|e| {
            self.query_error(format!("beginning update of table {}", table.name), e)
        })?;
        let info = column_info(self, &mut tx, table).await?;
        let placeholder = |n: usize, column: &str| match info.get(column) {
            Some(ci) => format!("CAST(${n}::text AS {})", ci.cast_type),
            None => format!("${n}::text"),
        };
        for (i, update) in updates.iter().enumerate() {
            let (sql, values) = update_sql(Dialect::Postgres, table, update, placeholder);
            let mut query = sqlx::query(&sql);
            for value in values {
                query = query.bind(as_text(value));
            }
            let done = query
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_error(format!("update {i} of table {}", table.name), e))?;
            if done.rows_affected() == 0 {
                return Err(DbError::Invalid {
                    dialect: DIALECT,
                    db: self.name.clone(),
                    message: format!("update {i} of table {} matches no row", table.name),
                });
            }
        }
        tx.commit()
            .await
            .map_err(|e| self.query_error(format!("committing update of table {}", table.name), e))
    }
}
