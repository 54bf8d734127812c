"""The HTTP API of `devtrace server` (FastAPI). Every route but health needs a bearer token.

Input is hostile by default: bodies are capped before they are read, each event and label
is validated on its own. A database that cannot be reached is a 503 with Retry-After and a
generic reason (never the database's address); a refusal is a 4xx; anything else is a bug:
500, logged, and the client does not retry it.
"""

import asyncio
import json
import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from devtrace import __version__
from devtrace.central import ingest, keys, models, tokens
from devtrace.central.db import Unavailable
from devtrace.central.lake import routes as lake_routes
from devtrace.central.payloads import BadBatch, BatchResult, EventBatch, LabelBatch, parse_batch, text
from devtrace.errors import DevtraceError

MAX_BODY_BYTES = 8 * 1024 * 1024
DRAIN_BYTES = 64 * 1024 * 1024
BODY_TIMEOUT_SECONDS = 30.0
"""The longest wait for the next part of a request's body."""
DEFAULT_MAX_AGE_DAYS = 365.0
RETRY_AFTER_SECONDS = "5"
UNAVAILABLE = "the central database is unavailable; retry later"
log = logging.getLogger("devtrace.central")


class Enrollment(BaseModel):
    machine: str
    hash_key: str
    key_fingerprint: str


