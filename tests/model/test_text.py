"""Text columns: the tokenizer (fitted on train, deterministic, saved as JSON), TF-IDF as
scikit-learn computes it, the text encoder, and networks that take a text block."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from trainflow.errors import StageError
from trainflow.model import text
from trainflow.model.export import export_and_check
from trainflow.model.network import TextEncoder, build_network, tfidf_weights
from trainflow.model.preprocess import Preprocessor, fit_preprocessor
from trainflow.params import DataParams, PreprocessParams, TextParams

WORDS = [
    "good",
    "bad",
    "great",
    "awful",
    "plot",
    "acting",
    "score",
    "film",
    "movie",
    "boring",
    "brilliant",
    "slow",
]


def corpus(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(1, 12))) for _ in range(n)]
    labels = ["fresh" if ("good" in t or "great" in t) else "rotten" for t in texts]
    return pd.DataFrame({"review": texts, "stars": rng.integers(1, 6, n).astype(float),
                         "label": labels})  # fmt: skip


DATA = DataParams(target="label", labels=["rotten", "fresh"], numeric=["stars"],
                  categorical=[], text=["review"])  # fmt: skip
SMALL = PreprocessParams(text=TextParams(vocab_size=100, min_frequency=1, max_tokens=16))


def test_tokenizer_is_the_same_on_every_fit_and_loads_as_tokenizer_json():
    from tokenizers import Tokenizer

    frame = corpus()
    a, b = (text.fit_tokenizer(frame.review, SMALL.text) for _ in range(2))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    vocab = a["model"]["vocab"]
    assert vocab["[PAD]"] == 0 and vocab["[UNK]"] == 1 and "brilliant" in vocab
    tokenizer = Tokenizer.from_str(json.dumps(a))  # the standard tokenizer.json format
    assert tokenizer.encode("Brilliant film").tokens[:3] == ["brilliant", "film", "[PAD]"]
    ids = text.encode(a, pd.Series(["Brilliant film", None, "zzz " * 40]))
    assert ids.shape == (3, 16) and ids.dtype == np.int64
    assert (ids[1] == 0).all()  # a missing text is all padding
    assert (ids[2] != 0).all()  # a long one truncated to max_tokens


def test_tfidf_weights_are_scikit_learns_tfidf_vector():
    from sklearn.feature_extraction.text import TfidfVectorizer

    frame = corpus(80)
    state = text.fit_tokenizer(frame.review, SMALL.text)
    ids = text.encode(state, frame.review)
    idf = text.inverse_document_frequency(ids, text.vocab_size(state))
    docs = [[str(i) for i in row[row != 0]] for row in ids]  # each text as its word ids
    sk = TfidfVectorizer(analyzer=lambda d: d).fit(docs)
    assert np.allclose([idf[int(p)] for p in sk.get_feature_names_out()], sk.idf_, atol=1e-5)
    weights = tfidf_weights(torch.from_numpy(ids), torch.tensor(idf)).numpy()
    ours = np.zeros((len(ids), text.vocab_size(state)))
    np.add.at(ours, (np.arange(len(ids))[:, None], ids), weights)  # summed per piece
    expected = sk.transform(docs).toarray()
    columns = [int(p) for p in sk.get_feature_names_out()]
    assert np.allclose(ours[:, columns], expected, atol=1e-5)


def test_tfidf_weights_in_row_blocks_equal_all_rows_at_once(monkeypatch):
    from trainflow.model import network

    ids = torch.randint(0, 30, (50, 12))
    idf = torch.rand(30)
    whole = tfidf_weights(ids, idf)
    monkeypatch.setattr(network, "TFIDF_ROWS", 7)  # 8 blocks, the last one short
    assert torch.equal(network.tfidf_weights(ids, idf), whole)


def test_text_encoder_ignores_padding_and_an_empty_text_is_zero():
    torch.manual_seed(0)
    encoder = TextEncoder(20, 4)
    ids = torch.tensor([[5, 6, 5, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    out = encoder(ids)
    assert out.shape == (2, 8) and torch.equal(out[1], torch.zeros(8))
    assert torch.allclose(encoder(ids[:, :3]), out[:, :])  # padding changes nothing
    emb = encoder.embedding.weight[[5, 6, 5]]
    assert torch.allclose(out[0], torch.cat([emb.mean(0), emb.amax(0)]))


def test_preprocessor_with_text_round_trips_as_json(tmp_path):
    frame = corpus()
    pre = fit_preprocessor(frame, DATA, SMALL)
    assert pre.block_names == ("x_num", "x_cat", "x_text") and pre.features == ["stars", "review"]
    x_num, x_cat, x_text = pre.transform(frame)
    assert x_num.shape == (300, 1) and x_cat.shape == (300, 0) and x_text.shape == (300, 1, 16)
    pre.save(tmp_path / "pre.json")
    again = Preprocessor.load(tmp_path / "pre.json")
    assert all(np.array_equal(a, b) for a, b in zip(pre.transform(frame), again.transform(frame),
                                                    strict=True))  # fmt: skip
    with pytest.raises(StageError, match=r"missing feature column\(s\) \['review'\]"):
        pre.transform(frame.drop(columns="review"))


@pytest.mark.parametrize("kind", ["linear", "tabular"])
def test_networks_take_the_text_block_and_export_with_parity(tmp_path, kind):
    frame = corpus()
    pre = fit_preprocessor(frame, DATA, SMALL)
    if kind == "linear":
        config = {"kind": "linear", "n_numeric": 1, "cardinalities": [], "n_outputs": 1,
                  "vocab_sizes": pre.vocab_sizes}  # fmt: skip
    else:
        config = {"kind": "tabular", "backbone": "mlp", "n_numeric": 1,
                  "numeric_embedding": "periodic", "d_embedding": 4, "frequency_scale": 1.0,
                  "n_frequencies": 8, "bins": None, "cardinalities": [], "d_category": 3,
                  "vocab_sizes": pre.vocab_sizes, "d_text": 8, "n_blocks": 1, "width": 8,
                  "dropout": 0.0, "n_outputs": 1}  # fmt: skip
    torch.manual_seed(0)
    net = build_network(config).eval()
    if kind == "linear":
        net.idf0.copy_(torch.tensor(pre.idf["review"]))
        torch.nn.init.normal_(net.words[0].weight)
    blocks = pre.transform(frame)
    out = net(*(torch.from_numpy(b) for b in blocks))
    assert out.shape == (300,) and len(net.slices) == 2  # one block per feature: stars, review
    report = export_and_check(net, blocks, pre.block_names, tmp_path)
    assert report["torch_export_max_abs_diff"] <= 1e-5 and report["onnx_max_abs_diff"] <= 1e-4


def test_linear_family_on_text_is_tfidf_logistic_regression(tmp_path):
    """A linear model on TF-IDF pieces learns which words are positive."""
    from trainflow.families import linear
    from trainflow.families.base import FitContext
    from trainflow.params import LinearParams, TrainParams

    frame = corpus(400)
    pre = fit_preprocessor(frame, DATA, SMALL)
    ctx = FitContext(seed=0, trainer=TrainParams(), resume_dir=tmp_path / "r",
                     live_dir=tmp_path / "live")  # fmt: skip
    fitted = linear.fit(frame, corpus(100, seed=1), pre, LinearParams(l2=1e-4), ctx)
    test = corpus(200, seed=2)
    accuracy = ((fitted.outputs(test) > 0) == (test.label == "fresh")).mean()
    assert accuracy > 0.95
    weights = fitted.net.words[0].weight[:, 0].detach()
    vocab = pre.tokenizers["review"]["model"]["vocab"]
    top = {word for word, i in vocab.items() if i in weights.topk(2).indices.tolist()}
    assert top == {"good", "great"}  # the two words that decide the label


def test_gbdt_names_the_text_columns_it_cannot_read(tmp_path):
    from trainflow.families import gbdt
    from trainflow.families.base import FitContext
    from trainflow.params import GBDTParams, TrainParams

    frame = corpus()
    pre = fit_preprocessor(frame, DATA, SMALL)
    ctx = FitContext(seed=0, trainer=TrainParams(), resume_dir=tmp_path, live_dir=tmp_path)
    with pytest.raises(StageError, match=r"families.gbdt: .* text columns \['review'\]"):
        gbdt.fit(frame, frame, pre, GBDTParams(), ctx)
