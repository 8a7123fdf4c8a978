"""HTTP mode: an ASGI app with /slack/events, /healthz and /metrics, and Socket Mode for teams without a URL."""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.context.context import BoltContext
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.app import runtime_of
from bot.inbound_shapes import check_body
from bot.listener_parts import Runtime
from brandgate.errors import ConfigError
from brandgate.settings import Settings

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413 before the app reads them into memory.

    A declared Content-Length over the limit is refused unread; a chunked body is counted as it
    arrives and refused when it passes the limit. Slack's own payloads are a few kilobytes.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        for name, value in scope.get("headers") or []:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _too_large(send, 400, "bad Content-Length")
                    return
                if declared > self._limit:
                    await _too_large(send, 413, f"request body over {self._limit} bytes")
                    return
        # Read the (small) body here, counting, so an oversized one never reaches the app's buffers.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self._limit:
                await _too_large(send, 413, f"request body over {self._limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self._app(scope, replay, send)


async def _too_large(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build_asgi(app: App, settings: Settings) -> ASGIApp:
    """The ASGI app uvicorn serves. Slack requests are dispatched on a worker thread, never the event loop."""
    runtime = runtime_of(app)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""

    verifier = SignatureVerifier(secret)

    async def events(request: Request) -> Response:
        started = time.perf_counter()
        body = await request.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return PlainTextResponse("body is not UTF-8", status_code=400)
        # The signature before any parsing: an unsigned body is 401 whatever it holds, and nothing
        # unsigned reaches a JSON parser. bolt checks again, but only after parsing.
        refused = refuse_unsigned(verifier, request.headers, text)
        if refused is not None:
            return refused
        refusal = check_body(text, request.headers.get("content-type"))
        if refusal is not None:
            return PlainTextResponse(refusal.reason, status_code=refusal.status)
        bolt_request = to_bolt_request(request, body)
        if "command" in bolt_request.raw_body and not bolt_request.body:
            # bolt reads any form whose text contains "payload" as an interactive payload, and a
            # command such as `/brandgate "payload bay doors"` would arrive empty; read it as the form it is.
            bolt_request.body = dict(urllib.parse.parse_qsl(text, keep_blank_values=True))
            bolt_request.context = build_context(BoltContext({}), bolt_request.body)
        # bolt's own Starlette handler calls dispatch() on the event loop, which would make every
        # request wait for the one before it; a thread keeps acks independent of each other.
        bolt_response = await run_in_threadpool(app.dispatch, bolt_request)
        runtime.metrics.ack_seconds.observe(time.perf_counter() - started)
        return to_starlette_response(bolt_response)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def metrics(request: Request) -> Response:
        payload = generate_latest(runtime.metrics.registry) + generate_latest(REGISTRY)
        return Response(payload, media_type=CONTENT_TYPE_LATEST)

    starlette = Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=_closing(runtime),
    )
    return BodyLimit(starlette, settings.slack_max_body_bytes)


_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def refuse_unsigned(verifier: SignatureVerifier, headers: Mapping[str, str], body: str) -> Response | None:
    """401 unless the request carries Slack's signature over this body, made in the last 5 minutes."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    # The SDK's own check would raise on a timestamp that is not a number and on a non-ASCII signature.
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return PlainTextResponse("missing or malformed Slack signature headers", status_code=401)
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return PlainTextResponse("invalid or expired Slack signature", status_code=401)
    return None


def _closing(runtime: Runtime) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        runtime.close()

    return lifespan


def warm_up(app: App) -> None:
    """Open the queue (and its local workers) now, not on the first command, without delaying start-up."""

    def open_queue() -> None:
        try:
            runtime_of(app).services.queue  # noqa: B018  (opening is the point)
        except Exception:
            log.exception("the job queue cannot be opened; commands will say so until it can")

    threading.Thread(target=open_queue, name="brandgate-warm-up", daemon=True).start()


def serve_http(app: App, settings: Settings, host: str, port: int) -> None:
    import uvicorn

    warm_up(app)
    # log_config=None: uvicorn's lines go through our handler, in BRANDGATE_LOG_FORMAT
    uvicorn.run(build_asgi(app, settings), host=host, port=port, log_level="info", access_log=False, log_config=None)


def socket_mode_handler(app: App, settings: Settings) -> Any:
    """Socket Mode: `apps.connections.open` with the app-level token, then Slack's requests over a WebSocket."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if settings.slack_app_token is None:
        raise ConfigError(
            "Socket Mode needs BRANDGATE_SLACK_APP_TOKEN (xapp-…, with connections:write); see docs/slack.md"
        )
    # The Web API client is the app's, so apps.connections.open goes to settings.slack_api_url too.
    return SocketModeHandler(app, app_token=settings.slack_app_token.get_secret_value())


def serve_socket_mode(app: App, settings: Settings) -> None:
    handler = socket_mode_handler(app, settings)
    warm_up(app)
    try:
        handler.start()
    finally:
        runtime_of(app).close()
