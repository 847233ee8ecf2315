"""containerd_container_info against the rig's containerd, for every version of the matrix."""

import pytest


@pytest.mark.smoke
def test_info_lists_by_name_and_label_with_task(containerd, run_module, busybox, container_name, counting_ctr):
    one, two = container_name("one"), container_name("two")
    for name, team in ((one, "web"), (two, "db")):
        run_module("containerd_container", **containerd.module_args(
            name=name, image="rig/busybox:1", command=["sleep", "600"], labels={"team": team}, env={"N": name}))
    pid = run_module("containerd_task", **containerd.module_args(container=one))["task"]["pid"]

    everything = run_module("containerd_container_info", **containerd.module_args())
    assert everything["changed"] is False
    names = [c["name"] for c in everything["containers"]]
    assert one in names and two in names and names == sorted(names)

    executable, count = counting_ctr
    by_name = run_module("containerd_container_info", **containerd.module_args(
        name=[one, "nosuch"], executable=executable))
    assert count() == 3, "tasks ls + one containers info per name"
    assert by_name["missing"] == ["nosuch"]
    [found] = by_name["containers"]
    assert found["task"] == {"pid": pid, "status": "running"}
    assert found["image"] == "docker.io/rig/busybox:1" and found["env"]["N"] == one
    assert found["command"] == ["sleep", "600"] and found["labels"]["team"] == "web"

    by_label = run_module("containerd_container_info", **containerd.module_args(labels={"team": "db"}))
    db = [c for c in by_label["containers"] if c["name"] in (one, two)]
    assert [c["name"] for c in db] == [two] and db[0]["task"] is None
    any_team = run_module("containerd_container_info", **containerd.module_args(labels={"team": None}))
    assert {one, two} <= set(c["name"] for c in any_team["containers"])

    checked = run_module("containerd_container_info", check=True, **containerd.module_args(name=[one]))
    assert checked["containers"][0]["name"] == one
