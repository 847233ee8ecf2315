"""registry_push against the rig's registries (HTTP, TLS, TLS + htpasswd, TLS + Bearer tokens), per matrix version."""

import os
import socket
import subprocess
import sys

import pytest

from rig.images import build_image, remote_digest
from rig.registry import free_port
from test_containerd_image import ProcScanner, secret_forms

NOOP_MAX_CALLS = 1


@pytest.fixture
def ns(containerd, uid, run_module):
    name = "push-" + uid
    yield name
    run_module("containerd_namespace", **containerd.module_args(name=name, state="absent", force=True))


@pytest.fixture
def local(containerd, ns, rig_images):
    """The rig busybox imported into the test's namespace: (name, digest)."""
    containerd.ctr_run("images", "import", rig_images["busybox"]["path"], namespace=ns)
    return rig_images["busybox"]["ref"], rig_images["busybox"]["digest"]


def push(containerd, ns, run_module, check=False, **args):
    return run_module("registry_push", check=check, **containerd.module_args(namespace=ns, **args))


def local_names(containerd, ns):
    return containerd.ctr_run("images", "ls", "-q", namespace=ns).stdout.split()


@pytest.mark.smoke
def test_push_only_when_the_remote_differs(containerd, run_module, registries, ns, local, uid, tmp_path,
                                           counting_ctr):
    http = registries["http"]
    name, digest = local
    repo = "push-%s/busybox" % uid
    args = dict(name=name, destination=http.ref(repo + ":1"), plain_http=True)

    predicted = push(containerd, ns, run_module, check=True, **args)
    assert predicted["changed"] is True, predicted
    assert predicted["pushed"] is True
    assert predicted["remote_digest_before"] is None
    assert predicted["actions"] == ["tag %s as %s" % (name, http.ref(repo + ":1")), "push %s" % http.ref(repo + ":1")]
    assert remote_digest(http, repo, "1") is None, "check mode pushed"
    assert http.ref(repo + ":1") not in local_names(containerd, ns), "check mode tagged"

    pushed = push(containerd, ns, run_module, **args)
    assert pushed["changed"] is True, pushed
    assert pushed["local_digest"] == digest
    assert pushed["remote_digest_after"] == digest
    assert remote_digest(http, repo, "1") == digest
    assert pushed["diff"]["before"]["remote_digest"] is None
    assert pushed["diff"]["after"]["remote_digest"] == digest
    assert http.ref(repo + ":1") in local_names(containerd, ns), "keep_tag=true keeps the destination tag"

    again = push(containerd, ns, run_module, **args)
    assert again["changed"] is False, again
    assert again["pushed"] is False
    assert again["ctr_calls"] <= NOOP_MAX_CALLS, again["ctr_calls"]
    executable, count = counting_ctr
    count()
    counted = push(containerd, ns, run_module, executable=executable, **args)
    assert counted["changed"] is False
    assert count() == counted["ctr_calls"] == NOOP_MAX_CALLS
    assert push(containerd, ns, run_module, check=True, **args)["changed"] is False

    forced = push(containerd, ns, run_module, check=True, force=True, **args)
    assert forced["changed"] is True and forced["actions"] == ["push %s" % http.ref(repo + ":1")]

    # The local image is rebuilt under the same name: another digest, pushed again.
    rebuilt = build_image(str(tmp_path / "rebuilt.tar"), name, "busybox", variant_tag=uid)
    containerd.ctr_run("images", "import", rebuilt["path"], namespace=ns)
    predicted = push(containerd, ns, run_module, check=True, **args)
    assert predicted["changed"] is True
    assert predicted["remote_digest_before"] == digest
    assert predicted["remote_digest_after"] == rebuilt["digest"]
    applied = push(containerd, ns, run_module, **args)
    assert applied["changed"] is True
    assert remote_digest(http, repo, "1") == rebuilt["digest"]


