"""A Bearer token server for the rig, after the distribution token authentication spec,
and a docker-registry that trusts it (``auth: token``).

https://distribution.github.io/distribution/spec/auth/token/ : the registry
answers 401 with ``WWW-Authenticate: Bearer realm="…",service="…",scope="…"``;
the client GETs the realm with ``service`` and ``scope`` (and basic credentials),
and the server answers ``{"token": JWT, "access_token": JWT, "expires_in": …}``.
The JWT (RS256) carries ``iss``, ``sub``, ``aud`` (the service), ``exp``/``nbf``/
``iat``, ``jti`` and ``access`` (granted actions per repository); its header holds
the signing certificate in ``x5c``, which the registry checks against its
``rootcertbundle``. Signing uses the ``openssl`` command (no Python crypto
library on this machine): RS256 is PKCS#1 v1.5 over SHA-256, which
``openssl dgst -sha256 -sign`` produces as-is.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rig.registry import Registry, _run

__all__ = ["TokenServer", "TokenRegistry"]

SERVICE = "ctrops-rig-registry"
ISSUER = "ctrops-rig-token-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A token endpoint on 127.0.0.1 for one user; records who asked for what.

    Over HTTPS with ``tls=(cert, key)`` (a realm clients may send credentials to), else plain HTTP.
    """

    def __init__(self, workdir: str, username: str, password: str, tls: tuple[str, str] | None = None):
        self.workdir = os.path.abspath(workdir)
        self.username = username
        self.password = password
        self.key = os.path.join(self.workdir, "token.key")
        self.cert = os.path.join(self.workdir, "token.crt")
        self.requests: list[dict] = []
        # Repositories for which push is never granted (a read-only project on Harbor-like registries).
        self.read_only: set[str] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.realm: str | None = None
        self.tls = tls

    def start(self) -> "TokenServer":
        os.makedirs(self.workdir, exist_ok=True)
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", self.cert,
              "-days", "7", "-subj", "/CN=ctrops rig token signer"])
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"], capture_output=True,
                             check=True).stdout
        self._x5c = base64.b64encode(der).decode()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server._handle(self)

            def do_POST(self):
                server._handle_oauth(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.realm = "%s://127.0.0.1:%d/token" % (scheme, self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- the token endpoint --------------------------------------------------------

    def _credentials(self, header: str | None):
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return ("", "")
        return user, password

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlparse(handler.path)
        if url.path != "/token":
            handler.send_error(404)
            return
        query = urllib.parse.parse_qs(url.query)
        scopes = query.get("scope", [])
        creds = self._credentials(handler.headers.get("Authorization"))
        self.requests.append({"service": query.get("service", [None])[0], "scopes": scopes,
                              "user": creds[0] if creds else None,
                              "authorization": handler.headers.get("Authorization")})
        if creds is not None and creds != (self.username, self.password):
            self._reply(handler, 401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]})
            return
        access = self._access(scopes) if creds is not None else []
        token = self.issue(creds[0] if creds else "", query.get("service", [SERVICE])[0], access)
        self._reply(handler, 200, {"token": token, "access_token": token, "expires_in": 300,
                                   "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    def _handle_oauth(self, handler: BaseHTTPRequestHandler) -> None:
        """The OAuth2 password grant of the spec (token/oauth), which containerd tries first with credentials."""
        length = int(handler.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(handler.rfile.read(length).decode())

        def field(name):
            return form.get(name, [""])[0]
        scopes = " ".join(form.get("scope", [])).split()
        self.requests.append({"service": field("service"), "scopes": scopes, "user": field("username"),
                              "grant_type": field("grant_type")})
        if field("grant_type") != "password":
            self._reply(handler, 400, {"error": "unsupported_grant_type"})
            return
        if (field("username"), field("password")) != (self.username, self.password):
            self._reply(handler, 401, {"error": "invalid_grant"})
            return
        token = self.issue(field("username"), field("service") or SERVICE, self._access(scopes))
        self._reply(handler, 200, {"access_token": token, "scope": " ".join(scopes), "expires_in": 300,
                                   "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    def _access(self, scopes):
        access = []
        for scope in scopes:
            kind, _sep, rest = scope.partition(":")
            name, _sep, actions = rest.rpartition(":")
            if kind == "repository" and name:
                allowed = ("pull",) if name in self.read_only else ("pull", "push")
                access.append({"type": kind, "name": name,
                               "actions": [a for a in actions.split(",") if a in allowed]})
        return access

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def issue(self, subject: str, audience: str, access: list[dict]) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self._x5c]}
        claims = {"iss": ISSUER, "sub": subject, "aud": audience, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": secrets.token_hex(12), "access": access}
        signing_input = "%s.%s" % (_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()))
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing_input.encode(),
                                   capture_output=True, check=True).stdout
        return signing_input + "." + _b64url(signature)


class TokenRegistry(Registry):
    """docker-registry over TLS (the rig's CA) that accepts only Bearer tokens of a TokenServer.

    The token server serves HTTPS with the registry's certificate (its realm is an https URL);
    ``plain_realm=True`` serves it over plain HTTP instead, a realm clients must not send credentials to.
    """

    def __init__(self, workdir: str, plain_realm: bool = False):
        super().__init__(workdir, "tls")
        self.flavour = "token"
        self.username = "pusher"
        self.password = secrets.token_urlsafe(18)
        self.plain_realm = plain_realm
        self.token_server = TokenServer(os.path.join(self.workdir, "token"), self.username, self.password)

    def start(self, attempts: int = 3) -> "TokenRegistry":
        if self.token_server.realm is None:
            self._prepare_security()
            if not self.plain_realm:
                self.token_server.tls = self.server_cert()
            self.token_server.start()
        super().start(attempts)
        return self

    def stop(self) -> None:
        super().stop()
        self.token_server.stop()

    def _config(self) -> dict:
        config = super()._config()
        config["auth"] = {"token": {"realm": self.token_server.realm, "service": SERVICE, "issuer": ISSUER,
                                    "rootcertbundle": self.token_server.cert}}
        return config
