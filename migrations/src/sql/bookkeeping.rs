//! Each tool's bookkeeping table: how it is created and what a migration leaves in it when it is
//! applied or reverted, so an executor that runs the scripts itself leaves the database as the
//! tool would (and a trial can ignore exactly that table).
//!
//! Sources, per tool:
//! - sqlx 0.8.6: `sqlx-{sqlite,postgres,mysql}-0.8.6/src/migrate.rs` (`ensure_migrations_table`,
//!   `apply`, `revert`, `list_applied_migrations`) and `sqlx-core-0.8.6/src/migrate/migration.rs`
//!   (SHA-384 checksum);
//! - diesel: `diesel/src/migration/setup_migration_table.sql` and
//!   `diesel_migrations/src/migration_harness.rs` (`run_migration`, `revert_migration`);
//! - golang-migrate: `database/{postgres/postgres.go,mysql/mysql.go,sqlite3/sqlite3.go}`
//!   (`ensureVersionTable`, `SetVersion`, `Version`);
//! - dbmate: `pkg/driver/{postgres,mysql,sqlite}/*.go` (`CreateMigrationsTable`,
//!   `InsertMigration`, `DeleteMigration`, `SelectMigrations`);
//! - Flyway: `flyway-database-postgresql/.../PostgreSQLDatabase.java`,
//!   `flyway-mysql/.../MySQLDatabase.java`, `flyway-core/.../sqlite/SQLiteDatabase.java`
//!   (`getRawCreateScript`, `doGetCurrentUser`), `ChecksumCalculator.java`, and the Teams
//!   `DbUndo.java` (`addAppliedMigration` with the undo script's type `UNDO_SQL`);
//! - refinery: `refinery_core/src/traits/mod.rs` (`ASSERT_MIGRATIONS_TABLE_QUERY`,
//!   `insert_migration_query`, `GET_APPLIED_MIGRATIONS_QUERY`) and `src/migration.rs` (checksum).
//!
//! Where a tool creates its table without `IF NOT EXISTS` (golang-migrate on MySQL checks first;
//! Flyway adds the primary key and index in separate statements), the statements here create the
//! same table, constraint and index names idempotently.

use super::{SqlDown, SqlMigration, SqlScript, SqlTool};
use mrt_db::{quote_ident, Dialect};
use sha2::{Digest, Sha384};
use std::hash::{Hash, Hasher};

/// sqlx's checksum: SHA-384 of the script's text, as stored in `_sqlx_migrations.checksum`.
pub fn sqlx_checksum(sql: &str) -> Vec<u8> {
    Sha384::digest(sql.as_bytes()).to_vec()
}

/// Flyway's checksum (`ChecksumCalculator`): CRC-32 over the UTF-8 bytes of every line without
/// its line break (`BufferedReader.readLine` splits at `\n`, `\r` and `\r\n`), a byte-order mark
/// dropped from the first line, as a signed 32-bit integer.
pub fn flyway_checksum(sql: &str) -> i32 {
    const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let sql = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let mut digest = CRC.digest();
    for piece in sql.split(['\n', '\r']) {
        digest.update(piece.as_bytes());
    }
    digest.finalize() as i32
}

/// refinery's checksum (`Migration::unapplied`): SipHash-1-3 with zero keys over the name, the
/// version (`i32`) and the SQL, each hashed with `Hash`, as stored (in decimal) in
/// `refinery_schema_history.checksum`.
pub fn refinery_checksum(name: &str, version: i32, sql: &str) -> u64 {
    let mut hasher = siphasher::sip::SipHasher13::new();
    name.hash(&mut hasher);
    version.hash(&mut hasher);
    sql.hash(&mut hasher);
    hasher.finish()
}

/// A string literal for `dialect`: quotes doubled, and backslashes doubled on MySQL/MariaDB,
/// whose default `sql_mode` reads them as escapes.
fn literal(dialect: Dialect, s: &str) -> String {
    let s = s.replace('\'', "''");
    let s = match dialect {
        Dialect::Mysql => s.replace('\\', "\\\\"),
        _ => s,
    };
    format!("'{s}'")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A binary literal: `'\x..'::bytea` on PostgreSQL, `X'..'` elsewhere.
fn blob(dialect: Dialect, bytes: &[u8]) -> String {
    match dialect {
        Dialect::Postgres => format!("'\\x{}'::bytea", hex(bytes)),
        _ => format!("X'{}'", hex(bytes)),
    }
}

fn bool_true(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "TRUE",
        _ => "1",
    }
}

