//! PostgreSQL introspection from `pg_catalog`. The server's own deparsers (`format_type`,
//! `pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_viewdef`,
//! `pg_get_triggerdef`) give canonical text, so a faithful recreate compares equal without any
//! parsing here. Only objects in the connection's current schema (`public` unless the
//! search_path says otherwise) are read, and objects owned by extensions are skipped: they are
//! not the migration's.
//!
//! The whole schema is one statement whose columns are JSON arrays of rows, one per kind of
//! object: a trial reads the schema three times, and eight statements cost twice the server
//! time of one (the user tables were found eight times over, each statement bound, executed
//! and answered on its own).

use serde::de::DeserializeOwned;
use sqlparser::dialect::PostgreSqlDialect;
use sqlx::postgres::types::Oid;
use sqlx::postgres::PgRow;
use sqlx::Row as _;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use super::ddl_log::{self, Changes};

use super::server::PgDb;
use crate::model::type_params;
use crate::normalize::{normalize_expr, normalize_sql};
use crate::{
    quote_ident, CheckConstraint, Column, DbError, Dialect, ForeignKey, Index, Schema, Table,
    Trigger, UniqueConstraint, View,
};

/// The schema in one statement; `$1` is the text[] of ignored table names. Each column is a JSON
/// array (NULL when empty) of one kind of object, in the order the model wants them.
/// `tbl` holds the user tables: current schema, ordinary or partitioned (not partitions), not
/// extension members, not ignored; `{CANDIDATES}` narrows it (see [`PARTIAL_SQL`]).
const SCHEMA_SQL: &str = "WITH ns AS MATERIALIZED (\
  SELECT oid FROM pg_namespace WHERE nspname = current_schema()), \
tbl AS MATERIALIZED (SELECT c.oid, c.relname::text AS name FROM pg_class c \
  WHERE {CANDIDATES} c.relnamespace = (SELECT oid FROM ns) AND c.relkind IN ('r', 'p') \
  AND NOT c.relispartition \
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                  AND d.objid = c.oid AND d.deptype = 'e') \
  AND NOT (c.relname::text = ANY($1::text[]))) \
SELECT \
 (SELECT json_agg(json_build_array(name, oid::bigint) ORDER BY name) FROM tbl)::text, \
 (SELECT json_agg(json_build_array(t.name, a.attname::text, format_type(a.atttypid, a.atttypmod), \
    a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity::text, \
    CASE WHEN ty.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e \
         WHERE e.enumtypid = ty.oid ORDER BY e.enumsortorder) END, \
    CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation \
         THEN co.collname::text END, \
    ad.adbin IS NOT NULL AND EXISTS (SELECT 1 FROM pg_depend d \
         JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
         WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid \
         AND d.refobjsubid = a.attnum AND d.classid = 'pg_class'::regclass \
         AND d.deptype IN ('a', 'i'))) ORDER BY t.name, a.attnum) \
  FROM tbl t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped \
  JOIN pg_type ty ON ty.oid = a.atttypid \
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
  LEFT JOIN pg_collation co ON co.oid = a.attcollation \
  WHERE a.attgenerated = '')::text, \
 (SELECT json_agg(json_build_array(t.name, con.conname::text, con.contype::text, \
    ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), \
    CASE WHEN rt.oid IS NULL THEN NULL \
         WHEN rt.relnamespace = (SELECT oid FROM ns) THEN rt.relname::text \
         ELSE rn.nspname::text || '.' || rt.relname::text END, \
    ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
          JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i), \
    con.confdeltype::text, con.confupdtype::text, \
    CASE WHEN con.contype IN ('c', 'x') THEN pg_get_constraintdef(con.oid, true) END) \
    ORDER BY t.name, con.conname) \
  FROM tbl t JOIN pg_constraint con ON con.conrelid = t.oid \
  LEFT JOIN pg_class rt ON rt.oid = con.confrelid \
  LEFT JOIN pg_namespace rn ON rn.oid = rt.relnamespace)::text, \
 (SELECT json_agg(json_build_array(t.name, ic.relname::text, i.indisunique, am.amname::text, \
    ARRAY(SELECT i.indoption[k] FROM generate_series(0, i.indnkeyatts - 1) k ORDER BY k), \
    pg_get_expr(i.indpred, i.indrelid, true), \
    ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
          FROM generate_series(1, i.indnkeyatts) k ORDER BY k), \
    ARRAY(SELECT a.attnum IS NOT NULL FROM generate_series(1, i.indnkeyatts) k \
          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid \
          AND a.attnum = i.indkey[k - 1] AND i.indkey[k - 1] <> 0 ORDER BY k)) \
    ORDER BY t.name, ic.relname) \
  FROM tbl t JOIN pg_index i ON i.indrelid = t.oid \
  JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam \
  WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid \
                    AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')))::text, \
 {IF4}(SELECT json_agg(json_build_array(c.relname::text, c.relkind::text, pg_get_viewdef(c.oid, true)) \
    ORDER BY c.relname) FROM pg_class c \
  WHERE c.relnamespace = (SELECT oid FROM ns) AND c.relkind IN ('v', 'm') \
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                  AND d.objid = c.oid AND d.deptype = 'e'))::text{FI}, \
 (SELECT json_agg(json_build_array(tg.tgname::text, t.name, pg_get_triggerdef(tg.oid, true)) \
    ORDER BY tg.tgname) \
  FROM tbl t JOIN pg_trigger tg ON tg.tgrelid = t.oid WHERE NOT tg.tgisinternal)::text, \
 {IF5}(SELECT json_agg(json_build_array(t.typname::text, ARRAY(SELECT e.enumlabel::text FROM pg_enum e \
    WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)) ORDER BY t.typname) \
  FROM pg_type t WHERE t.typtype = 'e' AND t.typnamespace = (SELECT oid FROM ns) \
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass \
                  AND d.objid = t.oid AND d.deptype = 'e'))::text{FI}, \
 {IF6}(SELECT json_agg(json_build_array(c.relname::text, format_type(s.seqtypid, NULL), s.seqstart, \
    s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, \
    (SELECT ot.relname::text || '.' || a.attname::text FROM pg_depend d \
       JOIN pg_class ot ON ot.oid = d.refobjid \
       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' \
       AND d.refclassid = 'pg_class'::regclass LIMIT 1), \
    (SELECT ot.relname::text FROM pg_depend d JOIN pg_class ot ON ot.oid = d.refobjid \
     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' \
       AND d.refclassid = 'pg_class'::regclass LIMIT 1) = ANY($1::text[])) ORDER BY c.relname) \
  FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid \
  WHERE c.relkind = 'S' AND c.relnamespace = (SELECT oid FROM ns) \
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                  AND d.objid = c.oid AND d.deptype IN ('e', 'i')))::text{FI}";

/// Rows of [`SCHEMA_SQL`]'s parts, as its `json_build_array`s lay them out.
type ColumnRow = (
    String,
    String,
    String,
    bool,
    Option<String>,
    String,
    Option<Vec<String>>,
    Option<String>,
    bool,
);
type ConstraintRow = (
    String,
    String,
    String,
    Vec<String>,
    Option<String>,
    Vec<String>,
    String,
    String,
    Option<String>,
);
type IndexRow = (
    String,
    String,
    bool,
    String,
    Vec<i16>,
    Option<String>,
    Vec<String>,
    Vec<bool>,
);
type SequenceRow = (
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    bool,
    Option<String>,
    Option<bool>,
);

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

/// The schema of `db`, without the tables in `ignore_tables`. Where the database carries mrt's
/// DDL log ([`ddl_log`]), only the tables changed since the last read are read again.
pub(crate) async fn introspect(db: &PgDb, ignore_tables: &[&str]) -> Result<Schema, DbError> {
    let ignore: Vec<String> = ignore_tables.iter().map(|s| s.to_string()).collect();
    // Taken out while reading: a read that fails or is abandoned leaves `Unknown`, and the next
    // one starts over with a full read.
    let state = std::mem::take(&mut *db.dialect_state.lock().unwrap_or_else(|e| e.into_inner()));
    let state = match state {
        Tracking::Unknown if ddl_log::ensure(db).await => Tracking::On(None),
        Tracking::Unknown => Tracking::Off,
        known => known,
    };
    let (schema, next) = match state {
        Tracking::On(known) => match ddl_log::consume(db).await {
            Some((changes, kept)) => {
                // A new handle takes the read the last process kept in the database.
                let taken = known.is_none();
                let known = known.or_else(|| serde_json::from_str(&kept?).ok());
                let known = match known.filter(|k| k.ignore == ignore && !changes.full) {
                    Some(known) => update(db, known, &changes, taken).await?,
                    None => Known::read(db, ignore).await?,
                };
                (known.read.schema.clone(), Tracking::On(Some(known)))
            }
            None => (read(db, &ignore, None).await?.schema, Tracking::Off),
        },
        _ => (read(db, &ignore, None).await?.schema, Tracking::Off),
    };
    *db.dialect_state.lock().unwrap_or_else(|e| e.into_inner()) = next;
    Ok(schema)
}

/// Whether a database's schema reads can rely on its DDL log.
#[derive(Debug, Default)]
pub(crate) enum Tracking {
    /// Not looked at yet (a new handle, or a read that did not finish).
    #[default]
    Unknown,
    /// No log: every read is a full read.
    Off,
    /// The log is there; with the last read, consumed at the time of that read.
    On(Option<Known>),
}

/// The last schema read of a database whose DDL log was emptied just before it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Known {
    read: Read,
    ignore: Vec<String>,
}

