//! Row I/O for SQLite. Values are read by storage class (what `typeof()` would say), not by the
//! declared type, because SQLite lets a column hold any class and a migration that turns INTEGER 1
//! into TEXT '1' has changed the data.

use sqlx::sqlite::{SqliteArguments, SqliteRow, SqliteValueRef};
use sqlx::Connection as _;
use sqlx::{Decode, Row as _, Sqlite, TypeInfo as _, ValueRef as _};

use super::server::{SqliteDb, DIALECT};
use crate::{
    quote_ident, unlink_statements, update_sql, DbError, Dialect, Row, RowUpdate, Table, Value,
};

fn q(name: &str) -> String {
    quote_ident(Dialect::Sqlite, name)
}

fn decode<'r, T: Decode<'r, Sqlite>>(
    db: &SqliteDb,
    table: &Table,
    column: &str,
    value: SqliteValueRef<'r>,
) -> Result<T, DbError> {
    T::decode(value).map_err(|e| {
        db.query_error(
            format!("reading column {}.{}", table.name, column),
            sqlx::Error::Decode(e),
        )
    })
}

fn row_values(db: &SqliteDb, table: &Table, row: &SqliteRow) -> Result<Row, DbError> {
    let mut out = Vec::with_capacity(table.columns.len());
    for (i, column) in table.columns.iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(|e| {
            db.query_error(format!("reading column {}.{}", table.name, column.name), e)
        })?;
        if raw.is_null() {
            out.push(Value::Null);
            continue;
        }
        let class = raw.type_info().name().to_string();
        let value = match class.as_str() {
            "INTEGER" => Value::Int(decode(db, table, &column.name, raw)?),
            "REAL" => Value::Float(decode(db, table, &column.name, raw)?),
            "TEXT" => {
                // SQLite does not enforce UTF-8 in TEXT; keep what is readable rather than fail.
                let bytes: Vec<u8> = decode(db, table, &column.name, raw)?;
                Value::Text(String::from_utf8_lossy(&bytes).into_owned())
            }
            _ => Value::Bytes(decode(db, table, &column.name, raw)?),
        };
        out.push(value);
    }
    Ok(out)
}

pub(crate) async fn read_rows(db: &SqliteDb, table: &Table) -> Result<Vec<Row>, DbError> {
    if table.columns.is_empty() {
        return Ok(Vec::new());
    }
    let cols: Vec<String> = table.columns.iter().map(|c| q(&c.name)).collect();
    let order: Vec<String> = if table.primary_key.is_empty() {
        cols.clone()
    } else {
        table.primary_key.iter().map(|c| q(c)).collect()
    };
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        cols.join(", "),
        q(&table.name),
        order.join(", ")
    );
    let rows = match db.conn().await {
        Ok(mut conn) => sqlx::query(&sql).fetch_all(&mut *conn).await,
        Err(e) => Err(e),
    }
    .map_err(|e| db.query_error(format!("reading rows of table {}", table.name), e))?;
    rows.iter().map(|r| row_values(db, table, r)).collect()
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

fn bind<'q>(args: SqliteQuery<'q>, value: &'q Value) -> SqliteQuery<'q> {
    match value {
        Value::Null => args.bind(None::<i64>),
        Value::Int(i) => args.bind(*i),
        Value::Float(f) => args.bind(*f),
        Value::Text(s) => args.bind(s.as_str()),
        Value::Bytes(b) => args.bind(b.as_slice()),
        Value::Bool(b) => args.bind(*b),
    }
}

pub(crate) async fn insert_rows(db: &SqliteDb, table: &Table, rows: &[Row]) -> Result<(), DbError> {
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
    let sql = if width == 0 {
        format!("INSERT INTO {} DEFAULT VALUES", q(&table.name))
    } else {
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            q(&table.name),
            table
                .columns
                .iter()
                .map(|c| q(&c.name))
                .collect::<Vec<_>>()
                .join(", "),
            vec!["?"; width].join(", ")
        )
    };
    let mut conn = (db.conn().await)
        .map_err(|e| db.query_error(format!("inserting into table {}", table.name), e))?;
    let mut tx = (conn.begin().await)
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

pub(crate) async fn delete_all_rows(db: &SqliteDb, tables: &[&Table]) -> Result<(), DbError> {
    let mut conn = (db.conn().await).map_err(|e| db.query_error("deleting rows", e))?;
    let mut tx = (conn.begin().await).map_err(|e| db.query_error("beginning delete", e))?;
    for sql in unlink_statements(Dialect::Sqlite, tables) {
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

impl SqliteDb {
    /// See [`crate::TempDb::update_rows`]. A method (not a free function like the others) so
    /// the crate reaches it without this module re-exporting it.
    pub(crate) async fn update_rows(
        &self,
        table: &Table,
        updates: &[RowUpdate],
    ) -> Result<(), DbError> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut conn = (self.conn().await)
            .map_err(|e| self.query_error(format!("updating table {}", table.name), e))?;
        let mut tx = conn.begin().await.map_err(|e| {
            self.query_error(format!("beginning update of table {}", table.name), e)
        })?;
        for (i, update) in updates.iter().enumerate() {
            let (sql, values) = update_sql(Dialect::Sqlite, table, update, |_, _| "?".into());
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
