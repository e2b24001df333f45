//! Schema reads of a database, each after the first reading only what changed since the last:
//! [`ddl_watch`] says which tables the database's own connection changed, `PRAGMA data_version`
//! whether another connection wrote, and the read fetches by rowid the rows of `sqlite_master`
//! that may differ. On a long chain a full read (every row, every table looked up in the model
//! cache) cost ~1 ms at 1,000 tables, and a trial reads three times.

use std::collections::{BTreeMap, BTreeSet};

use super::ddl_watch::{self, Touched};
use super::introspect::{introspect_error, schema_of, MasterEntry};
use super::server::SqliteDb;
use crate::{DbError, Schema};

/// All of `sqlite_master` with rowids (SQLite's own objects too: they count), as one JSON array
/// built by SQLite (fetching it row by row cost more than everything else in a long chain's
/// introspection), and `PRAGMA data_version`, which changes when another connection writes.
const ALL_SQL: &str = "SELECT (SELECT data_version FROM pragma_data_version), \
    (SELECT count(*) FROM sqlite_master), \
    (SELECT json_group_array(json_array(rowid, type, name, tbl_name, sql)) FROM sqlite_master)";

/// The same for the rows with the rowids in `?1` (a JSON array) or above `?2`: each found by its
/// rowid, so the read costs what the changed rows do.
const CHANGED_SQL: &str = "SELECT (SELECT data_version FROM pragma_data_version), \
    (SELECT count(*) FROM sqlite_master), \
    (SELECT json_group_array(json_array(rowid, type, name, tbl_name, sql)) FROM sqlite_master \
     WHERE rowid IN (SELECT value FROM json_each(?1)) OR rowid > ?2)";

/// What one read of `sqlite_master` returned.
struct Master {
    data_version: i64,
    /// Rows in all of `sqlite_master`.
    count: usize,
    rows: Vec<MasterEntry>,
}

async fn read_master(
    db: &SqliteDb,
    conn: &mut sqlx::SqliteConnection,
    changed: Option<(Vec<i64>, i64)>,
) -> Result<Master, DbError> {
    let query = match changed {
        None => sqlx::query_as(ALL_SQL),
        Some((rowids, above)) => {
            let rowids = serde_json::Value::from(rowids).to_string();
            sqlx::query_as(CHANGED_SQL).bind(rowids).bind(above)
        }
    };
    let (data_version, count, json): (i64, i64, String) = query
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| db.query_error("reading sqlite_master", e))?;
    let mut rows: Vec<MasterEntry> = serde_json::from_str(&json)
        .map_err(|e| introspect_error(db, "sqlite_master".into(), e.to_string()))?;
    rows.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    Ok(Master {
        data_version,
        count: usize::try_from(count).unwrap_or(usize::MAX),
        rows,
    })
}

/// SQLite's own objects (`sqlite_autoindex_*`, `sqlite_sequence`, `sqlite_stat1`): not part of
/// the schema mrt compares.
fn is_system(name: &str) -> bool {
    name.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("sqlite_"))
}

/// The schema of `db`, without the tables in `ignore_tables`. After a first full read, only the
/// objects of the tables its connection changed since are read again.
pub(crate) async fn introspect(db: &SqliteDb, ignore_tables: &[&str]) -> Result<Schema, DbError> {
    let mut conn = (db.conn().await).map_err(|e| db.query_error("introspecting schema", e))?;
    // Taken with the connection held: with one connection, nothing changes the database through
    // it until this read ends. The last read is taken out: a failed read leaves none.
    let touched = ddl_watch::take(db.watch_id);
    let last = db
        .last_read
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let ignore: Vec<String> = ignore_tables.iter().map(|s| s.to_string()).collect();
    let next = match last.filter(|l| l.ignore == ignore && !touched.full) {
        Some(last) => match last.update(db, &mut conn, &touched).await? {
            Some(next) => {
                if crate::verify_schema_reads() {
                    verify(db, &mut conn, &next, &touched).await?;
                }
                next
            }
            // Written by another connection (the Python worker, a probe), or not as expected.
            None => LastRead::full(db, &mut conn, ignore).await?,
        },
        None => LastRead::full(db, &mut conn, ignore).await?,
    };
    let schema = next.schema.clone();
    *db.last_read.lock().unwrap_or_else(|e| e.into_inner()) = Some(next);
    Ok(schema)
}

