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