impl Known {
    async fn read(db: &PgDb, ignore: Vec<String>) -> Result<Known, DbError> {
        let read = read(db, &ignore, None).await?;
        Ok(Known { read, ignore })
    }
}

/// A schema read, with each table's oid (a renamed table keeps it; a copied database keeps all).
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Read {
    schema: Schema,
    oids: BTreeMap<String, u32>,
}

/// The last read brought up to date with `changes`: the tables they name (and those whose foreign
/// keys point at them) read again; views, enum types and sequences read whole where they may
/// have changed.
async fn update(db: &PgDb, known: Known, changes: &Changes, taken: bool) -> Result<Known, DbError> {
    if !changes.any {
        if taken && crate::verify_schema_reads() {
            verify(db, &known.ignore, &known.read, changes).await?;
        }
        return Ok(known);
    }
    let Known { read: last, ignore } = known;
    let mut names = changes.names.clone();
    for index in &changes.indexes {
        let table =
            (last.schema.tables.values()).find(|t| t.indexes.iter().any(|i| &i.name == index));
        names.extend(table.map(|t| t.name.clone()));
    }
    let oids: Vec<u32> = changes.oids.iter().copied().collect();
    let names: Vec<String> = names.into_iter().collect();
    // A changed table changes the text of views over it and of sequences it owns.
    let tables = !(oids.is_empty() && names.is_empty() && changes.indexes.is_empty());
    let wants = Wants {
        views: changes.views || (tables && !last.schema.views.is_empty()),
        enums: changes.enums,
        sequences: changes.sequences || (tables && !last.schema.sequences.is_empty()),
    };
    let only = Only {
        oids: &oids,
        names: &names,
        wants,
    };
    let part = read(db, &ignore, Some(only)).await?;
    let merged = merge(last, part, &changes.oids, &names, wants);
    if crate::verify_schema_reads() {
        verify(db, &ignore, &merged, changes).await?;
    }
    Ok(Known {
        read: merged,
        ignore,
    })
}

