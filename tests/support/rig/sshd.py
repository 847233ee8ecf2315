"""An OpenSSH server of the rig's own on 127.0.0.1, for code paths that reach a host over SSH.

It runs from Debian's ``openssh-server`` package (installed by ``make setup``, never as a
service) with a configuration, host key and client key made in its own directory, so no
system SSH setting is read or changed. Only key authentication for the current user is
allowed; ``ssh_config`` is a client configuration file that trusts exactly this server
(``ssh -F <ssh_config> 127.0.0.1``). stop() ends the daemon and its session processes by
PID and removes the directory.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from rig.registry import free_port

__all__ = ["Sshd", "SSHD_BIN"]

SSHD_BIN = "/usr/sbin/sshd"
START_TIMEOUT = 15.0

SSHD_CONFIG = """\
ListenAddress 127.0.0.1
Port {port}
HostKey {dir}/host_ed25519
AuthorizedKeysFile {dir}/authorized_keys
PidFile {dir}/sshd.pid
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {user}
StrictModes no
UsePAM no
# One multiplexed client connection carries many sessions at once (Ansible forks).
MaxSessions 64
MaxStartups 64
LogLevel VERBOSE
Subsystem sftp internal-sftp
"""

CLIENT_CONFIG = """\
Host {host}
  Port {port}
  User {user}
  IdentityFile {dir}/client_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile {dir}/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
"""


def _children(pid: int) -> list[int]:
    """PIDs of the descendants of ``pid`` (sshd forks one process per connection, and sessions below)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Sshd:
    """One sshd on 127.0.0.1:<free port> that lets the current user in with a key made for the session."""

    def __init__(self, workdir: str | None = None):
        self.workdir = workdir
        self._own_workdir = workdir is None
        self.host = "127.0.0.1"
        self.port = None
        self.user = getpass.getuser()
        self.process = None

    @property
    def key(self) -> str:
        """The client's private key."""
        return os.path.join(self.workdir, "client_ed25519")

    @property
    def ssh_config(self) -> str:
        """A client configuration (for ``ssh -F``) with port, user, key and this server's host key."""
        return os.path.join(self.workdir, "ssh_config")

    @property
    def ssh_args(self) -> list[str]:
        """Arguments that make a plain ``ssh`` client reach this server."""
        return ["-F", self.ssh_config]

    def _keygen(self, path: str) -> None:
        for old in (path, path + ".pub"):  # a directory reused from an earlier start
            if os.path.exists(old):
                os.unlink(old)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ctrops-rig", "-f", path],
                       check=True, capture_output=True)

    def start(self) -> "Sshd":
        if not os.access(SSHD_BIN, os.X_OK):
            raise RuntimeError("%s is missing: run `make setup` (Debian's openssh-server)" % SSHD_BIN)
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="ctrops-rig-sshd-")
        os.makedirs(self.workdir, exist_ok=True)
        os.chmod(self.workdir, 0o700)
        self._keygen(os.path.join(self.workdir, "host_ed25519"))
        self._keygen(self.key)
        shutil.copy(self.key + ".pub", os.path.join(self.workdir, "authorized_keys"))
        # sshd insists on its privilege separation directory (the package's service would make it).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.port = free_port()
        config = os.path.join(self.workdir, "sshd_config")
        with open(config, "w") as handle:
            handle.write(SSHD_CONFIG.format(port=self.port, dir=self.workdir, user=self.user))
        with open(os.path.join(self.workdir, "host_ed25519.pub")) as handle:
            host_key = " ".join(handle.read().split()[:2])
        with open(os.path.join(self.workdir, "known_hosts"), "w") as handle:
            handle.write("[%s]:%d %s\n" % (self.host, self.port, host_key))
        with open(self.ssh_config, "w") as handle:
            handle.write(CLIENT_CONFIG.format(host=self.host, port=self.port, user=self.user, dir=self.workdir))
        self.log_path = os.path.join(self.workdir, "sshd.log")
        with open(self.log_path, "ab") as log:
            # -D: stay in the foreground (our child, stopped by PID); -e: log to stderr, i.e. the log file.
            self.process = subprocess.Popen([SSHD_BIN, "-D", "-e", "-f", config], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not come up on %s:%s; log tail:\n%s" % (self.host, self.port, self.log_tail()))

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def run(self, *command: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a command on this server as the rig's client does (the test's own view)."""
        return subprocess.run(["ssh", *self.ssh_args, self.host, "--", *command], input=input,
                              capture_output=True, timeout=timeout, check=False)

    def stop(self) -> None:
        """End the daemon and its connections' processes (by PID), then remove the directory. Safe twice."""
        if self.process is not None:
            # Connections and their sessions outlive the listener: end them first (clients then exit too).
            for pid in reversed(_children(self.process.pid)):
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
            self.process = None
        if self._own_workdir and self.workdir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "Sshd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
