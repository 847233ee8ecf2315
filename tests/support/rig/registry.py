"""A real OCI registry for the tests: Debian's docker-registry on 127.0.0.1.

Three flavours cover what the modules must handle: plain HTTP, TLS with a CA
made at test time, and TLS with htpasswd basic auth; a fourth, ``mtls``, asks
every client for a certificate signed by the rig's CA (mutual TLS).  Each registry also
writes a containerd ``certs.d`` style hosts directory so ``ctr --hosts-dir``
(and containerd's ``config_path``) reach it without ``--plain-http`` or
``--skip-verify``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

__all__ = ["Registry", "RegistryError", "free_port", "FLAVOURS", "REGISTRY_BIN"]

REGISTRY_BIN = "/usr/bin/docker-registry"
FLAVOURS = ("http", "tls", "auth")
# Flavours started on demand only (not seeded by the tests' session registries).
EXTRA_FLAVOURS = ("mtls",)
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class RegistryError(RuntimeError):
    """The registry could not be prepared or did not come up."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(cmd: list[str], *, stdin: str | None = None, cwd: str | None = None) -> None:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=cwd, timeout=60, check=False)
    if proc.returncode != 0:
        raise RegistryError(f"{cmd[0]} {cmd[1] if len(cmd) > 1 else ''} failed (rc={proc.returncode}): "
                            f"{proc.stderr.strip()[-1000:]}")


