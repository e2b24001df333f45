//! MySQL/MariaDB introspection from `information_schema`, for the connection's database only.
//!
//! MySQL has no separate unique constraints: a UNIQUE constraint *is* a unique index, and the
//! catalog cannot tell `CREATE UNIQUE INDEX` from `ADD CONSTRAINT ... UNIQUE`. Every unique
//! index is therefore modelled as a [`UniqueConstraint`] (named), every other index as an
//! [`Index`]; both spellings of a migration then compare equal, as they are on the server.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlparser::dialect::MySqlDialect;
use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::Row as _;

use super::server::MysqlDb;
use crate::model::type_params;
use crate::normalize::{collapse_whitespace, normalize_expr, normalize_sql};
use crate::{
    quote_ident, CheckConstraint, Column, DbError, Dialect, ForeignKey, Index, Schema, Table,
    Trigger, UniqueConstraint, View,
};

/// A catalog row's cells, read in order. Text is read whatever the server sent
/// (information_schema columns come back as VARBINARY/BLOB on some versions and collations;
/// `try_get::<String>` would refuse them).
struct Cells<'r> {
    row: &'r MySqlRow,
    next: usize,
}

impl Cells<'_> {
    fn cell<T>(&mut self) -> Result<T, sqlx::Error>
    where
        T: for<'v> sqlx::Decode<'v, sqlx::MySql>,
    {
        self.next += 1;
        self.row.try_get_unchecked(self.next - 1)
    }

    fn text_or_null(&mut self) -> Result<Option<String>, sqlx::Error> {
        let bytes: Option<Vec<u8>> = self.cell()?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Text, NULL read as empty.
    fn text(&mut self) -> Result<String, sqlx::Error> {
        Ok(self.text_or_null()?.unwrap_or_default())
    }
}

/// One row of a catalog query, its cells in the order the query selects them.
trait CatalogRow: Sized {
    /// What the rows are, for errors: "reading columns".
    const WHAT: &'static str;
    fn read(cells: &mut Cells<'_>) -> Result<Self, sqlx::Error>;
}

const TABLES_SQL: &str = "SELECT TABLE_NAME FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME";

struct TableRow(String);

impl CatalogRow for TableRow {
    const WHAT: &'static str = "tables";
    fn read(c: &mut Cells<'_>) -> Result<Self, sqlx::Error> {
        Ok(TableRow(c.text()?))
    }
}

/// Generated columns are left out, as on the other dialects (nothing can be inserted).
const COLUMNS_SQL: &str = "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, \
       COLUMN_DEFAULT, EXTRA, CHARACTER_SET_NAME, COLLATION_NAME \
     FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = DATABASE() AND IS_GENERATED = 'NEVER' \
     ORDER BY TABLE_NAME, ORDINAL_POSITION";

struct ColumnRow {
    table: String,
    name: String,
    column_type: String,
    nullable: bool,
    default: Option<String>,
    extra: String,
    charset: Option<String>,
    collation: Option<String>,
}

impl CatalogRow for ColumnRow {
    const WHAT: &'static str = "columns";
    fn read(c: &mut Cells<'_>) -> Result<Self, sqlx::Error> {
        Ok(ColumnRow {
            table: c.text()?,
            name: c.text()?,
            column_type: c.text()?,
            nullable: c.text()? == "YES",
            default: c.text_or_null()?,
            extra: c.text()?,
            charset: c.text_or_null()?,
            collation: c.text_or_null()?,
        })
    }
}

/// Primary keys, unique constraints (= unique indexes) and other indexes, one row per key part.
const INDEXES_SQL: &str = "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, \
       COLLATION, INDEX_TYPE \
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
     ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX";

struct IndexRow {
    table: String,
    index: String,
    unique: bool,
    /// The key part as the model writes it: "email(20) DESC".
    key: String,
    method: String,
}

impl CatalogRow for IndexRow {
    const WHAT: &'static str = "indexes";
    fn read(c: &mut Cells<'_>) -> Result<Self, sqlx::Error> {
        let table = c.text()?;
        let index = c.text()?;
        let non_unique: i64 = c.cell()?;
        // NULL for a functional key part (MySQL 8.0.13+); the expression itself is in a column
        // MariaDB lacks, so it is shown as a placeholder.
        let mut key = c.text_or_null()?.unwrap_or_else(|| "<expression>".into());
        if let Some(n) = c.cell::<Option<i64>>()? {
            key.push_str(&format!("({n})"));
        }
        if c.text_or_null()?.as_deref() == Some("D") {
            key.push_str(" DESC");
        }
        Ok(IndexRow {
            table,
            index,
            unique: non_unique == 0,
            key,
            method: c.text()?,
        })
    }
}

/// Foreign keys, one row per column.
const FOREIGN_KEYS_SQL: &str = "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, \
       k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, rc.DELETE_RULE, rc.UPDATE_RULE, \
       k.REFERENCED_TABLE_SCHEMA \
     FROM information_schema.KEY_COLUMN_USAGE k \
     JOIN information_schema.REFERENTIAL_CONSTRAINTS rc \
       ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
      AND rc.TABLE_NAME = k.TABLE_NAME \
     WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
     ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION";

struct ForeignKeyRow {
    table: String,
    name: String,
    column: String,
    ref_table: String,
    ref_column: String,
    on_delete: String,
    on_update: String,
    ref_schema: Option<String>,
}

impl CatalogRow for ForeignKeyRow {
    const WHAT: &'static str = "foreign keys";
    fn read(c: &mut Cells<'_>) -> Result<Self, sqlx::Error> {
        Ok(ForeignKeyRow {
            table: c.text()?,
            name: c.text()?,
            column: c.text()?,
            ref_table: c.text()?,
            ref_column: c.text()?,
            on_delete: c.text()?,
            on_update: c.text()?,
            ref_schema: c.text_or_null()?,
        })
    }
}

/// CHECK constraints (MariaDB 10.2+, MySQL 8.0.16+). MariaDB names them per table and has
/// CHECK_CONSTRAINTS.TABLE_NAME; MySQL needs TABLE_CONSTRAINTS for the table.
fn checks_sql(mariadb: bool) -> &'static str {
    if mariadb {
        "SELECT cc.TABLE_NAME, cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE \
         FROM information_schema.CHECK_CONSTRAINTS cc WHERE cc.CONSTRAINT_SCHEMA = DATABASE() \
         ORDER BY cc.TABLE_NAME, cc.CONSTRAINT_NAME"
    } else {
        "SELECT tc.TABLE_NAME, cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE \
         FROM information_schema.TABLE_CONSTRAINTS tc \
         JOIN information_schema.CHECK_CONSTRAINTS cc \
           ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME \
         WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK' \
         ORDER BY tc.TABLE_NAME, cc.CONSTRAINT_NAME"
    }
}

