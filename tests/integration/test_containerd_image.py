"""containerd_image and containerd_image_info against the rig's containerd and registries, per matrix version."""

import os
import subprocess
import sys
import threading

import pytest

from rig.images import build_docker_archive, build_image, push_archive

NOOP_PRESENT_MAX_CALLS = 2


@pytest.fixture
def ns(containerd, uid, run_module):
    """A namespace of its own per test, emptied and removed afterwards."""
    name = "img-" + uid
    yield name
    run_module("containerd_namespace", **containerd.module_args(name=name, state="absent", force=True))


def images(containerd, ns):
    """{name: digest} as the tests' own ctr sees them."""
    out = containerd.ctr_run("images", "ls", namespace=ns).stdout.splitlines()[1:]
    return {line.split()[0]: line.split()[2] for line in out if line.strip()}


def image(containerd, ns, run_module, **args):
    return run_module("containerd_image", **containerd.module_args(namespace=ns, **args))


def secret_forms(username, password):
    """The forms a password could leak in: as given, and inside a Basic Authorization header."""
    import base64

    forms = [password]
    if username:
        forms.append(base64.b64encode(("%s:%s" % (username, password)).encode()).decode())
    return forms


class ProcScanner(threading.Thread):
    """Reads every process's argv and environment while a module runs; records where a secret shows up.

    ``found`` holds (pid, "cmdline" or "environ", mount namespace) of each sighting; ``ctr_scans`` counts
    the scans made while a ctr process existed, so a test can prove the scanner saw ctr at work.
    """

    def __init__(self, secret):
        super().__init__(daemon=True)
        self.secret = secret.encode()
        self.found = []
        self.scans = 0
        self.ctr_scans = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            saw_ctr = False
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) == os.getpid():
                    continue
                for what in ("cmdline", "environ"):
                    try:
                        with open("/proc/%s/%s" % (pid, what), "rb") as handle:
                            data = handle.read()
                    except OSError:
                        continue
                    if what == "cmdline" and os.path.basename(data.split(b"\0")[0]) == b"ctr":
                        saw_ctr = True
                    if self.secret in data:
                        self.found.append((pid, what, self.mount_namespace(pid)))
            self.scans += 1
            self.ctr_scans += saw_ctr

    @staticmethod
    def mount_namespace(pid):
        try:
            return os.readlink("/proc/%s/ns/mnt" % pid)
        except OSError:
            return None

    def outside_containers(self):
        """The sightings in processes of the host's mount namespace (not inside a container)."""
        host = self.mount_namespace("self")
        return [found for found in self.found if found[2] in (host, None) or found[1] == "cmdline"]

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join()


