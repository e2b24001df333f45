"""Print Alembic's own view of a project's revision graph as JSON (used by tests/fixtures.rs).

Usage: python alembic_graph.py PROJECT_DIR
"""
import json
import os
import sys

from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import to_tuple


def main(root: str) -> None:
    os.chdir(root)
    ini = "alembic.ini" if os.path.exists("alembic.ini") else None
    toml = "pyproject.toml" if os.path.exists("pyproject.toml") else None
    script = ScriptDirectory.from_config(Config(ini, toml_file=toml))
    walked = list(script.walk_revisions())
    print(
        json.dumps(
            {
                "heads": sorted(script.get_heads()),
                "bases": sorted(script.get_bases()),
                "revisions": {
                    s.revision: {
                        "down_revisions": list(to_tuple(s.down_revision, default=())),
                        "branch_labels": sorted(s._orig_branch_labels),
                        "depends_on": list(to_tuple(s.dependencies, default=())),
                        "message": s.doc,
                    }
                    for s in walked
                },
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
