"""dvclive, offline: the curves every family writes under metrics/train/<family>/."""

from __future__ import annotations

from pathlib import Path


def offline_live_class():
    """dvclive's Live minus a cost that grows with every step: on each write it rebuilds the
    whole run's data (every plot file re-parsed) for DVC Studio even when no Studio is
    configured."""
    from dvclive import Live

    class OfflineLive(Live):
        def post_data_to_studio(self) -> None:
            if "data" not in self._studio_events_to_skip:
                super().post_data_to_studio()

    return OfflineLive


def offline_live(live_dir: Path):
    """A dvclive run writing to `live_dir` (no dvc.yaml of its own, no DVC experiment)."""
    return offline_live_class()(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False)
