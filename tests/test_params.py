from pathlib import Path

import pytest
import yaml

from trainflow.errors import StageError
from trainflow.params import load_params, parse_params

ROOT = Path(__file__).resolve().parents[1]


def raw_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_repo_params_load(params):
    assert params.data.positive_label == ">50K"
    assert "fnlwgt" not in params.data.features
    assert params.validate_.suite == Path("contracts/adult_raw.json")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["train"].update(lrr=0.1), "unknown key train.lrr$"),
        (lambda p: p["families"]["mlp"].pop("lr"), "missing key families.mlp.lr"),
        (
            lambda p: p["families"]["mlp"].update(lrr=p["families"]["mlp"].pop("lr")),
            r"unknown key families.mlp.lrr \(did you mean families.mlp.lr\? it is missing\)",
        ),
        (
            lambda p: p["families"]["mlp"].update(lr="fast"),
            "families.mlp.lr: Input should be a valid number",
        ),
        (lambda p: p["families"]["mlp"].update(batch_size=0), "families.mlp.batch_size"),
        (lambda p: p["families"].update(xgboost={}), "unknown key families.xgboost"),
        (
            lambda p: p["families"]["gbdt"].update(
                num_leaf=p["families"]["gbdt"].pop("num_leaves")
            ),
            r"unknown key families.gbdt.num_leaf \(did you mean families.gbdt.num_leaves\?\)$",
        ),
        (
            lambda p: p["select"].update(candidates=["xgb"]),
            r"^params.yaml: select.candidates: \['xgb'\] not configured under families",
        ),
        (lambda p: p["families"]["gbdt"].update(device="tpu"), "families.gbdt.device"),
        (
            lambda p: p["select"].update(candidates=["mlp", "svm"]),
            r"select.candidates: \['svm'\] "
            "not configured under families",
        ),
        (
            lambda p: p["families"].pop("linear"),
            "select.candidates: \\['linear'\\] not configured",
        ),
        (
            lambda p: p["select"].update(metric="rmse"),
            "select.metric: 'rmse' is not a binary metric",
        ),
        (lambda p: p["data"]["label_map"].update(x="nope"), "not in data.labels"),
        (lambda p: p["train"]["preprocess"].update(log1p=["sex"]), "non-numeric features"),
        (lambda p: p["data"].update(drop=["zzz"]), "not features"),
        (lambda p: p["ingest"]["source"].update(kind="ftp"), "ingest.source: Input tag 'ftp'"),
        (lambda p: p["split"].update(strategy="group"), "needs data.group_column"),
        (lambda p: p["split"].update(strategy="time"), "needs data.time_column"),
        (lambda p: p["split"].update(shared_feature_rows="maybe"), "split.shared_feature_rows"),
        (lambda p: p["data"].update(engine="dask"), "data.engine: Input should be 'pandas'"),
        (
            lambda p: p["data"].update(engine="spark"),
            "split.strategy stratified needs data.engine pandas",
        ),
        (lambda p: p.update(spark={"master": "local[2]", "files": 0}), "spark.files"),
        (lambda p: p.update(spark={"mastr": "yarn"}), "unknown key spark.mastr"),
        (lambda p: p["ingest"]["source"].update(delim=";"), "unknown key ingest.source.delim"),
        (
            lambda p: p["ingest"].update(source={"kind": "sql", "url": "x", "path": "s"}),
            "ingest.source: give exactly one of table or query",
        ),
        (
            lambda p: p["ingest"].update(
                source={"kind": "file", "path": "x.log", "format": "regex_log", "regex": "(a)"}
            ),
            "regex has no named groups",
        ),
    ],
)
def test_bad_params_name_the_key(edit, message):
    raw = raw_params()
    edit(raw)
    with pytest.raises(StageError, match=message) as err:
        parse_params(raw, "params.yaml")
    assert str(err.value).startswith("params.yaml: ")
    assert "\n" not in str(err.value)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(StageError, match="not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "bad.yaml").write_text("seed: [1,\n")
    with pytest.raises(StageError, match="not valid YAML"):
        load_params(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(StageError, match="mapping"):
        load_params(tmp_path / "list.yaml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"evaluate": {"slices": ["shoe_size"], "bands": {}, "fairness": []}},
            "evaluate.slices names unknown columns",
        ),
        (
            {"evaluate": {"slices": ["age"], "bands": {"race": [1.0]}}},
            "bands.race: not listed in evaluate.slices",
        ),
        ({"evaluate": {"slices": ["age"], "bands": {"age": [30, 20]}}}, "must be increasing"),
        (
            {"evaluate": {"slices": ["sex"], "bands": {}, "fairness": ["race"]}},
            "fairness names columns not in evaluate.slices",
        ),
        ({"gate": {"max_fairness_gap": {"parity": 0.1}}}, "gate.max_fairness_gap.parity"),
        ({"data": {"labels": ["a", "b", "c"], "label_map": {}}}, "need a binary task"),
        ({"data": {"task": "regression"}}, "leave labels and label_map empty"),
        ({"data": {"task": "multiclass"}}, "task multiclass needs 3 or more labels, got 2"),
        ({"data": {"labels": ["only"], "label_map": {}}}, "one label is no task"),
    ],
)
def test_task_slices_and_gate_params(params, change, message):
    raw = params.model_dump(by_alias=True, mode="json")
    for section, values in change.items():
        raw[section] = {**raw[section], **values}
    with pytest.raises(StageError, match=message):
        parse_params(raw)


def test_task_is_inferred_from_labels(params):
    raw = params.model_dump(by_alias=True, mode="json")
    assert params.data.task_type == "binary"
    raw["data"] |= {"labels": [], "label_map": {}}
    raw["evaluate"] |= {"fairness": []}
    raw["gate"] |= {"max_fairness_gap": {}}
    assert parse_params(raw).data.task_type == "regression"
    raw["data"] |= {"labels": ["a", "b", "c"]}
    assert parse_params(raw).data.task_type == "multiclass"


def test_labels_may_be_written_as_numbers_or_booleans(params):
    raw = params.model_dump(by_alias=True, mode="json")
    raw["data"] |= {"labels": [0, 1], "label_map": {1.0: 1}}
    raw["evaluate"] |= {"fairness": []}
    raw["gate"] |= {"max_fairness_gap": {}}
    data = parse_params(raw).data
    assert data.labels == ["0", "1"] and data.label_map == {"1": "1"}
    raw["data"] |= {"labels": [False, True], "label_map": {}}
    assert parse_params(raw).data.labels == ["False", "True"]


def test_selection_metric_follows_the_task(params):
    assert params.selection_metric == "log_loss"
    raw = params.model_dump(by_alias=True, mode="json")
    raw["data"] |= {"labels": [], "label_map": {}, "task": "regression"}
    raw["evaluate"] |= {"fairness": []}
    raw["gate"] |= {"max_fairness_gap": {}}
    assert parse_params(raw).selection_metric == "rmse"
    raw["select"] |= {"metric": "mae"}
    assert parse_params(raw).selection_metric == "mae"


def test_every_example_params_file_loads():
    """What a user copies over params.yaml must validate (the text example: a text column
    sliced by bands of words)."""
    for path in sorted((ROOT / "examples").glob("*/params.yaml")):
        params = load_params(path)
        assert params.data.features, path
    text = load_params(ROOT / "examples/text-reviews/params.yaml")
    assert text.data.text_features == ["text"] and text.evaluate.slices == ["text"]
    raw = yaml.safe_load((ROOT / "examples/text-reviews/params.yaml").read_text())
    raw["evaluate"]["bands"] = {"text": [10, 30]}
    assert parse_params(raw).evaluate.bands == {"text": [10, 30]}
    raw["data"]["categorical"] = ["text"]
    with pytest.raises(StageError, match="listed twice"):
        parse_params(raw)


def test_params_are_read_as_dvc_reads_them_yaml_1_2(tmp_path):
    """A plain `no` / `yes` (what DVC writes back after `dvc exp run -S` or any ruamel
    rewrite) is text to DVC (YAML 1.2); the stages read it the same way, not as False."""
    text = (ROOT / "params.yaml").read_text()
    text = text.replace('labels: ["<=50K", ">50K"]', "labels: [no, yes]")
    text = text.replace('label_map: {"<=50K.": "<=50K", ">50K.": ">50K"}', "label_map: {n: no}")
    (tmp_path / "params.yaml").write_text(text)
    data = load_params(tmp_path / "params.yaml").data
    assert data.labels == ["no", "yes"] and data.label_map == {"n": "no"}
    from dvc.utils.serialize import load_yaml

    assert load_yaml(tmp_path / "params.yaml")["data"]["labels"] == ["no", "yes"]
