"""races.py and task_state.py: the pure parts (the lock key, forgetting a lost action, the prediction)."""

from ansible_collections.ctrops.containerd.plugins.module_utils import races, task_state


class FakeClient:
    def __init__(self, address="/run/containerd/containerd.sock", namespace="default"):
        self.address = address
        self.namespace = namespace
        self.socket_path = address


def test_forget_drops_the_last_record_only():
    actions = ["start task a", "set labels x", "start task a"]
    races.forget(actions, "start task a")
    assert actions == ["start task a", "set labels x"]
    races.forget(actions, ["start task a", "set labels x"])
    assert actions == []


def test_lock_path_differs_per_object_namespace_and_address():
    one = races.lock_path(FakeClient(), "container", "web", "/tmp/x")
    assert one.startswith("/tmp/x/container-") and one.endswith(".lock")
    assert one == races.lock_path(FakeClient(), "container", "web", "/tmp/x")
    assert one != races.lock_path(FakeClient(), "container", "db", "/tmp/x")
    assert one != races.lock_path(FakeClient(namespace="other"), "container", "web", "/tmp/x")
    assert one != races.lock_path(FakeClient(address="/tmp/other.sock"), "container", "web", "/tmp/x")


def test_predicted_task_per_state():
    live = dict(status="running", pid=42)
    assert task_state.predicted("running", None) == dict(status="running", pid=None)
    assert task_state.predicted("running", live) == dict(status="running", pid=42)
    assert task_state.predicted("paused", live) == dict(status="paused", pid=42)
    assert task_state.predicted("stopped", None) is None
    assert task_state.predicted("stopped", live) == dict(status="stopped", pid=42)
    assert task_state.predicted("absent", live) is None