def _make_ca(tls_dir: str, ca_dir: str, names: tuple[str, ...] = ()) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost and ``names``.

    ``names`` are extra DNS names, for example the name a VM gives the host.

    The CA certificate goes alone into its own directory because skopeo's
    ``--dest-cert-dir`` treats every ``*.key`` there as a client key.
    Returns (ca_cert, server_cert, server_key).
    """
    os.makedirs(tls_dir, exist_ok=True)
    os.makedirs(ca_dir, exist_ok=True)
    ca_key = os.path.join(tls_dir, "ca.key")
    ca_cert = os.path.join(ca_dir, "ca.crt")
    key = os.path.join(tls_dir, "server.key")
    csr = os.path.join(tls_dir, "server.csr")
    cert = os.path.join(tls_dir, "server.crt")
    ext = os.path.join(tls_dir, "server.ext")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert, "-days", "7",
          "-subj", "/CN=ctrops rig CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    _run(["openssl", "req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"])
    with open(ext, "w") as fh:
        alt = ["IP:127.0.0.1", "DNS:localhost"] + ["DNS:" + name for name in names]
        fh.write("subjectAltName=" + ",".join(alt) + "\n"
                 "basicConstraints=CA:FALSE\n"
                 "keyUsage=critical,digitalSignature,keyEncipherment\n"
                 "extendedKeyUsage=serverAuth\n")
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
          "-set_serial", "0x" + secrets.token_hex(8), "-days", "7", "-extfile", ext, "-out", cert])
    return ca_cert, cert, key


def _make_client_cert(tls_dir: str, ca_cert: str) -> tuple[str, str]:
    """A client certificate (clientAuth) signed by the CA of ``_make_ca``; returns (cert, key)."""
    ca_key = os.path.join(tls_dir, "ca.key")
    key = os.path.join(tls_dir, "client.key")
    csr = os.path.join(tls_dir, "client.csr")
    cert = os.path.join(tls_dir, "client.crt")
    ext = os.path.join(tls_dir, "client.ext")
    _run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", key, "-out", csr, "-subj", "/CN=ctrops rig client"])
    with open(ext, "w") as fh:
        fh.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
          "-set_serial", "0x" + secrets.token_hex(8), "-days", "7", "-extfile", ext, "-out", cert])
    return cert, key


class Registry:
    """One docker-registry process with its storage, certificates and hosts directory.

    Everything lives under ``workdir``; ``stop()`` only ends the process this
    object started and leaves the files for post-mortem inspection.
    """

    def __init__(self, workdir: str, flavour: str = "http", names: tuple[str, ...] = ()):
        if flavour not in FLAVOURS + EXTRA_FLAVOURS:
            raise ValueError(f"unknown registry flavour {flavour!r}; expected one of {FLAVOURS + EXTRA_FLAVOURS}")
        self.workdir = os.path.abspath(workdir)
        self.flavour = flavour
        self.names = tuple(names)
        self.plain_http = flavour == "http"
        self.port: int | None = None
        self.host: str | None = None
        self.url: str | None = None
        self.ca_cert: str | None = None
        # mtls: the client certificate and key the registry accepts (signed by the rig's CA).
        self.client_cert: str | None = None
        self.client_key: str | None = None
        self.username: str | None = "rig" if flavour == "auth" else None
        self.password: str | None = secrets.token_urlsafe(18) if flavour == "auth" else None
        self.hosts_dir = os.path.join(self.workdir, "hosts.d")
        self.config_path = os.path.join(self.workdir, "config.yml")
        self.log_path = os.path.join(self.workdir, "registry.log")
        self.storage_dir = os.path.join(self.workdir, "storage")
        self.process: subprocess.Popen | None = None
        self._cert: str | None = None
        self._key: str | None = None
        self._htpasswd: str | None = None

    def __repr__(self) -> str:
        return f"Registry(flavour={self.flavour!r}, url={self.url!r}, pid={self.pid})"

    def __enter__(self) -> "Registry":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def scheme(self) -> str:
        return "http" if self.plain_http else "https"

    def start(self, attempts: int = 3) -> "Registry":
        """Prepare files and start the registry; retry on a port lost to another process."""
        if self.process and self.process.poll() is None:
            return self
        os.makedirs(self.storage_dir, exist_ok=True)
        self._prepare_security()
        last: Exception | None = None
        for _attempt in range(attempts):
            self._set_port(free_port())
            self._write_config()
            self._write_hosts_dir()
            try:
                self._spawn_and_wait()
                return self
            except RegistryError as err:
                last = err
                self.stop()
                if "address already in use" not in str(err):
                    break
        raise last

    def stop(self) -> None:
        """SIGTERM the registry's process group, then SIGKILL if it lingers. Safe to call twice."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(timeout=STOP_TIMEOUT)
        if getattr(proc, "_rig_log", None):
            proc._rig_log.close()

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    def _set_port(self, port: int) -> None:
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.url = f"{self.scheme}://{self.host}"

    def _prepare_security(self) -> None:
        if self.plain_http or self._cert:
            return
        self.ca_cert, self._cert, self._key = _make_ca(os.path.join(self.workdir, "tls"),
                                                       os.path.join(self.workdir, "ca"), self.names)
        if self.flavour == "mtls":
            self.client_cert, self.client_key = _make_client_cert(os.path.join(self.workdir, "tls"), self.ca_cert)
        if self.flavour == "auth":
            self._htpasswd = os.path.join(self.workdir, "htpasswd")
            _run(["htpasswd", "-B", "-i", "-c", self._htpasswd, self.username], stdin=self.password + "\n")

    def _config(self) -> dict:
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": self.storage_dir},
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
            },
            "http": {"addr": self.host, "secret": secrets.token_hex(16),
                     "headers": {"X-Content-Type-Options": ["nosniff"]}},
        }
        if not self.plain_http:
            config["http"]["tls"] = {"certificate": self._cert, "key": self._key}
        if self.flavour == "mtls":
            config["http"]["tls"]["clientcas"] = [self.ca_cert]
        if self._htpasswd:
            config["auth"] = {"htpasswd": {"realm": "ctrops-rig", "path": self._htpasswd}}
        return config

    def _write_config(self) -> None:
        """config.yml written as JSON, which YAML reads as-is and needs no quoting rules."""
        with open(self.config_path, "w") as fh:
            json.dump(self._config(), fh, indent=2)

    def _write_hosts_dir(self) -> None:
        """certs.d layout: ``<hosts_dir>/<host:port>/hosts.toml`` for this registry only.

        ``ca`` and ``capabilities`` are repeated at the top level because
        containerd 1.6 turns ``server`` into a host entry of its own, tried
        after the ``[host]`` table, and without them it fails with x509 errors
        that hide the real answer (for example a 401).
        """
        if os.path.isdir(self.hosts_dir):
            for name in os.listdir(self.hosts_dir):
                old = os.path.join(self.hosts_dir, name, "hosts.toml")
                if os.path.exists(old):
                    os.unlink(old)
                    os.rmdir(os.path.dirname(old))
        host_dir = os.path.join(self.hosts_dir, self.host)
        os.makedirs(host_dir, exist_ok=True)
        settings = ['capabilities = ["pull", "resolve", "push"]']
        if self.ca_cert:
            settings.append(f'ca = "{self.ca_cert}"')
        lines = [f'server = "{self.url}"', *settings, "", f'[host."{self.url}"]', *("  " + s for s in settings)]
        with open(os.path.join(host_dir, "hosts.toml"), "w") as fh:
            fh.write("\n".join(lines) + "\n")

    def _spawn_and_wait(self) -> None:
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen([REGISTRY_BIN, "serve", self.config_path], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
                                            start_new_session=True)
        except BaseException:
            log.close()
            raise
        self.process._rig_log = log
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RegistryError(f"docker-registry exited with {self.process.returncode}; log tail:\n"
                                    f"{self.log_tail()}")
            if self.ping() is not None:
                return
            time.sleep(0.1)
        raise RegistryError(f"docker-registry did not answer on {self.url}/v2/ within {START_TIMEOUT}s; "
                            f"log tail:\n{self.log_tail()}")

    def ping(self) -> int | None:
        """HTTP status of ``GET /v2/`` without credentials (200, or 401 for auth), None if unreachable."""
        context = None if self.plain_http else ssl.create_default_context(cafile=self.ca_cert)
        if self.client_cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        try:
            with urllib.request.urlopen(f"{self.url}/v2/", timeout=2, context=context) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code
        except (urllib.error.URLError, OSError):
            return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return b"\n".join(fh.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def server_cert(self) -> tuple[str, str]:
        """(certificate, key) of this registry's server certificate, for other rig servers on 127.0.0.1."""
        return self._cert, self._key

    def ref(self, repo_tag: str) -> str:
        """A full image reference on this registry, e.g. ``127.0.0.1:5000/rig/busybox:1``."""
        return f"{self.host}/{repo_tag}"
