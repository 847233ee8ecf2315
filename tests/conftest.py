"""Makes the rig (tests/support/rig) importable from every test layer, and checks
at the end of a session that the rig left nothing behind."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))

from rig.containerd import mounts_under, pids_with_arg  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    """Fail the session if a process or mount of the rig outlived the tests.

    Everything the rig starts lives under pytest's base temporary directory, so
    its path in a command line or a mount point identifies a leftover.
    """
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or factory._basetemp is None:
        return
    base = str(factory.getbasetemp())
    procs = [pid for pid in pids_with_arg(base) if pid != os.getpid()]
    mounts = mounts_under(base)
    if procs or mounts:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line("LEAK: the rig left behind processes %s and mounts %s" % (procs, mounts), red=True)
        session.exitstatus = 1