/// An error unless `updated` equals a full read.
async fn verify(
    db: &PgDb,
    ignore: &[String],
    updated: &Read,
    changes: &Changes,
) -> Result<(), DbError> {
    if read(db, ignore, None).await? == *updated {
        return Ok(());
    }
    Err(DbError::Introspect {
        dialect: Dialect::Postgres.as_str(),
        db: db.name.clone(),
        object: "the schema".into(),
        message: format!(
            "the schema updated from the DDL log differs from a full read after \
             {changes:?}; please report this (MRT_PG_DDL_LOG=off avoids it)"
        ),
    })
}

/// Writes the last read into the database for whichever process takes it over (see
/// [`ddl_log::keep`]); nothing when there is none.
pub(crate) async fn keep_read(db: &PgDb) {
    let body = match &*db.dialect_state.lock().unwrap_or_else(|e| e.into_inner()) {
        Tracking::On(Some(known)) => serde_json::to_string(known).ok(),
        _ => None,
    };
    if let Some(body) = body {
        ddl_log::keep(db, body).await;
    }
}

/// Which of the parts read whole a partial read reads.
#[derive(Debug, Clone, Copy)]
struct Wants {
    views: bool,
    enums: bool,
    sequences: bool,
}

/// What a partial read reads: tables by oid and by name, and the parts in `wants`.
struct Only<'a> {
    oids: &'a [u32],
    names: &'a [String],
    wants: Wants,
}

