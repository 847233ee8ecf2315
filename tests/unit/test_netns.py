"""Pinned network namespaces: the path rule (unit); making and removing one needs root and runs in the
integration tests of containerd_stack's networks."""

import os

from ansible_collections.ctrops.containerd.plugins.module_utils import netns


def test_pinned_path_is_readable_and_tells_containerds_apart():
    one = netns.pinned_path("/run/netns", "/run/containerd/containerd.sock", "shop", "web")
    other = netns.pinned_path("/run/netns", "/tmp/rig/containerd.sock", "shop", "web")
    assert os.path.dirname(one) == "/run/netns" and os.path.basename(one).startswith("ctrops-shop-web-")
    assert one != other and len(os.path.basename(one)) == len("ctrops-shop-web-") + 8
    assert netns.pinned_path("/run/netns", "/run/containerd/containerd.sock", "shop", "web") == one


def test_a_plain_file_or_a_missing_one_is_not_a_pinned_namespace(tmp_path):
    plain = tmp_path / "ctrops-x"
    plain.write_text("")
    assert not netns.is_pinned(str(plain)) and not netns.is_pinned(str(tmp_path / "missing"))
    assert netns.is_pinned("/proc/self/ns/net")
