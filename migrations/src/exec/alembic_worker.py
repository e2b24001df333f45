"""mrt's Alembic worker: runs one migration step per request, JSON lines over stdin/stdout.

Shipped inside the mrt binary. One process per parallel slot, so Python and Alembic are imported
once and the ScriptDirectory is parsed once (DESIGN.md, "Persistent Python workers").

argv: PROJECT_ROOT INI_OR_EMPTY PYPROJECT_OR_EMPTY URL_ENV INI_SECTION
request:  {"id": 1, "op": "upgrade" | "downgrade", "target": "ab12", "url": "sqlite:///...",
           "version_table": "alembic_version", "revisions": ["ab12"], "from": ["9f3c"]}
          The step runs exactly "revisions", in that order, when the database's heads are "from"
          (Alembic's own target resolution walks the whole revision map on every step); with other
          heads it is a plain upgrade/downgrade to "target", as `alembic upgrade/downgrade` does.
          "master": true asks for SQLite's sqlite_master texts after the step.
greeting: {"status": "ready", "framework": "alembic", "version": "1.16.1", "python": "/usr/bin/python3"}
          {"status": "unavailable", "error": "No module named 'alembic'", "python": "..."}
response: {"id": 1, "status": "ok", "heads": ["ab12"] (downgrades; null after upgrades),
           "statements": ["CREATE TABLE ...", ...], "master": "[[...]]" or null,
           "elapsed_ms": 12.5 (the migration itself, env.py included, without mrt's reads)}
          {"id": 1, "status": "failed", "error": "...", "traceback": "..."}
          {"id": 1, "status": "refused", "message": "..."} when env.py connected to a database
          other than the step's own (see _Guard): mrt then stops the whole run.
          "op": "drift" runs env.py without migrating and compares the database with the
          target_metadata env.py configures (Alembic's autogenerate comparison): the reply's
          "drift" is the list of differences, or null when env.py gave no metadata.
"""
import gc
import json
import os
import sys
import time
import traceback

# The protocol owns the real stdout; anything user code prints goes to stderr instead.
_proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr


def send(obj):
    _proto.write(json.dumps(obj) + "\n")
    _proto.flush()