struct CheckRow {
    table: String,
    name: String,
    clause: String,
}

impl CatalogRow for CheckRow {
    const WHAT: &'static str = "check constraints";
    fn read(c: &mut Cells<'_>) -> Result<Self, sqlx::Error> {
        Ok(CheckRow {
            table: c.text()?,
            name: c.text()?,
            clause: c.text()?,
        })
    }
}

const VIEWS_SQL: &str = "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS \
     WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME";

struct ViewRow {
    name: String,
    body: String,
}

impl CatalogRow for ViewRow {
    const WHAT: &'static str = "views";
    fn read(c: &mut Cells<'_>) -> Result<Self, sqlx::Error> {
        Ok(ViewRow {
            name: c.text()?,
            body: c.text()?,
        })
    }
}

const TRIGGERS_SQL: &str = "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, \
       EVENT_MANIPULATION, ACTION_STATEMENT FROM information_schema.TRIGGERS \
     WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME";

struct TriggerRow {
    name: String,
    table: String,
    timing: String,
    event: String,
    body: String,
}

impl CatalogRow for TriggerRow {
    const WHAT: &'static str = "triggers";
    fn read(c: &mut Cells<'_>) -> Result<Self, sqlx::Error> {
        Ok(TriggerRow {
            name: c.text()?,
            table: c.text()?,
            timing: c.text()?,
            event: c.text()?,
            body: c.text()?,
        })
    }
}

/// `enum('a','it''s')` / `set('x','y')` -> the members, unescaped.
pub(crate) fn enum_members(column_type: &str) -> Option<Vec<String>> {
    let lower = column_type.to_ascii_lowercase();
    let inner = if lower.starts_with("enum(") {
        &column_type[5..]
    } else if lower.starts_with("set(") {
        &column_type[4..]
    } else {
        return None;
    };
    let mut values = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        match chars.next()? {
            '\'' => {
                let mut v = String::new();
                loop {
                    match chars.next()? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            v.push('\'');
                        }
                        '\\' => v.push(chars.next()?),
                        '\'' => break,
                        c => v.push(c),
                    }
                }
                values.push(v);
            }
            ')' => break,
            ',' | ' ' => {}
            _ => return None,
        }
    }
    Some(values)
}

