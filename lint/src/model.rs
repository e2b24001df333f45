//! What a migration does, independent of how it was written: `op.drop_column(...)`,
//! `batch_op.drop_column(...)` and `op.execute("ALTER TABLE ... DROP COLUMN ...")` all become one
//! [`Kind::DropColumn`]. Rules look only at this model, so each rule is written once.

use rustpython_parser::text_size::{TextRange, TextSize};

/// An object name as the migration wrote it, normalised (lower-case, unquoted, schema dropped);
/// `None` when it is computed at run time and cannot be known statically.
pub type Name = Option<String>;

/// Normalises an identifier the way the database would compare it for our purposes.
pub fn norm(raw: &str) -> String {
    let last = raw.rsplit('.').next().unwrap_or(raw);
    last.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
        .to_ascii_lowercase()
}

/// Two names denote the same object; an unknown name could be anything, so it matches.
pub fn same(a: &Name, b: &Name) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// Two names are certainly the same object (both known and equal). Used where an unknown name
/// must not count, e.g. before exempting a statement.
pub fn surely_same(a: &Name, b: &Name) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a == b)
}

pub fn show(name: &Name) -> &str {
    name.as_deref().unwrap_or("<computed>")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obj {
    Table,
    View,
    Index,
    Trigger,
    Type,
    Sequence,
    Function,
    /// Schemas, extensions, domains, ...: tracked only for create/drop pairing.
    Other,
}

impl Obj {
    pub fn sql(self) -> &'static str {
        match self {
            Obj::Table => "TABLE",
            Obj::View => "VIEW",
            Obj::Index => "INDEX",
            Obj::Trigger => "TRIGGER",
            Obj::Type => "TYPE",
            Obj::Sequence => "SEQUENCE",
            Obj::Function => "FUNCTION",
            Obj::Other => "object",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cons {
    ForeignKey,
    Unique,
    Check,
    PrimaryKey,
    /// `drop_constraint` without `type_=`, or SQL `DROP CONSTRAINT`.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultKind {
    None,
    Static,
    /// Evaluated per row (`random()`, `gen_random_uuid()`, ...): forces a table rewrite.
    Volatile,
    /// Existing rows are filled with one value when the column is added, and the column keeps
    /// no database default afterwards (Django's `default=`).
    Backfill,
    /// Not known: the column's type may supply a value of its own (a Django field class mrt
    /// does not know). No rule about defaults judges it.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Create {
        obj: Obj,
        name: Name,
        table: Name,
    },
    Drop {
        obj: Obj,
        name: Name,
    },
    /// Index creation keeps its own variant because uniqueness and locking matter.
    CreateIndex {
        name: Name,
        table: Name,
        unique: bool,
        concurrently: bool,
    },
    RenameTable {
        from: Name,
        to: Name,
    },
    AddColumn {
        table: Name,
        column: Name,
        not_null: bool,
        default: DefaultKind,
    },
    DropColumn {
        table: Name,
        column: Name,
    },
    RenameColumn {
        table: Name,
        from: Name,
        to: Name,
    },
    ChangeType {
        table: Name,
        column: Name,
        /// The new type as written (lower-case, spaces removed: `varchar(200)`, `numeric(12,2)`),
        /// when known.
        to: Option<String>,
    },
    SetNotNull {
        table: Name,
        column: Name,
    },
    DropNotNull {
        table: Name,
        column: Name,
    },
    AddConstraint {
        name: Name,
        table: Name,
        cons: Cons,
        /// PostgreSQL `NOT VALID`: existing rows are not checked now (no full scan under lock).
        not_valid: bool,
    },
    DropConstraint {
        name: Name,
        table: Name,
        cons: Cons,
    },
    /// An `ON DELETE CASCADE` foreign key is added by this call.
    Cascade,
    /// `columns` empty = not known.
    Update {
        table: Name,
        columns: Vec<String>,
    },
    Delete {
        table: Name,
        has_where: bool,
    },
    Insert {
        table: Name,
    },
    /// Rows copied from one table into another (`INSERT INTO into SELECT ... FROM from`,
    /// `CREATE TABLE into AS SELECT ... FROM from`): a table whose rows were copied may be
    /// dropped without losing them.
    CopyRows {
        from: Name,
        into: Name,
    },
    Truncate {
        table: Name,
    },
    AddEnumValue {
        ty: Name,
    },
    AlterSequence {
        name: Name,
    },
    /// A statement PostgreSQL refuses inside a transaction block, beside the action it does
    /// (`DROP INDEX CONCURRENTLY`, `REINDEX ... CONCURRENTLY`). `CREATE INDEX CONCURRENTLY` is
    /// [`Kind::CreateIndex`] with `concurrently`.
    NoTransaction {
        statement: &'static str,
    },
    /// A SQL statement mrt does not model (GRANT, ALTER ... something, ...).
    OtherSql,
    /// SQL built at run time.
    DynamicSql,
}

/// How the action was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Op,
    Batch,
    /// Raw SQL the migration framework runs as an operation: Alembic `op.execute`, Django
    /// `RunSQL`.
    OpSql,
    /// Raw SQL through a connection, `op.get_bind()` or `context.execute`, or from Django
    /// `RunPython` code (`schema_editor.execute`, a cursor).
    ConnSql,
    /// A framework operation that the framework also knows how to reverse (Django's
    /// `migrations.AddField(...)`): the downgrade holds its reverse without anyone writing it.
    Operation,
    /// A write through the ORM in data-migration code (Django `RunPython`:
    /// `Order.objects.filter(...).update(...)`, `.create(...)`, `.delete()`).
    Orm,
    /// A statement of a SQL migration file (sqlx, diesel, dbmate, ...): the file is the
    /// migration, so there is no `execute` call to pair with a reverse.
    File,
}

impl Via {
    pub fn is_sql(self) -> bool {
        matches!(self, Via::OpSql | Via::ConnSql | Via::File)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub kind: Kind,
    pub via: Via,
    /// Start of the call that does it.
    pub start: TextSize,
    /// The whole statement, for suppression comments.
    pub span: TextRange,
    /// Index of the call within its body: actions from one `op.execute` share it.
    pub call: usize,
}

/// `upgrade()` or `downgrade()`, with everything it does, helpers included.
#[derive(Debug, Clone, Default)]
pub struct Body {
    pub def_start: TextSize,
    /// The `def` line(s) up to the colon, where function-level findings are reported.
    pub header: TextRange,
    pub whole: TextRange,
    /// Only `pass`, a docstring and/or `...`.
    pub noop: bool,
    /// Only `raise` (and `pass`/docstrings): the migration declares itself irreversible.
    pub raises: bool,
    /// A call in it (helpers included) may change the database in a way no action shows (see
    /// `python::Function::opaque_effects`).
    pub opaque_effects: bool,
    pub actions: Vec<Action>,
    /// The parts of the body that run inside a transaction block. Empty when the frontend does
    /// not know (Alembic's transaction depends on env.py), so no rule assumes one.
    pub transactions: Vec<TxBlock>,
}

/// A part of a body that runs inside a transaction block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxBlock {
    pub range: TextRange,
    pub why: TxWhy,
}

/// Why a statement runs inside a transaction block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxWhy {
    /// The migration tool wraps the whole script in a transaction.
    Tool,
    /// The script opens one itself (`BEGIN` / `START TRANSACTION`).
    Begin,
    /// The tool sends the script as one multi-statement string, which PostgreSQL runs as one
    /// implicit transaction block.
    OneString,
}

