"""An import is one transaction: an error or a killed process leaves the previous state untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from plants import grid_layout, numbered_units, store_snapshot
from sqlalchemy import text

from riskmap.store import open_store, rows

ENT = "原子性测试企业"
ROOT = Path(__file__).resolve().parents[1]


class Boom(RuntimeError):
    pass


def fail_after(monkeypatch, chunks: int) -> None:
    """Make the save write `chunks` INSERT batches and then fail, as a crash would half-way."""
    real = rows.insert_chunk
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        if calls["n"] >= chunks:
            raise Boom("simulated failure in the middle of a save")
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(rows, "insert_chunk", flaky)
    monkeypatch.setattr(rows, "CHUNK_ROWS", 100)


def test_failed_save_layout_leaves_previous_version(store, monkeypatch):
    store.save_layout(ENT, grid_layout(250))
    before = store_snapshot(store)
    fail_after(monkeypatch, 2)
    with pytest.raises(Boom):
        store.save_layout(ENT, grid_layout(1000, offset=0.1, source="new.dxf"))
    assert store_snapshot(store) == before
    assert store.layout_info(ENT)["source"] == "grid.dxf"
    monkeypatch.undo()
    assert store.save_layout(ENT, grid_layout(300, source="after.dxf")) == 2   # the store still works
    assert len(store.layout_features(ENT)) == 300


def test_failed_save_units_leaves_previous_version(store, monkeypatch):
    store.save_units(ENT, numbered_units(30, "旧"))
    before = store_snapshot(store)
    fail_after(monkeypatch, 8)   # 501 units go in (6 batches), then the events fail half-way
    with pytest.raises(Boom):
        store.save_units(ENT, numbered_units(500, "新"))
    assert store_snapshot(store) == before
    assert store.units(ENT)[0].name == "根旧"


def test_failed_first_save_creates_nothing(store, monkeypatch):
    fail_after(monkeypatch, 1)
    with pytest.raises(Boom):
        store.save_layout(ENT, grid_layout(500))
    assert store.enterprises() == []
    assert store.layout_info(ENT) is None and store.data_version(ENT) == 0


KILLED_SAVE = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from plants import ATOMIC_ENT as ENT, grid_layout
    from riskmap.store import open_store, rows

    store = open_store(sys.argv[1])
    layout = grid_layout(int(sys.argv[2]), offset=0.5, source="killed.dxf")
    real = rows.insert_chunk
    calls = {{"n": 0}}

    def slow(*args, **kwargs):
        out = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == int(sys.argv[3]):
            print("MIDWAY", flush=True)   # rows written, transaction open: the parent kills us now
            time.sleep(120)
        return out

    rows.insert_chunk = slow
    rows.CHUNK_ROWS = 2000
    store.save_layout(ENT, layout)
    print("FINISHED", flush=True)
""")


def test_killed_process_leaves_store_consistent(store_url):
    with open_store(store_url) as store:
        store.save_layout(ENT, grid_layout(400))
        store.save_units(ENT, numbered_units(5, "旧"))
        before = store_snapshot(store)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # 30,000 features in batches of 2,000, killed after 12 batches: on SQLite that is more than the page cache
    # holds, so uncommitted pages are already in the WAL file when the process dies.
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVE.format(tests=str(ROOT / "tests")), store_url,
                             "30000", "12"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline().strip()
        assert line == "MIDWAY", proc.stderr.read() if proc.poll() is not None else line
        if store_url.startswith("sqlite"):
            wal = Path(store_url.removeprefix("sqlite:///") + "-wal")
            assert wal.exists() and wal.stat().st_size > 1_000_000
        else:
            with open_store(store_url) as probe, probe.engine.connect() as conn:
                open_tx = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'idle in transaction' AND backend_xid IS NOT NULL")).scalar_one()
            assert open_tx == 1   # the child's transaction holds written rows when it dies
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with open_store(store_url) as store:
        assert store_snapshot(store) == before
        # The killed writer's lock is gone: a new write goes through, and gets the next number.
        assert store.save_layout(ENT, grid_layout(10, source="after-kill.dxf")) == 2
        assert store.layout_info(ENT)["source"] == "after-kill.dxf"
        assert store.data_version(ENT) == before[0] + 1
