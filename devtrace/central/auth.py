"""Who calls the central service: the bearer-token dependencies every route but health uses,
and the database the routes share (kept on the app by create_app)."""

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from devtrace.central import tokens

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def central_db(request: Request):
    """The central database the app was made with (create_app keeps it in app.state)."""
    return request.app.state.db


CentralDb = Annotated[Any, Depends(central_db)]


def caller(scope: str):
    """A dependency that checks the request's token allows `scope` and names its holder
    (401 without a live token, 403 with one of another scope); the token's own scope is kept
    in request.state.scope. A text that cannot be a token is refused before the database."""

    def check(request: Request, db: CentralDb, credentials: Credentials) -> str:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "a bearer token is needed (Authorization: Bearer <token>)",
                                headers={"WWW-Authenticate": "Bearer"})
        found = None
        if tokens.well_formed(credentials.credentials):  # a malformed one never reaches the database
            found = tokens.authenticate(db, credentials.credentials)
        if found is None:
            raise HTTPException(401, "the token is unknown, revoked or expired", headers={"WWW-Authenticate": "Bearer"})
        name, granted = found
        if not tokens.allows(granted, scope):
            raise HTTPException(403, f"this token's scope is {granted}; this needs {scope}")
        request.state.scope = granted
        return name

    return check


def reader(request: Request, db: CentralDb, credentials: Credentials) -> str:
    """The active model is for machines (ingest) and analysts (read) alike."""
    try:
        return caller("ingest")(request, db, credentials)
    except HTTPException as exc:
        if exc.status_code != 403:
            raise
        return caller("read")(request, db, credentials)
