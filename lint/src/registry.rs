//! Every rule mrt knows, with the text `mrt explain` shows. Codes follow pytest-mrt's numbering
//! where the meaning is the same, so existing `# noqa: MRT201` comments keep working.

use crate::{Dialect, Severity};

/// What `mrt explain CODE` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RuleDoc {
    pub catches: &'static str,
    pub why: &'static str,
    pub fix: &'static str,
    pub example: &'static str,
}

/// The kind of migration a frontend reads into the neutral model: rules that only make sense
/// for one kind name it in [`Rule::frontends`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Frontend {
    /// Alembic revisions (`upgrade()` / `downgrade()` in Python).
    Alembic,
    /// Django migrations (`class Migration` with `operations = [...]`).
    Django,
    /// Migrations written as SQL files (sqlx, diesel, golang-migrate, dbmate, Flyway, refinery).
    SqlFiles,
}

impl Frontend {
    pub fn as_str(self) -> &'static str {
        match self {
            Frontend::Alembic => "alembic",
            Frontend::Django => "django",
            Frontend::SqlFiles => "sql-files",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    pub code: &'static str,
    /// Kebab-case, accepted wherever a code is.
    pub name: &'static str,
    pub severity: Severity,
    /// Dialects the rule runs on; empty means all.
    pub dialects: &'static [Dialect],
    /// Runs only when named in `FileContext::opt_in_rules`.
    pub opt_in: bool,
    /// Runs only on SQL-file migrations ([`crate::lint_sql_migration`]): raw SQL in Alembic
    /// revisions keeps the rules it always had (MRT104/MRT105 cover it there). The same as
    /// `frontends == [SqlFiles]`, kept for readers that only know SQL files.
    pub only_sql_files: bool,
    /// The kinds of migration the rule runs on; empty means all.
    pub frontends: &'static [Frontend],
    pub summary: &'static str,
    pub doc: RuleDoc,
}

impl Rule {
    /// Whether the rule applies to a project on `dialect`.
    pub fn runs_on(&self, dialect: Dialect) -> bool {
        self.dialects.is_empty() || self.dialects.contains(&dialect)
    }

    /// Whether the rule applies to migrations read by `frontend`.
    pub fn runs_in(&self, frontend: Frontend) -> bool {
        self.frontends.is_empty() || self.frontends.contains(&frontend)
    }
}

/// The registry, sorted by code.
pub fn rules() -> &'static [Rule] {
    &RULES
}

/// Looks a rule up by code (any case) or kebab-case name.
pub fn find_rule(code_or_name: &str) -> Option<&'static Rule> {
    let key = code_or_name.trim();
    RULES
        .iter()
        .find(|r| r.code.eq_ignore_ascii_case(key) || r.name.eq_ignore_ascii_case(key))
}

const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;
const I: Severity = Severity::Info;
const ALL: &[Dialect] = &[];
/// PostgreSQL-only statements (`CREATE TYPE`, `ALTER TYPE ... ADD VALUE`) also run under an
/// unknown dialect: seeing that SQL at all means the project is on PostgreSQL.
const PG_OR_UNKNOWN: &[Dialect] = &[Dialect::Postgresql, Dialect::Generic];
/// Lock advice that is wrong elsewhere runs only on a project known to be PostgreSQL.
const PG: &[Dialect] = &[Dialect::Postgresql];

