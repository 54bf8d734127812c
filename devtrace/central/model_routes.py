"""The routes of the organisation's models: the approved one (for machines and analysts),
the list (read), publishing and approving (admin)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from devtrace.central import models
from devtrace.central.auth import CentralDb, caller, reader
from devtrace.central.payloads import NO_NUL

router = APIRouter()


class ModelUpload(BaseModel):
    version: Annotated[str, Field(max_length=128, pattern=models.VERSION.pattern)]
    model_json: Annotated[str, Field(max_length=64 * 1024 * 1024, pattern=NO_NUL)]
    metadata: dict[str, Any]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


@router.get("/v1/model/active", responses={304: {"description": "Not modified"}, 404: {"description": "None approved"}})
def active_model(request: Request, db: CentralDb, _: Annotated[str, Depends(reader)]):
    """The approved model's version, sha256 and metadata (ETag: its sha256)."""
    return _active(request, db, with_model=False)


@router.get("/v1/model/active/download", responses={304: {"description": "Not modified"}})
def active_model_download(request: Request, db: CentralDb, _: Annotated[str, Depends(reader)]):
    """The same with model.json's text; If-None-Match with the sha256 held downloads nothing."""
    return _active(request, db, with_model=True)


def _active(request: Request, db, *, with_model: bool):
    found = models.active(db, with_model=with_model)
    if found is None:
        raise HTTPException(404, "no model has been approved yet (devtrace server models approve VERSION)")
    etag = f'"{found["sha256"]}"'
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(found, headers={"ETag": etag})


@router.get("/v1/models")
def list_models(db: CentralDb, _: Annotated[str, Depends(caller("read"))]) -> list[dict[str, Any]]:
    return models.listing(db)


@router.post("/v1/models", status_code=201)
def publish(upload: ModelUpload, db: CentralDb, by: Annotated[str, Depends(caller("admin"))]) -> dict[str, Any]:
    created = models.publish(db, upload.version, upload.model_json, upload.metadata, upload.sha256, by)
    return {"version": upload.version, "sha256": upload.sha256, "created": created}


@router.post("/v1/models/{version}/approve")
def approve(version: Annotated[str, Path(max_length=128, pattern=models.VERSION.pattern)], db: CentralDb,
            by: Annotated[str, Depends(caller("admin"))]) -> dict:
    return models.approve(db, version, by)
