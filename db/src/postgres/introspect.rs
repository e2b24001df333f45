//! PostgreSQL introspection from `pg_catalog`. The server's own deparsers (`format_type`,
//! `pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_viewdef`,
//! `pg_get_triggerdef`) give canonical text, so a faithful recreate compares equal without any
//! parsing here. Only objects in the connection's current schema (`public` unless the
//! search_path says otherwise) are read, and objects owned by extensions are skipped: they are
//! not the migration's.

use sqlparser::dialect::PostgreSqlDialect;
use sqlx::postgres::PgRow;
use sqlx::Row as _;
use std::sync::Arc;

use super::server::PgDb;
use crate::model::type_params;
use crate::normalize::{normalize_expr, normalize_sql};
use crate::{
    quote_ident, CheckConstraint, Column, DbError, Dialect, ForeignKey, Index, Schema, Table,
    Trigger, UniqueConstraint, View,
};

/// The user tables: current schema, ordinary or partitioned (not partitions), not extension
/// members, not ignored. `$1` is the text[] of ignored names.
const TABLES_CTE: &str =
    "WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = current_schema()), \
tbl AS (SELECT c.oid, c.relname::text AS name FROM pg_class c \
  WHERE c.relnamespace = (SELECT oid FROM ns) AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                  AND d.objid = c.oid AND d.deptype = 'e') \
  AND NOT (c.relname::text = ANY($1::text[]))) ";

/// Objects of class `class` (a catalog name) owned by an extension.
fn not_extension(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{class}'::regclass \
         AND d.objid = {oid} AND d.deptype = 'e')"
    )
}

/// Map `pg_constraint.confdeltype`/`confupdtype` to the model's action (None = NO ACTION).
fn action(code: &str) -> Option<String> {
    match code {
        "r" => Some("RESTRICT".into()),
        "c" => Some("CASCADE".into()),
        "n" => Some("SET NULL".into()),
        "d" => Some("SET DEFAULT".into()),
        _ => None,
    }
}

/// Values of `CHECK ((col = ANY (ARRAY['a'::text, 'b'::text])))` (how PostgreSQL deparses
/// `col IN ('a', 'b')`), so row generators pick allowed values as they do on SQLite.
pub(crate) fn check_enum_values(def: &str) -> Option<(String, Vec<String>)> {
    let body = def.trim().strip_prefix("CHECK")?.trim();
    let (lhs, rhs) = body.split_once("= ANY")?;
    let column = lhs
        .trim_start_matches('(')
        .split("::")
        .next()?
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim_matches('"')
        .to_string();
    if column.is_empty() || column.contains(|c: char| c.is_whitespace() || c == '(') {
        return None;
    }
    let array = rhs.split_once("ARRAY[")?.1;
    let mut values = Vec::new();
    let mut chars = array.chars().peekable();
    // Read quoted literals in order until the array's closing bracket.
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
                        '\'' => break,
                        c => v.push(c),
                    }
                }
                values.push(v);
            }
            ']' => break,
            // Anything else must be a cast suffix, a comma or spacing; a non-literal element
            // (a column, a function call) means this is not a plain value list.
            c if c.is_alphanumeric() || matches!(c, ':' | ',' | ' ' | '_' | '"' | '(' | ')') => {
                if c == '(' {
                    return None;
                }
            }
            _ => return None,
        }
    }
    (!values.is_empty()).then_some((column, values))
}

