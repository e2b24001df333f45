//! The per-dialect table of the conformance suite: the DDL and values that differ between
//! PostgreSQL and MySQL/MariaDB, and what each dialect's introspection must find.

use std::collections::BTreeMap;

use mrt_db::{
    CheckConstraint, Column, Dialect, ForeignKey, Index, Schema, UniqueConstraint, Value,
};

/// What the conformance suite needs to know about one dialect.
pub struct Spec {
    pub dialect: Dialect,
    /// The variable naming the server to test against.
    pub url_var: &'static str,
    /// The port mrt assumes when the URL names none.
    pub default_port: u16,
    /// How [`mrt_db::TempDb::url`] starts.
    pub url_scheme: &'static str,
    /// Tables `parent` (1, 'one'), (2, 'two') and `child` (10, 1), (11, 2) with a stored
    /// generated column, an empty `audit`, views `v_base` and `v_top` (over `v_base`) and an
    /// AFTER INSERT trigger `trg_child` on `child` that writes the new id into `audit`.
    pub lifecycle: &'static str,
    pub login: Login,
    pub rich: Rich,
    /// Schema changes, each on a fresh database, and the differences they must make.
    pub changes: &'static [Change],
    pub rows: RoundTrip,
    /// What a NOT NULL violation says.
    pub not_null: &'static str,
}

/// How a server refuses a login.
pub struct Login {
    /// A user to log in as instead of the URL's (None: the URL's user with a wrong password).
    pub refused_user: Option<&'static str>,
    /// What the refusal says.
    pub refusal: &'static str,
    /// Whether the server lets the URL's user in with any password (trust authentication), so
    /// a password can be seen travelling to the worker URL and masked everywhere else.
    pub any_password: bool,
}

/// A schema with every kind of object, and what introspecting it must give.
pub struct Rich {
    /// Ends with `alembic_version`, which the suite asks introspection to ignore.
    pub ddl: &'static str,
    pub tables: &'static [&'static str],
    /// The expected parts; the schema is given for what varies by server version.
    pub expect: fn(&Schema) -> Vec<Expect>,
}

