"""Makes the rig (tests/support/rig) importable from every test layer, and checks
at the end of a session that the tests left nothing behind."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))

from rig.containerd import mounts_under, pids_with_arg  # noqa: E402


def network_objects():
    """Network namespaces and links of the machine, to compare before and after a session."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    names = set("netns " + line.split()[0] for line in netns.splitlines() if line.strip())
    names.update("link " + line.split(":")[1].strip().split("@")[0] for line in links.splitlines() if ":" in line)
    return names


IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"


def own_process_chain():
    """This process and its ancestors: a wrapper (timeout, xdist's controller) may carry --basetemp too."""
    chain, pid = set(), os.getpid()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        try:
            with open("/proc/%d/stat" % pid) as handle:
                # The parent PID is the second field after the command name, which may contain spaces.
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return chain


def _is_worker(config):
    return hasattr(config, "workerinput")


def pytest_sessionstart(session):
    session.config._network_before = network_objects()
    # The bridge plugin (isGateway) turns on ip_forward. Put back what the machine had, once, at the
    # very end: with pytest-xdist a worker's own restore could undo another worker's bridge.
    if not _is_worker(session.config):
        with open(IP_FORWARD) as handle:
            session.config._ip_forward_before = handle.read().strip()


def pytest_sessionfinish(session, exitstatus):
    """Fail the session if a process, mount, netns or link made by the tests outlived them.

    Everything the rig starts lives under pytest's base temporary directory, so
    its path in a command line or a mount point identifies a leftover.
    """
    before_forward = getattr(session.config, "_ip_forward_before", None)
    if before_forward is not None:
        with open(IP_FORWARD, "w") as handle:
            handle.write(before_forward)
    leaks = []
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None and factory._basetemp is not None:
        base = str(factory.getbasetemp())
        ours = own_process_chain()
        procs = [pid for pid in pids_with_arg(base) if pid not in ours]
        if procs:
            leaks.append("processes %s" % procs)
        mounts = mounts_under(base)
        if mounts:
            leaks.append("mounts %s" % mounts)
    # Links and netns are machine-wide: compared only when no other test session
    # may run beside this one (`make test`, CI), where a difference is ours.
    before = getattr(session.config, "_network_before", None)
    if os.environ.get("CTROPS_EXCLUSIVE") and before is not None and not _is_worker(session.config):
        new = sorted(network_objects() - before)
        if new:
            leaks.append("network objects %s" % new)
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line("LEAK: the tests left behind %s" % "; ".join(leaks), red=True)
        session.exitstatus = 1