class ModelUpload(BaseModel):
    version: Annotated[str, Field(max_length=128, pattern=models.VERSION.pattern)]
    model_json: text(64 * 1024 * 1024)
    metadata: dict[str, Any]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class BodyLimit:
    """Refuses a body over `limit` bytes with 413, by its Content-Length or while it streams,
    and a body that stops arriving for `timeout` seconds with 408 (a client that opens
    requests and never finishes them holds no worker for long).

    The rest of a refused body is read and dropped (up to DRAIN_BYTES), so that the client,
    still sending, gets the 413 instead of a broken pipe."""

    def __init__(self, app, limit: int, timeout: float = BODY_TIMEOUT_SECONDS):
        self.app, self.limit, self.timeout = app, limit, timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            if length.isdigit() and int(length) <= DRAIN_BYTES:
                await _drain(receive)
            return await _too_large(self.limit, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimeout from None
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _drain(receive, seen)
            await _too_large(self.limit, send)
        except _BodyTimeout:
            log.warning("%s %s: the body stopped arriving for %g s (408)", scope["method"], scope["path"], self.timeout)
            await _answer(send, 408, f"the body did not arrive within {self.timeout:g} s", close=True)


class _BodyTimeout(Exception):
    pass


class _BodyTooLarge(Exception):
    pass


async def _drain(receive, seen: int = 0) -> None:
    while seen <= DRAIN_BYTES:
        message = await receive()
        seen += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _too_large(limit: int, send) -> None:
    await _answer(send, 413, f"the body is larger than {limit} bytes: send smaller batches")


async def _answer(send, status: int, detail: str, *, close: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": headers + ([(b"connection", b"close")] if close else [])})
    await send({"type": "http.response.body", "body": body})


def _printable(value):
    return value if isinstance(value, int) else str(value).encode("utf-8", "replace").decode("utf-8")


def _body(model) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def create_app(db, *, max_age_days: float = DEFAULT_MAX_AGE_DAYS, max_body: int = MAX_BODY_BYTES,
               body_timeout: float = BODY_TIMEOUT_SECONDS) -> FastAPI:
    # No /docs or /redoc: they would load their scripts from a CDN, and need no token. The
    # OpenAPI document stays at /openapi.json.
    app = FastAPI(title="DevTrace central", version=__version__, docs_url=None, redoc_url=None)
    bearer = HTTPBearer(auto_error=False)

    def caller(scope: str):
        def check(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise HTTPException(401, "a bearer token is needed (Authorization: Bearer <token>)",
                                    headers={"WWW-Authenticate": "Bearer"})
            found = None
            if tokens.well_formed(credentials.credentials):  # a malformed one never reaches the database
                with db.transaction(write=False) as tx:
                    found = tokens.authenticate(tx, credentials.credentials)
            if found is None:
                raise HTTPException(401, "the token is unknown, revoked or expired", headers={"WWW-Authenticate": "Bearer"})
            name, granted = found
            if not tokens.allows(granted, scope):
                raise HTTPException(403, f"this token's scope is {granted}; this needs {scope}")
            request.state.scope = granted
            return name

        return check

    def reader(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        """The active model is for machines (ingest) and analysts (read) alike."""
        try:
            return caller("ingest")(request, credentials)
        except HTTPException as exc:
            if exc.status_code != 403:
                raise
            return caller("read")(request, credentials)

    @app.exception_handler(DevtraceError)
    async def refused(request: Request, exc: DevtraceError):
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(models.InvalidModel)
    async def invalid_model(request: Request, exc: models.InvalidModel):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(models.UnknownVersion)
    async def unknown(request: Request, exc: models.UnknownVersion):
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable):
        log.warning("%s %s: 503, %s", request.method, request.url.path, exc)  # the operator's log, not the caller
        return JSONResponse({"detail": UNAVAILABLE}, status_code=503, headers={"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect):
        """The client went away mid-request: one line in the log, nothing stored, no answer heard."""
        log.warning("%s %s: the client disconnected before its body arrived", request.method, request.url.path)
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception):
        """A bug: 500, which the client does not retry (Starlette logs the traceback)."""
        return JSONResponse({"detail": "the server failed on this request (a bug, not a temporary failure: "
                                       "its log has the details)"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        """FastAPI's 422 without echoing the input (which may not even be encodable)."""
        errors = [{"loc": [_printable(part) for part in e.get("loc", ())], "msg": _printable(e.get("msg", "")),
                   "type": e.get("type")} for e in exc.errors()[:20]]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(BadBatch)
    async def bad_batch(request: Request, exc: BadBatch):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    def receive(kind: str, machine: str, body: bytes, scope: str) -> BatchResult:
        valid, rejected = parse_batch(body, kind)
        if kind == "events":
            return BatchResult(**ingest.store_events(db, machine, valid, rejected, max_age_days))
        return BatchResult(**ingest.store_labels(db, machine, valid, rejected, max_age_days, any_machine=scope == "admin"))

    @app.get("/v1/health", responses={503: {"description": "The database cannot be reached"}})
    def health():
        """Whether the service and its database answer (no token needed, nothing named)."""
        try:
            with db.transaction(write=False) as tx:
                tx.execute("SELECT 1")
        except Unavailable:
            return JSONResponse({"status": "unavailable", "database": "unavailable", "version": __version__},
                                status_code=503, headers={"Retry-After": RETRY_AFTER_SECONDS})
        return {"status": "ok", "database": "ok", "version": __version__}

    @app.post("/v1/enroll")
    def enroll(machine: Annotated[str, Depends(caller("ingest"))]) -> Enrollment:
        """The organisation's hash key, so this machine's command hashes match everyone's."""
        with db.transaction(write=False) as tx:
            key, fingerprint = keys.current_key(tx)
        return Enrollment(machine=machine, hash_key=key, key_fingerprint=fingerprint)

    # The bodies are read as bytes and validated by parse_batch (see payloads); the schema
    # is declared for the OpenAPI document.
    @app.post("/v1/telemetry/batch", openapi_extra=_body(EventBatch))
    async def telemetry(request: Request, machine: Annotated[str, Depends(caller("ingest"))]) -> BatchResult:
        return await run_in_threadpool(receive, "events", machine, await request.body(), request.state.scope)

    @app.post("/v1/labels/batch", openapi_extra=_body(LabelBatch))
    async def labels(request: Request, machine: Annotated[str, Depends(caller("ingest"))]) -> BatchResult:
        """Labels of this token's machine's events (an admin token's: of any machine's), each
        attributed to the token (`machine`); `labeled_by` is what the client says."""
        return await run_in_threadpool(receive, "labels", machine, await request.body(), request.state.scope)

    @app.get("/v1/model/active", responses={304: {"description": "Not modified"}, 404: {"description": "None approved"}})
    def active_model(request: Request, _: Annotated[str, Depends(reader)]):
        """The approved model's version, sha256 and metadata (ETag: its sha256)."""
        return _active(request, with_model=False)

    @app.get("/v1/model/active/download", responses={304: {"description": "Not modified"}})
    def active_model_download(request: Request, _: Annotated[str, Depends(reader)]):
        """The same with model.json's text; If-None-Match with the sha256 held downloads nothing."""
        return _active(request, with_model=True)

    def _active(request: Request, *, with_model: bool):
        found = models.active(db, with_model=with_model)
        if found is None:
            raise HTTPException(404, "no model has been approved yet (devtrace server models approve VERSION)")
        etag = f'"{found["sha256"]}"'
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers={"ETag": etag})
        return JSONResponse(found, headers={"ETag": etag})

    @app.get("/v1/models")
    def list_models(_: Annotated[str, Depends(caller("read"))]) -> list[dict[str, Any]]:
        return models.listing(db)

    @app.post("/v1/models", status_code=201)
    def publish(upload: ModelUpload, by: Annotated[str, Depends(caller("admin"))]) -> dict[str, Any]:
        created = models.publish(db, upload.version, upload.model_json, upload.metadata, upload.sha256, by)
        return {"version": upload.version, "sha256": upload.sha256, "created": created}

    @app.post("/v1/models/{version}/approve")
    def approve(version: Annotated[str, Path(max_length=128, pattern=models.VERSION.pattern)], by: Annotated[str, Depends(caller("admin"))]) -> dict:
        return models.approve(db, version, by)

    lake_routes.add_routes(app, db, caller)
    app.add_middleware(BodyLimit, limit=max_body, timeout=body_timeout)
    return app
