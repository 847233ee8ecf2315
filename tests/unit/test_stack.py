import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import stack
from ansible_collections.ctrops.containerd.plugins.module_utils.container_state import argument_spec
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput


def entry(name, state="running", **options):
    params = dict((key, spec.get("default")) for key, spec in argument_spec().items())
    params.update(name=name, state=state, image="busybox", **options)
    return params


def test_plan_orders_joined_containers_first_and_keeps_the_rest_in_order():
    order = stack.plan([entry("side", network_from="web"), entry("a"), entry("web"), entry("tool", pid_from="side")])
    assert [e["name"] for e in order] == ["a", "web", "side", "tool"]


def test_plan_accepts_existing_undeclared_targets_and_paths():
    order = stack.plan([entry("side", network_from="db", ipc_from="/proc/1/ns/ipc")], existing=["db"])
    assert [e["name"] for e in order] == ["side"]
    assert stack.undeclared_targets([entry("side", network_from="db", ipc_from="/proc/1/ns/ipc")]) == ["db"]


@pytest.mark.parametrize("entries, kwargs, message", [
    ([entry("a"), entry("a")], {}, "Container a is declared twice in containers: give each entry its own name."),
    ([entry("a", network_from="b")], {}, "Container a joins the network namespace of b (network_from), a container "
     "this stack does not declare and that does not exist: declare it in containers or fix the name."),
    ([entry("a", network_from="b")], dict(existing=["b"], orphans=["b"]), "Container a joins the network namespace "
     "of b (network_from), a container of this stack that is no longer declared and that remove_orphans would "
     "remove: declare it again."),
    ([entry("a", pid_from="b"), entry("b", state="stopped")], {}, "Container a joins the pid namespace of b "
     "(pid_from), which this stack declares with state=stopped: give b state=running so that it has a task to "
     "share."),
    ([entry("a", network_from="c"), entry("b", pid_from="a"), entry("c", ipc_from="b"), entry("d")], {},
     "Containers a, b and c join each other's namespaces in a cycle (a -> c -> b -> a): one of them must make "
     "its own."),
])
def test_plan_refuses_bad_stacks_in_one_sentence(entries, kwargs, message):
    with pytest.raises(InvalidInput) as caught:
        stack.plan(entries, **kwargs)
    assert caught.value.message == message


def test_settled_filter_names_what_a_no_op_needs():
    terms = stack.settled_filter(entry("web", labels={"ctrops.containerd/stack": "s"}, restart_policy="always",
                                       log_path="/var/log/web.log")).split(",")
    assert terms[:2] == ['id=="web"', 'image=="docker.io/library/busybox:latest"']
    assert terms[2].startswith('labels."ctrops.containerd/spec"=="sha256:')
    assert terms[3:] == ['labels."ctrops.containerd/stack"=="s"', 'labels."containerd.io/restart.status"=="running"',
                         'labels."ctrops.containerd/log-uri"=="file:///var/log/web.log"']
    assert stack.settled_filter(entry("web", state="stopped")) is None
    assert stack.settled_filter(entry("web", secret_env={"TOKEN": "x"})) is None
    assert stack.settled_task(entry("web"), dict(status="running", pid=1))
    assert not stack.settled_task(entry("web", state="paused"), dict(status="running", pid=1))
