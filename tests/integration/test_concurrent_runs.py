"""Runs that converge the same objects at the same moment (two plays, overlapping AWX jobs, a fleet run
plus an ad-hoc fix) all succeed and leave the declared state, for every version of the matrix.

Two kinds of test: several real module runs started at once (separate processes, as separate plays
are), and a run that loses a race for sure: its ctr makes the same change just before the module's own
call, as another run would that got there a moment earlier.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from test_containerd_container import exec_in, info, task

RUNS = 4


def at_once(run_module_raw, module, **args):
    """``RUNS`` runs of ``module`` started together, each its own process; their results."""
    with ThreadPoolExecutor(RUNS) as pool:
        futures = [pool.submit(run_module_raw, module, **args) for _run in range(RUNS)]
        results = [future.result()[0] for future in futures]
    for result in results:
        assert result.get("failed") is not True, result
    return results


def beaten_ctr(containerd, tmp_path, when):
    """A ctr that, for a call whose arguments contain ``when``, first makes the same call itself: the
    module's own call then finds the work done by "another run"."""
    wrapper = tmp_path / "ctr-beaten"
    wrapper.write_text('#!/bin/sh\ncase "$*" in *"%s"*) %s "$@" >/dev/null 2>&1;; esac\nexec %s "$@"\n'
                       % (when, containerd.ctr, containerd.ctr))
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture
def ns(containerd, uid, run_module):
    name = "race-" + uid
    yield name
    run_module("containerd_namespace", **containerd.module_args(name=name, state="absent", force=True))


# -- containers and tasks ----------------------------------------------------------------------------

def test_running_container_converged_by_several_runs_at_once(containerd, run_module, run_module_raw, busybox,
                                                             container_name):
    name = container_name()
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"], state="running",
                                  stop_timeout=1)
    results = at_once(run_module_raw, "containerd_container", **args)
    assert sum(result["changed"] for result in results) == 1, results
    pid, status = task(containerd, name)
    assert status == "RUNNING"
    assert all(result["task"]["pid"] == pid for result in results), results

    # A new spec, from several runs at once: recreated once, running the new spec.
    changed = dict(args, env={"MODE": "new"})
    results = at_once(run_module_raw, "containerd_container", **changed)
    assert sum(result["changed"] for result in results) == 1, results
    new_pid, status = task(containerd, name)
    assert status == "RUNNING" and new_pid != pid
    assert exec_in(containerd, name, "sh", "-c", "echo $MODE").stdout == "new\n"
    assert run_module("containerd_container", **changed)["changed"] is False


def test_task_started_by_several_runs_at_once(containerd, run_module, run_module_raw, busybox, container_name):
    name = container_name()
    run_module("containerd_container", **containerd.module_args(name=name, image="rig/busybox:1",
                                                                command=["sleep", "600"]))
    results = at_once(run_module_raw, "containerd_task", **containerd.module_args(container=name))
    assert sum(result["changed"] for result in results) == 1, results
    assert task(containerd, name)[1] == "RUNNING"
    results = at_once(run_module_raw, "containerd_task", **containerd.module_args(container=name, state="paused"))
    assert sum(result["changed"] for result in results) == 1, results
    assert task(containerd, name)[1] == "PAUSED"


def test_a_create_and_start_lost_to_another_run_compare_instead_of_failing(
        containerd, run_module, busybox, container_name, tmp_path):
    name = container_name()
    args = containerd.module_args(name=name, image="rig/busybox:1", command=["sleep", "600"], state="running")
    wrapper = beaten_ctr(containerd, tmp_path, "containers create")
    beaten = run_module("containerd_container", **dict(args, executable=wrapper))
    assert beaten.get("failed") is not True, beaten
    # The container was the other run's work; the start was this run's own.
    assert beaten["actions"] == ["start task %s" % name], beaten
    assert task(containerd, name)[1] == "RUNNING"

    other = container_name("start")
    run_module("containerd_container", **dict(args, name=other, state="present"))
    lost_start = run_module("containerd_container", **dict(args, name=other, executable=beaten_ctr(
        containerd, tmp_path, "tasks start")))
    assert lost_start.get("failed") is not True, lost_start
    assert lost_start["changed"] is False and lost_start["actions"] == [], lost_start
    assert lost_start["task"]["status"] == "running" and task(containerd, other)[1] == "RUNNING"

    # Another run that made the container with another spec is named, not adopted.
    third = container_name("other")
    wrapper = tmp_path / "ctr-other"
    wrapper.write_text('#!/bin/sh\ncase "$*" in *"containers create"*) %s --address %s containers create -- '
                       'docker.io/rig/busybox:1 %s sleep 700 >/dev/null 2>&1;; esac\nexec %s "$@"\n'
                       % (containerd.ctr, containerd.address, third, containerd.ctr))
    wrapper.chmod(0o755)
    conflict = run_module("containerd_container", **dict(args, name=third, executable=str(wrapper)))
    assert conflict.get("failed") is True
    assert conflict["msg"] == ("Container %s was created at the same moment by another run, with another spec "
                               "(command): run again to recreate it as this task says." % third)
    assert info(containerd, third)["Spec"]["process"]["args"] == ["sleep", "700"]


# -- namespaces and images ------------------------------------------------------------------------------

def test_namespace_created_by_several_runs_at_once(containerd, run_module, run_module_raw, ns, tmp_path):
    args = containerd.module_args(name=ns, labels={"team": "ops"})
    args.pop("namespace", None)
    results = at_once(run_module_raw, "containerd_namespace", **args)
    assert sum(result["changed"] for result in results) >= 1, results
    assert all(result["namespace"]["labels"] == {"team": "ops"} for result in results), results
    assert "team=ops" in containerd.ctr_run("namespaces", "ls").stdout
    run_module("containerd_namespace", **dict(args, state="absent"))

    beaten = run_module("containerd_namespace", **dict(args, executable=beaten_ctr(
        containerd, tmp_path, "namespaces create")))
    assert beaten.get("failed") is not True, beaten
    # The other run created it with the same labels: nothing is left for this one.
    assert beaten["changed"] is False and beaten["actions"] == [], beaten


def test_image_pulled_and_tagged_by_several_runs_at_once(containerd, run_module, run_module_raw, registries,
                                                         rig_images, ns, tmp_path):
    http = registries["http"]
    name = http.ref("rig/busybox:1")
    args = containerd.module_args(name=name, plain_http=True, namespace=ns)
    results = at_once(run_module_raw, "containerd_image", **args)
    assert all(result["image"]["digest"] == rig_images["busybox"]["digest"] for result in results), results
    again = run_module("containerd_image", **args)
    assert again["changed"] is False and again["image"]["complete"] is True, again

    target = "registry.example:5000/race/busybox:1"
    tag = containerd.module_args(name=target, source="image", source_image=name, namespace=ns)
    results = at_once(run_module_raw, "containerd_image", **tag)
    assert all(result["image"]["digest"] == rig_images["busybox"]["digest"] for result in results), results

    # A tag that finds the name taken by another run's tag of the same image (ctr 1.6 says "already exists").
    beaten = run_module("containerd_image", **dict(tag, name=target + "-b", executable=beaten_ctr(
        containerd, tmp_path, "images tag")))
    assert beaten.get("failed") is not True, beaten
    assert beaten["image"]["digest"] == rig_images["busybox"]["digest"]
    if containerd.version == "1.6":  # 2.x's ctr retags a name that points at the same image without a word
        assert beaten["changed"] is False and beaten["actions"] == [], beaten