/// MySQL's referential actions: RESTRICT and NO ACTION are the same (InnoDB checks at once), and
/// the default, so both map to `None`.
fn action(rule: &str) -> Option<String> {
    let rule = rule.to_ascii_uppercase();
    (rule != "NO ACTION" && rule != "RESTRICT" && !rule.is_empty()).then_some(rule)
}

/// A column default as SQL text, the same for MariaDB and MySQL spellings:
/// MariaDB (10.2.7+) gives an expression (`'x'`, `0`, `current_timestamp()`, `NULL` for none);
/// MySQL gives the bare literal (`x`) and marks expressions with `DEFAULT_GENERATED`.
fn default_sql(
    mariadb: bool,
    default: Option<String>,
    extra: &str,
    data_type: &str,
) -> Option<String> {
    let dialect = MySqlDialect {};
    let d = default?;
    if mariadb {
        if d == "NULL" {
            return None;
        }
        return Some(normalize_expr(&dialect, &d));
    }
    let lower_extra = extra.to_ascii_lowercase();
    let numeric = [
        "int", "decimal", "numeric", "float", "double", "real", "bit", "bool",
    ]
    .iter()
    .any(|k| data_type.to_ascii_lowercase().contains(k));
    let upper = d.to_ascii_uppercase();
    if lower_extra.contains("default_generated")
        || upper.starts_with("CURRENT_TIMESTAMP")
        || (numeric && d.parse::<f64>().is_ok())
    {
        Some(normalize_expr(&dialect, &d))
    } else {
        Some(format!("'{}'", d.replace('\'', "''")))
    }
}

/// Every row `sql` returns, read as `R`.
async fn fetch<R: CatalogRow>(
    db: &MysqlDb,
    conn: &mut MySqlConnection,
    sql: &str,
) -> Result<Vec<R>, DbError> {
    let err = |e| db.query_error(format!("reading {}", R::WHAT), e);
    let rows = sqlx::query(sql).fetch_all(conn).await.map_err(err)?;
    rows.iter()
        .map(|row| R::read(&mut Cells { row, next: 0 }).map_err(err))
        .collect()
}

pub(crate) async fn introspect(db: &MysqlDb, ignore_tables: &[&str]) -> Result<Schema, DbError> {
    let pool = db.pool();
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| db.query_error("introspecting schema", e))?;
    let conn = &mut *conn;
    let ignored = |t: &str| ignore_tables.contains(&t);
    let mut schema = Schema::default();
    for TableRow(name) in fetch(db, conn, TABLES_SQL).await? {
        if !ignored(&name) {
            let table = Table {
                name: name.clone(),
                ..Table::default()
            };
            schema.tables.insert(name, Arc::new(table));
        }
    }
    for r in fetch(db, conn, COLUMNS_SQL).await? {
        add_column(&mut schema, r, db.dialect.mariadb);
    }
    add_indexes(&mut schema, fetch(db, conn, INDEXES_SQL).await?);
    add_foreign_keys(
        &mut schema,
        fetch(db, conn, FOREIGN_KEYS_SQL).await?,
        &db.name,
    );
    for r in fetch(db, conn, checks_sql(db.dialect.mariadb)).await? {
        add_check(&mut schema, r);
    }
    for r in fetch(db, conn, VIEWS_SQL).await? {
        add_view(&mut schema, r, &db.name);
    }
    for r in fetch::<TriggerRow>(db, conn, TRIGGERS_SQL).await? {
        if !ignored(&r.table) {
            add_trigger(&mut schema, r);
        }
    }
    schema.sort_constraints();
    Ok(schema)
}

fn add_column(schema: &mut Schema, r: ColumnRow, mariadb: bool) {
    let Some(t) = schema.table_mut(&r.table) else {
        return;
    };
    let params = type_params(&r.column_type);
    t.columns.push(Column {
        name: r.name,
        nullable: r.nullable,
        default: default_sql(mariadb, r.default, &r.extra, &r.column_type),
        autoincrement: r.extra.to_ascii_lowercase().contains("auto_increment"),
        max_length: params.max_length,
        numeric_precision: params.precision,
        numeric_scale: params.scale,
        enum_values: enum_members(&r.column_type),
        identity: None,
        collation: r.collation,
        charset: r.charset,
        data_type: r.column_type,
    });
}

