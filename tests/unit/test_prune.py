"""containerd_prune's and containerd_copy's pure parts: the listings they parse (outputs of containerd 1.6
and 2.1 recorded on this machine kind), filters, what garbage collection releases, paths inside a root."""


import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import container_files as cf
from ansible_collections.ctrops.containerd.plugins.module_utils import prune
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput

BB, WEB = "sha256:1ca6680fffaea3ab5bb1ac905e5723b36c8c5114ddfeb4086d2015a2305c28ca", \
    "sha256:c6752e041ed856c8f4ffb172a070e5b696ed84b2080d551ff2c78da357ec2549"
LAYER0, LAYER1 = "sha256:b98975908d7a5c2d75d10c88fd70a80576dc6bb1b63b6bd86982037f09a987d6", \
    "sha256:c4a72392d4c2cc1397751cdb3caabeaf49e2c3831371b0504b59052e2feca342"
CFG_BB, CFG_WEB = "sha256:de37bb4a8bfc5cc51a84ce2bd777a1ad03e5687c0b0fbb4b26426153d19351c1", \
    "sha256:2088cf1ca7d5c94247dd01274729795a99378e30fc7c44b99e4d5f5b4b6a4313"
SNAP0, SNAP1 = "sha256:2b9bb63e0fda656c558a3378b5105c9c7b500bb41840f4bdb6bd97cba1a4eb04", \
    "sha256:4c1e2e0e900d72f142ec0fb2391bb10718eb6d27203af7d7261d7ad830abdf09"

CONTENT_LS = "\n".join([
    "DIGEST\t\t\t\t\t\t\t\t\tSIZE\tAGE\t\t\tLABELS",
    "%s\t405B\tLess than a second\tcontainerd.io/gc.ref.content.l.0=%s,containerd.io/gc.ref.content.config=%s"
    % (BB, LAYER0, CFG_BB),
    "%s\t536B\tLess than a second\tcontainerd.io/gc.ref.snapshot.overlayfs=%s" % (CFG_WEB, SNAP1),
    "%s\t1.033MB\t3 days\t\tcontainerd.io/uncompressed=%s" % (LAYER0, SNAP0),
    "%s\t193B\tAbout an hour\tcontainerd.io/uncompressed=sha256:96dc" % LAYER1,
    "%s\t559B\t2 hours\t\tcontainerd.io/gc.ref.content.l.1=%s,containerd.io/gc.ref.content.l.0=%s,"
    "containerd.io/gc.ref.content.config=%s" % (WEB, LAYER1, LAYER0, CFG_WEB),
    "%s\t334B\tLess than a second\tcontainerd.io/gc.ref.snapshot.overlayfs=%s" % (CFG_BB, SNAP0),
    "",
])
SNAPSHOTS_LS = "\n".join([
    "KEY" + " " * 69 + "PARENT" + " " * 66 + "KIND",
    "%s %s Committed" % (SNAP0, " " * 71),
    "%s %s Committed" % (SNAP1, SNAP0),
    "xc-16%s %s Active" % (" " * 67, SNAP0),
    "",
])
CONTAINERS_LS = """CONTAINER    IMAGE                      RUNTIME
xc-16        docker.io/rig/busybox:1    io.containerd.runc.v2
bare         -                          io.containerd.runc.v2
"""


def test_content_listing_gives_sizes_ages_and_references():
    blobs = prune.parse_content(CONTENT_LS)
    assert blobs[LAYER0]["size"] == 1033000 and blobs[BB]["size"] == 405
    assert blobs[WEB]["labels"]["containerd.io/gc.ref.content.l.1"] == LAYER1
    assert prune.parse_age(blobs[LAYER0]["age"]) == 3 * 86400
    assert prune.parse_age(blobs[LAYER1]["age"]) == 3600
    assert prune.parse_age(blobs[BB]["age"]) == 0
    assert prune.parse_content("DIGEST\tSIZE\tAGE\tLABELS\n") == {}


def test_snapshots_and_containers_listings():
    assert prune.parse_snapshots(SNAPSHOTS_LS) == {SNAP0: "", SNAP1: SNAP0, "xc-16": SNAP0}
    assert prune.parse_containers(CONTAINERS_LS) == {"xc-16": "docker.io/rig/busybox:1", "bare": ""}


def test_released_keeps_what_kept_images_and_containers_reference():
    blobs, snapshots = prune.parse_content(CONTENT_LS), prune.parse_snapshots(SNAPSHOTS_LS)
    digests, keys = prune.released(blobs, snapshots, [WEB], [BB], ["xc-16"], [])
    assert digests == sorted([WEB, LAYER1, CFG_WEB])
    assert keys == sorted(["xc-16", SNAP1])
    digests, keys = prune.released(blobs, snapshots, [WEB, BB], [], [], ["xc-16"])
    assert LAYER0 in digests and keys == [SNAP1], "a kept container keeps its parent snapshot"


def test_filters():
    parsed = prune.parse_filters({"label": ["a=1", "b"], "label!": "keep", "until": "2h"}, now=10000)
    assert parsed["label"] == [("a", "1"), ("b", None)] and parsed["label!"] == [("keep", None)]
    assert parsed["until"] == 10000 - 7200 and parsed["age"] == 7200 and parsed["status"] == ["stopped"]
    assert prune.all_of(parsed["label"]) == ['labels."a"=="1",labels."b"']
    assert prune.any_of(parsed["label!"]) == ['labels."keep"']
    assert prune.parse_duration(90) == 90 and prune.parse_duration("1w") == 604800
    assert prune.parse_duration("soon") is None
    with pytest.raises(InvalidInput, match="^Unknown filter dangling, reference: use label"):
        prune.parse_filters({"dangling": 1, "reference": 2})
    with pytest.raises(InvalidInput, match="never live ones"):
        prune.parse_filters({"status": ["running"]})


def test_timestamps():
    assert prune.parse_timestamp("1970-01-01T01:00:00.5Z") == 3600
    assert prune.parse_timestamp("1970-01-01T01:00:00+01:00") == 0
    assert prune.parse_timestamp("") is None


@pytest.mark.parametrize("text", [
    "mount -t overlay overlay /tmp/x -o index=off,workdir=/r/3/work,upperdir=/r/3/fs,lowerdir=/r/1/fs",  # 1.6
    "mount -t overlay overlay /tmp/x -o workdir=/r/3/work,upperdir=/r/3/fs,lowerdir=/r/1/fs,index=off",  # 2.1
])
def test_snapshot_mount_command(text):
    kind, source, options = cf.parse_mount_command(text + "\n")
    assert (kind, source) == ("overlay", "overlay") and "upperdir=/r/3/fs" in options.split(",")
