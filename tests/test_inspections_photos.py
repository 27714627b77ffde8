"""Photos of check records: one per answered item, PNG or JPEG within the hazards' caps (riskmap.hazards.photos),
served without EXIF; the photo of a failed item also becomes the "before" photo of the hazard that item opened, in
the same transaction; only the inspector who saved the check adds them; broken, hostile and misplaced uploads are
refused with nothing written (no row, no file)."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from riskmap.api.app import create_app
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.settings import Settings
from riskmap.store import accounts, open_store, tokens
from riskmap.store import hazards as hz
from riskmap.store.schema import HazardPhotoRow, InspectionPhotoRow

ENT, OTHER = "照片化工", "别家化工"
P = {"enterprise": ENT}


def _units() -> list[AssessmentUnit]:
    return [AssessmentUnit("W", "一车间", kind=UnitKind.MAIN, department="生产部"),
            AssessmentUnit("P1", "1# 泵", kind=UnitKind.EQUIPMENT, parent_id="W", events=[
                RiskEvent(name="泵泄漏", id="E1", controls=[
                    ControlMeasure("泵出口压力联锁", cls="1-1", tier="post", department="生产部")])])]


def _token(store, enterprise, roles, name, post=None) -> dict:
    made = accounts.create_account(store, enterprise, name=name, login=f"{name}-login", password=None,
                                   roles=roles, post=post)
    return {"Authorization": "Bearer " + tokens.create_token(store, "editor", name, account_id=made["id"])[0]}


def _png(size=(32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 20)).save(out, "PNG")
    return out.getvalue()


def _jpeg_gps() -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (30.0, 0.0, 3.6), 3: "E", 4: (120.0, 0.0, 7.2)})
    exif[0x010F] = "PhoneMaker"                                  # Make: a device detail that must not be served
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def site(store_url, tmp_path):
    store = open_store(store_url)
    store.save_units(ENT, _units())
    store.save_units(OTHER, _units())
    heads = {"manager": _token(store, ENT, ["safety_manager"], "manager"),
             "inspector": _token(store, ENT, ["inspector"], "zhang", post="1# 泵"),
             "colleague": _token(store, ENT, ["inspector"], "wang", post="1# 泵"),
             "viewer": _token(store, ENT, ["viewer"], "viewer"),
             "other": _token(store, OTHER, ["safety_manager", "inspector"], "other")}
    settings = Settings(db=store_url, media_dir=str(tmp_path / "media"), max_photo_mb=1)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.post("/api/inspections/generate", params=P, json={}, headers=heads["manager"])
        task = client.get("/api/inspections/tasks", params=P).json()["items"][0]
        answers = [{"item": i + 1, "result": "fail" if i == 0 else "pass", "note": "压力表损坏" if i == 0 else None}
                   for i in range(len(task["items"]))]
        saved = client.post("/api/inspections/records", params=P, headers=heads["inspector"],
                            json={"task_id": task["id"], "answers": answers})
        assert saved.status_code == 201, saved.text
        yield client, store, heads, saved.json(), tmp_path / "media"
    store.close()


def _send(client, record_id, item, data, head, media="image/jpeg", params=P):
    return client.post(f"/api/inspections/records/{record_id}/photos/{item}", params=params, headers=head,
                       files={"file": ("p.jpg", data, media)})


def _counts(store, media) -> tuple[int, int, int]:
    with store.session() as s:
        rows = s.execute(select(func.count()).select_from(InspectionPhotoRow)).scalar_one()
        hazard_rows = s.execute(select(func.count()).select_from(HazardPhotoRow)).scalar_one()
    files = sum(1 for p in media.rglob("*") if p.is_file()) if media.exists() else 0
    return rows, hazard_rows, files


def test_a_failed_items_photo_goes_to_its_hazard_without_exif(site):
    client, store, heads, saved, media = site
    rid, hazard = saved["record"]["id"], saved["hazards"][0]
    r = _send(client, rid, 1, _jpeg_gps(), heads["inspector"])
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["item"] == 1 and photo["hazard_id"] == hazard and photo["gps"] == {"lon": 120.002, "lat": 30.001}
    assert photo["url"] == f"/api/inspections/records/{rid}/photos/1" and photo["uploaded_by"] == "zhang"
    got = client.get(photo["url"], params=P)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert b"PhoneMaker" not in got.content
    with Image.open(io.BytesIO(got.content)) as im:
        assert im.size == (40, 30) and len(im.getexif()) == 0
    pics = hz.get(store, ENT, hazard)["photos"]
    assert [p["stage"] for p in pics] == ["before"] and pics[0]["sha256"] == photo["sha256"]
    hazard_pic = client.get(f"/api/hazards/{hazard}/photos/{pics[0]['id']}", params=P)
    assert hazard_pic.status_code == 200 and b"PhoneMaker" not in hazard_pic.content
    if len(saved["record"]["items"]) > 1:                         # a passed item's photo stays with the record
        passed = _send(client, rid, 2, _png(), heads["inspector"], media="image/png")
        assert passed.status_code == 201 and passed.json()["hazard_id"] is None
    listed = client.get(f"/api/inspections/records/{rid}/photos", params=P).json()
    assert listed["record_id"] == rid and listed["items"][0]["item"] == 1
    assert len(hz.get(store, ENT, hazard)["photos"]) == 1


def test_refused_uploads_write_nothing(site):
    client, store, heads, saved, media = site
    rid = saved["record"]["id"]
    before = _counts(store, media)
    bomb = io.BytesIO()
    Image.new("1", (8000, 8000)).save(bomb, "PNG")
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    cases = [
        (_send(client, rid, 1, b"<html>not a photo</html>", heads["inspector"]), 422),
        (_send(client, rid, 1, gif.getvalue(), heads["inspector"]), 422),
        (_send(client, rid, 1, _jpeg_gps()[:200], heads["inspector"]), 422),          # truncated
        (_send(client, rid, 1, b"", heads["inspector"]), 422),
        (_send(client, rid, 1, bomb.getvalue(), heads["inspector"]), 413),
        (_send(client, rid, 1, b"\xff\xd8" + b"\0" * 1_100_000, heads["inspector"]), 413),
        (_send(client, rid, 1, b"\xff\xd8" + b"\0" * 3_000_000, heads["inspector"]), 413),
        (_send(client, rid, 0, _png(), heads["inspector"]), 422),
        (_send(client, rid, 99, _png(), heads["inspector"]), 422),
        (_send(client, rid, "x", _png(), heads["inspector"]), 422),
        (_send(client, rid, "1" * 40, _png(), heads["inspector"]), 422),
        (_send(client, 10**6, 1, _png(), heads["inspector"]), 404),
        (_send(client, "abc", 1, _png(), heads["inspector"]), 404),
        (_send(client, rid, 1, _png(), heads["colleague"]), 403),                     # not who saved the check
        (_send(client, rid, 1, _png(), heads["viewer"]), 403),
        (_send(client, rid, 1, _png(), heads["other"], params={"enterprise": OTHER}), 404),
        (_send(client, rid, 1, _png(), {}), 401),
        (client.post(f"/api/inspections/records/{rid}/photos/1", params=P, headers=heads["inspector"], json={}),
         415),
    ]
    assert [r.status_code for r, _ in cases] == [code for _, code in cases], [r.text for r, _ in cases]
    assert all("/ " in str(r.json()["detail"]) for r, code in cases if code != 401)    # 中文 / English
    assert _counts(store, media) == before
    assert _send(client, rid, 1, _png(), heads["inspector"], media="image/png").status_code == 201
    again = _send(client, rid, 1, _jpeg_gps(), heads["inspector"])
    assert again.status_code == 409 and "已有照片" in again.json()["detail"]
    assert _counts(store, media)[0] == before[0] + 1


def test_a_photo_is_read_only_in_its_enterprise(site):
    client, _, heads, saved, _ = site
    rid = saved["record"]["id"]
    assert _send(client, rid, 1, _png(), heads["inspector"], media="image/png").status_code == 201
    assert client.get(f"/api/inspections/records/{rid}/photos/1", params={"enterprise": OTHER}).status_code == 404
    assert client.get(f"/api/inspections/records/{rid}/photos", params={"enterprise": OTHER}).status_code == 404
    assert client.get(f"/api/inspections/records/{rid}/photos/2", params=P).status_code in (404, 422)
    assert client.get(f"/api/inspections/records/{rid}/photos/../1", params=P).status_code == 404


def test_the_migration_goes_down_and_up_on_both_backends(store_url):
    from alembic import command
    from pgdb import backend_of, owner_url
    from sqlalchemy import inspect

    from riskmap.store.upgrade import alembic_config, head_revision, schema_diff

    open_store(store_url).close()
    # migrations run as the tables' owner (on PostGIS the service's role may not change the schema)
    migrating = owner_url(store_url) if backend_of(store_url) == "postgis" else store_url
    store = open_store(migrating)
    store.enterprise(ENT)
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0009")
        assert "inspection_photos" not in inspect(conn).get_table_names()
        assert "inspection_records" in inspect(conn).get_table_names()
    store.close()
    store = open_store(migrating)                  # opening upgrades to head again
    try:
        with store.engine.connect() as conn:
            assert schema_diff(conn) == [] and "inspection_photos" in inspect(conn).get_table_names()
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() == head_revision()
    finally:
        store.close()
