//! Row I/O on a server database. Values are read in a form that compares exactly: integers,
//! floats, booleans and binary natively, everything else (decimals, dates, times, UUIDs, JSON,
//! enums, arrays, ...) as the server's own text, so a DECIMAL(10,3) -> DECIMAL(10,2) round trip
//! shows `12.345` vs `12.35` and no client-side type mapping can blur it.
//!
//! How each column is read is chosen from the live catalog, not the model, so a `Table` from an
//! older introspection still reads correctly.

use std::collections::HashMap;
use std::future::Future;

use sqlx::Database;

use super::{Conn, ServerDb, ServerDialect};
use crate::{
    quote_ident, unlink_statements, update_sql, DbError, Dialect, Row, RowUpdate, Table, Value,
};

/// How one column is read.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Kind {
    Int,
    Float,
    Bool,
    Bytes,
    Text,
}

pub(crate) type Query<'q, D> = sqlx::query::Query<
    'q,
    <D as RowDialect>::Db,
    <<D as RowDialect>::Db as Database>::Arguments<'q>,
>;
type DbRow<D> = <<D as RowDialect>::Db as Database>::Row;

/// A statement that failed, and what it was for.
pub(crate) struct StepError {
    pub(crate) what: String,
    pub(crate) source: sqlx::Error,
}

/// `map_err` for a statement done for `what`.
pub(crate) fn step(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StepError {
    let what = what.into();
    move |source| StepError { what, source }
}

/// What differs between the dialects in reading and writing rows.
pub(crate) trait RowDialect {
    type Db: Database;
    const DIALECT: Dialect;
    /// What the live catalog says about one column.
    type Column: Send + Sync;
    /// Whether inserts and updates need the live columns (to cast values to their types).
    const WRITES_READ_COLUMNS: bool;

    fn name() -> &'static str {
        Self::DIALECT.as_str()
    }

    /// Every column of `table` in the live catalog, by name.
    fn columns(
        conn: &mut Conn<Self>,
        table: &str,
    ) -> impl Future<Output = Result<Vec<(String, Self::Column)>, sqlx::Error>> + Send;

    fn kind(column: &Self::Column) -> Kind;

    /// The select-list expression that reads the column `quoted` as `kind`.
    fn select(kind: Kind, quoted: &str) -> String;

    /// Value `i` of a row read with [`RowDialect::select`]; `None` for NULL.
    fn decode(row: &DbRow<Self>, i: usize, kind: Kind) -> Result<Option<Value>, sqlx::Error>;

    /// The `n`-th parameter (1-based), to be stored in `column`.
    fn placeholder(n: usize, column: Option<&Self::Column>) -> String;

    /// `INSERT` into the quoted `table` of the quoted `columns`, one placeholder each.
    fn insert_sql(table: &str, columns: &[String], placeholders: &[String]) -> String;

    fn bind<'q>(query: Query<'q, Self>, value: &'q Value) -> Query<'q, Self>;

    /// Execute `query`; the number of rows it affected.
    fn execute<'q>(
        conn: &mut Conn<Self>,
        query: Query<'q, Self>,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    fn fetch_all<'q>(
        conn: &mut Conn<Self>,
        query: Query<'q, Self>,
    ) -> impl Future<Output = Result<Vec<DbRow<Self>>, sqlx::Error>> + Send;

    /// Run in an insert's transaction after its rows, e.g. to move sequences past seeded ids.
    fn after_insert(
        _conn: &mut Conn<Self>,
        _table: &Table,
        _columns: &HashMap<String, Self::Column>,
    ) -> impl Future<Output = Result<(), StepError>> + Send {
        async { Ok(()) }
    }
}

fn q<D: RowDialect>(name: &str) -> String {
    quote_ident(D::DIALECT, name)
}

async fn column_info<D: ServerDialect>(
    db: &ServerDb<D>,
    conn: &mut Conn<D>,
    table: &Table,
) -> Result<HashMap<String, D::Column>, DbError> {
    let columns = D::columns(conn, &table.name)
        .await
        .map_err(|e| db.query_error(format!("reading column types of table {}", table.name), e))?;
    if columns.is_empty() {
        return Err(db.invalid(format!(
            "table {} does not exist (or has no columns)",
            table.name
        )));
    }
    Ok(columns.into_iter().collect())
}

/// The live columns when writes need them, else none.
async fn write_info<D: ServerDialect>(
    db: &ServerDb<D>,
    conn: &mut Conn<D>,
    table: &Table,
) -> Result<HashMap<String, D::Column>, DbError> {
    if D::WRITES_READ_COLUMNS {
        column_info(db, conn, table).await
    } else {
        Ok(HashMap::new())
    }
}

