//! What changed in a database's schema since mrt last read it, so the next read can re-read only
//! those tables.
//!
//! A schema read on PostgreSQL is one catalog query whose cost grows with the number of tables
//! (~20 ms at 1,000), and a trial reads three or four times: on a long chain that is most of the
//! work. PostgreSQL has no cheap "what changed" counter, but it has event triggers: two of them
//! (installed in each database mrt made, when the user may create them) write a row per DDL
//! command into `_mrt_ddl.log` naming the table it touched, or asking for a full read when the
//! command is not about one table (a schema, an extension, a renamed function, an altered enum
//! type...). They are `ENABLE ALWAYS`, so `session_replication_role = replica` does not silence
//! them, and `SECURITY DEFINER`, so a migration that `SET ROLE`s can still write the log. The
//! rows are part of the migration's own transaction: a rolled-back step leaves none.
//!
//! mrt consumes the log before each read. Nothing in it means the schema is the one read last; a
//! missing or disabled trigger (a migration dropped it) means a full read from then on.

use std::collections::BTreeSet;

use sqlx::Row as _;

use super::server::PgDb;

/// The log (in a schema of its own, `_mrt_ddl`, outside every schema mrt reads), its trigger
/// functions and the triggers, and `kept`: the last read of a database handed to another process
/// or copied as a snapshot. Idempotent: it also brings an older layout up to date.
const INSTALL_SQL: &str = r#"
CREATE SCHEMA IF NOT EXISTS _mrt_ddl;
CREATE TABLE IF NOT EXISTS _mrt_ddl.log (what text NOT NULL, rel oid, name text);
CREATE TABLE IF NOT EXISTS _mrt_ddl.kept (stamp text NOT NULL, body text NOT NULL);
CREATE OR REPLACE FUNCTION _mrt_ddl.put(what text, rel oid, name text) RETURNS void LANGUAGE sql
  SET search_path = pg_catalog, pg_temp AS
  $$ INSERT INTO _mrt_ddl.log VALUES (CASE WHEN what = 'rel' AND rel IS NULL THEN 'full' ELSE what END, rel, name) $$;
CREATE OR REPLACE FUNCTION _mrt_ddl.on_end() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c record;
  k "char";
