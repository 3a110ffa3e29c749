"""The generated regions of docs/shipping.md: what benchmarks/container.py built, measured and
was answered."""

from __future__ import annotations

import json

from trainflow.figures import Sources, renderer
from trainflow.figures.readme import seconds, when

SOURCE = "`benchmarks/results/container.json`"
POST = (
    "$ curl -s -X POST localhost:3000/predict -H 'content-type: application/json' -d @request.json"
)


def _record(sources: Sources) -> tuple[dict, str]:
    record = sources.result("container")
    return record["figures"], f"({when(record)}; {SOURCE}.)"


@renderer("shipping-container")
def shipping_container(sources: Sources) -> str:
    c, source = _record(sources)
    shown = f"$ make container\n.venv/bin/trainflow container\n{c['printed']}"
    return f"```console\n{shown}\n```\n\n{source}"


@renderer("shipping-container-figures")
def shipping_container_figures(sources: Sources) -> str:
    c, source = _record(sources)
    lines = ["$ podman run -d -p 127.0.0.1:3000:3000 -e TRAINFLOW_API_KEYS=s3cr3t-key IMAGE",
             f"$ cat request.json\n{json.dumps(c['request'])}"]  # fmt: skip
    for i, answer in enumerate(c["answers"]):
        body = json.dumps(answer["body"])
        lines.append((POST if i == 0 else f"$ ... {answer['shown']}").rstrip())
        lines.append(f"{body}    [{answer['status']}]")
    leaks = [where for where, found in (("the prediction log", c["key_in_prediction_log"]),
                                        ("the container's output", c["key_in_output"]))
             if found]  # fmt: skip
    secret = (
        f"**the key was found in {' and '.join(leaks)}**"
        if leaks
        else f"the key appears in neither the prediction log ({c['prediction_log_lines']} "
        "lines after these requests) nor the container's output (grepped)"
    )
    return (
        f"From cold, the Debian base image takes {seconds(c['base_image_s'])} (made once, then "
        f"reused); the first build of the bundle's image, {seconds(c['cold_build_s'])} "
        f"({c['wheels']} wheels, {c['wheel_bytes'] / 1e6:.0f} MB, fetched and installed "
        f"offline); the same build again, every layer cached, {seconds(c['cached_build_s'])}. "
        "After a retrain only the bento layer, the last, is built again. The image is "
        f"{c['image_bytes'] / 1e9:.2f} GB, most of it torch (the ensemble's MLP member); a "
        "LightGBM-only bundle leaves torch out of its requirements. The server answers "
        f"{seconds(c['ready_s'])} after `{c['engine']} run`; with API keys set, {secret}:\n\n"
        "```console\n" + "\n".join(lines) + f"\n```\n\n{source}"
    )
