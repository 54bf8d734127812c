"""The routes machines use: health, enrollment, and the event and label batches."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from devtrace import __version__
from devtrace.central import ingest, keys, policy
from devtrace.central.auth import CentralDb, caller
from devtrace.central.db import Unavailable
from devtrace.central.payloads import AgentSessionBatch, BatchResult, EventBatch, LabelBatch, parse_batch

router = APIRouter()


class Enrollment(BaseModel):
    machine: str
    hash_key: str
    key_fingerprint: str
    policy: dict[str, str]  # what the organisation requires of its machines (devtrace.central.policy)


@router.get("/v1/health", responses={503: {"description": "The database cannot be reached"}})
def health(db: CentralDb):
    """Whether the service and its database answer (no token needed, nothing named)."""
    try:
        db.query("SELECT 1")
    except Unavailable:
        return JSONResponse({"status": "unavailable", "database": "unavailable", "version": __version__},
                            status_code=503, headers={"Retry-After": "5"})
    return {"status": "ok", "database": "ok", "version": __version__}


@router.post("/v1/enroll")
def enroll(db: CentralDb, machine: Annotated[str, Depends(caller("ingest"))]) -> Enrollment:
    """The organisation's hash key, so this machine's command hashes match everyone's."""
    with db.transaction(write=False) as tx:
        key, fingerprint = keys.current_key(tx)
        required = policy.current(tx)
    return Enrollment(machine=machine, hash_key=key, key_fingerprint=fingerprint, policy=required)


@router.get("/v1/policy")
def organisation_policy(db: CentralDb, _: Annotated[str, Depends(caller("ingest"))]) -> dict[str, str]:
    """What the organisation requires of its machines; a client obeys it after each push."""
    with db.transaction(write=False) as tx:
        return policy.current(tx)


def _body(model) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


# The bodies are read as bytes and validated by parse_batch (see payloads); the schema is
# declared for the OpenAPI document.
@router.post("/v1/telemetry/batch", openapi_extra=_body(EventBatch))
async def telemetry(request: Request, db: CentralDb, machine: Annotated[str, Depends(caller("ingest"))]) -> BatchResult:
    return await run_in_threadpool(_receive, db, request.app.state.max_age_days, "events", machine, await request.body(),
                                   request.state.scope)


@router.post("/v1/labels/batch", openapi_extra=_body(LabelBatch))
async def labels(request: Request, db: CentralDb, machine: Annotated[str, Depends(caller("ingest"))]) -> BatchResult:
    """Labels of this token's machine's events (an admin token's: of any machine's), each
    attributed to the token (`machine`); `labeled_by` is what the client says."""
    return await run_in_threadpool(_receive, db, request.app.state.max_age_days, "labels", machine, await request.body(),
                                   request.state.scope)


@router.post("/v1/agent-sessions/batch", openapi_extra=_body(AgentSessionBatch))
async def agent_sessions(request: Request, db: CentralDb, machine: Annotated[str, Depends(caller("ingest"))]) -> BatchResult:
    """This token's machine's agent sessions' usage (tokens per model; no prompt or command
    text), each row replacing the one stored when the machine read it later."""
    return await run_in_threadpool(_receive, db, request.app.state.max_age_days, "agent_sessions", machine,
                                   await request.body(), request.state.scope)


def _receive(db, max_age_days: float, kind: str, machine: str, body: bytes, scope: str) -> BatchResult:
    valid, rejected = parse_batch(body, kind)
    if kind == "events":
        return BatchResult(**ingest.store_events(db, machine, valid, rejected, max_age_days))
    if kind == "agent_sessions":
        return BatchResult(**ingest.store_sessions(db, machine, valid, rejected, max_age_days))
    return BatchResult(**ingest.store_labels(db, machine, valid, rejected, max_age_days, any_machine=scope == "admin"))
