"""containerd_namespace against the rig's containerd, for every version of the matrix."""

import pytest


def namespaces(containerd):
    """{name: labels line} as the tests' own ctr sees them."""
    out = containerd.ctr_run("namespaces", "ls").stdout.splitlines()[1:]
    return {line.split()[0]: " ".join(line.split()[1:]) for line in out if line.strip()}


@pytest.fixture
def ns(containerd, uid):
    name = "t-" + uid
    yield name
    containerd.ctr_run("namespaces", "rm", name, check=False)


@pytest.mark.smoke
def test_create_is_predicted_applied_and_idempotent(containerd, run_module, ns):
    args = containerd.module_args(name=ns, labels={"team": "web"})

    predicted = run_module("containerd_namespace", check=True, **args)
    assert predicted["changed"] is True, predicted
    assert predicted["actions"] == ["create namespace %s" % ns, "set labels team"]
    assert ns not in namespaces(containerd), "check mode created the namespace"

    created = run_module("containerd_namespace", **args)
    assert created["changed"] is True, created
    assert created["namespace"] == {"name": ns, "exists": True, "labels": {"team": "web"}}
    assert created["diff"]["before"]["exists"] is False
    assert created["diff"]["after"]["labels"] == {"team": "web"}
    assert namespaces(containerd)[ns] == "team=web"

    again = run_module("containerd_namespace", **args)
    assert again["changed"] is False, again
    assert again["actions"] == []
    assert again["diff"]["before"] == again["diff"]["after"]

    assert run_module("containerd_namespace", check=True, **args)["changed"] is False


def test_labels_set_change_remove_and_purge(containerd, run_module, ns):
    run_module("containerd_namespace", **containerd.module_args(name=ns, labels={"a": "1", "b": "2"}))

    changed = run_module("containerd_namespace", **containerd.module_args(name=ns, labels={"a": "9", "b": None}))
    assert changed["changed"] is True
    assert changed["diff"]["before"]["labels"] == {"a": "1", "b": "2"}
    assert changed["diff"]["after"]["labels"] == {"a": "9"}
    assert sorted(changed["actions"]) == ["remove labels b", "set labels a"]
    assert namespaces(containerd)[ns] == "a=9"

    # Labels not named are kept unless purge_labels is set.
    kept = run_module("containerd_namespace", **containerd.module_args(name=ns, labels={"c": "3"}))
    assert kept["namespace"]["labels"] == {"a": "9", "c": "3"}

    predicted = run_module("containerd_namespace", check=True,
                           **containerd.module_args(name=ns, labels={"c": "3"}, purge_labels=True))
    assert predicted["changed"] is True
    assert predicted["namespace"]["labels"] == {"c": "3"}
    assert namespaces(containerd)[ns] == "a=9,c=3", "check mode changed labels"

    purged = run_module("containerd_namespace", **containerd.module_args(name=ns, labels={"c": "3"}, purge_labels=True))
    assert purged["changed"] is True
    assert namespaces(containerd)[ns] == "c=3"
    assert run_module("containerd_namespace",
                      **containerd.module_args(name=ns, labels={"c": "3"}, purge_labels=True))["changed"] is False


def test_absent_removes_and_is_idempotent(containerd, run_module, ns):
    containerd.ctr_run("namespaces", "create", ns)
    args = containerd.module_args(name=ns, state="absent")

    predicted = run_module("containerd_namespace", check=True, **args)
    assert predicted["changed"] is True
    assert ns in namespaces(containerd), "check mode removed the namespace"

    removed = run_module("containerd_namespace", **args)
    assert removed["changed"] is True
    assert removed["diff"] == {"before": {"name": ns, "exists": True, "labels": {}},
                               "after": {"name": ns, "exists": False, "labels": {}},
                               "before_header": "namespace %s" % ns, "after_header": "namespace %s" % ns}
    assert ns not in namespaces(containerd)

    again = run_module("containerd_namespace", **args)
    assert again["changed"] is False
    assert run_module("containerd_namespace", check=True, **args)["changed"] is False


def test_non_empty_namespace_is_refused_then_forced(containerd, run_module, ns):
    containerd.ctr_run("namespaces", "create", ns)
    containerd.ctr_run("content", "ingest", "blob-1", namespace=ns, input="payload\n")
    args = containerd.module_args(name=ns, state="absent")

    refused = run_module("containerd_namespace", **args)
    assert refused.get("failed") is True
    assert refused["msg"].startswith("Namespace %s is not empty (content blobs: sha256:" % ns), refused["msg"]
    assert "force=true" in refused["msg"]
    assert ns in namespaces(containerd)

    predicted = run_module("containerd_namespace", check=True, force=True, **args)
    assert predicted["changed"] is True
    assert list(predicted["removed_objects"]) == ["content blobs"]
    assert ns in namespaces(containerd)

    forced = run_module("containerd_namespace", force=True, **args)
    assert forced["changed"] is True, forced
    assert ns not in namespaces(containerd)


@pytest.mark.parametrize("name, fragment", [
    ("bad name", "'bad name' is not a valid containerd identifier"),
    ("-lead", "'-lead' is not a valid containerd identifier"),
    ("x" * 77, "is longer than 76 characters"),
])
def test_invalid_name_is_a_clear_error(containerd, run_module, name, fragment):
    result = run_module("containerd_namespace", **containerd.module_args(name=name))
    assert result.get("failed") is True
    assert result["msg"].startswith("Invalid name: namespace name "), result["msg"]
    assert fragment in result["msg"]
    assert "Traceback" not in str(result)


def test_label_value_with_comma_is_a_clear_error(containerd, run_module, ns):
    result = run_module("containerd_namespace", **containerd.module_args(name=ns, labels={"k": "a,b"}))
    assert result.get("failed") is True
    assert "contains a comma" in result["msg"]
    assert ns not in namespaces(containerd)


def test_daemon_down_names_the_address(containerd, run_module, tmp_path):
    address = str(tmp_path / "missing.sock")
    result = run_module("containerd_namespace", **containerd.module_args(name="x", address=address))
    assert result.get("failed") is True
    assert result["msg"] == ("containerd is not reachable at %s: the socket does not exist; "
                             "is the containerd service running?" % address)


def test_stale_socket_is_reported_as_unreachable(containerd, run_module, tmp_path):
    """A socket file nobody listens on (a crashed daemon) goes through ctr's own error path."""
    import socket
    path = str(tmp_path / "stale.sock")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)
    sock.close()
    result = run_module("containerd_namespace", **containerd.module_args(name="x", address=path, timeout=3))
    assert result.get("failed") is True
    assert result["msg"].startswith("containerd is not reachable at %s: is the containerd service running?" % path), \
        result["msg"]


def test_missing_ctr_is_a_clear_error(containerd, run_module, tmp_path):
    result = run_module("containerd_namespace",
                        **containerd.module_args(name="x", executable=str(tmp_path / "ctr")))
    assert result.get("failed") is True
    assert result["msg"] == "ctr was not found at %s (option executable): check the path." % (tmp_path / "ctr")
