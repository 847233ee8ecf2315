"""containerd_namespace_info against the rig's containerd, for every version of the matrix."""

import pytest


@pytest.fixture
def two_namespaces(containerd, uid):
    names = ("ti-a-" + uid, "ti-b-" + uid)
    containerd.ctr_run("namespaces", "create", names[0], "team=web", "tier=1")
    containerd.ctr_run("namespaces", "create", names[1], "team=db")
    yield names
    for name in names:
        containerd.ctr_run("namespaces", "rm", name, check=False)


@pytest.mark.smoke
def test_lists_by_name_and_label_in_one_call(containerd, run_module, two_namespaces, counting_ctr):
    web, db = two_namespaces
    everything = run_module("containerd_namespace_info", **containerd.module_args())
    assert everything["changed"] is False
    names = [n["name"] for n in everything["namespaces"]]
    assert web in names and db in names and names == sorted(names)
    assert "contents" not in everything["namespaces"][0]

    executable, count = counting_ctr
    by_name = run_module("containerd_namespace_info", **containerd.module_args(
        name=[web, "nosuch"], executable=executable))
    assert count() == 1 and by_name["ctr_calls"] == 1
    assert by_name["namespaces"] == [{"name": web, "labels": {"team": "web", "tier": "1"}}]
    assert by_name["missing"] == ["nosuch"]

    by_label = run_module("containerd_namespace_info", **containerd.module_args(labels={"team": "db"}))
    assert [n["name"] for n in by_label["namespaces"] if n["name"] in two_namespaces] == [db]
    any_team = run_module("containerd_namespace_info", **containerd.module_args(name=list(two_namespaces),
                                                                                labels={"team": None, "tier": 1}))
    assert [n["name"] for n in any_team["namespaces"]] == [web]

    checked = run_module("containerd_namespace_info", check=True, **containerd.module_args(name=[db]))
    assert checked["changed"] is False and checked["namespaces"][0]["labels"] == {"team": "db"}


def test_contents_lists_what_keeps_a_namespace(containerd, run_module, two_namespaces):
    web, db = two_namespaces
    containerd.ctr_run("content", "ingest", "blob-1", namespace=web, input="payload\n")
    result = run_module("containerd_namespace_info", **containerd.module_args(name=[web, db], contents=True))
    by_name = {n["name"]: n for n in result["namespaces"]}
    assert list(by_name[web]["contents"]) == ["content blobs"]
    assert by_name[web]["contents"]["content blobs"][0].startswith("sha256:")
    assert by_name[db]["contents"] == {}
    assert result["ctr_calls"] == 1 + 2 * 6
    containerd.ctr_run("content", "rm", by_name[web]["contents"]["content blobs"][0], namespace=web)


def test_invalid_name_is_a_clear_error(containerd, run_module):
    result = run_module("containerd_namespace_info", **containerd.module_args(name=["ok", "bad name"]))
    assert result.get("failed") is True
    assert result["msg"].startswith("Invalid name: namespace name 'bad name' is not a valid containerd identifier")
    assert "Traceback" not in str(result)


def test_daemon_down_is_a_clear_error(containerd, run_module, tmp_path):
    address = str(tmp_path / "missing.sock")
    result = run_module("containerd_namespace_info", **containerd.module_args(address=address))
    assert result.get("failed") is True
    assert result["msg"].startswith("containerd is not reachable at %s" % address)
