"""What a client may send: batches of events and labels, each item validated on its own.

Network input is hostile: every string is bounded and must be storable text (no NUL; the
JSON parser refuses lone surrogates), every integer fits its column, every float is finite.
Unknown fields are ignored, so a newer client's extra columns do not cost its events; but an
event carrying command text is refused: the text never leaves the machine it was typed on.

A batch is first validated whole, straight from its bytes (pydantic-core: the common case,
every item valid, costs no Python per field); only a batch with a bad item is parsed again
and validated item by item, to say which items were refused and why.
"""

from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

SCHEMA_VERSIONS = (1,)
MAX_BATCH = 5000


class BadBatch(Exception):
    """The body as a whole is unusable (not JSON, not a batch, an unknown schema version)."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


NO_NUL = r"^[^\x00]*$"  # text a column or an argv can hold
Text32 = Annotated[str, Field(max_length=32, pattern=NO_NUL)]
Text128 = Annotated[str, Field(max_length=128, pattern=NO_NUL)]
Text256 = Annotated[str, Field(max_length=256, pattern=NO_NUL)]
Text4000 = Annotated[str, Field(max_length=4000, pattern=NO_NUL)]


Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Count = Annotated[int, Field(ge=0, le=2**53)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Seconds = Annotated[float, Field(ge=0, le=1e11, allow_inf_nan=False)]
Score = Annotated[float, Field(ge=-1e9, le=1e9, allow_inf_nan=False)]


class Event(BaseModel):
    """One command event, as the local store's `command_events` row holds it."""

    model_config = ConfigDict(extra="ignore")

    id: Id
    agent_id: Text256 | None = None
    executed_at: Seconds
    command_hash: Text128
    duration_ms: Count | None = None
    exit_code: Int32 | None = None
    timed_out: Annotated[int, Field(ge=0, le=1)] | None = None
    files_touched_count: Count | None = None
    lines_added: Count | None = None
    lines_deleted: Count | None = None
    predicted_productivity: Score | None = None
    top_contribution_feature: Text128 | None = None
    top_contribution_value: Score | None = None
    model_ref: Text128 | None = None
    started_at: Seconds | None = None
    ended_at: Seconds | None = None
    session_id: Text128 | None = None
    repo_id: Text128 | None = None
    program: Text256 | None = None
    delta_files: Count | None = None
    delta_lines_added: Count | None = None
    delta_lines_deleted: Count | None = None
    scored_at: Seconds | None = None
    author_kind: Text32 | None = None
    captured_by: Text32 | None = None
    duration_approximate: Annotated[int, Field(ge=0, le=1)] = 0
    key_fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")] | None = None
    # Refused unless null: the local store's redacted text is never sent (the last field:
    # EVENT_COLUMNS, what the central store keeps, leaves it out).
    command_text: Annotated[None, Field(description="never sent: the command text stays on its machine")] = None


class Label(BaseModel):
    """One label row of a local store; `client_label_id` is its id there."""

    model_config = ConfigDict(extra="ignore")

    event_id: Id
    client_label_id: Annotated[int, Field(ge=1, le=2**62)]
    value: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
    source: Literal["human", "pseudo"]
    labeled_by: Text256 | None = None
    note: Text4000 | None = None
    created_at: Seconds
    # The machine whose event it labels: an admin token's label may name another machine's
    # event, and must say which machine's when that id is on several; a machine's own label
    # needs none (it may only label its own events).
    event_machine: Text256 | None = None


class AgentSession(BaseModel):
    """One row of a local store's `agent_session_usage`: a session's usage of one model, as its
    transcript said when the machine last read it (`imported_at`). No prompt or command text."""

    model_config = ConfigDict(extra="ignore")

    agent: Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)]
    session_id: Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]
    model: Text128
    started_at: Seconds | None = None
    ended_at: Seconds | None = None
    turns: Count | None = None
    tool_calls: Count | None = None
    requests: Count
    input_tokens: Count
    output_tokens: Count
    cache_read_tokens: Count
    cache_write_tokens: Count
    imported_at: Seconds

    @property
    def key(self) -> str:
        return session_key(self.agent, self.session_id, self.model)


def session_key(agent: str, session_id: str, model: str) -> str:
    """How an answer names an agent session row (the client matches its rows by it)."""
    return f"{agent}/{session_id}/{model}"


EVENT_COLUMNS = tuple(name for name in Event.model_fields if name != "command_text")
LABEL_COLUMNS = tuple(Label.model_fields)
SESSION_COLUMNS = tuple(AgentSession.model_fields)


class Versioned(BaseModel):
    schema_version: int = 1


class EventBatch(Versioned):
    """`{"events": [...]}` (DevTrace 0.2.0's body) with an optional schema version."""

    events: Annotated[list[Any], Field(max_length=MAX_BATCH)]


class LabelBatch(Versioned):
    labels: Annotated[list[Any], Field(max_length=MAX_BATCH)]


class AgentSessionBatch(Versioned):
    agent_sessions: Annotated[list[Any], Field(max_length=MAX_BATCH)]


class _ValidEvents(Versioned):
    events: Annotated[list[Event], Field(max_length=MAX_BATCH)]


class _ValidLabels(Versioned):
    labels: Annotated[list[Label], Field(max_length=MAX_BATCH)]


class _ValidSessions(Versioned):
    agent_sessions: Annotated[list[AgentSession], Field(max_length=MAX_BATCH)]


_KINDS: dict[str, tuple[TypeAdapter[Any], type[Versioned], type[BaseModel], str]] = {
    "events": (TypeAdapter(_ValidEvents), EventBatch, Event, "id"),
    "labels": (TypeAdapter(_ValidLabels), LabelBatch, Label, "event_id"),
    "agent_sessions": (TypeAdapter(_ValidSessions), AgentSessionBatch, AgentSession, "session_id"),
}


def parse_batch(body: bytes, kind: str) -> tuple[list, list[dict]]:
    """(valid items, [{id, reason}] for the refused ones) of an "events", "labels" or
    "agent_sessions" body."""
    whole, envelope, model, key = _KINDS[kind]
    try:
        batch = whole.validate_json(body)
    except ValidationError:
        pass
    else:
        _check_version(batch.schema_version)
        return getattr(batch, kind), []
    try:
        data = pydantic_core.from_json(body)
    except ValueError as exc:
        raise BadBatch(422, f"the body is not valid JSON ({exc})") from None
    try:
        batch = envelope.model_validate(data)
    except ValidationError as exc:
        raise BadBatch(422, f"the body is not a batch of {kind}: {_reason(exc)}") from None
    _check_version(batch.schema_version)
    return validate(model, getattr(batch, kind), key)


def _check_version(version: int) -> None:
    if version not in SCHEMA_VERSIONS:
        raise BadBatch(400, f"unsupported schema version {version} (this server accepts "
                            f"{', '.join(map(str, SCHEMA_VERSIONS))}): upgrade the server or the client")


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
    """The item's id as the answer can carry it (any text a client sent is made printable UTF-8)."""
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, str):
        return None
    value = value[:64]
    if key == "event_id" and isinstance(item.get("client_label_id"), int):
        return f"{value}#{item['client_label_id']}"
    if key == "session_id" and isinstance(item.get("agent"), str) and isinstance(item.get("model"), str):
        return session_key(item["agent"][:32], value, item["model"][:128])
    return value


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "item"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
