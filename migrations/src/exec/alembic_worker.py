"""mrt's Alembic worker: runs one migration step per request, JSON lines over stdin/stdout.

Shipped inside the mrt binary. One process per parallel slot, so Python and Alembic are imported
once and the ScriptDirectory is parsed once (DESIGN.md, "Persistent Python workers").

argv: PROJECT_ROOT INI_OR_EMPTY PYPROJECT_OR_EMPTY URL_ENV
request:  {"id": 1, "op": "upgrade" | "downgrade", "target": "ab12", "url": "sqlite:///...",
           "version_table": "alembic_version"}
response: {"id": 1, "ok": true, "heads": ["ab12"], "statements": ["CREATE TABLE ...", ...]}
          {"id": 1, "ok": false, "error": "...", "traceback": "..."}
"""
import json
import os
import sys
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
    os.chdir(root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        import sqlalchemy as sa
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory
        import alembic
    except ImportError as e:
        send({"ready": False, "error": f"{e}", "python": sys.executable})
        return
    kwargs = {}
    if toml:
        kwargs["toml_file"] = toml
    try:
        cfg = Config(ini or None, **kwargs)
    except TypeError:  # Alembic < 1.16 has no pyproject support
        cfg = Config(ini or None)
    script = ScriptDirectory.from_config(cfg)
    # Cache the parsed script directory: a fresh one per step costs ~20 ms on long chains.
    ScriptDirectory.from_config = classmethod(lambda cls, config: script)
    # Every statement any engine executes during a step, so mrt knows which tables a step touched
    # (including env.py files that build their own engine).
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", _capture)
    send({"ready": True, "alembic": alembic.__version__, "python": sys.executable})
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            _statements.clear()
            heads, statements = run(req, cfg, sa, command, MigrationContext, url_env)
            send({"id": req.get("id"), "ok": True, "heads": heads, "statements": statements})
        except BaseException as e:  # noqa: BLE001 - every failure is reported, the worker lives on
            send(
                {
                    "id": req.get("id"),
                    "ok": False,
                    "error": "".join(traceback.format_exception_only(type(e), e)).strip(),
                    "traceback": traceback.format_exc(),
                }
            )
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                return


_statements = []
_MAX_STATEMENTS = 5000


def _capture(conn, cursor, statement, parameters, context, executemany):
    if len(_statements) < _MAX_STATEMENTS and (not _statements or _statements[-1] != statement):
        _statements.append(statement)


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
    if full.startswith("mysql") and "charset=" not in rest:
        rest += ("&" if "?" in rest else "?") + "charset=utf8mb4"
    return f"{full}://{rest}"


def run(req, cfg, sa, command, MigrationContext, url_env):
    url = with_driver(req["url"])
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    os.environ[url_env] = url
    engine = _engine(sa, url)
    try:
        # env.py files that honour config.attributes["connection"] use this one; the others build
        # their own engine from sqlalchemy.url or the URL environment variable.
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            if req["op"] == "upgrade":
                command.upgrade(cfg, req["target"])
            elif req["op"] == "downgrade":
                command.downgrade(cfg, req["target"])
            else:
                raise ValueError(f"unknown op {req['op']!r}")
        cfg.attributes.pop("connection", None)
        statements = list(_statements)
        if len(statements) >= _MAX_STATEMENTS:
            statements.append("-- mrt: more statements were executed than recorded")
        with engine.connect() as conn:
            opts = {"version_table": req.get("version_table") or "alembic_version"}
            return sorted(MigrationContext.configure(conn, opts=opts).get_current_heads()), statements
    finally:
        cfg.attributes.pop("connection", None)


# Engines are kept per database URL: a new engine costs a new connection plus SQLAlchemy's
# dialect initialisation (several round trips on PostgreSQL and MySQL) on every step. A few are
# kept, the oldest disposed; pre-ping replaces connections a server ended (e.g. for a clone).
_engines = {}
_MAX_ENGINES = 4


def _engine(sa, url):
    engine = _engines.pop(url, None)
    if engine is None:
        engine = sa.create_engine(url, pool_size=1, max_overflow=4, pool_pre_ping=True)
    _engines[url] = engine
    while len(_engines) > _MAX_ENGINES:
        oldest = next(iter(_engines))
        _engines.pop(oldest).dispose()
    return engine


if __name__ == "__main__":
    main()