fn row_values<D: ServerDialect>(
    db: &ServerDb<D>,
    table: &Table,
    kinds: &[Kind],
    row: &DbRow<D>,
) -> Result<Row, DbError> {
    let mut out = Vec::with_capacity(kinds.len());
    for (i, kind) in kinds.iter().enumerate() {
        let value = D::decode(row, i, *kind).map_err(|e| {
            db.query_error(
                format!("reading column {}.{}", table.name, table.columns[i].name),
                e,
            )
        })?;
        out.push(value.unwrap_or(Value::Null));
    }
    Ok(out)
}

/// The `SELECT` of every column of `table` as `kinds` say. Ordered by primary key; without one
/// by every selected value (their text form, which every type has: PostgreSQL's json has no
/// ordering operator of its own). Order only makes output stable: row comparison is by key or
/// as a multiset.
fn select_sql<D: RowDialect>(table: &Table, kinds: &[Kind]) -> String {
    let select: Vec<String> = table
        .columns
        .iter()
        .zip(kinds)
        .map(|(c, kind)| D::select(*kind, &q::<D>(&c.name)))
        .collect();
    let order: Vec<String> = if table.primary_key.is_empty() {
        (1..=select.len()).map(|i| i.to_string()).collect()
    } else {
        table.primary_key.iter().map(|c| q::<D>(c)).collect()
    };
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        select.join(", "),
        q::<D>(&table.name),
        order.join(", ")
    )
}

/// See [`crate::TempDb::read_rows`].
pub(crate) async fn read_rows<D: ServerDialect>(
    db: &ServerDb<D>,
    table: &Table,
) -> Result<Vec<Row>, DbError> {
    if table.columns.is_empty() {
        return Ok(Vec::new());
    }
    let reading = |e| db.query_error(format!("reading rows of table {}", table.name), e);
    let pool = db.pool();
    let mut conn = pool.acquire().await.map_err(reading)?;
    let info = column_info(db, &mut *conn, table).await?;
    let kinds: Vec<Kind> = table
        .columns
        .iter()
        .map(|c| info.get(&c.name).map_or(Kind::Text, D::kind))
        .collect();
    let sql = select_sql::<D>(table, &kinds);
    let rows = D::fetch_all(&mut *conn, sqlx::query(&sql))
        .await
        .map_err(reading)?;
    rows.iter()
        .map(|r| row_values(db, table, &kinds, r))
        .collect()
}

fn check_width<D: ServerDialect>(
    db: &ServerDb<D>,
    table: &Table,
    rows: &[Row],
) -> Result<(), DbError> {
    let width = table.columns.len();
    match rows.iter().enumerate().find(|(_, r)| r.len() != width) {
        Some((i, row)) => Err(db.invalid(format!(
            "row {i} for table {} has {} values, the table has {width} columns",
            table.name,
            row.len()
        ))),
        None => Ok(()),
    }
}

/// See [`crate::TempDb::insert_rows`]: one transaction, each row's values bound as the dialect
/// binds them.
pub(crate) async fn insert_rows<D: ServerDialect>(
    db: &ServerDb<D>,
    table: &Table,
    rows: &[Row],
) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    check_width(db, table, rows)?;
    let pool = db.pool();
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| db.query_error(format!("beginning insert into table {}", table.name), e))?;
    let info = write_info(db, &mut *tx, table).await?;
    let columns: Vec<String> = table.columns.iter().map(|c| q::<D>(&c.name)).collect();
    let placeholders: Vec<String> = (table.columns.iter().enumerate())
        .map(|(i, c)| D::placeholder(i + 1, info.get(&c.name)))
        .collect();
    let sql = D::insert_sql(&q::<D>(&table.name), &columns, &placeholders);
    for (row_index, row) in rows.iter().enumerate() {
        let query = row.iter().fold(sqlx::query(&sql), D::bind);
        D::execute(&mut *tx, query)
            .await
            .map_err(|source| DbError::Insert {
                dialect: D::name(),
                db: db.name.clone(),
                table: table.name.clone(),
                row_index,
                source,
            })?;
    }
    D::after_insert(&mut *tx, table, &info)
        .await
        .map_err(|e| db.query_error(e.what, e.source))?;
    tx.commit()
        .await
        .map_err(|e| db.query_error(format!("committing insert into table {}", table.name), e))
}

/// Bind parameters one statement may carry (PostgreSQL and MySQL both stop at 65,535).
const MAX_PARAMS: usize = 60_000;

