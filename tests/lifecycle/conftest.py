import pytest

from tests.serving.test_schema_and_predictor import model_folder  # noqa: F401  (fixture)
from trainflow.serving.predictor import Predictor


@pytest.fixture
def predictor(model_folder):  # noqa: F811
    folder, _ = model_folder
    return Predictor.load(folder)