def main():
    root, ini, toml, url_env = sys.argv[1:5]
    section = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else "alembic"
    os.chdir(root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        import sqlalchemy as sa
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        import alembic
    except ImportError as e:
        send({"status": "unavailable", "error": f"{e}", "python": sys.executable})
        return
    kwargs = {"ini_section": section}
    if toml:
        kwargs["toml_file"] = toml
    try:
        cfg = Config(ini or None, **kwargs)
    except TypeError:  # Alembic < 1.16 has no pyproject support
        cfg = Config(ini or None, ini_section=section)
    script = ScriptDirectory.from_config(cfg)
    # Cache the parsed script directory: a fresh one per step costs ~20 ms on long chains.
    ScriptDirectory.from_config = classmethod(lambda cls, config: script)
    # Every statement any engine executes during a step, so mrt knows which tables a step touched
    # (including env.py files that build their own engine).
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", _capture)
    sa.event.listen(sa.engine.Engine, "do_connect", _GUARD.before_connect)
    sa.event.listen(sa.pool.Pool, "connect", _GUARD.after_connect)
    sa.event.listen(sa.pool.Pool, "connect", _throwaway)
    _GUARD.env_py = getattr(script, "env_py_location", "env.py")
    _ASYNC["env"] = _env_is_async(_GUARD.env_py)
    _cache_env_code(alembic)
    _linear_unmerge()
    _remember_version_table()
    _trust_known_heads()
    # Alembic, SQLAlchemy and every revision module live as long as the worker: keep them out of
    # the cyclic collector's scans (a full scan walks them all, more often the longer the chain).
    gc.collect()
    gc.freeze()
    send(
        {
            "status": "ready",
            "framework": "alembic",
            "version": alembic.__version__,
            "python": sys.executable,
        }
    )
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            _statements.clear()
            _DRIFT["diffs"] = None
            heads, statements, master, elapsed = run(req, cfg, script, url_env)
            reply = {
                "id": req.get("id"),
                "status": "ok",
                "heads": heads,
                "statements": statements,
                "master": master,
                "elapsed_ms": elapsed * 1000.0,
            }
            if req.get("op") == "drift":
                reply["drift"] = _DRIFT["diffs"]
            send(reply)
        except BaseException as e:  # noqa: BLE001 - every failure is reported, the worker lives on
            if _GUARD.refused:
                # Even if env.py caught the refusal, the run must stop.
                send({"id": req.get("id"), "status": "refused", "message": _GUARD.refused})
            else:
                send(
                    {
                        "id": req.get("id"),
                        "status": "failed",
                        "error": "".join(traceback.format_exception_only(type(e), e)).strip(),
                        "traceback": traceback.format_exc(),
                    }
                )
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                return
        finally:
            _GUARD.end_step()


def _cache_env_code(alembic):
    """env.py runs on every step; Alembic imports it afresh each time, which recompiles it when
    bytecode caching is off (PYTHONDONTWRITEBYTECODE, read-only trees). Keep its code object (per
    path, mtime and size) and run it in a fresh module, as Alembic's loader would."""
    import importlib.util
    import pathlib
    import re

    import alembic.util

    original = alembic.util.load_python_file
    compiled = {}

    def load_python_file(dir_, filename):
        path = pathlib.Path(dir_) / pathlib.Path(filename).name
        try:
            st = path.stat()
        except OSError:
            return original(dir_, filename)
        if path.suffix != ".py":
            return original(dir_, filename)
        key = (str(path), st.st_mtime_ns, st.st_size)
        code = compiled.get(key)
        if code is None:
            code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
            compiled[key] = code
        spec = importlib.util.spec_from_file_location(re.sub(r"\W", "_", path.name), path)
        module = importlib.util.module_from_spec(spec)
        exec(code, module.__dict__)
        return module

    alembic.util.load_python_file = load_python_file


def _linear_unmerge():
    """Every downgrade asks which of its parents stay heads; with no other head and one parent,
    Alembic still collects all ancestors of that parent (a walk as long as the chain, per step)
    to remove them from a one-element set, which can never lose its element: a revision is not
    its own ancestor. Answer that case directly; every other case goes to Alembic."""
    from alembic.runtime.migration import RevisionStep

    original = RevisionStep._unmerge_to_revisions

    def unmerge_to_revisions(self, heads):
        if len(self.to_revisions) == 1 and set(heads) <= {self.revision.revision}:
            return tuple(self.to_revisions)
        return original(self, heads)

    RevisionStep._unmerge_to_revisions = unmerge_to_revisions


# (engine URL, schema, name) of every version table seen to exist.
_version_tables = set()


def _version_key(url, schema, name):
    return (str(url), schema, name)


def _remember_version_table():
    """Alembic asks the server whether its version table exists at the start of every step (a
    catalog query, ~15% of a step on PostgreSQL). Once it has been seen on a database it stays:
    mrt's databases are never reused under another name, and Alembic only ever creates it.
    Absent answers are not remembered (a failed first step rolls its creation back)."""
    from alembic.runtime.migration import MigrationContext

    original = MigrationContext._has_version_table
    seen = _version_tables

    def has_version_table(self):
        if self.connection is None:
            return original(self)
        key = _version_key(self.connection.engine.url, self.version_table_schema, self.version_table)
        if key in seen:
            return True
        found = original(self)
        if found:
            seen.add(key)
        return found

    MigrationContext._has_version_table = has_version_table


# The heads mrt knows the step's database has, and that database (see _trust_known_heads).
_known = {"heads": None, "database": None}


def _trust_known_heads():
    """Alembic reads the version table at the start of every step (a round trip, ~15% of a
    PostgreSQL step). mrt knows what it holds: a database whose trial failed is dropped, and
    every downgrade's heads are read and checked. So the first read of a step on mrt's own
    database answers with the heads mrt sent; a wrong answer could not pass unnoticed anyway,
    since Alembic's version update checks that exactly one row matched. Any other database, a
    second read, or offline mode go to Alembic."""
    from alembic.runtime.migration import MigrationContext

    original = MigrationContext.get_current_heads

    def get_current_heads(self):
        heads, database = _known["heads"], _known["database"]
        _known["heads"] = None
        connection = self.connection
        if heads is None or self.as_sql or connection is None:
            return original(self)
        if connection.engine.url.database != database:
            return original(self)
        if heads:
            # Heads are rows of the version table: it exists (see _remember_version_table).
            key = _version_key(connection.engine.url, self.version_table_schema, self.version_table)
            _version_tables.add(key)
        return heads

    MigrationContext.get_current_heads = get_current_heads


_statements = []
_MAX_STATEMENTS = 5000


def _capture(conn, cursor, statement, parameters, context, executemany):
    _GUARD.saw_statement(conn)
    if len(_statements) < _MAX_STATEMENTS and (not _statements or _statements[-1] != statement):
        _statements.append(statement)



class ForeignDatabase(RuntimeError):
    """env.py connected to a database mrt did not create for this step."""


def _url_target(url):
    """What a SQLAlchemy URL points at: ("sqlite", real path) or (family, host, port, database)."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return ("sqlite", _real(url.database))
    return _server_target(backend, url.host, url.port, url.database)


def _server_target(backend, host, port, database):
    family = "mysql" if backend in ("mysql", "mariadb") else backend
    default = {"postgresql": 5432, "mysql": 3306}.get(family)
    return (family, host or "localhost", int(port or default or 0), database)


def _real(path):
    if not path or path == ":memory:" or path.startswith("file:"):
        return path or ":memory:"
    return os.path.realpath(path)


def _describe(target):
    if target is None:
        return "no database (outside a step)"
    if target[0] == "sqlite":
        return f"SQLite file {target[1]}"
    family, host, port, database = target
    return f"{family} database {database!r} on {host}:{port}"


class _Guard:
    """mrt must never migrate a database it did not create (an env.py that builds its engine
    from a fixed URL would otherwise migrate the user's own database, and its trials would pass
    on mrt's empty one). Three checks, first to last:
    - before SQLAlchemy connects (the `do_connect` event: no socket opened, no SQLite file
      created), the connection's arguments must point at the step's database;
    - once a DBAPI connection exists (pool `connect`: covers engines with a custom `creator`),
      the driver's own idea of its database must be the step's, before any statement runs;
    - after a step, at least one statement must have run on the step's database (Alembic always
      writes its version table), or env.py migrated somewhere else, e.g. through an engine kept
      from an earlier step.
    A refusal is remembered for the step, so env.py catching the exception changes nothing."""

    def __init__(self):
        self.target = None
        self.url_env = "DATABASE_URL"
        self.env_py = "env.py"
        self.refused = None
        self.touched = False
        self.steps = 0
        self._targets = {}

    def start_step(self, url, url_env):
        import sqlalchemy as sa

        self.target = _url_target(sa.engine.make_url(url))
        self.url_env = url_env
        self.refused = None
        self.touched = False
        # Migrations the step ran: one with none to run writes nothing, not even the version table.
        self.steps = 0

    def end_step(self):
        self.target = None
        self.refused = None

    def refuse(self, what):
        message = (
            f"{self.env_py} {what}. mrt never runs migrations on a database it did not create, "
            "so the run stops here. Make env.py take its "
            "URL from `config.get_main_option(\"sqlalchemy.url\")` (as Alembic's templates do), "
            f"from ${self.url_env}, or use `config.attributes[\"connection\"]` when it is set; "
            "see README, \"env.py and mrt's database\"."
        )
        if self.refused is None:
            self.refused = message
        raise ForeignDatabase(message)

    def before_connect(self, dialect, _record, cargs, cparams):
        if dialect.name == "sqlite":
            path = cargs[0] if cargs else cparams.get("database")
            got = ("sqlite", _real(path))
        else:
            database = cparams.get("dbname") or cparams.get("database") or cparams.get("db")
            got = _server_target(dialect.name, cparams.get("host"), cparams.get("port"), database)
        if got != self.target:
            self.refuse(f"tried to connect to {_describe(got)}, not {self._own()}; it was stopped before connecting")

    def after_connect(self, dbapi_connection, _record):
        got = _dbapi_target(dbapi_connection)
        if got is not None and got != self.target:
            dbapi_connection.close()
            self.refuse(f"connected to {_describe(got)}, not {self._own()}; it was stopped before its first statement")

    def saw_statement(self, conn):
        if self.touched:
            return
        url = conn.engine.url
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) > 64:
                self._targets.clear()
            target = self._targets[url] = _url_target(url)
        if target == self.target:
            self.touched = True

    def check_touched(self):
        if self.steps and not self.touched:
            self.refuse(
                f"ran the step without a single statement on {self._own()}: it migrated another "
                "database (an engine kept from an earlier step, or one built from a fixed URL)"
            )

    def _own(self):
        return f"the database mrt created for this step ({_describe(self.target)})"


def _dbapi_target(dbapi_connection):
    """The database a live DBAPI connection is on, asked of the driver (None: unknown driver)."""
    module = type(dbapi_connection).__module__
    if module == "sqlite3":
        cursor = dbapi_connection.cursor()
        try:
            files = [row[2] for row in cursor.execute("PRAGMA database_list") if row[1] == "main"]
        finally:
            cursor.close()
        return ("sqlite", _real(files[0] if files else ""))
    if module.startswith("psycopg2"):
        info = dbapi_connection.info
        return _server_target("postgresql", info.host, info.port, info.dbname)
    if module.startswith("psycopg"):
        info = dbapi_connection.info
        return _server_target("postgresql", info.host, info.port, info.dbname)
    if module.startswith("pymysql"):
        db = dbapi_connection.db
        db = db.decode() if isinstance(db, bytes) else db
        return _server_target("mysql", dbapi_connection.host, dbapi_connection.port, db)
    return None


_GUARD = _Guard()

# Directories holding mrt's SQLite trial databases, and names of its server databases.
_trial_dirs = set()
_trial_dbs = set()


def _throwaway(dbapi_connection, _record):
    """mrt's own databases are throwaway copies: nothing in them must survive a crash, so no
    fsync, no journal file (SQLite) and no WAL flush per commit (PostgreSQL); those are a large
    share of a step. The SQLite journal goes to memory only while the file is in the default
    rollback mode: a database the app's engine switched to WAL stays in WAL (forcing it back
    needs the only connection, and any other one open made every next step "database is
    locked"). Any other database env.py connects to is left alone (and refused, see _Guard)."""
    module = type(dbapi_connection).__module__
    if module == "sqlite3" and _trial_dirs:
        cursor = dbapi_connection.cursor()
        try:
            files = [row[2] for row in cursor.execute("PRAGMA database_list") if row[1] == "main"]
            if files and os.path.dirname(files[0]) in _trial_dirs:
                cursor.execute("PRAGMA synchronous=OFF")
                mode = cursor.execute("PRAGMA journal_mode").fetchone()
                if mode and str(mode[0]).lower() == "delete":
                    cursor.execute("PRAGMA journal_mode=MEMORY")
        finally:
            cursor.close()
    elif module.startswith("pymysql"):
        _keepalive(dbapi_connection)
    elif module.startswith("psycopg"):
        if getattr(getattr(dbapi_connection, "info", None), "dbname", None) in _trial_dbs:
            cursor = dbapi_connection.cursor()
            cursor.execute("SET synchronous_commit TO off")
            cursor.close()
            dbapi_connection.commit()


# Whether env.py builds an async engine (Alembic's async template): it is then handed a URL
# with an async driver, while mrt's own engine in the worker stays synchronous.
_ASYNC = {"env": False}


def _env_is_async(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    return any(word in text for word in ("async_engine_from_config", "create_async_engine", "AsyncEngine"))


# Async drivers, in order of preference, for env.py files that need one.
_ASYNC_DRIVERS = {
    "sqlite": [("aiosqlite", "sqlite+aiosqlite")],
    "postgresql": [("psycopg", "postgresql+psycopg"), ("asyncpg", "postgresql+asyncpg")],
    "postgres": [("psycopg", "postgresql+psycopg"), ("asyncpg", "postgresql+asyncpg")],
    "mysql": [("asyncmy", "mysql+asyncmy"), ("aiomysql", "mysql+aiomysql")],
    "mariadb": [("asyncmy", "mysql+asyncmy"), ("aiomysql", "mysql+aiomysql")],
}
_chosen_async = {}


def with_async_driver(url):
    """mrt's URL with the first async driver installed for its dialect; an error naming the
    packages to install when there is none (`--provision` installs them)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "+" in scheme or scheme not in _ASYNC_DRIVERS:
        return url
    if scheme not in _chosen_async:
        for module, full in _ASYNC_DRIVERS[scheme]:
            try:
                __import__(module)
                if full.startswith("postgresql+psycopg"):
                    import psycopg  # noqa: F401 - psycopg 3 has the async API
            except ImportError:
                continue
            _chosen_async[scheme] = full
            break
        else:
            names = " or ".join(m for m, _ in _ASYNC_DRIVERS[scheme])
            raise RuntimeError(
                f"env.py builds an async engine, and {sys.executable} has no async driver for "
                f"{scheme}: install {names} (and sqlalchemy[asyncio]) there, or run mrt with --provision"
            )
    full = _chosen_async[scheme]
    if full in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        return f"{full}://{rest}"
    # psycopg takes libpq's options, aiomysql and asyncmy PyMySQL's: as the sync drivers get.
    return full + "://" + with_driver(url).partition("://")[2]


# SQLAlchemy needs a driver in the URL; mrt's URLs name none, so take the first one installed.
_DRIVERS = {
    "postgresql": [("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")],
    "postgres": [("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")],
    "mysql": [("pymysql", "mysql+pymysql"), ("MySQLdb", "mysql+mysqldb")],
    "mariadb": [("pymysql", "mysql+pymysql"), ("MySQLdb", "mysql+mysqldb")],
}
_chosen = {}


def with_driver(url):
    scheme, sep, rest = url.partition("://")
    if not sep or "+" in scheme or scheme not in _DRIVERS:
        return url
    if scheme not in _chosen:
        for module, full in _DRIVERS[scheme]:
            try:
                __import__(module)
            except ImportError:
                continue
            _chosen[scheme] = full
            break
        else:
            names = " or ".join(m for m, _ in _DRIVERS[scheme])
            raise RuntimeError(f"no SQLAlchemy driver for {scheme}: install {names} into {sys.executable}")
    full = _chosen[scheme]
    extra = _MYSQL_OPTIONS if full.startswith("mysql") else _PG_OPTIONS
    for key, value in extra:
        if f"{key}=" not in rest:
            rest += ("&" if "?" in rest else "?") + f"{key}={value}"
    return f"{full}://{rest}"


# A server that goes away mid-step (a restart, a lost network) must fail the step within
# seconds, not after the step timeout: libpq's connect timeout and TCP keepalives (a dead peer
# is noticed after ~11 s of silence); for MySQL a connect timeout here and keepalives on the
# socket (see _keepalive).
_PG_OPTIONS = [
    ("connect_timeout", "10"),
    ("keepalives", "1"),
    ("keepalives_idle", "5"),
    ("keepalives_interval", "2"),
    ("keepalives_count", "3"),
    ("tcp_user_timeout", "15000"),
]
_MYSQL_OPTIONS = [("charset", "utf8mb4"), ("connect_timeout", "10")]


def _keepalive(dbapi_connection):
    """TCP keepalives on a PyMySQL connection's socket (the driver has no option for them)."""
    import socket

    sock = getattr(dbapi_connection, "_sock", None)
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3), ("TCP_USER_TIMEOUT", 15000)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    except OSError:
        pass


def run(req, cfg, script, url_env):
    import sqlalchemy as sa

    url = with_driver(req["url"])
    _GUARD.start_step(url, url_env)
    if url.startswith("sqlite:///"):
        _trial_dirs.add(os.path.dirname(url[len("sqlite:///"):]))
    else:
        _trial_dbs.add(sa.engine.make_url(url).database)
    # What env.py is given; mrt's own engine below stays on the sync driver.
    given = with_async_driver(req["url"]) if _ASYNC["env"] else url
    cfg.set_main_option("sqlalchemy.url", given.replace("%", "%%"))
    os.environ[url_env] = given
    if req.get("reconnect"):
        # mrt ended every session on this database (to copy it): this engine's are dead.
        stale = _engines.pop(url, None)
        if stale is not None:
            stale.dispose()
    engine = _engine(sa, url)
    try:
        # env.py files that honour config.attributes["connection"] use this one; the others build
        # their own engine from sqlalchemy.url or the URL environment variable.
        version_table = req.get("version_table") or "alembic_version"
        heads = None
        # A plain connection, as Alembic's own command gives env.py: context.begin_transaction()
        # then owns the transaction, so op.get_context().autocommit_block() (CREATE INDEX
        # CONCURRENTLY) can commit it. Whatever env.py left open is committed below.
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            started = time.perf_counter()
            migrate(req, cfg, script)
            elapsed = time.perf_counter() - started
            # Before mrt's own reads below, which would count as statements on its database.
            _GUARD.check_touched()
            # A downgrade's heads, read in its own transaction when the version table is known to
            # exist (a failing read would abort it): two round trips less than a read after it.
            if req["op"] == "downgrade" and _version_key(engine.url, None, version_table) in _version_tables:
                heads = _select_heads(conn, version_table)
            if conn.in_transaction():
                conn.commit()
        cfg.attributes.pop("connection", None)
        statements = list(_statements)
        if len(statements) >= _MAX_STATEMENTS:
            statements.append("-- mrt: more statements were executed than recorded")
        master = read_master(engine) if req.get("master") and url.startswith("sqlite") else None
        # Only a downgrade's heads are checked (an upgrade's are implied by the schema read after
        # it); on a server the read is three round trips, a sixth of a step.
        if req["op"] != "downgrade" or heads is not None:
            return heads, statements, master, elapsed
        return read_heads(engine, version_table), statements, master, elapsed
    finally:
        cfg.attributes.pop("connection", None)


def read_master(engine):
    """SQLite's schema as its CREATE texts, one JSON array built by SQLite (rows in Python cost
    more than the step), over this worker's connection, which already has them parsed; see
    StepOk::master on mrt's side."""
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT json_group_array(json_array(type, name, tbl_name, sql)) FROM (SELECT * FROM "
            "sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name)"
        ).scalar()


def _select_heads(conn, version_table):
    quoted = conn.dialect.identifier_preparer.quote(version_table)
    return sorted(r[0] for r in conn.exec_driver_sql(f"SELECT version_num FROM {quoted}"))


def read_heads(engine, version_table):
    """The heads in the version table: one plain SELECT (a MigrationContext, which checks the
    table exists first, costs several times more); only if it fails, Alembic's own reading."""
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        try:
            return _select_heads(conn, version_table)
        except sa.exc.DBAPIError:
            conn.rollback()
    with engine.connect() as conn:
        opts = {"version_table": version_table}
        return sorted(MigrationContext.configure(conn, opts=opts).get_current_heads())


def migrate(req, cfg, script):
    """What command.upgrade/downgrade do (env.py runs as usual, with the same destination), but
    the migration list is the requested one when the database's heads are as expected."""
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationStep

    op, target = req["op"], req["target"]
    if op not in ("upgrade", "downgrade", "drift"):
        raise ValueError(f"unknown op {op!r}")
    revisions = [script.get_revision(r) for r in req["revisions"]]
    expected = set(req["from"])

    def steps(heads, context):
        chosen = plan(heads, context)
        _GUARD.steps += len(chosen)
        return chosen

    def plan(heads, context):
        if op == "drift":
            _compare(context)
            return []
        if set(heads or ()) == expected:
            make = MigrationStep.upgrade_from_script if op == "upgrade" else MigrationStep.downgrade_from_script
            return [make(script.revision_map, r) for r in revisions]
        if op == "upgrade":
            return script._upgrade_revs(target, heads)
        return script._downgrade_revs(target, heads)

    import sqlalchemy as sa

    _known["heads"] = tuple(req["from"])
    _known["database"] = sa.engine.make_url(with_driver(req["url"])).database
    try:
        with EnvironmentContext(cfg, script, fn=steps, destination_rev=target):
            script.run_env()
    finally:
        _known["heads"] = None


# The differences a drift request found (None: env.py configured no target_metadata).
_DRIFT = {"diffs": None}


def _compare(context):
    """Alembic's autogenerate comparison of the database with env.py's target_metadata."""
    from alembic.autogenerate import compare_metadata

    metadata = context.opts.get("target_metadata")
    if metadata is None:
        _DRIFT["diffs"] = None
        return
    if isinstance(metadata, (list, tuple)):
        diffs = [d for m in metadata for d in compare_metadata(context, m)]
    else:
        diffs = compare_metadata(context, metadata)
    _DRIFT["diffs"] = [_render_diff(d) for d in diffs if not _mrt_own(d)]


# The schema of mrt's DDL log on PostgreSQL: an env.py with include_schemas=True sees its table.
_MRT_SCHEMA = "_mrt_ddl"


def _mrt_own(diff):
    """Whether an autogenerate difference is about mrt's own DDL log, not the user's schema."""
    if isinstance(diff, list):
        return all(_mrt_own(d) for d in diff)
    return any(
        getattr(part, "schema", None) == _MRT_SCHEMA
        or getattr(getattr(part, "table", None), "schema", None) == _MRT_SCHEMA
        for part in diff[1:]
    )


def _render_diff(diff):
    """One autogenerate difference as text: `remove_column users.email`, `modify_type
    users.name VARCHAR(40) -> VARCHAR(80)`. The first word says what the metadata would have
    Alembic do to the database (add_* : the database lacks it; remove_* : only the database has it)."""
    if isinstance(diff, list):
        return "; ".join(_render_diff(d) for d in diff)
    kind, *rest = diff
    if kind.startswith("modify_") and len(rest) >= 6:
        _schema, table, column, _existing, old, new = rest[:6]
        return f"{kind} {table}.{column}: {old!r} -> {new!r}"
    words = []
    for part in rest:
        if part is None or isinstance(part, (dict, str)):
            continue
        name = getattr(part, "name", None)
        table = getattr(getattr(part, "table", None), "name", None)
        words.append(f"{table}.{name}" if table and name else str(name if name else part))
    return " ".join([kind] + words)


# Engines are kept per database URL: a new engine costs a new connection plus SQLAlchemy's
# dialect initialisation (several round trips on PostgreSQL and MySQL) on every step. A few are
# kept, the oldest disposed. No pre-ping (a round trip per step): mrt never ends a worker's
# connection to a database it still uses, and a server that went away fails the step with its
# reason, as it should; SQLAlchemy then drops the connection and the next step opens a new one.
_engines = {}
_MAX_ENGINES = 4


def _engine(sa, url):
    engine = _engines.pop(url, None)
    if engine is None:
        engine = sa.create_engine(url, pool_size=1, max_overflow=4)
    _engines[url] = engine
    while len(_engines) > _MAX_ENGINES:
        oldest = next(iter(_engines))
        _engines.pop(oldest).dispose()
    return engine


if __name__ == "__main__":
    main()
