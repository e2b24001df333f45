//! MySQL/MariaDB introspection from `information_schema`, for the connection's database only.
//!
//! MySQL has no separate unique constraints: a UNIQUE constraint *is* a unique index, and the
//! catalog cannot tell `CREATE UNIQUE INDEX` from `ADD CONSTRAINT ... UNIQUE`. Every unique
//! index is therefore modelled as a [`UniqueConstraint`] (named), every other index as an
//! [`Index`]; both spellings of a migration then compare equal, as they are on the server.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlparser::dialect::MySqlDialect;
use sqlx::mysql::MySqlRow;
use sqlx::Row as _;

use super::server::MysqlDb;
use crate::model::type_params;
use crate::normalize::{collapse_whitespace, normalize_expr, normalize_sql};
use crate::{
    quote_ident, CheckConstraint, Column, DbError, Dialect, ForeignKey, Index, Schema, Table,
    Trigger, UniqueConstraint, View,
};

/// Read column `i` as text whatever the server sent (information_schema columns come back as
/// VARBINARY/BLOB on some versions and collations; `try_get::<String>` would refuse them).
fn text(r: &MySqlRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    let bytes: Option<Vec<u8>> = r.try_get_unchecked(i)?;
    Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

fn text_req(r: &MySqlRow, i: usize) -> Result<String, sqlx::Error> {
    Ok(text(r, i)?.unwrap_or_default())
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

pub(crate) async fn introspect(db: &MysqlDb, ignore_tables: &[&str]) -> Result<Schema, DbError> {
    let pool = db.pool();
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| db.query_error("introspecting schema", e))?;
    let dialect = MySqlDialect {};
    let ignored = |t: &str| ignore_tables.contains(&t);
    let mut schema = Schema::default();
    let err = |what: &str, e: sqlx::Error| db.query_error(format!("reading {what}"), e);

    macro_rules! fetch {
        ($what:expr, $sql:expr) => {
            sqlx::query($sql)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| err($what, e))?
        };
    }

    for r in fetch!(
        "tables",
        "SELECT TABLE_NAME FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
    ) {
        let name = text_req(&r, 0).map_err(|e| err("tables", e))?;
        if !ignored(&name) {
            schema.tables.insert(
                name.clone(),
                Arc::new(Table {
                    name,
                    ..Table::default()
                }),
            );
        }
    }

    // Columns; generated ones are left out as on the other dialects (nothing can be inserted).
    for r in fetch!(
        "columns",
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, \
           CHARACTER_SET_NAME, COLLATION_NAME, DATA_TYPE \
         FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND IS_GENERATED = 'NEVER' \
         ORDER BY TABLE_NAME, ORDINAL_POSITION"
    ) {
        let e = |e| err("columns", e);
        let table = text_req(&r, 0).map_err(e)?;
        let Some(t) = schema.tables.get_mut(&table).map(Arc::make_mut) else {
            continue;
        };
        let name = text_req(&r, 1).map_err(e)?;
        let column_type = text_req(&r, 2).map_err(e)?;
        let nullable = text_req(&r, 3).map_err(e)? == "YES";
        let default = text(&r, 4).map_err(e)?;
        let extra = text_req(&r, 5).map_err(e)?;
        let charset = text(&r, 6).map_err(e)?;
        let collation = text(&r, 7).map_err(e)?;
        let params = type_params(&column_type);
        t.columns.push(Column {
            name,
            nullable,
            default: default_sql(db.dialect.mariadb, default, &extra, &column_type),
            autoincrement: extra.to_ascii_lowercase().contains("auto_increment"),
            max_length: params.max_length,
            numeric_precision: params.precision,
            numeric_scale: params.scale,
            enum_values: enum_members(&column_type),
            identity: None,
            collation,
            charset,
            data_type: column_type,
        });
    }

    // Primary keys, unique constraints (= unique indexes) and other indexes, from STATISTICS.
    type IndexKey = (String, String);
    let mut index_cols: BTreeMap<IndexKey, (bool, String, Vec<String>)> = BTreeMap::new();
    for r in fetch!(
        "indexes",
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, INDEX_TYPE \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
    ) {
        let e = |e| err("indexes", e);
        let table = text_req(&r, 0).map_err(e)?;
        let index = text_req(&r, 1).map_err(e)?;
        let non_unique: i64 = r.try_get_unchecked(2).map_err(e)?;
        // NULL for a functional key part (MySQL 8.0.13+); the expression itself is in a column
        // MariaDB lacks, so it is shown as a placeholder.
        let column = text(&r, 3)
            .map_err(e)?
            .unwrap_or_else(|| "<expression>".into());
        let sub_part: Option<i64> = r.try_get_unchecked(4).map_err(e)?;
        let order = text(&r, 5).map_err(e)?;
        let method = text_req(&r, 6).map_err(e)?;
        let mut key = column;
        if let Some(n) = sub_part {
            key.push_str(&format!("({n})"));
        }
        if order.as_deref() == Some("D") {
            key.push_str(" DESC");
        }
        index_cols
            .entry((table, index))
            .or_insert_with(|| (non_unique == 0, method, Vec::new()))
            .2
            .push(key);
    }
    for ((table, index), (unique, method, columns)) in index_cols {
        let Some(t) = schema.tables.get_mut(&table).map(Arc::make_mut) else {
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

    // Foreign keys: one row per column, grouped by constraint.
    let mut fks: BTreeMap<(String, String), ForeignKey> = BTreeMap::new();
    for r in fetch!(
        "foreign keys",
        "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, \
           k.REFERENCED_COLUMN_NAME, rc.DELETE_RULE, rc.UPDATE_RULE, k.REFERENCED_TABLE_SCHEMA \
         FROM information_schema.KEY_COLUMN_USAGE k \
         JOIN information_schema.REFERENTIAL_CONSTRAINTS rc \
           ON rc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND rc.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
          AND rc.TABLE_NAME = k.TABLE_NAME \
         WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
         ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION"
    ) {
        let e = |e| err("foreign keys", e);
        let table = text_req(&r, 0).map_err(e)?;
        let name = text_req(&r, 1).map_err(e)?;
        let column = text_req(&r, 2).map_err(e)?;
        let ref_table = text_req(&r, 3).map_err(e)?;
        let ref_column = text_req(&r, 4).map_err(e)?;
        let on_delete = text_req(&r, 5).map_err(e)?;
        let on_update = text_req(&r, 6).map_err(e)?;
        let ref_schema = text(&r, 7).map_err(e)?;
        // A reference into another database is kept qualified.
        let ref_table = match ref_schema {
            Some(s) if s != db.name => format!("{s}.{ref_table}"),
            _ => ref_table,
        };
        let fk = fks
            .entry((table, name.clone()))
            .or_insert_with(|| ForeignKey {
                name: Some(name),
                columns: Vec::new(),
                ref_table,
                ref_columns: Vec::new(),
                on_delete: action(&on_delete),
                on_update: action(&on_update),
            });
        fk.columns.push(column);
        fk.ref_columns.push(ref_column);
    }
    for ((table, _), fk) in fks {
        if let Some(t) = schema.tables.get_mut(&table).map(Arc::make_mut) {
            t.foreign_keys.push(fk);
        }
    }

    // CHECK constraints (MariaDB 10.2+, MySQL 8.0.16+). MariaDB names them per table, so join
    // on the table too where the column exists (MariaDB has CHECK_CONSTRAINTS.TABLE_NAME).
    let checks_sql = if db.dialect.mariadb {
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
    };
    for r in fetch!("check constraints", checks_sql) {
        let e = |e| err("check constraints", e);
        let table = text_req(&r, 0).map_err(e)?;
        let name = text_req(&r, 1).map_err(e)?;
        let clause = text_req(&r, 2).map_err(e)?;
        if let Some(t) = schema.tables.get_mut(&table).map(Arc::make_mut) {
            t.checks.push(CheckConstraint {
                name: Some(name),
                expression: normalize_expr(&dialect, &clause),
            });
        }
    }

    // Views. The server stores them with every table qualified by the database name; drop that
    // qualifier so the same view in a clone (another database name) compares equal.
    let db_prefix = format!("{}.", quote_ident(Dialect::Mysql, &db.name));
    for r in fetch!(
        "views",
        "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME"
    ) {
        let e = |e| err("views", e);
        let name = text_req(&r, 0).map_err(e)?;
        let body = text_req(&r, 1).map_err(e)?.replace(&db_prefix, "");
        let sql = format!(
            "CREATE VIEW {} AS {body}",
            quote_ident(Dialect::Mysql, &name)
        );
        schema.views.insert(
            name.clone(),
            View {
                name,
                definition: normalize_sql(&dialect, &sql),
            },
        );
    }

    for r in fetch!(
        "triggers",
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, \
           ACTION_STATEMENT FROM information_schema.TRIGGERS \
         WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME"
    ) {
        let e = |e| err("triggers", e);
        let name = text_req(&r, 0).map_err(e)?;
        let table = text_req(&r, 1).map_err(e)?;
        if ignored(&table) {
            continue;
        }
        let timing = text_req(&r, 2).map_err(e)?;
        let event = text_req(&r, 3).map_err(e)?;
        let body = text_req(&r, 4).map_err(e)?;
        let sql = format!(
            "CREATE TRIGGER {} {timing} {event} ON {} FOR EACH ROW {}",
            quote_ident(Dialect::Mysql, &name),
            quote_ident(Dialect::Mysql, &table),
            collapse_whitespace(&body)
        );
        schema.triggers.insert(
            name.clone(),
            Trigger {
                name,
                table,
                definition: normalize_sql(&dialect, &sql),
            },
        );
    }

    for t in schema.tables.values_mut().map(Arc::make_mut) {
        t.uniques.sort_by(|a, b| a.columns.cmp(&b.columns));
        t.foreign_keys
            .sort_by(|a, b| (&a.columns, &a.ref_table).cmp(&(&b.columns, &b.ref_table)));
        t.checks
            .sort_by(|a, b| (&a.expression, &a.name).cmp(&(&b.expression, &b.name)));
    }
    Ok(schema)
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
