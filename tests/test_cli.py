import json

import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, messy_frame
from trainflow.cli import main


def test_suite_init_drafts_a_passing_contract_for_a_new_table(tmp_path, monkeypatch, capsys):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    frame = messy_frame(1200).drop(columns="_source_file")
    frame.to_csv(tmp_path / "people.csv", index=False)
    raw["ingest"]["source"] = {"kind": "file", "path": "people.csv"}
    raw["validate"]["suite"] = "contracts/people.json"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    main(["suite", "init"])
    suite = json.loads((tmp_path / "contracts/people.json").read_text())
    assert suite["name"] == "people" and len(suite["expectations"]) > 40
    assert "wrote contracts/people.json" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["suite", "init"])  # refuses to overwrite a reviewed suite
    assert exit_info.value.code == 1
    assert "exists (pass --force" in capsys.readouterr().err

    from trainflow.data.contract import contract_view, run_suite

    table = pd.read_csv(tmp_path / "people.csv").assign(_source_file="people.csv")
    assert run_suite(contract_view(table), suite).success


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["nope"])
    assert exit_info.value.code == 2


def test_suite_init_names_a_new_sources_contract_after_it_and_keeps_adults(
    tmp_path, monkeypatch, capsys
):
    """README's "Your own table": params still name Adult's contract (contracts/adult_raw.json
    exists); `suite init` drafts contracts/<file>_raw.json, points validate.suite at it and
    leaves Adult's contract as it was."""
    import shutil

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    messy_frame(300).drop(columns="_source_file").to_csv(tmp_path / "yours.csv", index=False)
    raw["ingest"]["source"] = {"kind": "file", "path": "data/external/yours.csv"}
    (tmp_path / "data/external").mkdir(parents=True)
    shutil.move(tmp_path / "yours.csv", tmp_path / "data/external/yours.csv")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "contracts").mkdir()
    adult = (ROOT / "contracts/adult_raw.json").read_bytes()
    (tmp_path / "contracts/adult_raw.json").write_bytes(adult)
    monkeypatch.chdir(tmp_path)
    main(["suite", "init"])
    out = capsys.readouterr().out
    assert "wrote contracts/yours_raw.json" in out
    assert "validate.suite -> contracts/yours_raw.json" in out
    assert (tmp_path / "contracts/adult_raw.json").read_bytes() == adult
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert params["validate"]["suite"] == "contracts/yours_raw.json"
    assert json.loads((tmp_path / "contracts/yours_raw.json").read_text())["expectations"]
    with pytest.raises(SystemExit):
        main(["suite", "init"])  # now it is this source's own: refused without --force
    assert "contracts/yours_raw.json: exists" in capsys.readouterr().err


# every spelling YAML 1.1 reads as a boolean (PyYAML: what load_params reads), in pairs
YAML_BOOLEANS = [("No", "Yes"), ("no", "yes"), ("NO", "YES"), ("n", "y"), ("N", "Y"),
                 ("off", "on"), ("Off", "On"), ("OFF", "ON"), ("false", "true"),
                 ("FALSE", "TRUE")]  # fmt: skip


@pytest.mark.parametrize("negative, positive", YAML_BOOLEANS)
def test_data_init_writes_labels_that_read_back_as_drafted(
    tmp_path, monkeypatch, capsys, negative, positive
):
    """A target of No / Yes (or any YAML 1.1 boolean spelling) comes back as those strings,
    not False / True; what the draft does not decide (data.engine) stays."""
    from trainflow.params import load_params

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    frame = messy_frame(300).drop(columns=["_source_file", "income"])
    frame["churn"] = [positive if i % 3 == 0 else negative for i in range(len(frame))]
    frame["note"] = "null"  # a constant column spelled like YAML's null: kept out
    frame.to_csv(tmp_path / "people.csv", index=False)
    raw["ingest"]["source"] = {"kind": "file", "path": "people.csv"}
    raw["data"]["engine"] = "spark"  # not the default: must survive the draft
    raw["split"]["strategy"] = "hash"  # what the Spark engine splits by
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    main(["data", "init", "--target", "churn"])
    assert "wrote the data section" in capsys.readouterr().out
    data = load_params(tmp_path / "params.yaml").data
    as_read = pd.read_csv(tmp_path / "people.csv")["churn"]  # true/false: pandas' booleans
    assert data.labels == sorted(as_read.astype(str).unique()) and data.target == "churn"
    assert data.engine == "spark"
    from ruamel.yaml import YAML  # DVC's reader: the same strings

    assert YAML().load(tmp_path / "params.yaml")["data"]["labels"] == data.labels
    main(["suite", "init"])  # rewrites params.yaml (validate.suite) with ruamel: quotes go
    assert load_params(tmp_path / "params.yaml").data.labels == data.labels  # read as DVC does


def test_data_init_source_outside_the_project_or_missing_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    outside = tmp_path.parent / "elsewhere.csv"
    outside.write_text("a,b\n1,2\n")
    monkeypatch.chdir(tmp_path)
    for source, why in ((str(outside), "a path inside this project"),
                        ("data/external/nope.csv", "no such file")):  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            main(["data", "init", "--source", source, "--target", "b"])
        assert exit_info.value.code == 1
        assert f"--source {source}: {why}" in capsys.readouterr().err
    assert (tmp_path / "params.yaml").read_text() == (ROOT / "params.yaml").read_text()


def test_data_init_drafts_a_leak_into_drop_and_says_why(tmp_path, monkeypatch, capsys):
    """A column recorded after the outcome (here: a status that is the target renamed) is
    drafted into data.drop with the single-feature check's line, so it never trains and the
    run is not stopped at split for it; the honest features stay."""
    from trainflow.params import load_params

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    frame = messy_frame(400).drop(columns="_source_file")
    frame["income"] = frame["income"].str.strip().str.rstrip(".")  # two labels
    frame["case_status"] = frame["income"].str.contains(">50K").map({True: "closed",
                                                                      False: "open"})  # fmt: skip
    frame.to_csv(tmp_path / "people.csv", index=False)
    raw["ingest"]["source"] = {"kind": "file", "path": "people.csv"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    main(["data", "init", "--target", "income"])
    out = capsys.readouterr().out
    assert "'case_status' alone predicts 'income' with AUROC 1.0000" in out
    assert "Drafted into data.drop" in out
    data = load_params(tmp_path / "params.yaml").data
    assert data.drop == ["case_status"] and "case_status" in data.categorical
    assert "age" in data.features and "case_status" not in data.features