/// `last` with the tables changed (by oid or name) or read again replaced by `part`'s, and the
/// parts `part` read.
fn merge(last: Read, part: Read, oids: &BTreeSet<u32>, names: &[String], wants: Wants) -> Read {
    let Read {
        mut schema,
        oids: mut by_name,
    } = last;
    let reread: BTreeSet<u32> = part.oids.values().copied().collect();
    let mut gone: BTreeSet<String> = names.iter().cloned().collect();
    gone.extend(
        (by_name.iter())
            .filter(|(_, oid)| oids.contains(oid) || reread.contains(oid))
            .map(|(name, _)| name.clone()),
    );
    gone.extend(part.oids.keys().cloned());
    for name in &gone {
        schema.tables.remove(name);
        by_name.remove(name);
    }
    schema.triggers.retain(|_, t| !gone.contains(&t.table));
    schema.tables.extend(part.schema.tables);
    schema.triggers.extend(part.schema.triggers);
    by_name.extend(part.oids);
    if wants.views {
        schema.views = part.schema.views;
    }
    if wants.enums {
        schema.enums = part.schema.enums;
    }
    if wants.sequences {
        schema.sequences = part.schema.sequences;
    }
    Read {
        schema,
        oids: by_name,
    }
}

/// [`SCHEMA_SQL`] over every table.
static FULL_SQL: LazyLock<String> = LazyLock::new(|| {
    let mut sql = SCHEMA_SQL.replace("{CANDIDATES}", "").replace("{FI}", "");
    for part in ["{IF4}", "{IF5}", "{IF6}"] {
        sql = sql.replace(part, "");
    }
    sql
});

/// [`SCHEMA_SQL`] over the tables with the oids in `$2` or the names in `$3`, and those whose
/// foreign keys point at them (a renamed table or column changes the key's text). Each found
/// by index (the catalogs' own), so the read costs what the changed tables do, not what all do.
/// Views, enum types and sequences are read only when `$4`, `$5`, `$6` say so.
static PARTIAL_SQL: LazyLock<String> = LazyLock::new(|| {
    let changed = "WITH changed AS MATERIALIZED (SELECT unnest($2::oid[]) AS oid UNION \
        SELECT x.oid FROM pg_class x WHERE x.relname = ANY($3::name[]) \
        AND x.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())), ";
    // A foreign key depends on the table it points at: found through pg_depend's index on the
    // referenced object, then each constraint by its oid.
    let candidates = "c.oid IN (SELECT oid FROM changed UNION \
        SELECT (SELECT con.conrelid FROM pg_constraint con WHERE con.oid = d.objid \
                AND con.contype = 'f') FROM pg_depend d \
        WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid IN (SELECT oid FROM changed) \
        AND d.classid = 'pg_constraint'::regclass) AND";
    SCHEMA_SQL
        .replacen("WITH ", changed, 1)
        .replace("{CANDIDATES}", candidates)
        .replace("{IF4}", "CASE WHEN $4::bool THEN ")
        .replace("{IF5}", "CASE WHEN $5::bool THEN ")
        .replace("{IF6}", "CASE WHEN $6::bool THEN ")
        .replace("{FI}", " END")
});