@pytest.mark.smoke
def test_pull_is_predicted_applied_idempotent_and_cheap(containerd, run_module, registries, rig_images, ns,
                                                        counting_ctr):
    http = registries["http"]
    name = http.ref("rig/busybox:1")
    args = dict(name=name, plain_http=True)

    predicted = image(containerd, ns, run_module, check=True, **args)
    assert predicted["changed"] is True, predicted
    assert predicted["actions"] == ["pull %s" % name]
    assert images(containerd, ns) == {}, "check mode pulled"

    pulled = image(containerd, ns, run_module, **args)
    assert pulled["changed"] is True, pulled
    assert pulled["image"]["digest"] == rig_images["busybox"]["digest"]
    assert pulled["image"]["complete"] is True
    assert pulled["image"]["media_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert pulled["diff"]["before"]["exists"] is False
    assert pulled["diff"]["after"]["digest"] == rig_images["busybox"]["digest"]
    assert images(containerd, ns) == {name: rig_images["busybox"]["digest"]}

    again = image(containerd, ns, run_module, **args)
    assert again["changed"] is False, again
    assert again["actions"] == []
    assert again["diff"]["before"] == again["diff"]["after"]
    assert again["ctr_calls"] <= NOOP_PRESENT_MAX_CALLS, again["ctr_calls"]
    assert image(containerd, ns, run_module, check=True, **args)["changed"] is False

    # The module's own count agrees with a wrapper that counts real ctr executions.
    executable, count = counting_ctr
    count()
    counted = image(containerd, ns, run_module, executable=executable, **args)
    assert counted["changed"] is False
    assert count() == counted["ctr_calls"] == NOOP_PRESENT_MAX_CALLS


def test_pull_without_unpacking(containerd, run_module, registries, rig_images, ns):
    args = dict(name=registries["http"].ref("rig/busybox:1"), plain_http=True, unpack=False)
    predicted = image(containerd, ns, run_module, check=True, **args)
    assert predicted["changed"] is True
    assert predicted["image"]["unpacked"] is False
    fetched = image(containerd, ns, run_module, **args)
    assert fetched["changed"] is True, fetched
    assert fetched["image"]["digest"] == rig_images["busybox"]["digest"]
    assert fetched["image"]["complete"] is True
    assert fetched["image"]["unpacked"] is False
    assert image(containerd, ns, run_module, **args)["changed"] is False


def test_short_names_are_normalised(containerd, run_module, ns, rig_images, import_image):
    import_image(rig_images["busybox"], namespace=ns)  # docker.io/rig/busybox:1
    result = image(containerd, ns, run_module, name="rig/busybox:1", pull="never")
    assert result["changed"] is False
    assert result["image"]["name"] == "docker.io/rig/busybox:1"


def test_tls_registry_needs_its_ca(containerd, run_module, registries, rig_images, ns):
    tls = registries["tls"]
    name = tls.ref("rig/busybox:1")
    without = image(containerd, ns, run_module, name=name)
    if containerd.version == "1.6":
        assert without.get("failed") is True, without
        assert "hosts_dir" in without["msg"] and tls.host in without["msg"], without["msg"]
    else:
        # Measured: containerd 2.x does not verify TLS for registries on 127.0.0.1/localhost; verification on
        # 2.x is proven under another name by test_registry_hardening::test_tls_is_verified_under_a_registry_name.
        assert without["changed"] is True, without
        image(containerd, ns, run_module, name=name, state="absent")

    pulled = image(containerd, ns, run_module, name=name, hosts_dir=tls.hosts_dir)
    assert pulled["changed"] is True, pulled
    assert pulled["image"]["digest"] == rig_images["busybox"]["digest"]


def test_authenticated_pull_keeps_the_password_out_of_argv(containerd, run_module, run_module_raw, registries,
                                                           rig_images, ns, tmp_path):
    auth = registries["auth"]
    name = auth.ref("rig/busybox:1")
    common = dict(name=name, hosts_dir=auth.hosts_dir, username=auth.username)
    forms = secret_forms(auth.username, auth.password)

    # The module file run directly: its raw output is what it printed, before any masking by Ansible.
    with ProcScanner(auth.password) as scanner:
        pulled, raw = run_module_raw("containerd_image", **containerd.module_args(namespace=ns, password=auth.password,
                                                                                  **common))
    assert pulled["changed"] is True, raw[-3000:]
    assert scanner.ctr_scans > 0, "no scan saw ctr alive (%d scans)" % scanner.scans
    assert scanner.found == [], "the password appeared in %s" % scanner.found
    assert [form for form in forms if form in raw] == []
    assert pulled["image"]["digest"] == rig_images["busybox"]["digest"]

    # A real ad-hoc run at -vvv, the password from a vars file: nothing of it in what Ansible prints.
    image(containerd, ns, run_module, name=name, state="absent")
    secrets_file = tmp_path / "secret.yml"
    secrets_file.touch(mode=0o600)
    secrets_file.write_text("registry_password: %s\n" % auth.password)
    module_args = " ".join("%s=%s" % item for item in containerd.module_args(namespace=ns, **common).items())
    binary = os.path.join(os.path.dirname(sys.executable), "ansible")
    with ProcScanner(auth.password) as scanner:
        adhoc = subprocess.run([binary, "localhost", "-vvv", "-c", "local", "-i", "localhost,", "-e",
                                "@%s" % secrets_file, "-m", "ctrops.containerd.containerd_image", "-a",
                                module_args + " password={{ registry_password }}"],
                               capture_output=True, text=True, timeout=300, check=False)
    output = adhoc.stdout + adhoc.stderr
    assert adhoc.returncode == 0 and "CHANGED" in output, output[-3000:]
    assert [form for form in forms if form in output] == []
    assert scanner.ctr_scans > 0, "no scan saw ctr alive (%d scans)" % scanner.scans
    assert scanner.found == [], "the password appeared in %s" % scanner.found

    # pull=always in check mode resolves the digest over HTTP with the same credentials.
    predicted = image(containerd, ns, run_module, check=True, pull="always", password=auth.password, **common)
    assert predicted["changed"] is False, predicted
    assert predicted["remote_digest"] == rig_images["busybox"]["digest"]

    image(containerd, ns, run_module, name=name, state="absent")
    wrong = image(containerd, ns, run_module, password="not-the-password", **common)
    assert wrong.get("failed") is True
    assert wrong["msg"] == ("Registry %s refused the credentials of user %s (HTTP 401): check username and "
                            "password." % (auth.host, auth.username))
    anonymous = image(containerd, ns, run_module, name=name, hosts_dir=auth.hosts_dir)
    assert anonymous["msg"] == "Registry %s requires authentication (HTTP 401): set username and password." % auth.host
    assert name not in images(containerd, ns)


def test_pull_always_follows_a_moving_tag(containerd, run_module, registries, rig_images, ns, uid, tmp_path):
    http = registries["http"]
    repo = "rig/moving-%s:1" % uid
    name = http.ref(repo)
    push_archive(rig_images["busybox"]["path"], repo, registry=http, expected_digest=rig_images["busybox"]["digest"])
    args = dict(name=name, plain_http=True, pull="always")

    first = image(containerd, ns, run_module, **args)
    assert first["changed"] is True
    assert first["remote_digest"] == rig_images["busybox"]["digest"]
    same = image(containerd, ns, run_module, **args)
    assert same["changed"] is False, same
    assert image(containerd, ns, run_module, check=True, **args)["changed"] is False

    moved = build_image(str(tmp_path / "moved.tar"), "docker.io/rig/busybox:1", "busybox", variant_tag=uid)
    push_archive(moved["path"], repo, registry=http, expected_digest=moved["digest"])

    predicted = image(containerd, ns, run_module, check=True, **args)
    assert predicted["changed"] is True, predicted
    assert predicted["remote_digest"] == moved["digest"]
    assert predicted["diff"]["after"]["digest"] == moved["digest"]
    assert images(containerd, ns)[name] == rig_images["busybox"]["digest"], "check mode pulled"

    applied = image(containerd, ns, run_module, **args)
    assert applied["changed"] is True
    assert applied["image"]["digest"] == moved["digest"]
    assert applied["diff"]["before"]["digest"] == rig_images["busybox"]["digest"]
    # pull=missing does not look at the registry once the name exists.
    assert image(containerd, ns, run_module, name=name, plain_http=True)["changed"] is False


def test_multi_platform_index_is_pulled_per_platform(containerd, run_module, registries, rig_images, ns):
    # Another platform only. Whether the host's content counts as present then depends on what the
    # daemon already holds (2.x fetches every platform's manifests and shares blobs between namespaces),
    # so only the record and idempotency are asserted here.
    tls = registries["tls"]
    other = dict(name=tls.ref("rig/multi:1"), hosts_dir=tls.hosts_dir, platform="linux/arm64")
    arm = image(containerd, ns, run_module, **other)
    assert arm["changed"] is True, arm
    assert arm["image"]["digest"] == rig_images["multi"]["digest"]
    assert image(containerd, ns, run_module, **other)["changed"] is False

    http = registries["http"]
    result = image(containerd, ns, run_module, name=http.ref("rig/multi:1"), plain_http=True)
    assert result["changed"] is True, result
    assert result["image"]["digest"] == rig_images["multi"]["digest"]
    assert result["image"]["media_type"] == "application/vnd.oci.image.index.v1+json"
    assert sorted(result["image"]["platforms"]) == ["linux/amd64", "linux/arm64"]
    assert result["image"]["complete"] is True

    auth = registries["auth"]
    everything = dict(name=auth.ref("rig/multi:1"), hosts_dir=auth.hosts_dir, username=auth.username,
                      password=auth.password, all_platforms=True)
    full = image(containerd, ns, run_module, **everything)
    assert full["changed"] is True, full
    assert full["image"]["complete"] is True


def test_labels_set_and_remove(containerd, run_module, ns, rig_images, import_image):
    name = import_image(rig_images["busybox"], namespace=ns)
    labelled = image(containerd, ns, run_module, name=name, pull="never", labels={"team": "web", "tier": "1"})
    assert labelled["changed"] is True
    assert labelled["actions"] == ["set labels team, tier"]
    assert labelled["diff"]["before"]["labels"] == {}
    assert labelled["image"]["labels"] == {"team": "web", "tier": "1"}
    assert image(containerd, ns, run_module, name=name, pull="never", labels={"team": "web"})["changed"] is False

    predicted = image(containerd, ns, run_module, check=True, name=name, pull="never", labels={"tier": None})
    assert predicted["changed"] is True
    assert predicted["image"]["labels"] == {"team": "web"}
    removed = image(containerd, ns, run_module, name=name, pull="never", labels={"tier": None})
    assert removed["actions"] == ["remove labels tier"]
    assert "tier=" not in containerd.ctr_run("images", "ls", namespace=ns).stdout

    info = run_module("containerd_image_info", **containerd.module_args(namespace=ns, labels={"team": "web"}))
    assert [i["name"] for i in info["images"]] == [name]
    assert info["images"][0]["complete"] is True
    assert run_module("containerd_image_info",
                      **containerd.module_args(namespace=ns, labels={"team": "db"}))["images"] == []


def test_absent_removes_and_is_idempotent(containerd, run_module, ns, rig_images, import_image):
    name = import_image(rig_images["busybox"], namespace=ns)
    predicted = image(containerd, ns, run_module, check=True, name=name, state="absent")
    assert predicted["changed"] is True
    assert name in images(containerd, ns)
    removed = image(containerd, ns, run_module, name=name, state="absent")
    assert removed["changed"] is True
    assert removed["diff"]["before"]["digest"] == rig_images["busybox"]["digest"]
    assert removed["diff"]["after"]["exists"] is False
    assert images(containerd, ns) == {}
    assert image(containerd, ns, run_module, name=name, state="absent")["changed"] is False


def test_tag_and_retag(containerd, run_module, ns, rig_images, import_image, tmp_path):
    source = import_image(rig_images["busybox"], namespace=ns)
    args = dict(name="registry.example:5000/library/busybox:1", source="image", source_image=source)

    predicted = image(containerd, ns, run_module, check=True, **args)
    assert predicted["changed"] is True
    assert predicted["image"]["digest"] == rig_images["busybox"]["digest"]
    tagged = image(containerd, ns, run_module, **args)
    assert tagged["changed"] is True
    assert tagged["actions"] == ["tag %s as registry.example:5000/library/busybox:1" % source]
    assert images(containerd, ns)["registry.example:5000/library/busybox:1"] == rig_images["busybox"]["digest"]
    assert image(containerd, ns, run_module, **args)["changed"] is False

    other = build_image(str(tmp_path / "other.tar"), "docker.io/rig/other:1", "busybox", variant_tag="other")
    containerd.ctr_run("images", "import", other["path"], namespace=ns)
    refused = image(containerd, ns, run_module, name=args["name"], source="image", source_image="rig/other:1")
    assert refused.get("failed") is True
    assert "set force=true to move it" in refused["msg"]
    moved = image(containerd, ns, run_module, name=args["name"], source="image", source_image="rig/other:1",
                  force=True)
    assert moved["changed"] is True
    assert images(containerd, ns)[args["name"]] == other["digest"]


def test_import_export_round_trip(containerd, run_module, ns, rig_images, tmp_path, uid):
    busybox = rig_images["busybox"]
    args = dict(name=busybox["ref"], source="archive", archive_path=busybox["path"])
    predicted = image(containerd, ns, run_module, check=True, **args)
    assert predicted["changed"] is True
    assert predicted["image"]["digest"] == busybox["digest"]
    assert images(containerd, ns) == {}
    imported = image(containerd, ns, run_module, **args)
    assert imported["changed"] is True, imported
    assert imported["image"]["digest"] == busybox["digest"]
    assert image(containerd, ns, run_module, **args)["changed"] is False

    # Under another name: imported, then tagged, the archive's own name not left behind.
    renamed = image(containerd, ns, run_module, name="rig/renamed:2", source="archive", archive_path=busybox["path"])
    assert renamed["changed"] is True
    assert renamed["image"]["name"] == "docker.io/rig/renamed:2"
    assert images(containerd, ns) == {busybox["ref"]: busybox["digest"], "docker.io/rig/renamed:2": busybox["digest"]}

    out = str(tmp_path / "export.tar")
    export = dict(name=busybox["ref"], state="exported", archive_path=out, additional_names=["rig/renamed:2"])
    assert image(containerd, ns, run_module, check=True, **export)["changed"] is True
    assert not os.path.exists(out)
    written = image(containerd, ns, run_module, **export)
    assert written["changed"] is True, written
    assert oct(os.stat(out).st_mode & 0o777) == "0o644"
    unchanged = image(containerd, ns, run_module, **export)
    assert unchanged["changed"] is False, unchanged
    assert [name for name in os.listdir(str(tmp_path)) if name.startswith(".")] == [], "temporary file left"

    # Round trip: the exported archive imports elsewhere with identical digests.
    other_ns = ns + "-b"
    try:
        again = run_module("containerd_image", **containerd.module_args(
            namespace=other_ns, name="rig/renamed:2", source="archive", archive_path=out))
        assert again["changed"] is True, again
        assert again["image"]["digest"] == busybox["digest"]
    finally:
        run_module("containerd_namespace", **containerd.module_args(name=other_ns, state="absent", force=True))


def test_docker_archive_import_is_idempotent(containerd, run_module, ns, tmp_path):
    archive = build_docker_archive(str(tmp_path / "docker.tar"), "docker.io/rig/dockerfmt:1", "busybox")
    args = dict(name="rig/dockerfmt:1", source="archive", archive_path=archive["path"])
    first = image(containerd, ns, run_module, **args)
    assert first["changed"] is True, first
    again = image(containerd, ns, run_module, **args)
    assert again["changed"] is False, again


def test_mount_and_unmount(containerd, run_module, ns, rig_images, import_image, tmp_path):
    name = import_image(rig_images["busybox"], namespace=ns)
    target = tmp_path / "rootfs"
    target.mkdir()
    args = dict(name=name, state="mounted", mount_path=str(target))
    try:
        predicted = image(containerd, ns, run_module, check=True, **args)
        assert predicted["changed"] is True
        assert not (target / "bin" / "busybox").exists()
        mounted = image(containerd, ns, run_module, **args)
        assert mounted["changed"] is True, mounted
        assert (target / "bin" / "busybox").exists()
        assert image(containerd, ns, run_module, **args)["changed"] is False

        unmount = dict(name=name, state="unmounted", mount_path=str(target))
        assert image(containerd, ns, run_module, check=True, **unmount)["changed"] is True
        unmounted = image(containerd, ns, run_module, **unmount)
        assert unmounted["changed"] is True, unmounted
        assert not (target / "bin").exists()
        assert str(target) not in open("/proc/self/mountinfo").read()
        assert containerd.ctr_run("leases", "ls", "-q", namespace=ns).stdout.strip() == ""
        assert image(containerd, ns, run_module, **unmount)["changed"] is False
    finally:
        if str(target) in open("/proc/self/mountinfo").read():
            containerd.ctr_run("images", "unmount", "--rm", str(target), namespace=ns, check=False)

    notdir = tmp_path / "file"
    notdir.write_text("x")
    failed = image(containerd, ns, run_module, name=name, state="mounted", mount_path=str(notdir))
    assert failed["msg"] == "mount_path %s is not a directory: create it first." % notdir

    # Something else mounted there: refused, for mounting and for unmounting alike.
    busy = tmp_path / "busy"
    busy.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(busy)], check=True)
    try:
        refused = image(containerd, ns, run_module, name=name, state="mounted", mount_path=str(busy))
        assert refused["msg"] == ("mount_path %s is busy: something other than a containerd image mount is "
                                  "mounted there." % busy)
        kept = image(containerd, ns, run_module, name=name, state="unmounted", mount_path=str(busy))
        assert kept["msg"].startswith("mount_path %s is mounted, but not by containerd_image" % busy)
    finally:
        subprocess.run(["umount", str(busy)], check=True)


