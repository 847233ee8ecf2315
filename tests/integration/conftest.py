"""Fixtures for integration tests: the rig's containerd (per version of the
matrix) and a runner for this collection's modules through pytest-ansible."""

import os
import uuid

import pytest

from rig.containerd import EDGES, MATRIX, Containerd, available_versions

RUNC_STATE = "/run/containerd/runc"


def pytest_generate_tests(metafunc):
    """Every test that uses ``containerd`` runs on the oldest and the newest containerd of the matrix;
    one test per module (marked smoke) runs on every version between them too."""
    if "containerd" in metafunc.fixturenames:
        smoke = metafunc.definition.get_closest_marker("smoke") is not None
        versions = [v for v in sorted(MATRIX) if smoke or v in EDGES]
        if metafunc.definition.get_closest_marker("newest_only") is not None:
            versions = [EDGES[-1]]
        metafunc.parametrize("containerd", versions, indirect=True, scope="session")


@pytest.fixture(scope="session")
def containerd(request, tmp_path_factory):
    """A running, isolated containerd of the requested version, stopped after the session."""
    version = request.param
    if version not in available_versions():
        pytest.fail("containerd %s of the test matrix is not installed: run `make setup`" % version)
    daemon = Containerd(version, workdir=str(tmp_path_factory.mktemp("containerd-%s" % version)))
    runc_roots = set(os.listdir(RUNC_STATE)) if os.path.isdir(RUNC_STATE) else set()
    daemon.start()
    yield daemon
    daemon.stop()
    # The shims' runc keeps a directory per namespace in a machine-wide place: remove the empty ones the tests
    # made (runc makes them again when it needs them).
    for entry in set(os.listdir(RUNC_STATE) if os.path.isdir(RUNC_STATE) else ()) - runc_roots:
        try:
            os.rmdir(os.path.join(RUNC_STATE, entry))
        except OSError:
            pass


@pytest.fixture
def uid():
    """A short unique suffix, so tests never collide on names (also across versions)."""
    return uuid.uuid4().hex[:8]


class ModuleRunner:
    """Runs ``ctrops.containerd.<module>`` on localhost, in check and diff mode when asked.

    Returns the module's result dict (with ``failed`` set on failure).
    """

    def __init__(self, dispatcher):
        self.dispatcher = dispatcher
        build = type(dispatcher)._build_play_ds.__get__(dispatcher)
        self._mode = {}

        def build_play(complex_args):
            play = build(complex_args)
            play["tasks"][0].update(self._mode)
            return play

        dispatcher._build_play_ds = build_play

    def __call__(self, module, check=False, diff=True, **args):
        self._mode = {"check_mode": check, "diff": diff}
        try:
            result = getattr(self.dispatcher, "ctrops.containerd." + module)(**args)
        finally:
            restore_stdio_inheritance()
        return dict(result.contacted["localhost"])


def restore_stdio_inheritance():
    """pytest-ansible runs Ansible inside this worker, and ansible-core 2.21's task queue marks the
    process's stdin, stdout and stderr non-inheritable. A later subprocess of this worker started without
    its own stdin (an ansible-playbook of another test) then gets no fd 0, and its workers die with
    "Could not detach from stdio: [Errno 9] Bad file descriptor". Give them back."""
    for fd in (0, 1, 2):
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass


@pytest.fixture
def run_module(ansible_module):
    return ModuleRunner(ansible_module)


@pytest.fixture
def run_module_raw(tmp_path):
    """Runs a module file directly (no Ansible controller, so nothing masks no_log values afterwards).

    Returns (result dict, raw stdout + stderr). The arguments go through a 0600 file, never argv.
    """
    import json
    import os
    import subprocess
    import sys

    collections = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)[0]

    def _run(module, check=False, **args):
        path = tmp_path / ("args-%s.json" % uuid.uuid4().hex[:8])
        path.touch(mode=0o600)
        path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check)}))
        try:
            proc = subprocess.run([sys.executable, "-m", "ansible_collections.ctrops.containerd.plugins.modules."
                                   + module, str(path)], capture_output=True, text=True, timeout=300, check=False,
                                  env=dict(os.environ, PYTHONPATH=collections))
        finally:
            path.unlink()
        raw = proc.stdout + proc.stderr
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError("module %s printed no JSON result: %s" % (module, raw[-2000:]))
        return result, raw
    return _run


@pytest.fixture(scope="session")
def rig_images(tmp_path_factory):
    """The rig's test images as OCI archives, built once per session.

    Keys: ``busybox`` (sh, sleep…), ``web`` (httpd serving /www on port 80),
    ``multi`` (an index for linux/amd64 and linux/arm64). Each value is the
    dict build_image returns (ref, digest, path, manifests…).
    """
    from rig.images import build_image

    out = tmp_path_factory.mktemp("images")
    return {
        "busybox": build_image(str(out / "busybox.tar"), "docker.io/rig/busybox:1", "busybox"),
        "web": build_image(str(out / "web.tar"), "docker.io/rig/web:1", "web"),
        "multi": build_image(str(out / "multi.tar"), "docker.io/rig/multi:1", "busybox",
                             platforms=["linux/amd64", "linux/arm64"]),
    }


