"""No lost update: of many clients saving the same feature with the same edit tag exactly one wins, the others get
EditConflict; a writer killed in the middle of a save leaves the store as it was (the change fully there or
absent, with its audit row, flags and map rows)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from plants import ATOMIC_ENT as ENT
from plants import grid_layout, moved
from plants import store_snapshot as snapshot
from sqlalchemy import text

from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.errors import EditConflict
from riskmap.levels import Level
from riskmap.store import open_store

CLIENTS = 20
ROOT = Path(__file__).resolve().parents[1]


def attached_units() -> list[AssessmentUnit]:
    return [AssessmentUnit("root", "全厂", UnitKind.MAIN),
            *(AssessmentUnit(f"u{k}", f"单元{k}", UnitKind.POST, parent_id="root", feature_ref=f"f{k}",
                             events=[RiskEvent("事件", residual_level=Level.LOW)]) for k in range(CLIENTS))]


def counts(store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("layout_versions", "layout_features", "changes", "reassessment_flags", "map_features")}


@pytest.fixture
def plant(store):
    store.save_layout(ENT, grid_layout(400))
    store.save_units(ENT, attached_units())
    return store


def run_threads(target, n: int) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as exc:   # noqa: BLE001 - the test inspects what each client got
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def test_twenty_threads_same_feature_one_wins(plant):
    store = plant
    tag = store.feature(ENT, "f1").edit_tag
    before = counts(store)
    results = run_threads(lambda i: store.patch_feature(ENT, "f1", [tag], {"geometry": moved(1, i)},
                                                        author=f"client{i}"), CLIENTS)
    wins = [(i, r) for i, r in enumerate(results) if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1, results
    assert len(losses) == CLIENTS - 1 and all(isinstance(e, EditConflict) for e in losses), losses
    winner, result = wins[0]
    # every loser was told what is there now: the winner's version
    assert all(e.current["edit_tag"] == result.edit_tag and e.current["changed_by"] == f"client{winner}"
               for e in losses)
    now = store.feature(ENT, "f1")
    assert now.edit_tag == result.edit_tag and now.geometry.equals(moved(1, winner))
    after = counts(store)
    assert after["layout_versions"] == before["layout_versions"] + 1
    assert after["layout_features"] == before["layout_features"] + 1
    assert after["changes"] == before["changes"] + 1
    assert [(f["unit_id"], f["reason_code"]) for f in store.flags(ENT) if f["id"] is not None] == \
        [("u1", "geometry_changed")]


def test_twenty_threads_different_features_all_kept(plant):
    """Nothing lost: concurrent edits of different features all go in, each as its own version."""
    store = plant
    tags = {k: store.feature(ENT, f"f{k}").edit_tag for k in range(CLIENTS)}
    before = store.layout_info(ENT)["version"]
    results = run_threads(lambda i: store.patch_feature(ENT, f"f{i}", [tags[i]], {"geometry": moved(i, 7)}),
                          CLIENTS)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.layout_number for r in results) == list(range(before + 1, before + 1 + CLIENTS))
    for k in range(CLIENTS):
        assert store.feature(ENT, f"f{k}").geometry.equals(moved(k, 7))
    assert len(store.layout_features(ENT)) == 400
    assert {f["unit_id"] for f in store.flags(ENT) if f["reason_code"] == "geometry_changed"} == \
        {f"u{k}" for k in range(CLIENTS)}


def save_in_process(url: str, client: int, tag: int, ready, go, results) -> None:
    """One client process (forked: no re-import): its own engine, waits for the start, then saves."""
    store = open_store(url)
    ready.release()
    go.wait(120)
    try:
        result = store.patch_feature(ENT, "f1", [tag], {"geometry": moved(1, client)}, author=f"p{client}")
        results.put(("WON", result.edit_tag))
    except EditConflict as exc:
        results.put(("CONFLICT", exc.current["edit_tag"]))
    except Exception as exc:   # noqa: BLE001 - reported to the parent, which fails the test
        results.put(("ERROR", repr(exc)))
    finally:
        store.close()


def child_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_twenty_processes_same_feature_one_wins(store_url):
    with open_store(store_url) as store:
        store.save_layout(ENT, grid_layout(400))
        store.save_units(ENT, attached_units())
        tag = store.feature(ENT, "f1").edit_tag
        before = counts(store)
    ctx = multiprocessing.get_context("fork")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=save_in_process, args=(store_url, i, tag, ready, go, results))
             for i in range(CLIENTS)]
    try:
        for p in procs:
            p.start()
        for _ in procs:
            assert ready.acquire(timeout=120)
        go.set()
        got = [results.get(timeout=300) for _ in procs]
        for p in procs:
            p.join(timeout=60)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    assert all(p.exitcode == 0 for p in procs)
    won = [tag for kind, tag in got if kind == "WON"]
    lost = [tag for kind, tag in got if kind == "CONFLICT"]
    assert len(won) == 1 and len(lost) == CLIENTS - 1, got
    assert set(lost) == set(won)                 # each loser saw the winner's version
    with open_store(store_url) as store:
        assert store.feature(ENT, "f1").edit_tag == won[0]
        after = counts(store)
    assert after["layout_versions"] == before["layout_versions"] + 1
    assert after["changes"] == before["changes"] + 1


KILLED_EDIT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from plants import ATOMIC_ENT as ENT, moved
    from riskmap.store import mapdata, open_store

    store = open_store(sys.argv[1])
    real = mapdata.refresh

    def slow(*args, **kwargs):
        out = real(*args, **kwargs)
        # the new feature row, the retired old one, the layout version, the audit row, the flags and the map
        # rows are written; the transaction is still open: the parent kills us now
        print("MIDWAY", flush=True)
        time.sleep(120)
        return out

    mapdata.refresh = slow
    store.patch_feature(ENT, "f1", [int(sys.argv[2])], {{"geometry": moved(1, 99)}}, author="killed")
    print("FINISHED", flush=True)
""")


def state(store) -> tuple:
    feature = store.feature(ENT, "f1")
    return (snapshot(store), counts(store), feature.edit_tag, feature.geometry.wkb,
            [(f["unit_id"], f["reason_code"]) for f in store.flags(ENT)], store.layout_versions(ENT)[0]["version"])


def test_killed_edit_leaves_store_consistent(store_url):
    with open_store(store_url) as store:
        store.save_layout(ENT, grid_layout(400))
        store.save_units(ENT, attached_units())
        tag = store.feature(ENT, "f1").edit_tag
        before = state(store)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_EDIT.format(tests=str(ROOT / "tests")), store_url,
                             str(tag)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        line = proc.stdout.readline().strip()
        assert line == "MIDWAY", proc.stderr.read() if proc.poll() is not None else line
        if store_url.startswith("sqlite"):
            assert Path(store_url.removeprefix("sqlite:///") + "-wal").exists()
        else:
            with open_store(store_url) as probe, probe.engine.connect() as conn:
                open_tx = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'idle in transaction' AND backend_xid IS NOT NULL")).scalar_one()
            assert open_tx == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with open_store(store_url) as store:
        assert state(store) == before            # nothing of the killed change: no row, audit, flag or map row
        # the lock died with the writer, and the tag it held is still current: the same edit now goes in fully
        started = time.monotonic()
        result = store.patch_feature(ENT, "f1", [tag], {"geometry": moved(1, 5)}, author="after")
        assert time.monotonic() - started < 60
        after = state(store)
    assert after[2] == result.edit_tag and after[5] == before[5] + 1
    assert after[1]["changes"] == before[1]["changes"] + 1
    assert ("u1", "geometry_changed") in after[4]
