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


def request_scope(method: str, path: str, content_type: str | None = None) -> dict:
    headers = [(b"content-type", content_type.encode())] if content_type else []
    return {"type": "http", "method": method, "path": path, "headers": headers,
            "query_string": b"", "root_path": ""}  # fmt: skip


async def respond(app, scope: dict, body: bytes = b"") -> list[dict]:
    """One request straight through an ASGI app: the messages it sent back."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def call(method: str, path: str, body: bytes = b"", content_type: str | None = None):
    """One request through APP: (status, headers, body)."""
    sent = asyncio.run(respond(APP, request_scope(method, path, content_type), body))
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


async def _quick(scope, receive, send) -> None:
    await JSONResponse({"ok": True})(scope, receive, send)


async def _stuck(scope, receive, send) -> None:
    await asyncio.Event().wait()  # never answers (and schedules no timer of its own)


def timed_calls(middleware, app, n: int, timeout: float) -> tuple[list[int], int]:
    """`n` requests through `middleware(app, timeout)` on one event loop: their statuses and
    how many timers are still live on the loop when the last one is answered."""

    async def main() -> tuple[list[int], int]:
        wrapped = middleware(app, timeout=timeout)
        statuses = [(await respond(wrapped, request_scope("GET", "/")))[0]["status"]
                    for _ in range(n)]  # fmt: skip
        loop = asyncio.get_running_loop()
        return statuses, sum(not h.cancelled() for h in loop._scheduled)

    return asyncio.run(main())


def test_timeout_middleware_cancels_its_timer_and_still_times_out():
    from bentoml._internal.server.base_app import BaseAppFactory
    from bentoml._internal.server.http import traffic

    from trainflow.serving.middleware import TimeoutCancellingItsTimer, cancel_timeout_timers

    original = traffic.TimeoutMiddleware
    # BentoML's own leaves every answered request's timer (and what it holds) for 30 s; if
    # this ever fails, BentoML has fixed it and the subclass can go
    assert timed_calls(original, _quick, 50, timeout=30) == ([200] * 50, 50)
    assert timed_calls(TimeoutCancellingItsTimer, _quick, 50, timeout=30) == ([200] * 50, 0)
    assert timed_calls(TimeoutCancellingItsTimer, _stuck, 2, timeout=0.05) == ([504] * 2, 0)

    class App(BaseAppFactory):
        name = "app"

    try:
        cancel_timeout_timers()  # what the service does: BentoML's app then builds ours
        assert [m.cls for m in App(timeout=30).middlewares] == [TimeoutCancellingItsTimer]
    finally:
        traffic.TimeoutMiddleware = original
