"""containerd_prune against the rig's containerd (1.6 and 2.1): a namespace of kept and prunable objects."""

import os
import time

import pytest

from test_cni_network import Net, define, plugin_dir


def ctr_names(containerd, namespace, *args):
    return sorted(containerd.ctr_run(*args, "ls", "-q", namespace=namespace).stdout.split())


def wait_stopped(containerd, namespace, name):
    for _attempt in range(100):
        for line in containerd.ctr_run("tasks", "ls", namespace=namespace).stdout.splitlines()[1:]:
            if line.split()[0] == name and line.split()[2] == "STOPPED":
                return
        time.sleep(0.05)
    raise AssertionError("task %s did not stop" % name)


@pytest.fixture
def net(tmp_path, uid):
    """A bridge network of CNI plugins 1.9.1 in this test's directories, removed afterwards."""
    network = Net(tmp_path, uid, plugin_dir("1.9.1"))
    yield network
    network.cleanup()


@pytest.fixture
def filled(containerd, rig_images, uid):
    """A namespace with kept objects (labelled keep, a running task, an image in use, a labelled image)
    and prunable ones (a stopped task, a container without task, an image only it uses)."""
    ns = "prune-" + uid
    ctr = containerd.ctr_run
    for image in ("busybox", "web", "multi"):
        ctr("images", "import", rig_images[image]["path"], namespace=ns)
    ctr("images", "label", "docker.io/rig/multi:1", "keep=1", namespace=ns)
    names = dict((role, "%s-%s" % (role, uid)) for role in ("keep", "live", "done", "idle"))
    ctr("containers", "create", "--label", "keep=1", "docker.io/rig/busybox:1", names["keep"], "true", namespace=ns)
    ctr("containers", "create", "docker.io/rig/busybox:1", names["live"], "sleep", "600", namespace=ns)
    ctr("tasks", "start", "-d", "--null-io", names["live"], namespace=ns)
    ctr("containers", "create", "docker.io/rig/busybox:1", names["done"], "true", namespace=ns)
    ctr("tasks", "start", "-d", "--null-io", names["done"], namespace=ns)
    ctr("containers", "create", "docker.io/rig/web:1", names["idle"], "true", namespace=ns)
    wait_stopped(containerd, ns, names["done"])
    yield ns, names
    from conftest import remove_container

    for name in names.values():
        remove_container(containerd, name, namespace=ns)
    for ref in ctr_names(containerd, ns, "images"):
        ctr("images", "rm", "--sync", ref, namespace=ns, check=False)
    ctr("namespaces", "remove", ns, check=False)


@pytest.mark.smoke
def test_prune_removes_exactly_the_prunable_objects(containerd, run_module, filled):
    ns, names = filled
    args = containerd.module_args(namespace=ns, kinds=["tasks", "containers", "images"], filters={"label!": "keep"})
    content_before = containerd.ctr_run("content", "ls", "-q", namespace=ns).stdout.split()
    predicted = run_module("containerd_prune", check=True, **args)
    assert predicted.get("failed") is not True, predicted
    assert predicted["changed"] is True
    expected = dict(tasks=[names["done"]], containers=sorted([names["done"], names["idle"]]),
                    images=["docker.io/rig/web:1"])
    for kind, wanted in expected.items():
        assert predicted["removed"][kind] == wanted, (kind, predicted["removed"])
    # The web image's own layer, manifest and config go; the busybox layer it shares stays.
    assert len(predicted["removed"]["content"]) == 3 and predicted["reclaimed_bytes"] > 0, predicted["removed"]
    assert predicted["diff"]["before"]["images"] == ["docker.io/rig/web:1"]
    assert predicted["diff"]["after"]["images"] == []
    assert containerd.ctr_run("content", "ls", "-q", namespace=ns).stdout.split() == content_before
    assert ctr_names(containerd, ns, "containers") == sorted(names.values()), "check mode changed nothing"

    pruned = run_module("containerd_prune", **args)
    assert pruned.get("failed") is not True, pruned
    assert pruned["changed"] is True
    for kind, wanted in expected.items():
        assert pruned["removed"][kind] == wanted
    assert pruned["removed"]["content"] == predicted["removed"]["content"]
    assert pruned["reclaimed_bytes"] == predicted["reclaimed_bytes"]
    assert names["idle"] in pruned["removed"]["snapshots"] and names["done"] in pruned["removed"]["snapshots"]
    assert ctr_names(containerd, ns, "containers") == sorted([names["keep"], names["live"]])
    assert ctr_names(containerd, ns, "images") == ["docker.io/rig/busybox:1", "docker.io/rig/multi:1"]
    tasks = containerd.ctr_run("tasks", "ls", namespace=ns).stdout
    assert names["live"] in tasks and "RUNNING" in tasks and names["done"] not in tasks
    content_after = containerd.ctr_run("content", "ls", "-q", namespace=ns).stdout.split()
    assert sorted(set(content_before) - set(content_after)) == [c["digest"] for c in pruned["removed"]["content"]]

    again = run_module("containerd_prune", **args)
    assert again["changed"] is False and again["removed"]["containers"] == [] and again["reclaimed_bytes"] == 0
    assert again["ctr_calls"] == 4, again  # tasks, containers, images ls, containers ls label!


