"""A deadline for a request's line and headers, which uvicorn does not have.

uvicorn's h11 protocol closes an idle keep-alive connection, but a client that sends part of
a request line or of its headers and then stalls (slowloris) keeps its connection for as
long as it likes: the keep-alive timer is cancelled by the first byte, and a new connection
has no timer at all. `with_header_timeout(seconds)` is uvicorn's h11 protocol with one more
timer: armed when a connection opens and after each response, cancelled when h11 has parsed
the whole request line and headers. When it fires the connection gets a 408 and is closed,
and the log says so in one line. (The body has its own timeout: server.BodyLimit.)
"""

import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_SECONDS = 10.0
log = logging.getLogger("devtrace.central")
_TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
              b"content-length: 0\r\nconnection: close\r\n\r\n")


def with_header_timeout(seconds: float = HEADER_TIMEOUT_SECONDS) -> type[H11Protocol]:
    """uvicorn's h11 protocol class, closing a connection whose next request's headers have
    not all arrived `seconds` after it opened or after its last response (pass as `http=`)."""

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            if self._header_timer is not None and self.conn.their_state is not h11.IDLE:
                self._disarm()  # the request line and headers are in

        def on_response_complete(self) -> None:
            self._arm()  # before the next request's events, which the parent may handle now
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(seconds, self._timed_out)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _timed_out(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self.conn.trailing_data[0] or self.cycle is None:
                # bytes of a request arrived (or none at all on a fresh connection): it stalled
                log.warning("%s: a request's headers did not arrive within %g s (408, closed)",
                            _peer(self.client), seconds)
                self.transport.write(_TIMED_OUT)
            self.transport.close()

    return HeaderTimeoutProtocol


def _peer(client) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"
