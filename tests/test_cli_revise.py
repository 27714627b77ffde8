"""`riskmap import-layout --revise`: the diff first, nothing written until confirmed, then one new layout version."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time

import pytest
import shapely
from clikit import POINTS, RISKMAP, counts, one_line_error, run
from plants import revise_demo_dxf

from riskmap.paths import demo_dir


@pytest.fixture
def demo(store_url, tmp_path):
    run("demo", "--db", store_url, "--no-serve")
    handles = revise_demo_dxf(tmp_path / "revised.dxf")
    return store_url, tmp_path / "revised.dxf", handles


def revise(url, drawing, *extra, check=True, **kwargs):
    return run("import-layout", drawing, "--revise", "--control-points", POINTS, "--db", url, *extra, check=check,
               **kwargs)


def test_diff_is_shown_and_nothing_written_until_confirmed(demo):
    url, drawing, handles = demo
    before = counts(url)
    proc = revise(url, drawing)
    out = proc.stdout
    assert "与当前布局（版本 1）比较 / compared with the current layout (version 1)" in out
    assert "要素 fid" in out and "名称 name" in out and "变化 change" in out       # Chinese and English headers
    assert "新增 added 1，删除 removed 1" in out
    assert f"{handles['lab']}" in out and "化验室" in out and "位移 3.0" in out
    assert "临时停车场" in out and "原名 停车场" in out
    assert "未应用，未写入" in out
    assert counts(url) == before

    proc = revise(url, drawing, "--dry-run", "--yes")
    assert "试运行，未写入 / dry run: nothing written" in proc.stdout
    assert counts(url) == before

    report = json.loads(revise(url, drawing, "--json").stdout)
    assert report["applied"] is False and report["base_version"] == 1
    assert report["diff"]["counts"]["added"] == 1 and report["diff"]["counts"]["removed"] == 1
    rows = {r["fid"]: r for r in report["diff"]["features"]}
    assert rows["EF"]["status"] == "removed" and rows[handles["lab"]]["changes"] == ["reshaped"]
    assert counts(url) == before


def test_yes_applies_one_new_layout_version(demo):
    from riskmap.store import history, open_store

    url, drawing, handles = demo
    before = counts(url)
    proc = revise(url, drawing, "--yes", "--reason", "2026 年技改", "--author", "张工")
    n = before["layout_versions"] + 1      # version numbers run across the demo's drawings
    assert f"已应用：新布局版本 {n} / applied: new layout version {n}" in proc.stdout
    after = counts(url)
    assert after["layout_versions"] == before["layout_versions"] + 1
    assert after["data_version"] == before["data_version"] + 1
    assert after["changes"] == before["changes"] + 1

    store = open_store(url)
    try:
        name = store.enterprises()[0].name
        old = store.layout_features(name, version=1).set_index("fid")
        new = store.layout_features(name).set_index("fid")
        assert "EF" in old.index and "EF" not in new.index
        assert len(new) == len(old)                                    # one removed, one added
        lab = handles["lab"]
        moved = shapely.hausdorff_distance(old.loc[lab, "geometry"], new.loc[lab, "geometry"])
        assert 2.5e-5 < moved < 3.5e-5                                 # 3 m in degrees at 32°N
        added = new[new["name"] == "新增储罐"]
        assert len(added) == 1 and added["role"].iat[0] == "equipment"
        assert (new["name"] == "临时停车场").sum() == 1
        unchanged = [f for f in old.index if f not in ("EF", lab) and old.loc[f, "name"] != "停车场"]
        assert (new.loc[unchanged, "id"] == old.loc[unchanged, "id"]).all()   # untouched rows are the same rows
        info = store.layout_info(name)
        assert info["version"] == n and info["action"] == "revise"
        audit = history.history(store, name, limit=1)[0]
        assert audit["action"] == "layout.revise" and audit["author"] == "张工" and audit["reason"] == "2026 年技改"
        assert set(audit["item_ids"]) >= {"EF", lab}
    finally:
        store.close()

    again = revise(url, drawing, "--yes")
    assert "没有需要应用的更改，未写入" in again.stdout and "新增 added 0，删除 removed 0" in again.stdout
    assert counts(url) == after


def _on_terminal(args, answer: str, timeout=120) -> str:
    """Run the command with a pseudo-terminal as stdin and stdout, answer its question, return what it printed."""
    import pty

    main, child = pty.openpty()
    proc = subprocess.Popen([*RISKMAP, *map(str, args)], stdin=child, stdout=child, stderr=subprocess.PIPE,
                            close_fds=True)
    os.close(child)
    seen, answered, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
                if not answered and b"[y/N]" in seen:
                    os.write(main, answer.encode() + b"\n")
                    answered = True
            elif proc.poll() is not None:
                break
        proc.wait(timeout=30)
    finally:
        os.close(main)
    errors = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    assert answered and proc.returncode == 0, (seen.decode(errors="replace"), errors)
    return seen.decode(errors="replace")


@pytest.mark.parametrize("answer,applied", [("n", False), ("y", True)])
def test_the_terminal_asks_first(demo, answer, applied):
    url, drawing, _ = demo
    before = counts(url)
    out = _on_terminal(["import-layout", drawing, "--revise", "--control-points", POINTS, "--db", url], answer)
    assert "应用这些更改？/ apply these changes?" in out
    if applied:
        n = before["layout_versions"] + 1
        assert f"新布局版本 {n}" in out and counts(url)["layout_versions"] == n
    else:
        assert "未应用" in out and counts(url) == before


def test_a_layout_changed_meanwhile_is_refused(demo):
    """The diff names the layout version and the edit tags it was made against; a later edit makes it stale."""
    from riskmap.errors import EditConflict
    from riskmap.geo.importer import import_layout
    from riskmap.geo.revise import LayoutMovedOn, apply_revision, plan_revision
    from riskmap.store import open_store

    url, drawing, handles = demo
    store = open_store(url)
    try:
        name = store.enterprises()[0].name
        revised = import_layout(drawing, control_points=POINTS)
        diff, base = plan_revision(store, name, revised)
        edited = store.feature(name, handles["lab"])
        store.patch_feature(name, handles["lab"], [edited.edit_tag], {"name": "化验楼"}, author="李工", reason="改名")
        before = counts(url)
        with pytest.raises(LayoutMovedOn) as moved:
            apply_revision(store, name, diff, base)
        assert moved.value.http_status == 409 and "请重新比较" in moved.value.message
        with pytest.raises(EditConflict):     # even when the caller names the new version, the tags are stale
            apply_revision(store, name, diff, store.layout_info(name)["version"])
        assert counts(url) == before
    finally:
        store.close()


def test_bad_input_is_one_line(tmp_path, demo):
    url, drawing, _ = demo
    one_line_error(revise(url, tmp_path / "missing.dxf", check=False), "missing.dxf")
    garbage = tmp_path / "broken.dxf"
    garbage.write_bytes(b"0\nSECTION\n2\nENTITIES\n0\nLWPOLYLINE\n90\nnot a number\n" + os.urandom(300))
    one_line_error(revise(url, garbage, check=False))
    empty = tmp_path / "empty.geojson"
    empty.write_text("")
    one_line_error(revise(url, empty, check=False), "为空")
    one_line_error(run("import-layout", drawing, "--yes", "--db", url, check=False), "--revise")
    one_line_error(revise(url, drawing, "--enterprise", "没有这家企业", check=False))
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    run("init", "--db", fresh)
    one_line_error(revise(fresh, drawing, check=False), "先导入")


def test_plain_dry_run_writes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    run("init", "--db", url)
    before = counts(url)
    proc = run("import-layout", demo_dir() / "plant.dxf", "--control-points", POINTS, "--dry-run", "--db", url)
    assert "试运行，未写入" in proc.stdout and counts(url) == before


def test_a_geojson_revision_matches_by_name(tmp_path):
    """A GIS file without ids: row numbers are no handles; a feature deleted above the others shifts nothing."""
    url = f"sqlite:///{tmp_path / 'g.db'}"
    features = [{"type": "Feature", "properties": {"name": f"区域{i}", "role": "region"},
                 "geometry": shapely.geometry.mapping(shapely.box(120 + i * 0.001, 32, 120.0009 + i * 0.001, 32.001))}
                for i in range(4)]
    first = tmp_path / "v1.geojson"
    first.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    run("import-layout", first, "--db", url)
    second = tmp_path / "v2.geojson"
    second.write_text(json.dumps({"type": "FeatureCollection", "features": features[1:]}), encoding="utf-8")
    report = json.loads(run("import-layout", second, "--revise", "--db", url, "--json", "--yes").stdout)
    assert report["applied"] is True and report["layout_version"] == 2
    assert (report["diff"]["counts"]["removed"], report["diff"]["counts"]["unchanged"]) == (1, 3)
    assert report["diff"]["matched_by"] == {"handle": 0, "name": 3, "overlap": 0}
    assert [r["name"] for r in report["diff"]["features"]] == ["区域0"]


def test_help_lists_the_revise_options():
    out = run("import-layout", "--help").stdout
    for option in ("--revise", "--yes", "--dry-run", "--reason", "--author"):
        assert option in out

