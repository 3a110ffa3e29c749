"""The BentoML service: raw records in; label + probabilities (classification) or value
(regression) out, each answer with its id and the version that gave it, and appended to the
prediction log; true outcomes come back by id at /feedback (serving/predlog.py).

The package stage writes bundle.json beside this file in the bento's build context (model tag,
data schema, batch limit); for local development TRAINFLOW_BUNDLE_CONFIG can point at one.
`trainflow serve` may add a challenger model behind the same endpoint (serving/rollout.py).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from pathlib import Path
from typing import Annotated

import bentoml
from bentoml.exceptions import InvalidArgument
from bentoml.validators import ContentType
from pydantic import Field

import trainflow
from trainflow import numerics, paths
from trainflow.data.images import check_image, encode_bytes
from trainflow.params import DataParams
from trainflow.serving.bundle import check_manifest
from trainflow.serving.drift import drift_report
from trainflow.serving.middleware import (
    ApiKeys,
    BodyLimit,
    JsonBodiesOnly,
    TruthfulOpenAPI,
    cancel_timeout_timers,
)
from trainflow.serving.predictor import Predictor, records_frame
from trainflow.serving.predlog import (
    FEEDBACK,
    PREDICTIONS,
    JsonLinesLog,
    client_hash,
    log_dir,
    new_ids,
    now,
)
from trainflow.serving.rollout import (
    check_compatible,
    in_share,
    load_rollout,
    served_version,
)
from trainflow.serving.schema import (
    explain_request_top,
    feedback_model,
    record_model,
    response_model,
)


def _bundle_config() -> dict:
    path = Path(os.environ.get("TRAINFLOW_BUNDLE_CONFIG", Path(__file__).with_name("bundle.json")))
    return json.loads(path.read_text())


def _check_integrity(config: dict) -> None:
    """Refuse to serve a bundle whose model files or code are not the ones built (package
    recorded their sha256 in bundle.json). Checked at import, so `bentoml serve` stops before
    any worker starts, with the file named. Bundles from before the record serve unchecked."""
    files = config.get("files")
    if files is None:
        logging.getLogger(__name__).warning(
            "%s: no file record in this bundle (built before it was kept): not checked",
            config["model_tag"],
        )
        return
    model_dir = Path(bentoml.models.get(config["model_tag"]).path)
    check_manifest(model_dir, files["model"], "model", extra_ok=False)
    check_manifest(Path(trainflow.__file__).parent, files["code"], "code", extra_ok=True)


CONFIG = _bundle_config()
_check_integrity(CONFIG)
DATA = DataParams.model_validate(CONFIG["data"])
Record = record_model(
    DATA,
    tuple(CONFIG.get("ignored_columns", ())),
    int(CONFIG["max_text_chars"]),
    int(CONFIG["max_image_bytes"]),
)
Response = response_model(DATA)
Feedback = feedback_model(DATA)
# what the prediction log keeps of a record: never the target
LOGGED = frozenset([*DATA.features, *DATA.drop, *CONFIG.get("ignored_columns", ())])
MAX_RECORDS = int(CONFIG["max_batch_records"])
MAX_IMAGE_BYTES = int(CONFIG["max_image_bytes"])
MAX_REQUEST_BYTES = int(CONFIG.get("max_request_bytes", 32_000_000))  # older bundles: default
MAX_EXPLAIN = int(CONFIG.get("max_explain_records", MAX_RECORDS))
# a model of one image column also takes the file itself, as a multipart upload
UPLOAD = DATA.image_features[0] if DATA.features == DATA.image_features[:1] else None
BATCHING = CONFIG["batching"]  # package.batching in params.yaml
LOG_SETTINGS = CONFIG["prediction_log"]  # package.prediction_log
# Two versions behind one endpoint (`trainflow serve` with lifecycle.rollout): routing needs
# each request's client id, which a joined batch cannot carry, so /predict is unbatched then.
ROLLOUT = load_rollout()
BATCHED = BATCHING["enabled"] and ROLLOUT is None
PROFILE_FILE = "reference_profile.json"
# package.threads_per_worker: the worker's compute threads, set by trainflow.numerics from this
# variable (OpenMP for LightGBM and torch, MKL, OpenBLAS) when the worker imports trainflow
THREADS = int(CONFIG.get("threads_per_worker", 0))
# A declared content type: else BentoML derives it from the output's JSON schema, which it
# regenerates for every response (a tenth of the worker's time under load, measured).
JSON = ContentType("application/json")


@bentoml.service(
    name=CONFIG["service_name"],
    traffic={"timeout": 30},
    envs=[{"name": numerics.THREADS_ENV, "value": str(THREADS)}] if THREADS else [],
)
class TabularModel:
    """Serves the packaged model; cleaning and preprocessing are the training code's own."""

    model = bentoml.models.BentoModel(CONFIG["model_tag"])

    def __init__(self) -> None:
        numerics.check_torch()  # the kernels evaluate ran: served answers equal its answers
        self.predictor = Predictor.load(Path(self.model.path))
        self.profile = json.loads((Path(self.model.path) / PROFILE_FILE).read_text())
        self.lineage = json.loads((Path(self.model.path) / paths.LINEAGE_NAME).read_text())
        self.version = served_version(CONFIG["model_tag"])
        self.challenger: Predictor | None = None
        if ROLLOUT is not None:
            self.version = ROLLOUT.champion_version
            self.challenger = Predictor.load(
                Path(bentoml.models.get(ROLLOUT.challenger_model_tag).path)
            )
            check_compatible(DATA, self.challenger.data, ROLLOUT.challenger_model_tag)
        folder = log_dir()
        self.predictions = JsonLinesLog(folder, PREDICTIONS, **LOG_SETTINGS)
        self.feedback_log = JsonLinesLog(folder, FEEDBACK, **LOG_SETTINGS)
        # Everything loaded so far (torch, pandas, BentoML, the model) lives as long as the
        # worker: out of the collector's sight, a full collection under load takes ~1 ms
        # instead of 200-340 ms (measured), the pauses that made the p99 latency.
        gc.freeze()

    def _answer(self, records: list, clients: list[str | None]) -> list:
        """Answer and log raw records. With a rollout, each record goes to the version its
        client's id routes it to (canary), or to the champion with the challenger's answer
        logged beside it (shadow)."""
        # one dump per record serves the log and the model (numbers, text, null: the same
        # values in Python and JSON modes)
        logged = [r.model_dump(include=LOGGED) for r in records]
        rows = [{c: d[c] for c in DATA.features} for d in logged]
        ids = new_ids(len(rows))
        sides = [self._side(client or i) for client, i in zip(clients, ids, strict=True)]
        answers: list[dict] = [{} for _ in rows]
        latency: dict[str, float] = {}
        for side, predictor in (("champion", self.predictor), ("challenger", self.challenger)):
            picked = [i for i, s in enumerate(sides) if s == side]
            if not picked:
                continue
            start = time.perf_counter()
            for i, answer in zip(picked, predictor.predict_records([rows[i] for i in picked]),
                                 strict=True):  # fmt: skip
                answers[i] = answer
            latency[side] = round((time.perf_counter() - start) * 1000, 3)
        versions = {"champion": self.version,
                    "challenger": ROLLOUT.challenger_version if ROLLOUT else None}  # fmt: skip
        shadow = None
        if ROLLOUT is not None and ROLLOUT.mode == "shadow":
            start = time.perf_counter()
            shadow = self.challenger.predict_records(rows)
            shadow_ms = round((time.perf_counter() - start) * 1000, 3)
        at = now()
        entries = []
        for i in range(len(records)):
            entry = {"id": ids[i], "time": at, "version": versions[sides[i]],
                     "record": logged[i],
                     "answer": answers[i], "latency_ms": latency[sides[i]], "rows": len(rows),
                     "client": client_hash(clients[i])}  # fmt: skip
            if shadow is not None:
                entry["shadow"] = {"version": versions["challenger"], "answer": shadow[i],
                                   "latency_ms": shadow_ms}  # fmt: skip
            entries.append(entry)
        self.predictions.write(entries)
        return [Response(**a, id=ids[i], version=versions[sides[i]])
                for i, a in enumerate(answers)]  # fmt: skip

    def _side(self, key: str) -> str:
        if ROLLOUT is None or ROLLOUT.mode != "canary":
            return "champion"
        return "challenger" if in_share(key, ROLLOUT.share) else "champion"

    if BATCHED:

        @bentoml.api(
            batchable=True,
            max_batch_size=BATCHING["max_records"],
            max_latency_ms=BATCHING["max_latency_ms"],
        )
        def predict(
            self,
            records: Annotated[list[Record], Field(min_length=1, max_length=MAX_RECORDS)],  # type: ignore[valid-type]
        ) -> Annotated[list[Response], JSON]:  # type: ignore[valid-type]
            """Batched (package.batching): BentoML validates each request alone, then may join
            concurrent ones into one call here and split the answers back in order. Each
            answer carries its id (for /feedback) and the model version that gave it."""
            return self._answer(records, [None] * len(records))

    else:

        @bentoml.api
        def predict(
            self,
            records: Annotated[list[Record], Field(min_length=1, max_length=MAX_RECORDS)],  # type: ignore[valid-type]
            ctx: bentoml.Context,
        ) -> Annotated[list[Response], JSON]:  # type: ignore[valid-type]
            """Each answer carries its id (for /feedback) and the model version that gave it;
            with a canary, the client id header picks the version (sticky per client)."""
            header = ROLLOUT.client_header if ROLLOUT else None
            client = ctx.request.headers.get(header) if header else None
            return self._answer(records, [client] * len(records))

    if UPLOAD is not None:

        @bentoml.api(route="/predict_file")
        def predict_file(
            self, file: Annotated[Path, ContentType("image/*")]
        ) -> Annotated[list[Response], JSON]:  # type: ignore[valid-type]
            """One image file as a multipart upload (`curl -F file=@digit.png`): the answer
            `/predict` gives for the same file as base64."""
            value = encode_bytes(file.read_bytes())
            reason = check_image(value, MAX_IMAGE_BYTES)
            if reason:
                raise InvalidArgument(f"file: {reason}")
            record = Record.model_validate({UPLOAD: value})
            return self._answer([record], [None])

    @bentoml.api(route="/feedback")
    def feedback(
        self,
        feedback: Annotated[list[Feedback], Field(min_length=1, max_length=MAX_RECORDS)],  # type: ignore[valid-type]
    ) -> Annotated[dict, JSON]:
        """The true outcome of earlier answers, by the answer's id: appended to the feedback
        log, which `trainflow feedback` joins with the prediction log into labelled data."""
        at = now()
        self.feedback_log.write([{**f.model_dump(), "time": at} for f in feedback])
        return {"accepted": len(feedback)}

    @bentoml.api(route="/explain")
    def explain(
        self,
        records: Annotated[list[Record], Field(min_length=1, max_length=MAX_EXPLAIN)],  # type: ignore[valid-type]
        top: Annotated[int, Field(ge=1, le=len(DATA.features))] = explain_request_top(DATA),
    ) -> Annotated[list[dict], JSON]:
        """Each record's prediction and its `top` features by absolute attribution (the
        champion's own method: TreeSHAP for trees, Integrated Gradients for networks), signed:
        positive pushes towards the positive class (binary), the predicted class (multiclass)
        or a larger value (regression)."""
        rows = [r.model_dump(include=set(DATA.features)) for r in records]
        return self.predictor.explain_records(rows, top)

    @bentoml.api(route="/metadata")
    def metadata(self) -> Annotated[dict, JSON]:
        """Model tag, task, labels, features, the data's hashes, the test metrics recorded at
        packaging time, the build's lineage (git commit, measured latency, machine), and the
        CPU and numerics settings this worker computes with."""
        return {"model_tag": CONFIG["model_tag"], "family": CONFIG["family"],
                "task": DATA.task_type, "labels": DATA.labels,
                "features": DATA.features, "data": CONFIG["data_hashes"],
                "metrics": CONFIG["metrics"], "lineage": self.lineage,
                "numerics": numerics.record()}  # fmt: skip

    @bentoml.api(route="/drift")
    def drift(
        self,
        records: Annotated[list[Record], Field(min_length=1, max_length=MAX_RECORDS)],  # type: ignore[valid-type]
    ) -> Annotated[dict, JSON]:
        """Per-feature drift of a batch of raw records against the training split's profile
        (population stability index over its bins; missing rates)."""
        rows = [r.model_dump(include=set(DATA.features)) for r in records]
        return drift_report(self.profile, records_frame(rows, DATA))


cancel_timeout_timers()
# outermost first: a request without a valid key is answered before its body is read
TabularModel.add_asgi_middleware(ApiKeys)
TabularModel.add_asgi_middleware(BodyLimit, max_bytes=MAX_REQUEST_BYTES)
TabularModel.add_asgi_middleware(JsonBodiesOnly)
TabularModel.add_asgi_middleware(TruthfulOpenAPI)
