"""The BentoML service: raw records in; label + probabilities (classification) or value
(regression) out.

The package stage writes bundle.json beside this file in the bento's build context (model tag,
data schema, batch limit); for local development TRAINFLOW_BUNDLE_CONFIG can point at one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import bentoml
from pydantic import Field
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from trainflow.params import DataParams
from trainflow.serving.drift import drift_report
from trainflow.serving.predictor import Predictor, records_frame
from trainflow.serving.schema import record_model, response_model


def _bundle_config() -> dict:
    path = Path(os.environ.get("TRAINFLOW_BUNDLE_CONFIG", Path(__file__).with_name("bundle.json")))
    return json.loads(path.read_text())


CONFIG = _bundle_config()
DATA = DataParams.model_validate(CONFIG["data"])
Record = record_model(DATA)
Response = response_model(DATA)
MAX_RECORDS = int(CONFIG["max_batch_records"])
BATCHING = CONFIG["batching"]  # package.batching in params.yaml
PROFILE_FILE = "reference_profile.json"


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

        async def rewrite(message: dict) -> None:
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


@bentoml.service(name=CONFIG["service_name"], traffic={"timeout": 30})
class TabularModel:
    """Serves the packaged model; cleaning and preprocessing are the training code's own."""

    model = bentoml.models.BentoModel(CONFIG["model_tag"])

    def __init__(self) -> None:
        self.predictor = Predictor.load(Path(self.model.path))
        self.profile = json.loads((Path(self.model.path) / PROFILE_FILE).read_text())

    @bentoml.api(
        batchable=BATCHING["enabled"],
        max_batch_size=BATCHING["max_records"],
        max_latency_ms=BATCHING["max_latency_ms"],
    )
    def predict(
        self,
        records: Annotated[list[Record], Field(min_length=1, max_length=MAX_RECORDS)],  # type: ignore[valid-type]
    ) -> list[Response]:  # type: ignore[valid-type]
        """Batched (package.batching): BentoML validates each request alone, then may join
        concurrent ones into one call here and split the answers back in order."""
        rows = [r.model_dump(include=set(DATA.features)) for r in records]
        return [Response(**p) for p in self.predictor.predict_records(rows)]

    @bentoml.api(route="/metadata")
    def metadata(self) -> dict:
        """Model tag, task, labels, features and the metrics recorded at packaging time."""
        return {"model_tag": CONFIG["model_tag"], "task": DATA.task_type, "labels": DATA.labels,
                "features": DATA.features, "metrics": CONFIG.get("metrics", {})}  # fmt: skip

    @bentoml.api(route="/drift")
    def drift(
        self,
        records: Annotated[list[Record], Field(min_length=1, max_length=MAX_RECORDS)],  # type: ignore[valid-type]
    ) -> dict:
        """Per-feature drift of a batch of raw records against the training split's profile
        (population stability index over its bins; missing rates)."""
        rows = [r.model_dump(include=set(DATA.features)) for r in records]
        return drift_report(self.profile, records_frame(rows, DATA))


TabularModel.add_asgi_middleware(JsonBodiesOnly)
TabularModel.add_asgi_middleware(RequiredBodiesInOpenAPI)