@pytest.fixture(scope="session")
def py_image(tmp_path_factory):
    """The rig's ``python`` image (busybox plus this machine's Python 3) as an OCI archive, built once per
    session by the tests that need it (the connection plugin's, containerd_copy's race)."""
    from rig.images import build_image

    return build_image(str(tmp_path_factory.mktemp("pyimage") / "python.tar"), "docker.io/rig/python:1", "python")


@pytest.fixture(scope="session")
def registries(tmp_path_factory, rig_images):
    """The rig's registries, one per flavour (http, tls, auth), each seeded with the rig images
    as rig/busybox:1, rig/web:1 and rig/multi:1. Stopped at the end of the session.

    The tls registry's certificate also names ``registry.test`` (see tls_name_hosts_dir)."""
    from rig.images import push_archive
    from rig.registry import FLAVOURS, Registry

    started = {}
    try:
        for flavour in FLAVOURS:
            names = ("registry.test",) if flavour == "tls" else ()
            registry = Registry(str(tmp_path_factory.mktemp("registry-" + flavour)), flavour, names=names).start()
            started[flavour] = registry
            for name, image in rig_images.items():
                push_archive(image["path"], "rig/%s:1" % name, registry=registry, expected_digest=image["digest"])
        yield started
    finally:
        for registry in started.values():
            registry.stop()


@pytest.fixture
def import_image(containerd):
    """Import a rig image archive into a namespace with the tests' own ctr; returns its ref."""
    def _import(image, namespace="default"):
        containerd.ctr_run("images", "import", image["path"], namespace=namespace)
        return image["ref"]
    return _import


# -- containers and tasks (containerd_container, containerd_task, containerd_exec) ---------------

def remove_container(containerd, name, namespace="default"):
    """Kill and delete a container's task, then the container, with the tests' own ctr (teardown)."""
    import time

    # Tell containerd's restart monitor to leave the task down, so that it does not start it again.
    containerd.ctr_run("containers", "label", name, "containerd.io/restart.status=stopped", namespace=namespace,
                       check=False)
    # A frozen (paused) task would not act on SIGKILL until thawed.
    containerd.ctr_run("tasks", "resume", name, namespace=namespace, check=False)
    containerd.ctr_run("tasks", "kill", "--all", "--signal", "SIGKILL", name, namespace=namespace, check=False)
    for _attempt in range(50):
        if containerd.ctr_run("tasks", "delete", "--force", name, namespace=namespace,
                              check=False).returncode == 0:
            break
        if "not found" in containerd.ctr_run("tasks", "ps", name, namespace=namespace, check=False).stderr:
            break
        time.sleep(0.1)
    containerd.ctr_run("containers", "delete", name, namespace=namespace, check=False)


@pytest.fixture
def container_name(containerd, uid):
    """Makes container names ("c-<uid>-web"); their tasks and containers are removed at teardown."""
    made = []

    def _name(suffix="main"):
        name = "c-%s-%s" % (uid, suffix)
        made.append(name)
        return name
    yield _name
    for name in reversed(made):
        remove_container(containerd, name)


@pytest.fixture
def busybox(import_image, rig_images):
    """The rig's busybox image, imported into the default namespace; its reference."""
    return import_image(rig_images["busybox"])


@pytest.fixture
def counting_ctr(containerd, tmp_path):
    """A ctr wrapper that counts its calls: (path for the executable option, function returning the count)."""
    log = tmp_path / "ctr-calls"
    wrapper = tmp_path / "ctr"
    wrapper.write_text('#!/bin/sh\necho "$*" >> %s\nexec %s "$@"\n' % (log, containerd.ctr))
    wrapper.chmod(0o755)

    def count():
        calls = log.read_text().splitlines() if log.exists() else []
        log.write_text("")
        return len(calls)
    return str(wrapper), count


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory):
    """A TLS registry that accepts only Bearer tokens of the rig's token server (distribution token spec).

    Attributes as the other registries (host, ref(), hosts_dir, ca_cert, username, password), plus
    ``token_server`` (its ``requests`` record who asked for which scopes)."""
    from rig.token_server import TokenRegistry

    registry = TokenRegistry(str(tmp_path_factory.mktemp("registry-token")))
    try:
        yield registry.start()
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """The rig's sshd on 127.0.0.1 (key login for the current user), for code that reaches a host over SSH.

    Attributes: ``host``, ``port``, ``user``, ``key``, ``ssh_config`` (a client config for ``ssh -F``
    that trusts this server) and ``ssh_args`` (``["-F", ssh_config]``). Stopped at the end of the session."""
    from rig.sshd import Sshd

    server = Sshd(str(tmp_path_factory.mktemp("sshd")))
    try:
        yield server.start()
    finally:
        server.stop()
