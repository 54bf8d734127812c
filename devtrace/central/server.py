"""The HTTP API of `devtrace server` (FastAPI). Every route but health needs a bearer token.

Input is hostile by default: bodies are capped before they are read, each event and label
is validated on its own, and a database failure is a 503 the client retries, never a 500.
"""

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from devtrace import __version__
from devtrace.central import ingest_routes, model_routes
from devtrace.central.lake import routes as lake_routes
from devtrace.central.payloads import BadBatch
from devtrace.errors import DevtraceError

MAX_BODY_BYTES = 8 * 1024 * 1024
DRAIN_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_AGE_DAYS = 365.0


class BodyLimit:
    """Refuses a body over `limit` bytes with 413, by its Content-Length or while it streams.

    The rest of a refused body is read and dropped (up to DRAIN_BYTES), so that the client,
    still sending, gets the 413 instead of a broken pipe."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

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
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _drain(receive, seen)
            await _too_large(self.limit, send)


class _BodyTooLarge(Exception):
    pass


async def _drain(receive, seen: int = 0) -> None:
    while seen <= DRAIN_BYTES:
        message = await receive()
        seen += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _too_large(limit: int, send) -> None:
    body = json.dumps({"detail": f"the body is larger than {limit} bytes: send smaller batches"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(db, *, max_age_days: float = DEFAULT_MAX_AGE_DAYS, max_body: int = MAX_BODY_BYTES) -> FastAPI:
    """The service over `db` (an open central database, which the routes share)."""
    app = FastAPI(title="DevTrace central", version=__version__)
    app.state.db = db
    app.state.max_age_days = max_age_days
    app.add_exception_handler(DevtraceError, _refused)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception
    app.add_exception_handler(Exception, _unavailable)
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception
    app.add_exception_handler(BadBatch, _bad_batch)  # type: ignore[arg-type]  # Starlette types a handler's exception as Exception
    for router in (ingest_routes.router, model_routes.router, lake_routes.router):
        app.include_router(router)
    app.add_middleware(BodyLimit, limit=max_body)
    return app


async def _refused(request: Request, exc: DevtraceError):
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _unavailable(request: Request, exc: Exception):
    return JSONResponse({"detail": f"the central database is unavailable ({type(exc).__name__}); retry later"},
                        status_code=503, headers={"Retry-After": "2"})


async def _invalid(request: Request, exc: RequestValidationError):
    """FastAPI's 422 without echoing the input (which may not even be encodable)."""
    errors = [{"loc": [_printable(part) for part in e.get("loc", ())], "msg": _printable(e.get("msg", "")),
               "type": e.get("type")} for e in exc.errors()[:20]]
    return JSONResponse({"detail": errors}, status_code=422)


async def _bad_batch(request: Request, exc: BadBatch):
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


def _printable(value):
    return value if isinstance(value, int) else str(value).encode("utf-8", "replace").decode("utf-8")