/// One part of an introspected schema and its expected value.
pub enum Expect {
    Columns(&'static str, Vec<Column>),
    Column(&'static str, Column),
    /// The column's declared type is one of these.
    TypeOneOf(&'static str, &'static str, &'static [&'static str]),
    PrimaryKey(&'static str, Vec<String>),
    Uniques(&'static str, Vec<UniqueConstraint>),
    ForeignKeys(&'static str, Vec<ForeignKey>),
    Checks(&'static str, Vec<CheckConstraint>),
    Indexes(&'static str, Vec<Index>),
    Exclusions(&'static str, Vec<CheckConstraint>),
    /// A view's normalised definition.
    View(&'static str, &'static str),
    /// A trigger's table and normalised definition.
    Trigger(&'static str, &'static str, &'static str),
    Enums(BTreeMap<String, Vec<String>>),
    Sequences(BTreeMap<String, String>),
}

/// A schema change: `setup` on a fresh database, introspect, `change`, introspect, diff.
pub struct Change {
    pub what: &'static str,
    pub setup: &'static str,
    pub change: &'static str,
    /// The difference it must make; None: none at all.
    pub want: Option<Want>,
}

pub struct Want {
    pub object: &'static str,
    /// It is the only difference.
    pub only: bool,
    /// It was not there before.
    pub new: bool,
    /// Its value after the change, as shown.
    pub after: Option<&'static str>,
    /// The whole difference as shown.
    pub text: Option<&'static str>,
}

/// Rows of a table, made afresh for each use.
pub type Rows = fn() -> Vec<Vec<Value>>;

/// Rows of every kind written and read back.
pub struct RoundTrip {
    /// Table `k`, its first column an identity / auto-increment id.
    pub ddl: &'static str,
    /// A row of `k` with a value in every column, its id first and a float 1.5 at index 3.
    pub row: fn() -> Vec<Value>,
    /// The row as the server stores it.
    pub stored: fn(Vec<Value>) -> Vec<Value>,
    /// Inserts a row into `k` letting the server pick the id.
    pub next_insert: &'static str,
    /// Further tables written and read back exactly: DDL, table, rows.
    pub exact: &'static [(&'static str, &'static str, Rows)],
    /// A table without a key, its rows, and how they read back (a multiset in a stable order).
    pub keyless: (&'static str, Rows),
}

fn col(name: &str, ty: &str, nullable: bool) -> Column {
    Column {
        name: name.into(),
        data_type: ty.into(),
        nullable,
        ..Column::default()
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn fk(
    name: &str,
    columns: &[&str],
    ref_table: &str,
    on_delete: Option<&str>,
    on_update: Option<&str>,
) -> ForeignKey {
    ForeignKey {
        name: Some(name.into()),
        columns: strings(columns),
        ref_table: ref_table.into(),
        ref_columns: strings(&["id"]),
        on_delete: on_delete.map(String::from),
        on_update: on_update.map(String::from),
    }
}

fn unique(name: &str, columns: &[&str]) -> UniqueConstraint {
    UniqueConstraint {
        name: Some(name.into()),
        columns: strings(columns),
    }
}

fn index(name: &str, columns: &[&str], unique: bool) -> Index {
    Index {
        name: name.into(),
        columns: strings(columns),
        unique,
        partial: None,
        method: None,
    }
}

fn check(name: &str, expression: &str) -> CheckConstraint {
    CheckConstraint {
        name: Some(name.into()),
        expression: expression.into(),
    }
}

pub static POSTGRES: Spec = Spec {
    dialect: Dialect::Postgres,
    url_var: "MRT_TEST_POSTGRES_URL",
    default_port: 5432,
    url_scheme: "postgresql://",
    lifecycle:
        "CREATE TABLE parent (id int PRIMARY KEY, name varchar(20));
        CREATE TABLE child (id int PRIMARY KEY, parent_id int,
            total int GENERATED ALWAYS AS (id * 2) STORED,
            CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id));
        CREATE TABLE audit (n int);
        INSERT INTO parent VALUES (1, 'one'), (2, 'two');
        INSERT INTO child (id, parent_id) VALUES (10, 1), (11, 2);
        CREATE VIEW v_base AS SELECT id, name FROM parent;
        CREATE VIEW v_top AS SELECT id FROM v_base WHERE id > 1;
        CREATE FUNCTION audit_child() RETURNS trigger LANGUAGE plpgsql
            AS $$ BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NEW; END $$;
        CREATE TRIGGER trg_child AFTER INSERT ON child FOR EACH ROW EXECUTE FUNCTION audit_child();",
    // Trust authentication accepts any password for a real role: refuse one that does not exist.
    login: Login {
        refused_user: Some("mrt_no_such_role"),
        refusal: "does not exist",
        any_password: true,
    },
    rich: Rich {
        ddl: PG_RICH,
        tables: &["bookings", "memberships", "orgs", "users"],
        expect: pg_rich,
    },
    changes: &[
        Change {
            what: "scale change",
            setup: "CREATE TYPE st AS ENUM ('a', 'b');
                CREATE TABLE p (id int PRIMARY KEY, amount numeric(10,3), s st);",
            change: "ALTER TABLE p ALTER COLUMN amount TYPE numeric(10,2)",
            want: Some(Want {
                object: "column p.amount",
                only: true,
                new: false,
                after: None,
                text: Some("column p.amount: was NUMERIC(10, 3) NULL, now NUMERIC(10, 2) NULL"),
            }),
        },
        Change {
            what: "faithful drop and recreate",
            setup: "CREATE TYPE st AS ENUM ('a', 'b');
                CREATE TABLE p (id int PRIMARY KEY, amount numeric(10,3), s st);",
            change: "DROP TABLE p; DROP TYPE st; CREATE TYPE st AS ENUM ('a', 'b');
                CREATE TABLE p (id int PRIMARY KEY, amount numeric(10,3), s st);",
            want: None,
        },
        Change {
            what: "table dropped but not its enum type",
            setup: "",
            change: "CREATE TYPE st AS ENUM ('a', 'b'); CREATE TABLE p (s st); DROP TABLE p;",
            want: Some(Want {
                object: "enum type st",
                only: true,
                new: true,
                after: None,
                text: Some("enum type st: not there before, now ('a', 'b')"),
            }),
        },
        Change {
            what: "enum label added",
            setup: "CREATE TYPE st AS ENUM ('a', 'b');
                CREATE TABLE p (id int PRIMARY KEY, amount numeric(10,3), s st);",
            change: "ALTER TYPE st ADD VALUE 'c'",
            want: Some(Want {
                object: "enum type st",
                only: false,
                new: false,
                after: Some("('a', 'b', 'c')"),
                text: None,
            }),
        },
        Change {
            what: "sequence changed",
            setup: "CREATE SEQUENCE sq",
            change: "ALTER SEQUENCE sq INCREMENT 2",
            want: Some(Want {
                object: "sequence sq",
                only: true,
                new: false,
                after: None,
                text: None,
            }),
        },
    ],
    rows: RoundTrip {
        ddl: "CREATE TYPE mood AS ENUM ('sad', 'ok');
            CREATE TABLE k (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                i2 smallint, i4 integer, f4 real, f8 double precision, b boolean,
                n numeric(12,3), t text, vc varchar(10), ts timestamptz, d date, tm time,
                u uuid, j json, jb jsonb, by bytea, arr integer[], tarr text[], e mood,
                iv interval);",
        row: || {
            vec![
                Value::Int(7),
                Value::Int(-32768),
                Value::Int(2147483647),
                Value::Float(1.5),
                Value::Float(-1e-300),
                Value::Bool(true),
                text("12.345"),
                text("héllo 'q'"),
                text("short"),
                text("2024-02-29 23:59:59.123456+00"),
                text("2024-02-29"),
                text("13:14:15"),
                text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                text("{\"b\": 1, \"a\": [1, 2]}"),
                text("{\"b\": 1, \"a\": [1, 2]}"),
                Value::Bytes(vec![0, 1, 255]),
                text("{1,2,3}"),
                text("{a,\"b c\"}"),
                text("ok"),
                text("1 day 02:00:00"),
            ]
        },
        // jsonb is stored normalised (keys sorted, spacing canonical); json as given.
        stored: |mut row| {
            row[14] = text("{\"a\": [1, 2], \"b\": 1}");
            row
        },
        next_insert: "INSERT INTO k (i2) VALUES (1)",
        exact: &[
            // NaN and infinities survive in double precision.
            ("CREATE TABLE f (id int PRIMARY KEY, x float8)", "f", || {
                vec![
                    vec![Value::Int(20), Value::Float(f64::NAN)],
                    vec![Value::Int(21), Value::Float(f64::INFINITY)],
                ]
            }),
            // CHAR(n) keeps the whole value (a cast to plain `character` would keep one
            // character), arrays of it too.
            (
                "CREATE TABLE c (id char(36) PRIMARY KEY, tags char(3)[])",
                "c",
                || {
                    vec![
                        vec![
                            text("8f437e03-fea3-4ff3-a326-eb1081617e55"),
                            text("{abc,\"de \"}"),
                        ],
                        vec![text("8f437e03-fea3-4ff3-a326-eb1081617e56"), Value::Null],
                    ]
                },
            ),
        ],
        // json has no ordering operator: rows are ordered by its text.
        keyless: (
            "CREATE TABLE nk (j json, v int);
             INSERT INTO nk VALUES ('{\"x\":2}', 2), ('{\"x\":1}', 1), ('{\"x\":1}', 1);",
            || {
                vec![
                    vec![text("{\"x\":1}"), Value::Int(1)],
                    vec![text("{\"x\":1}"), Value::Int(1)],
                    vec![text("{\"x\":2}"), Value::Int(2)],
                ]
            },
        ),
    },
    not_null: "not-null",
};

const PG_RICH: &str = r#"
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SEQUENCE invoice_no START 1000 INCREMENT 5;
CREATE TABLE orgs (id serial PRIMARY KEY, name varchar(50) NOT NULL UNIQUE, code text,
    CONSTRAINT uq_orgs_code UNIQUE (code));
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id integer REFERENCES orgs(id) ON DELETE CASCADE,
    email varchar(120) NOT NULL,
    status varchar(8) DEFAULT 'active' CONSTRAINT ck_users_status CHECK (status IN ('active', 'banned')),
    balance numeric(12, 2) DEFAULT 0,
    feeling mood NOT NULL DEFAULT 'ok',
    created timestamptz DEFAULT now(),
    tags text[],
    nick text COLLATE "C",
    CHECK (balance >= 0)
);
CREATE TABLE memberships (
    user_id bigint NOT NULL, org_id integer NOT NULL, role text,
    PRIMARY KEY (user_id, org_id),
    CONSTRAINT fk_m_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE SET NULL,
    FOREIGN KEY (org_id) REFERENCES orgs
);
CREATE TABLE bookings (room int NOT NULL, during tstzrange NOT NULL,
    CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&));
CREATE INDEX ix_users_email ON users (email);
CREATE UNIQUE INDEX ux_users_org_email ON users (org_id, lower(email) DESC);
CREATE INDEX ix_users_active ON users (created) WHERE status = 'active';
CREATE INDEX ix_users_tags ON users USING gin (tags);
CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.created := now(); RETURN NEW; END $$;
CREATE TRIGGER trg_users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TABLE alembic_version (version_num varchar(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
"#;

fn pg_rich(_: &Schema) -> Vec<Expect> {
    vec![
        Expect::Columns(
            "orgs",
            vec![
                Column {
                    autoincrement: true,
                    default: Some("nextval ('orgs_id_seq'::regclass)".into()),
                    ..col("id", "integer", false)
                },
                Column {
                    max_length: Some(50),
                    ..col("name", "character varying(50)", false)
                },
                col("code", "text", true),
            ],
        ),
        Expect::PrimaryKey("orgs", strings(&["id"])),
        Expect::Uniques(
            "orgs",
            vec![
                unique("uq_orgs_code", &["code"]),
                unique("orgs_name_key", &["name"]),
            ],
        ),
        Expect::Column(
            "users",
            Column {
                autoincrement: true,
                identity: Some("ALWAYS".into()),
                ..col("id", "bigint", false)
            },
        ),
        Expect::Column(
            "users",
            Column {
                default: Some("'active'::character varying".into()),
                max_length: Some(8),
                enum_values: Some(strings(&["active", "banned"])),
                ..col("status", "character varying(8)", true)
            },
        ),
        Expect::Column(
            "users",
            Column {
                default: Some("0".into()),
                numeric_precision: Some(12),
                numeric_scale: Some(2),
                ..col("balance", "numeric(12,2)", true)
            },
        ),
        Expect::Column(
            "users",
            Column {
                default: Some("'ok'::mood".into()),
                enum_values: Some(strings(&["sad", "ok", "happy"])),
                ..col("feeling", "mood", false)
            },
        ),
        Expect::Column(
            "users",
            Column {
                default: Some("now ()".into()),
                ..col("created", "timestamp with time zone", true)
            },
        ),
        Expect::Column("users", col("tags", "text[]", true)),
        Expect::Column(
            "users",
            Column {
                collation: Some("C".into()),
                ..col("nick", "text", true)
            },
        ),
        Expect::ForeignKeys(
            "users",
            vec![fk("users_org_id_fkey", &["org_id"], "orgs", Some("CASCADE"), None)],
        ),
        Expect::Checks(
            "users",
            vec![
                check("users_balance_check", "balance >= 0::numeric"),
                check(
                    "ck_users_status",
                    "status::text = any (array['active'::character varying, 'banned'::character varying]::text[])",
                ),
            ],
        ),
        Expect::Indexes(
            "users",
            vec![
                Index {
                    partial: Some("status::text = 'active'::text".into()),
                    ..index("ix_users_active", &["created"], false)
                },
                index("ix_users_email", &["email"], false),
                Index {
                    method: Some("gin".into()),
                    ..index("ix_users_tags", &["tags"], false)
                },
                index(
                    "ux_users_org_email",
                    &["org_id", "lower (email::text) DESC"],
                    true,
                ),
            ],
        ),
        Expect::PrimaryKey("memberships", strings(&["user_id", "org_id"])),
        Expect::ForeignKeys(
            "memberships",
            vec![
                fk("memberships_org_id_fkey", &["org_id"], "orgs", None, None),
                fk(
                    "fk_m_user",
                    &["user_id"],
                    "users",
                    Some("CASCADE"),
                    Some("SET NULL"),
                ),
            ],
        ),
        Expect::Exclusions(
            "bookings",
            vec![check(
                "no_overlap",
                "exclude using gist (room with =, during with &&)",
            )],
        ),
        Expect::View(
            "active_users",
            "create view active_users as select users.id, users.email from users where users.status::text = 'active'::text",
        ),
        Expect::Trigger(
            "trg_users_touch",
            "users",
            "create trigger trg_users_touch before update on users for each row execute function touch ()",
        ),
        Expect::Enums(BTreeMap::from([(
            "mood".to_string(),
            strings(&["sad", "ok", "happy"]),
        )])),
        Expect::Sequences(BTreeMap::from([
            (
                "invoice_no".to_string(),
                "AS bigint START 1000 INCREMENT 5 MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE".to_string(),
            ),
            (
                "orgs_id_seq".to_string(),
                "AS integer START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 2147483647 CACHE 1 NO CYCLE OWNED BY orgs.id".to_string(),
            ),
        ])),
    ]
}

pub static MYSQL: Spec = Spec {
    dialect: Dialect::Mysql,
    url_var: "MRT_TEST_MYSQL_URL",
    default_port: 3306,
    url_scheme: "mysql://",
    lifecycle: "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20));
        CREATE TABLE child (id INT PRIMARY KEY, parent_id INT,
            total INT AS (id * 2) STORED,
            CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id));
        CREATE TABLE audit (n INT);
        INSERT INTO parent VALUES (1, 'one'), (2, 'two');
        INSERT INTO child (id, parent_id) VALUES (10, 1), (11, 2);
        CREATE VIEW v_base AS SELECT id, name FROM parent;
        CREATE VIEW v_top AS SELECT id FROM v_base WHERE id > 1;
        CREATE TRIGGER trg_child AFTER INSERT ON child FOR EACH ROW INSERT INTO audit VALUES (NEW.id);",
    login: Login {
        refused_user: None,
        refusal: "Access denied",
        any_password: false,
    },
    rich: Rich {
        ddl: MYSQL_RICH,
        tables: &["memberships", "orgs", "users"],
        expect: mysql_rich,
    },
    changes: &[
        Change {
            what: "scale change",
            setup: "CREATE TABLE p (id INT PRIMARY KEY, amount DECIMAL(10,3), s ENUM('a','b'));",
            change: "ALTER TABLE p MODIFY amount DECIMAL(10,2)",
            want: Some(Want {
                object: "column p.amount",
                only: true,
                new: false,
                after: None,
                text: Some("column p.amount: was DECIMAL(10, 3) NULL, now DECIMAL(10, 2) NULL"),
            }),
        },
        Change {
            what: "ENUM members changed",
            setup: "CREATE TABLE p (id INT PRIMARY KEY, amount DECIMAL(10,3), s ENUM('a','b'));",
            change: "ALTER TABLE p MODIFY s ENUM('a','b','c')",
            want: Some(Want {
                object: "column p.s",
                only: false,
                new: false,
                after: None,
                text: None,
            }),
        },
        Change {
            what: "faithful drop and recreate",
            setup: "CREATE TABLE p (id INT PRIMARY KEY, amount DECIMAL(10,3), s ENUM('a','b'));",
            change: "DROP TABLE p;
                CREATE TABLE p (id INT PRIMARY KEY, amount DECIMAL(10,3), s ENUM('a','b'));",
            want: None,
        },
    ],
    rows: RoundTrip {
        ddl: "CREATE TABLE k (id BIGINT AUTO_INCREMENT PRIMARY KEY, ti TINYINT, b BOOLEAN,
                f FLOAT, d DOUBLE, n DECIMAL(12,3), t TEXT, vc VARCHAR(10), ts TIMESTAMP(6) NULL,
                dt DATETIME, dd DATE, tm TIME, j JSON, vb VARBINARY(10), bl BLOB,
                e ENUM('x','y'), st SET('p','q'), u BIGINT UNSIGNED) CHARSET utf8mb4;",
        row: || {
            vec![
                Value::Int(5),
                Value::Int(-128),
                Value::Bool(true),
                Value::Float(1.5),
                Value::Float(-1e-300),
                text("12.345"),
                text("héllo 'q' \u{1F600}"),
                text("short"),
                text("2024-02-29 23:59:59.123456"),
                text("2024-02-29 01:02:03"),
                text("2024-02-29"),
                text("13:14:15"),
                text("{\"a\": 1}"),
                Value::Bytes(vec![0, 1, 255]),
                Value::Bytes(vec![]),
                text("y"),
                text("p,q"),
                text("18446744073709551615"),
            ]
        },
        // BOOLEAN is TINYINT(1).
        stored: |mut row| {
            row[2] = Value::Int(1);
            row
        },
        next_insert: "INSERT INTO k (ti) VALUES (1)",
        exact: &[],
        keyless: (
            "CREATE TABLE nk (t TEXT, v INT);
             INSERT INTO nk VALUES ('b', 2), ('a', 1), ('a', 1);",
            || {
                vec![
                    vec![text("a"), Value::Int(1)],
                    vec![text("a"), Value::Int(1)],
                    vec![text("b"), Value::Int(2)],
                ]
            },
        ),
    },
    not_null: "cannot be null",
};

const MYSQL_RICH: &str = r#"
CREATE TABLE orgs (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE,
    code VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_bin,
    CONSTRAINT uq_orgs_code UNIQUE (code)) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
CREATE TABLE users (
    id BIGINT NOT NULL AUTO_INCREMENT,
    org_id INT,
    email VARCHAR(120) NOT NULL,
    status ENUM('active', 'banned') NOT NULL DEFAULT 'active',
    flags SET('a', 'b'),
    balance DECIMAL(12, 2) DEFAULT 0,
    created TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    CONSTRAINT users_org FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE,
    CONSTRAINT ck_balance CHECK (balance >= 0)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
CREATE TABLE memberships (
    user_id BIGINT NOT NULL, org_id INT NOT NULL, role TEXT,
    PRIMARY KEY (user_id, org_id),
    CONSTRAINT fk_m_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT fk_m_org FOREIGN KEY (org_id) REFERENCES orgs (id)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
CREATE INDEX ix_users_email ON users (email);
CREATE UNIQUE INDEX ux_users_org_email ON users (org_id, email(20));
CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';
CREATE TRIGGER trg_users_bi BEFORE INSERT ON users FOR EACH ROW SET NEW.email = LOWER(NEW.email);
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, PRIMARY KEY (version_num));
"#;

/// Character columns of the tables made with utf8mb4_unicode_ci.
fn text_col(name: &str, ty: &str, nullable: bool) -> Column {
    Column {
        charset: Some("utf8mb4".into()),
        collation: Some("utf8mb4_unicode_ci".into()),
        ..col(name, ty, nullable)
    }
}

fn mysql_rich(s: &Schema) -> Vec<Expect> {
    let declared = |table: &str, column: &str| {
        s.tables
            .get(table)
            .and_then(|t| t.column(column))
            .map(|c| c.data_type.clone())
            .unwrap_or_default()
    };
    // MariaDB keeps the display width, MySQL 8 drops it.
    let int = if declared("orgs", "id") == "int" {
        "int"
    } else {
        "int(11)"
    };
    let bigint = declared("users", "id");
    vec![
        Expect::Columns(
            "orgs",
            vec![
                Column {
                    autoincrement: true,
                    ..col("id", int, false)
                },
                Column {
                    max_length: Some(50),
                    ..text_col("name", "varchar(50)", false)
                },
                Column {
                    max_length: Some(10),
                    charset: Some("latin1".into()),
                    collation: Some("latin1_bin".into()),
                    ..col("code", "varchar(10)", true)
                },
            ],
        ),
        Expect::PrimaryKey("orgs", strings(&["id"])),
        Expect::Uniques(
            "orgs",
            vec![unique("uq_orgs_code", &["code"]), unique("name", &["name"])],
        ),
        Expect::TypeOneOf("users", "id", &["bigint", "bigint(20)"]),
        Expect::Column(
            "users",
            Column {
                autoincrement: true,
                ..col("id", &bigint, false)
            },
        ),
        Expect::Column(
            "users",
            Column {
                default: Some("'active'".into()),
                enum_values: Some(strings(&["active", "banned"])),
                ..text_col("status", "enum('active','banned')", false)
            },
        ),
        Expect::Column(
            "users",
            Column {
                enum_values: Some(strings(&["a", "b"])),
                ..text_col("flags", "set('a','b')", true)
            },
        ),
        Expect::Column(
            "users",
            Column {
                default: Some("0.00".into()),
                numeric_precision: Some(12),
                numeric_scale: Some(2),
                ..col("balance", "decimal(12,2)", true)
            },
        ),
        Expect::Column(
            "users",
            Column {
                default: Some("current_timestamp ()".into()),
                ..col("created", "timestamp", true)
            },
        ),
        Expect::ForeignKeys(
            "users",
            vec![fk("users_org", &["org_id"], "orgs", Some("CASCADE"), None)],
        ),
        Expect::Checks("users", vec![check("ck_balance", "balance >= 0")]),
        Expect::Indexes("users", vec![index("ix_users_email", &["email"], false)]),
        Expect::Uniques(
            "users",
            vec![unique("ux_users_org_email", &["org_id", "email(20)"])],
        ),
        Expect::PrimaryKey("memberships", strings(&["user_id", "org_id"])),
        Expect::ForeignKeys(
            "memberships",
            vec![
                fk("fk_m_org", &["org_id"], "orgs", None, None),
                fk(
                    "fk_m_user",
                    &["user_id"],
                    "users",
                    Some("CASCADE"),
                    Some("CASCADE"),
                ),
            ],
        ),
        Expect::View(
            "active_users",
            "create view active_users as select users.id as id, users.email as email from users where users.status = 'active'",
        ),
        Expect::Trigger(
            "trg_users_bi",
            "users",
            "create trigger trg_users_bi before insert on users for each row set new.email = lower (new.email)",
        ),
        Expect::Enums(BTreeMap::new()),
        Expect::Sequences(BTreeMap::new()),
    ]
}