def test_info_lists_all_and_by_name(containerd, run_module, ns, rig_images, import_image):
    name = import_image(rig_images["busybox"], namespace=ns)
    listed = run_module("containerd_image_info", **containerd.module_args(namespace=ns))
    assert listed["changed"] is False
    assert listed["images"] == [{
        "name": name, "digest": rig_images["busybox"]["digest"],
        "media_type": "application/vnd.oci.image.manifest.v1+json", "size": listed["images"][0]["size"],
        "platforms": ["linux/amd64"], "labels": {}, "complete": True, "unpacked": True}]
    by_name = run_module("containerd_image_info",
                         **containerd.module_args(namespace=ns, name=["rig/busybox:1", "rig/nosuch:1"]))
    assert [i["name"] for i in by_name["images"]] == [name]
    assert by_name["missing"] == ["docker.io/rig/nosuch:1"]


@pytest.mark.parametrize("args, message", [
    (dict(name="Bad/Name"), "Invalid name: image reference 'Bad/Name' has an invalid repository name 'Name' "
                            "(repository names must be lower case)."),
    (dict(name="rig/busybox:1", pull="never"),
     "Image docker.io/rig/busybox:1 is not present and pull=never: import or pull it first, or use pull=missing."),
    (dict(name="rig/x:1", source="image", source_image="rig/nosuch:1"),
     "The tag source docker.io/rig/nosuch:1 does not exist: pull or import it first."),
    (dict(name="rig/x:1", source="archive", archive_path="/nonexistent/a.tar"),
     "The archive /nonexistent/a.tar does not exist."),
    (dict(name="rig/x:1", labels={"k": "a,b"}),
     "The value of label 'k' contains a comma, which ctr cannot report back unambiguously: choose a value without \",\"."),
])
def test_bad_input_is_a_clear_error(containerd, run_module, ns, args, message):
    result = image(containerd, ns, run_module, **args)
    assert result.get("failed") is True
    assert result["msg"] == message
    assert images(containerd, ns) == {}