/// One schema statement: every table, or only those in `only` (oids, names).
async fn read(db: &PgDb, ignored: &[String], only: Option<Only<'_>>) -> Result<Read, DbError> {
    let query = match only {
        None => sqlx::query(FULL_SQL.as_str()).bind(ignored),
        Some(only) => {
            let oids: Vec<Oid> = only.oids.iter().map(|o| Oid(*o)).collect();
            (sqlx::query(PARTIAL_SQL.as_str()).bind(ignored))
                .bind(oids)
                .bind(only.names)
                .bind(only.wants.views)
                .bind(only.wants.enums)
                .bind(only.wants.sequences)
        }
    };
    let row = query
        .fetch_one(&db.pool())
        .await
        .map_err(|e| db.query_error("reading the schema", e))?;
    let parts = Parts { db, row: &row };
    let mut schema = Schema::default();
    let mut oids = BTreeMap::new();
    for (name, oid) in parts.get::<(String, u32)>(0, "tables")? {
        let table = Table {
            name: name.clone(),
            ..Table::default()
        };
        schema.tables.insert(name.clone(), Arc::new(table));
        oids.insert(name, oid);
    }
    for r in parts.get::<ColumnRow>(1, "columns")? {
        add_column(&mut schema, r);
    }
    for r in parts.get::<ConstraintRow>(2, "constraints")? {
        add_constraint(&mut schema, r);
    }
    for r in parts.get::<IndexRow>(3, "indexes")? {
        add_index(&mut schema, r);
    }
    for (name, kind, body) in parts.get::<(String, String, String)>(4, "views")? {
        let keyword = if kind == "m" {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        let text = format!(
            "CREATE {keyword} {} AS {body}",
            quote_ident(Dialect::Postgres, &name)
        );
        let definition = normalize_sql(&PostgreSqlDialect {}, &text);
        schema.views.insert(name.clone(), View { name, definition });
    }
    for (name, table, def) in parts.get::<(String, String, String)>(5, "triggers")? {
        let definition = normalize_sql(&PostgreSqlDialect {}, &def);
        let trigger = Trigger {
            name: name.clone(),
            table,
            definition,
        };
        schema.triggers.insert(name, trigger);
    }
    for (name, labels) in parts.get::<(String, Vec<String>)>(6, "enum types")? {
        schema.enums.insert(name, labels);
    }
    for r in parts.get::<SequenceRow>(7, "sequences")? {
        let (name, definition, ignored) = sequence(r);
        if !ignored {
            schema.sequences.insert(name, definition);
        }
    }
    schema.sort_constraints();
    Ok(Read { schema, oids })
}

/// The one row of [`SCHEMA_SQL`], read part by part.
struct Parts<'a> {
    db: &'a PgDb,
    row: &'a PgRow,
}

impl Parts<'_> {
    /// Part `index` (`what` names it in errors) as rows; an empty part is NULL.
    fn get<T: DeserializeOwned>(&self, index: usize, what: &str) -> Result<Vec<T>, DbError> {
        let text: Option<String> = self
            .row
            .try_get(index)
            .map_err(|e| self.db.query_error(format!("reading {what}"), e))?;
        let Some(text) = text else {
            return Ok(Vec::new());
        };
        serde_json::from_str(&text).map_err(|e| DbError::Introspect {
            dialect: Dialect::Postgres.as_str(),
            db: self.db.name.clone(),
            object: what.to_string(),
            message: format!("unexpected catalog row: {e}"),
        })
    }
}

/// Generated columns are left out by the query (as on SQLite): nothing can be inserted there.
fn add_column(schema: &mut Schema, r: ColumnRow) {
    let (table, name, data_type, not_null, default, identity, labels, collation, owns_sequence) = r;
    let identity = match identity.as_str() {
        "a" => Some("ALWAYS".to_string()),
        "d" => Some("BY DEFAULT".to_string()),
        _ => None,
    };
    let default = default.map(|d| normalize_expr(&PostgreSqlDialect {}, &d));
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
    if let Some(t) = schema.table_mut(&table) {
        t.columns.push(column);
    }
}

/// Primary key, unique, foreign keys, checks, exclusions.
fn add_constraint(schema: &mut Schema, r: ConstraintRow) {
    let (table, name, kind, columns, ref_table, ref_columns, on_delete, on_update, def) = r;
    let Some(t) = schema.table_mut(&table) else {
        return;
    };
    let dialect = PostgreSqlDialect {};
    let def = def.unwrap_or_default();
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

/// Indexes that do not back a primary key, unique or exclusion constraint.
fn add_index(schema: &mut Schema, r: IndexRow) {
    let (table, name, unique, method, options, predicate, keys, plain) = r;
    let dialect = PostgreSqlDialect {};
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
    if let Some(t) = schema.table_mut(&table) {
        t.indexes.push(Index {
            name,
            columns,
            unique,
            partial: predicate.map(|p| normalize_expr(&dialect, &p)),
            method: (method != "btree").then_some(method),
        });
    }
}

/// One sequence as (name, canonical definition, owned by an ignored table).
fn sequence(r: SequenceRow) -> (String, String, bool) {
    let (name, ty, start, increment, min, max, cache, cycle, owner, ignored) = r;
    let mut def = format!(
        "AS {ty} START {start} INCREMENT {increment} MINVALUE {min} MAXVALUE {max} CACHE {cache} {}",
        if cycle { "CYCLE" } else { "NO CYCLE" }
    );
    if let Some(owner) = owner {
        def.push_str(&format!(" OWNED BY {owner}"));
    }
    (name, def, ignored.unwrap_or(false))
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
