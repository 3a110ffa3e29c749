"""ASGI middleware the service adds in front of BentoML's app: API keys, a request size limit,
the HTTP contract it keeps and the OpenAPI document that states it (both found by schema
fuzzing, schemathesis), and a fix to BentoML's request timeout (found by the serving
benchmark)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from pathlib import Path

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


# Open without a key: the probes an orchestrator calls, the metrics scrape, the API's document
# (a client generator reads it before it has a key). Everything else needs one when keys are set.
PUBLIC_PATHS = frozenset({"/", "/docs.json", "/livez", "/readyz", "/healthz", "/metrics"})
PUBLIC_PREFIXES = ("/static_content/",)
API_KEYS_ENV = "TRAINFLOW_API_KEYS"  # comma-separated: more than one while rotating
API_KEYS_FILE_ENV = "TRAINFLOW_API_KEYS_FILE"  # one key per line (a mounted secret)


def api_key_digests(environ: dict[str, str] | None = None) -> frozenset[bytes]:
    """sha256 digests of the configured keys; empty when none is set (the API is then open).
    Only digests stay in memory, so a key never reaches a log or an error message."""
    env = os.environ if environ is None else environ
    keys = [k for k in env.get(API_KEYS_ENV, "").split(",")]
    if env.get(API_KEYS_FILE_ENV):
        keys += Path(env[API_KEYS_FILE_ENV]).read_text().splitlines()
    keys = [k.strip() for k in keys if k.strip()]
    return frozenset(hashlib.sha256(k.encode()).digest() for k in keys)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class ApiKeys:
    """ASGI middleware: with keys configured, every route but the public ones needs one, as
    `Authorization: Bearer <key>` or `X-API-Key: <key>`: none is a 401, a wrong one a 403.
    Compared as digests in constant time."""

    def __init__(self, app: ASGIApp, digests: frozenset[bytes] | None = None) -> None:
        self.app = app
        self.digests = api_key_digests() if digests is None else digests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.digests or scope["type"] != "http" or _public(scope["path"]):
            await self.app(scope, receive, send)
            return
        key = presented_key(dict(scope["headers"]))
        if key is None:
            response = _error(401, "an API key is required: Authorization: Bearer <key> "
                              "or X-API-Key: <key>", {"WWW-Authenticate": "Bearer"})  # fmt: skip
        elif not self._known(key):
            response = _error(403, "the API key is not valid")
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    def _known(self, key: bytes) -> bool:
        digest = hashlib.sha256(key).digest()
        return any(hmac.compare_digest(digest, d) for d in self.digests)


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def presented_key(headers: dict[bytes, bytes]) -> bytes | None:
    auth = headers.get(b"authorization", b"")
    scheme, _, token = auth.partition(b" ")
    if scheme.lower() == b"bearer" and token.strip():
        return token.strip()
    key = headers.get(b"x-api-key", b"").strip()
    return key or None


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` is a 413 before the app reads it. A
    declared Content-Length is checked up front; a chunked body is counted as it arrives and
    held until complete (never more than `max_bytes`), then replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self._refuse(int(declared), scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(size, scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, size: int, scope: Scope, receive: Receive, send: Send) -> None:
        message = (f"request body of {size:,}+ bytes is over the limit of {self.max_bytes:,} "
                   "(package.max_request_bytes)")  # fmt: skip
        await _error(413, message)(scope, receive, send)


ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "required": ["error"],
    "properties": {"error": {"type": "string", "title": "Message"}},
}
# what BentoML sends as `detail` of a 400: pydantic's errors (a list) or a message
VALIDATION_DETAIL = {
    "title": "Error Detail",
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {
            "type": "object", "required": ["type", "loc", "msg"],
            "properties": {
                "type": {"type": "string"},
                "loc": {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                             {"type": "integer"}]}},
                "msg": {"type": "string"},
                "url": {"type": "string"},
                "input": {},
                "ctx": {"type": "object"},
            },
        }},
    ],
}  # fmt: skip
EXTRA_STATUSES = {  # answered by the middleware above, before BentoML sees the request
    "413": "Request body over package.max_request_bytes",
    "415": "Body not JSON (or not multipart/form-data on an upload route)",
    "504": "Not answered within the service's timeout",
}


def amend_openapi(spec: dict, secured: bool) -> dict:
    """The document BentoML generates, made to state what this server does: a POST's body
    `required` where its schema has required fields (BentoML leaves it out: a bodiless POST
    reads as valid, and is a 400); every error body's `detail` as sent (BentoML documents a
    string, then sends pydantic's list of errors); the statuses this middleware answers; and,
    with API keys set, the schemes and each protected operation's 401 / 403."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("InvalidArgument", "NotFound", "InternalServerError"):
        props = schemas.get(name, {}).get("properties", {})
        if "detail" in props:
            props["detail"] = VALIDATION_DETAIL
    schemas["Error"] = ERROR_SCHEMA
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    if secured:
        spec["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            request = operation.get("requestBody")
            if method == "post":
                schemas_in = [
                    m.get("schema", {}) for m in (request or {}).get("content", {}).values()
                ]
                if any(s.get("required") for s in schemas_in):
                    request["required"] = True
                for status, text in EXTRA_STATUSES.items():
                    responses.setdefault(status, {"description": text, "content": error_ref})
            if secured and not _public(path):
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
                responses["401"] = {"description": "No API key", "content": error_ref}
                responses["403"] = {"description": "Wrong API key", "content": error_ref}
    return spec


class TruthfulOpenAPI:
    """ASGI middleware: /docs.json rewritten by amend_openapi, so clients generated from the
    document, and schema fuzzing with every check on, meet the contract the server keeps."""

    def __init__(self, app: ASGIApp, secured: bool | None = None) -> None:
        self.app = app
        self.secured = bool(api_key_digests()) if secured is None else secured

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
                body = json.dumps(amend_openapi(json.loads(body), self.secured)).encode()
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