def test_registry_errors_are_clear(containerd, run_module, registries, ns, tmp_path):
    http = registries["http"]
    unknown = image(containerd, ns, run_module, name=http.ref("rig/nosuch:1"), plain_http=True)
    assert unknown["msg"] == ("Image %s was not found on registry %s (manifest unknown): check the repository "
                              "and tag." % (http.ref("rig/nosuch:1"), http.host))

    platform = image(containerd, ns, run_module, name=http.ref("rig/multi:1"), plain_http=True, platform="linux/s390x")
    assert platform["msg"] == ("Image %s has no manifest for platform linux/s390x: choose another platform or set "
                               "all_platforms=true." % http.ref("rig/multi:1"))

    from rig.registry import free_port
    closed = "127.0.0.1:%d" % free_port()
    down = image(containerd, ns, run_module, name=closed + "/rig/busybox:1", plain_http=True)
    assert down["msg"].startswith("Registry %s is not reachable: is it running and is the address right?" % closed), \
        down["msg"]

    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not a tar at all")
    bad = image(containerd, ns, run_module, name="rig/x:1", source="archive", archive_path=str(garbage))
    assert bad["msg"].startswith("%s is not an image archive" % garbage), bad["msg"]

    address = str(tmp_path / "missing.sock")
    dead = run_module("containerd_image", **containerd.module_args(name="rig/x:1", address=address))
    assert dead["msg"] == ("containerd is not reachable at %s: the socket does not exist; "
                           "is the containerd service running?" % address)
    assert images(containerd, ns) == {}