def test_composed_destination_without_keeping_the_tag(containerd, run_module, registries, ns, local, uid):
    http = registries["http"]
    name, digest = local
    args = dict(name=name, registry=http.host, repository="team-%s/app" % uid, plain_http=True, keep_tag=False)
    destination = http.ref("team-%s/app:1" % uid)

    pushed = push(containerd, ns, run_module, **args)
    assert pushed["changed"] is True, pushed
    assert pushed["destination"] == destination
    assert pushed["actions"][-1] == "remove local tag %s" % destination
    assert local_names(containerd, ns) == [name]
    assert remote_digest(http, "team-%s/app" % uid, "1") == digest
    again = push(containerd, ns, run_module, **args)
    assert again["changed"] is False, again
    assert local_names(containerd, ns) == [name]

    # Defaults from the local image: its path and tag.
    composed = push(containerd, ns, run_module, check=True, name=name, registry=http.host, plain_http=True)
    assert composed["destination"] == http.ref("rig/busybox:1")


def test_tls_needs_the_ca(containerd, run_module, registries, ns, local, uid):
    tls = registries["tls"]
    name, digest = local
    failed = push(containerd, ns, run_module, name=name, destination=tls.ref("tls-%s/a:1" % uid))
    assert failed.get("failed") is True
    assert failed["msg"].startswith("TLS verification of registry %s failed (" % tls.host), failed["msg"]
    assert "ca_cert" in failed["msg"]

    with_ca = push(containerd, ns, run_module, name=name, destination=tls.ref("tls-%s/a:1" % uid), ca_cert=tls.ca_cert)
    assert with_ca["changed"] is True, with_ca
    assert remote_digest(tls, "tls-%s/a" % uid, "1") == digest

    with_hosts = push(containerd, ns, run_module, name=name, destination=tls.ref("tls-%s/b:1" % uid),
                      hosts_dir=tls.hosts_dir)
    assert with_hosts["changed"] is True, with_hosts
    assert remote_digest(tls, "tls-%s/b" % uid, "1") == digest


@pytest.mark.parametrize("flavour", ["basic", "token"])
def test_credentials_never_leak(containerd, run_module, run_module_raw, registries, token_registry, ns, local, uid,
                                flavour):
    registry = registries["auth"] if flavour == "basic" else token_registry
    name, digest = local
    common = dict(name=name, destination=registry.ref("auth-%s/app:1" % uid), hosts_dir=registry.hosts_dir,
                  username=registry.username)

    # The module file run directly: its raw output is what it printed, before any masking by Ansible.
    with ProcScanner(registry.password) as scanner:
        pushed, raw = run_module_raw("registry_push", **containerd.module_args(namespace=ns, password=registry.password,
                                                                               **common))
    assert pushed["changed"] is True, raw[-3000:]
    assert scanner.ctr_scans > 0, "no scan saw ctr alive (%d scans)" % scanner.scans
    assert scanner.found == [], "the password appeared in %s" % scanner.found
    assert [form for form in secret_forms(registry.username, registry.password) if form in raw] == []
    assert remote_digest_as(registry, "auth-%s/app" % uid) == digest
    if flavour == "token":
        assert any(r["user"] == registry.username for r in registry.token_server.requests), \
            "the Bearer token flow was not used"

    again = push(containerd, ns, run_module, password=registry.password, **common)
    assert again["changed"] is False, again

    wrong, raw = run_module_raw("registry_push", **containerd.module_args(namespace=ns, password="not-the-password",
                                                                          force=True, **common))
    assert wrong.get("failed") is True
    assert "refused the credentials of user %s (HTTP 401)" % registry.username in wrong["msg"], wrong["msg"]
    assert [form for form in secret_forms(registry.username, "not-the-password") if form in raw] == []

    if flavour == "token":
        # A repository the account may only pull from (a read-only project on Harbor-like registries).
        registry.token_server.read_only.add("ro-%s/app" % uid)
        read_only = dict(common)
        read_only["destination"] = registry.ref("ro-%s/app:1" % uid)
        rejected = push(containerd, ns, run_module, password=registry.password, **read_only)
        assert rejected.get("failed") is True
        assert rejected["msg"].startswith("Registry %s rejected the push of %s: the account may not push to this "
                                          "repository" % (registry.host, registry.ref("ro-%s/app:1" % uid))), \
            rejected["msg"]
        assert registry.ref("ro-%s/app:1" % uid) not in local_names(containerd, ns), "a failed push left its tag"

    anonymous = push(containerd, ns, run_module, name=name, destination=common["destination"],
                     hosts_dir=registry.hosts_dir)
    assert anonymous["msg"] == "registry %s requires authentication (HTTP 401): set username and password." \
        % registry.host


