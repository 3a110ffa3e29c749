"""The service's ASGI middleware on a stand-in app (the real server: test_server.py)."""

import asyncio
import json

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from trainflow.serving.middleware import (
    ApiKeys,
    BodyLimit,
    JsonBodiesOnly,
    TruthfulOpenAPI,
    amend_openapi,
    api_key_digests,
)

SPEC = {"paths": {
    "/predict": {"post": {"requestBody": {"content": {"application/json": {
        "schema": {"type": "object", "required": ["records"]}}}}}},
    "/metadata": {"post": {"requestBody": {"content": {"application/json": {
        "schema": {"type": "object"}}}}}},
    "/readyz": {"get": {}},
}, "components": {"schemas": {"InvalidArgument": {"type": "object", "properties": {
    "error": {"type": "string"}, "detail": {"type": "string"}}}}}}  # fmt: skip


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"got": len(await request.body())})


async def docs(_: Request) -> JSONResponse:
    return JSONResponse(SPEC)


ROUTES = Starlette(routes=[Route("/predict", echo, methods=["POST"]), Route("/docs.json", docs),
                           Route("/readyz", echo)])  # fmt: skip
APP = TruthfulOpenAPI(JsonBodiesOnly(ROUTES), secured=False)


def request_scope(
    method: str, path: str, content_type: str | None = None, headers: dict | None = None
) -> dict:
    pairs = [(b"content-type", content_type.encode())] if content_type else []
    pairs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return {"type": "http", "method": method, "path": path, "headers": pairs,
            "query_string": b"", "root_path": ""}  # fmt: skip


async def respond(app, scope: dict, body: bytes | list[bytes] = b"") -> list[dict]:
    """One request straight through an ASGI app: the messages it sent back. A list of bytes
    arrives as chunks (a body with no Content-Length)."""
    sent: list[dict] = []
    chunks = list(body) if isinstance(body, list) else [body]

    async def receive() -> dict:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def call(method: str, path: str, body=b"", content_type: str | None = None, app=APP, **headers):
    """One request through `app`: (status, headers, body)."""
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    sent = asyncio.run(respond(app, request_scope(method, path, content_type, headers), body))
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
    assert "security" not in spec["paths"]["/predict"]["post"]  # no keys: an open API


def test_openapi_states_the_error_bodies_and_statuses_the_server_sends():
    import jsonschema

    spec = amend_openapi(json.loads(json.dumps(SPEC)), secured=True)
    detail = spec["components"]["schemas"]["InvalidArgument"]["properties"]["detail"]
    sent = [{"type": "missing", "loc": ["records", 0, "age"], "msg": "Field required",
             "url": "https://errors.pydantic.dev/2.14/v/missing"}]  # fmt: skip
    jsonschema.validate(sent, detail)  # pydantic's list, as BentoML sends it
    jsonschema.validate("a message", detail)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"msg": "no type, no loc"}], detail)
    post = spec["paths"]["/predict"]["post"]
    assert {"401", "403", "413", "415", "504"} <= post["responses"].keys()
    assert post["security"] == [{"bearer": []}, {"apiKey": []}]
    assert "security" not in spec["paths"]["/readyz"]["get"]  # probes stay open
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}


KEYED = ApiKeys(ROUTES, api_key_digests({"TRAINFLOW_API_KEYS": "k-one, k-two"}))


def test_api_keys_401_without_403_wrong_and_health_open():
    body = b'{"records": []}'
    status, headers, _ = call("POST", "/predict", body, app=KEYED)
    assert status == 401 and headers[b"www-authenticate"] == b"Bearer"
    assert call("POST", "/predict", body, app=KEYED, authorization="Bearer nope")[0] == 403
    assert call("POST", "/predict", body, app=KEYED, x_api_key="k-on")[0] == 403
    assert call("POST", "/predict", body, app=KEYED, authorization="Bearer k-two")[0] == 200
    assert call("POST", "/predict", body, app=KEYED, x_api_key="k-one")[0] == 200
    assert call("POST", "/predict", body, app=KEYED, authorization="Basic k-one")[0] == 401
    assert call("GET", "/readyz", app=KEYED)[0] == 200
    assert call("GET", "/docs.json", app=KEYED)[0] == 200
    _, _, text = call("POST", "/predict", body, app=KEYED, authorization="Bearer secret-xyz")
    assert b"secret-xyz" not in text  # the key is never echoed


def test_api_keys_come_from_the_environment_or_a_file(tmp_path):
    assert api_key_digests({}) == frozenset()  # none configured: the API is open
    assert call("POST", "/predict", b"{}", app=ApiKeys(ROUTES, frozenset()))[0] == 200
    keys = tmp_path / "keys"
    keys.write_text("k-file\n\n")
    digests = api_key_digests({"TRAINFLOW_API_KEYS_FILE": str(keys)})
    app = ApiKeys(ROUTES, digests)
    assert call("POST", "/predict", b"{}", app=app, x_api_key="k-file")[0] == 200
    assert b"k-file" not in b"".join(digests)  # only digests are kept


def test_bodies_over_the_limit_are_413_declared_or_chunked():
    app = BodyLimit(ROUTES, max_bytes=100)
    status, _, body = call("POST", "/predict", b"x" * 101, app=app, content_length="101")
    assert status == 413 and "package.max_request_bytes" in json.loads(body)["error"]
    assert call("POST", "/predict", b"x" * 100, app=app, content_length="100")[0] == 200
    assert call("POST", "/predict", [b"x" * 60, b"x" * 60], app=app)[0] == 413
    status, _, body = call("POST", "/predict", [b"x" * 50, b"x" * 50], app=app)
    assert status == 200 and json.loads(body) == {"got": 100}  # chunks replayed whole


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