/// See [`crate::TempDb::fill_rows`]: [`insert_rows`] with many rows per `INSERT` (up to
/// [`MAX_PARAMS`] values or 1,000 rows), so filling a table to 100k rows is hundreds of round
/// trips, not 100k.
pub(crate) async fn bulk_insert_rows<D: ServerDialect>(
    db: &ServerDb<D>,
    table: &Table,
    rows: &[Row],
) -> Result<(), DbError> {
    let width = table.columns.len();
    if rows.is_empty() || width == 0 {
        return insert_rows(db, table, rows).await;
    }
    check_width(db, table, rows)?;
    let mut tx = (db.pool().begin().await)
        .map_err(|e| db.query_error(format!("beginning fill of table {}", table.name), e))?;
    let info = write_info(db, &mut *tx, table).await?;
    let columns: Vec<String> = table.columns.iter().map(|c| q::<D>(&c.name)).collect();
    let per_batch = (MAX_PARAMS / width).clamp(1, 1_000);
    for (batch_index, batch) in rows.chunks(per_batch).enumerate() {
        let tuples: Vec<String> = (0..batch.len())
            .map(|r| {
                let cells: Vec<String> = (table.columns.iter().enumerate())
                    .map(|(i, c)| D::placeholder(r * width + i + 1, info.get(&c.name)))
                    .collect();
                cells.join(", ")
            })
            .collect();
        let first = D::insert_sql(&q::<D>(&table.name), &columns, &[tuples[0].clone()]);
        let sql = tuples[1..]
            .iter()
            .fold(first, |sql, tuple| format!("{sql}, ({tuple})"));
        let query = batch.iter().flatten().fold(sqlx::query(&sql), D::bind);
        D::execute(&mut *tx, query)
            .await
            .map_err(|source| DbError::Insert {
                dialect: D::name(),
                db: db.name.clone(),
                table: table.name.clone(),
                row_index: batch_index * per_batch,
                source,
            })?;
    }
    D::after_insert(&mut *tx, table, &info)
        .await
        .map_err(|e| db.query_error(e.what, e.source))?;
    tx.commit()
        .await
        .map_err(|e| db.query_error(format!("committing fill of table {}", table.name), e))
}

/// See [`crate::TempDb::update_rows`]; values bound as for [`insert_rows`].
pub(crate) async fn update_rows<D: ServerDialect>(
    db: &ServerDb<D>,
    table: &Table,
    updates: &[RowUpdate],
) -> Result<(), DbError> {
    if updates.is_empty() {
        return Ok(());
    }
    let pool = db.pool();
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| db.query_error(format!("beginning update of table {}", table.name), e))?;
    let info = write_info(db, &mut *tx, table).await?;
    let placeholder = |n: usize, column: &str| D::placeholder(n, info.get(column));
    for (i, update) in updates.iter().enumerate() {
        let (sql, values) = update_sql(D::DIALECT, table, update, placeholder);
        let query = values.into_iter().fold(sqlx::query(&sql), D::bind);
        let affected = D::execute(&mut *tx, query)
            .await
            .map_err(|e| db.query_error(format!("update {i} of table {}", table.name), e))?;
        if affected == 0 {
            return Err(db.invalid(format!("update {i} of table {} matches no row", table.name)));
        }
    }
    tx.commit()
        .await
        .map_err(|e| db.query_error(format!("committing update of table {}", table.name), e))
}

/// See [`crate::TempDb::delete_all_rows`]. `DELETE` (not `TRUNCATE`: that would need every
/// referencing table listed or CASCADE, which could reach tables outside the list), in the
/// given child-first order, in one transaction.
pub(crate) async fn delete_all_rows<D: ServerDialect>(
    db: &ServerDb<D>,
    tables: &[&Table],
) -> Result<(), DbError> {
    let pool = db.pool();
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| db.query_error("beginning delete", e))?;
    for sql in unlink_statements(D::DIALECT, tables) {
        D::execute(&mut *tx, sqlx::query(&sql))
            .await
            .map_err(|e| db.query_error(format!("before deleting: {sql}"), e))?;
    }
    for table in tables {
        let sql = format!("DELETE FROM {}", q::<D>(&table.name));
        D::execute(&mut *tx, sqlx::query(&sql))
            .await
            .map_err(|e| db.query_error(format!("deleting rows of table {}", table.name), e))?;
    }
    tx.commit()
        .await
        .map_err(|e| db.query_error("committing delete", e))
}

impl<D: ServerDialect> ServerDb<D> {
    /// See [`crate::TempDb::update_rows`].
    pub(crate) async fn update_rows(
        &self,
        table: &Table,
        updates: &[RowUpdate],
    ) -> Result<(), DbError> {
        update_rows(self, table, updates).await
    }
}
