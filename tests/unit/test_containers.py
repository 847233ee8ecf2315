"""Spec summary and comparison of containerd_container, fed with `ctr containers info` recorded
from containerd 1.6 and 2.1 (tests/support/record_ctr_outputs.py)."""

import copy
import json
import os

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import container_options as options
from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
VERSIONS = ["1.6", "2.1"]


def recorded_info(version):
    with open(os.path.join(FIXTURES, "ctr-" + version, "containers_info.txt")) as handle:
        return json.load(handle)


def params(**extra):
    base = dict(command=["sleep", "600"], env=None, cwd=None, user=None, hostname=None, mounts=None,
                net_host=False, privileged=False, read_only=False, runtime=None, runtime_binary=None,
                snapshotter=None, memory_limit=None, cpu_quota=None, cpu_period=None, restart_policy="no",
                network_from=None, pid_from=None, ipc_from=None)
    base.update(extra)
    return base


def spec(**extra):
    return options.desired_spec(params(**extra), "docker.io/rig/busybox:1")


@pytest.mark.parametrize("version", VERSIONS)
def test_summary_of_recorded_info(version):
    summary = options.parse_container_info(recorded_info(version))
    assert summary["name"] == "sleeper"
    assert summary["image"] == "docker.io/rig/busybox:1"
    assert summary["command"] == ["sleep", "600"]
    assert summary["env"] == {"PATH": "/bin"}
    assert summary["cwd"] == "/"
    assert summary["user"] == "0:0"
    assert summary["runtime"] == "io.containerd.runc.v2" and summary["runtime_binary"] is None
    assert summary["snapshotter"] == "overlayfs"
    assert summary["net_host"] is False and summary["namespaces"] == {}
    assert summary["privileged"] is False and summary["read_only"] is False
    assert summary["memory_limit"] is None and summary["cpu_quota"] is None
    assert [m["destination"] for m in summary["mounts"]] == ["/proc", "/dev", "/dev/pts", "/dev/shm",
                                                             "/dev/mqueue", "/sys", "/run"]


@pytest.mark.parametrize("version", VERSIONS)
def test_recorded_container_matches_its_own_spec(version):
    summary = options.parse_container_info(recorded_info(version))
    assert options.differences(spec(), summary) == []
    view = options.container_view(summary)
    assert view["mounts"] == [] and view["labels"] == {"io.containerd.image.config.stop-signal": "SIGTERM"}
    assert view["restart_policy"] == "no" and view["network_from"] is None


@pytest.mark.parametrize("version", VERSIONS)
def test_differences_name_the_fields(version):
    summary = options.parse_container_info(recorded_info(version))
    wanted = spec(command=["sleep", "1"], env={"A": "1"}, cwd="/tmp", read_only=True, memory_limit=1024,
                  net_host=True, restart_policy="always", mounts=[{"source": "/srv", "destination": "/data"}])
    fields = [field for field, _wanted, _actual in options.differences(wanted, summary)]
    assert fields == ["command", "env.A", "cwd", "mounts./data", "net_host", "read_only", "memory_limit",
                      "restart_policy"]


def test_shared_namespace_compares_names_not_pids():
    info = recorded_info("2.1")
    info["Labels"][ctrs.NS_LABEL_PREFIX + "network"] = "web"
    info["Spec"]["linux"]["namespaces"][-1]["path"] = "/proc/100/ns/net"
    summary = options.parse_container_info(info)
    assert options.differences(spec(network_from="web"), summary) == []
    assert [d[0] for d in options.differences(spec(network_from="db"), summary)] == ["network_from"]
    assert [d[0] for d in options.differences(spec(), summary)] == ["network_from"]
    # The web task restarted with PID 200: the stored path is stale.
    assert ctrs.stale_namespaces(spec(network_from="web"), summary, {"web": {"pid": 200, "status": "running"}}) \
        == ["network_from"]
    assert ctrs.stale_namespaces(spec(network_from="web"), summary, {"web": {"pid": 100, "status": "running"}}) == []
    # web's namespace is pinned (containerd_stack's networks): a /proc path is stale, the pinned path never is.
    pinned = {"web": "/run/netns/ctrops-default-web-0a1b2c3d"}
    running = {"web": {"pid": 100, "status": "running"}}
    assert ctrs.stale_namespaces(spec(network_from="web"), summary, running, pinned) == ["network_from"]
    info["Spec"]["linux"]["namespaces"][-1]["path"] = pinned["web"]
    assert ctrs.stale_namespaces(spec(network_from="web"), options.parse_container_info(info), {}, pinned) == []
    assert ctrs.joins_pinned("network", "web", pinned) and not ctrs.joins_pinned("pid", "web", pinned)


