"""An HTTP file server on 127.0.0.1 for download tests: Range requests, broken transfers, a request log."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Loopback:
    """What the server serves and how it misbehaves; tests change the fields while it runs."""

    files: dict[str, bytes] = field(default_factory=dict)  # URL path without the leading "/" -> content
    break_once: set[str] = field(default_factory=set)  # names sent only half, then the connection closes
    ignore_range: bool = False  # answer Range requests with the whole file (status 200)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (name, Range header)
    url: str = ""

    def names(self) -> list[str]:
        return [name for name, _ in self.requests]


def _handler(state: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.lstrip("/").split("?")[0]
            requested = self.headers.get("Range")
            state.requests.append((name, requested))
            if name not in state.files:
                self.send_error(404)
                return
            body = state.files[name]
            start = 0
            if requested and not state.ignore_range:
                start = int(requested.removeprefix("bytes=").split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if name in state.break_once:  # announce everything, send half, hang up
                state.break_once.discard(name)
                self.wfile.write(body[start : start + (len(body) - start) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body[start:])

        def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
            pass

    return Handler


@contextmanager
def serve(state: Loopback) -> Iterator[Loopback]:
    """Run the server in a thread on a free port while the block runs; ``state.url`` is its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
