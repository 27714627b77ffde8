"""Prints of a past moment: `?at=` on the print endpoints and `--at` on poster/board/cards show the plan as it
was then, and say so ("截至 … 的数据 / data as of …") in the footer and the poster's title block."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from printkit import pdftotext, run_cli

from riskmap.api.app import create_app
from riskmap.clock import LOCAL_ZONE
from riskmap.demo import load_demo
from riskmap.settings import Settings
from riskmap.store import open_store
from riskmap.store.history import format_moment

OLD, NEW = "液氨储罐T-105", "液氨球罐T-905"


@pytest.fixture(scope="module")
def renamed(tmp_path_factory):
    """The demo plant, then unit CY-01-05 renamed: (database URL, a moment between the two, the time before)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('asof') / 'demo.db'}"
    before = datetime.now(UTC)
    time.sleep(0.01)
    load_demo(Settings(db=url))
    time.sleep(0.01)
    moment = datetime.now(UTC)
    time.sleep(0.01)
    store = open_store(url)
    name = store.enterprises()[0].name

    def rename(unit):
        unit.name = NEW

    store.edit_unit(name, "CY-01-05", rename, author="王工", reason="改造")
    store.close()
    return url, moment, before


@pytest.fixture(scope="module")
def client(renamed):
    with TestClient(create_app(Settings(db=renamed[0]))) as c:
        yield c


def typed(moment: datetime) -> str:
    """The moment as a user types it: Beijing time, no offset."""
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M:%S.%f")


def squeeze(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("path, params", [
    ("/print/board.pdf", {}),
    ("/print/cards.pdf", {"unit": "CY-01-05"}),
])
def test_board_and_cards_of_a_past_moment_show_the_old_plan_and_say_so(client, renamed, tmp_path, path, params):
    _, moment, _ = renamed
    now = client.get(path, params=params)
    past = client.get(path, params={**params, "at": typed(moment)})
    assert now.status_code == 200 and past.status_code == 200, past.text
    now_text, past_text = squeeze(pdftotext(now.content, tmp_path)), squeeze(pdftotext(past.content, tmp_path))
    assert NEW in now_text and OLD not in now_text and "dataasof" not in now_text
    assert OLD in past_text and NEW not in past_text
    shown = squeeze(format_moment(moment))
    assert f"截至{shown}的数据" in past_text and f"dataasof{shown}" in past_text
    assert past.headers["x-riskmap-as-of"] == moment.isoformat()


def test_poster_title_block_and_footer_of_a_past_moment(client, renamed, tmp_path):
    _, moment, _ = renamed
    resp = client.get("/print/poster.pdf", params={"paper": "A3", "at": typed(moment)})
    assert resp.status_code == 200, resp.text
    text = squeeze(pdftotext(resp.content, tmp_path))
    shown = squeeze(format_moment(moment))
    assert "数据截至" in text and f"dataasof{shown}" in text
    again = client.get("/print/poster.pdf", params={"paper": "A3", "at": typed(moment)})
    assert again.content == resp.content                         # the same moment is served from the cache
    png = client.get("/print/poster.png", params={"paper": "A4", "dpi": 50, "at": typed(moment)})
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    image = client.get("/print/upload-image", params={"at": typed(moment)})
    assert image.status_code == 200 and image.headers["x-riskmap-as-of"] == moment.isoformat()


@pytest.mark.parametrize("at, words", [
    ("yesterday", "not an ISO 8601"), ("2026-02-30", "not an ISO 8601"), ("1900-01-01", "before 1990"),
    ("2999-01-01", "in the future"), ("<script>", "not an ISO 8601"), ("2026-10-01T08:00%00", "not an ISO 8601"),
])
def test_bad_moments_are_422_before_any_data_is_read(client, at, words):
    for path in ("/print/poster.pdf", "/print/board.pdf", "/print/cards.pdf", "/print/upload-image"):
        resp = client.get(path, params={"at": at})
        assert resp.status_code == 422, (path, resp.text)
        assert words in resp.text and "时刻" in resp.text


def test_moment_before_anything_was_stored_and_oversized(client, renamed):
    _, _, before = renamed
    resp = client.get("/print/board.pdf", params={"at": typed(before)})
    assert resp.status_code == 422 and "nothing was stored yet" in resp.text and "还没有数据" in resp.text
    assert client.get("/print/board.pdf", params={"at": "2026-10-01T08:00" + "0" * 200}).status_code == 422


def test_cli_prints_with_at(renamed, tmp_path):
    url, moment, _ = renamed
    out = tmp_path / "board.pdf"
    done = run_cli("board", out, "--at", typed(moment), "--db", url)
    assert done.returncode == 0, done.stderr
    text = squeeze(pdftotext(out.read_bytes(), tmp_path))
    assert OLD in text and NEW not in text and f"dataasof{squeeze(format_moment(moment))}" in text
    cards = tmp_path / "cards.pdf"
    assert run_cli("cards", cards, "--unit", "CY-01-05", "--at", typed(moment), "--db", url).returncode == 0
    assert OLD in squeeze(pdftotext(cards.read_bytes(), tmp_path))
    poster = tmp_path / "poster.pdf"
    assert run_cli("poster", poster, "--paper", "A4", "--at", typed(moment), "--db", url).returncode == 0
    assert "数据截至" in squeeze(pdftotext(poster.read_bytes(), tmp_path))
    bad = run_cli("poster", tmp_path / "x.pdf", "--at", "2026-99-01", "--db", url)
    assert bad.returncode == 1 and "not an ISO 8601" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
