"""The streamed data path (train.data: stream): the same preprocessor, every row once per epoch,
disjoint pieces per process, the in-memory path's validation batches, exact resume."""

import pandas as pd
import pytest
import torch

from trainflow.model import datamodule
from trainflow.model.datamodule import IndexBatches, TensorLoader
from trainflow.model.preprocess import fit_preprocessor
from trainflow.model.splits import FrameSplit, ParquetSplit
from trainflow.model.stream import StreamReader, TrainStream, ValStream, deal_pieces
from trainflow.model.tensors import to_tensors
from trainflow.params import PreprocessParams


@pytest.fixture(scope="module")
def files(splits, tmp_path_factory):
    """The train and val splits as Parquet files of many small row groups."""
    folder = tmp_path_factory.mktemp("stream")
    out = {}
    for name in ("train", "val"):
        out[name] = folder / f"{name}.parquet"
        splits[name].to_parquet(out[name], row_group_size=37)
    return out


@pytest.fixture(scope="module")
def streamed(files, data_params):
    return {name: ParquetSplit(path, data_params.categorical_features)
            for name, path in files.items()}  # fmt: skip


def rows_of(batches) -> list[tuple]:
    """Each row of a sequence of batches as a tuple of its values (a multiset to compare)."""
    out = []
    for batch in batches:
        for x_num, x_cat, y in zip(*batch, strict=True):
            out.append((*x_num.tolist(), *x_cat.tolist(), float(y)))
    return sorted(out)


def share(monkeypatch, rank: int, world: int) -> None:
    """Make both data paths see a distributed run of `world` processes, as process `rank`."""
    monkeypatch.setattr(datamodule, "distributed_share", lambda: (rank, world))


def test_the_preprocessor_is_fitted_column_by_column_to_the_same_state(
    splits, streamed, data_params
):
    settings = PreprocessParams(log1p=["capital_gain"], min_category_count=2)
    whole = fit_preprocessor(splits["train"], data_params, settings)
    assert fit_preprocessor(streamed["train"], data_params, settings) == whole
    assert streamed["train"].rows == len(splits["train"]) and len(streamed["train"].groups) > 5