def remote_digest_as(registry, repo):
    """The digest the registry serves, read with the module_utils client (Bearer-aware) as the registry's user."""
    from ansible_collections.ctrops.containerd.plugins.module_utils.registry import RegistryClient
    client = RegistryClient(registry.host, hosts_dir=registry.hosts_dir, username=registry.username,
                            password=registry.password)
    return client.manifest_digest(repo, "1")


def test_verbose_play_output_never_shows_the_password(containerd, token_registry, ns, local, uid, tmp_path):
    registry = token_registry
    name, _digest = local
    secrets_file = tmp_path / "secret.yml"
    secrets_file.write_text("registry_password: %s\n" % registry.password)
    secrets_file.chmod(0o600)
    playbook = tmp_path / "push.yml"
    playbook.write_text("""
- hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [%s]
  tasks:
    - name: Push with a password
      ctrops.containerd.registry_push:
        name: %s
        destination: %s
        hosts_dir: %s
        username: %s
        password: "{{ registry_password }}"
        address: %s
        executable: %s
        namespace: %s
    - name: Push with a wrong password
      ctrops.containerd.registry_push:
        name: %s
        destination: %s
        hosts_dir: %s
        username: %s
        password: "{{ registry_password }}-wrong"
        force: true
        address: %s
        executable: %s
        namespace: %s
      ignore_errors: true
""" % ((secrets_file,) + (name, registry.ref("vvv-%s/app:1" % uid), registry.hosts_dir, registry.username,
                          containerd.address, containerd.ctr, ns) * 2))
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    with ProcScanner(registry.password) as scanner:
        play = subprocess.run([binary, "-vvv", "-i", "localhost,", str(playbook)], capture_output=True, text=True,
                              timeout=300, check=False)
    output = play.stdout + play.stderr
    assert "ok=2" in output and "ignored=1" in output, output[-3000:]
    assert "changed=1" in output, output[-3000:]
    assert [form for form in secret_forms(registry.username, registry.password) if form in output] == []
    assert scanner.ctr_scans > 0, "no scan saw ctr alive (%d scans)" % scanner.scans
    assert scanner.found == []


def test_errors_are_clear(containerd, run_module, registries, ns, local):
    name, _digest = local
    http = registries["http"]
    unknown = push(containerd, ns, run_module, name="rig/nosuch:1", destination=http.ref("x/y:1"), plain_http=True)
    assert unknown["msg"] == "Unknown local image docker.io/rig/nosuch:1 in namespace %s: pull or import it first." % ns

    no_host = push(containerd, ns, run_module, name=name, destination="team/app:1")
    assert no_host["msg"] == ("Invalid destination 'team/app:1': it names no registry host; "
                              "write host[:port]/repository[:tag].")

    port = free_port()
    refused = push(containerd, ns, run_module, name=name, destination="127.0.0.1:%d/x/y:1" % port, plain_http=True)
    assert refused["msg"] == ("registry 127.0.0.1:%d is not reachable at http://127.0.0.1:%d: connection refused; "
                              "is it running, and is the port right?" % (port, port))

    unresolvable = push(containerd, ns, run_module, name=name, destination="ctrops-no-such-host.invalid:5000/x/y:1",
                        timeout=10)
    assert unresolvable["msg"].startswith("the registry host ctrops-no-such-host.invalid could not be resolved ("), \
        unresolvable["msg"]
    assert "hosts entry" in unresolvable["msg"]

    # A listener that never answers: the HEAD times out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        host = "127.0.0.1:%d" % silent.getsockname()[1]
        slow = push(containerd, ns, run_module, name=name, destination=host + "/x/y:1", plain_http=True, timeout=2)
    assert slow["msg"] == "registry %s did not answer within 2 seconds." % host
    assert local_names(containerd, ns) == [name], "a failed push left a tag behind"
