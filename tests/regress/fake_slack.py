"""A local stand-in for the Slack Web API on 127.0.0.1 that records what it was sent."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    uploads: list[bytes] = field(default_factory=list)

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]

    def call(self, method: str) -> dict[str, Any]:
        return next(body for name, body in self.calls if name == method)


@contextmanager
def fake_slack(token: str = "xoxb-test") -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            path = self.path.strip("/")
            if path.startswith("upload/"):
                received.uploads.append(raw)
                self._reply({"ok": True}, raw_text="OK - 1")
                return
            if self.headers.get("Authorization") != f"Bearer {token}":
                self._reply({"ok": False, "error": "invalid_auth"})
                return
            ctype = self.headers.get("Content-Type", "")
            if "json" in ctype:
                body = json.loads(raw or b"{}")
            else:
                body = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
            method = path.split("/")[-1]
            received.calls.append((method, body))
            port = self.server.server_address[1]
            if method == "files.getUploadURLExternal":
                self._reply({"ok": True, "upload_url": f"http://127.0.0.1:{port}/upload/F1", "file_id": "F1"})
            elif method == "files.completeUploadExternal":
                self._reply({"ok": True, "files": [{"id": "F1", "title": "report"}]})
            elif method == "chat.postMessage":
                self._reply({"ok": True, "channel": body.get("channel"), "ts": "1.0"})
            else:
                self._reply({"ok": False, "error": "unknown_method"})

        def _reply(self, document: dict[str, Any], raw_text: str | None = None) -> None:
            data = (raw_text or json.dumps(document)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain" if raw_text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/", received
    finally:
        server.shutdown()
        server.server_close()
