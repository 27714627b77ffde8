"""The first five minutes: the README's commands and the first CLI calls work without friction.

`/` opens the map; `/u/{id}` (the cards' short links) opens the unit; `serve` checks its port and says where it
serves once it does; --db/--enterprise go before the command too; the demo and the CLI share one database and
reading commands never create one; apt waits for another apt run; the benchmarks get their tools or say why not;
no Fontconfig warning; one way of calling the command in the README.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from printkit import demo_url

from riskmap.api.app import create_app
from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.levels import Level
from riskmap.settings import Settings
from riskmap.store import open_store

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "riskmap.cli"]


def riskmap(*args, cwd: Path = REPO, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_url(tmp_path_factory)


# ---------------------------------------------------------------------------------------------- HTTP


def test_the_root_opens_the_map(demo):
    with TestClient(create_app(Settings(db=demo))) as client:
        resp = client.get("/", follow_redirects=False)
        assert resp.status_code == 307 and resp.headers["location"] == "/map"
        kept = client.get("/", params={"access_token": "rmk_x", "lang": "en"}, follow_redirects=False)
        assert kept.headers["location"] == "/map?access_token=rmk_x&lang=en"
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_a_card_short_link_opens_its_unit_on_the_map(store_url):
    with open_store(store_url) as store:
        for name in ("甲厂", "乙厂"):
            store.save_units(name, [AssessmentUnit("P-1", "泵", UnitKind.EQUIPMENT,
                                                   events=[RiskEvent("泄漏", residual_level=Level.LOW)]),
                                    AssessmentUnit(f"{name}-only", "罐", UnitKind.EQUIPMENT)])
    with TestClient(create_app(Settings(db=store_url))) as client:
        one = client.get("/u/甲厂-only", follow_redirects=False)        # the unit's phone page, linking to the map
        assert one.status_code == 200 and "罐" in one.text and 'name="viewport"' in one.text
        assert "/map?unit=%E7%94%B2%E5%8E%82-only&amp;enterprise=%E7%94%B2%E5%8E%82" in one.text
        both = client.get("/u/P-1", follow_redirects=False)          # the same id in two enterprises: a choice
        assert both.status_code == 200 and "甲厂" in both.text and "乙厂" in both.text
        missing = client.get("/u/没有", follow_redirects=False)
        assert missing.status_code == 404 and "没有这个单元" in missing.text
    with TestClient(create_app(Settings(db=store_url, enterprise="乙厂"))) as client:
        bound = client.get("/u/P-1", follow_redirects=False)           # a service bound to one enterprise
        assert bound.status_code == 200 and "乙厂" in bound.text and "甲厂" not in bound.text


# ---------------------------------------------------------------------------------------------- serve


def test_serve_refuses_a_port_out_of_range_or_in_use(demo):
    bad = riskmap("serve", "--db", demo, "--port", "99999", timeout=60)
    assert bad.returncode == 1 and "1–65535" in bad.stderr and "serving" not in bad.stdout
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = riskmap("serve", "--db", demo, "--port", port, timeout=60)
    assert busy.returncode == 1 and f"端口 {port} 已被占用" in busy.stderr and "serving" not in busy.stdout
    env_bad = riskmap("serve", "--db", demo, env={"RISKMAP_PORT": "0"}, timeout=60)
    assert env_bad.returncode == 1 and "RISKMAP_PORT" in env_bad.stderr


def test_serve_prints_its_address_once_it_answers_without_fontconfig_noise(demo, tmp_path):
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--db", demo, "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            start_new_session=True)
    try:
        line = proc.stdout.readline()                 # blocks until the server says where it serves
        assert f"serving on http://127.0.0.1:{port}/" in line
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert client.get("/healthz").status_code == 200            # it answers as soon as it says so
            tj = client.get("/tiles/labels/tilejson.json").json()
            z = tj["minzoom"] + 2
            import morecantile

            tile = morecantile.tms.get("WebMercatorQuad").tile(tj["center"][0], tj["center"][1], z)
            assert client.get(f"/tiles/labels/{z}/{tile.x}/{tile.y}.png").status_code == 200   # text drawn
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Fontconfig" not in err, err


# ---------------------------------------------------------------------------------------------- the CLI


def test_global_options_go_before_the_command_too(tmp_path):
    db = f"sqlite:///{tmp_path / 'g.db'}"
    # a control point CSV with the common x,y,lon,lat header
    cps = (REPO / "data/demo/control_points.csv").read_text(encoding="utf-8").replace(
        "local_x,local_y,lon,lat", "x,y,lon,lat")
    (tmp_path / "cp.csv").write_text(cps, encoding="utf-8")
    done = riskmap("--db", db, "--enterprise", "前置企业", "import-layout", REPO / "data/demo/plant.dxf",
                   "--control-points", tmp_path / "cp.csv")
    assert done.returncode == 0, done.stderr
    with open_store(db) as store:
        assert [e.name for e in store.enterprises()] == ["前置企业"]
    listed = riskmap("--db", db, "regions")
    assert listed.returncode == 0 and "罐区" in listed.stdout
    after = riskmap("regions", "--db", db, "-e", "前置企业")
    assert after.returncode == 0 and after.stdout == listed.stdout
    wrong = riskmap("--db", db, "regions", "--enterprise", "别的企业")       # the command's own option wins
    assert wrong.returncode == 1 and "别的企业" in wrong.stderr


def test_reading_commands_never_create_a_database(tmp_path):
    for args in (["regions"], ["flags"], ["history"], ["board", "b.pdf"], ["cards", "c.pdf"], ["token", "list"],
                 ["export", "x.geojson"], ["serve"]):
        proc = riskmap(*args, cwd=tmp_path, timeout=60)
        assert proc.returncode == 1, args
        assert "riskmap.db 不存在" in proc.stderr and "riskmap demo" in proc.stderr, (args, proc.stderr)
        assert list(tmp_path.iterdir()) == [], args
    empty = tmp_path / "empty.db"
    empty.touch()
    proc = riskmap("--db", f"sqlite:///{empty}", "regions", cwd=tmp_path)
    assert proc.returncode == 1 and "没有 riskmap 数据" in proc.stderr
    dry = riskmap("import-layout", REPO / "data/demo/plant.dxf", "--control-points",
                  REPO / "data/demo/control_points.csv", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0 and "试运行" in dry.stdout and not (tmp_path / "riskmap.db").exists()


def test_the_demo_and_the_cli_share_one_database(tmp_path):
    loaded = riskmap("demo", "--no-serve", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert (tmp_path / "riskmap.db").is_file()
    assert f"sqlite:///{tmp_path / 'riskmap.db'}" in loaded.stdout
    assert "下一步 / next: riskmap regions" in loaded.stdout
    regions = riskmap("regions", cwd=tmp_path)
    assert regions.returncode == 0 and "罐区：重大风险" in regions.stdout
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown = re.search(r"riskmap --db (\S+) regions", loaded.stdout).group(1)
    assert riskmap("--db", shown, "regions", cwd=elsewhere).stdout == regions.stdout
    again = riskmap("demo", "--no-serve", cwd=tmp_path)                  # the demo may replace its own data
    assert again.returncode == 0, again.stderr


def test_the_demo_never_replaces_another_enterprises_database(tmp_path):
    db = tmp_path / "riskmap.db"
    with open_store(f"sqlite:///{db}") as store:
        store.save_units("我的企业", [AssessmentUnit("U1", "罐区", UnitKind.MAIN)])
    before = db.read_bytes()
    proc = riskmap("demo", "--no-serve", cwd=tmp_path)
    assert proc.returncode == 1 and "我的企业" in proc.stderr and "--db sqlite:///riskmap-demo.db" in proc.stderr
    assert db.read_bytes() == before
    other = riskmap("demo", "--no-serve", "--db", "sqlite:///riskmap-demo.db", cwd=tmp_path)
    assert other.returncode == 0 and "riskmap --db" in other.stdout


def test_no_fontconfig_warning_when_printing(demo, tmp_path):
    for args in (["board", tmp_path / "b.pdf", "--scope", "factory"], ["poster", tmp_path / "p.png", "--dpi", "60"],
                 ["cards", tmp_path / "c.pdf", "--unit", "CY-01-08", "--base-url", "http://10.0.0.1:8000"]):
        proc = riskmap(*args, "--db", demo)
        assert proc.returncode == 0, proc.stderr
        assert "Fontconfig" not in proc.stderr and proc.stderr == "", proc.stderr


# ---------------------------------------------------------------------------------------------- scripts


def _fake_apt(tmp_path: Path) -> dict:
    """An apt-get on PATH that reports a held lock while `lock` exists, then succeeds."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    fake.write_text(f"""#!/bin/sh
