"""Small HTTP(S) servers on 127.0.0.1 that play a misbehaving registry for the tests.

A ``StubServer`` answers every request with what its ``respond`` function
returns and records each request's method, path and headers, so a test can
prove which headers arrived (or never arrived) there. Helpers give the usual
answers: a redirect elsewhere, a status with a registry error body, a Bearer
challenge naming some realm. Servers run in a thread of the test process;
``stop()`` (or leaving the ``with`` block) closes the listener, also on failure.
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["StubServer", "redirect", "status", "bearer_challenge"]


class StubServer:
    """One listener on 127.0.0.1 (HTTPS with ``tls=(cert, key)``), answering with ``respond(request)``.

    ``respond`` gets a dict (method, path, headers) and returns (status, headers, body bytes);
    by default it answers 200 with a manifest digest header, as a registry's HEAD would.
    """

    def __init__(self, respond=None, tls: tuple[str, str] | None = None):
        self.respond = respond or (lambda request: (200, {"Docker-Content-Digest": "sha256:" + "0" * 64}, b""))
        self.tls = tls
        self.requests: list[dict] = []
        self._server: ThreadingHTTPServer | None = None
        self.url: str | None = None
        self.host: str | None = None

    def start(self) -> "StubServer":
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                request = {"method": self.command, "path": self.path, "headers": dict(self.headers.items())}
                stub.requests.append(request)
                code, headers, body = stub.respond(request)
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.host = "127.0.0.1:%d" % self._server.server_address[1]
        self.url = "%s://%s" % (scheme, self.host)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "StubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def authorizations(self) -> list[str]:
        """Every Authorization header this server received."""
        return [value for request in self.requests for key, value in request["headers"].items()
                if key.lower() == "authorization"]


def redirect(target_url: str, code: int = 307):
    """Answer every request with a redirect to ``target_url`` + the request's path."""
    return lambda request: (code, {"Location": target_url + request["path"]}, b"")


def status(code: int, error: str = "UNKNOWN"):
    """Answer every request with ``code`` and a registry error body."""
    body = json.dumps({"errors": [{"code": error, "message": "stub"}]}).encode()
    return lambda request: (code, {"Content-Type": "application/json"}, body)


def bearer_challenge(realm: str, then=None):
    """401 with a Bearer challenge naming ``realm`` until a request carries a Bearer token; then ``then``."""
    def respond(request):
        auth = request["headers"].get("Authorization", "")
        if auth.startswith("Bearer ") and then is not None:
            return then(request)
        return (401, {"WWW-Authenticate": 'Bearer realm="%s",service="stub",scope="repository:x/y:pull"' % realm},
                b"")
    return respond
