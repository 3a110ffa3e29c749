"""ASGI middleware the service adds in front of BentoML's app: the HTTP contract it keeps and
the OpenAPI document that states it. Both found by schema fuzzing (schemathesis)."""

from __future__ import annotations

import json

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class JsonBodiesOnly:
    """ASGI middleware: a POST body must be JSON (or carry no Content-Type, which BentoML reads
    as JSON). BentoML's form parser answers a multipart Content-Type without a boundary with a
    500 (schemathesis found it); here any other type is a 415 saying what to send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            content_type = dict(scope["headers"]).get(b"content-type", b"application/json")
            if content_type.split(b";")[0].strip().lower() != b"application/json":
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