const fn rule(
    code: &'static str,
    name: &'static str,
    severity: Severity,
    dialects: &'static [Dialect],
    summary: &'static str,
    doc: [&'static str; 4],
) -> Rule {
    Rule {
        code,
        name,
        severity,
        dialects,
        opt_in: false,
        only_sql_files: false,
        frontends: &[],
        summary,
        doc: RuleDoc {
            catches: doc[0],
            why: doc[1],
            fix: doc[2],
            example: doc[3],
        },
    }
}

const fn opt_in(r: Rule) -> Rule {
    Rule { opt_in: true, ..r }
}

const fn sql_files(r: Rule) -> Rule {
    Rule {
        only_sql_files: true,
        frontends: &[Frontend::SqlFiles],
        ..r
    }
}

const fn django(r: Rule) -> Rule {
    Rule {
        frontends: &[Frontend::Django],
        ..r
    }
}

/// A rule whose meaning is the same in SQL files and Django migrations, and which Alembic
/// revisions cover with other rules.
const fn sql_files_and_django(r: Rule) -> Rule {
    Rule {
        frontends: &[Frontend::SqlFiles, Frontend::Django],
        ..r
    }
}

/// A rule about a downgrade written by hand: Django writes none (it reverses each operation
/// itself), so there the per-operation rules say it.
const fn written_downgrade(r: Rule) -> Rule {
    Rule {
        frontends: &[Frontend::Alembic, Frontend::SqlFiles],
        ..r
    }
}

static RULES: [Rule; 63] = [
    rule("MRT100", "runtime-sql", I, ALL, "SQL built at run time cannot be checked statically", [
        "An `execute()` whose SQL is an f-string, `%`/`.format()` formatting, a concatenation with a variable, or any expression mrt cannot reduce to a literal. Django: `RunSQL` whose SQL is built at run time, and SQL built at run time in `RunPython` code (`schema_editor.execute(f\"...\")`).",
        "Every raw-SQL rule (DROP, TRUNCATE, DELETE, UPDATE, CREATE TYPE, ...) reads the SQL text. When the text only exists at run time mrt cannot tell whether it is safe, and staying silent would look like a pass.",
        "Prefer a literal with bound parameters: `op.execute(sa.text(\"UPDATE t SET x = :v\").bindparams(v=value))`. If the SQL must be built, review it by hand and add `# noqa: MRT100`.",
        "op.execute(f\"DELETE FROM {table} WHERE old\")",
    ]),
    written_downgrade(rule("MRT101", "missing-downgrade", E, ALL, "migration has no downgrade()", [
        "A revision file that defines `upgrade()` but no `downgrade()`. For SQL-file migrations: an up script without its down in a layout that has downs (sqlx `.up.sql` without `.down.sql`, diesel `up.sql` without `down.sql`, golang-migrate, dbmate without `-- migrate:down`, Flyway `V` without `U`), reported on line 1 of the up file. Forward-only layouts (refinery, sqlx simple migrations) are not reported.",
        "`alembic downgrade` calls `downgrade()` on every revision it passes; without it the rollback stops with an AttributeError half-way down the chain. SQL tools likewise stop (or, worse, skip the migration and leave its changes in place).",
        "Write a `downgrade()` that undoes `upgrade()` step by step, in reverse order. If the change truly cannot be undone, say so explicitly by raising an exception with the reason.",
        "def upgrade():\n    op.add_column(\"users\", sa.Column(\"email\", sa.String()))\n# no downgrade()",
    ])),
    written_downgrade(rule("MRT102", "noop-downgrade", E, ALL, "downgrade() does nothing while upgrade() changes the database", [
        "A `downgrade()` whose body is only `pass`, a docstring or `...`, in a revision whose `upgrade()` changes the database: an operation, raw SQL, an ORM session write, or a call into code mrt cannot read (a function imported from the project, or one given `op`, a connection or a session). Helper functions of the same file are followed. Merge revisions, and upgrades that only log, print or compute, are not reported. When all the upgrade does is add enum values, MRT304 is reported instead and names this rule. For SQL-file migrations: a down script that is empty or holds only comments, queries such as `SELECT 1`, transaction control (`BEGIN;`/`COMMIT;`), session settings (`SET ...`) or maintenance with nothing to undo (`ANALYZE`, `ALTER TABLE ... VALIDATE CONSTRAINT`), while the up script changes the database (a `DO` block, `CALL` or a query calling a function counts as a change); reported on the down script's first line.",
        "The rollback \"succeeds\" but leaves the schema of the newer revision in place; the next upgrade then fails or, worse, the application runs against a schema it does not expect.",
        "Undo every operation of `upgrade()` in reverse order (drop what was created, re-create what was dropped, rename back).",
        "def upgrade():\n    op.create_table(\"tags\", sa.Column(\"id\", sa.Integer, primary_key=True))\n\ndef downgrade():\n    pass",
    ])),
    rule("MRT103", "update-without-reverse", W, ALL, "UPDATE in upgrade() with nothing restoring the values in downgrade()", [
        "An `UPDATE` in `upgrade()` (raw SQL, `sa.update(t)` or `t.update()`) when `downgrade()` has no UPDATE of the same table. Backfills of columns the same upgrade adds, and tables it creates, are not reported. Django: an ORM `.update(...)`/`save()` or a raw UPDATE in `RunPython` code or `RunSQL`, when the operation's reverse has no UPDATE of that table (a backfill of columns the migration adds is not reported; with no reverse at all or a no-op one, MRT107/MRT108/MRT109 report it and name this rule).",
        "Overwritten values are gone: after a downgrade the rows hold the new values under the old schema.",
        "Keep the old values (copy them to a backup column or table in upgrade) and write them back in downgrade, or restrict the UPDATE to a new column.",
        "op.execute(\"UPDATE users SET status = 'active' WHERE status IS NULL\")",
    ]),
    rule("MRT104", "raw-sql-without-reverse", W, ALL, "op.execute() in upgrade() with no reversing statement in downgrade()", [
        "Raw SQL through `op.execute` whose effect no dedicated rule covers (CREATE FUNCTION/VIEW/TABLE/INDEX/EXTENSION, INSERT, ADD COLUMN, statements mrt does not model), or an UPDATE of existing values, when `downgrade()` has no statement undoing that same object. A DROP/CREATE is matched by kind and name; an unrelated statement in downgrade does not count. An UPDATE may be reported as MRT103 as well, as pytest-mrt did, so `# noqa: MRT104` comments keep working. Django: the same for `RunSQL` and its `reverse_sql`.",
        "Raw SQL is invisible to Alembic's autogenerate and easy to forget when writing the downgrade; the object stays behind and the next upgrade fails with \"already exists\".",
        "Add the reverse statement for the same object to downgrade(), e.g. `DROP FUNCTION f` for `CREATE FUNCTION f`.",
        "op.execute(\"CREATE FUNCTION touch() RETURNS trigger AS $$ ... $$ LANGUAGE plpgsql\")",
    ]),
    rule("MRT105", "connection-sql-without-reverse", W, ALL, "connection-level execute in upgrade() with no reverse", [
        "The same as MRT104 for SQL executed through `op.get_bind().execute(...)`, `connection.execute(...)`, `context.execute(...)` or `op.get_context().execute(...)`. Django: raw SQL in `RunPython` code (`schema_editor.execute(...)`, a cursor), paired with the reverse code's SQL.",
        "Connection-level SQL bypasses `op` entirely, so it is even easier to miss when writing the downgrade.",
        "Add the reversing statement for the same object to downgrade().",
        "conn = op.get_bind()\nconn.execute(sa.text(\"INSERT INTO settings (k, v) VALUES ('a', '1')\"))",
    ]),
    rule("MRT106", "bulk-insert-without-reverse", W, ALL, "bulk_insert in upgrade() and no delete in downgrade()", [
        "`op.bulk_insert(table, rows)` in `upgrade()`, or an `INSERT` in the up script of a SQL-file migration, when `downgrade()` neither deletes from nor truncates nor drops that table (tables created by the same upgrade are fine). Raw SQL INSERTs in Python revisions are MRT104/MRT105. Django: rows created through the ORM in `RunPython` code (`.create()`, `bulk_create`, `get_or_create`, `update_or_create`) when the reverse code deletes none from that model's table; rows of Django's bookkeeping (content types, permissions), which `post_migrate` writes anyway, do not count.",
        "Seed rows survive the downgrade; the next upgrade inserts them again and fails on a unique key or duplicates them.",
        "Delete exactly the inserted rows in downgrade: `op.execute(t.delete().where(t.c.code.in_([...])))`.",
        "op.bulk_insert(roles, [{\"name\": \"admin\"}])\n-- or in up.sql, with a down.sql that never deletes it:\nINSERT INTO roles (name) VALUES ('admin');",
    ]),
    django(rule("MRT107", "run-python-without-reverse", E, ALL, "RunPython without reverse_code", [
        "Django: `migrations.RunPython(code)` with no `reverse_code` (neither the second positional argument nor the keyword; `reverse_code=None` counts as none). Reported on the operation. Inside `SeparateDatabaseAndState` it is MRT110, in a squashed migration MRT601.",
        "Django refuses to unapply a migration holding an irreversible operation (`IrreversibleError: Operation <RunPython> in shop.0004 is not reversible`): `migrate shop 0003` stops there, and so does every rollback past it.",
        "Give the data change its reverse: `migrations.RunPython(forwards, backwards)` where `backwards` restores what `forwards` changed. If nothing needs undoing (the data goes with a column the same migration adds), say so with `reverse_code=migrations.RunPython.noop`; MRT109 checks that claim.",
        "def forwards(apps, schema_editor):\n    Order = apps.get_model(\"shop\", \"Order\")\n    Order.objects.filter(status=\"\").update(status=\"new\")\n\nclass Migration(migrations.Migration):\n    operations = [migrations.RunPython(forwards)]\n# fix: migrations.RunPython(forwards, backwards)",
    ])),
    django(rule("MRT108", "run-sql-without-reverse", E, ALL, "RunSQL without reverse_sql", [
        "Django: `migrations.RunSQL(sql)` with no `reverse_sql` (second positional argument or keyword; `None` counts as none). Reported on the operation. Inside `SeparateDatabaseAndState` it is MRT110, in a squashed migration MRT601.",
        "Django refuses to unapply the migration (`IrreversibleError`), so no rollback can pass it.",
        "Add `reverse_sql` with the statements that undo `sql` (DROP what it creates, re-create what it drops). When the SQL changes nothing that needs undoing, `reverse_sql=migrations.RunSQL.noop`; MRT109 checks that claim. If Django's model state must follow the SQL, add `state_operations=[...]`.",
        "migrations.RunSQL(\"CREATE INDEX shop_order_paid ON shop_order (paid_at)\")\n# fix:\nmigrations.RunSQL(\n    \"CREATE INDEX shop_order_paid ON shop_order (paid_at)\",\n    reverse_sql=\"DROP INDEX shop_order_paid\",\n)",
    ])),
    django(rule("MRT109", "noop-reverse", W, ALL, "reverse is a no-op while the operation changes data or schema", [
        "Django: `RunPython(code, reverse_code=migrations.RunPython.noop)` (or a reverse function that does nothing to the database), or `RunSQL(sql, reverse_sql=migrations.RunSQL.noop)` (or `\"\"`, `[]`, SQL that changes nothing), when the forward side changes something that existed before the migration: rows of an existing table updated, inserted or deleted through the ORM or raw SQL, objects created by SQL, or code mrt cannot read (a function imported from the project, `call_command`). Not reported: a backfill of columns the same migration adds, and rows of tables it creates, which its other reverses remove anyway. Findings of reverse-pairing rules on the same operation (MRT103, MRT104, MRT106, MRT216, ...) are folded into this one.",
        "The rollback \"succeeds\" and leaves the data in its new shape under the old schema and code: values overwritten, seed rows that the next apply inserts again (duplicates or unique violations), objects the next apply fails to create.",
        "Write the reverse that undoes the change (delete the rows inserted, write back the values overwritten, drop what the SQL created). When the change truly needs no undoing, suppress with `# noqa: MRT109` and the reason.",
        "def seed(apps, schema_editor):\n    Plan = apps.get_model(\"billing\", \"Plan\")\n    Plan.objects.create(code=\"free\")\n\nmigrations.RunPython(seed, migrations.RunPython.noop)\n# fix: a reverse that deletes the row\ndef unseed(apps, schema_editor):\n    apps.get_model(\"billing\", \"Plan\").objects.filter(code=\"free\").delete()",
    ])),
    django(rule("MRT110", "separate-state-irreversible-database", E, ALL, "SeparateDatabaseAndState whose database half cannot be reversed", [
        "Django: a `RunPython` without `reverse_code` or a `RunSQL` without `reverse_sql` inside `SeparateDatabaseAndState(database_operations=[...])`. Reported on that inner operation.",
        "Django checks `reversible` only on a migration's top-level operations, and `SeparateDatabaseAndState` always says yes. So the rollback starts, unapplies the operations after it, and fails half-way with `NotImplementedError: You cannot reverse this operation`; in a non-atomic migration, or on MySQL where DDL is not transactional, what was already undone stays undone.",
        "Give the inner operation its reverse (`reverse_sql=...`, `reverse_code=...`), or `RunSQL.noop` / `RunPython.noop` when there is truly nothing to undo.",
        "migrations.SeparateDatabaseAndState(\n    database_operations=[migrations.RunSQL(\"ALTER TABLE shop_order RENAME TO shop_purchase\")],\n    state_operations=[migrations.RenameModel(\"Order\", \"Purchase\")],\n)",
    ])),
    rule("MRT201", "drop-column", E, ALL, "DROP COLUMN in upgrade()", [
        "`op.drop_column(...)` or raw `ALTER TABLE ... DROP COLUMN` in `upgrade()`, except for a column the same upgrade added before (a temporary column). When the drop ends an add-copy-drop, MRT208 is reported instead and names this rule. Django: raw `DROP COLUMN` in `RunSQL` or `RunPython` code; a `RemoveField` is reported as MRT209, which names this rule.",
        "The column's values are deleted. A downgrade that re-adds the column restores the shape, not the data: every row comes back with NULL or the default.",
        "Stop using the column first, release, then drop it in a later migration once a rollback past it is no longer wanted; or copy the values to a backup table in upgrade and restore them in downgrade.",
        "op.drop_column(\"users\", \"legacy_email\")",
    ]),
    rule("MRT202", "drop-table", E, ALL, "DROP TABLE in upgrade()", [
        "`op.drop_table(...)` or raw `DROP TABLE` in `upgrade()`, also when the upgrade re-creates a table of the same name afterwards (a rebuild: the message says so). Not reported: a table the same upgrade created before (a temporary table), and a table whose rows the upgrade copied first into a table it keeps (`INSERT INTO new SELECT ... FROM old`, `CREATE TABLE new AS SELECT ... FROM old`, or renaming the old table, copying from it and dropping it). Django: raw `DROP TABLE` in `RunPython` code; in `RunSQL` it is MRT211, a `DeleteModel` MRT210, a removed many-to-many field MRT209, each naming this rule.",
        "All rows are deleted; a downgrade that re-creates the table brings back an empty table.",
        "Rename the table instead (reversible) and drop it in a later release, or keep its rows in a backup table that downgrade restores. For a rebuild, rename the old table, create the new one, copy the rows over with `INSERT INTO t SELECT ... FROM t_old`, then drop `t_old`.",
        "op.drop_table(\"audit_log\")\n# or a rebuild:\nop.drop_table(\"users\")\nop.create_table(\"users\", sa.Column(\"id\", sa.Integer, primary_key=True))",
    ]),
    rule("MRT203", "truncate", E, ALL, "TRUNCATE in upgrade()", [
        "A raw `TRUNCATE` of a table the upgrade did not create. Django: TRUNCATE in `RunPython` code; in `RunSQL` it is MRT212.",
        "Every row is deleted; no downgrade can bring them back.",
        "Delete only what the migration must delete, keep a copy that downgrade restores, or move the clean-up out of migrations.",
        "op.execute(\"TRUNCATE sessions\")",
    ]),
    rule("MRT204", "cascade-delete", W, ALL, "foreign key with ON DELETE CASCADE added", [
        "`ondelete=\"CASCADE\"` in `create_foreign_key`, `sa.ForeignKey(...)` inside `add_column`/`create_table`, or `ON DELETE CASCADE` in raw SQL, in `upgrade()`.",
        "From now on deleting a parent row silently deletes its children. Rows deleted that way while the revision is live cannot be restored by any downgrade.",
        "Prefer `ondelete=\"RESTRICT\"` or `\"SET NULL\"` unless the children are truly owned by the parent; if CASCADE is intended, add `# noqa: MRT204` with the reason.",
        "op.create_foreign_key(\"fk_items_order\", \"items\", \"orders\", [\"order_id\"], [\"id\"], ondelete=\"CASCADE\")",
    ]),
    rule("MRT205", "drop-foreign-key", E, ALL, "foreign key dropped and not restored", [
        "`drop_constraint(name, ..., type_=\"foreignkey\")` or `ALTER TABLE ... DROP FOREIGN KEY name` in `upgrade()` when `downgrade()` does not create a foreign key with the same name.",
        "After the downgrade the old code expects referential integrity the database no longer enforces; orphan rows pile up unnoticed.",
        "Re-create the same constraint in downgrade: `op.create_foreign_key(\"fk_name\", \"child\", \"parent\", [\"parent_id\"], [\"id\"])`.",
        "op.drop_constraint(\"fk_orders_user\", \"orders\", type_=\"foreignkey\")",
    ]),
    rule("MRT206", "batch-drop-column", E, ALL, "DROP COLUMN inside batch_alter_table", [
        "`batch_op.drop_column(...)` inside `with op.batch_alter_table(...)` in `upgrade()`, except for a column the same upgrade added before. When the drop ends an add-copy-drop, MRT208 is reported instead and names this rule.",
        "Batch mode copies the table without the column (SQLite's move-and-copy); the values are deleted exactly as with DROP COLUMN.",
        "As for MRT201: stop using the column, drop it in a later release, or back the values up and restore them in downgrade.",
        "with op.batch_alter_table(\"users\") as batch_op:\n    batch_op.drop_column(\"nickname\")",
    ]),
    rule("MRT207", "drop-view", E, ALL, "DROP VIEW without re-creating it in downgrade()", [
        "Raw `DROP VIEW` / `DROP MATERIALIZED VIEW` (or a `drop_view` custom operation) in `upgrade()` when `downgrade()` does not create a view with the same name.",
        "Views hold no data but their definition lives only in the database; after the downgrade every query of the old code that uses the view fails.",
        "Re-create the view in downgrade with its previous definition (`CREATE VIEW name AS ...`).",
        "op.execute(\"DROP VIEW active_users\")",
    ]),
    rule("MRT208", "multi-step-destructive", E, ALL, "add + copy + drop column in one upgrade()", [
        "An `upgrade()` that adds a column to a table, copies data with UPDATE, and drops another column of the same table (one that existed before the upgrade). The DROP COLUMN is reported once, as this rule; its message names MRT201/MRT206, and a `# noqa` for either code silences it. Django: `AddField`, a `RunPython` or `RunSQL` copying into the new column, and `RemoveField` of the old one in one migration (MRT209 is folded into it).",
        "It looks like a rename or a type change but the old column's values are destroyed; the downgrade can only re-create the old column empty, or lossily converted back.",
        "Split it: release the add and copy first, switch the code, then drop the old column in a later migration; or use `alter_column(new_column_name=...)` / a reversible type change.",
        "op.add_column(\"users\", sa.Column(\"full_name\", sa.Text))\nop.execute(\"UPDATE users SET full_name = name\")\nop.drop_column(\"users\", \"name\")",
    ]),
    django(rule("MRT209", "remove-field", E, ALL, "RemoveField drops a column and its data", [
        "Django: `migrations.RemoveField(model_name, name)` of a field that existed before the migration, on a model with a table (not a proxy or `managed = False` model), also a many-to-many field (its join table). A field the same migration added is not reported. The message says what rolling back puts back, from the field's definition in the history: NULL in every row, its default, or a NOT NULL column without default, which fails on a table that has rows. The generic MRT201 (and MRT202 for a join table) on the same operation is folded into this finding; when the removal ends an add-copy-drop, MRT208 is reported instead.",
        "The column's values are deleted. Django's reverse re-adds the column from the model state, not the data: every row comes back empty or with the default.",
        "Release code that no longer uses the field first, and remove it in a later migration once a rollback past it is no longer wanted; or copy the values aside (a RunPython that keeps them in another column or table) and write them back in its reverse_code.",
        "migrations.RemoveField(model_name=\"order\", name=\"note\")",
    ])),
    django(rule("MRT210", "delete-model", E, ALL, "DeleteModel drops a table and its rows", [
        "Django: `migrations.DeleteModel(name)` of a model with a table (not a proxy or unmanaged model) that the same migration did not create, and whose rows it did not copy elsewhere first. The generic MRT202 on the same operation is folded into this finding.",
        "Every row is deleted; Django's reverse re-creates the table empty.",
        "Stop using the model in one release and delete it in a later one; rename the model (`RenameModel`) instead if it moves; or copy its rows into a table that stays and restore them in reverse_code.",
        "migrations.DeleteModel(name=\"Coupon\")",
    ])),
    django(rule("MRT211", "run-sql-drop-table", E, ALL, "RunSQL drops a table", [
        "Django: `DROP TABLE` in a `RunSQL` operation's SQL (read with sqlparser, also in lists of statements and `(sql, params)` pairs), on a table the migration did not create and whose rows it did not copy first. The generic MRT202 on the same operation is folded into this finding.",
        "The rows are gone; a `reverse_sql` that re-creates the table brings it back empty.",
        "Drop the table in a later release once nothing needs it, rename it instead, or copy its rows to a table that stays and restore them in reverse_sql.",
        "migrations.RunSQL(\"DROP TABLE legacy_audit\", reverse_sql=\"CREATE TABLE legacy_audit (id serial PRIMARY KEY)\")",
    ])),
    django(rule("MRT212", "run-sql-truncate", E, ALL, "RunSQL truncates a table", [
        "Django: `TRUNCATE` in a `RunSQL` operation's SQL, of a table the migration did not create. The generic MRT203 on the same operation is folded into this finding.",
        "Every row is deleted at once (without the triggers and per-row checks a DELETE runs), and no reverse_sql can bring them back: the rollback returns an empty table.",
        "Delete only the rows the migration must remove, keep a copy that reverse_sql restores, or move the clean-up out of migrations.",
        "migrations.RunSQL(\"TRUNCATE shop_cart\", reverse_sql=migrations.RunSQL.noop)",
    ])),
    rule("MRT213", "set-not-null-existing", W, ALL, "SET NOT NULL on an existing column", [
        "`alter_column(..., nullable=False)` or raw `ALTER ... SET NOT NULL` on a column the same upgrade did not add. When the downgrade does not make the column nullable again, the statement is reported once, as MRT402 (op) or MRT403 (raw SQL), whose message names this rule; a `# noqa` for either code silences it. Django: an `AlterField` that makes a column NOT NULL is MRT412, judged against the field's history.",
        "The statement fails on any row that still holds NULL, which a test database without data will not show; on PostgreSQL it also scans the table under an exclusive lock.",
        "Backfill the NULLs in the same migration first (`UPDATE t SET c = ... WHERE c IS NULL`), or add a `CHECK (c IS NOT NULL) NOT VALID` constraint, validate it, then set NOT NULL.",
        "op.alter_column(\"users\", \"email\", nullable=False)",
    ]),
    rule("MRT214", "delete-without-where", E, ALL, "DELETE without WHERE in upgrade()", [
        "A raw `DELETE FROM t` without `WHERE` (or `t.delete()` without `.where(...)`) in `upgrade()`, on a table the upgrade did not create. Django: `Model.objects.all().delete()` (no `filter`/`exclude`) in `RunPython` code, or the raw statement.",
        "Every row of the table is deleted and no downgrade can bring them back.",
        "Add the WHERE clause that selects only the rows the migration must remove, and keep a copy that downgrade can restore.",
        "op.execute(\"DELETE FROM sessions\")",
    ]),
    rule("MRT215", "destructive-downgrade", E, ALL, "downgrade() destroys data the upgrade did not create", [
        "In `downgrade()`: dropping a table the upgrade did not create (unless the downgrade copied its rows into a table it keeps first), DELETE/TRUNCATE of a table the upgrade inserted nothing into, an UPDATE of a table the upgrade did not touch or of a column the upgrade did not change (read from the SET list, also with CASE values, sub-selects and `sa.text(...)`; a column the downgrade re-adds may be filled back), or dropping a column the upgrade did not add. Django: what Django runs to unapply the migration: the `reverse_code` (ORM `.delete()`, `.update(...)`, `save()`, raw SQL) and the `reverse_sql`; the reverses Django derives for schema operations never destroy data the migration did not create.",
        "A downgrade must undo the upgrade, nothing more. Data that existed before the upgrade and is destroyed on the way down is lost for good, and the rollback is usually run in a hurry, on production.",
        "Limit downgrade() to reversing the upgrade's own changes: drop only what upgrade created, delete only the rows it inserted (with a WHERE), restore only what it changed.",
        "def upgrade():\n    op.add_column(\"users\", sa.Column(\"age\", sa.Integer))\n\ndef downgrade():\n    op.drop_column(\"users\", \"age\")\n    op.drop_table(\"profiles\")  # never created by upgrade",
    ]),
    sql_files_and_django(rule("MRT216", "delete-without-reverse", W, ALL, "DELETE in the up migration with nothing inserting the rows back in the down migration", [
        "SQL-file migrations: a `DELETE ... WHERE ...` in the up script on a table the up script did not create, when the down script inserts nothing into that table. (A DELETE without WHERE is MRT214; in Python revisions raw SQL is MRT104/MRT105.) Django: an ORM `.delete()` of filtered rows (or of one row) in `RunPython` code, when the reverse code inserts nothing into that model's table.",
        "The selected rows are gone after the upgrade; rolling back restores the schema but not them, and the old code finds its lookup rows, settings or history missing.",
        "Copy the rows aside before deleting them (`INSERT INTO t_archive SELECT * FROM t WHERE ...`) and re-insert them in the down script (`INSERT INTO t SELECT * FROM t_archive`), or write the deleted seed rows back literally.",
        "-- up.sql\nDELETE FROM feature_flags WHERE name = 'legacy_checkout';\n-- down.sql: nothing re-inserts the row",
    ])),
    rule("MRT301", "rename-table-without-reverse", E, ALL, "rename_table without renaming back", [
        "`op.rename_table(a, b)` or `ALTER TABLE a RENAME TO b` in `upgrade()` when `downgrade()` has no rename of `b` back to `a` (a rename of some other table does not count). A table the same upgrade created before renaming it is new under either name and is not reported.",
        "After the downgrade the old code queries a table that no longer exists under its name.",
        "Add `op.rename_table(\"b\", \"a\")` to downgrade().",
        "op.rename_table(\"customer\", \"customers\")",
    ]),
    rule("MRT302", "rename-column-without-reverse", E, ALL, "rename column without renaming back", [
        "`alter_column(t, c, new_column_name=n)` (also in batch mode) or `ALTER TABLE t RENAME COLUMN c TO n` in `upgrade()` when `downgrade()` does not rename `t.n` back to `c`. A column the same upgrade added before renaming it is not reported.",
        "The old code selects the old column name and fails after the downgrade.",
        "Add `op.alter_column(\"t\", \"n\", new_column_name=\"c\")` to downgrade().",
        "op.alter_column(\"users\", \"name\", new_column_name=\"full_name\")",
    ]),
    rule("MRT303", "column-type-change", W, ALL, "column type change", [
        "`alter_column(..., type_=...)`, `ALTER COLUMN ... TYPE` or MySQL `MODIFY`/`CHANGE` in `upgrade()` on a column the upgrade did not add. When the change also rewrites a PostgreSQL table in a SQL-file migration, MRT417 is reported instead and names this rule. Django: an `AlterField` that changes the column type as the project's history knows it (a field class with another column type, `max_length`, `max_digits`/`decimal_places`); one that only changes `help_text`, `choices` or `verbose_name` is not reported, nor one whose previous definition is not known.",
        "Conversions can truncate strings, round numbers or fail on existing values, in either direction; the downgrade's reverse conversion may lose what the new type allowed (a longer string, a larger number).",
        "Check that both directions are lossless for the data you have, or add a new column, copy, and switch over in separate releases.",
        "op.alter_column(\"items\", \"price\", type_=sa.Numeric(10, 2), existing_type=sa.Float)",
    ]),
    rule("MRT304", "enum-value-added", E, PG_OR_UNKNOWN, "ENUM value added (PostgreSQL cannot drop it)", [
        "`ALTER TYPE ... ADD VALUE` (or alembic-postgresql-enum's `sync_enum_values`) in `upgrade()` when `downgrade()` does not re-create the type. Runs on PostgreSQL and on an unknown dialect (the statement only exists on PostgreSQL). When the upgrade only adds enum values and the downgrade does nothing, this is the one finding (its message names MRT102).",
        "PostgreSQL has no `ALTER TYPE ... DROP VALUE`: the value stays after the downgrade, and rows using it keep values the old code does not know.",
        "In downgrade, move rows off the value, rename the type, create it again with the old values, `ALTER COLUMN ... TYPE new USING col::text::new`, and drop the renamed type.",
        "op.execute(\"ALTER TYPE order_status ADD VALUE 'refunded'\")",
    ]),
    django(rule("MRT305", "rename-model-with-loss", W, ALL, "RenameModel in a migration that also loses data of that model", [
        "Django: `migrations.RenameModel(old_name, new_name)` when the same migration also drops a column of the model's table, drops the table, or deletes rows from it (under the old or the new name; `RemoveField`, `DeleteModel`, `RunSQL`, `RunPython`). Reported on the RenameModel; the lossy operations keep their own findings. Unlike pytest-mrt, an unrelated `RunSQL` does not count.",
        "In review the migration reads as a harmless rename, which Django reverses by itself; but rolling it back restores the name, not the data lost with it.",
        "Keep the rename in a migration of its own, and the lossy change in a later one with its own review.",
        "migrations.RenameModel(old_name=\"Customer\", new_name=\"Client\"),\nmigrations.RemoveField(model_name=\"client\", name=\"fax\"),",
    ])),
    rule("MRT401", "not-null-without-default", W, ALL, "NOT NULL column added without a default", [
        "`add_column` of a `sa.Column(..., nullable=False)` (or primary key) without `server_default`, or raw `ADD COLUMN ... NOT NULL` without DEFAULT, on a table the upgrade did not create. Django: `AddField` is MRT411, which names this rule.",
        "The statement fails on every table that already has rows: it passes on an empty test database and breaks in production.",
        "Give it a `server_default`, or add it nullable, backfill, then set `nullable=False`.",
        "op.add_column(\"users\", sa.Column(\"plan\", sa.String(), nullable=False))",
    ]),
    rule("MRT402", "not-null-not-reverted", W, ALL, "NOT NULL set without making the column nullable again in downgrade()", [
        "`alter_column(t, c, nullable=False)` in `upgrade()` when `downgrade()` neither sets `t.c` back to `nullable=True` nor drops the column or table. On an existing column this also covers MRT213 (named in the message).",
        "After the downgrade the old code, which may insert NULL there, fails with NOT NULL violations.",
        "Add `op.alter_column(\"t\", \"c\", nullable=True)` to downgrade().",
        "op.alter_column(\"users\", \"email\", existing_type=sa.String(), nullable=False)",
    ]),
    rule("MRT403", "not-null-sql-not-reverted", W, ALL, "NOT NULL via raw SQL without reverse", [
        "Raw `ALTER TABLE t ALTER COLUMN c SET NOT NULL` (or MySQL `MODIFY c ... NOT NULL`) in `upgrade()` when `downgrade()` does not drop NOT NULL on that same column. Any other `NULL` in downgrade SQL does not count. On an existing column this also covers MRT213 (named in the message).",
        "As for MRT402: the old code may write NULL there and fails after the downgrade.",
        "Add `ALTER TABLE t ALTER COLUMN c DROP NOT NULL` (or `op.alter_column(\"t\", \"c\", nullable=True)`) to downgrade().",
        "op.execute(\"ALTER TABLE users ALTER COLUMN email SET NOT NULL\")",
    ]),
    rule("MRT404", "volatile-default", W, ALL, "ADD COLUMN with a volatile DEFAULT", [
        "`add_column` with a `server_default` calling a per-row function (`random()`, `gen_random_uuid()`, `uuid_generate_v4()`, `clock_timestamp()`, `nextval()`, MySQL `UUID()`), or the same in raw `ADD COLUMN ... DEFAULT`. `now()` is not volatile (it is fixed per transaction) and is not reported.",
        "Every existing row gets its own value, so the database rewrites the whole table under an exclusive lock; on a large table the deploy stalls, and so does the downgrade that follows a failed deploy.",
        "Add the column without a default (or with a constant one), backfill in batches, then set the default for new rows.",
        "op.add_column(\"orders\", sa.Column(\"uid\", UUID, server_default=sa.text(\"gen_random_uuid()\")))",
    ]),
    rule("MRT405", "nullable-server-default", W, ALL, "nullable column added with a server_default", [
        "`add_column` of a nullable column with a constant `server_default` on an existing table. NOT NULL columns with a server default are the recommended fix for MRT401 and are not reported. Django: `AddField` of a nullable field with `default=` (Django fills the existing rows with it).",
        "Existing rows silently get the default instead of NULL, so \"unknown\" and \"default\" become indistinguishable; on MySQL before 8.0 and PostgreSQL before 11 it also rewrites the table.",
        "If the column is meant to be nullable, add it without `server_default` and set the default afterwards with `alter_column(server_default=...)`, which applies only to new rows.",
        "op.add_column(\"users\", sa.Column(\"locale\", sa.String(), server_default=\"en\"))",
    ]),
    rule("MRT406", "unique-on-existing-data", W, ALL, "UNIQUE constraint or index on an existing table", [
        "`create_unique_constraint`, `create_index(..., unique=True)`, `ADD CONSTRAINT ... UNIQUE` or `CREATE UNIQUE INDEX` in `upgrade()` on a table the upgrade did not create. Django: `AddConstraint(UniqueConstraint)`, `AlterUniqueTogether` adding a set, `AlterField` to `unique=True`, and `AddField(unique=True)` with a default (every existing row gets the same value), on a table that existed before the migration.",
        "It fails as soon as production rows hold duplicates, which an empty test database never has.",
        "Deduplicate in the same migration first (and keep what downgrade needs), or check production data before releasing.",
        "op.create_unique_constraint(\"uq_users_email\", \"users\", [\"email\"])",
    ]),
    rule("MRT407", "index-not-concurrent", W, PG, "CREATE INDEX without CONCURRENTLY (PostgreSQL)", [
        "`create_index` without `postgresql_concurrently=True`, or raw `CREATE INDEX` without `CONCURRENTLY` (in `op.execute` or a SQL migration file), on a table the upgrade did not create. PostgreSQL projects only: the option does not exist elsewhere. Django: an index built by a Django operation is MRT413, which names this rule; raw `CREATE INDEX` in `RunSQL` is reported here.",
        "A plain CREATE INDEX blocks all writes to the table while it builds, which on a large table is an outage.",
        "Use `op.create_index(..., postgresql_concurrently=True)` inside `with op.get_context().autocommit_block():`, and `op.drop_index(..., postgresql_concurrently=True)` in downgrade. In SQL files write `CREATE INDEX CONCURRENTLY` alone in a migration that runs outside a transaction (see MRT415), and `DROP INDEX CONCURRENTLY` in its down.",
        "op.create_index(\"ix_orders_created\", \"orders\", [\"created_at\"])",
    ]),
    rule("MRT408", "drop-index-without-reverse", W, ALL, "DROP INDEX without re-creating it in downgrade()", [
        "`op.drop_index(name)` or raw `DROP INDEX name` in `upgrade()` when `downgrade()` has no `create_index` with the same name (another index being created does not count).",
        "After the downgrade the old code's queries run without the index they were written for; unique indexes also stop enforcing uniqueness.",
        "Re-create the same index in downgrade: `op.create_index(\"ix_name\", \"table\", [\"col\"])`.",
        "op.drop_index(\"ix_users_email\", table_name=\"users\")",
    ]),
    rule("MRT409", "drop-constraint-without-reverse", W, ALL, "DROP CONSTRAINT without re-creating it in downgrade()", [
        "`op.drop_constraint(name, table)` (other than a foreign key, see MRT205) or raw `DROP CONSTRAINT name` in `upgrade()` when `downgrade()` does not create a constraint with the same name.",
        "Unique and check constraints protect the old code's assumptions; after the downgrade they are silently gone.",
        "Re-create the same constraint in downgrade (`create_unique_constraint`, `create_check_constraint`, ...).",
        "op.drop_constraint(\"uq_users_email\", \"users\", type_=\"unique\")",
    ]),
    rule("MRT410", "batch-drop-constraint", W, ALL, "DROP CONSTRAINT in batch_alter_table without reverse", [
        "`batch_op.drop_constraint(name)` (other than a foreign key) inside `batch_alter_table` in `upgrade()` when `downgrade()` does not create a constraint with the same name.",
        "In batch mode the table is copied without the constraint; unnamed constraints cannot even be targeted in downgrade unless a naming convention is set.",
        "Re-create the constraint by name in downgrade, inside a batch block; set `naming_convention` on the MetaData so every constraint has a name.",
        "with op.batch_alter_table(\"users\") as batch_op:\n    batch_op.drop_constraint(\"ck_users_age\", type_=\"check\")",
    ]),
    django(rule("MRT411", "add-field-not-null-without-default", E, ALL, "AddField of a NOT NULL field without a default", [
        "Django: `migrations.AddField` of a field of one of Django's own classes that is NOT NULL (no `null=True`) and gives existing rows nothing: no `default=`, no `db_default=` (Django 5), not a blank text field (`blank=True` on CharField/TextField gives `\"\"`), not `auto_now`/`auto_now_add`; on a table that existed before the migration (not a model it creates, a proxy or an unmanaged model). Fields of other classes (third-party, project) are not judged, since they may supply a default. pytest-mrt did not know `db_default=`; here it counts. The generic MRT401 on the same operation is folded into this finding.",
        "`ALTER TABLE ... ADD COLUMN ... NOT NULL` fails on every table that has rows (on SQLite, Django's table rebuild fails the same way): it passes on an empty test database and breaks in production.",
        "Give the field a `default=` (Django fills existing rows with it, `preserve_default=False` if only this migration needs it) or a `db_default=` (kept by the database), or add it with `null=True`, backfill in a RunPython, then make it NOT NULL in a later migration (see MRT412).",
        "migrations.AddField(\n    model_name=\"order\",\n    name=\"channel\",\n    field=models.CharField(max_length=20),\n)\n# fix: models.CharField(max_length=20, default=\"web\")  or  db_default=\"web\"",
    ])),
    django(rule("MRT412", "alter-field-not-null-without-default", E, ALL, "AlterField to NOT NULL without a default, judged against the field's history", [
        "Django: `migrations.AlterField` that makes a field NOT NULL when the project's own migration history left it `null=True`, and the new definition has no `default=` or `db_default=` for Django to fill the NULL rows with first. The previous definition comes from the app's earlier migrations (its ancestors in the graph): an AlterField that only changes `max_length` or `help_text` of a field that was already NOT NULL is not reported, and neither is a field whose history mrt cannot read (another app outside the project, an operation it does not know). A table the same migration creates is not reported, and neither is Django's backfill recipe: the same migration adds the field nullable, then runs a RunPython/RunSQL that updates its table (or code mrt cannot see into), then makes it NOT NULL. The generic MRT213 on the same operation is folded into this finding.",
        "`ALTER COLUMN ... SET NOT NULL` fails as soon as one row holds NULL, which an empty test database never shows; on PostgreSQL it also scans the whole table under an exclusive lock. (With a default, Django first updates the NULL rows to it; a rollback then keeps those values, not NULL.)",
        "Backfill the NULLs in a RunPython before it (with a reverse), or give the field a `default=` / `db_default=` so Django fills them; on large PostgreSQL tables add a `CheckConstraint(condition=Q(col__isnull=False))` with AddConstraintNotValid, validate it, then alter the field.",
        "# 0002 added it: models.CharField(max_length=20, null=True)\nmigrations.AlterField(\n    model_name=\"order\",\n    name=\"channel\",\n    field=models.CharField(max_length=20),\n)",
    ])),
    django(rule("MRT413", "add-index-not-concurrent", W, PG, "index built on an existing table without AddIndexConcurrently (PostgreSQL)", [
        "Django, PostgreSQL projects: `migrations.AddIndex` (and an index added by `AlterField(db_index=True)` or `AlterIndexTogether`) on a table that existed before the migration. `AddIndexConcurrently` is not reported. pytest-mrt reported every AddIndex in an atomic migration on every database; on SQLite and MySQL there is nothing better to do, and `atomic = False` alone does not make an index concurrent. The generic MRT407 on the same operation is folded into this finding.",
        "A plain `CREATE INDEX` blocks every write to the table while it builds; on a large table that is an outage, during the deploy and again during a rollback that re-creates a removed index.",
        "Use `AddIndexConcurrently` / `RemoveIndexConcurrently` from `django.contrib.postgres.operations`, in a migration with `atomic = False` (see MRT414), ideally alone in it.",
        "migrations.AddIndex(\n    model_name=\"order\",\n    index=models.Index(fields=[\"created_at\"], name=\"shop_order_created_idx\"),\n)\n# fix:\nfrom django.contrib.postgres.operations import AddIndexConcurrently\nclass Migration(migrations.Migration):\n    atomic = False\n    operations = [AddIndexConcurrently(\"order\", models.Index(fields=[\"created_at\"], name=\"shop_order_created_idx\"))]",
    ])),
    django(rule("MRT414", "concurrent-in-atomic-migration", E, PG_OR_UNKNOWN, "concurrent index operation in an atomic migration", [
        "Django: `AddIndexConcurrently`, `RemoveIndexConcurrently`, or SQL that PostgreSQL refuses in a transaction (`CREATE/DROP INDEX CONCURRENTLY`, `REINDEX ... CONCURRENTLY`, `VACUUM`) in `RunSQL` or `RunPython` code, in a migration without `atomic = False`; also when only the reverse runs it (AddIndexConcurrently's reverse drops the index concurrently). Runs on PostgreSQL and on an unknown dialect (these operations exist only on PostgreSQL). pytest-mrt asked for `atomic = False` for any AddIndex/RemoveIndex without reporting a line; this is the case where it is needed.",
        "Django runs an atomic migration in one transaction: the operation fails every time (`NotSupportedError: The AddIndexConcurrently operation cannot be executed inside a transaction (set atomic = False on the migration)`, or PostgreSQL's `CREATE INDEX CONCURRENTLY cannot run inside a transaction block`), forward or when rolling back.",
        "Set `atomic = False` on the Migration class, and keep the concurrent operation alone in its migration (a failure half-way through a non-atomic migration leaves the rest applied).",
        "class Migration(migrations.Migration):\n    operations = [\n        AddIndexConcurrently(\"order\", models.Index(fields=[\"paid_at\"], name=\"shop_order_paid_idx\")),\n    ]\n# fix: atomic = False",
    ])),
    sql_files(rule("MRT415", "concurrently-in-transaction", E, PG_OR_UNKNOWN, "CONCURRENTLY (or another statement PostgreSQL refuses in a transaction) inside a transaction block", [
        "SQL-file migrations: `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX ... CONCURRENTLY` or `VACUUM`, in the up or the down script, when the tool runs that script in a transaction (sqlx unless `-- no-transaction`, diesel unless `run_in_transaction = false`, dbmate unless `transaction:false`, Flyway), when the script opens one itself with `BEGIN` before it, or when the script holds other statements too (sqlx, diesel, dbmate and golang-migrate send a file as one string, which PostgreSQL runs as one implicit transaction block; Flyway, and golang-migrate with `x-multi-statement=true`, send statements one by one: suppress the finding there). Runs on PostgreSQL and on an unknown dialect (the statements exist only on PostgreSQL).",
        "PostgreSQL refuses these statements in a transaction block (`CREATE INDEX CONCURRENTLY cannot run inside a transaction block`): the migration, or its rollback, fails every time it runs.",
        "Put the statement alone in its own migration and opt that file out of the transaction: `-- no-transaction` as the first line (sqlx), `run_in_transaction = false` in metadata.toml (diesel), `-- migrate:up transaction:false` (dbmate), `executeInTransaction=false` in the script's .conf (Flyway). Do the same for the down script that drops the index concurrently.",
        "-- up.sql (sqlx runs it in a transaction)\nCREATE INDEX CONCURRENTLY ix_orders_created ON orders (created_at);",
    ])),
    sql_files_and_django(rule("MRT416", "constraint-without-not-valid", W, PG, "CHECK or FOREIGN KEY constraint added to an existing table without NOT VALID (PostgreSQL)", [
        "SQL-file migrations: `ALTER TABLE t ADD CONSTRAINT ... CHECK (...)` or `... FOREIGN KEY ...` without `NOT VALID`, on a table the up script did not create. PostgreSQL projects only. Django: `AddConstraint(CheckConstraint)` on a table that existed before the migration; the fix there is `AddConstraintNotValid`, then `ValidateConstraint` in a later migration (django.contrib.postgres.operations).",
        "Adding the constraint checks every existing row while holding an ACCESS EXCLUSIVE lock on the table (and a lock on the referenced table for a foreign key): reads and writes wait for the full scan; on a large table that is an outage, and a row that violates it fails the deploy.",
        "Add it `NOT VALID` (new rows are checked at once, old rows are not scanned), then run `ALTER TABLE t VALIDATE CONSTRAINT name` in a later migration: validation takes only a SHARE UPDATE EXCLUSIVE lock, so reads and writes go on (validating in the same transaction keeps the exclusive lock and gains nothing).",
        "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id);\n-- instead:\nALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n-- next migration:\nALTER TABLE orders VALIDATE CONSTRAINT fk_orders_user;",
    ])),
    sql_files(rule("MRT417", "type-change-rewrites-table", W, PG, "column type change that rewrites the table (PostgreSQL)", [
        "SQL-file migrations: `ALTER TABLE t ALTER COLUMN c TYPE new` on a column the up script did not add, when PostgreSQL must rewrite the table for it. Not reported for the changes it only relabels: `varchar(n)` to `varchar(m)` with m >= n, to unbounded `varchar` or to `text`; `text` to unbounded `varchar`; `numeric(p,s)` to `numeric(p2,s)` with p2 >= p, or to unconstrained `numeric`. The old type is read from the down script's change back; without one, changes to `varchar`, `text` and `numeric` (which may be such a widening) are not reported. Reported instead of MRT303, whose hazard its message names.",
        "The rewrite copies every row and rebuilds every index while holding an ACCESS EXCLUSIVE lock: no read or write gets through until it ends, and the down migration's change back rewrites the table once more.",
        "Prefer the binary-compatible changes above (`text`, a longer `varchar`). Otherwise add a column of the new type, backfill it in batches, switch the code over, and drop the old column in a later migration.",
        "ALTER TABLE events ALTER COLUMN id TYPE bigint;",
    ])),
    rule("MRT501", "sequence-modification", W, ALL, "sequence modified", [
        "`ALTER SEQUENCE`, `SELECT setval(...)` in `upgrade()`; `CREATE SEQUENCE s` without `DROP SEQUENCE s` in downgrade; `DROP SEQUENCE s` without re-creating it.",
        "A sequence's current value is state: after the downgrade new rows may reuse ids that are still referenced elsewhere (caches, other services, backups).",
        "Record the previous value and restore it with `setval` in downgrade, drop sequences you create, re-create sequences you drop with their old start value.",
        "op.execute(\"ALTER SEQUENCE orders_id_seq RESTART WITH 1000\")",
    ]),
    rule("MRT502", "trigger-without-drop", E, ALL, "CREATE TRIGGER without DROP TRIGGER", [
        "`CREATE TRIGGER name` in `upgrade()` SQL when `downgrade()` does not drop a trigger with that name (or the table it is on).",
        "The trigger keeps firing after the downgrade, often calling a function the downgrade dropped, so every write to the table fails; the next upgrade fails with \"already exists\".",
        "Add `DROP TRIGGER IF EXISTS name ON table` to downgrade(), before dropping its function.",
        "op.execute(\"CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()\")",
    ]),
    rule("MRT503", "type-without-drop", E, PG_OR_UNKNOWN, "CREATE TYPE without DROP TYPE", [
        "`CREATE TYPE name` in `upgrade()` SQL, or `sa.Enum(..., name=...).create(bind)`, when `downgrade()` does not drop that type. Runs on PostgreSQL and on an unknown dialect.",
        "The type survives the downgrade; the next upgrade fails with `type \"name\" already exists`.",
        "Add `op.execute(\"DROP TYPE name\")` (or `sa.Enum(name=...).drop(bind)`) to downgrade(), after dropping the columns that use it.",
        "op.execute(\"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')\")",
    ]),
    rule("MRT504", "create-without-drop", E, ALL, "object created by upgrade() and left behind by downgrade()", [
        "A table, column, index, unique/check/foreign-key/primary-key constraint or view that an `op` operation in `upgrade()` creates (`create_table`, `add_column`, `create_index`, `create_unique_constraint`, `create_check_constraint`, `create_foreign_key`, `create_primary_key`, `create_view`, also in batch mode) and that `downgrade()` does not remove: no drop of it by name, of its table, or (for indexes and constraints) of the new column it is on. Objects the upgrade drops or renames again are followed to their final name; temporary ones need no removal, and an object that replaces one the upgrade dropped (a changed index, a rebuilt table) is not counted. Raw-SQL creates in Python revisions are MRT104/MRT105, triggers MRT502, types and enums MRT503, sequences MRT501. In SQL-file migrations every statement counts: `CREATE TABLE`, `ADD COLUMN`, `CREATE INDEX`, `ADD CONSTRAINT`, `CREATE VIEW`, `CREATE FUNCTION`, `CREATE EXTENSION`, and `CREATE TRIGGER`/`TYPE`/`SEQUENCE` (reported as MRT502/MRT503/MRT501 where that rule runs, naming this one); a down script that creates the same view or function again (`CREATE OR REPLACE`) restores it. A downgrade that is missing (MRT101), does nothing (MRT102) or only raises is not checked object by object, nor a down script with a statement mrt cannot see into (a `DO` block, `CALL`).",
        "The rollback \"succeeds\" but the object stays: the old code meets a schema it does not expect (a NOT NULL column it does not fill, a unique constraint it violates), and the next upgrade fails with \"already exists\" or \"duplicate column\".",
        "Remove every object the upgrade creates, in reverse order: `op.drop_constraint(...)`, `op.drop_index(...)`, `op.drop_column(...)`, `op.drop_table(...)`.",
        "def upgrade():\n    op.add_column(\"users\", sa.Column(\"email\", sa.String()))\n    op.create_index(\"ix_users_email\", \"users\", [\"email\"])\n\ndef downgrade():\n    op.drop_index(\"ix_users_email\", table_name=\"users\")\n    # users.email is never dropped",
    ]),
    django(rule("MRT601", "squash-irreversible", E, ALL, "squashed migration with an operation that has no reverse", [
        "Django: a squashed migration (one with `replaces = [...]`) holding a `RunPython` without `reverse_code` or a `RunSQL` without `reverse_sql`, at any depth. pytest-mrt looked only at RunPython with `reverse_code=` as a keyword (a positional reverse was reported); both forms count here, and RunSQL too. MRT107/MRT108/MRT110 on the same operation are folded into this finding.",
        "`squashmigrations` copies the operations of the migrations it replaces; one without a reverse makes the whole squashed range impossible to roll back, also on databases that had applied the original migrations (Django switches them to the squash once all are applied).",
        "Give the operation its reverse in the squash (and in the original, while it exists), or drop the operation from the squash if it only mattered once (`elidable=True` before squashing).",
        "class Migration(migrations.Migration):\n    replaces = [(\"shop\", \"0001_initial\"), (\"shop\", \"0002_fill_codes\")]\n    operations = [..., migrations.RunPython(fill_codes)]",
    ])),
    django(rule("MRT602", "squash-without-replaces", W, ALL, "migration named like a squash without `replaces`", [
        "Django: a migration whose name has the form `squashmigrations` gives (`0001_squashed_0004_x`) but that has no `replaces` list. Reported on the `class Migration` line. pytest-mrt matched any name containing \"squash\".",
        "Without `replaces`, Django treats it as an ordinary migration and applies its operations on top of the migrations it was meant to replace: tables and columns created twice, data migrations run twice.",
        "Restore the `replaces = [(\"app\", \"0001_...\"), ...]` list `squashmigrations` wrote, or, once every database is past the squash and the originals are deleted, rename the file so it no longer claims to be a squash (and fix the dependencies on it).",
        "# shop/migrations/0001_squashed_0004_order_channel.py\nclass Migration(migrations.Migration):\n    dependencies = []\n    operations = [...]  # no replaces",
    ])),
    opt_in(rule("MRT701", "deploy-drop-column", E, ALL, "rolling deploy: column dropped while old code runs", [
        "Opt-in. Any DROP COLUMN in `upgrade()`.",
        "During a rolling deploy the previous release keeps running against the new schema; its ORM selects every mapped column and fails once one is gone.",
        "Release code that no longer maps the column first (e.g. `deferred`/removed from the model), then drop it in a later migration.",
        "op.drop_column(\"users\", \"nickname\")",
    ])),
    opt_in(rule("MRT702", "deploy-rename-column", E, ALL, "rolling deploy: column renamed while old code runs", [
        "Opt-in. A column rename in `upgrade()`.",
        "The running release still uses the old name and fails until every instance is replaced.",
        "Add the new column, write to both, backfill, switch reads, then drop the old column over several releases.",
        "op.alter_column(\"users\", \"name\", new_column_name=\"full_name\")",
    ])),
    opt_in(rule("MRT703", "deploy-drop-table", E, ALL, "rolling deploy: table dropped while old code runs", [
        "Opt-in. DROP TABLE in `upgrade()` of a table the upgrade did not create.",
        "The running release may still query the table.",
        "Remove every use of the table in one release, drop the table in the next.",
        "op.drop_table(\"legacy_events\")",
    ])),
    opt_in(rule("MRT704", "deploy-not-null-without-server-default", E, ALL, "rolling deploy: NOT NULL column without server default", [
        "Opt-in. `add_column` of a NOT NULL column without `server_default` on an existing table.",
        "The running release inserts rows without the new column and fails with NOT NULL violations until it is replaced.",
        "Give the column a `server_default`, or add it nullable and tighten it after the release.",
        "op.add_column(\"orders\", sa.Column(\"channel\", sa.String(), nullable=False))",
    ])),
    opt_in(rule("MRT705", "deploy-type-change", W, ALL, "rolling deploy: column type changed while old code runs", [
        "Opt-in. A column type change in `upgrade()`.",
        "The running release reads and writes the column with its old type: values may not fit or not parse.",
        "Add a column of the new type, dual-write, backfill, switch, then drop the old column.",
        "op.alter_column(\"items\", \"qty\", type_=sa.BigInteger)",
    ])),
    rule("MRT901", "multiple-heads", E, ALL, "revision graph has more than one head", [
        "More than one revision without children in the revision graph.",
        "`alembic upgrade head` refuses to run (\"Multiple head revisions\"), and a downgrade path through diverged branches is ambiguous.",
        "Create a merge revision: `alembic merge -m \"merge heads\" <head1> <head2>`; its empty upgrade/downgrade is correct.",
        "two revisions both declaring down_revision = \"a1b2c3\"",
    ]),
    rule("MRT902", "syntax-error", E, ALL, "migration file does not parse or cannot be read", [
        "A revision file that is not valid Python (or not UTF-8), reported at the position of the error; a file or folder in a version location that cannot be read, a symbolic link that cannot be followed (a loop, a missing target), or a `revision`/`down_revision` that is not a literal.",
        "Alembic cannot import it, so no upgrade or downgrade through it can run, and mrt cannot check its rules: a check that passed over it would pass what it never read.",
        "Fix the syntax error (`python -m py_compile path/to/revision.py` shows the same position), the permissions or the link, or write the ids as string literals.",
        "def downgrade(:\n    pass",
    ]),
    rule("MRT903", "broken-graph", E, ALL, "revision graph is broken (duplicate id, missing parent, cycle)", [
        "A revision id declared by two files (the finding is on the file Alembic ignores and names the one it uses: the last it loads), a `down_revision` or `depends_on` naming no known revision or branch label, a branch label used twice, or a cycle of revisions.",
        "Alembic refuses the project or silently uses one of two files, so the chain mrt checks is not the one that runs; revisions on a cycle cannot be ordered.",
        "Give each revision its own id (`alembic revision` generates one), point `down_revision` at an existing revision, or break the cycle.",
        "two files both declaring revision = \"d2\"",
    ]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_sorted_unique_and_named() {
        let codes: Vec<&str> = rules().iter().map(|r| r.code).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
        for r in rules() {
            assert!(r
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            assert!(!r.doc.catches.is_empty() && !r.doc.why.is_empty() && !r.doc.fix.is_empty());
            assert!(!r.doc.example.is_empty());
        }
    }

    #[test]
    fn finds_by_code_or_name() {
        assert_eq!(find_rule("mrt201").map(|r| r.code), Some("MRT201"));
        assert_eq!(find_rule("drop-column").map(|r| r.code), Some("MRT201"));
        assert!(find_rule("MRT999").is_none());
    }
}
