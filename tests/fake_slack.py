"""A local fake of Slack for every test that talks to it: the Web API over real HTTP on 127.0.0.1, file
downloads, and a Socket Mode WebSocket server.

It records every call and answers the way Slack does (`ok: false` errors, `invalid_auth` for a token
that is not `fake_token()`, HTTP 429 with Retry-After, private file URLs that need the token), so
tests assert on what the real app sent, not on our own functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TEAM_ID = "T0TESTTEAM"
BOT_USER = "UBOTUSER"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class SharedFile:
    id: str
    name: str
    data: bytes
    channel: str
    url: str | None = None  # what files.info gives as url_private_download; None: the fake's own
    size: int | None = None  # what files.info claims; None: the real size


@dataclass
class Download:
    """One GET of a file URL, with the Authorization header it carried (None when it carried none)."""

    path: str
    authorization: str | None


class FakeSlack:
    """Start with `with FakeSlack() as slack:`; point the app at `slack.api_url`."""

    def __init__(self, team_id: str = TEAM_ID) -> None:
        self.team_id = team_id
        self.calls: list[Call] = []
        self.uploads: dict[str, bytes] = {}
        self.responses: list[dict[str, Any]] = []  # what was POSTed to response_url
        self.groups: dict[str, list[str]] = {}
        self.users: dict[str, dict[str, Any]] = {}  # users.info answers: user ID -> {"real_name": ..., "profile": ...}
        self.files: dict[str, SharedFile] = {}
        self.downloads: list[Download] = []
        self.redirects: dict[str, str] = {}  # GET path -> Location answered with 302
        self._rate_limits: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._condition = threading.Condition(self._lock)
        self.socket_url: str | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.base + "/api/"

    def response_url(self, name: str = "r") -> str:
        return f"{self.base}/respond/{name}"

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- test controls -------------------------------------------------------------------------------

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `method` get HTTP 429 with this Retry-After."""
        with self._lock:
            self._rate_limits.setdefault(method, []).extend([retry_after] * times)

    def share_file(self, channel: str, name: str, data: bytes, url: str | None = None, size: int | None = None) -> str:
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = SharedFile(file_id, name, data, channel, url, size)
        return file_id

    def file_url(self, file_id: str) -> str:
        shared = self.files[file_id]
        return shared.url or f"{self.base}/files-pri/{shared.id}/{shared.name}"

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[list[Call]], bool], timeout: float = 10.0) -> list[Call]:
        """Blocks until `predicate(calls)` is true; raises AssertionError with the calls seen otherwise."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not predicate(list(self.calls)):
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, {k: v for k, v in c.params.items() if k != "blocks"}) for c in self.calls]
                    raise AssertionError(f"timed out waiting; calls so far: {seen}")
                self._condition.wait(left)
            return list(self.calls)

    def wait_calls(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        self.wait_for(lambda calls: sum(c.method == method for c in calls) >= count, timeout)
        return self.calls_to(method)

    # --- the Web API ---------------------------------------------------------------------------------

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._condition:
            pending = self._rate_limits.get(method)
            if pending:
                retry_after = pending.pop(0)
                self.calls.append(Call(method, {**params, "_rate_limited": True}, token))
                self._condition.notify_all()
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
            self.calls.append(Call(method, params, token))
            self._condition.notify_all()
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        # Socket Mode opens with the app-level token (xapp-…); everything else needs the bot token.
        if token != fake_token() and not (method == "apps.connections.open" and token.startswith("xapp-")):
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(params), {}

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://brandgate-test.slack.com/",
            "team": "Test Team",
            "user": "brandgate",
            "team_id": self.team_id,
            "user_id": BOT_USER,
            "bot_id": "BBOTID",
            "app_id": "ABRANDGATE",
        }

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        # An image block may show a file only once it was uploaded (Block Kit's slack_file object).
        for block in params.get("blocks") or []:
            shown = block.get("slack_file") if isinstance(block, dict) and block.get("type") == "image" else None
            if shown is not None and shown.get("id") not in self.uploads:
                return {"ok": False, "error": "invalid_blocks", "errors": ["slack_file: no such file"]}
        ts = self._ts()
        message = {"type": "message", "text": params.get("text"), "blocks": params.get("blocks"), "ts": ts}
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        return {"ok": True, "channel": params["channel"], "ts": ts, "message": message}

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": params.get("channel"), "ts": params["ts"], "text": params.get("text")}

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("user") or not params.get("channel"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._ts()}

    def _api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if not params.get("trigger_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {**view, "id": f"V{next(self._ids):08d}", "hash": "h"}}

    def _api_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if not params.get("user_id") or not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_blocks"}  # Slack's limit for a view
        return {"ok": True, "view": {**view, "id": f"V{next(self._ids):08d}", "hash": "h"}}

    def _api_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files") or []
        missing = [f["id"] for f in files if f["id"] not in self.uploads]
        if missing:
            return {"ok": False, "error": "file_not_found", "files": missing}
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": params["user"], "team_id": self.team_id, **user}}

    def _api_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("usergroup")
        if group not in self.groups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.groups[group])}

    def _api_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": self.socket_url}

    def _api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = str(params.get("users") or "")
        return {"ok": True, "channel": {"id": "D" + users.split(",")[0]}}

    def _api_files_list(self, params: dict[str, Any]) -> dict[str, Any]:
        found = [f for f in self.files.values() if f.channel == params.get("channel")]
        return {
            "ok": True,
            "files": [{"id": f.id, "name": f.name} for f in reversed(found)][: int(params.get("count", 100))],
        }

    def _api_files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        shared = self.files.get(str(params.get("file")))
        if shared is None:
            return {"ok": False, "error": "file_not_found"}
        return {
            "ok": True,
            "file": {
                "id": shared.id,
                "name": shared.name,
                "size": len(shared.data) if shared.size is None else shared.size,
                "url_private_download": self.file_url(shared.id),
            },
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/stats":  # for benchmarks in another process: calls by method
                    with fake._lock:
                        counts: dict[str, int] = {}
                        for call in fake.calls:
                            counts[call.method] = counts.get(call.method, 0) + 1
                    self._send(200, json.dumps(counts).encode(), "application/json")
                    return
                if self.path.startswith(("/files-pri/", "/files-pub/", "/elsewhere/")):
                    with fake._condition:
                        fake.downloads.append(Download(self.path, self.headers.get("Authorization")))
                        fake._condition.notify_all()
                if self.path in fake.redirects:
                    self._send(302, b"", "text/plain", {"Location": fake.redirects[self.path]})
                    return
                if self.path.startswith("/files-pub/"):  # a public copy: no token needed
                    shared = fake.files.get(self.path.split("/")[2])
                    if shared is None:
                        self._send(404, b"not found", "text/plain")
                    else:
                        self._send(200, shared.data, "application/octet-stream")
                    return
                if self.path.startswith("/files-pri/"):
                    file_id = self.path.split("/")[2]
                    shared = fake.files.get(file_id)
                    if shared is None or self.headers.get("Authorization", "") != f"Bearer {fake_token()}":
                        self._send(404, b"not found", "text/plain")
                        return
                    self._send(200, shared.data, "application/octet-stream")
                    return
                self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.startswith("/upload/"):
                    file_id = self.path.rsplit("/", 1)[1]
                    with fake._condition:
                        fake.uploads[file_id] = raw
                        fake.calls.append(Call("upload", {"file_id": file_id, "bytes": len(raw)}, None))
                        fake._condition.notify_all()
                    self._send(200, f"OK - {len(raw)}".encode(), "text/plain")
                    return
                if self.path.startswith("/respond/"):
                    with fake._condition:
                        fake.responses.append(json.loads(raw or b"{}"))
                        fake.calls.append(Call("response_url", json.loads(raw or b"{}"), None))
                        fake._condition.notify_all()
                    self._send(200, b"ok", "text/plain")
                    return
                if not self.path.startswith("/api/"):
                    self._send(404, b"not found", "text/plain")
                    return
                method = self.path[len("/api/") :].split("?")[0]
                params = _params(raw, self.headers.get("Content-Type", ""))
                token = self.headers.get("Authorization", "").removeprefix("Bearer ") or params.pop("token", None)
                status, body, headers = fake._answer(method, params, token)
                self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

        return Handler


_TOKEN = {"value": "xoxb-test-token"}


def fake_token() -> str:
    return _TOKEN["value"]


def _params(raw: bytes, content_type: str) -> dict[str, Any]:
    """The call's arguments, whichever way the SDK sent them; JSON-valued fields decoded."""
    if content_type.startswith("application/json"):
        params: dict[str, Any] = json.loads(raw or b"{}")
    else:
        params = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()}
    for key in ("blocks", "view", "files", "attachments"):
        value = params.get(key)
        if isinstance(value, str):
            with contextlib.suppress(json.JSONDecodeError):
                params[key] = json.loads(value)
    return params


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends: v0 HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class FakeSocketMode:
    """Slack's Socket Mode end: a local WebSocket server that says hello, sends envelopes, collects acks."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: list[dict[str, Any]] = []
        self._connections: list[Any] = []
        self._condition = threading.Condition()
        self._server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=test"

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def _handle(self, connection: Any) -> None:
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake"},
                    "connection_info": {"app_id": "ABRANDGATE"},
                }
            )
        )
        with self._condition:
            self._connections.append(connection)
            self._condition.notify_all()
        try:
            for message in connection:
                with self._condition:
                    self.acks.append(json.loads(message))
                    self._condition.notify_all()
        except Exception:
            return

    def send(self, envelope_type: str, payload: dict[str, Any], timeout: float = 10.0) -> str:
        envelope_id = f"env-{uuid4_hex()}"
        with self._condition:
            if not self._condition.wait_for(lambda: self._connections, timeout):
                raise AssertionError("the app never connected over Socket Mode")
            connection = self._connections[-1]
        connection.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": envelope_type,
                    "payload": payload,
                    "accepts_response_payload": envelope_type != "events_api",
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
        )
        return envelope_id

    def ack_for(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        with self._condition:
            if not self._condition.wait_for(
                lambda: any(a.get("envelope_id") == envelope_id for a in self.acks), timeout
            ):
                raise AssertionError(f"no ack for {envelope_id}; acks: {self.acks}")
            return next(a for a in self.acks if a.get("envelope_id") == envelope_id)


def uuid4_hex() -> str:
    import uuid

    return uuid.uuid4().hex