/// A database's last schema read: its `sqlite_master` rows by table (lower case), and the
/// schema they make.
#[derive(Debug)]
pub(crate) struct LastRead {
    ignore: Vec<String>,
    data_version: i64,
    by_table: BTreeMap<String, Rows>,
    schema: Schema,
}

/// One table's rows of `sqlite_master`: its own objects, and the rowids of SQLite's.
#[derive(Debug, Default)]
struct Rows {
    objects: Vec<MasterEntry>,
    system: Vec<i64>,
}

impl Rows {
    fn rowids(&self) -> impl Iterator<Item = i64> + '_ {
        self.objects
            .iter()
            .map(|e| e.rowid)
            .chain(self.system.iter().copied())
    }
}

impl LastRead {
    async fn full(
        db: &SqliteDb,
        conn: &mut sqlx::SqliteConnection,
        ignore: Vec<String>,
    ) -> Result<LastRead, DbError> {
        let master = read_master(db, &mut *conn, None).await?;
        let mut read = LastRead {
            ignore,
            data_version: master.data_version,
            by_table: BTreeMap::new(),
            schema: Schema::default(),
        };
        let objects = read.add(master.rows);
        read.schema = schema_of(db, conn, &objects, &read.ignore).await?;
        read.keep(objects);
        Ok(read)
    }

    /// This read brought up to date, reading again the objects of the tables `touched` names
    /// (and of those whose objects name a table altered) and the rows added since. `None` when
    /// that cannot be trusted: another connection wrote, or the rows found do not add up to
    /// what `sqlite_master` holds.
    async fn update(
        mut self,
        db: &SqliteDb,
        conn: &mut sqlx::SqliteConnection,
        touched: &Touched,
    ) -> Result<Option<LastRead>, DbError> {
        let Some(tables) = self.with_namers(touched) else {
            return Ok(None);
        };
        let tables = &tables;
        let untouched = self.by_table.iter().filter(|(t, _)| !tables.contains(*t));
        let (mut kept, mut above) = (0, 0);
        for rowid in untouched.flat_map(|(_, rows)| rows.rowids()) {
            kept += 1;
            above = above.max(rowid);
        }
        let rowids: Vec<i64> = (tables.iter())
            .filter_map(|t| self.by_table.get(t))
            .flat_map(Rows::rowids)
            .collect();
        // Every row added since has a rowid above those of the rows left alone (SQLite gives
        // a new row the largest rowid + 1).
        let master = read_master(db, &mut *conn, Some((rowids, above))).await?;
        let expected = |t: &str| tables.contains(t) || !self.by_table.contains_key(t);
        let consistent = master.data_version == self.data_version
            && master.count == kept + master.rows.len()
            && (master.rows.iter()).all(|r| expected(&r.tbl_name.to_ascii_lowercase()));
        if !consistent {
            return Ok(None);
        }
        for rows in tables.iter().filter_map(|t| self.by_table.remove(t)) {
            for entry in rows.objects {
                let schema = &mut self.schema;
                match entry.kind.as_str() {
                    "table" => drop(schema.tables.remove(&entry.name)),
                    "view" => drop(schema.views.remove(&entry.name)),
                    "trigger" => drop(schema.triggers.remove(&entry.name)),
                    _ => {}
                }
            }
        }
        let objects = self.add(master.rows);
        let part = schema_of(db, conn, &objects, &self.ignore).await?;
        self.schema.tables.extend(part.tables);
        self.schema.views.extend(part.views);
        self.schema.triggers.extend(part.triggers);
        self.keep(objects);
        Ok(Some(self))
    }

