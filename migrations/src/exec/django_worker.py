"""mrt's Django worker: runs one migration step per request, JSON lines over stdin/stdout.

Shipped inside the mrt binary. One process per parallel slot: Django is set up once, and every
database alias of the project's settings is pointed at mrt's temporary database for each step,
never at the database settings.py names (pytest-django's way).

argv: PROJECT_ROOT SETTINGS_MODULE PROJECT_APPS (comma-separated labels of the project's own apps)
greeting: {"status": "ready", "framework": "django", "version": "5.2", "python": "..."}
          {"status": "unavailable", "error": "No module named 'django'", "python": "..."}
request:  {"id": 1, "op": "upgrade" | "downgrade" | "drift", "url": "sqlite:///...",
           "revisions": ["shop.0003_x"], "from": [...], "master": false}
          An upgrade applies exactly "revisions" (and the migrations of other apps, outside the
          project, that they need and that are not applied yet); a downgrade unapplies exactly
          "revisions". Django's executor runs with that explicit plan, so nothing else moves.
response: {"id": 1, "status": "ok", "heads": [...] (downgrades), "statements": [...],
           "master": "[[...]]" or null, "elapsed_ms": 12.5, "drift": [...] (drift requests)}
          {"id": 1, "status": "failed", "error": "...", "traceback": "..."}
          {"id": 1, "status": "refused", "message": "..."} when code connected to a database
          other than the step's own: mrt then stops the whole run.
"""
import json
import os
import sys
import time
import traceback
from urllib.parse import unquote, urlsplit

# The protocol owns the real stdout; anything user code prints goes to stderr instead.
_proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr

_MAX_STATEMENTS = 5000
# The labels of the project's own apps (the others are its environment).
_PROJECT_APPS = set()


def send(obj):
    _proto.write(json.dumps(obj) + "\n")
    _proto.flush()


def main():
    root, settings_module, project_apps = sys.argv[1:4]
    _PROJECT_APPS.update(a for a in project_apps.split(",") if a)
    os.chdir(root)
    if root not in sys.path:
        sys.path.insert(0, root)
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    try:
        import django
        from django.conf import settings

        # Loading the settings runs settings.py (user code); no database is opened by it.
        aliases = list(settings.DATABASES) or ["default"]
        # Until the first step, every alias is an in-memory SQLite database: app imports that
        # touch the database at setup touch nothing of the user's.
        settings.DATABASES = {alias: _sqlite(":memory:") for alias in aliases}
        django.setup()
    except ImportError as e:
        send({"status": "unavailable", "error": f"{e}", "python": sys.executable})
        return
    _GUARD.install()
    send(
        {
            "status": "ready",
            "framework": "django",
            "version": django.get_version(),
            "python": sys.executable,
        }
    )
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            reply = {"id": req.get("id"), "status": "ok"}
            reply.update(run(req, aliases))
            send(reply)
        except BaseException as e:  # noqa: BLE001 - every failure is reported, the worker lives on
            if _GUARD.refused:
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
            _GUARD.refused = None


def _sqlite(name):
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}


def database_settings(url):
    """Django's settings for mrt's database at `url` (sqlite:///path, postgresql://..., mysql://...)."""
    if url.startswith("sqlite:///"):
        return _sqlite(url[len("sqlite:///") :])
    parts = urlsplit(url)
    engine = {
        "postgresql": "django.db.backends.postgresql",
        "postgres": "django.db.backends.postgresql",
        "mysql": "django.db.backends.mysql",
        "mariadb": "django.db.backends.mysql",
    }[parts.scheme.split("+")[0]]
    if engine.endswith("mysql"):
        _mysql_driver()
    options = {"connect_timeout": 10}
    if engine.endswith("mysql"):
        options["charset"] = "utf8mb4"
    return {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": options,
    }


def _mysql_driver():
    """Django's MySQL backend needs MySQLdb (mysqlclient); PyMySQL stands in for it when that
    is what is installed."""
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        import pymysql

        pymysql.install_as_MySQLdb()


def use_database(url, aliases, reconnect=False):
    """Points every alias at mrt's database for this step (closing what was open). With
    `reconnect`, mrt ended every session on it (to copy it): the open connections are dead."""
    from django.db import connections

    wanted = database_settings(url)
    if _GUARD.database == wanted:
        if reconnect:
            for conn in connections.all(initialized_only=True):
                conn.close()
        return
    for conn in connections.all(initialized_only=True):
        conn.close()
    new = {alias: dict(wanted) for alias in aliases}
    connections._settings = connections.configure_settings(new)
    connections.__dict__.pop("settings", None)
    for alias in aliases:
        try:
            del connections[alias]
        except AttributeError:
            pass
    _GUARD.database = wanted


