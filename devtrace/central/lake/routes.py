"""Admin routes of the central service for the lake: retention and erasure (admin token),
each run in a process of its own (see devtrace.central.lake.job)."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from devtrace.central.auth import CentralDb, caller
from devtrace.central.lake import job
from devtrace.central.tokens import NAME

router = APIRouter()


class RetentionRequest(BaseModel):
    days: Annotated[int, Field(ge=1, le=100_000)]


class EraseRequest(BaseModel):
    machine: Annotated[str, Field(pattern=NAME.pattern)]  # a token's name: no NUL, nothing a database refuses


class RemovedAnswer(BaseModel):
    events: int
    labels: int


@router.post("/v1/admin/retention")
def retention(body: RetentionRequest, db: CentralDb, by: Annotated[str, Depends(caller("admin"))]) -> RemovedAnswer:
    return RemovedAnswer(**job.run("retention", db.url, str(body.days), by))


@router.post("/v1/admin/erase")
def erase(body: EraseRequest, db: CentralDb, by: Annotated[str, Depends(caller("admin"))]) -> RemovedAnswer:
    return RemovedAnswer(**job.run("erase", db.url, body.machine, by))