impl Body {
    /// Something in it may change the database: a modelled action or an opaque call.
    pub fn changes_db(&self) -> bool {
        !self.actions.is_empty() || self.opaque_effects
    }

    pub fn any(&self, pred: impl Fn(&Kind) -> bool) -> bool {
        self.actions.iter().any(|a| pred(&a.kind))
    }

    /// The transaction block the action at `at` runs in, if any.
    pub fn transaction_at(&self, at: TextSize) -> Option<&TxBlock> {
        self.transactions
            .iter()
            .find(|t| t.range.contains_inclusive(at))
    }
}

/// Before `actions[i]`, the rows of `table` were copied into a table that is not dropped
/// afterwards.
pub fn copied_out_before(actions: &[Action], i: usize, table: &Name) -> bool {
    let i = i.min(actions.len());
    actions[..i].iter().enumerate().any(|(j, a)| match &a.kind {
        Kind::CopyRows { from, into } if surely_same(from, table) => !actions[j + 1..].iter().any(
            |later| matches!(&later.kind, Kind::Drop { obj: Obj::Table, name } if surely_same(name, into)),
        ),
        _ => false,
    })
}

/// A whole migration file as the rules see it.
#[derive(Debug, Clone, Default)]
pub struct Migration {
    pub upgrade: Option<Body>,
    pub downgrade: Option<Body>,
    /// Tables created before this migration but applied together with it, so it finds them
    /// empty: an app's Django initial migrations (`initial = True`), which Django splits when
    /// models depend on each other. They count as created by the upgrade.
    pub fresh_tables: Vec<String>,
}

