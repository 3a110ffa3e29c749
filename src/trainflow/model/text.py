"""Text columns as token ids: a word-level tokenizer (Hugging Face `tokenizers`: BERT's
normalisation and pre-tokenisation, the `vocab_size` most frequent words) trained on the train
split only, kept as its own JSON (the `tokenizer.json` format, loadable with
`tokenizers.Tokenizer.from_str`), and the inverse document frequencies the linear family's
TF-IDF needs. Id 0 pads, id 1 is an unknown word.

Why words, not WordPiece / BPE: those trainers break ties between equally frequent pairs by
hash-map order, so the same texts gave another vocabulary in 2 of 12 runs (8,000 pieces on the
review snippets) and no run would be reproducible bit for bit; the word-level trainer orders
ties by the word (the same vocabulary in 16 of 16 runs).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from trainflow.params import TextParams

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID = 0


def fit_tokenizer(texts: pd.Series, params: TextParams) -> dict:
    """Learn the vocabulary of `texts`, padded / truncated to `max_tokens`; the tokenizer's
    JSON as a dict."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=params.lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordLevelTrainer(
        vocab_size=params.vocab_size, min_frequency=params.min_frequency,
        special_tokens=[PAD, UNK], show_progress=False,
    )  # fmt: skip
    tokenizer.train_from_iterator(_strings(texts), trainer=trainer)
    tokenizer.enable_truncation(params.max_tokens)
    tokenizer.enable_padding(pad_id=PAD_ID, pad_token=PAD, length=params.max_tokens)
    return json.loads(tokenizer.to_str())


_LOADED: dict[int, tuple[dict, object]] = {}  # id(state) -> (state, its Tokenizer)


def _tokenizer(state: dict) -> object:  # a tokenizers.Tokenizer (imported lazily)
    """The Tokenizer of a state dict, built once per dict (a preprocessor keeps its dict for
    its life: serving pays the JSON parse once, not per request)."""
    entry = _LOADED.get(id(state))
    if entry is None or entry[0] is not state:
        from tokenizers import Tokenizer

        entry = (state, Tokenizer.from_str(json.dumps(state)))
        if len(_LOADED) >= 16:  # a process holds a few preprocessors; keep it bounded anyway
            _LOADED.clear()
        _LOADED[id(state)] = entry
    return entry[1]


def encode(state: dict, texts: pd.Series) -> np.ndarray:
    """Token ids, int64 [n, max_tokens] (0 = padding); a missing text is all padding."""
    tokenizer = _tokenizer(state)
    encodings = tokenizer.encode_batch(_strings(texts))
    return np.array([e.ids for e in encodings], dtype=np.int64).reshape(len(texts), -1)


def vocab_size(state: dict) -> int:
    return len(state["model"]["vocab"])


def inverse_document_frequency(ids: np.ndarray, size: int) -> list[float]:
    """scikit-learn's smooth idf, ln((1 + n) / (1 + df)) + 1, per token id, over the train
    documents' words (padding gets 0: it is not a term)."""
    present = np.zeros((len(ids), size), dtype=bool)
    present[np.arange(len(ids))[:, None], ids] = True
    df = present.sum(axis=0)
    idf = np.log((1 + len(ids)) / (1 + df)) + 1
    idf[PAD_ID] = 0.0
    return [round(float(v), 6) for v in idf]


def word_counts(texts: pd.Series) -> pd.Series:
    """Each text's length in words (split on white space; missing stays missing): what text
    slices and text drift measure."""
    return texts.astype("str").str.split().str.len()


def _strings(texts: pd.Series) -> list[str]:
    return ["" if _missing(v) else str(v) for v in texts.tolist()]


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
