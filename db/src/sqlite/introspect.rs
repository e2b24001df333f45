//! SQLite introspection: pragmas give columns, keys and indexes reliably; the stored
//! `CREATE ...` text (parsed in `parse`) gives what pragmas hide: CHECKs and constraint names.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use sqlparser::dialect::SQLiteDialect;
use sqlx::Row as _;

use super::parse::{parse_create_index, parse_create_table, ParsedTable};
use super::server::{SqliteDb, DIALECT};
use crate::model::type_params;
use crate::normalize::{canonical_type, collapse_whitespace, normalize_expr, normalize_sql};
use crate::{
    CheckConstraint, Column, DbError, ForeignKey, Index, Schema, Table, Trigger, UniqueConstraint,
    View,
};

/// One row of `sqlite_master`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct MasterEntry {
    pub rowid: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub tbl_name: String,
    pub sql: Option<String>,
}

/// SQLite keeps a schema only as the `CREATE` text in `sqlite_master`, so a table's model is a
/// pure function of its own text and its indexes' texts. Caching on exactly that key makes
/// re-introspecting an unchanged table free: a trial introspects four times, and in a long chain
/// almost every table is unchanged, which would otherwise make a run quadratic in pragma queries.
type TableKey = (String, String, Vec<(String, String)>);

/// Keyed by a hash of the key; the full key is stored and compared, so a collision can only
/// cost a cache miss, never a wrong table.
type Cache = HashMap<u64, (TableKey, Arc<Table>)>;

fn table_cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Each table's indexes as (name, sql), grouped once per introspection, borrowed (no copies:
/// this runs four times per trial over every table of the schema).
fn indexes_by_table(master: &[MasterEntry]) -> HashMap<String, Vec<(&str, &str)>> {
    let mut map: HashMap<String, Vec<(&str, &str)>> = HashMap::new();
    for e in master.iter().filter(|e| e.kind == "index") {
        map.entry(e.tbl_name.to_ascii_lowercase())
            .or_default()
            .push((e.name.as_str(), e.sql.as_deref().unwrap_or_default()));
    }
    for list in map.values_mut() {
        list.sort();
    }
    map
}

/// The borrowed parts of a table's cache key.
struct KeyRef<'a> {
    name: &'a str,
    sql: &'a str,
    indexes: &'a [(&'a str, &'a str)],
}

impl KeyRef<'_> {
    fn hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.name, self.sql, self.indexes).hash(&mut h);
        h.finish()
    }

    fn matches(&self, key: &TableKey) -> bool {
        key.0 == self.name
            && key.1 == self.sql
            && key.2.len() == self.indexes.len()
            && key
                .2
                .iter()
                .zip(self.indexes)
                .all(|((a, b), (c, d))| a == c && b == d)
    }

    fn owned(&self) -> TableKey {
        let indexes = self
            .indexes
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        (self.name.to_string(), self.sql.to_string(), indexes)
    }
}

fn cached_table(key: &KeyRef) -> Option<Arc<Table>> {
    let cache = table_cache().lock().ok()?;
    let (stored, table) = cache.get(&key.hash())?;
    key.matches(stored).then(|| Arc::clone(table))
}

fn cache_table(key: &KeyRef, table: &Arc<Table>) {
    if let Ok(mut cache) = table_cache().lock() {
        cache.insert(key.hash(), (key.owned(), Arc::clone(table)));
    }
}

pub(super) fn introspect_error(db: &SqliteDb, object: String, message: String) -> DbError {
    DbError::Introspect {
        dialect: DIALECT,
        db: db.name.clone(),
        object,
        message,
    }
}

fn same_name(a: &str, b: &str) -> bool {
    // SQLite identifiers are case-insensitive (ASCII).
    a.eq_ignore_ascii_case(b)
}

fn same_names(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_name(x, y))
}

/// Map SQLite's spelled-out default action to `None`, so implicit and explicit NO ACTION agree.
fn action(a: String) -> Option<String> {
    let a = a.to_uppercase();
    (a != "NO ACTION" && !a.is_empty()).then_some(a)
}

