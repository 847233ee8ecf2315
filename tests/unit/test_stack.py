import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import container_networks
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


def test_networks_of_names_and_dicts_with_interfaces_in_order():
    given = ["front", dict(name="back", cni_args={"K": "v"}), dict(name="mgmt", ifname="mgmt0")]
    wanted = container_networks.networks_of(entry("a", networks=given))
    assert wanted == [
        dict(name="front", ifname="eth0", cni_args={}, capability_args={}),
        dict(name="back", ifname="eth1", cni_args={"K": "v"}, capability_args={}),
        dict(name="mgmt", ifname="mgmt0", cni_args={}, capability_args={}),
    ]
    assert container_networks.networks_of(entry("a", state="stopped")) == []
    assert container_networks.networks_of(entry("a", state="stopped", networks=["n"]))[0]["name"] == "n"
    assert container_networks.networks_of(entry("a", state="absent", networks=["n"])) == []


@pytest.mark.parametrize("options, message", [
    (dict(network_from="b", networks=["n"]), "Container a declares networks and network_from: it has no network "
     "namespace of its own to attach, so leave one of them out."),
    (dict(networks=[dict(name="n", port=80)]), "Container a: networks entry 1 is not a network name or a dict with "
     "name (and ifname, cni_args, capability_args): port is unknown."),
    (dict(networks=[["n"]]), "Container a: networks entry 1 is not a network name or a dict with name (and ifname, "
     "cni_args, capability_args)."),
    (dict(networks=["bad/name"]), "Container a: network name 'bad/name' is not valid: use letters, digits, \"_\", "
     "\".\" and \"-\", starting with a letter or digit."),
    (dict(networks=[dict(name="n", ifname="a-very-long-interface")]), "Container a: ifname 'a-very-long-interface' "
     "of network n is not an interface name: 1 to 15 characters without \"/\"."),
    (dict(networks=["n", dict(name="m", ifname="eth0")]), "Container a attaches two networks through interface "
     "eth0: give each its own ifname."),
    (dict(networks=[dict(name="n", cni_args="K=v")]), "Container a: cni_args of network n must be a dict."),
])
def test_networks_of_refuses_bad_input_in_one_sentence(options, message):
    with pytest.raises(InvalidInput) as caught:
        container_networks.networks_of(entry("a", **options))
    assert caught.value.message == message