def test_prune_filters_and_errors(containerd, run_module, filled):
    ns, names = filled
    # Only what carries the label, and only containers older than an hour: none of the fresh ones.
    old = run_module("containerd_prune", check=True, **containerd.module_args(
        namespace=ns, kinds=["tasks", "containers", "images"], filters={"until": "1h"}))
    assert old["changed"] is False and old["removed"]["containers"] == [] and old["removed"]["images"] == [], old
    labelled = run_module("containerd_prune", **containerd.module_args(
        namespace=ns, kinds=["containers"], filters={"label": "keep=1"}))
    assert labelled["removed"]["containers"] == [names["keep"]], labelled
    assert ctr_names(containerd, ns, "containers") == sorted([names["live"], names["done"], names["idle"]])

    unknown = run_module("containerd_prune", **containerd.module_args(
        namespace=ns, kinds=["images"], filters={"dangling": True}))
    assert unknown.get("failed") is True
    assert unknown["msg"] == "Unknown filter dangling: use label, label!, until, status."
    live = run_module("containerd_prune", **containerd.module_args(
        namespace=ns, kinds=["tasks"], filters={"status": "running"}))
    assert live.get("failed") is True
    assert live["msg"] == ("Invalid filters.status running: prune deletes only tasks that are stopped, created, "
                           "unknown, never live ones.")
    age = run_module("containerd_prune", **containerd.module_args(
        namespace=ns, kinds=["tasks"], filters={"until": "yesterday"}))
    assert age.get("failed") is True and age["msg"].startswith("Invalid filters.until 'yesterday': give an age")


def test_prune_releases_cni_attachments_of_gone_containers(containerd, run_module, rig_images, import_image,
                                                           net, uid):
    net.containerd = containerd
    define(run_module, net)
    ref = import_image(rig_images["busybox"])
    gone, kept = net.run(ref, "gone-" + uid, "sleep", "600"), net.run(ref, "kept-" + uid, "sleep", "600")
    for name in (gone, kept):
        assert run_module("cni_network", **net.attach_args(name))["changed"] is True
    # A networked container of containerd_container, deleted with ctr: its pinned namespace and files go too.
    served = "served-" + uid
    cni = net.cni_options()
    assert run_module("containerd_container", **containerd.module_args(
        name=served, image=ref, command="sleep 600", state="running", stop_timeout=0, networks=[net.name],
        cni=cni))["changed"] is True
    [pinned] = os.listdir(cni["netns_dir"])
    pinned, files = os.path.join(cni["netns_dir"], pinned), os.path.join(cni["etc_dir"], pinned)
    for name in (gone, served):
        net.kill_task(name)
        containerd.ctr_run("containers", "delete", name)
    args = containerd.module_args(kinds=["cni"], cni_conf_dir=net.conf_dir, cni_cache_dir=net.cache_dir,
                                  cni_bin_dirs=net.bin_dirs, cni_netns_dir=cni["netns_dir"], cni_etc_dir=cni["etc_dir"])
    predicted = run_module("containerd_prune", check=True, **args)
    assert predicted["changed"] is True and len(net.leases()) == 3
    assert predicted["removed"]["cni"] == sorted([dict(network=net.name, container=gone, ifname="eth0"),
                                                  dict(network=net.name, container=served, ifname="eth0")],
                                                 key=lambda item: item["container"])
    assert predicted["actions"][-2:] == ["remove network namespace %s" % pinned, "remove %s" % files], predicted
    assert os.path.exists(pinned) and os.path.isdir(files)
    pruned = run_module("containerd_prune", **args)
    assert pruned["removed"]["cni"] == predicted["removed"]["cni"] and pruned["actions"] == predicted["actions"]
    assert pruned["removed"]["containers"] == [] and pruned["ctr_calls"] <= 2
    assert len(net.leases()) == 1 and not os.path.lexists(pinned) and not os.path.lexists(files)
    assert os.listdir(os.path.join(net.cache_dir, "results")) == [os.path.basename(net.cache_file(kept))]
    assert run_module("containerd_prune", **args)["changed"] is False