pub(crate) async fn introspect(db: &PgDb, ignore_tables: &[&str]) -> Result<Schema, DbError> {
    let pool = db.pool();
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| db.query_error("introspecting schema", e))?;
    let ignored: Vec<String> = ignore_tables.iter().map(|s| s.to_string()).collect();
    let dialect = PostgreSqlDialect {};
    let mut schema = Schema::default();

    // Every query binds the ignored names as $1 (those without a use for them test it against
    // NULL), so one macro runs them all.
    macro_rules! fetch {
        ($what:expr, $sql:expr) => {
            sqlx::query(&$sql)
                .bind(&ignored)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| db.query_error(format!("reading {}", $what), e))?
        };
    }
    let get_err = |what: &str, e: sqlx::Error| db.query_error(format!("reading {what}"), e);

    // Tables (so that tables without columns still appear).
    for r in fetch!(
        "tables",
        format!("{TABLES_CTE} SELECT name FROM tbl ORDER BY name")
    ) {
        let name: String = r.try_get(0).map_err(|e| get_err("tables", e))?;
        schema.tables.insert(
            name.clone(),
            Arc::new(Table {
                name,
                ..Table::default()
            }),
        );
    }

    // Columns. Generated columns are left out (as on SQLite): nothing can be inserted into them.
    let columns_sql = format!(
        "{TABLES_CTE} SELECT t.name, a.attname::text, format_type(a.atttypid, a.atttypmod), \
           a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity::text, \
           CASE WHEN ty.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e \
                WHERE e.enumtypid = ty.oid ORDER BY e.enumsortorder) END, \
           CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation \
                THEN co.collname::text END, \
           pg_get_serial_sequence(format('%I.%I', current_schema(), t.name), a.attname) IS NOT NULL \
         FROM tbl t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped \
         JOIN pg_type ty ON ty.oid = a.atttypid \
         LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
         LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         WHERE a.attgenerated = '' ORDER BY t.name, a.attnum"
    );
    for r in fetch!("columns", columns_sql) {
        let e = |e| get_err("columns", e);
        let table: String = r.try_get(0).map_err(e)?;
        let name: String = r.try_get(1).map_err(e)?;
        let data_type: String = r.try_get(2).map_err(e)?;
        let not_null: bool = r.try_get(3).map_err(e)?;
        let default: Option<String> = r.try_get(4).map_err(e)?;
        let identity: String = r.try_get(5).map_err(e)?;
        let labels: Option<Vec<String>> = r.try_get(6).map_err(e)?;
        let collation: Option<String> = r.try_get(7).map_err(e)?;
        let owns_sequence: bool = r.try_get(8).map_err(e)?;
        let identity = match identity.as_str() {
            "a" => Some("ALWAYS".to_string()),
            "d" => Some("BY DEFAULT".to_string()),
            _ => None,
        };
        let default = default.map(|d| normalize_expr(&dialect, &d));
        let serial = owns_sequence && default.as_deref().is_some_and(|d| d.starts_with("nextval"));
        let params = type_params(&data_type);
        let column = Column {
            name,
            nullable: !not_null,
            default,
            autoincrement: identity.is_some() || serial,
            max_length: params.max_length,
            numeric_precision: params.precision,
            numeric_scale: params.scale,
            enum_values: labels,
            identity,
            collation,
            charset: None,
            data_type,
        };
        if let Some(t) = schema.tables.get_mut(&table).map(Arc::make_mut) {
            t.columns.push(column);
        }
    }

    // Constraints: primary key, unique, foreign keys, checks, exclusions.
    let constraints_sql = format!(
        "{TABLES_CTE} SELECT t.name, con.conname::text, con.contype::text, \
           ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), \
           CASE WHEN rt.oid IS NULL THEN NULL \
                WHEN rt.relnamespace = (SELECT oid FROM ns) THEN rt.relname::text \
                ELSE rn.nspname::text || '.' || rt.relname::text END, \
           ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i), \
           con.confdeltype::text, con.confupdtype::text, pg_get_constraintdef(con.oid, true) \
         FROM tbl t JOIN pg_constraint con ON con.conrelid = t.oid \
         LEFT JOIN pg_class rt ON rt.oid = con.confrelid \
         LEFT JOIN pg_namespace rn ON rn.oid = rt.relnamespace \
         ORDER BY t.name, con.conname"
    );
    for r in fetch!("constraints", constraints_sql) {
        let e = |e| get_err("constraints", e);
        let table: String = r.try_get(0).map_err(e)?;
        let name: String = r.try_get(1).map_err(e)?;
        let kind: String = r.try_get(2).map_err(e)?;
        let columns: Vec<String> = r.try_get(3).map_err(e)?;
        let ref_table: Option<String> = r.try_get(4).map_err(e)?;
        let ref_columns: Vec<String> = r.try_get(5).map_err(e)?;
        let on_delete: String = r.try_get(6).map_err(e)?;
        let on_update: String = r.try_get(7).map_err(e)?;
        let def: String = r.try_get(8).map_err(e)?;
        let Some(t) = schema.tables.get_mut(&table).map(Arc::make_mut) else {
            continue;
        };
        match kind.as_str() {
            "p" => t.primary_key = columns,
            "u" => t.uniques.push(UniqueConstraint {
                name: Some(name),
                columns,
            }),
            "f" => t.foreign_keys.push(ForeignKey {
                name: Some(name),
                columns,
                ref_table: ref_table.unwrap_or_default(),
                ref_columns,
                on_delete: action(&on_delete),
                on_update: action(&on_update),
            }),
            "c" => {
                if let Some((col, values)) = check_enum_values(&def) {
                    if let Some(c) = t.columns.iter_mut().find(|c| c.name == col) {
                        if c.enum_values.is_none() {
                            c.enum_values = Some(values);
                        }
                    }
                }
                let body = def.trim().strip_prefix("CHECK").unwrap_or(&def);
                t.checks.push(CheckConstraint {
                    name: Some(name),
                    expression: normalize_expr(&dialect, body),
                });
            }
            "x" => t.exclusions.push(CheckConstraint {
                name: Some(name),
                expression: normalize_sql(&dialect, &def),
            }),
            // 't' (constraint triggers show as triggers), 'n' (NOT NULL, PostgreSQL 18, already
            // in `nullable`).
            _ => {}
        }
    }

    // Indexes that do not back a primary key, unique or exclusion constraint.
    let indexes_sql = format!(
        "{TABLES_CTE} SELECT t.name, ic.relname::text, i.indisunique, am.amname::text, \
           ARRAY(SELECT i.indoption[k] FROM generate_series(0, i.indnkeyatts - 1) k ORDER BY k), pg_get_expr(i.indpred, i.indrelid, true), \
           ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                 FROM generate_series(1, i.indnkeyatts) k ORDER BY k), \
           ARRAY(SELECT a.attnum IS NOT NULL FROM generate_series(1, i.indnkeyatts) k \
                 LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid \
                 AND a.attnum = i.indkey[k - 1] AND i.indkey[k - 1] <> 0 ORDER BY k) \
         FROM tbl t JOIN pg_index i ON i.indrelid = t.oid \
         JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam \
         WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid \
                           AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')) \
         ORDER BY t.name, ic.relname"
    );
    for r in fetch!("indexes", indexes_sql) {
        let e = |e| get_err("indexes", e);
        let table: String = r.try_get(0).map_err(e)?;
        let name: String = r.try_get(1).map_err(e)?;
        let unique: bool = r.try_get(2).map_err(e)?;
        let method: String = r.try_get(3).map_err(e)?;
        let options: Vec<i16> = r.try_get(4).map_err(e)?;
        let predicate: Option<String> = r.try_get(5).map_err(e)?;
        let keys: Vec<String> = r.try_get(6).map_err(e)?;
        let plain: Vec<bool> = r.try_get(7).map_err(e)?;
        let columns = keys
            .iter()
            .enumerate()
            .map(|(k, key)| {
                // Plain columns stay as names; expressions are normalised SQL text.
                let mut text = if plain.get(k).copied().unwrap_or(false) {
                    key.trim_matches('"').to_string()
                } else {
                    normalize_expr(&dialect, key)
                };
                let option = options.get(k).copied().unwrap_or(0);
                let desc = option & 1 != 0;
                let nulls_first = option & 2 != 0;
                if desc {
                    text.push_str(" DESC");
                }
                // The defaults are NULLS LAST for ASC and NULLS FIRST for DESC.
                if nulls_first && !desc {
                    text.push_str(" NULLS FIRST");
                } else if !nulls_first && desc {
                    text.push_str(" NULLS LAST");
                }
                text
            })
            .collect();
        if let Some(t) = schema.tables.get_mut(&table).map(Arc::make_mut) {
            t.indexes.push(Index {
                name,
                columns,
                unique,
                partial: predicate.map(|p| normalize_expr(&dialect, &p)),
                method: (method != "btree").then_some(method),
            });
        }
    }

    // Views and materialized views.
    let views_sql = format!(
        "SELECT c.relname::text, c.relkind::text, pg_get_viewdef(c.oid, true) FROM pg_class c \
         WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
         AND c.relkind IN ('v', 'm') AND {} AND $1::text[] IS NOT NULL ORDER BY c.relname",
        not_extension("pg_class", "c.oid")
    );
    for r in fetch!("views", views_sql) {
        let e = |e| get_err("views", e);
        let name: String = r.try_get(0).map_err(e)?;
        let kind: String = r.try_get(1).map_err(e)?;
        let body: String = r.try_get(2).map_err(e)?;
        let keyword = if kind == "m" {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        let text = format!(
            "CREATE {keyword} {} AS {body}",
            quote_ident(Dialect::Postgres, &name)
        );
        schema.views.insert(
            name.clone(),
            View {
                name,
                definition: normalize_sql(&dialect, &text),
            },
        );
    }

    // Triggers on user tables (not the internal ones behind foreign keys).
    let triggers_sql = format!(
        "{TABLES_CTE} SELECT tg.tgname::text, t.name, pg_get_triggerdef(tg.oid, true) \
         FROM tbl t JOIN pg_trigger tg ON tg.tgrelid = t.oid WHERE NOT tg.tgisinternal \
         ORDER BY tg.tgname"
    );
    for r in fetch!("triggers", triggers_sql) {
        let e = |e| get_err("triggers", e);
        let name: String = r.try_get(0).map_err(e)?;
        let table: String = r.try_get(1).map_err(e)?;
        let def: String = r.try_get(2).map_err(e)?;
        schema.triggers.insert(
            name.clone(),
            Trigger {
                name,
                table,
                definition: normalize_sql(&dialect, &def),
            },
        );
    }

    // Enum types.
    let enums_sql = format!(
        "SELECT t.typname::text, ARRAY(SELECT e.enumlabel::text FROM pg_enum e \
           WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) \
         FROM pg_type t WHERE t.typtype = 'e' \
         AND t.typnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
         AND {} AND $1::text[] IS NOT NULL ORDER BY t.typname",
        not_extension("pg_type", "t.oid")
    );
    for r in fetch!("enum types", enums_sql) {
        let e = |e| get_err("enum types", e);
        let name: String = r.try_get(0).map_err(e)?;
        let labels: Vec<String> = r.try_get(1).map_err(e)?;
        schema.enums.insert(name, labels);
    }

    // Sequences, except identity columns' own (described by the column).
    let sequences_sql =
        "SELECT c.relname::text, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, \
           s.seqmin, s.seqmax, s.seqcache, s.seqcycle, \
           (SELECT ot.relname::text || '.' || a.attname::text FROM pg_depend d \
              JOIN pg_class ot ON ot.oid = d.refobjid \
              JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' \
              AND d.refclassid = 'pg_class'::regclass LIMIT 1), \
           (SELECT ot.relname::text FROM pg_depend d JOIN pg_class ot ON ot.oid = d.refobjid \
            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' \
              AND d.refclassid = 'pg_class'::regclass LIMIT 1) = ANY($1::text[]) \
         FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid \
         WHERE c.relkind = 'S' \
         AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                         AND d.objid = c.oid AND d.deptype IN ('e', 'i')) \
         ORDER BY c.relname";
    for r in fetch!("sequences", sequences_sql) {
        let (name, definition, ignored) = sequence(&r).map_err(|e| get_err("sequences", e))?;
        if !ignored {
            schema.sequences.insert(name, definition);
        }
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

/// One `pg_sequence` row as (name, canonical definition, owned by an ignored table).
fn sequence(r: &PgRow) -> Result<(String, String, bool), sqlx::Error> {
    let name: String = r.try_get(0)?;
    let ty: String = r.try_get(1)?;
    let start: i64 = r.try_get(2)?;
    let increment: i64 = r.try_get(3)?;
    let min: i64 = r.try_get(4)?;
    let max: i64 = r.try_get(5)?;
    let cache: i64 = r.try_get(6)?;
    let cycle: bool = r.try_get(7)?;
    let owner: Option<String> = r.try_get(8)?;
    let ignored: Option<bool> = r.try_get(9)?;
    let mut def = format!(
        "AS {ty} START {start} INCREMENT {increment} MINVALUE {min} MAXVALUE {max} CACHE {cache} {}",
        if cycle { "CYCLE" } else { "NO CYCLE" }
    );
    if let Some(owner) = owner {
        def.push_str(&format!(" OWNED BY {owner}"));
    }
    Ok((name, def, ignored.unwrap_or(false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_from_check() {
        assert_eq!(
            check_enum_values("CHECK ((status = ANY (ARRAY['a'::text, 'it''s'::text])))"),
            Some(("status".into(), vec!["a".into(), "it's".into()]))
        );
        assert_eq!(
            check_enum_values(
                "CHECK (((status)::text = ANY ((ARRAY['active'::character varying, 'banned'::character varying])::text[])))"
            ),
            Some(("status".into(), vec!["active".into(), "banned".into()]))
        );
        assert_eq!(check_enum_values("CHECK ((a > 0))"), None);
        assert_eq!(check_enum_values("CHECK ((a = ANY (ARRAY[b, c])))"), None);
    }
}
