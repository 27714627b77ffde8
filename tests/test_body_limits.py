"""Request bodies are refused before they are read (riskmap.api.guard): the editor token first, then the declared
size, the media type, and a body without Content-Length is counted as it streams in.

In-process, the app is called as ASGI with a `receive` that counts what it hands out: a refusal must come with
nothing read. In a child uvicorn process, 300 MB bodies (declared, streamed, four at once) leave the server's
peak memory where it was. Every refusal is a bilingual message and leaves every table as it was.
"""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hostilekit import MIB, bilingual, child_server, peak_rss_kb, send_body, table_digest
from kit import person_token

from riskmap.api.app import create_app
from riskmap.demo import load_demo
from riskmap.settings import Settings

# The five JSON routes of the issue, and the other routes that take a body.
FIVE = [("POST", "/api/evaluate"), ("PATCH", "/api/units/CY-01"), ("POST", "/api/accidents"),
        ("POST", "/api/flags/clear"), ("POST", "/api/history/restore")]
OTHER_WRITES = [("POST", "/ogc/collections/layout/items"), ("PATCH", "/ogc/collections/layout/items/B1"),
                ("POST", "/api/layout/split"), ("POST", "/api/layout/merge")]
WRITES = [*FIVE[1:], *OTHER_WRITES]
REVISE = ("POST", "/api/layout/revise")
JSON_TYPE = {"Content-Type": "application/json", "If-Match": "*"}
LIMIT = Settings().max_body_bytes


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo plant in SQLite with an editor and a reader token; the app over it."""
    from riskmap.store import open_store, tokens

    url = f"sqlite:///{tmp_path_factory.mktemp('limits') / 'demo.db'}"
    load_demo(Settings(db=url))
    with open_store(url) as store:
        editor = person_token(store, ("editor", "safety_manager"), "编辑")     # every write route, the ledger's too
        reader = tokens.create_token(store, "reader", "看板")[0]
    app = create_app(Settings(db=url))
    yield {"url": url, "app": app, "editor": {"Authorization": f"Bearer {editor}"},
           "reader": {"Authorization": f"Bearer {reader}"}}
    app.state.store().close()


def call(app, method: str, path: str, headers: dict[str, str], size: int, *, declare: bool = True):
    """Call the app as ASGI with a body of `size` bytes handed out 1 MiB per receive(); returns (status, json body,
    bytes handed out). Without `declare` the body comes chunked, with no Content-Length."""
    given = {"bytes": 0}
    head = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
    head.append((b"content-length", str(size).encode()) if declare else (b"transfer-encoding", b"chunked"))
    path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": head, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    answer = {"status": 0, "body": b""}

    async def receive():
        n = min(MIB, size - given["bytes"])
        given["bytes"] += n
        return {"type": "http.request", "body": b"x" * n, "more_body": given["bytes"] < size}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    # In a thread of its own: Playwright's sync API (the browser tests, same worker) keeps a loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    return answer["status"], json.loads(answer["body"] or b"{}"), given["bytes"]


@pytest.mark.parametrize("method, path", WRITES + [REVISE])
def test_a_write_without_a_valid_editor_token_is_refused_unread(demo, method, path):
    before = table_digest(demo["url"])
    for headers, status in (({}, 401), ({"Authorization": "Bearer rmk_nonsense"}, 401), (demo["reader"], 403)):
        code, body, read = call(demo["app"], method, path, {**headers, **JSON_TYPE}, 300 * MIB)
        assert (code, read) == (status, 0), (headers, code, read)
        assert bilingual(body["detail"]), body
    assert table_digest(demo["url"]) == before


@pytest.mark.parametrize("method, path", FIVE + OTHER_WRITES)
def test_a_declared_body_over_the_limit_is_refused_unread(demo, method, path):
    before = table_digest(demo["url"])
    code, body, read = call(demo["app"], method, path, {**demo["editor"], **JSON_TYPE}, LIMIT + 1)
    assert (code, read) == (413, 0)
    assert bilingual(body["detail"]) and "5 MB" in body["detail"], body
    assert table_digest(demo["url"]) == before


@pytest.mark.parametrize("method, path", FIVE + OTHER_WRITES)
def test_a_streamed_body_is_cut_at_the_limit(demo, method, path):
    """No Content-Length: the body is counted as it comes and refused at the limit, the rest never read."""
    before = table_digest(demo["url"])
    code, body, read = call(demo["app"], method, path, {**demo["editor"], **JSON_TYPE}, 300 * MIB, declare=False)
    assert code == 413 and bilingual(body["detail"]), body
    assert LIMIT < read <= LIMIT + MIB
    assert table_digest(demo["url"]) == before


@pytest.mark.parametrize("method, path", FIVE + OTHER_WRITES)
def test_a_body_that_is_not_json_is_refused_unread(demo, method, path):
    code, body, read = call(demo["app"], method, path, {**demo["editor"], "Content-Type": "text/plain"}, 100)
    assert (code, read) == (415, 0)
    assert bilingual(body["detail"]) and "JSON" in body["detail"]


def test_uploads_have_their_own_limit(demo):
    """The revised drawing may be as large as RISKMAP_MAX_UPLOAD_MB (plus the form's fields); more is refused unread,
    and a JSON route never takes an upload's size."""
    upload = Settings().max_upload_bytes
    multipart = {**demo["editor"], "Content-Type": "multipart/form-data; boundary=x"}
    code, body, read = call(demo["app"], *REVISE, multipart, upload + 2 * MIB)
    assert (code, read) == (413, 0) and bilingual(body["detail"])
    code, body, read = call(demo["app"], "POST", "/api/evaluate", {"Content-Type": "multipart/form-data; boundary=x"},
                            LIMIT + 1)
    assert (code, read) == (413, 0)
    code, body, read = call(demo["app"], *REVISE, {**demo["editor"], **JSON_TYPE}, 100)
    assert (code, read) == (415, 0) and "multipart/form-data" in body["detail"]


def test_reads_ignore_a_body_and_refuse_a_huge_one(demo):
    code, _, read = call(demo["app"], "GET", "/api/regions", {}, 100)
    assert code == 200 and read == 0
    code, body, read = call(demo["app"], "GET", "/api/regions", {}, 300 * MIB)
    assert (code, read) == (413, 0) and bilingual(body["detail"])


def test_300_mb_bodies_leave_the_servers_memory_where_it_was(demo):
    """The issue's reproduction against uvicorn: 300 MB to each of the five routes, declared and streamed, with and
    without a token, then four at once; the server's peak RSS (VmHWM) may not grow by more than 64 MiB."""
    big = 300 * MIB
    before = table_digest(demo["url"])
    with child_server(demo["url"]) as (port, pid):
        for method, path in FIVE:                       # warm every route up with a small, valid-looking request
            send_body(port, method, path, {**demo["editor"], **JSON_TYPE}, 2)
        baseline = peak_rss_kb(pid)
        for method, path in FIVE:
            for headers in ({}, demo["editor"]):
                for chunked in (False, True):
                    status, body, sent = send_body(port, method, path, {**headers, **JSON_TYPE}, big, chunked=chunked)
                    expected = 413 if headers or path == "/api/evaluate" else 401
                    assert status == expected, (method, path, headers, chunked, status, body[:200])
                    assert bilingual(json.loads(body)["detail"])
                    assert sent < 64 * MIB, (method, path, sent)   # answered long before the body was sent

        answers = []

        def one(method, path):
            answers.append(send_body(port, method, path, JSON_TYPE, big)[0])

        threads = [threading.Thread(target=one, args=route) for route in FIVE[:4]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(answers) == [401, 401, 401, 413]
        peak = peak_rss_kb(pid)
    print(f"\nserver peak RSS: {baseline / 1024:.0f} MiB before, {peak / 1024:.0f} MiB after 300 MB bodies")
    assert peak - baseline < 64 * 1024, (baseline, peak)
    assert table_digest(demo["url"]) == before
