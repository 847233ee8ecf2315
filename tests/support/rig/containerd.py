"""An isolated containerd for the tests: own root, state, socket and config.

Every daemon lives under one temporary directory, so a containerd already on
the machine is never touched. stop() ends what start() began, by PID: the
tasks (through containerd), the daemon, any shim left behind, the mounts under
the directory; then it removes the directory.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

CACHE = os.environ.get("CTROPS_CACHE", "/var/cache/ctrops-tests")

# The containerd versions of the test matrix: label -> directory holding
# containerd, containerd-shim-runc-v2 and ctr. Debian 12's runc serves both.
MATRIX = {
    "1.6": "/usr/bin",
    "1.7": os.path.join(CACHE, "containerd-stable", "usr", "bin"),
    "2.1": os.path.join(CACHE, "containerd-sid", "usr", "bin"),
}
# Every integration test runs on the oldest and the newest; tests marked smoke also on those between.
EDGES = (min(MATRIX, key=lambda v: tuple(map(int, v.split(".")))),
         max(MATRIX, key=lambda v: tuple(map(int, v.split(".")))))
RUNC_DIR = "/usr/sbin"

CONFIG = """\
version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{address}"

[ttrpc]
  address = "{address}.ttrpc"

[debug]
  address = "{workdir}/debug.sock"

[metrics]
  address = ""
"""


def available_versions():
    """The matrix entries whose binaries are installed (make setup installs all)."""
    return [label for label, path in MATRIX.items() if os.path.exists(os.path.join(path, "containerd"))]


def pids_with_arg(needle):
    """PIDs of processes whose command line contains ``needle``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry))
    return pids


def mounts_under(path):
    """Mount points below ``path``, deepest first."""
    points = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = line.split()[4].replace("\\040", " ")
            if point == path or point.startswith(path.rstrip("/") + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


class Containerd:
    """One containerd daemon of the matrix, started in its own directory."""

    def __init__(self, version, workdir=None):
        if version not in MATRIX:
            raise ValueError("unknown containerd version %r (matrix: %s)" % (version, ", ".join(MATRIX)))
        self.version = version
        self.bin_dir = MATRIX[version]
        self.workdir = workdir
        self.process = None
        self.address = None
        self._own_workdir = workdir is None

    # -- paths and environment ---------------------------------------------------

    @property
    def ctr(self):
        return os.path.join(self.bin_dir, "ctr")

    @property
    def env(self):
        """The environment containerd and ctr run with: this version's shim first, then runc."""
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([self.bin_dir, RUNC_DIR, env.get("PATH", "/usr/bin:/bin")])
        return env

    # -- lifecycle -----------------------------------------------------------------

    def start(self, timeout=30):
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="ctrops-rig-containerd-")
        os.makedirs(self.workdir, exist_ok=True)
        self.address = os.path.join(self.workdir, "containerd.sock")
        config = os.path.join(self.workdir, "config.toml")
        with open(config, "w") as handle:
            handle.write(CONFIG.format(root=os.path.join(self.workdir, "root"),
                                       state=os.path.join(self.workdir, "state"),
                                       address=self.address, workdir=self.workdir))
        self.log_path = os.path.join(self.workdir, "containerd.log")
        self._start_process(config)
        try:
            self._wait_ready(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def _start_process(self, config):
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                [os.path.join(self.bin_dir, "containerd"), "--config", config],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, start_new_session=True)
        finally:
            log.close()

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if os.path.exists(self.address) and self.ctr_run("version", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("containerd %s did not come up at %s; log tail:\n%s"
                           % (self.version, self.address, self.log_tail()))

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def restart(self, timeout=30):
        """Stop the daemon only (tasks and shims keep running, as on a service restart) and start it again."""
        self._stop_daemon()
        self._start_process(os.path.join(self.workdir, "config.toml"))
        self._wait_ready(timeout)

    def kill_daemon(self):
        """Stop the daemon, leaving tasks and shims, to test what happens while it is down."""
        self._stop_daemon()

    def _stop_daemon(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None

    def stop(self):
        """End everything this daemon started and remove its directory. Safe to call twice."""
        if self.process is not None and self.process.poll() is None:
            self._delete_all_tasks()
        self._stop_daemon()
        if self.address:
            # Shims outlive the daemon by design; they carry our socket path in argv.
            for pid in pids_with_arg(self.address):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if self.workdir and os.path.isdir(self.workdir):
            for point in mounts_under(self.workdir):
                subprocess.run(["umount", "-l", point], check=False, capture_output=True)
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _delete_all_tasks(self):
        namespaces = self.ctr_run("namespaces", "ls", "-q", check=False).stdout.split()
        for namespace in namespaces:
            tasks = self.ctr_run("-n", namespace, "tasks", "ls", "-q", check=False).stdout.split()
            for task in tasks:
                self.ctr_run("-n", namespace, "tasks", "kill", "-a", "-s", "SIGKILL", task, check=False)
            for task in tasks:
                for _attempt in range(50):
                    if self.ctr_run("-n", namespace, "tasks", "delete", "-f", task, check=False).returncode == 0:
                        break
                    time.sleep(0.1)

    # -- using it ------------------------------------------------------------------

    def ctr_run(self, *args, check=True, namespace=None, input=None, timeout=120):
        """Run this version's ctr against this daemon (the tests' own view, not the modules')."""
        cmd = [self.ctr, "--address", self.address]
        if namespace:
            cmd += ["--namespace", namespace]
        return subprocess.run(cmd + list(args), check=check, capture_output=True, text=True,
                              env=self.env, input=input, timeout=timeout)

    def module_args(self, **extra):
        """Connection options that point a module of this collection at this daemon."""
        args = dict(address=self.address, executable=self.ctr)
        args.update(extra)
        return args

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
