"""Two registry versions behind one endpoint: the champion (the bento being served) and a
challenger model from the same BentoML store.

`canary`: a share of clients gets the challenger's answers, sticky per client id (a hash of the
id decides, so a client keeps its version across requests and server restarts). `shadow`: the
champion answers every request; the challenger answers too, and its answers are only logged.
`trainflow serve` writes the settings (params.yaml `lifecycle.rollout`) to the JSON file named
by $TRAINFLOW_ROLLOUT; without it the server runs one model.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from trainflow.errors import StageError
from trainflow.params import DataParams

ROLLOUT_ENV = "TRAINFLOW_ROLLOUT"
VERSION_ENV = "TRAINFLOW_MODEL_VERSION"


@dataclass(frozen=True)
class Rollout:
    mode: str  # canary | shadow
    share: float  # canary: the share of client ids routed to the challenger
    client_header: str
    champion_version: str
    challenger_version: str
    challenger_model_tag: str


def served_version(model_tag: str) -> str:
    """The version answers carry: the registry version `trainflow serve` was given, else the
    BentoML model tag (content-addressed, so it still names exactly one model)."""
    return os.environ.get(VERSION_ENV) or model_tag


def load_rollout() -> Rollout | None:
    path = os.environ.get(ROLLOUT_ENV)
    if not path:
        return None
    settings = json.loads(Path(path).read_text())
    return Rollout(**settings)


def in_share(key: str, share: float) -> bool:
    """Whether `key` falls in the first `share` of a uniform 64-bit hash (sha256): the same
    key always gets the same answer. Routes a canary's clients (sticky) and picks the fixed
    feedback holdout (lifecycle/feedback.py)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


def check_compatible(champion: DataParams, challenger: DataParams, tag: str) -> None:
    """Both versions must answer the same request: same task, labels and features."""
    for what in ("task_type", "labels", "features"):
        mine, theirs = getattr(champion, what), getattr(challenger, what)
        if mine != theirs:
            raise StageError(f"challenger {tag}: its {what} {theirs} differ from the "
                             f"champion's {mine}; one endpoint cannot serve both")  # fmt: skip
