"""The HTML report: self-contained, every applicable plot present, and clean in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import hyperdial
from hyperdial.visualization import write_report

pytest.importorskip("plotly", reason="the plot extra is not installed: pip install -e '.[plot]'")

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _meta(text: str) -> dict:
    raw = re.search(r'<script type="application/json" id="hyperdial-report">(.*?)</script>', text, re.S).group(1)
    return json.loads(raw.replace("&quot;", '"'))


def test_report_contents(mixed_study, tmp_path):
    mixed_study._set_system_attrs({"environment": {"python": "3.11.9", "packages": {"numpy": "2.0"}}})
    text = write_report(mixed_study, tmp_path / "r.html").read_text()
    meta = _meta(text)
    assert meta["plots"] == ["history", "importance", "slice", "parallel", "contour", "intermediate", "edf", "timeline"]
    for anchor in meta["plots"]:
        assert f'id="plot-{anchor}"' in text
    assert "Best trials" in text and "trial</th>" in text
    best = mixed_study.best_trial
    assert f"<td class=num>{best.number}</td>" in text
    assert "fANOVA" in text and "PED-ANOVA" in text
    assert "log scale" in text and "categorical: mlp, tree" in text  # the search space
    assert "3.11.9" in text and "numpy" in text  # the recorded environment
    assert "<script src" not in text  # plotly.js is embedded, nothing is fetched
    with pytest.raises(ValueError, match=r"use a file name ending in \.html"):
        write_report(mixed_study, tmp_path / "r.png")


def test_report_multi_objective_and_empty(two_objective_study, tmp_path):
    text = write_report(two_objective_study, tmp_path / "m.html").read_text()
    meta = _meta(text)
    assert meta["plots"][:3] == ["pareto", "history-0", "history-1"]
    assert "Intermediate values" in meta["skipped"]  # nothing reported: said, not drawn
    empty = hyperdial.create_study("empty-one")
    text = write_report(empty, tmp_path / "e.html").read_text()
    assert _meta(text)["plots"] == [] and "No COMPLETE trial yet" in text
    assert "has no trials" in text


class _DevTools:
    """Just enough of the Chrome DevTools protocol to load a page and collect its errors."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(json.dumps(p["exceptionDetails"])[:500])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text", ""))
        return out


@pytest.fixture
def browser(tmp_path):
    if CHROMIUM is None:
        pytest.skip("no Chromium: install Debian's chromium package (.ci/run does) to open the report in a browser")
    pytest.importorskip("websocket", reason="websocket-client is not installed: pip install -e '.[test]'")
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"Chromium did not start (exit code {proc.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            pages = [t for t in json.load(resp) if t["type"] == "page"]
        yield _DevTools(pages[0]["webSocketDebuggerUrl"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_report_in_headless_chromium(mixed_study, tmp_path, browser):
    from hyperdial.cli import main

    url = mixed_study.storage.url if hasattr(mixed_study.storage, "url") else None
    out = tmp_path / "report.html"
    assert main(["report", "mixed", "--storage", url, "-o", str(out), "--quiet"]) == 0
    expected = _meta(out.read_text())["plots"]
    assert len(expected) == 8
    for domain in ("Runtime", "Log", "Page"):
        browser.call(f"{domain}.enable")
    browser.call("Page.navigate", url=Path(out).as_uri())
    browser.wait_for("Page.loadEventFired", timeout=60)
    deadline = time.monotonic() + 60
    drawn: list[str] = []
    while time.monotonic() < deadline:
        drawn = browser.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".filter(d => d.querySelector('.main-svg')).map(d => d.id)"
        )
        if len(drawn) == len(expected):
            break
        time.sleep(0.2)
    assert sorted(drawn) == sorted(f"plot-{a}" for a in expected)
    assert browser.evaluate("typeof Plotly") == "object"
    assert browser.errors() == []