/// The schema that `sqlite_master` rows (type, name, tbl_name, sql) describe, as the worker that
/// ran a step reports them. A SQLite schema is exactly these texts, so every table whose texts
/// were modelled before comes from the cache without touching any database (reading the trial
/// database instead would make its connection re-parse every `CREATE` text after the worker's
/// change). The others are run in a private in-memory database and read like any other; equal
/// schemas can have different texts (a batch rebuild stores `CREATE TABLE "t"`), which the
/// model absorbs.
pub async fn schema_from_master(
    rows: &[(String, String, String, Option<String>)],
    ignore_tables: &[&str],
) -> Result<Schema, DbError> {
    use sqlx::Connection as _;
    let db = SqliteDb::new("reported schema".into(), ":memory:".into());
    let mut master: Vec<MasterEntry> = rows
        .iter()
        .filter(|(_, name, _, _)| !name.starts_with("sqlite_"))
        .map(|(kind, name, tbl_name, sql)| MasterEntry {
            rowid: 0,
            kind: kind.clone(),
            name: name.clone(),
            tbl_name: tbl_name.clone(),
            sql: sql.clone(),
        })
        .collect();
    master.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    let (mut tables, missing) = lookup(&master, ignore_tables);
    if !missing.is_empty() {
        super::library::configure();
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .map_err(|e| db.query_error("opening an in-memory database", e))?;
        let texts = missing.iter().flat_map(|m| {
            let indexes = m.indexes.iter().map(|(_, sql)| *sql);
            m.entry.sql.as_deref().into_iter().chain(indexes)
        });
        for sql in texts.filter(|s| !s.is_empty()) {
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .map_err(|e| db.query_error(format!("recreating `{sql}`"), e))?;
        }
        tables.extend(read_missing(&db, &mut conn, &master, missing).await?);
    }
    Ok(assemble(&master, ignore_tables, tables))
}

/// The schema `master` describes (a whole `sqlite_master`, or all objects of some tables; no
/// SQLite objects).
pub(super) async fn schema_of(
    db: &SqliteDb,
    conn: &mut sqlx::SqliteConnection,
    master: &[MasterEntry],
    ignore: &[String],
) -> Result<Schema, DbError> {
    let ignore: Vec<&str> = ignore.iter().map(String::as_str).collect();
    let (mut tables, missing) = lookup(master, &ignore);
    tables.extend(read_missing(db, conn, master, missing).await?);
    Ok(assemble(master, &ignore, tables))
}

/// A user table the cache does not hold for its texts: its entry and its indexes' texts.
struct Missing<'a> {
    entry: &'a MasterEntry,
    indexes: Vec<(&'a str, &'a str)>,
}

/// The user tables of `master`: those the cache holds for exactly their texts, and the others.
fn lookup<'a>(
    master: &'a [MasterEntry],
    ignore_tables: &[&str],
) -> (Vec<(String, Arc<Table>)>, Vec<Missing<'a>>) {
    let mut grouped = indexes_by_table(master);
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for entry in master.iter().filter(|e| e.kind == "table") {
        if ignore_tables.iter().any(|i| same_name(i, &entry.name)) {
            continue;
        }
        let indexes = grouped
            .remove(&entry.name.to_ascii_lowercase())
            .unwrap_or_default();
        let key = KeyRef {
            name: &entry.name,
            sql: entry.sql.as_deref().unwrap_or_default(),
            indexes: &indexes,
        };
        match cached_table(&key) {
            Some(table) => found.push((entry.name.clone(), table)),
            None => missing.push(Missing { entry, indexes }),
        }
    }
    (found, missing)
}

