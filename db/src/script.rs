//! Running a migration script as a migration tool runs it: the whole text at once, the way the
//! database's own client sends several statements (PostgreSQL's simple query protocol, MySQL's
//! multi-statement text protocol, SQLite statement by statement), on one connection, in a
//! transaction or not, with the tool's bookkeeping statements after it.

use sqlx::{Connection, Database, Decode, Executor, Row, Type};

/// What a script runs with.
#[derive(Debug, Clone, Copy)]
pub struct ScriptOptions<'a> {
    /// Wrap the script and `then` in one transaction (a script may also hold its own
    /// `BEGIN`/`COMMIT`; then pass `false`, as the tools do).
    pub transaction: bool,
    /// Statements run after the script on the same connection (and in its transaction).
    pub then: &'a [String],
}

/// Why a script failed: its own statements, or what ran after it.
#[derive(Debug)]
pub enum ScriptFailure {
    Script(sqlx::Error),
    Then {
        statement: String,
        error: sqlx::Error,
    },
}

impl ScriptFailure {
    /// Where in the script the database places the error, in characters from its start
    /// (PostgreSQL reports it for syntax errors and many others; the other engines do not).
    pub fn offset(&self) -> Option<usize> {
        let ScriptFailure::Script(error) = self else {
            return None;
        };
        let pg = error
            .as_database_error()?
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
        match pg.position()? {
            sqlx::postgres::PgErrorPosition::Original(at) => Some(at.saturating_sub(1)),
            sqlx::postgres::PgErrorPosition::Internal { .. } => None,
        }
    }
}

/// Runs `script` on `conn` (see [`ScriptOptions`]).
pub(crate) async fn run<DB>(
    conn: &mut DB::Connection,
    script: &str,
    options: ScriptOptions<'_>,
) -> Result<(), ScriptFailure>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    if !options.transaction {
        return run_on(conn, script, options.then).await;
    }
    let mut tx = conn.begin().await.map_err(ScriptFailure::Script)?;
    run_on(&mut *tx, script, options.then).await?;
    tx.commit().await.map_err(ScriptFailure::Script)
}

async fn run_on<DB>(
    conn: &mut DB::Connection,
    script: &str,
    then: &[String],
) -> Result<(), ScriptFailure>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    if has_statements(script) {
        sqlx::raw_sql(script)
            .execute(&mut *conn)
            .await
            .map_err(ScriptFailure::Script)?;
    }
    for statement in then {
        if let Err(error) = sqlx::raw_sql(statement).execute(&mut *conn).await {
            return Err(ScriptFailure::Then {
                statement: statement.clone(),
                error,
            });
        }
    }
    Ok(())
}

/// The first column of every row of `sql`, as text (integers are shown in decimal).
pub(crate) async fn first_column<'e, DB, E>(
    executor: E,
    sql: &'e str,
) -> Result<Vec<String>, sqlx::Error>
where
    DB: Database,
    E: Executor<'e, Database = DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let rows = sqlx::raw_sql(sql).fetch_all(executor).await?;
    rows.iter()
        .map(|row| match row.try_get::<String, _>(0) {
            Ok(text) => Ok(text),
            Err(_) => row.try_get::<i64, _>(0).map(|n| n.to_string()),
        })
        .collect()
}

/// Whether a script holds anything but whitespace and comments: MySQL refuses an empty query,
/// and a down migration that is only a comment is common.
pub fn has_statements(script: &str) -> bool {
    let mut rest = script;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("/*") {
            match after.split_once("*/") {
                Some((_, tail)) => rest = tail,
                None => return false,
            }
        } else if let Some(after) = rest.strip_prefix(';') {
            rest = after;
        } else {
            return !rest.is_empty();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::has_statements;

    #[test]
    fn comments_and_semicolons_alone_are_no_statements() {
        assert!(!has_statements(""));
        assert!(!has_statements("  -- nothing to undo\n/* really */ ;\n"));
        assert!(!has_statements("-- only a comment"));
        assert!(has_statements("-- drop it\nDROP TABLE t;"));
        assert!(has_statements("/* x */ SELECT 1"));
    }
}
