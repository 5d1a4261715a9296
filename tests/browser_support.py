"""Serve the built book on 127.0.0.1 and drive it with headless Chromium.

Used by the ``book_server``, ``browser`` and ``page`` fixtures in conftest.py.
Every request that leaves the local server is aborted *and recorded*; every
console error and page error is recorded, so a test can assert none happened.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Console messages we understand and accept. Keep this list short and explain
# every entry; a new message fails the browser tests until it is understood.
ALLOWED_CONSOLE = (
    # The widget manager logs this (console.error) when a page has no widget
    # view for a model that is only part of the saved state (e.g. a layout).
)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def serve(directory: Path = BUILD) -> Iterator[str]:
    """Serve ``directory`` on a free loopback port; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageLog:
    """What a page did that a test may want to forbid."""

    base_url: str
    external_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        out = [f"request left the site: {u}" for u in self.external_requests]
        out += [f"console error: {m}" for m in self.console_errors]
        out += [f"page error: {m}" for m in self.page_errors]
        out += [f"request failed: {u}" for u in self.failed_requests]
        return out


def watch(page, base_url: str) -> PageLog:  # page: playwright.sync_api.Page
    """Block and record non-local requests; record console and page errors."""
    log = PageLog(base_url)

    def route(route) -> None:
        url = route.request.url
        if url.startswith(base_url) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            log.external_requests.append(url)
            route.abort()

    def on_console(msg) -> None:
        if msg.type == "error" and not any(a in msg.text for a in ALLOWED_CONSOLE):
            log.console_errors.append(msg.text)

    def on_failed(request) -> None:
        if request.url.startswith(base_url):
            log.failed_requests.append(f"{request.url} ({request.failure})")

    page.route("**/*", route)
    page.on("console", on_console)
    page.on("pageerror", lambda err: log.page_errors.append(str(err)))
    page.on("requestfailed", on_failed)
    return log


def wait_for_mathjax(page, timeout_ms: int = 20_000) -> None:
    """Wait until MathJax 3 has finished its first typesetting pass."""
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
        " && (MathJax.startup.promise.then(() => window.__mj_done = true), window.__mj_done)",
        timeout=timeout_ms,
    )
