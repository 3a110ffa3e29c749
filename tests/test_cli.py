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
