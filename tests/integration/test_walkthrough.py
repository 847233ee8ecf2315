"""playbooks/walkthrough.yml, the field notes' workflow, against the rig: twice, then its clean-up play.

The second run must change nothing but the tasks tagged ``non_idempotent``
(commands run inside containers that write something); the clean-up play must
leave nothing behind (namespaces, bridge, iptables rules, mounts, directories).
ansible-playbook runs as a subprocess with the venv, as a user would run it.
"""

import os
import sys

import pytest

# The demo lives beside the playbooks (playbooks/demo); tests/conftest.py makes the rig importable.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "playbooks", "demo"))

from demo import Walkthrough, changed_tasks, stats, summary_of  # noqa: E402


@pytest.fixture
def walkthrough(containerd, registries, rig_images, tmp_path):
    walk = Walkthrough(containerd=containerd, registries=registries, images=rig_images, workdir=str(tmp_path))
    walk.start()
    yield walk
    if not walk.cleaned:
        # The test stopped before the clean-up play: run it, then remove what is left regardless.
        try:
            walk.play("--tags", "cleanup")
        finally:
            walk.stop()
    else:
        walk.stop()


# On containerd 2.1 only: make demo-check runs the same walk-through, twice and with its clean-up, on the
# Debian 12 VM's containerd 1.6 (tests/demo/test_demo_vm.py); both here took about two minutes each.
@pytest.mark.newest_only
def test_walkthrough_twice_then_cleanup(walkthrough, containerd):
    first, _secs = walkthrough.play()
    assert stats(first)["failures"] == 0
    assert stats(first)["changed"] > 20
    summary = summary_of(first)
    assert "ctrops rig web" in summary["page_over_bridge"]
    assert summary["pushed"].endswith("(pushed now: True)")

    second, _secs = walkthrough.play()
    tagged = walkthrough.non_idempotent_tasks()
    assert len(tagged) == 2, tagged
    changed = changed_tasks(second)
    assert sorted(changed) == sorted(tagged), "changed on the second run: %s" % changed
    assert stats(second)["changed"] == len(tagged)
    assert "(pushed now: False)" in summary_of(second)["pushed"]

    # On a converged host check mode predicts no change at all: the two writing
    # commands are skipped in check mode, every other task reads or predicts.
    checked, _secs = walkthrough.play("--check", "--diff")
    assert stats(checked)["failures"] == 0
    assert changed_tasks(checked) == [], "check mode predicts changes on a converged host"

    cleanup, _secs = walkthrough.play("--tags", "cleanup")
    walkthrough.cleaned = True
    assert stats(cleanup)["failures"] == 0
    assert walkthrough.leftovers() == {}
    namespaces = containerd.ctr_run("namespaces", "ls", "-q").stdout.split()
    assert walkthrough.namespace not in namespaces and walkthrough.other_namespace not in namespaces
    assert not os.path.exists(os.path.join(walkthrough.base, "walkthrough"))
    assert os.listdir(os.path.join(walkthrough.base, "cni", "net.d")) == []