def test_removed_option_is_caught_by_the_digest():
    info = recorded_info("2.1")
    info["Labels"][ctrs.SPEC_LABEL] = options.spec_digest(spec(env={"A": "1"}))
    info["Spec"]["process"]["env"].append("A=1")
    summary = options.parse_container_info(info)
    assert options.differences(spec(env={"A": "1"}), summary) == []
    assert [d[0] for d in options.differences(spec(), summary)] == ["options"]


def test_create_args_end_flags_before_the_image():
    wanted = spec(command=["sh", "-c", "echo hi"], env={"B": "2", "A": "1"}, net_host=True, read_only=True,
                  mounts=[{"source": "/srv", "destination": "/data", "options": ["rbind", "ro"]}],
                  memory_limit=1024, restart_policy="always")
    labels = options.managed_labels(wanted, {"team": "web"})
    assert labels[ctrs.RESTART_STATUS] == "stopped" and labels[ctrs.RESTART_POLICY] == "always"
    args = options.create_args("c1", wanted, {"team": "web"}, {"network": "/proc/1/ns/net"})
    assert args == ["containers", "create", "--env", "A=1", "--env", "B=2",
                    "--mount", "type=bind,src=/srv,dst=/data,options=rbind:ro", "--net-host",
                    "--with-ns", "network:/proc/1/ns/net", "--read-only", "--memory-limit", "1024",
                    "--label", "team=web", "--", "docker.io/rig/busybox:1", "c1", "sh", "-c", "echo hi"]


def test_digest_is_stable_and_order_free():
    assert options.spec_digest(spec(env={"A": "1", "B": "2"})) == options.spec_digest(spec(env={"B": "2", "A": "1"}))
    assert options.spec_digest(spec()) != options.spec_digest(spec(cwd="/tmp"))


def test_runtime_options_are_decoded():
    info = copy.deepcopy(recorded_info("2.1"))
    info["Runtime"]["Options"]["value"] = "MgwvdXNyL2Jpbi9ydW5j"  # protobuf field with "/usr/bin/runc"
    summary = options.parse_container_info(info)
    assert "/usr/bin/runc" in summary["runtime_binary"]
    assert options.differences(spec(runtime_binary="/usr/bin/runc"), summary) == []
    assert [d[0] for d in options.differences(spec(runtime_binary="/usr/sbin/crun"), summary)] == ["runtime_binary"]


@pytest.mark.parametrize("text, pids", [
    ("PID     INFO\n5645    -\n", [5645]),
    ("PID     INFO\n5645    -\n5700    -\n", [5645, 5700]),
    ("PID     INFO\n", []),
])
def test_task_ps(text, pids):
    assert ctrs.parse_task_ps(text) == pids


@pytest.mark.parametrize("text, status", [
    ('time="2026-11-28T12:05:01Z" level=warning msg="task a exit with non-zero exit code 7"\n', 7),
    ("", 0),
])
def test_exit_status(text, status):
    assert ctrs.parse_exit_status(text) == status


# -- the option table ------------------------------------------------------------------

# A value for every option that is read back (a created container's info shows it), in the
# module's input form, with what that container's `ctr containers info` says. Adding an option
# to the table needs a sample here (test_every_read_option_has_a_sample).
DEFAULT_CAPS = list(options.DEFAULT_CAPABILITIES)
# One bounding set and one mount list for the options that read them, so that every sample holds in one info.
BOUNDING = sorted(set(DEFAULT_CAPS + ["CAP_NET_ADMIN"]) - {"CAP_CHOWN"})
MOUNTS = [{"type": "bind", "source": "/srv", "destination": "/data", "options": ["rbind", "rw"]},
          {"type": "tmpfs", "source": "ctrops-tmpfs", "destination": "/cache",
           "options": ["size=64m", "noexec", "nosuid", "nodev"]},
          {"type": "tmpfs", "source": "ctrops-shm", "destination": "/dev/shm",
           "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=1048576"]}]