echo "$@" >> {tmp_path}/calls
if [ -e {tmp_path}/lock ]; then
  echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (unattended-upgr)" >&2
  exit 100
fi
exit 0
""")
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RISKMAP_APT_RETRY": "0.2"}


def test_apt_installs_wait_for_another_apt_run_and_say_so(tmp_path):
    env = _fake_apt(tmp_path)
    (tmp_path / "lock").touch()
    released = threading.Timer(1.0, (tmp_path / "lock").unlink)
    released.start()
    proc = subprocess.run(["bash", REPO / "scripts/apt.sh", "wrk"], capture_output=True, text=True,
                          env={**env, "RISKMAP_APT_LOCK_WAIT": "60"}, timeout=60)
    released.join()
    assert proc.returncode == 0, proc.stderr
    assert "waiting for another apt/dpkg run to finish (lock held by process 4242 (unattended-upgr)), at most 60 s" \
        in proc.stdout
    assert "the other apt/dpkg run has finished" in proc.stdout
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[-1].startswith("install") and "wrk" in calls[-1] and len(calls) > 2


def test_apt_gives_up_after_its_bound_with_a_clear_message(tmp_path):
    env = _fake_apt(tmp_path)
    (tmp_path / "lock").touch()
    proc = subprocess.run(["bash", REPO / "scripts/apt.sh", "wrk"], capture_output=True, text=True,
                          env={**env, "RISKMAP_APT_LOCK_WAIT": "1"}, timeout=60)
    assert proc.returncode == 1
    assert "still holds its lock after 1 s" in proc.stderr and "RISKMAP_APT_LOCK_WAIT" in proc.stderr
    setup = (REPO / "scripts/setup.sh").read_text()
    assert "bash scripts/apt.sh" in setup and "apt-get install" not in setup        # setup goes through it


def test_the_tile_benchmark_says_in_one_line_why_it_skips(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_tiles", REPO / "benchmarks/bench_tiles.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    monkeypatch.setattr(bench, "Path", lambda p: Path(tmp_path / "nowhere" / Path(p).name))
    monkeypatch.setattr(bench.os, "geteuid", lambda: 1000)
    why = bench.ensure_tools()
    assert why.startswith("wrk and nginx not installed (not root") and "scripts/apt.sh --no-start wrk nginx" in why
    script = (REPO / "scripts/bench.sh").read_text()
    assert "scripts/apt.sh --no-start" in script and "skipped" in script


def test_every_benchmark_prints_a_ratio_against_a_reference():
    for bench in sorted((REPO / "benchmarks").glob("bench_*.py")):
        text = bench.read_text(encoding="utf-8")
        assert re.search(r"ratio|×ref", text, re.IGNORECASE), bench.name
        assert re.search(r"[Rr]eference|ogr2ogr|nginx|PostGIS", text), bench.name


def test_the_readme_calls_the_command_one_way():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert ".venv/bin/riskmap" not in readme
    assert readme.count('export PATH="$PWD/.venv/bin:$PATH"') == 1
    assert "riskmap demo" in readme and "riskmap serve" in readme
