//! Row I/O for MySQL/MariaDB. Integers are read as `Int`, floats as `Float`, binary strings as
//! `Bytes`, everything else (decimals, dates, times, JSON, ENUM/SET, ...) as the server's own
//! text (`CAST(col AS CHAR)`), so a DECIMAL(10,3) -> DECIMAL(10,2) round trip shows `12.345` vs
//! `12.35`. MySQL has no boolean type (BOOLEAN is TINYINT(1)): booleans read back as `Int`.
//!
//! The representation is chosen from the live catalog, not the model.

use std::collections::HashMap;

use sqlx::mysql::{MySqlArguments, MySqlRow};
use sqlx::{MySql, Row as _};

use super::server::{MysqlDb, DIALECT};
use crate::{
    quote_ident, unlink_statements, update_sql, DbError, Dialect, Row, RowUpdate, Table, Value,
};

fn q(name: &str) -> String {
    quote_ident(Dialect::Mysql, name)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Int,
    /// BIGINT UNSIGNED may not fit an i64: read as text.
    Float,
    Bytes,
    Text,
}

async fn column_kinds(
    db: &MysqlDb,
    conn: &mut sqlx::MySqlConnection,
    table: &Table,
) -> Result<HashMap<String, Kind>, DbError> {
    let err = |e| db.query_error(format!("reading column types of table {}", table.name), e);
    let rows = sqlx::query(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    )
    .bind(&table.name)
    .fetch_all(&mut *conn)
    .await
    .map_err(err)?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let get = |i: usize| -> Result<String, DbError> {
            let b: Vec<u8> = r.try_get_unchecked(i).map_err(err)?;
            Ok(String::from_utf8_lossy(&b).to_ascii_lowercase())
        };
        let name = {
            let b: Vec<u8> = r.try_get_unchecked(0).map_err(err)?;
            String::from_utf8_lossy(&b).into_owned()
        };
        let data_type = get(1)?;
        let column_type = get(2)?;
        let kind = match data_type.as_str() {
            "bigint" if column_type.contains("unsigned") => Kind::Text,
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year" => {
                Kind::Int
            }
            "float" | "double" | "real" => Kind::Float,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit" => {
                Kind::Bytes
            }
            _ => Kind::Text,
        };
        out.insert(name, kind);
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

fn row_values(db: &MysqlDb, table: &Table, kinds: &[Kind], row: &MySqlRow) -> Result<Row, DbError> {
    let mut out = Vec::with_capacity(kinds.len());
    for (i, kind) in kinds.iter().enumerate() {
        let err = |e| {
            db.query_error(
                format!("reading column {}.{}", table.name, table.columns[i].name),
                e,
            )
        };
        // Unchecked: the SELECT casts every column to the wire type decoded here.
        let value = match kind {
            Kind::Int => row
                .try_get_unchecked::<Option<i64>, _>(i)
                .map_err(err)?
                .map(Value::Int),
            Kind::Float => row
                .try_get_unchecked::<Option<f64>, _>(i)
                .map_err(err)?
                .map(Value::Float),
            Kind::Bytes => row
                .try_get_unchecked::<Option<Vec<u8>>, _>(i)
                .map_err(err)?
                .map(Value::Bytes),
            Kind::Text => row
                .try_get_unchecked::<Option<Vec<u8>>, _>(i)
                .map_err(err)?
                .map(|b| Value::Text(String::from_utf8_lossy(&b).into_owned())),
        };
        out.push(value.unwrap_or(Value::Null));
    }
    Ok(out)
}

pub(crate) async fn read_rows(db: &MysqlDb, table: &Table) -> Result<Vec<Row>, DbError> {
    if table.columns.is_empty() {
        return Ok(Vec::new());
    }
    let pool = db.pool();
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| db.query_error(format!("reading rows of table {}", table.name), e))?;
    let info = column_kinds(db, &mut conn, table).await?;
    let kinds: Vec<Kind> = table
        .columns
        .iter()
        .map(|c| info.get(&c.name).copied().unwrap_or(Kind::Text))
        .collect();
    let select: Vec<String> = table
        .columns
        .iter()
        .zip(&kinds)
        .map(|(c, kind)| match kind {
            Kind::Int => format!("CAST({} AS SIGNED)", q(&c.name)),
            // `col + 0e0` makes FLOAT a DOUBLE on every version (CAST AS DOUBLE is recent).
            Kind::Float => format!("({} + 0e0)", q(&c.name)),
            Kind::Bytes => q(&c.name),
            Kind::Text => format!("CAST({} AS CHAR)", q(&c.name)),
        })
        .collect();
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

type MySqlQuery<'q> = sqlx::query::Query<'q, MySql, MySqlArguments>;

fn bind<'q>(query: MySqlQuery<'q>, value: &'q Value) -> MySqlQuery<'q> {
    match value {
        Value::Null => query.bind(None::<String>),
        Value::Int(i) => query.bind(*i),
        Value::Float(f) => query.bind(*f),
        Value::Text(s) => query.bind(s.as_str()),
        Value::Bytes(b) => query.bind(b.as_slice()),
        Value::Bool(b) => query.bind(*b),
    }
}

/// Insert with plain parameters: MySQL converts text to decimals, dates, JSON, ENUM, ... itself,
/// and in strict mode (the default) rejects what does not fit rather than truncating.
pub(crate) async fn insert_rows(db: &MysqlDb, table: &Table, rows: &[Row]) -> Result<(), DbError> {
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
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        q(&table.name),
        table
            .columns
            .iter()
            .map(|c| q(&c.name))
            .collect::<Vec<_>>()
            .join(", "),
        vec!["?"; width].join(", ")
    );
    let pool = db.pool();
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| db.query_error(format!("beginning insert into table {}", table.name), e))?;
    for (row_index, row) in rows.iter().enumerate() {
        let mut query = sqlx::query(&sql);
        for value in row {
            query = bind(query, value);
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
    tx.commit()
        .await
        .map_err(|e| db.query_error(format!("committing insert into table {}", table.name), e))
}

/// `DELETE` in the given child-first order in one transaction (InnoDB DDL-free, so it rolls back
/// as a whole on error).
pub(crate) async fn delete_all_rows(db: &MysqlDb, tables: &[&Table]) -> Result<(), DbError> {
    let pool = db.pool();
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| db.query_error("beginning delete", e))?;
    for sql in unlink_statements(Dialect::Mysql, tables) {
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

impl MysqlDb {
    /// See [`crate::TempDb::update_rows`]; values bound as for `insert_rows`. The connection
    /// reports found rows (not changed ones), so a matched row counts even when unchanged.
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
        for (i, update) in updates.iter().enumerate() {
            let (sql, values) = update_sql(Dialect::Mysql, table, update, |_, _| "?".into());
            let mut query = sqlx::query(&sql);
            for value in values {
                query = bind(query, value);
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