def test_one_process_sees_every_row_once_per_epoch_in_an_order_of_the_epoch(splits, streamed, pre):
    reader = StreamReader(streamed["train"], pre)
    epoch0 = TrainStream(reader, batch_size=32, seed=5, window=2)
    batches = list(epoch0)
    n = len(splits["train"])
    assert len(batches) == len(epoch0) == -(-n // 32)
    assert [len(b[2]) for b in batches[:-1]] == [32] * (len(batches) - 1)
    whole = to_tensors(splits["train"], pre)
    assert rows_of(batches) == rows_of([(*whole.blocks, whole.y)])  # each row exactly once
    again = [b[2].tolist() for b in TrainStream(reader, 32, seed=5, window=2)]
    assert again == [b[2].tolist() for b in batches]  # a function of seed and epoch
    resumed = TrainStream(reader, 32, seed=5, window=2)
    resumed.set_epoch(1)  # as after resuming at epoch 1
    epoch0.set_epoch(1)
    first_rows = [b[0].tolist() for b in epoch0]
    assert first_rows == [b[0].tolist() for b in resumed]
    assert first_rows != [b[0].tolist() for b in batches]  # another order in another epoch


def test_a_window_mixes_rows_of_several_pieces(splits, streamed, pre):
    """Rows of the first batch come from more than one row group (37 rows each)."""
    split = streamed["train"]
    pieces = split.pieces()
    mixed = TrainStream(StreamReader(split, pre), batch_size=32, seed=0, window=4)
    x_num = next(iter(mixed))[0]
    per_piece = [to_tensors(split.read(p), pre).blocks[0] for p in pieces]
    owners = {next(i for i, block in enumerate(per_piece) if (block == row).all(1).any())
              for row in x_num}  # fmt: skip
    assert len(owners) > 1


def test_processes_read_disjoint_pieces_and_take_equal_steps(monkeypatch, streamed, pre):
    split = streamed["train"]
    read: dict[int, list] = {0: [], 1: []}
    steps = {}
    for rank in (0, 1):
        share(monkeypatch, rank, 2)
        reader = StreamReader(split, pre)
        arrays = reader.arrays
        monkeypatch.setattr(
            reader, "arrays", lambda ps, r=rank, f=arrays: read[r].extend(ps) or f(ps)
        )
        batches = list(TrainStream(reader, batch_size=32, seed=3, window=2))
        steps[rank] = len(batches)
        assert all(len(b[2]) == 16 for b in batches[:-1])  # the global batch, halved
    assert steps[0] == steps[1] == -(-split.rows // 32)
    assert not set(read[0]) & set(read[1])
    assert set(read[0]) | set(read[1]) == set(split.pieces())


def test_pieces_are_dealt_by_rows_in_an_order_of_the_epoch(streamed):
    pieces = streamed["train"].pieces()
    shares = deal_pieces(pieces, seed=1, epoch=0, world=3)
    totals = [sum(p.rows for p in s) for s in shares]
    assert max(totals) - min(totals) <= max(p.rows for p in pieces)
    assert sorted(p for s in shares for p in s) == sorted(pieces)
    assert deal_pieces(pieces, 1, 1, 3) != shares


def test_a_split_of_fewer_row_groups_than_processes_is_cut(splits, tmp_path, data_params):
    path = tmp_path / "one.parquet"
    splits["train"].to_parquet(path)  # one row group
    split = ParquetSplit(path, data_params.categorical_features)
    assert len(split.groups) == 1 and len(split.pieces(4)) == 4
    assert sum(p.rows for p in split.pieces(4)) == split.rows


@pytest.mark.parametrize("world", [1, 2])
def test_validation_batches_are_the_in_memory_ones(monkeypatch, splits, streamed, pre, world):
    """So val/loss, early stopping and the checkpoint kept do not depend on the data path."""
    for rank in range(world):
        share(monkeypatch, rank, world)
        val = ValStream(StreamReader(streamed["val"], pre), batch_size=48, window=3)
        data = to_tensors(splits["val"], pre)
        memory = TensorLoader(data, IndexBatches(len(data), 48, shuffle=False, seed=0))
        expected = [b for (b,) in memory]
        got = list(val)
        assert len(got) == len(val) == len(expected)
        for a, b in zip(got, expected, strict=True):
            assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_frame_split_answers_as_the_frame(splits):
    split = FrameSplit(splits["train"])
    assert split.rows == len(splits["train"]) and not split.streamed
    pd.testing.assert_series_equal(split.column("age"), splits["train"]["age"])


def test_a_streamed_run_resumed_from_its_last_checkpoint_ends_with_the_uninterrupted_weights(
    tmp_path, streamed, pre
):
    """Stop after 2 of 4 epochs, resume from that run's last checkpoint: the same weights,
    bit for bit, as a 4-epoch run; the summary names the data path. (A real kill -9 of a
    streamed run: tests/pipeline, test_killed_train_stage_resumes_...)"""
    from tests.model.test_training import TINY, train_mlp
    from trainflow.io import run_fingerprint

    four = TINY.model_copy(update={"max_epochs": 4, "patience": 10})
    fp = run_fingerprint([b"streamed run"])
    train, val = streamed["train"], streamed["val"]
    whole = train_mlp(train, val, pre, four, 1, tmp_path / "w", tmp_path / "lw", fp)
    assert whole.summary["data"] == "stream" and whole.summary["train_rows"] == train.rows
    two = four.model_copy(update={"max_epochs": 2})
    train_mlp(train, val, pre, two, 1, tmp_path / "r", tmp_path / "lr", fp)
    resumed = train_mlp(train, val, pre, four, 1, tmp_path / "r", tmp_path / "lr", fp)
    assert resumed.summary["resumed_after_epoch"] == 1
    for (name, x), (_, y) in zip(
        whole.net.state_dict().items(), resumed.net.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name


def test_piecewise_bins_from_columns_equal_the_in_memory_ones(splits, streamed, pre):
    from trainflow.families.neural import tabular_config
    from trainflow.params import MLPParams

    params = MLPParams(lr=0.01, batch_size=64, max_epochs=1, numeric_embedding="piecewise_linear")
    memory = tabular_config("mlp", pre, params, splits["train"], {})
    assert tabular_config("mlp", pre, params, streamed["train"], {}) == memory
    assert memory["bins"] and all(len(edges) >= 2 for edges in memory["bins"])


def test_lightgbm_reads_a_streamed_split_into_the_same_booster(tmp_path, splits, streamed, pre):
    """lightgbm.Sequence over the pieces: LightGBM bins the same sample of rows, so the trees
    are the in-memory ones."""
    from trainflow.families import gbdt
    from trainflow.families.base import FitContext
    from trainflow.params import GBDTParams, TrainParams

    settings = GBDTParams(max_rounds=40, early_stopping_rounds=10, num_threads=1)
    models = {}
    paths = {"memory": splits, "stream": streamed}
    for name, data in paths.items():
        train, val = data["train"], data["val"]
        ctx = FitContext(seed=0, trainer=TrainParams(), resume_dir=tmp_path / name / "r",
                         live_dir=tmp_path / name / "live")  # fmt: skip
        fitted = gbdt.fit(train, val, pre, settings, ctx)
        assert fitted.summary["data"] == name
        models[name] = fitted.booster.model_to_string()
    assert models["stream"] == models["memory"]


def test_a_dataset_of_parts_streams_as_one_split(splits, tmp_path, data_params, pre):
    """The Spark engine's splits are folders of part files: their row groups are the pieces,
    in file order, and the preprocessor fitted from them is the in-memory one."""
    folder = tmp_path / "train.parquet"
    folder.mkdir()
    half = len(splits["train"]) // 2
    splits["train"].iloc[:half].to_parquet(folder / "part-00000.parquet", row_group_size=50)
    splits["train"].iloc[half:].to_parquet(folder / "part-00001.parquet", row_group_size=50)
    split = ParquetSplit(folder, data_params.categorical_features)
    assert split.rows == len(splits["train"]) and {p.file.name for p in split.pieces()} == {
        "part-00000.parquet", "part-00001.parquet"}  # fmt: skip
    settings = PreprocessParams(log1p=["capital_gain"])
    assert fit_preprocessor(split, data_params, settings) == pre
    rows = rows_of(TrainStream(StreamReader(split, pre), batch_size=64, seed=0, window=3))
    whole = to_tensors(splits["train"], pre)
    assert rows == rows_of([(*whole.blocks, whole.y)])


def test_the_reading_thread_runs_no_torch_op(monkeypatch, streamed, pre):
    """A torch op on the prefetch thread gives that thread an OpenMP team of its own, which
    slows every op of training while both live (see trainflow.model.stream.prefetched)."""
    import threading

    threads = set()
    for name in ("cat", "from_numpy", "as_tensor", "tensor"):
        real = getattr(torch, name)
        record = lambda *a, _f=real, **k: threads.add(threading.current_thread()) or _f(*a, **k)  # noqa: E731
        monkeypatch.setattr(torch, name, record)
    stream = TrainStream(StreamReader(streamed["train"], pre), batch_size=32, seed=0, window=1)
    assert len(list(stream)) == len(stream)
    assert threads == {threading.current_thread()}
