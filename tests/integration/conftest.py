"""Fixtures for integration tests: the rig's containerd (per version of the
matrix) and a runner for this collection's modules through pytest-ansible."""

import uuid

import pytest

from rig.containerd import MATRIX, Containerd, available_versions


def pytest_generate_tests(metafunc):
    """Every test that uses ``containerd`` runs once per containerd version of the matrix."""
    if "containerd" in metafunc.fixturenames:
        metafunc.parametrize("containerd", sorted(MATRIX), indirect=True, scope="session")


@pytest.fixture(scope="session")
def containerd(request, tmp_path_factory):
    """A running, isolated containerd of the requested version, stopped after the session."""
    version = request.param
    if version not in available_versions():
        pytest.fail("containerd %s of the test matrix is not installed: run `make setup`" % version)
    daemon = Containerd(version, workdir=str(tmp_path_factory.mktemp("containerd-%s" % version)))
    daemon.start()
    yield daemon
    daemon.stop()


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
        result = getattr(self.dispatcher, "ctrops.containerd." + module)(**args)
        return dict(result.contacted["localhost"])


@pytest.fixture
def run_module(ansible_module):
    return ModuleRunner(ansible_module)