/// Seconds since the Unix epoch as RFC 3339 UTC (`2024-05-01T12:00:00.5Z`), as refinery stores
/// `applied_on` (`OffsetDateTime::now_utc().format(&Rfc3339)`).
fn rfc3339(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs();
    let nanos = since_epoch.subsec_nanos();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

fn now() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

impl SqlTool {
    /// The table the tool records applied migrations in (default name).
    pub fn bookkeeping_table(self) -> &'static str {
        match self {
            SqlTool::Sqlx => "_sqlx_migrations",
            SqlTool::Diesel => "__diesel_schema_migrations",
            SqlTool::GolangMigrate | SqlTool::Dbmate => "schema_migrations",
            SqlTool::Flyway => "flyway_schema_history",
            SqlTool::Refinery => "refinery_schema_history",
        }
    }

    fn table(self, dialect: Dialect) -> String {
        match self {
            // sqlx, diesel and refinery write the name bare; the others quote it.
            SqlTool::Sqlx | SqlTool::Diesel | SqlTool::Refinery => {
                self.bookkeeping_table().to_string()
            }
            // golang-migrate's sqlite3 driver writes it bare too.
            SqlTool::GolangMigrate if dialect == Dialect::Sqlite => {
                self.bookkeeping_table().to_string()
            }
            // dbmate quotes with the server's quote_ident on PostgreSQL: bare for this name.
            SqlTool::Dbmate if dialect == Dialect::Postgres => self.bookkeeping_table().to_string(),
            _ => quote_ident(dialect, self.bookkeeping_table()),
        }
    }

    /// Statements that create the tool's bookkeeping table as the tool does on this engine,
    /// idempotently (`IF NOT EXISTS`).
    pub fn bookkeeping_ddl(self, dialect: Dialect) -> Vec<String> {
        let t = self.table(dialect);
        match (self, dialect) {
            (SqlTool::Sqlx, Dialect::Sqlite) => vec![format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n    version BIGINT PRIMARY KEY,\n    description TEXT NOT NULL,\n    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n    success BOOLEAN NOT NULL,\n    checksum BLOB NOT NULL,\n    execution_time BIGINT NOT NULL\n)"
            )],
            (SqlTool::Sqlx, Dialect::Postgres) => vec![format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n    version BIGINT PRIMARY KEY,\n    description TEXT NOT NULL,\n    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),\n    success BOOLEAN NOT NULL,\n    checksum BYTEA NOT NULL,\n    execution_time BIGINT NOT NULL\n)"
            )],
            (SqlTool::Sqlx, Dialect::Mysql) => vec![format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n    version BIGINT PRIMARY KEY,\n    description TEXT NOT NULL,\n    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n    success BOOLEAN NOT NULL,\n    checksum BLOB NOT NULL,\n    execution_time BIGINT NOT NULL\n)"
            )],
            (SqlTool::Diesel, _) => vec![format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n       version VARCHAR(50) PRIMARY KEY NOT NULL,\n       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP\n)"
            )],
            (SqlTool::GolangMigrate, Dialect::Sqlite) => vec![
                format!("CREATE TABLE IF NOT EXISTS {t} (version uint64,dirty bool)"),
                format!("CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON {t} (version)"),
            ],
            (SqlTool::GolangMigrate, _) => vec![format!(
                "CREATE TABLE IF NOT EXISTS {t} (version bigint not null primary key, dirty boolean not null)"
            )],
            (SqlTool::Dbmate, Dialect::Postgres) => vec![format!(
                "create table if not exists {t} (version varchar primary key)"
            )],
            (SqlTool::Dbmate, _) => vec![format!(
                "create table if not exists {t} (version varchar(128) primary key)"
            )],
            (SqlTool::Flyway, Dialect::Postgres) => vec![
                format!("CREATE TABLE IF NOT EXISTS {t} (\n    \"installed_rank\" INT NOT NULL,\n    \"version\" VARCHAR(50),\n    \"description\" VARCHAR(200) NOT NULL,\n    \"type\" VARCHAR(20) NOT NULL,\n    \"script\" VARCHAR(1000) NOT NULL,\n    \"checksum\" INTEGER,\n    \"installed_by\" VARCHAR(100) NOT NULL,\n    \"installed_on\" TIMESTAMP NOT NULL DEFAULT now(),\n    \"execution_time\" INTEGER NOT NULL,\n    \"success\" BOOLEAN NOT NULL,\n    CONSTRAINT \"flyway_schema_history_pk\" PRIMARY KEY (\"installed_rank\")\n)"),
                format!("CREATE INDEX IF NOT EXISTS \"flyway_schema_history_s_idx\" ON {t} (\"success\")"),
            ],
            (SqlTool::Flyway, Dialect::Mysql) => vec![format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n    `installed_rank` INT NOT NULL,\n    `version` VARCHAR(50),\n    `description` VARCHAR(200) NOT NULL,\n    `type` VARCHAR(20) NOT NULL,\n    `script` VARCHAR(1000) NOT NULL,\n    `checksum` INT,\n    `installed_by` VARCHAR(100) NOT NULL,\n    `installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n    `execution_time` INT NOT NULL,\n    `success` BOOL NOT NULL,\n    CONSTRAINT `flyway_schema_history_pk` PRIMARY KEY (`installed_rank`),\n    INDEX `flyway_schema_history_s_idx` (`success`)\n) ENGINE=InnoDB"
            )],
            (SqlTool::Flyway, Dialect::Sqlite) => vec![
                format!("CREATE TABLE IF NOT EXISTS {t} (\n    \"installed_rank\" INT NOT NULL PRIMARY KEY,\n    \"version\" VARCHAR(50),\n    \"description\" VARCHAR(200) NOT NULL,\n    \"type\" VARCHAR(20) NOT NULL,\n    \"script\" VARCHAR(1000) NOT NULL,\n    \"checksum\" INT,\n    \"installed_by\" VARCHAR(100) NOT NULL,\n    \"installed_on\" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),\n    \"execution_time\" INT NOT NULL,\n    \"success\" BOOLEAN NOT NULL\n)"),
                format!("CREATE INDEX IF NOT EXISTS \"flyway_schema_history_s_idx\" ON {t} (\"success\")"),
            ],
            (SqlTool::Refinery, _) => vec![format!(
                "CREATE TABLE IF NOT EXISTS {t}(\n             version INT4 PRIMARY KEY,\n             name VARCHAR(255),\n             applied_on VARCHAR(255),\n             checksum VARCHAR(255))"
            )],
        }
    }

    /// Statements that record `m` as applied, values inlined, as the tool leaves its table after
    /// a successful apply. `elapsed_ms` is the time the up took.
    pub fn record_applied(
        self,
        dialect: Dialect,
        m: &SqlMigration,
        elapsed_ms: i64,
    ) -> Vec<String> {
        let t = self.table(dialect);
        match self {
            // sqlx inserts with execution_time -1, commits, then sets it in nanoseconds.
            SqlTool::Sqlx => vec![format!(
                "INSERT INTO {t} ( version, description, success, checksum, execution_time ) VALUES ( {}, {}, TRUE, {}, {} )",
                m.version,
                literal(dialect, &m.description),
                blob(dialect, &sqlx_checksum(&m.up.text)),
                elapsed_ms.saturating_mul(1_000_000)
            )],
            SqlTool::Diesel => vec![format!(
                "INSERT INTO {t} (version) VALUES ({})",
                literal(dialect, &m.version)
            )],
            SqlTool::GolangMigrate => golang_set_version(dialect, &t, Some(&m.version)),
            SqlTool::Dbmate => vec![format!(
                "insert into {t} (version) values ({})",
                literal(dialect, &m.version)
            )],
            SqlTool::Flyway => vec![flyway_row(
                dialect,
                &t,
                &m.version,
                &m.description,
                "SQL",
                &m.up,
                elapsed_ms,
            )],
            SqlTool::Refinery => {
                let version: i32 = m.version.parse().unwrap_or_default();
                vec![format!(
                    "INSERT INTO {t} (version, name, applied_on, checksum) VALUES ({version}, {}, {}, {})",
                    literal(dialect, &m.description),
                    literal(dialect, &rfc3339(now())),
                    literal(dialect, &refinery_checksum(&m.description, version, &m.up.text).to_string())
                )]
            }
        }
    }

    /// Statements that record `m` as reverted, as the tool leaves its table after running the
    /// down. `previous` is the migration before `m` in the chain (golang-migrate stores only the
    /// current version). For tools that cannot revert (refinery, sqlx simple migrations, a
    /// Flyway version without undo file) the statements remove `m`'s record, which returns the
    /// table to its state before `m` was applied.
    pub fn record_reverted(
        self,
        dialect: Dialect,
        m: &SqlMigration,
        previous: Option<&SqlMigration>,
    ) -> Vec<String> {
        let t = self.table(dialect);
        match self {
            SqlTool::Sqlx => vec![format!("DELETE FROM {t} WHERE version = {}", m.version)],
            SqlTool::Diesel => vec![format!(
                "DELETE FROM {t} WHERE version = {}",
                literal(dialect, &m.version)
            )],
            SqlTool::GolangMigrate => {
                golang_set_version(dialect, &t, previous.map(|p| p.version.as_str()))
            }
            SqlTool::Dbmate => vec![format!(
                "delete from {t} where version = {}",
                literal(dialect, &m.version)
            )],
            SqlTool::Flyway => match &m.down {
                // Flyway Teams' undo adds a row for the undo script; the version then counts as
                // undone (`MigrationState.UNDONE`) and migrate applies it again.
                SqlDown::Script(undo) => {
                    let description = undo_description(undo).unwrap_or(&m.description);
                    vec![flyway_row(
                        dialect,
                        &t,
                        &m.version,
                        description,
                        "UNDO_SQL",
                        undo,
                        0,
                    )]
                }
                SqlDown::Missing | SqlDown::ForwardOnly => vec![format!(
                    "DELETE FROM {t} WHERE {} = {}",
                    quote_ident(dialect, "version"),
                    literal(dialect, &m.version)
                )],
            },
            SqlTool::Refinery => vec![format!(
                "DELETE FROM {t} WHERE version = {}",
                m.version.parse::<i32>().unwrap_or_default()
            )],
        }
    }

    /// A query whose rows' first column is the version of every applied migration
    /// (golang-migrate: the one current version), in the form [`SqlMigration::version`] holds.
    pub fn applied_versions_query(self, dialect: Dialect) -> String {
        let t = self.table(dialect);
        match self {
            SqlTool::Sqlx => format!("SELECT version, checksum FROM {t} ORDER BY version"),
            SqlTool::Diesel => format!("SELECT version FROM {t} ORDER BY version DESC"),
            SqlTool::GolangMigrate => format!("SELECT version, dirty FROM {t} LIMIT 1"),
            SqlTool::Dbmate => format!("select version from {t} order by version desc"),
            SqlTool::Flyway => {
                let q = |c| quote_ident(dialect, c);
                let (v, ty, rank, ok) =
                    (q("version"), q("type"), q("installed_rank"), q("success"));
                format!(
                    "SELECT h.{v} FROM {t} h WHERE h.{v} IS NOT NULL AND h.{ok} = {} AND h.{ty} NOT LIKE 'UNDO%' AND h.{ty} <> 'DELETE' AND NOT EXISTS (SELECT 1 FROM {t} u WHERE u.{v} = h.{v} AND u.{ty} LIKE 'UNDO%' AND u.{ok} = {} AND u.{rank} > h.{rank}) ORDER BY h.{rank}",
                    bool_true(dialect),
                    bool_true(dialect)
                )
            }
            SqlTool::Refinery => {
                format!("SELECT version, name, applied_on, checksum FROM {t} ORDER BY version ASC")
            }
        }
    }

    /// A query whose one row (none at the base) holds the version of the last applied migration
    /// in the tool's order: what a downgrade must have left current. One row, not the whole
    /// table: it is read after every downgrade of a chain.
    pub fn current_version_query(self, dialect: Dialect) -> String {
        let t = self.table(dialect);
        match self {
            SqlTool::Sqlx | SqlTool::Refinery => {
                format!("SELECT version FROM {t} ORDER BY version DESC LIMIT 1")
            }
            // Versions of equal length (timestamps), so text order is the tool's order.
            SqlTool::Diesel => format!("SELECT version FROM {t} ORDER BY version DESC LIMIT 1"),
            SqlTool::Dbmate => format!("select version from {t} order by version desc limit 1"),
            SqlTool::GolangMigrate => self.applied_versions_query(dialect),
            SqlTool::Flyway => {
                let all = self.applied_versions_query(dialect);
                let rank = quote_ident(dialect, "installed_rank");
                match all.strip_suffix(&format!("ORDER BY h.{rank}")) {
                    Some(head) => format!("{head}ORDER BY h.{rank} DESC LIMIT 1"),
                    None => all,
                }
            }
        }
    }

    /// Whether the tool runs `script` inside a transaction on this engine: the file's
    /// declaration ([`SqlScript::transactional`]) as the tool's driver honours it. sqlx 0.8.6
    /// honours `-- no-transaction` on PostgreSQL only (its SQLite and MySQL `apply` always begin
    /// a transaction). MySQL commits DDL implicitly in any case.
    pub fn runs_in_transaction(self, dialect: Dialect, script: &SqlScript) -> bool {
        match self {
            SqlTool::Sqlx if dialect != Dialect::Postgres => true,
            _ => script.transactional,
        }
    }
}

/// golang-migrate's `SetVersion(version, false)`: empty the table, then insert the one row, or
/// none at the base (`NilVersion`).
fn golang_set_version(dialect: Dialect, t: &str, version: Option<&str>) -> Vec<String> {
    let clear = match dialect {
        Dialect::Sqlite => format!("DELETE FROM {t}"),
        _ => format!("TRUNCATE {t}"),
    };
    let dirty = match dialect {
        Dialect::Sqlite => "0",
        _ => "false",
    };
    let mut out = vec![clear];
    if let Some(v) = version {
        out.push(format!(
            "INSERT INTO {t} (version, dirty) VALUES ({v}, {dirty})"
        ));
    }
    out
}

/// The description Flyway gives an undo script: its own name's description.
fn undo_description(undo: &SqlScript) -> Option<&str> {
    let file = undo.name.rsplit('/').next()?;
    let stem = file.strip_suffix(".sql")?;
    let (_, d) = stem.split_once("__")?;
    Some(d).filter(|d| !d.is_empty())
}

/// One `flyway_schema_history` row as `JdbcTableSchemaHistory.addAppliedMigration` writes it:
/// the next installed_rank, the current user (`doGetCurrentUser`), success.
fn flyway_row(
    dialect: Dialect,
    t: &str,
    version: &str,
    description: &str,
    kind: &str,
    script: &SqlScript,
    elapsed_ms: i64,
) -> String {
    let q = |c| quote_ident(dialect, c);
    let user = match dialect {
        Dialect::Postgres => "current_user",
        Dialect::Mysql => "SUBSTRING_INDEX(USER(),'@',1)",
        Dialect::Sqlite => "''",
    };
    let description = description.replace('_', " ");
    format!(
        "INSERT INTO {t} ({}, {}, {}, {}, {}, {}, {}, {}, {}) SELECT COALESCE(MAX({}), 0) + 1, {}, {}, {}, {}, {}, {user}, {}, {} FROM {t}",
        q("installed_rank"),
        q("version"),
        q("description"),
        q("type"),
        q("script"),
        q("checksum"),
        q("installed_by"),
        q("execution_time"),
        q("success"),
        q("installed_rank"),
        literal(dialect, version),
        literal(dialect, &description),
        literal(dialect, kind),
        literal(dialect, &script.name),
        flyway_checksum(&script.text),
        elapsed_ms.clamp(0, i64::from(i32::MAX)),
        bool_true(dialect),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        use std::time::Duration;
        assert_eq!(rfc3339(Duration::from_secs(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(Duration::new(1_714_564_800, 500_000_000)),
            "2024-05-01T12:00:00.5Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn literals_escape_for_each_engine() {
        assert_eq!(literal(Dialect::Postgres, r"it's a\b"), r"'it''s a\b'");
        assert_eq!(literal(Dialect::Mysql, r"it's a\b"), r"'it''s a\\b'");
        assert_eq!(blob(Dialect::Postgres, &[0xab, 0x01]), r"'\xab01'::bytea");
        assert_eq!(blob(Dialect::Sqlite, &[0xab, 0x01]), "X'ab01'");
    }
}