SAMPLES = {
    "image": ("rig/web:1", {"Image": "docker.io/rig/web:1"}),
    "command": (["sleep", "1"], {"Spec": {"process": {"args": ["sleep", "1"]}}}),
    "env": ({"A": 1}, {"Spec": {"process": {"env": ["PATH=/bin", "A=1"]}}}),
    "secret_env": ({"TOKEN": "s3cret"}, {"Labels": {"ctrops.containerd/secret-env": "TOKEN"},
                                         "Spec": {"process": {"env": ["PATH=/bin", "A=1", "TOKEN=s3cret"]}}}),
    "cwd": ("/tmp", {"Spec": {"process": {"cwd": "/tmp"}}}),
    "user": ("65534:65534", {"Spec": {"process": {"user": {"uid": 65534, "gid": 65534}}}}),
    "hostname": ("box", {"Spec": {"hostname": "box"}}),
    "mounts": ([{"type": None, "source": "/srv", "destination": "/data", "options": None}],
               {"Spec": {"mounts": MOUNTS}}),
    "tmpfs": ({"/cache": "size=64m"}, {"Spec": {"mounts": MOUNTS}}),
    "shm_size": ("1m", {"Spec": {"mounts": MOUNTS}}),
    "capabilities": (["net_admin"], {"Spec": {"process": {"capabilities": {"bounding": BOUNDING}}}}),
    "cap_drop": (["CAP_CHOWN"], {"Spec": {"process": {"capabilities": {"bounding": BOUNDING}}}}),
    "no_new_privileges": (False, {"Spec": {"process": {"noNewPrivileges": False}}}),
    "seccomp_profile": ("default", {"Spec": {"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}}}}),
    "apparmor_profile": ("ctrops-test", {"Spec": {"process": {"apparmorProfile": "ctrops-test"}}}),
    "annotations": ({"org.example/a": 1}, {"Spec": {"annotations": {"org.example/a": "1"}}}),
    "devices": (["/dev/null:/dev/xnull:rw"], {"Spec": {"linux": {
        "devices": [{"path": "/dev/xnull", "type": "c", "major": 1, "minor": 3, "fileMode": 438, "uid": 0, "gid": 0}],
        "resources": {"devices": [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]}}}}),
    "ulimits": ({"nofile": 4096, "NPROC": "100:200"}, {"Spec": {"process": {"rlimits": [
        {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}, {"type": "RLIMIT_NPROC", "hard": 200, "soft": 100}]}}}),
    "sysctls": ({"net.ipv4.ip_unprivileged_port_start": 80},
                {"Spec": {"linux": {"sysctl": {"net.ipv4.ip_unprivileged_port_start": "80"}}}}),
    "pids_limit": (77, {"Spec": {"linux": {"resources": {"pids": {"limit": 77}}}}}),
    "cpu_shares": (512, {"Spec": {"linux": {"resources": {"cpu": {"shares": 512}}}}}),
    "cpuset_cpus": ("0", {"Spec": {"linux": {"resources": {"cpu": {"cpus": "0"}}}}}),
    "cpuset_mems": ("0", {"Spec": {"linux": {"resources": {"cpu": {"mems": "0"}}}}}),
    "groups": (["1234"], {"Spec": {"process": {"user": {"additionalGids": [0, 1234]}}}}),
    "oom_score_adj": (123, {"Spec": {"process": {"oomScoreAdj": 123}}}),
    "cpus": (1.5, {"Spec": {"linux": {"resources": {"cpu": {"quota": 15000, "period": 10000}}}}}),
    "net_host": (True, {"Spec": {"linux": {"namespaces": [{"type": "pid"}]}}}),
    "network_from": ("web", {"Labels": {"ctrops.containerd/ns.network": "web"},
                             "Spec": {"linux": {"namespaces": [{"type": "network", "path": "/proc/9/ns/net"}]}}}),
    "pid_from": ("/proc/9/ns/pid", {"Labels": {"ctrops.containerd/ns.pid": "/proc/9/ns/pid"},
                                    "Spec": {"linux": {"namespaces": [{"type": "pid", "path": "/proc/9/ns/pid"},
                                                                      {"type": "network"}]}}}),
    "ipc_from": ("/proc/9/ns/ipc", {"Labels": {"ctrops.containerd/ns.ipc": "/proc/9/ns/ipc"},
                                    "Spec": {"linux": {"namespaces": [{"type": "ipc", "path": "/proc/9/ns/ipc"},
                                                                      {"type": "network"}]}}}),
    "privileged": (True, {"Spec": {"linux": {"maskedPaths": []}}}),
    "read_only": (True, {"Spec": {"root": {"readonly": True}}}),
    "runtime": ("io.containerd.runc.v1", {"Runtime": {"Name": "io.containerd.runc.v1"}}),
    "runtime_binary": ("/usr/bin/runc", {"Runtime": {"Options": {"value": "MgwvdXNyL2Jpbi9ydW5j"}}}),
    "snapshotter": ("native", {"Snapshotter": "native"}),
    "memory_limit": ("1k", {"Spec": {"linux": {"resources": {"memory": {"limit": 1024}}}}}),
    "cpu_quota": (15000, {"Spec": {"linux": {"resources": {"cpu": {"quota": 15000}}}}}),
    "cpu_period": (10000, {"Spec": {"linux": {"resources": {"cpu": {"period": 10000}}}}}),
    "restart_policy": ("always", {"Labels": {"containerd.io/restart.policy": "always",
                                             "containerd.io/restart.status": "stopped"}}),
}


def merged(base, extra):
    """``base`` (recorded info) with the nested dicts of ``extra`` laid over it."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def test_every_option_is_declared_completely():
    names = [option.name for option in options.OPTIONS]
    assert len(names) == len(set(names))
    for option in options.OPTIONS:
        assert option.group in ("spec", "task", "labels"), option
        assert option.spec.get("type"), option
        if option.group == "spec":
            assert option.read is not None, option
            assert option.compare is not None, option
            # cpus is carried by the flags of cpu_quota and cpu_period, which it derives; what ctr has no flag
            # for is an edit of the spec ctr made.
            assert option.flags is not None or option.edit is not None or \
                option.name in ("image", "command", "cpus"), option
            assert option.doc and all(len(sentence) > 1 for sentence in option.doc), option
        if option.min_ctr:
            assert option.flag, "a version-gated option names its flag (for the error message): %s" % option


def test_task_options_are_apart_from_spec_options():
    task = [option.name for option in options.OPTIONS if option.group == "task"]
    assert task == ["restart_policy", "stop_signal", "stop_timeout"]
    assert all(options.BY_NAME[name].flags is None for name in task), "task options make no create flags"


def test_argument_spec_is_derived():
    spec = options.argument_spec()
    assert set(spec) == set(option.name for option in options.OPTIONS)
    assert spec["restart_policy"] == dict(type="str", default="no",
                                          choices=["no", "always", "on-failure", "unless-stopped"])
    spec["runtime"]["default"] = "changed"
    assert options.argument_spec()["runtime"]["default"] == "io.containerd.runc.v2", "a fresh copy each time"


def test_every_read_option_has_a_sample():
    assert set(SAMPLES) == set(option.name for option in options.DESIRED)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_option_read_back_compares_equal(version, name):
    """A container made with the option set reads back as the option: no difference, and a flag (or label)
    that carries it to ctr."""
    value, info_extra = SAMPLES[name]
    wanted = options.desired_spec(params(**dict({"image": "rig/busybox:1"}, **{name: value})))
    info = merged(recorded_info(version), info_extra)
    summary = options.parse_container_info(info)
    assert options.BY_NAME[name].differences(wanted[name], summary) == []
    plain = options.desired_spec(params(image="rig/busybox:1"))
    if name != "image" and wanted[name] != plain[name]:
        # Set, the option differs from the recorded container that does not have it.
        plain_summary = options.parse_container_info(recorded_info(version))
        assert options.BY_NAME[name].differences(wanted[name], plain_summary) != [], name
    if options.BY_NAME[name].edit:
        # Given to containerd in the spec ctr made: that spec, completed, reads back as the option.
        made = recorded_info(version)
        made["Spec"] = options.edit_spec(made["Spec"], wanted)
        assert options.BY_NAME[name].differences(wanted[name], options.parse_container_info(made)) == [], name
        assert made["Spec"] != recorded_info(version)["Spec"], name
        return
    ns_paths = {"network": "/proc/9/ns/net", "pid": "/proc/9/ns/pid", "ipc": "/proc/9/ns/ipc"}
    args = options.create_args("c1", wanted, options.managed_labels(wanted, None), ns_paths)
    plain_args = options.create_args("c1", plain, options.managed_labels(plain, None), {})
    assert [a for a in args if not a.startswith(options.SPEC_LABEL)] != \
        [a for a in plain_args if not a.startswith(options.SPEC_LABEL)], name


def test_check_mode_prediction_matches_read_back():
    wanted = options.desired_spec(params(**dict((n, v) for n, (v, _i) in SAMPLES.items())))
    info = recorded_info("2.1")
    for _value, extra in SAMPLES.values():
        info = merged(info, extra)
    info["Spec"]["linux"]["namespaces"] = [{"type": "pid", "path": "/proc/9/ns/pid"},
                                           {"type": "ipc", "path": "/proc/9/ns/ipc"}]
    predicted = options.wanted_view(wanted, None, None)
    actual = options.container_view(options.parse_container_info(info))
    for field in options.VIEW_FIELDS:
        # devices and capabilities: the privileged sample has every host device and capability, so privileged
        # shows and is compared instead.
        if field not in ("env", "labels", "network_from", "net_host", "devices", "groups", "capabilities",
                         "cap_drop"):
            assert predicted[field] == actual[field], field
    # The image's variables and groups are not known before the create: the prediction holds what the task adds.
    assert set(predicted["env"].items()) <= set(actual["env"].items())
    assert set(predicted["groups"]) <= set(actual["groups"])


def test_secret_env_values_stay_out_of_view_digest_args_and_differences():
    wanted = options.desired_spec(params(image="rig/busybox:1", secret_env={"TOKEN": "s3cret"}))
    info = merged(recorded_info("2.1"), SAMPLES["secret_env"][1])
    summary = options.parse_container_info(info)
    view = options.container_view(summary)
    predicted = options.wanted_view(wanted, None, None)
    labels = options.managed_labels(wanted, None)
    args = options.create_args("c1", wanted, labels, {}, env_file="/tmp/x/env")
    assert view["secret_env"] == predicted["secret_env"] == ["TOKEN"]
    assert "TOKEN" not in view["env"]
    assert "--env-file" in args and "/tmp/x/env" in args
    for shown in (view, predicted, labels, args):
        assert "s3cret" not in repr(shown)
    changed = options.desired_spec(params(image="rig/busybox:1", secret_env={"TOKEN": "other"}))
    assert options.spec_digest(changed) == options.spec_digest(wanted), "the digest holds keys only"
    assert options.differences(changed, summary) == [("secret_env.TOKEN", "(hidden)", "(hidden)")]
    assert options.differences(wanted, summary) == []
    removed = options.desired_spec(params(image="rig/busybox:1"))
    assert options.BY_NAME["secret_env"].differences(removed["secret_env"], summary) == \
        [("secret_env.TOKEN", None, "(hidden)")]


@pytest.mark.parametrize("bad, message", [
    (dict(secret_env={"A": "x\ny"}), "a value with a line break"),
    (dict(secret_env={"A": "x"}, env={"A": "y"}), "Variable A is in both env and secret_env"),
    (dict(secret_env={"A=B": "x"}), "Invalid environment variable name"),
])
def test_secret_env_is_checked(bad, message):
    with pytest.raises(InvalidInput) as raised:
        options.validate_params(params(image="rig/busybox:1", **bad))
    assert message in raised.value.message


def test_secret_env_input_carries_lines_and_names():
    text = ctrs.secret_env_input({"B": "two\nlines", "A": ""})
    assert text == "A\n1\n\nB\n2\ntwo\nlines\n\n"


def test_digest_of_the_desired_spec_is_unchanged():
    """Containers created by earlier versions keep their options digest (else every one would be recreated)."""
    assert options.spec_digest(spec()) == "sha256:d1a1a35f6bb701c4664abb7ae0050d35"
    full = params(command=["sh", "-c", "x"], env={"A": 1}, cwd="/tmp", user="1:2", hostname="h",
                  mounts=[{"type": None, "source": "/srv", "destination": "/d", "options": None},
                          {"type": "tmpfs", "source": None, "destination": "/t", "options": ["size=1m"]}],
                  net_host=True, privileged=True, read_only=True, runtime="io.containerd.runc.v2",
                  runtime_binary="/usr/bin/runc", snapshotter="native", memory_limit=1024, cpu_quota=5000,
                  cpu_period=10000, restart_policy="always", pid_from="web", ipc_from="/proc/1/ns/ipc")
    assert options.spec_digest(options.desired_spec(full, "docker.io/rig/busybox:1")) == \
        "sha256:d3f194df31e6cc7e32a79b6d06fe5b01"


class Versions:
    def __init__(self, client, server):
        self.calls = 0
        self.found = {"client": client, "server": server}

    def __call__(self):
        self.calls += 1
        return self.found


def test_versions_are_probed_only_when_an_option_needs_them():
    probe = Versions((1, 6, 20), (1, 6, 20))
    options.check_versions(spec(env={"A": "1"}, restart_policy="always"), probe, "/usr/bin/ctr")
    assert probe.calls == 0
    with pytest.raises(options.ModuleError) as refused:
        options.check_versions(spec(user="1", hostname="h"), probe, "/usr/bin/ctr")
    assert refused.value.message == (
        "The ctr at /usr/bin/ctr (containerd 1.6.20) has no --user, --hostname for containers create (the ctr of "
        "containerd 1.6 lacks --user, --hostname and --runc-binary): leave that option out or use containerd 1.7 "
        "or later.")
    with pytest.raises(options.ModuleError) as policy:
        options.check_versions(spec(restart_policy="on-failure"), probe, "/usr/bin/ctr")
    assert policy.value.message.startswith("restart_policy=on-failure needs containerd 1.7 or later (this one is "
                                           "1.6.20, whose restart monitor knows no policy): use always or no.")
    newer = Versions((2, 1, 4), (2, 1, 4))
    options.check_versions(spec(user="1", hostname="h", runtime_binary="/usr/bin/runc",
                                restart_policy="unless-stopped"), newer, "/usr/bin/ctr")
    assert newer.calls == 1


def test_validation_of_the_table():
    good = params(name="c1", image="busybox", labels=None, stop_signal="SIGTERM")
    options.validate_params(good)
    for bad, message in [
        (dict(image=None), "state=present needs the image option"),
        (dict(env={"A=B": "1"}), "Invalid environment variable name"),
        (dict(labels={ctrs.RESTART_POLICY: "always"}), "Label containerd.io/restart.policy is managed"),
        (dict(mounts=[{"type": "tmpfs", "source": None, "destination": "x", "options": None}]),
         "Mount destination 'x' must be an absolute path."),
        (dict(net_host=True, network_from="web"), "net_host and network_from exclude each other"),
        (dict(pid_from="c1"), "pid_from names the container itself."),
        (dict(memory_limit="lots"), "Invalid memory_limit 'lots'"),
        (dict(stop_signal="TERMINATE"), "Invalid signal 'TERMINATE'"),
    ]:
        with pytest.raises(options.InvalidInput) as refused:
            options.validate_params(dict(good, **bad))
        assert refused.value.message.startswith(message), (bad, refused.value.message)


def test_command_as_a_string_is_split_as_a_shell_would():
    command = options.BY_NAME["command"]
    assert command.desired({"command": "sh -c 'echo hi'"}) == ["sh", "-c", "echo hi"]
    assert command.desired({"command": ["sleep", 600]}) == ["sleep", "600"]
    with pytest.raises(InvalidInput):
        command.check('sleep "600', {})


# Bad values of the container options: one sentence naming the option, before any ctr call.
BAD_VALUES = [
    (dict(capabilities=["NET_WIZARD"]), "capabilities: unknown capability 'NET_WIZARD'"),
    (dict(capabilities=["ALL"]), "capabilities: ALL is what privileged=true gives"),
    (dict(cap_drop=["CHOWN"], privileged=True), "cap_drop and privileged exclude each other"),
    (dict(devices=["/dev/nope"]), "devices: /dev/nope does not exist on this host."),
    (dict(devices=["/etc/hostname"]), "devices: /etc/hostname is not a character or block device."),
    (dict(devices=["/dev/null:/dev/x:rwx"]), "devices /dev/null:/dev/x:rwx: permissions 'rwx' must be letters of"),
    (dict(devices=["dev/null"]), "devices: 'dev/null' is not HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]"),
    (dict(seccomp_profile="/nonexistent/profile.json"), "seccomp_profile /nonexistent/profile.json cannot be read"),
    (dict(seccomp_profile="strict"), "seccomp_profile 'strict' must be default, unconfined or the absolute path"),
    (dict(cpus=0), "cpus must be more than 0"),
    (dict(cpus=4096), "cpus 4096 is more than the"),
    (dict(cpus=1, cpu_quota=1000), "cpus and cpu_quota/cpu_period set the same limit"),
    (dict(ulimits={"nofiles": 10}), "ulimits: unknown limit 'nofiles'"),
    (dict(ulimits={"nofile": "20:10"}), "ulimits nofile: the soft limit 20 is above the hard limit 10."),
    (dict(ulimits={"nofile": "many"}), "ulimits nofile: 'many' is not a number of 0 or more (or unlimited)."),
    (dict(sysctls={"vm.swappiness": 1}), "sysctls: vm.swappiness is not kept per container"),
    (dict(sysctls={"net.core.somaxconn": 1}, net_host=True), "sysctls: net.core.somaxconn would change the host's"),
    (dict(pids_limit=0), "pids_limit must be 1 or more, not 0."),
    (dict(cpu_shares=1), "cpu_shares must be from 2 to 262144, not 1."),
    (dict(cpuset_cpus="0-4096"), "cpuset_cpus 0-4096 names CPUs this host lacks"),
    (dict(cpuset_cpus="zero"), "cpuset_cpus 'zero' is not a list such as 0-2,4."),
    (dict(cpuset_mems="0-64"), "cpuset_mems 0-64 names memory nodes this host lacks"),
    (dict(groups=["wheel"]), "groups: 'wheel' is not a numeric GID"),
    (dict(oom_score_adj=2000), "oom_score_adj must be from -1000 to 1000, not 2000."),
    (dict(shm_size="1k"), "shm_size '1k' is less than one page"),
    (dict(shm_size="lots"), "Invalid shm_size 'lots'"),
    (dict(tmpfs={"cache": ""}), "tmpfs: 'cache' must be an absolute path"),
    (dict(tmpfs={"/cache": "mode=1777:size=1m"}), "tmpfs /cache: options 'mode=1777:size=1m' contain"),
    (dict(annotations={"a=b": "c"}), "annotations: key 'a=b' must be non-empty and without"),
]


@pytest.mark.parametrize("change,message", BAD_VALUES, ids=[message[:30] for _c, message in BAD_VALUES])
def test_bad_option_values_name_the_option(change, message):
    with pytest.raises(InvalidInput) as caught:
        options.validate_params(params(image="rig/busybox:1", **change))
    assert str(caught.value).startswith(message), str(caught.value)


def test_apparmor_profile_is_refused_where_apparmor_is_off():
    if os.path.isdir("/sys/kernel/security/apparmor"):
        options.validate_params(params(image="rig/busybox:1", apparmor_profile="ctrops"))
        return
    with pytest.raises(InvalidInput) as caught:
        options.validate_params(params(image="rig/busybox:1", apparmor_profile="ctrops"))
    assert str(caught.value).startswith("apparmor_profile ctrops: AppArmor is not enabled on this host")


def test_options_ctr_has_no_flag_for_add_to_the_spec_ctr_made():
    """The spec edits keep what ctr and the image put there: other rlimits, the image's groups, default devices."""
    made = recorded_info("2.1")["Spec"]
    wanted = options.desired_spec(params(image="rig/busybox:1", ulimits={"nproc": 10}, groups=["7"],
                                         devices=["/dev/null:/dev/xnull"], sysctls={"net.core.somaxconn": 9}))
    edited = options.edit_spec(made, wanted)
    assert {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024} in edited["process"]["rlimits"]
    assert {"type": "RLIMIT_NPROC", "hard": 10, "soft": 10} in edited["process"]["rlimits"]
    assert edited["process"]["user"]["additionalGids"] == [0, 7]
    rules = edited["linux"]["resources"]["devices"]
    assert rules[:-1] == made["linux"]["resources"]["devices"] and rules[-1]["access"] == "rwm"
    assert edited["linux"]["sysctl"] == {"net.core.somaxconn": "9"}
    assert made == recorded_info("2.1")["Spec"], "edit_spec leaves its input alone"
    assert options.spec_edits(options.desired_spec(params(image="rig/busybox:1"))) == []


def test_new_options_leave_the_digest_of_older_containers_alone():
    """Options added after 0.2 count in the digest only when set: an upgrade recreates nothing."""
    spec = options.desired_spec(params(image="rig/busybox:1"))
    older = dict((key, value) for key, value in spec.items() if not options.BY_NAME[key].omit_unset)
    assert options.spec_digest(spec) == options.spec_digest(older)
    assert options.spec_digest(options.desired_spec(params(image="rig/busybox:1", pids_limit=5))) != \
        options.spec_digest(spec)