impl Migration {
    pub fn up_any(&self, pred: impl Fn(&Kind) -> bool) -> bool {
        self.upgrade.as_ref().is_some_and(|b| b.any(pred))
    }

    pub fn down_any(&self, pred: impl Fn(&Kind) -> bool) -> bool {
        self.downgrade.as_ref().is_some_and(|b| b.any(pred))
    }

    pub fn up_actions(&self) -> &[Action] {
        self.upgrade
            .as_ref()
            .map(|b| b.actions.as_slice())
            .unwrap_or(&[])
    }

    pub fn down_actions(&self) -> &[Action] {
        self.downgrade
            .as_ref()
            .map(|b| b.actions.as_slice())
            .unwrap_or(&[])
    }

    /// The upgrade creates this table (so dropping, filling or indexing it touches no old data).
    pub fn up_creates_table(&self, table: &Name) -> bool {
        self.is_fresh(table)
            || self.up_any(
                |k| matches!(k, Kind::Create { obj: Obj::Table, name, .. } if surely_same(name, table)),
            )
    }

    /// One of [`Migration::fresh_tables`].
    fn is_fresh(&self, table: &Name) -> bool {
        table
            .as_ref()
            .is_some_and(|t| self.fresh_tables.iter().any(|f| f == t))
    }

    /// Upgrade actions that run before the `i`-th one (statements of one `execute` in order).
    pub fn up_before(&self, i: usize) -> &[Action] {
        let all = self.up_actions();
        &all[..i.min(all.len())]
    }

    /// The upgrade creates this table before its `i`-th action: a later drop or rename of it
    /// touches nothing that existed before the upgrade.
    pub fn up_created_before(&self, i: usize, table: &Name) -> bool {
        self.is_fresh(table)
            || self.up_before(i).iter().any(
            |a| matches!(&a.kind, Kind::Create { obj: Obj::Table, name, .. } if surely_same(name, table)),
        )
    }

    /// The upgrade adds this column (or creates its table) before its `i`-th action.
    pub fn up_added_before(&self, i: usize, table: &Name, column: &Name) -> bool {
        self.up_created_before(i, table)
            || self.up_before(i).iter().any(|a| {
                matches!(&a.kind, Kind::AddColumn { table: t, column: c, .. } if surely_same(t, table) && surely_same(c, column))
            })
    }

    /// Before its `i`-th action the upgrade copied the rows of `table` into a table it keeps
    /// (`INSERT INTO new SELECT ... FROM table`), so dropping `table` there loses nothing.
    pub fn up_copied_out_before(&self, i: usize, table: &Name) -> bool {
        copied_out_before(self.up_actions(), i, table)
    }

    /// The upgrade adds this column.
    pub fn up_adds_column(&self, table: &Name, column: &Name) -> bool {
        self.up_creates_table(table)
            || self.up_any(|k| matches!(k, Kind::AddColumn { table: t, column: c, .. } if surely_same(t, table) && surely_same(c, column)))
    }
}
