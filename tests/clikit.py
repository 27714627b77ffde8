"""The riskmap command run as a user runs it (a child process) and what its tests check of it (imported as `clikit`)."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import text

from riskmap.paths import demo_dir

RISKMAP = [sys.executable, "-m", "riskmap.cli"]


POINTS = str(demo_dir() / "control_points.csv")


def run(*args, check=True, **kwargs):
    proc = subprocess.run([*RISKMAP, *map(str, args)], capture_output=True, text=True, timeout=300, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"riskmap {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def one_line_error(proc, *words):
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误 / error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def counts(url):
    """Rows of every table a revision writes: nothing may change unless it is applied."""
    from riskmap.store import open_store

    store = open_store(url)
    try:
        with store.session() as s:
            return {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in ("layout_versions", "layout_features", "changes", "data_versions", "map_features")} \
                | {"data_version": s.execute(text("SELECT max(version) FROM data_versions")).scalar_one()}
    finally:
        store.close()
