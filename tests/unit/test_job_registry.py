"""The job registry loads its handlers by module name: none may be missing from the list."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_module_defining_a_job_is_in_handler_modules() -> None:
    """Import every module of the product and compare the job kinds registered then with those
    the registry's own list registers: a handler module left off the list would make its jobs
    fail with 'no handler' in a worker that never imported it."""
    script = textwrap.dedent("""
        import importlib, pkgutil
        import integration
        # Modules that act when imported (run the CLI, build the WSGI app, run migrations).
        SIDE_EFFECTS = ("__main__", ".wsgi", ".env")
        from integration.jobs import registry
        listed = set(registry.registered_kinds())
        for info in pkgutil.walk_packages(integration.__path__, "integration."):
            if not info.name.endswith(SIDE_EFFECTS):
                importlib.import_module(info.name)
        everything = set(registry._HANDLERS)
        print(sorted(everything - listed))
        print(len(listed))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True,
                            capture_output=True, text=True)
    missing, count = result.stdout.splitlines()
    assert missing == "[]", f"job handlers not in registry.HANDLER_MODULES: {missing}"
    assert int(count) >= 15
