"""ASGI middleware the service adds in front of BentoML's app: the HTTP contract it keeps and
the OpenAPI document that states it (both found by schema fuzzing, schemathesis), and a fix to
BentoML's request timeout (found by the serving benchmark)."""

from __future__ import annotations

import asyncio
import json

from bentoml._internal.server.http import traffic
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_ROUTES = frozenset({"/predict_file"})  # file uploads: multipart/form-data


class JsonBodiesOnly:
    """ASGI middleware: a POST body must be JSON (or carry no Content-Type, which BentoML reads
    as JSON), but on an upload route, multipart/form-data with its boundary. BentoML's form
    parser answers a multipart Content-Type without a boundary with a 500 (schemathesis found
    it); here any other type is a 415 saying what to send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            content_type = dict(scope["headers"]).get(b"content-type", b"application/json")
            kind = content_type.split(b";")[0].strip().lower()
            if scope["path"] in UPLOAD_ROUTES:
                if kind != b"multipart/form-data" or b"boundary=" not in content_type.lower():
                    body = {"error": "upload the file as multipart/form-data (curl -F file=@...)"}
                    await JSONResponse(body, status_code=415)(scope, receive, send)
                    return
            elif kind != b"application/json":
                body = {"error": "request body must be JSON: Content-Type: application/json"}
                await JSONResponse(body, status_code=415)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RequiredBodiesInOpenAPI:
    """ASGI middleware: marks a POST's request body `required` in /docs.json wherever its schema
    has required fields. BentoML leaves it out, so its document reads as if a bodiless POST to
    /predict were valid (it is a 400); clients generated from the document, and schema fuzzing,
    need the contract the server keeps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/docs.json":
            await self.app(scope, receive, send)
            return
        start: dict = {}
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if start["status"] == 200:
                spec = json.loads(body)
                for operation in spec.get("paths", {}).values():
                    request = operation.get("post", {}).get("requestBody")
                    schemas = [
                        m.get("schema", {}) for m in (request or {}).get("content", {}).values()
                    ]
                    if any(s.get("required") for s in schemas):
                        request["required"] = True
                body = json.dumps(spec).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send(
                {**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
            )
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)


class TimeoutCancellingItsTimer(traffic.TimeoutMiddleware):
    """BentoML's `traffic.timeout` (504 past it), with its timer cancelled when the request
    is done. BentoML 1.4 leaves each request's timer scheduled for the whole timeout (30 s):
    it holds the request's future and context (its finished tracing span included) until then,
    so the worker carries every request of the last 30 s, and under load each full garbage
    collection walks them: 200-340 ms pauses, the serving p99 (measured; see README)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

        async def started(message: Message) -> None:
            if not waiter.done():
                waiter.set_result(None)
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, receive, started))
        try:
            await waiter
        except TimeoutError:
            if handler.cancel():
                body = {"error": f"Not able to process the request in {self.timeout} seconds"}
                await JSONResponse(body, status_code=504)(scope, receive, send)
        else:
            await handler
        finally:
            timer.cancel()


def cancel_timeout_timers() -> None:
    """Make BentoML's app build its timeout middleware from the class above (it looks the
    class up in its `traffic` module each time it builds the app)."""
    traffic.TimeoutMiddleware = TimeoutCancellingItsTimer
