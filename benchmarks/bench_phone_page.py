"""The unit's phone page (/u/{id}, opened from the QR code on a post card): its weight and its time to first render
on a phone, measured in headless Chromium at 390×844 (device scale 3, touch) over emulated phone networks.

    .venv/bin/python benchmarks/bench_phone_page.py [--repeat 10] [--unit CY-03-02]

Serves the demo (a scratch SQLite file) with `riskmap serve` in a child process, as a user runs it, and opens the
page with the browser's cache disabled under each network profile: bytes transferred (compressed, as sent) and
requests, first contentful paint, DOMContentLoaded and load, p50 / p95 of --repeat loads. Reference in the same
run: the same page's HTML saved to a file and served by Python's static file server under the same conditions
(what the bytes alone cost); each profile prints the ratio of riskmap's first paint to the static copy's.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskmap.demo import load_demo  # noqa: E402
from riskmap.settings import Settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# Chrome DevTools' presets (throughput in bytes/s, latency in ms): a phone on the plant's 4G and on a weak signal.
PROFILES = {
    "fast 4G": {"latency": 60, "downloadThroughput": 9_000_000 / 8, "uploadThroughput": 1_500_000 / 8},
    "slow 3G": {"latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8},
}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """The reference's static file server, without a log line per request."""

    def log_message(self, *args) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the service did not answer {url} within {timeout:.0f} s")


def pct(runs: list[float], q: float) -> float:
    runs = sorted(runs)
    return runs[min(len(runs) - 1, int(round(q * (len(runs) - 1))))]


def load_once(context, url: str, profile: dict) -> dict:
    """One cold load of `url`: transferred bytes and requests (from the DevTools protocol), paint and load times."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", {"offline": False, **profile})
    sent = {"bytes": 0, "requests": 0}

    def finished(event):
        sent["bytes"] += event.get("encodedDataLength", 0)
        sent["requests"] += 1

    cdp.on("Network.loadingFinished", finished)
    page.goto(url, wait_until="load")
    timing = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return {fcp: fcp ? fcp.startTime : null, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd};
    }""")
    page.wait_for_timeout(200)               # the last loadingFinished events
    page.close()
    return {**timing, **sent}


def measure(context, url: str, profile: dict, repeat: int) -> dict:
    runs = [load_once(context, url, profile) for _ in range(repeat)]
    return {key: [r[key] for r in runs if r[key] is not None] for key in ("fcp", "dcl", "load", "bytes", "requests")}


def main() -> None:
    """The benchmark (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--unit", default="CY-03-02")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-phone-"))
    url_db = f"sqlite:///{folder / 'demo.db'}"
    load_demo(Settings(db=url_db))
    port = free_port()
    env = {**os.environ, "RISKMAP_DB": url_db}
    service = subprocess.Popen([sys.executable, "-m", "riskmap.cli", "serve", "--db", url_db, "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    static_dir = folder / "static"
    static_dir.mkdir()
    handler = functools.partial(QuietHandler, directory=str(static_dir))
    static = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=static.serve_forever, daemon=True).start()
    try:
        origin = f"http://127.0.0.1:{port}"
        wait_up(origin + "/healthz")
        page_url = f"{origin}/u/{args.unit}"
        with urllib.request.urlopen(page_url) as answer:
            body = answer.read()
        (static_dir / "page.html").write_bytes(body)
        gz = urllib.request.Request(page_url, headers={"Accept-Encoding": "br, gzip"})
        with urllib.request.urlopen(gz) as answer:
            sent = len(answer.read())
            coding = answer.headers.get("Content-Encoding", "identity")
        print(f"phone page {page_url}: HTML {len(body):,} bytes, {sent:,} bytes as sent ({coding}); "
              f"{args.repeat} cold loads per profile, Chromium 390×844 ×3, cache disabled")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-quic"])
            context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                          is_mobile=True, has_touch=True, locale="zh-CN")
            load_once(context, page_url, PROFILES["fast 4G"])            # warm the service and the browser
            for name, profile in PROFILES.items():
                got = measure(context, page_url, profile, args.repeat)
                ref = measure(context, f"http://127.0.0.1:{static.server_address[1]}/page.html", profile,
                              args.repeat)
                print(f"{name:<8} riskmap: first paint p50 {statistics.median(got['fcp']):6.0f} ms  p95 "
                      f"{pct(got['fcp'], 0.95):6.0f} ms   DOMContentLoaded p50 {statistics.median(got['dcl']):6.0f} ms"
                      f"   load p50 {statistics.median(got['load']):6.0f} ms   {statistics.median(got['bytes']):,.0f}"
                      f" bytes in {statistics.median(got['requests']):.0f} request(s)")
                ratio = statistics.median(got["fcp"]) / statistics.median(ref["fcp"])
                print(f"{'':<8} static copy: first paint p50 {statistics.median(ref['fcp']):6.0f} ms  p95 "
                      f"{pct(ref['fcp'], 0.95):6.0f} ms   {statistics.median(ref['bytes']):,.0f} bytes (uncompressed)"
                      f"   ratio (riskmap / static, first paint p50) {ratio:.2f}")
            browser.close()
    finally:
        static.shutdown()
        service.terminate()
        service.wait(timeout=30)


if __name__ == "__main__":
    main()