/// Key parts grouped by index: the primary key, unique constraints and other indexes.
fn add_indexes(schema: &mut Schema, rows: Vec<IndexRow>) {
    let mut indexes: BTreeMap<(String, String), (bool, String, Vec<String>)> = BTreeMap::new();
    for r in rows {
        indexes
            .entry((r.table, r.index))
            .or_insert_with(|| (r.unique, r.method, Vec::new()))
            .2
            .push(r.key);
    }
    for ((table, index), (unique, method, columns)) in indexes {
        let Some(t) = schema.table_mut(&table) else {
            continue;
        };
        if index == "PRIMARY" {
            t.primary_key = columns;
        } else if unique {
            t.uniques.push(UniqueConstraint {
                name: Some(index),
                columns,
            });
        } else {
            let method = method.to_ascii_lowercase();
            t.indexes.push(Index {
                name: index,
                columns,
                unique: false,
                partial: None,
                method: (method != "btree").then_some(method),
            });
        }
    }
}

/// Columns grouped by constraint. A reference into another database than `db_name` is kept
/// qualified.
fn add_foreign_keys(schema: &mut Schema, rows: Vec<ForeignKeyRow>, db_name: &str) {
    let mut fks: BTreeMap<(String, String), ForeignKey> = BTreeMap::new();
    for r in rows {
        let ref_table = match r.ref_schema {
            Some(s) if s != db_name => format!("{s}.{}", r.ref_table),
            _ => r.ref_table,
        };
        let fk = fks
            .entry((r.table, r.name.clone()))
            .or_insert_with(|| ForeignKey {
                name: Some(r.name),
                columns: Vec::new(),
                ref_table,
                ref_columns: Vec::new(),
                on_delete: action(&r.on_delete),
                on_update: action(&r.on_update),
            });
        fk.columns.push(r.column);
        fk.ref_columns.push(r.ref_column);
    }
    for ((table, _), fk) in fks {
        if let Some(t) = schema.table_mut(&table) {
            t.foreign_keys.push(fk);
        }
    }
}

fn add_check(schema: &mut Schema, r: CheckRow) {
    if let Some(t) = schema.table_mut(&r.table) {
        t.checks.push(CheckConstraint {
            name: Some(r.name),
            expression: normalize_expr(&MySqlDialect {}, &r.clause),
        });
    }
}

/// The server stores a view with every table qualified by the database name: that qualifier is
/// dropped so the same view in a clone (another database name) compares equal.
fn add_view(schema: &mut Schema, r: ViewRow, db_name: &str) {
    let db_prefix = format!("{}.", quote_ident(Dialect::Mysql, db_name));
    let body = r.body.replace(&db_prefix, "");
    let sql = format!(
        "CREATE VIEW {} AS {body}",
        quote_ident(Dialect::Mysql, &r.name)
    );
    let definition = normalize_sql(&MySqlDialect {}, &sql);
    schema.views.insert(
        r.name.clone(),
        View {
            name: r.name,
            definition,
        },
    );
}

fn add_trigger(schema: &mut Schema, r: TriggerRow) {
    let sql = format!(
        "CREATE TRIGGER {} {} {} ON {} FOR EACH ROW {}",
        quote_ident(Dialect::Mysql, &r.name),
        r.timing,
        r.event,
        quote_ident(Dialect::Mysql, &r.table),
        collapse_whitespace(&r.body)
    );
    let trigger = Trigger {
        name: r.name.clone(),
        table: r.table,
        definition: normalize_sql(&MySqlDialect {}, &sql),
    };
    schema.triggers.insert(r.name, trigger);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members() {
        assert_eq!(
            enum_members("enum('a','it''s','b c')"),
            Some(vec!["a".into(), "it's".into(), "b c".into()])
        );
        assert_eq!(
            enum_members("set('x','y')"),
            Some(vec!["x".into(), "y".into()])
        );
        assert_eq!(enum_members("varchar(10)"), None);
    }

    #[test]
    fn defaults() {
        assert_eq!(
            default_sql(true, Some("'x'".into()), "", "varchar(5)"),
            Some("'x'".into())
        );
        assert_eq!(default_sql(true, Some("NULL".into()), "", "int(11)"), None);
        assert_eq!(
            default_sql(false, Some("x".into()), "", "varchar(5)"),
            Some("'x'".into())
        );
        assert_eq!(
            default_sql(false, Some("0".into()), "", "int"),
            Some("0".into())
        );
        assert_eq!(
            default_sql(
                false,
                Some("CURRENT_TIMESTAMP".into()),
                "DEFAULT_GENERATED",
                "timestamp"
            ),
            Some("current_timestamp".into())
        );
    }
}