/// Reads the missing tables through `conn` (which holds them) and caches them by their texts.
async fn read_missing(
    db: &SqliteDb,
    conn: &mut sqlx::SqliteConnection,
    master: &[MasterEntry],
    missing: Vec<Missing<'_>>,
) -> Result<Vec<(String, Arc<Table>)>, DbError> {
    let index_sql: BTreeMap<&str, &str> = master
        .iter()
        .filter(|e| e.kind == "index")
        .filter_map(|e| Some((e.name.as_str(), e.sql.as_deref()?)))
        .collect();
    let names: Vec<&str> = missing.iter().map(|m| m.entry.name.as_str()).collect();
    let mut pragmas = read_pragmas(db, &mut *conn, &names).await?;
    let mut read = Vec::new();
    for m in missing {
        let found = pragmas.remove(&m.entry.name).ok_or_else(|| {
            let table = format!("table {}", m.entry.name);
            introspect_error(db, table, "its pragmas returned nothing".into())
        })?;
        let table = Arc::new(model_table(db, &mut *conn, m.entry, &index_sql, found).await?);
        let key = KeyRef {
            name: &m.entry.name,
            sql: m.entry.sql.as_deref().unwrap_or_default(),
            indexes: &m.indexes,
        };
        cache_table(&key, &table);
        read.push((m.entry.name.clone(), table));
    }
    Ok(read)
}

/// What the pragmas say of one table: columns (name, type, notnull, default, pk position);
/// indexes (name, unique, origin, partial, key columns as (cid, name, desc, collation)); foreign
/// key rows (id, table, from, to, on update, on delete).
#[derive(serde::Deserialize)]
struct Pragmas {
    columns: Vec<(String, String, i64, Option<String>, i64)>,
    indexes: Vec<(String, i64, String, i64, Vec<IndexKey>)>,
    foreign_keys: Vec<(i64, String, String, Option<String>, String, String)>,
}

type IndexKey = (i64, Option<String>, i64, Option<String>);

/// Every pragma of every named table in one statement: a new process's first read of a long
/// chain would otherwise make four queries per table (each a round trip to sqlx's SQLite thread).
/// `hidden` != 0 are generated or virtual-table hidden columns, which cannot be inserted into;
/// they are left out of the model (see the crate report). Index origin: 'pk' backs the primary
/// key, 'u' a UNIQUE constraint, 'c' CREATE INDEX.
const PRAGMAS_SQL: &str = r#"SELECT json_group_array(json_array(t.value, json_array(
  json((SELECT json_group_array(json_array(c.name, c.type, c."notnull", c.dflt_value, c.pk)
        ORDER BY c.cid) FROM pragma_table_xinfo(t.value) c WHERE c.hidden = 0)),
  json((SELECT json_group_array(json_array(l.name, l."unique", l.origin, l.partial,
          json((SELECT json_group_array(json_array(x.cid, x.name, x."desc", x.coll)
                ORDER BY x.seqno) FROM pragma_index_xinfo(l.name) x WHERE x.key = 1)))
        ORDER BY l.name) FROM pragma_index_list(t.value) l)),
  json((SELECT json_group_array(json_array(f.id, f."table", f."from", f."to", f.on_update,
          f.on_delete) ORDER BY f.id, f.seq) FROM pragma_foreign_key_list(t.value) f))
  )) ORDER BY t.key) FROM json_each(?1) t"#;

/// The pragmas of `names`, by table.
async fn read_pragmas(
    db: &SqliteDb,
    conn: &mut sqlx::SqliteConnection,
    names: &[&str],
) -> Result<HashMap<String, Pragmas>, DbError> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let what = match names {
        [one] => format!("table {one}"),
        _ => format!("{} tables", names.len()),
    };
    let list = serde_json::to_string(names)
        .map_err(|e| introspect_error(db, what.clone(), e.to_string()))?;
    let json: String = sqlx::query_scalar(PRAGMAS_SQL)
        .bind(list)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| {
            db.query_error(
                format!("reading columns, indexes and foreign keys of {what}"),
                e,
            )
        })?;
    let rows: Vec<(String, Pragmas)> =
        serde_json::from_str(&json).map_err(|e| introspect_error(db, what, e.to_string()))?;
    Ok(rows.into_iter().collect())
}

