"""`make demo` as README promises it: site.yml, then the walk-through twice and its
clean-up, on a throwaway QEMU VM (playbooks/demo/demo_vm.py), with the summary.

demo.demo() itself fails when the second run changes an untagged task or the
clean-up play leaves something in the VM; this test also checks the summary's
content, that the registry password appears nowhere in what the demo printed,
and that the VM and the registries are gone afterwards.
"""

import os
import re
import sys

# The demo lives beside the playbooks (playbooks/demo); tests/conftest.py makes the rig importable.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "playbooks", "demo"))

from demo import demo  # noqa: E402
from demo_vm import VmWalkthrough  # noqa: E402
from rig.containerd import pids_with_arg  # noqa: E402


def test_demo_on_a_vm(tmp_path, capsys):
    walk = VmWalkthrough(workdir=str(tmp_path))
    demo(walk, "VM demo under %s" % walk.base)
    out = capsys.readouterr().out
    sys.stdout.write(out)  # shown by pytest when an assertion below fails

    assert re.search(r"^installed\s+containerd\s+1\.6\.\d+.*systemd: active", out, re.M), out
    assert re.search(r"^installed\s+networks\s+10-cni0\.conflist 99-lo\.conf", out, re.M), out
    # What the Debian Molecule scenario used to prove on its own VM: the package method's configuration
    # (version 2 for containerd 1.6, the CNI/runc/registry settings in force), the group, a dry run.
    assert re.search(r"^installed\s+config\s+/etc/containerd/config\.toml: version = 2, 3 of 3 settings", out,
                     re.M), out
    assert re.search(r"^installed\s+user\s+ctrops in group containerd: 1, ctr without sudo: works$", out, re.M), out
    # The first site.yml ran as AWX runs it (ansible-runner) and converged the host.
    site = re.search(r"^site\.yml +ok=\d+ changed=(\d+) in \d+s \(through ansible-runner\)$", out, re.M)
    assert site and int(site.group(1)) > 0, out
    assert re.search(r"^site\.yml --check --diff again: ok=\d+ changed=0 ", out, re.M), out
    assert "page over bridge            <html><body><h1>ctrops rig web</h1>" in out
    assert "page via shared netns       <html><body><h1>ctrops rig web</h1>" in out
    assert re.search(r"^push\s+registry\.test:\d+/walkthrough/web-\w+:1 sha256:[0-9a-f]{64} \(pushed now: True\)$",
                     out, re.M), out
    assert re.search(r"^second run\s+ok=\d+ changed=2 failed=0", out, re.M), out
    assert "(all tagged non_idempotent: yes)" in out
    assert "left behind afterwards: nothing" in out

    password = walk.registries["auth"].password
    assert password and password not in out
    assert not os.path.exists(walk.base)
    assert pids_with_arg(walk.base) == []
    assert all(registry.process is None for registry in walk.registries.values())
