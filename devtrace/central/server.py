"""The HTTP API of `devtrace server` (FastAPI). Every route but health needs a bearer token.

Input is hostile by default: bodies are capped before they are read, each event and label
is validated on its own. A database that cannot be reached is a 503 with Retry-After and a
generic reason (never the database's address); a refusal is a 4xx; anything else is a bug:
500, logged, and the client does not retry it.
"""

import asyncio
import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from devtrace import __version__
from devtrace.central import ingest_routes, model_routes, models
from devtrace.central.db import Unavailable
from devtrace.central.lake import routes as lake_routes
from devtrace.central.payloads import BadBatch
from devtrace.errors import DevtraceError

MAX_BODY_BYTES = 8 * 1024 * 1024
DRAIN_BYTES = 64 * 1024 * 1024
BODY_TIMEOUT_SECONDS = 30.0
"""The longest wait for the next part of a request's body."""
DEFAULT_MAX_AGE_DAYS = 365.0
RETRY_AFTER_SECONDS = "5"
UNAVAILABLE = "the central database is unavailable; retry later"
log = logging.getLogger("devtrace.central")


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


def create_app(db, *, max_age_days: float = DEFAULT_MAX_AGE_DAYS, max_body: int = MAX_BODY_BYTES,
               body_timeout: float = BODY_TIMEOUT_SECONDS) -> FastAPI:
    """The service over `db` (an open central database, which the routes share)."""
    # No /docs or /redoc: they would load their scripts from a CDN, and need no token. The
    # OpenAPI document stays at /openapi.json.
    app = FastAPI(title="DevTrace central", version=__version__, docs_url=None, redoc_url=None)
    app.state.db = db
    app.state.max_age_days = max_age_days
    app.add_exception_handler(DevtraceError, _refused)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception
    app.add_exception_handler(models.InvalidModel, _invalid_model)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception
    app.add_exception_handler(models.UnknownVersion, _unknown)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception
    app.add_exception_handler(Unavailable, _unavailable)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception
    app.add_exception_handler(ClientDisconnect, _gone)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception
    app.add_exception_handler(Exception, _failed)
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception
    app.add_exception_handler(BadBatch, _bad_batch)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception
    for router in (ingest_routes.router, model_routes.router, lake_routes.router):
        app.include_router(router)
    app.add_middleware(BodyLimit, limit=max_body, timeout=body_timeout)
    return app


async def _refused(request: Request, exc: DevtraceError):
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _invalid_model(request: Request, exc: models.InvalidModel):
    return JSONResponse({"detail": str(exc)}, status_code=422)


async def _unknown(request: Request, exc: models.UnknownVersion):
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def _unavailable(request: Request, exc: Unavailable):
    log.warning("%s %s: 503, %s", request.method, request.url.path, exc)  # the operator's log, not the caller
    return JSONResponse({"detail": UNAVAILABLE}, status_code=503, headers={"Retry-After": RETRY_AFTER_SECONDS})


async def _gone(request: Request, exc: ClientDisconnect):
    """The client went away mid-request: one line in the log, nothing stored, no answer heard."""
    log.warning("%s %s: the client disconnected before its body arrived", request.method, request.url.path)
    return Response(status_code=499)


async def _failed(request: Request, exc: Exception):
    """A bug: 500, which the client does not retry (Starlette logs the traceback)."""
    return JSONResponse({"detail": "the server failed on this request (a bug, not a temporary failure: "
                                   "its log has the details)"}, status_code=500)


async def _invalid(request: Request, exc: RequestValidationError):
    """FastAPI's 422 without echoing the input (which may not even be encodable)."""
    errors = [{"loc": [_printable(part) for part in e.get("loc", ())], "msg": _printable(e.get("msg", "")),
               "type": e.get("type")} for e in exc.errors()[:20]]
    return JSONResponse({"detail": errors}, status_code=422)


async def _bad_batch(request: Request, exc: BadBatch):
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


def _printable(value):
    return value if isinstance(value, int) else str(value).encode("utf-8", "replace").decode("utf-8")
