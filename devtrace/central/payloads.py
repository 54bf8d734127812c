"""What a client may send: batches of events and labels, each item validated on its own.

Network input is hostile: every string is bounded and must be storable text (no NUL, no
lone surrogate), every integer fits its column, every float is finite. Unknown fields are
ignored, so a newer client's extra columns do not cost its events.
"""

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSIONS = (1,)
MAX_BATCH = 5000


def _storable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return text


def _text(limit: int):
    return Annotated[str, Field(max_length=limit), AfterValidator(_storable)]


Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Count = Annotated[int, Field(ge=0, le=2**53)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Seconds = Annotated[float, Field(ge=0, le=1e11, allow_inf_nan=False)]
Score = Annotated[float, Field(ge=-1e9, le=1e9, allow_inf_nan=False)]


class Event(BaseModel):
    """One command event, as the local store's `command_events` row holds it."""

    model_config = ConfigDict(extra="ignore")

    id: Id
    agent_id: _text(256) | None = None
    executed_at: Seconds
    command_hash: _text(128)
    duration_ms: Count
    exit_code: Int32
    timed_out: Annotated[int, Field(ge=0, le=1)] = 0
    files_touched_count: Count | None = None
    lines_added: Count | None = None
    lines_deleted: Count | None = None
    predicted_productivity: Score | None = None
    top_contribution_feature: _text(128) | None = None
    top_contribution_value: Score | None = None
    model_ref: _text(128) | None = None
    started_at: Seconds | None = None
    ended_at: Seconds | None = None
    session_id: _text(128) | None = None
    repo_id: _text(128) | None = None
    program: _text(256) | None = None
    delta_files: Count | None = None
    delta_lines_added: Count | None = None
    delta_lines_deleted: Count | None = None
    scored_at: Seconds | None = None
    author_kind: _text(32) | None = None
    key_fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")] | None = None


class Label(BaseModel):
    """One label row of a local store; `client_label_id` is its id there."""

    model_config = ConfigDict(extra="ignore")

    event_id: Id
    client_label_id: Annotated[int, Field(ge=1, le=2**62)]
    value: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
    source: Literal["human", "pseudo"]
    labeled_by: _text(256) | None = None
    note: _text(4000) | None = None
    created_at: Seconds


EVENT_COLUMNS = tuple(Event.model_fields)
LABEL_COLUMNS = tuple(Label.model_fields)


class EventBatch(BaseModel):
    """`{"events": [...]}` (DevTrace 0.2.0's body) with an optional schema version."""

    schema_version: int = 1
    events: Annotated[list[Any], Field(max_length=MAX_BATCH)]


class LabelBatch(BaseModel):
    schema_version: int = 1
    labels: Annotated[list[Any], Field(max_length=MAX_BATCH)]


class Rejected(BaseModel):
    id: str | None
    reason: str


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejected]
    received_at: float


def validate(model, items: list, key: str) -> tuple[list, list[dict]]:
    """(valid items, [{id, reason}] for the rest), in input order."""
    valid, rejected = [], []
    for item in items:
        try:
            valid.append(model.model_validate(item))
        except ValidationError as exc:
            rejected.append({"id": _id_of(item, key), "reason": _reason(exc)})
    return valid, rejected


def _id_of(item: Any, key: str) -> str | None:
    value = item.get(key) if isinstance(item, dict) else None
    if key == "event_id" and isinstance(item, dict) and isinstance(item.get("client_label_id"), int):
        return f"{value}#{item['client_label_id']}" if isinstance(value, str) else None
    return value[:64] if isinstance(value, str) else None


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
