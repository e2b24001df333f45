//! Copying a MySQL/MariaDB database, which has no template databases: same default character set
//! and collation, every table from its own `SHOW CREATE TABLE` (with foreign key checks off, so
//! order does not matter), rows by `INSERT ... SELECT`, then views (retried until their
//! dependencies exist) and triggers last, so they do not fire on the copied rows.

use sqlx::mysql::MySqlConnection;
use sqlx::{Executor, Row as _};

use crate::server_core::{step, StepError};
use crate::{quote_ident, Dialect};

fn q(name: &str) -> String {
    quote_ident(Dialect::Mysql, name)
}

/// Copy database `src` into a new database `dst`, on `conn`, which is left using `dst`.
pub(super) async fn copy_database(
    conn: &mut MySqlConnection,
    src: &str,
    dst: &str,
) -> Result<(), StepError> {
    create_like(conn, src, dst).await?;
    let (tables, views) = list_objects(conn, src).await?;
    for table in &tables {
        copy_table(conn, src, dst, table).await?;
    }
    copy_views(conn, src, dst, &views).await?;
    copy_triggers(conn, src).await?;
    run(
        conn,
        "SET SESSION FOREIGN_KEY_CHECKS = 1",
        "restoring foreign key checks",
    )
    .await
}

async fn run(conn: &mut MySqlConnection, sql: &str, what: &str) -> Result<(), StepError> {
    conn.execute(sql).await.map(|_| ()).map_err(step(what))
}

/// `dst` with `src`'s character set and collation, then switch to it with foreign key checks
/// off.
async fn create_like(conn: &mut MySqlConnection, src: &str, dst: &str) -> Result<(), StepError> {
    let (charset, collation): (String, String) = sqlx::query_as(
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
         FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(src)
    .fetch_one(&mut *conn)
    .await
    .map_err(step("reading the character set"))?;
    let create = format!(
        "CREATE DATABASE {} CHARACTER SET {charset} COLLATE {collation}",
        q(dst)
    );
    run(conn, &create, "CREATE DATABASE").await?;
    let switch = format!("SET SESSION FOREIGN_KEY_CHECKS = 0; USE {}", q(dst));
    run(conn, &switch, "switching to the copy").await
}

/// The base tables and the views of `src`, each in name order.
async fn list_objects(
    conn: &mut MySqlConnection,
    src: &str,
) -> Result<(Vec<String>, Vec<String>), StepError> {
    let objects: Vec<(String, String)> = sqlx::query_as(
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
    )
    .bind(src)
    .fetch_all(&mut *conn)
    .await
    .map_err(step("listing tables"))?;
    let (views, tables): (Vec<_>, Vec<_>) =
        objects.into_iter().partition(|(_, kind)| kind == "VIEW");
    let names = |objects: Vec<(String, String)>| objects.into_iter().map(|(n, _)| n).collect();
    Ok((names(tables), names(views)))
}

/// `SHOW CREATE <kind> src.name`: the statement that makes the object, in column `column`.
async fn show_create(
    conn: &mut MySqlConnection,
    kind: &str,
    src: &str,
    name: &str,
    column: usize,
) -> Result<String, StepError> {
    let what = format!("SHOW CREATE {kind} {name}");
    let sql = format!("SHOW CREATE {kind} {}.{}", q(src), q(name));
    let row = conn
        .fetch_one(sql.as_str())
        .await
        .map_err(step(what.as_str()))?;
    row.try_get(column).map_err(step(what))
}

/// Create `table` in `dst` as it is in `src` and copy its rows.
async fn copy_table(
    conn: &mut MySqlConnection,
    src: &str,
    dst: &str,
    table: &str,
) -> Result<(), StepError> {
    let create = show_create(conn, "TABLE", src, table, 1).await?;
    run(conn, &create, &format!("creating table {table}")).await?;
    // Generated columns cannot be inserted into: copy only the stored ones.
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND IS_GENERATED = 'NEVER' \
         ORDER BY ORDINAL_POSITION",
    )
    .bind(src)
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .map_err(step(format!("listing columns of {table}")))?;
    if columns.is_empty() {
        return Ok(());
    }
    let list = columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
    let copy = format!(
        "INSERT INTO {}.{} ({list}) SELECT {list} FROM {}.{}",
        q(dst),
        q(table),
        q(src),
        q(table)
    );
    run(conn, &copy, &format!("copying rows of {table}")).await
}

/// Views name their tables qualified with the source database: point them at the copy. A view
/// over another view fails until that one exists: retry while progress is made.
async fn copy_views(
    conn: &mut MySqlConnection,
    src: &str,
    dst: &str,
    views: &[String],
) -> Result<(), StepError> {
    let mut pending: Vec<(&str, String)> = Vec::new();
    for view in views {
        let create = show_create(conn, "VIEW", src, view, 1).await?;
        let create =
            strip_definer(&create).replace(&format!("{}.", q(src)), &format!("{}.", q(dst)));
        pending.push((view, create));
    }
    while !pending.is_empty() {
        let before = pending.len();
        let mut failed = Vec::new();
        let mut last_error = None;
        for (view, create) in pending {
            if let Err(e) = conn.execute(create.as_str()).await {
                last_error = Some(StepError {
                    what: format!("creating view {view}"),
                    source: e,
                });
                failed.push((view, create));
            }
        }
        if let (true, Some(e)) = (failed.len() == before, last_error) {
            return Err(e);
        }
        pending = failed;
    }
    Ok(())
}

/// Triggers last, so they did not fire while rows were copied.
async fn copy_triggers(conn: &mut MySqlConnection, src: &str) -> Result<(), StepError> {
    let triggers: Vec<String> = sqlx::query_scalar(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? \
         ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER",
    )
    .bind(src)
    .fetch_all(&mut *conn)
    .await
    .map_err(step("listing triggers"))?;
    for trigger in &triggers {
        let create = show_create(conn, "TRIGGER", src, trigger, 2).await?;
        run(
            conn,
            &strip_definer(&create),
            &format!("creating trigger {trigger}"),
        )
        .await?;
    }
    Ok(())
}

/// `CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW ...` ->
/// without `DEFINER=...`, so the copy is created as the connected user (who may not be allowed
/// to name another definer).
fn strip_definer(sql: &str) -> String {
    let Some(start) = sql.find("DEFINER=") else {
        return sql.to_string();
    };
    let rest = &sql[start + "DEFINER=".len()..];
    // user@host, each part possibly quoted with backticks or quotes; ends at the next space
    // outside quotes.
    let mut quote: Option<char> = None;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '`' || c == '\'' || c == '"' => quote = Some(c),
            None if c.is_whitespace() => {
                end = i;
                break;
            }
            None => {}
        }
    }
    format!("{}{}", &sql[..start], rest[end..].trim_start())
}

#[cfg(test)]
mod tests {
    use super::strip_definer;

    #[test]
    fn definer_is_removed() {
        assert_eq!(
            strip_definer(
                "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select 1"
            ),
            "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1"
        );
        assert_eq!(
            strip_definer("CREATE DEFINER=`a b`@`%` TRIGGER t"),
            "CREATE TRIGGER t"
        );
        assert_eq!(
            strip_definer("CREATE VIEW v AS select 1"),
            "CREATE VIEW v AS select 1"
        );
    }
}