BEGIN
  FOR c IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    IF c.command_tag IN ('GRANT', 'REVOKE', 'ALTER DEFAULT PRIVILEGES', 'COMMENT',
                         'SECURITY LABEL', 'CREATE FUNCTION', 'CREATE PROCEDURE') THEN
      CONTINUE;
    ELSIF c.classid = 'pg_class'::regclass THEN
      k := (SELECT relkind FROM pg_class WHERE oid = c.objid);
      IF k IN ('r', 'p') THEN
        PERFORM _mrt_ddl.put('rel', c.objid, NULL);
      ELSIF k IN ('i', 'I') THEN
        PERFORM _mrt_ddl.put('rel', (SELECT indrelid FROM pg_index WHERE indexrelid = c.objid), NULL);
      ELSIF k = 'S' THEN
        -- The tables owning the sequence or naming it in a default (a renamed sequence changes
        -- their default's text).
        PERFORM _mrt_ddl.put('seq', NULL, NULL);
        PERFORM _mrt_ddl.put('rel', t, NULL) FROM (
          SELECT d.refobjid AS t FROM pg_depend d
           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.objid
             AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
          UNION
          SELECT ad.adrelid FROM pg_depend d JOIN pg_attrdef ad ON ad.oid = d.objid
           WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass
             AND d.refobjid = c.objid) s;
      ELSIF k IN ('v', 'm') THEN
        PERFORM _mrt_ddl.put('view', NULL, NULL);
      ELSIF k = 't' THEN
        NULL;
      ELSE
        PERFORM _mrt_ddl.put('full', NULL, NULL);
      END IF;
    ELSIF c.classid = 'pg_trigger'::regclass THEN
      PERFORM _mrt_ddl.put('rel', (SELECT tgrelid FROM pg_trigger WHERE oid = c.objid), NULL);
    ELSIF c.classid = 'pg_constraint'::regclass THEN
      PERFORM _mrt_ddl.put('rel', (SELECT NULLIF(conrelid, 0) FROM pg_constraint WHERE oid = c.objid), NULL);
    ELSIF c.classid = 'pg_attrdef'::regclass THEN
      PERFORM _mrt_ddl.put('rel', (SELECT adrelid FROM pg_attrdef WHERE oid = c.objid), NULL);
    ELSIF c.classid = 'pg_type'::regclass AND c.command_tag = 'CREATE TYPE'
          AND (SELECT typtype FROM pg_type WHERE oid = c.objid) = 'e' THEN
      -- A new enum type: no column uses it yet.
      PERFORM _mrt_ddl.put('enum', NULL, NULL);
    ELSE
      PERFORM _mrt_ddl.put('full', NULL, NULL);
    END IF;
  END LOOP;
END $$;
CREATE OR REPLACE FUNCTION _mrt_ddl.on_drop() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d record;
BEGIN
  FOR d IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
    IF d.object_type = 'table' THEN
      PERFORM _mrt_ddl.put('rel', d.objid, NULL);
    ELSIF d.object_type = 'index' THEN
      PERFORM _mrt_ddl.put('index', NULL, d.address_names[2]);
    ELSIF d.object_type IN ('table constraint', 'trigger', 'table column', 'default value',
                            'rule', 'policy') THEN
      PERFORM _mrt_ddl.put('name', NULL, d.address_names[2]);
    ELSIF d.object_type = 'sequence' THEN
      PERFORM _mrt_ddl.put('seq', NULL, NULL);
    ELSIF d.object_type IN ('view', 'materialized view') THEN
      PERFORM _mrt_ddl.put('view', NULL, NULL);
    ELSIF d.object_type = 'type' THEN
      -- Not the row types of dropped tables and views, which only go with them.
      IF d.original OR d.normal THEN
        PERFORM _mrt_ddl.put('enum', NULL, NULL);
      END IF;
    ELSIF d.object_type IN ('function', 'procedure', 'toast table') THEN
      -- What used them (a trigger, a default) is dropped with them, and logged as itself.
      NULL;
    ELSE
      PERFORM _mrt_ddl.put('full', NULL, NULL);
    END IF;
  END LOOP;
END $$;
DROP EVENT TRIGGER IF EXISTS _mrt_ddl_end;
DROP EVENT TRIGGER IF EXISTS _mrt_ddl_drop;
CREATE EVENT TRIGGER _mrt_ddl_end ON ddl_command_end EXECUTE FUNCTION _mrt_ddl.on_end();
CREATE EVENT TRIGGER _mrt_ddl_drop ON sql_drop EXECUTE FUNCTION _mrt_ddl.on_drop();
ALTER EVENT TRIGGER _mrt_ddl_end ENABLE ALWAYS;
ALTER EVENT TRIGGER _mrt_ddl_drop ENABLE ALWAYS;
"#;

/// How many of the log's two triggers are there and firing always (2: the log can be trusted).
macro_rules! triggers_firing {
    () => {
        "(SELECT count(*) FROM pg_event_trigger \
          WHERE evtname IN ('_mrt_ddl_end', '_mrt_ddl_drop') AND evtenabled = 'A')"
    };
}

/// 3: both triggers fire and the table of kept reads is there.
const PRESENT_SQL: &str = concat!(
    "SELECT ",
    triggers_firing!(),
    " + (to_regclass('_mrt_ddl.kept') IS NOT NULL)::int"
);

/// Empties the log, returning its rows, with whether both triggers are still there, and takes
/// the kept read this build (`$1`) wrote.
const CONSUME_SQL: &str = concat!(
    "WITH gone AS (DELETE FROM _mrt_ddl.log RETURNING what, rel, name), \
     kept AS (DELETE FROM _mrt_ddl.kept RETURNING stamp, body) SELECT ",
    triggers_firing!(),
    ", (SELECT json_agg(json_build_array(what, rel::bigint, name)) FROM gone)::text, \
     (SELECT body FROM kept WHERE stamp = $1 LIMIT 1)"
);

/// Replaces the kept read.
const KEEP_SQL: &str =
    "WITH old AS (DELETE FROM _mrt_ddl.kept) INSERT INTO _mrt_ddl.kept VALUES ($1, $2)";

/// Puts the log in place unless it is there (a copy of a database that had it). `false` when it
/// cannot be: the user may not create event triggers (superusers only), or the server is too old.
/// `MRT_PG_DDL_LOG=off` leaves it out (every read is then a full read).
pub(crate) async fn ensure(db: &PgDb) -> bool {
    if std::env::var_os("MRT_PG_DDL_LOG").is_some_and(|v| v == "off") {
        return false;
    }
    let pool = db.pool();
    if let Ok(row) = sqlx::query(PRESENT_SQL).fetch_one(&pool).await {
        if row.try_get::<i64, _>(0).ok() == Some(3) {
            return true;
        }
    }
    // One simple-protocol query: PostgreSQL runs its statements as one transaction.
    match sqlx::raw_sql(INSTALL_SQL).execute(&pool).await {
        Ok(_) => true,
        Err(e) => {
            trace_without_log(&db.name, &e);
            false
        }
    }
}

/// Says once per process, under `MRT_TRACE`, why schema reads are full reads (most often: the
/// user may not create event triggers).
fn trace_without_log(db: &str, error: &sqlx::Error) {
    static SAID: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("MRT_TRACE").is_some() {
        SAID.call_once(|| {
            eprintln!(
                "mrt: PostgreSQL: no DDL log in {db} ({error}); every schema read there reads \
                 everything (creating event triggers needs a superuser)"
            )
        });
    }
}

/// What the log says changed since it was last consumed.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Changes {
    /// Something the log cannot pin to tables: read everything.
    pub full: bool,
    /// Something changed.
    pub any: bool,
    /// Views, enum types, sequences changed (each is read whole when it did).
    pub views: bool,
    pub enums: bool,
    pub sequences: bool,
    /// Tables changed or dropped, by oid.
    pub oids: BTreeSet<u32>,
    /// Tables changed, by name (a dropped column, constraint or trigger names its table).
    pub names: BTreeSet<String>,
    /// Indexes dropped, by name: their table is found in the last schema read.
    pub indexes: BTreeSet<String>,
}

