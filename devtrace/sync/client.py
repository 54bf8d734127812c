"""Talking to `devtrace server` (standard library HTTP): retries what can be retried.

A dropped connection, a timeout, a 429, 502, 503 or 504 is tried again (waiting what
Retry-After says, else backing off) up to a bound; any other answer is final and becomes one
sentence (a 500 is a bug on the server: retrying would only repeat it).

The token goes only to the server's origin: a redirect to another scheme, host or port is
followed without it.
"""

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from devtrace.errors import DevtraceError

ATTEMPTS = 7
BACKOFF = (0.5, 1, 2, 4, 8, 15)
MAX_RETRY_AFTER = 60.0
TEMPORARY = (429, 502, 503, 504)


class Refused(DevtraceError):
    """A final answer (4xx, 500): not retried."""

    def __init__(self, status: int, sentence: str):
        super().__init__(sentence)
        self.status = status


class Client:
    def __init__(self, server: str, token: str | None, *, timeout: float = 120.0, attempts: int = ATTEMPTS,
                 sleep=time.sleep):
        if not server.startswith(("http://", "https://")):
            raise DevtraceError(f"the server address must start with http:// or https:// (got {server!r})")
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.attempts = attempts
        self.sleep = sleep

    def call(self, method: str, route: str, body: dict | None = None, headers: dict | None = None):
        """(status, response headers, parsed JSON or None) of a 2xx or 304 answer."""
        data = json.dumps(body, allow_nan=False).encode() if body is not None else None
        last = ""
        for attempt in range(self.attempts):
            wait = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            try:
                return self._once(method, route, data, headers or {})
            except urllib.error.HTTPError as exc:
                detail = _detail(exc)
                if exc.code == 304:
                    return 304, exc.headers, None
                if exc.code in TEMPORARY:
                    last = f"{exc.code} {detail}"
                    wait = _retry_after(exc.headers.get("Retry-After"), wait)
                else:
                    raise Refused(exc.code, _refusal(exc.code, detail, self.server)) from None  # final: not retried
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                last = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
            if attempt + 1 < self.attempts:
                self.sleep(wait)
        raise DevtraceError(f"the server at {self.server} did not answer after {self.attempts} attempts "
                            f"(last: {last}); nothing was lost, run the command again later")

    def _once(self, method: str, route: str, data: bytes | None, headers: dict):
        request = urllib.request.Request(self.server + route, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:  # unredirected: _SameOrigin decides whether a redirect carries it
            request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        for name, value in headers.items():
            request.add_header(name, value)
        with _OPENER.open(request, timeout=self.timeout) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    """Follows redirects, with the token only where scheme, host and port stay the same."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        token = req.unredirected_hdrs.get("Authorization")
        if new is not None and token and _origin(req.full_url) == _origin(new.full_url):
            new.add_unredirected_header("Authorization", token)
        return new


_OPENER = urllib.request.build_opener(_SameOrigin)


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"null")
    except (ValueError, OSError, http.client.HTTPException):
        return exc.reason or ""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # FastAPI's validation errors
        detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail[:3])
    return str(detail or exc.reason or "")


def _refusal(status: int, detail: str, server: str) -> str:
    if status == 401:
        return f"the server at {server} refused the token ({detail}); log in again with `devtrace sync login`"
    if status == 403:
        return f"the server at {server} refused: {detail}"
    if status >= 500:
        return f"the server at {server} failed ({status}: {detail}); nothing was marked as sent"
    return f"the server at {server} refused the request ({status}: {detail})"


def _retry_after(value: str | None, default: float) -> float:
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value else default
    except ValueError:
        return default