class _Guard:
    """Refuses any connection to a database other than the step's own, before it is opened:
    user code may build a connection of its own (a RunPython that connects to the project's
    real database with settings it kept)."""

    def __init__(self):
        self.database = None
        self.refused = None

    def install(self):
        from django.db.backends.base.base import BaseDatabaseWrapper

        original = BaseDatabaseWrapper.connect
        guard = self

        def connect(wrapper):
            guard.check(wrapper.settings_dict)
            return original(wrapper)

        BaseDatabaseWrapper.connect = connect

    def check(self, got):
        if self.database is None or got.get("NAME") == ":memory:":
            return
        same = got.get("NAME") == self.database["NAME"] and (
            got.get("ENGINE") == self.database["ENGINE"]
            and (got.get("HOST") or "") == (self.database.get("HOST") or "")
            and str(got.get("PORT") or "") == str(self.database.get("PORT") or "")
        )
        if same:
            return
        engine = str(got.get("ENGINE", "")).rsplit(".", 1)[-1]
        where = f"{engine} database {got.get('NAME')!s}"
        if got.get("HOST"):
            where += f" on {got.get('HOST')}:{got.get('PORT') or ''}"
        self.refused = (
            f"a migration tried to connect to {where}, not the database mrt created for this step "
            f"({self.database['NAME']}); it was stopped before connecting. mrt never runs "
            "migrations on a database it did not create, so the run stops here. Use the "
            "connection Django hands the migration (`schema_editor.connection`, the `apps` "
            "registry), not one of your own; see README, \"Django and mrt's database\"."
        )
        raise RuntimeError(self.refused)


_GUARD = _Guard()


def run(req, aliases):
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    use_database(req["url"], aliases, bool(req.get("reconnect")))
    connection = connections["default"]
    statements = []

    def capture(execute, sql, params, many, context):
        if len(statements) < _MAX_STATEMENTS and (not statements or statements[-1] != sql):
            statements.append(sql)
        return execute(sql, params, many, context)

    op = req["op"]
    if op == "drift":
        return {"drift": drift(connection), "statements": [], "elapsed_ms": 0.0}
    executor = MigrationExecutor(connection)
    if op == "environment":
        plan = environment_plan(executor, req["revisions"])
        if plan:
            executor.migrate(None, plan=plan)
        # Names what was applied: the caller's idea of the schema is stale when it is not empty.
        return {"statements": [f"-- applied {m.app_label}.{m.name}" for m, _ in plan]}
    plan = step_plan(executor, op, req["revisions"])
    started = time.perf_counter()
    with connection.execute_wrapper(capture):
        executor.migrate(None, plan=plan)
    elapsed = time.perf_counter() - started
    if len(statements) >= _MAX_STATEMENTS:
        statements.append("-- mrt: more statements were executed than recorded")
    reply = {"statements": statements, "elapsed_ms": elapsed * 1000.0}
    if op == "downgrade":
        reply["heads"] = heads(connection)
    if req.get("master") and connection.vendor == "sqlite":
        reply["master"] = read_master(connection)
    return reply


def key(revision):
    app, _, name = revision.partition(".")
    return (app, name)


def environment_plan(executor, revisions):
    """The unapplied migrations of apps outside the project that `revisions` depend on, in
    Django's order: the environment of the state before them."""
    graph = executor.loader.graph
    wanted = [key(r) for r in revisions if key(r) in graph.nodes]
    applied = executor.loader.applied_migrations
    plan = []
    seen = set()
    for target in wanted:
        for k in graph.forwards_plan(target):
            if k[0] in _PROJECT_APPS or k in applied or k in seen:
                continue
            seen.add(k)
            plan.append((graph.nodes[k], False))
    return plan


def step_plan(executor, op, revisions):
    """The explicit plan of a step. Up: Django's own plan to each revision, which must hold
    exactly the requested revisions of the project's apps (the migrations of other apps they
    depend on come along); down: exactly the requested revisions, children first."""
    graph = executor.loader.graph
    wanted = [key(r) for r in revisions]
    for k in wanted:
        if k not in graph.nodes:
            raise KeyError(f"no migration {k[0]}.{k[1]} in Django's graph")
    if op == "downgrade":
        return [(graph.nodes[k], True) for k in wanted]
    if op != "upgrade":
        raise ValueError(f"unknown op {op!r}")
    plan = executor.migration_plan(wanted)
    unexpected = [
        f"{m.app_label}.{m.name}"
        for m, backwards in plan
        if backwards or ((m.app_label, m.name) not in wanted and m.app_label in _PROJECT_APPS)
    ]
    if unexpected:
        raise RuntimeError(
            "Django's plan for this step would also (un)apply " + ", ".join(unexpected)
            + "; the database is not in the state mrt expected"
        )
    return plan


def heads(connection):
    """The applied migrations of the project's apps that no other applied one depends on."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    applied = {k for k in loader.applied_migrations if k in loader.graph.nodes}
    out = []
    for k in applied:
        if k[0] not in _PROJECT_APPS:
            continue
        children = loader.graph.node_map[k].children
        if not any(c.key in applied for c in children):
            out.append(f"{k[0]}.{k[1]}")
    return sorted(out)


def read_master(connection):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT json_group_array(json_array(type, name, tbl_name, sql)) FROM (SELECT * FROM "
            "sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name)"
        )
        return cursor.fetchone()[0]


def drift(connection):
    """`makemigrations --check --dry-run`: what the models have that the migrations do not."""
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.state import ProjectState

    loader = MigrationLoader(None, ignore_no_migrations=True)
    detector = MigrationAutodetector(loader.project_state(), ProjectState.from_apps(apps))
    changes = detector.changes(graph=loader.graph)
    return [
        f"{app}: {operation.describe()}"
        for app, migrations in sorted(changes.items())
        for migration in migrations
        for operation in migration.operations
    ]


if __name__ == "__main__":
    main()
