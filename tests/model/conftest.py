import pytest

from tests.conftest import messy_frame
from trainflow.data.clean import clean_table
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.data.split import split_table
from trainflow.model.preprocess import fit_preprocessor
from trainflow.params import PreprocessParams, SplitParams


@pytest.fixture(scope="module")
def splits(data_params):
    clean, _ = clean_table(messy_frame(400, seed=3), data_params, [SOURCE_FILE_COLUMN], "t")
    return split_table(clean, data_params, SplitParams(test_source_file="adult.test"), seed=0)


@pytest.fixture(scope="module")
def pre(splits, data_params):
    return fit_preprocessor(splits["train"], data_params, PreprocessParams(log1p=["capital_gain"]))