/// The schema: the modelled tables, views and triggers from their texts.
fn assemble(
    master: &[MasterEntry],
    ignore_tables: &[&str],
    tables: Vec<(String, Arc<Table>)>,
) -> Schema {
    let ignored = |t: &str| ignore_tables.iter().any(|i| same_name(i, t));
    let mut schema = Schema::default();
    schema.tables.extend(tables);
    let dialect = SQLiteDialect {};
    for entry in master {
        let definition = || normalize_sql(&dialect, entry.sql.as_deref().unwrap_or(""));
        match entry.kind.as_str() {
            "view" => {
                let view = View {
                    name: entry.name.clone(),
                    definition: definition(),
                };
                schema.views.insert(entry.name.clone(), view);
            }
            "trigger" if !ignored(&entry.tbl_name) => {
                let trigger = Trigger {
                    name: entry.name.clone(),
                    table: entry.tbl_name.clone(),
                    definition: definition(),
                };
                schema.triggers.insert(entry.name.clone(), trigger);
            }
            _ => {}
        }
    }
    schema
}

async fn model_table(
    db: &SqliteDb,
    conn: &mut sqlx::SqliteConnection,
    entry: &MasterEntry,
    index_sql: &BTreeMap<&str, &str>,
    pragmas: Pragmas,
) -> Result<Table, DbError> {
    let table_name = &entry.name;
    let dialect = SQLiteDialect {};
    let sql = entry.sql.as_deref().unwrap_or("");
    let parsed = if sql
        .trim_start()
        .to_uppercase()
        .starts_with("CREATE VIRTUAL")
    {
        // Virtual tables have module arguments, not column definitions: nothing to parse.
        ParsedTable::default()
    } else {
        parse_create_table(sql).map_err(|e| {
            introspect_error(
                db,
                format!("table {table_name}"),
                format!(
                    "cannot parse its CREATE TABLE statement ({e}): {}",
                    collapse_whitespace(sql)
                ),
            )
        })?
    };
    let mut columns = Vec::with_capacity(pragmas.columns.len());
    let mut pk: Vec<(i64, String)> = Vec::new();
    for (name, data_type, notnull, default, pk_pos) in pragmas.columns {
        if pk_pos > 0 {
            pk.push((pk_pos, name.clone()));
        }
        let data_type = collapse_whitespace(&data_type);
        let params = type_params(&data_type);
        columns.push(Column {
            name,
            nullable: notnull == 0,
            default: default.map(|d| normalize_expr(&dialect, &d)),
            autoincrement: false,
            max_length: params.max_length,
            numeric_precision: params.precision,
            numeric_scale: params.scale,
            enum_values: None,
            data_type,
            ..Column::default()
        });
    }
    pk.sort();
    let primary_key: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();

    let mut has_pk_index = false;
    let mut indexes = Vec::new();
    let mut uniques = Vec::new();
    let mut parsed_uniques: Vec<_> = parsed.uniques.iter().collect();
    for (name, unique, origin, partial, key_rows) in pragmas.indexes {
        let parsed_index = match (origin.as_str(), index_sql.get(name.as_str())) {
            ("c", Some(sql)) => Some(parse_create_index(sql).map_err(|e| {
                introspect_error(
                    db,
                    format!("index {name} on {table_name}"),
                    format!(
                        "cannot parse its CREATE INDEX statement ({e}): {}",
                        collapse_whitespace(sql)
                    ),
                )
            })?),
            _ => None,
        };
        let mut key_columns = Vec::with_capacity(key_rows.len());
        for (pos, (cid, col, desc, coll)) in key_rows.into_iter().enumerate() {
            let mut text = match (cid, col) {
                (-2, _) | (_, None) => parsed_index
                    .as_ref()
                    .and_then(|p| p.columns.get(pos).cloned())
                    .unwrap_or_else(|| "<expression>".to_string()),
                (_, Some(c)) => c,
            };
            if let Some(coll) = coll.filter(|c| !c.eq_ignore_ascii_case("BINARY")) {
                text.push_str(&format!(" COLLATE {}", coll.to_uppercase()));
            }
            if desc != 0 {
                text.push_str(" DESC");
            }
            key_columns.push(text);
        }
        match origin.as_str() {
            "pk" => has_pk_index = true,
            "u" => {
                // The automatic index is named sqlite_autoindex_*; the constraint's own name (if
                // any) is only in the CREATE TABLE text.
                let found = parsed_uniques
                    .iter()
                    .position(|p| same_names(&p.columns, &key_columns));
                let cname = found.and_then(|i| parsed_uniques.remove(i).name.clone());
                uniques.push(UniqueConstraint {
                    name: cname,
                    columns: key_columns,
                });
            }
            _ => indexes.push(Index {
                name,
                columns: key_columns,
                unique: unique != 0,
                partial: if partial != 0 {
                    Some(
                        parsed_index
                            .as_ref()
                            .and_then(|p| p.predicate.clone())
                            .unwrap_or_else(|| "<unknown predicate>".to_string()),
                    )
                } else {
                    None
                },
                method: None,
            }),
        }
    }
    uniques.sort_by(|a, b| a.columns.cmp(&b.columns));

    // A single INTEGER primary key on a rowid table is the rowid: SQLite assigns it.
    if let [only] = primary_key.as_slice() {
        if !has_pk_index {
            if let Some(c) = columns.iter_mut().find(|c| &c.name == only) {
                if canonical_type(&c.data_type) == "INTEGER" {
                    c.autoincrement = true;
                    // The pragma says nullable unless NOT NULL was written, but a rowid can never
                    // be NULL; without this, `id INTEGER PRIMARY KEY` and a rebuilt
                    // `id INTEGER NOT NULL, PRIMARY KEY (id)` would differ.
                    c.nullable = false;
                }
            }
        }
    }

    let foreign_keys = foreign_keys(db, conn, table_name, pragmas.foreign_keys, &parsed).await?;

    let mut checks = Vec::with_capacity(parsed.checks.len());
    for check in &parsed.checks {
        if let Some((col, values)) = &check.enum_values {
            if let Some(c) = columns.iter_mut().find(|c| same_name(&c.name, col)) {
                c.enum_values = Some(values.clone());
            }
        }
        checks.push(CheckConstraint {
            name: check.name.clone(),
            expression: check.expression.clone(),
        });
    }
    checks.sort_by(|a, b| (&a.expression, &a.name).cmp(&(&b.expression, &b.name)));

    Ok(Table {
        name: table_name.clone(),
        columns,
        primary_key,
        foreign_keys,
        indexes,
        uniques,
        checks,
        exclusions: Vec::new(),
    })
}

