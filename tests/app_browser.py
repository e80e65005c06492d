"""Run `faer-hub app` on a loopback port and drive it with Debian's chromium through Playwright.

Used by ``tests/test_app_browser.py`` and, as a script, to make the README's screenshot::

    .venv/bin/python tests/app_browser.py --model runs/demo/export --out docs/app/app.png

Nothing here reaches the network: the server process refuses every non-loopback connection
(and says so on stderr), and the browser aborts every request that is not to the app.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
BLOCKED = "faer-test: blocked network access to"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# Prepended to the server: any connection or name lookup beyond loopback fails and is reported.
_GUARD = f"""
import socket, sys
_LOOP = {sorted(LOOPBACK)!r}
def _ok(host):
    return host is None or str(host) in _LOOP or str(host).startswith("127.") or str(host) == ""
_connect, _connect_ex, _gai = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
def _check(address):
    host = address[0] if isinstance(address, tuple) else None
    if isinstance(address, tuple) and not _ok(host):
        print({BLOCKED!r}, host, file=sys.stderr, flush=True)
        raise OSError(101, "network access blocked by the test")
def connect(self, address):
    _check(address); return _connect(self, address)
def connect_ex(self, address):
    _check(address); return _connect_ex(self, address)
def getaddrinfo(host, *args, **kwargs):
    if not _ok(host):
        print({BLOCKED!r}, host, file=sys.stderr, flush=True)
        raise socket.gaierror(-2, "name lookup blocked by the test")
    return _gai(host, *args, **kwargs)
socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(models: list[str], *, log: Path, timeout: float = 240.0, options: tuple[str, ...] = ()) -> Iterator[str]:
    """Start ``faer-hub app`` for ``models`` (and further ``options``) on a free loopback port;
    yields its URL; stops it with SIGTERM."""
    port = free_port()
    argv = ["app", "--port", str(port), "--host", "127.0.0.1", "--device", "cpu", *options]
    for model in models:
        argv += ["--model", model]
    code = _GUARD + f"\nfrom faer_hub.cli import main\nsys.exit(main({argv!r}))\n"
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", NO_PROXY="*",
               no_proxy="*", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    url = f"http://127.0.0.1:{port}/"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"faer-hub app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"faer-hub app did not answer on {url} in {timeout:.0f} s:\n"
                                       f"{log.read_text()[-3000:]}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)


@contextmanager
def open_page(url: str, *, width: int = 1280, height: int = 900) -> Iterator[tuple[object, list[str]]]:
    """A chromium page on ``url``; yields ``(page, outside)``: requests beyond loopback (aborted)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} not found: apt-get install -y chromium "
                                "(or deselect the browser tests: pytest -m 'not browser')")
    outside: list[str] = []

    def route(r):
        parsed = urlparse(r.request.url)
        if parsed.scheme in ("data", "blob") or parsed.hostname in LOOPBACK:
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(90_000)
            page.route("**/*", route)
            page.goto(url, wait_until="domcontentloaded")
            page.locator("#faer-photo").wait_for(state="visible")
            yield page, outside
        finally:
            browser.close()


def upload(page, path: str | os.PathLike) -> None:
    page.locator("#faer-photo input[type=file]").set_input_files(str(path))


def main(argv: list[str] | None = None) -> int:
    import argparse

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from faer_hub.app import write_example_faces
    from faer_hub.io import write_bytes

    p = argparse.ArgumentParser(description="screenshot of faer-hub app on a generated face")
    p.add_argument("--model", action="append", required=True)
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--example", default="two_faces", help="generated example to upload (default: two_faces)")
    p.add_argument("--cam", action="store_true", help="turn the Grad-CAM switch on")
    args = p.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        faces = {f.stem: f for f in write_example_faces(Path(tmp) / "faces")}
        with serve_app(args.model, log=Path(tmp) / "server.log") as url, open_page(url, height=1000) as (page, outside):
            upload(page, faces[args.example])
            page.locator("#faer-results .faer-face").first.wait_for()
            if args.cam:
                page.locator("#faer-cam input").check()
                page.get_by_text("Grad-CAM for").first.wait_for()
            page.locator("#faer-picture img").first.wait_for()
            page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            write_bytes(args.out, page.screenshot(full_page=True))
            if outside:
                print(f"requests beyond loopback (aborted): {outside}", file=sys.stderr)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
