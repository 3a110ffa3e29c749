"""Request and response models built from the data schema, so a bad record is a 400 naming the
field. Imported by the service; kept apart so tests can exercise it without a server."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    create_model,
)
from pydantic_core import PydanticCustomError

from trainflow.data.columnar import NUMBER_TEXT
from trainflow.params import DataParams


class Answer(BaseModel):
    id: str = Field(description="this answer's id: send it to /feedback with the true outcome")
    version: str = Field(description="the model version that gave this answer")


class Prediction(Answer):
    """A classifier's answer for one record."""

    label: str
    probability: float = Field(description="probability of the predicted label")
    probabilities: dict[str, float]


class Estimate(Answer):
    """A regression model's answer for one record, in the target's units."""

    value: float


def response_model(data: DataParams) -> type[BaseModel]:
    return Prediction if data.is_classification else Estimate


ANSWER_ID = r"^[0-9a-f]{32}$"


def feedback_model(data: DataParams) -> type[BaseModel]:
    """One true outcome for /feedback: the answer's id and the label (one of data.labels) or,
    for regression, the value."""
    outcome: Any
    if data.is_classification:
        outcome = (Literal[tuple(data.labels)], Field(description="the true label"))  # type: ignore[valid-type]
        name = "label"
    else:
        finite = Annotated[float, Field(allow_inf_nan=False)]
        outcome = (finite, Field(description="the true value, in the target's units"))
        name = "value"
    return create_model(
        "Feedback",
        __config__=ConfigDict(extra="forbid"),
        id=(str, Field(pattern=ANSWER_ID, description="the id /predict gave the answer")),
        **{name: outcome},
    )


def numeric_field(markers: set[str]) -> Any:
    """A numeric feature as raw sources spell it: a JSON number, a number written as text
    ("2174", " 39 "), null or a missing marker (both: missing). true/false, inf, nan and other
    text are rejected; the JSON schema says exactly this, so schema fuzzing can hold us to it."""
    text = re.compile(rf"\s*({NUMBER_TEXT})\s*")
    marker_alternatives = "|".join(re.escape(m) for m in sorted(markers))
    pattern = rf"^\s*(?:{NUMBER_TEXT}{'|' + marker_alternatives if markers else ''})\s*$"

    def parse(value: Any) -> float | None:
        if value is None or (isinstance(value, str) and value.strip() in markers):
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str) and (match := text.fullmatch(value)):
            number = float(match.group(1))
        else:
            number = math.nan
        if not math.isfinite(number):
            raise PydanticCustomError(
                "float_parsing", "Input should be a finite number, a number written as text, "
                "null or a missing marker ({markers})", {"markers": sorted(markers)},
            )  # fmt: skip
        return number

    schema = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": pattern},
                        {"type": "null"}]}  # fmt: skip
    return Annotated[float | None, BeforeValidator(parse), WithJsonSchema(schema)]


def explain_request_top(data: DataParams) -> int:
    """How many features /explain returns per record unless asked: 5, or all if fewer."""
    return min(5, len(data.features))


def image_field(max_bytes: int) -> Any:
    """An image file (PNG, JPEG, ...) as base64 text: checked here by decoding it fully, so a
    file that is not an image, is truncated or is larger than `max_bytes` is a 400 naming the
    record's field, not a failure inside the model."""
    from trainflow.data.images import check_image

    def valid(value: str) -> str:
        reason = check_image(value, max_bytes)
        if reason:
            raise PydanticCustomError("image", "Input should be an image file as base64: "
                                      "{reason}", {"reason": reason})  # fmt: skip
        return value

    chars = 4 * -(-max_bytes // 3)  # base64 of max_bytes
    schema = {"type": "string", "minLength": 1, "maxLength": chars, "contentEncoding": "base64",
              "contentMediaType": "image/*",
              "description": f"an image file (PNG, JPEG, ...) as base64, at most {max_bytes:,} "
              "bytes"}  # fmt: skip
    return Annotated[StrictStr, Field(min_length=1, max_length=chars), AfterValidator(valid),
                     WithJsonSchema(schema)]  # fmt: skip


def record_model(
    data: DataParams, ignored: tuple[str, ...] = (), max_text_chars: int = 10000,
    max_image_bytes: int = 5_000_000,
) -> type[BaseModel]:  # fmt: skip
    """One raw record: every feature required (null = missing; a text: a string with
    something in it, at most `max_text_chars`, or null; an image: a decodable image file as
    base64, at most `max_image_bytes`, or null), the source's other columns (dropped features,
    the target, the `ignored` columns params.yaml does not mention) optional and ignored,
    anything else rejected."""
    markers = {m.strip() for m in data.missing_markers}
    number = numeric_field(markers)
    fields: dict[str, Any] = {}
    for col in data.numeric_features:
        fields[col] = (number, Field(description="numeric; null or a missing marker = missing"))
    for col in data.categorical_features:
        fields[col] = (str | None, Field(max_length=200, description="category; raw spelling ok"))
    text = Annotated[StrictStr, Field(min_length=1, max_length=max_text_chars, pattern=r"\S")]
    for col in data.text_features:  # null: no text (all padding), as a missing number
        fields[col] = (text | None, Field(description="free text, not blank; null = missing"))
    for col in data.image_features:  # null: no image (all zeros)
        fields[col] = (image_field(max_image_bytes) | None, Field(description="null = missing"))
    for col in data.drop:
        kind = number if col in data.numeric else str | None
        fields[col] = (kind, Field(default=None, description="not used by the model"))
    # a label as the source spells it; strict, so a long text is not read as a number (the
    # JSON schema's string branch has a maxLength: the server holds to the same)
    label = StrictStr | StrictInt | StrictFloat | StrictBool | None
    target = label if data.is_classification else number
    fields[data.target] = (target, Field(default=None, description="ignored if present"))
    for col in ignored:
        if col not in fields:
            fields[col] = (Any, Field(default=None, description="a source column the model "
                                      "does not use: ignored"))  # fmt: skip
    return create_model(
        "Record",
        __config__=ConfigDict(extra="forbid", str_max_length=200, allow_inf_nan=False),
        **fields,
    )


def request_schema(
    data: DataParams, max_records: int, ignored: tuple[str, ...] = (), max_text_chars: int = 10000,
    max_image_bytes: int = 5_000_000,
) -> dict:  # fmt: skip
    """JSON Schema of a `predict` / `drift` request body: {"records": [Record, ...]}."""
    record = record_model(data, ignored, max_text_chars, max_image_bytes).model_json_schema()
    records = {"type": "array", "minItems": 1, "maxItems": max_records, "items": record}
    return {"type": "object", "required": ["records"], "additionalProperties": False,
            "properties": {"records": records}}  # fmt: skip