async fn foreign_keys(
    db: &SqliteDb,
    conn: &mut sqlx::SqliteConnection,
    table_name: &str,
    rows: Vec<(i64, String, String, Option<String>, String, String)>,
    parsed: &ParsedTable,
) -> Result<Vec<ForeignKey>, DbError> {
    let err =
        |e: sqlx::Error| db.query_error(format!("reading foreign keys of table {table_name}"), e);
    // Group the per-column rows by constraint id.
    let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
    for (id, ref_table, from, to, on_update, on_delete) in rows {
        let fk = by_id.entry(id).or_insert_with(|| ForeignKey {
            name: None,
            columns: Vec::new(),
            ref_table,
            ref_columns: Vec::new(),
            on_delete: action(on_delete),
            on_update: action(on_update),
        });
        fk.columns.push(from);
        if let Some(to) = to {
            fk.ref_columns.push(to);
        }
    }
    let mut parsed_fks: Vec<_> = parsed.foreign_keys.iter().collect();
    let mut out = Vec::with_capacity(by_id.len());
    for (_, mut fk) in by_id {
        if fk.ref_columns.is_empty() {
            // `REFERENCES parent` without columns means the parent's primary key.
            let pk_rows =
                sqlx::query("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk")
                    .bind(&fk.ref_table)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(err)?;
            for r in &pk_rows {
                fk.ref_columns.push(r.try_get(0).map_err(err)?);
            }
        }
        if let Some(i) = parsed_fks.iter().position(|p| {
            same_names(&p.columns, &fk.columns) && same_name(&p.ref_table, &fk.ref_table)
        }) {
            fk.name = parsed_fks.remove(i).name.clone();
        }
        out.push(fk);
    }
    out.sort_by(|a, b| (&a.columns, &a.ref_table).cmp(&(&b.columns, &b.ref_table)));
    Ok(out)
}