@pytest.fixture
def small_fs(tmp_path):
    """A 256 KiB tmpfs (too small for an image archive), unmounted afterwards; mounting as root is the rig's."""
    path = tmp_path / "small"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "ctrops-small", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_export_to_a_full_or_read_only_target_is_a_sentence_and_leaves_the_old_file(containerd, run_module, ns,
                                                                                    rig_images, import_image, small_fs):
    ref = import_image(rig_images["busybox"], namespace=ns)
    old = small_fs / "busybox.tar"
    old.write_bytes(b"the archive of yesterday")
    full = image(containerd, ns, run_module, name=ref, state="exported", archive_path=str(old))
    assert full.get("failed") is True, full
    assert "Traceback" not in str(full) and "no space left on device" in full["msg"].lower(), full["msg"]
    assert full["actions"] == ["export %s to %s" % (ref, old)], full
    assert old.read_bytes() == b"the archive of yesterday"
    assert sorted(os.listdir(str(small_fs))) == ["busybox.tar"], "a temporary file was left"

    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    read_only = image(containerd, ns, run_module, name=ref, state="exported", archive_path=str(old))
    assert read_only.get("failed") is True, read_only
    assert read_only["msg"].startswith("Cannot write to %s: Read-only file system." % small_fs), read_only["msg"]
    assert old.read_bytes() == b"the archive of yesterday"
