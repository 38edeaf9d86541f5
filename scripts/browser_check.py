#!/usr/bin/env python3
"""Open a page in headless Chromium, fail on any console error, and save a screenshot.

    python3 scripts/browser_check.py PAGE.html [--screenshot OUT.png] [--require-ready] [--fragment ID]
    python3 scripts/browser_check.py --self-test

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe; Python's
standard library only). The check fails (exit 1) on:
  - an uncaught exception or a console.error / console.assert message,
  - a browser log entry of level error (a resource that failed to load, a blocked request),
  - any request that leaves the page's own files (a scheme other than file:, data:, about:,
    blob:): the report must be self-contained,
  - with --require-ready, a page whose script did not finish (report.html sets
    data-ready="1" on <html> as its script's last statement).

Without Chromium it exits 2 with a loud message, unless ONEPROXY_SKIP_BROWSER=1 says to skip (it
still says so loudly). --self-test checks the checker: a good page passes and each of several
broken pages fails.
"""

import argparse
import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")
WIDTH, HEIGHT = 1280, 900
# Guards against a hung browser only; nothing here measures or asserts on time.
DEADLINE_S = 90


def find_chromium():
    for name in (os.environ.get("ONEPROXY_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Browser:
    def __init__(self, exe):
        self.profile = tempfile.mkdtemp(prefix="oneproxy-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # Chromium reads commands on fd 3 and writes answers on fd 4.
        # Copies above the low numbers (close-on-exec), so that wiring 3 and 4 clobbers neither.
        hi_r, hi_w = _dup_high(to_browser_r), _dup_high(from_browser_w)

        def wire():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        args = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
            f"--user-data-dir={self.profile}", "--remote-debugging-pipe", f"--window-size={WIDTH},{HEIGHT}",
            "about:blank",
        ]
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     preexec_fn=wire, close_fds=False)
        for fd in (to_browser_r, from_browser_w, hi_r, hi_w):
            os.close(fd)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        want = self.next_id
        while True:
            m = self.read()
            if m.get("id") == want:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def read(self):
        deadline = time.monotonic() + DEADLINE_S
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                self.log.seek(0)
                raise RuntimeError("Chromium closed the pipe:\n" + self.log.read().decode(errors="replace")[-2000:])
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def wait_event(self, method, session):
        for k, e in enumerate(self.events):
            if e.get("method") == method and e.get("sessionId") == session:
                return self.events.pop(k)
        while True:
            e = self.read()
            if e.get("method") == method and e.get("sessionId") == session:
                return e
            self.events.append(e)

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.to_browser, self.from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


def _dup_high(fd):
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)


def problems_in(events, session):
    out = []
    for e in events:
        if e.get("sessionId") != session:
            continue
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description") or d.get("text")
            out.append(f"uncaught exception: {text} (line {d.get('lineNumber')})")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"console.{p.get('type')}: {args}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            en = p["entry"]
            out.append(f"browser log error ({en.get('source')}): {en.get('text')} {en.get('url', '')}".rstrip())
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(LOCAL_SCHEMES):
                out.append(f"request outside the page's files: {url}")
    return out


def check(exe, page, screenshot=None, require_ready=False, fragment=None):
    """Problems found on the page (empty: clean) and the screenshot's size."""
    url = pathlib.Path(page).resolve().as_uri() + (f"#{fragment}" if fragment else "")
    b = Browser(exe)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            b.send(f"{domain}.enable", session=s)
        b.send("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}, session=s)
        nav = b.send("Page.navigate", {"url": url}, session=s)
        if nav.get("errorText"):
            return [f"navigation failed: {nav['errorText']}"], None
        b.wait_event("Page.loadEventFired", s)
        # Let late scripts and console messages arrive: a round trip after the load event.
        ready = b.send("Runtime.evaluate", {"expression": "document.documentElement.getAttribute('data-ready')", "returnByValue": True}, session=s)
        found = problems_in(b.events, s)
        if require_ready and ready.get("result", {}).get("value") != "1":
            found.append("the page's script did not finish (no data-ready=\"1\" on <html>)")
        size = None
        if screenshot:
            metrics = b.send("Page.getLayoutMetrics", session=s)
            content = metrics.get("cssContentSize") or metrics.get("contentSize")
            w, h = int(content["width"]), min(int(content["height"]), 16000)
            shot = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                     "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}, session=s)
            pathlib.Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            pathlib.Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            size = (w, h)
        found += [f for f in problems_in(b.events, s) if f not in found]
        return found, size
    finally:
        b.close()


GOOD = "<!DOCTYPE html><html><body><p>ok</p><script>document.documentElement.setAttribute('data-ready','1');</script></body></html>"
BROKEN = {
    "js-error": "<!DOCTYPE html><html><body><script>undefinedFunction();document.documentElement.setAttribute('data-ready','1');</script></body></html>",
    "console-error": "<!DOCTYPE html><html><body><script>console.error('boom');document.documentElement.setAttribute('data-ready','1');</script></body></html>",
    "external-script": "<!DOCTYPE html><html><body><script src=\"https://example.invalid/x.js\"></script><script>document.documentElement.setAttribute('data-ready','1');</script></body></html>",
    "missing-image": "<!DOCTYPE html><html><body><img src=\"no-such-file.png\"><script>document.documentElement.setAttribute('data-ready','1');</script></body></html>",
    "not-ready": "<!DOCTYPE html><html><body><p>no script</p></body></html>",
}


def self_test(exe):
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        good = pathlib.Path(d, "good.html")
        good.write_text(GOOD)
        found, _ = check(exe, good, require_ready=True)
        if found:
            print(f"self-test FAILED: a good page was flagged: {found}")
            failures += 1
        for name, html in BROKEN.items():
            p = pathlib.Path(d, f"{name}.html")
            p.write_text(html)
            found, _ = check(exe, p, require_ready=True)
            if not found:
                print(f"self-test FAILED: the broken page '{name}' passed")
                failures += 1
            else:
                print(f"self-test: '{name}' caught: {found[0]}")
    print(f"browser check self-test: {len(BROKEN) + 1 - failures} passed, {failures} failed")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page", nargs="?")
    ap.add_argument("--screenshot")
    ap.add_argument("--require-ready", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--fragment", help="open PAGE#FRAGMENT (report.html opens the plot it names)")
    a = ap.parse_args()
    exe = find_chromium()
    if exe is None:
        bar = "!" * 78
        if os.environ.get("ONEPROXY_SKIP_BROWSER") == "1":
            print(f"{bar}\nbrowser check SKIPPED: no Chromium, and ONEPROXY_SKIP_BROWSER=1 says to skip.\n"
                  f"report.html was NOT checked in a browser.\n{bar}", file=sys.stderr)
            return 0
        print(f"{bar}\nbrowser check FAILED: Chromium is not installed (Debian: apt-get install chromium).\n"
              f"Set ONEPROXY_SKIP_BROWSER=1 to skip this check knowingly.\n{bar}", file=sys.stderr)
        return 2
    if a.self_test:
        return self_test(exe)
    if not a.page:
        ap.error("a page to check, or --self-test")
    found, size = check(exe, a.page, a.screenshot, a.require_ready, a.fragment)
    for f in found:
        print(f"browser check: {a.page}: {f}")
    shot = f", screenshot {a.screenshot} ({size[0]}x{size[1]})" if size else ""
    print(f"browser check: {a.page}: {len(found)} console error(s){', script ran' if a.require_ready and not any('did not finish' in f for f in found) else ''}{shot}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