/// Empties the log, with the read kept in the database (see [`keep`]) when there is one. `None`
/// when its triggers are gone or it cannot be read: the caller cannot know what changed, and
/// must not rely on it again.
pub(crate) async fn consume(db: &PgDb) -> Option<(Changes, Option<String>)> {
    let row = sqlx::query(CONSUME_SQL)
        .bind(build_stamp())
        .fetch_one(&db.pool())
        .await
        .ok()?;
    if row.try_get::<i64, _>(0).ok()? != 2 {
        return None;
    }
    let text: Option<String> = row.try_get(1).ok()?;
    let rows: Vec<(String, Option<u32>, Option<String>)> = match text {
        Some(text) => serde_json::from_str(&text).ok()?,
        None => Vec::new(),
    };
    let kept: Option<String> = row.try_get(2).ok()?;
    Some((changes(rows), kept))
}

/// Writes `body` (the last read, made when the log was last consumed) into the database, for
/// the process that takes it over next (a hand-off, a snapshot's copies): with the log rows
/// written since, it is the database's schema, and that process need not read it all. Best
/// effort: without it, that process reads everything.
pub(crate) async fn keep(db: &PgDb, body: String) {
    let _ = sqlx::query(KEEP_SQL)
        .bind(build_stamp())
        .bind(body)
        .execute(&db.pool())
        .await;
}

/// Which build of mrt wrote a kept read: only the same one takes it (another may model or
/// normalise a schema differently). The version, and the size and time of the executable.
fn build_stamp() -> &'static str {
    static STAMP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let since = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).ok();
        let exe = std::env::current_exe().and_then(std::fs::metadata);
        match exe
            .as_ref()
            .ok()
            .and_then(|m| Some((m.len(), since(m.modified().ok()?)?)))
        {
            Some((len, time)) => {
                format!("{} {len} {}", env!("CARGO_PKG_VERSION"), time.as_nanos())
            }
            // Unknown build: a stamp no other process has.
            None => {
                let now = since(std::time::SystemTime::now()).unwrap_or_default();
                format!("process {} {}", std::process::id(), now.as_nanos())
            }
        }
    });
    &STAMP
}

fn changes(rows: Vec<(String, Option<u32>, Option<String>)>) -> Changes {
    let mut out = Changes::default();
    for (what, rel, name) in rows {
        out.any = true;
        match (what.as_str(), rel, name) {
            ("rel", Some(oid), _) => {
                out.oids.insert(oid);
            }
            ("name", _, Some(name)) => {
                out.names.insert(name);
            }
            ("index", _, Some(name)) => {
                out.indexes.insert(name);
            }
            ("view", _, _) => out.views = true,
            ("enum", _, _) => out.enums = true,
            ("seq", _, _) => out.sequences = true,
            _ => out.full = true,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sort_into_tables_names_and_indexes() {
        let c = changes(vec![
            ("rel".into(), Some(7), None),
            ("name".into(), None, Some("users".into())),
            ("index".into(), None, Some("ix_users_email".into())),
            ("seq".into(), None, None),
        ]);
        assert!(!c.full && c.any && c.sequences && !c.views && !c.enums);
        assert_eq!(c.oids, BTreeSet::from([7]));
        assert_eq!(c.names, BTreeSet::from(["users".to_string()]));
        assert_eq!(c.indexes, BTreeSet::from(["ix_users_email".to_string()]));
    }

    #[test]
    fn unknown_or_incomplete_rows_ask_for_a_full_read() {
        for row in [
            ("full".to_string(), None, None),
            ("rel".to_string(), None, None),
            ("name".to_string(), None, None),
            ("what".to_string(), Some(1), None),
            ("any".to_string(), None, None),
        ] {
            assert!(changes(vec![row]).full);
        }
        assert_eq!(changes(vec![]), Changes::default());
    }
}
