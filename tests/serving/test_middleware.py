"""The service's ASGI middleware on a stand-in app (the real server: test_server.py)."""

import asyncio
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from trainflow.serving.middleware import JsonBodiesOnly, RequiredBodiesInOpenAPI

SPEC = {"paths": {
    "/predict": {"post": {"requestBody": {"content": {"application/json": {
        "schema": {"type": "object", "required": ["records"]}}}}}},
    "/metadata": {"post": {"requestBody": {"content": {"application/json": {
        "schema": {"type": "object"}}}}}},
    "/readyz": {"get": {}},
}}  # fmt: skip


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"got": len(await request.body())})


async def docs(_: Request) -> JSONResponse:
    return JSONResponse(SPEC)


APP = RequiredBodiesInOpenAPI(JsonBodiesOnly(Starlette(routes=[
    Route("/predict", echo, methods=["POST"]), Route("/docs.json", docs)])))  # fmt: skip


def call(method: str, path: str, body: bytes = b"", content_type: str | None = None):
    """One request straight through the ASGI app: (status, headers, body)."""
    headers = [(b"content-type", content_type.encode())] if content_type else []
    scope = {"type": "http", "method": method, "path": path, "headers": headers,
             "query_string": b"", "root_path": ""}  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(APP(scope, receive, send))
    start = sent[0]
    return (start["status"], dict(start["headers"]),
            b"".join(m.get("body", b"") for m in sent[1:]))  # fmt: skip


def test_only_json_bodies_reach_the_service():
    assert call("POST", "/predict", b"{}", "application/json")[0] == 200
    assert call("POST", "/predict", b"{}")[0] == 200  # no Content-Type: BentoML reads JSON
    assert call("POST", "/predict", b"{}", "application/json; charset=utf-8")[0] == 200
    for kind in ("multipart/form-data", "text/plain", "application/x-www-form-urlencoded"):
        status, _, body = call("POST", "/predict", b"records=1", kind)
        assert status == 415 and "application/json" in json.loads(body)["error"]


def test_openapi_marks_bodies_with_required_fields_required():
    status, headers, body = call("GET", "/docs.json")
    spec = json.loads(body)
    assert status == 200 and spec["paths"]["/predict"]["post"]["requestBody"]["required"] is True
    assert "required" not in spec["paths"]["/metadata"]["post"]["requestBody"]
    assert int(headers[b"content-length"]) == len(body)