    /// The tables `touched` names, and those with an object whose text names a table altered
    /// (a renamed table or column is renamed in them too); `None` for a name whose quoting
    /// would hide it from that search, or a virtual table altered.
    fn with_namers(&self, touched: &Touched) -> Option<BTreeSet<String>> {
        let mut tables = touched.tables.clone();
        if touched.altered.is_empty() {
            return Some(tables);
        }
        if (touched.altered.iter()).any(|n| n.contains(['"', '\'', '`', '[', ']'])) {
            return None;
        }
        // A virtual table renames its shadow tables (`docs_data` ...) along with itself.
        let virtual_table = |e: &MasterEntry| {
            let sql = e.sql.as_deref().unwrap_or_default().trim_start();
            sql.get(..14)
                .is_some_and(|p| p.eq_ignore_ascii_case("create virtual"))
        };
        let altered = touched.altered.iter().filter_map(|t| self.by_table.get(t));
        if altered.flat_map(|rows| &rows.objects).any(virtual_table) {
            return None;
        }
        for (table, rows) in &self.by_table {
            let texts = rows.objects.iter().filter_map(|e| e.sql.as_deref());
            let names = |text: &str| touched.altered.iter().any(|n| names_identifier(text, n));
            if texts.map(str::to_ascii_lowercase).any(|t| names(&t)) {
                tables.insert(table.clone());
            }
        }
        Some(tables)
    }

    /// Files SQLite's rows under their tables, and returns the others (to model, then keep).
    fn add(&mut self, rows: Vec<MasterEntry>) -> Vec<MasterEntry> {
        let (system, objects): (Vec<_>, Vec<_>) =
            rows.into_iter().partition(|r| is_system(&r.name));
        for row in system {
            let table = row.tbl_name.to_ascii_lowercase();
            self.by_table
                .entry(table)
                .or_default()
                .system
                .push(row.rowid);
        }
        objects
    }

    fn keep(&mut self, objects: Vec<MasterEntry>) {
        for row in objects {
            let table = row.tbl_name.to_ascii_lowercase();
            self.by_table.entry(table).or_default().objects.push(row);
        }
    }
}

/// Whether `text` (lower case) holds `name` (lower case) as a whole word: not inside a longer
/// identifier (`t1` is not named by `t10`). Words in comments and strings count too: harmless.
fn names_identifier(text: &str, name: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    let bytes = text.as_bytes();
    text.match_indices(name).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + name.len()).copied();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// An error unless `updated` equals a full read.
async fn verify(
    db: &SqliteDb,
    conn: &mut sqlx::SqliteConnection,
    updated: &LastRead,
    touched: &Touched,
) -> Result<(), DbError> {
    let full = LastRead::full(db, conn, updated.ignore.clone()).await?;
    if full.schema == updated.schema {
        return Ok(());
    }
    let message = format!(
        "the schema updated from the tables changed ({touched:?}) differs from a full read; \
         please report this"
    );
    Err(introspect_error(db, "the schema".into(), message))
}

#[cfg(test)]
mod tests {
    use super::names_identifier;

    #[test]
    fn a_name_is_found_as_a_whole_word_only() {
        assert!(names_identifier(
            "create table x (a references t4(id))",
            "t4"
        ));
        assert!(names_identifier(
            "create view v as select * from \"t4\"",
            "t4"
        ));
        assert!(names_identifier("select 1 from [t4]", "t4"));
        assert!(!names_identifier("create table t40 (id)", "t4"));
        assert!(!names_identifier("create table at4 (id)", "t4"));
        assert!(!names_identifier("create table t4_old (id)", "t4"));
        assert!(!names_identifier("create table \u{e9}t4 (id)", "t4"));
    }
}
