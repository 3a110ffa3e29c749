"""Request and response models built from the data schema, so a bad record is a 400 naming the
field. Imported by the service; kept apart so tests can exercise it without a server."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from trainflow.params import DataParams


class Prediction(BaseModel):
    """A classifier's answer for one record."""

    label: str
    probability: float = Field(description="probability of the predicted label")
    probabilities: dict[str, float]


class Estimate(BaseModel):
    """A regression model's answer for one record, in the target's units."""

    value: float


def response_model(data: DataParams) -> type[BaseModel]:
    return Prediction if data.is_classification else Estimate


def record_model(data: DataParams) -> type[BaseModel]:
    """One raw record: every feature required (null = missing), the source's other columns
    (dropped features, the target) optional and ignored, anything else rejected."""
    markers = {m.strip() for m in data.missing_markers}

    def marker_to_none(value: Any) -> Any:
        if isinstance(value, str) and value.strip() in markers:
            return None
        return value

    number = Annotated[float | None, BeforeValidator(marker_to_none)]
    fields: dict[str, Any] = {}
    for col in data.numeric_features:
        fields[col] = (number, Field(description="numeric; null or a missing marker = missing"))
    for col in data.categorical_features:
        fields[col] = (str | None, Field(max_length=200, description="category; raw spelling ok"))
    for col in data.drop:
        kind = number if col in data.numeric else str | None
        fields[col] = (kind, Field(default=None, description="not used by the model"))
    target = str | None if data.is_classification else number
    fields[data.target] = (target, Field(default=None, description="ignored if present"))
    return create_model(
        "Record", __config__=ConfigDict(extra="forbid", str_max_length=200), **fields
    )


def request_schema(data: DataParams, max_records: int) -> dict:
    """JSON Schema of a `predict` / `drift` request body: {"records": [Record, ...]}."""
    records = {"type": "array", "minItems": 1, "maxItems": max_records,
               "items": record_model(data).model_json_schema()}  # fmt: skip
    return {"type": "object", "required": ["records"], "additionalProperties": False,
            "properties": {"records": records}}  # fmt: skip
