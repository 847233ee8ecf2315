"""Parsers of containerd_image: ``ctr images ls`` (recorded fixtures), ``ctr images check``
(outputs recorded from 1.6 and 2.1, the same layout), mountinfo, registry helpers."""

import os

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import parsers
from ansible_collections.ctrops.containerd.plugins.module_utils.registry import parse_challenge, parse_hosts_toml

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def fixture(name):
    """Outputs in the layout recorded from ctr 1.6.20 and 2.1.9 (the incomplete row is edited from a complete one)."""
    with open(os.path.join(FIXTURES, "images", name + ".txt")) as handle:
        return handle.read()


# A label whose value holds a comma; an incomplete image.
IMAGES_LS_LABELLED = fixture("images_ls_labelled")

IMAGES_CHECK = fixture("images_check")


@pytest.mark.parametrize("version", ["1.6", "2.1"])
def test_images_ls_recorded(version):
    with open(os.path.join(FIXTURES, "ctr-" + version, "images_ls.txt")) as handle:
        images = parsers.parse_images(handle.read())
    assert images == {"docker.io/rig/busybox:1": {
        "name": "docker.io/rig/busybox:1",
        "media_type": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:1ca6680fffaea3ab5bb1ac905e5723b36c8c5114ddfeb4086d2015a2305c28ca",
        "size": "1009.1 KiB", "platforms": ["linux/amd64"], "labels": {}}}


def test_images_ls_index_and_labels():
    images = parsers.parse_images(IMAGES_LS_LABELLED)
    assert images["127.0.0.1:42589/rig/multi:1"]["platforms"] == ["linux/amd64", "linux/arm64"]
    assert images["127.0.0.1:42589/rig/multi:1"]["labels"] == {}
    assert images["127.0.0.1:58269/rig/busybox:1"]["labels"] == {"a": "1", "b": "x,y"}


def test_images_ls_empty():
    assert parsers.parse_images("REF TYPE DIGEST SIZE PLATFORMS LABELS \n") == {}


def test_images_check():
    assert parsers.parse_image_check(IMAGES_CHECK) == {
        "127.0.0.1:42589/rig/multi:1": {"complete": True, "unpacked": True, "status": "complete"},
        "127.0.0.1:58269/rig/busybox:1": {"complete": False, "unpacked": False, "status": "incomplete"},
    }


def test_mountinfo_decodes_escapes():
    text = ("36 35 98:0 / /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw\n"
            "37 35 0:31 / /proc rw - proc proc rw\n")
    assert parsers.parse_mountinfo(text) == ["/mnt/with space", "/proc"]


def test_bearer_challenge():
    scheme, params = parse_challenge('Bearer realm="https://auth.example/token",service="registry.example",'
                                     'scope="repository:team/app:pull,push"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example/token", "service": "registry.example",
                      "scope": "repository:team/app:pull,push"}
    assert parse_challenge('Basic realm="ctrops-rig"') == ("basic", {"realm": "ctrops-rig"})
    assert parse_challenge(None) == (None, {})


def test_hosts_toml_as_the_rig_writes_it():
    text = """server = "https://127.0.0.1:5000"
capabilities = ["pull", "resolve", "push"]
ca = "/tmp/ca/ca.crt"

[host."https://127.0.0.1:5000"]
  capabilities = ["pull", "resolve", "push"]
  ca = "/tmp/ca/ca.crt"
  skip_verify = false
"""
    config = parse_hosts_toml(text)
    assert config["server"] == "https://127.0.0.1:5000"
    assert config["settings"]["ca"] == "/tmp/ca/ca.crt"
    assert config["hosts"] == [("https://127.0.0.1:5000", {
        "capabilities": ["pull", "resolve", "push"], "ca": "/tmp/ca/ca.crt", "skip_verify": False})]


def test_read_archive_names_digests_and_refuses_truncated(tmp_path):
    from ansible_collections.ctrops.containerd.plugins.module_utils.images import ArchiveError, read_archive
    from rig.images import build_docker_archive, build_image

    oci = build_image(str(tmp_path / "oci.tar"), "docker.io/rig/busybox:1", "busybox")
    assert read_archive(oci["path"]) == {"format": "oci", "images": [
        {"name": "docker.io/rig/busybox:1", "digest": oci["digest"], "config_digest": None}]}
    docker = build_docker_archive(str(tmp_path / "docker.tar"), "registry.example:5000/team/app:2", "busybox")
    assert read_archive(docker["path"]) == {"format": "docker", "images": [
        {"name": "registry.example:5000/team/app:2", "digest": None, "config_digest": docker["config_digest"]}]}

    data = (tmp_path / "oci.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[:len(data) // 2])
    with pytest.raises(ArchiveError):
        read_archive(str(tmp_path / "cut.tar"))
    (tmp_path / "plain.tar").write_bytes(b"")
    with pytest.raises(ArchiveError):
        read_archive(str(tmp_path / "plain.tar"))
