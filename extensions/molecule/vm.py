#!/usr/bin/env python
"""Local QEMU virtual machines for the Molecule scenarios (and the demo).

  vm.py build-bases [NAME...]        build the base images that are missing
  vm.py create --base NAME --state DIR [--memory MB] [--cpus N] [--timeout S]
  vm.py destroy --state DIR          stop the VM (by its recorded PID), remove its overlay
  vm.py ssh --state DIR [CMD...]     run a command in the VM (debugging)
  vm.py serve --state DIR --dir D    serve D over HTTP on 127.0.0.1 (the VMs see 10.0.2.2)
  vm.py serve --registry --state DIR --dir D
                                     a docker-registry on 127.0.0.1 (plain HTTP) storing under D
  vm.py destroy-all [--run-id ID]    destroy every registered VM (of one run)
  vm.py list                         base images and their cache directories
  vm.py debian-mirror                the Debian mirror setup.sh and debootstrap fetch from

The Debian mirror is $CTROPS_DEBIAN_MIRROR, else the first Debian archive of
this machine's apt configuration (/etc/apt/sources.list, sources.list.d).
Base images are made with debootstrap and cached by recipe hash under
$CTROPS_CACHE/vm (default /var/cache/ctrops-tests/vm), outside the repository.
Each VM boots a qcow2 overlay of a base image with the kernel and initrd taken
from the image, QEMU user networking and SSH forwarded to a free 127.0.0.1 port.
The SSH key is generated per VM and handed over on the kernel command line,
where a unit in the image installs it for root (no cloud-init).

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CACHE = Path(os.environ.get("CTROPS_CACHE", "/var/cache/ctrops-tests")) / "vm"
# Every running VM (and HTTP server) is registered here with the run that made
# it, so a runner can destroy all of its VMs even when a scenario crashed.
REGISTRY = CACHE / "instances"
RUN_ID = os.environ.get("CTROPS_VM_RUN_ID", "")
APT_SOURCES = Path("/etc/apt/sources.list")
APT_SOURCES_D = Path("/etc/apt/sources.list.d")
# Suites that only a Debian archive serves: a third-party repository, Debian's
# security archive or another distribution's archive is not the mirror to use.
DEBIAN_SUITES = {"oldoldstable", "oldstable", "stable", "testing", "unstable", "sid",
                 "buster", "bullseye", "bookworm", "trixie", "forky", "duke"}

COMMON_PACKAGES = [
    "systemd-sysv", "udev", "dbus", "kmod", "openssh-server", "python3", "python3-apt",
    "linux-image-amd64", "curl", "ca-certificates", "iptables",
    "iproute2", "procps", "gnupg", "less",
]

# Changing a recipe (or REVISION, for changes to how images are customised)
# gives a new hash and thus a new image; old ones stay until removed.
REVISION = 3
RECIPES: dict[str, dict] = {
    # Debian 12: the debian, release and nixos scenarios. containerd is not in
    # the image (the role installs it), but its packages sit in apt's cache so
    # the install does not depend on the network.
    "bookworm": {
        "suite": "bookworm",
        "packages": COMMON_PACKAGES[:8] + ["initramfs-tools"] + COMMON_PACKAGES[8:]
        + ["ifupdown", "isc-dhcp-client", "xz-utils"],
        "network": "ifupdown",
        "predownload": ["containerd", "runc", "containernetworking-plugins", "nix-bin"],
        "fetch_debs": [],
    },
    # Debian unstable: the Arch stand-in (its kernel comes with dracut, which
    # conflicts with initramfs-tools) (containerd 2.x, pacman 7). containerd
    # comes from a local pacman repository, never from apt; the .deb files of
    # this suite are kept beside the image to build that repository.
    "sid": {
        "suite": "sid",
        "packages": COMMON_PACKAGES + ["pacman-package-manager", "libseccomp2", "zstd"],
        "network": "networkd",
        "predownload": [],
        "fetch_debs": ["containerd", "runc", "containernetworking-plugins"],
    },
}

SSH_OPTS = [
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
    # Post-quantum key exchange costs seconds per connection under TCG.
    "-o", "KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org",
]


class NoMirror(RuntimeError):
    """Neither CTROPS_DEBIAN_MIRROR nor this machine's apt configuration names a Debian mirror."""


def apt_entries(sources: Path = APT_SOURCES, parts: Path = APT_SOURCES_D):
    """(uri, suites, components) of each enabled `deb` entry of apt's configuration, in apt's order:
    sources.list (one-line format), then sources.list.d/*.list and *.sources (deb822) by name."""
    files = [sources]
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if path.suffix == ".sources":
            yield from _deb822_entries(text)
        else:
            yield from _one_line_entries(text)


def _one_line_entries(text: str):
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb ") and not line.startswith("deb\t"):
            continue
        rest = line[3:].strip()
        if rest.startswith("["):  # [arch=amd64 signed-by=...]
            rest = rest.partition("]")[2].strip()
        words = rest.split()
        if len(words) >= 2:
            yield words[0], words[1:2], words[2:]


def _deb822_entries(text: str):
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split(), fields.get("components", "").split()


def debian_mirror(sources: Path = APT_SOURCES, parts: Path = APT_SOURCES_D) -> str:
    """The Debian mirror to fetch from: $CTROPS_DEBIAN_MIRROR, else the first `deb` entry of this
    machine's apt configuration that is a Debian archive (a Debian suite, component main).
    setup.sh fetches Debian unstable's packages from it, debootstrap builds the base images."""
    override = os.environ.get("CTROPS_DEBIAN_MIRROR", "").strip()
    if override:
        return override.rstrip("/")
    for uri, suites, components in apt_entries(sources, parts):
        if re.match(r"(https?|ftp|file):", uri) and "main" in components and DEBIAN_SUITES & set(suites):
            return uri.rstrip("/")
    raise NoMirror(f"no Debian mirror: CTROPS_DEBIAN_MIRROR is not set and neither {sources} nor "
                   f"{parts}/ has a `deb` entry of a Debian suite with component main; "
                   "set CTROPS_DEBIAN_MIRROR to a Debian mirror's URL (the directory holding dists/)")


def log(msg: str) -> None:
    print(f"[vm] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def recipe_hash(name: str) -> str:
    data = json.dumps({"revision": REVISION, "mirror": debian_mirror(), **RECIPES[name]}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def base_dir(name: str) -> Path:
    return CACHE / f"{name}-{recipe_hash(name)}"


def base_ready(name: str) -> bool:
    return (base_dir(name) / ".complete").exists()


# --------------------------------------------------------------------------- images

SSHKEY_UNIT = """\
[Unit]
Description=Install the root SSH key passed on the kernel command line
Before=ssh.service
ConditionKernelCommandLine=ctrops.sshkey

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ctrops-sshkey

[Install]
WantedBy=multi-user.target
"""

SSHKEY_SCRIPT = """\
#!/bin/sh
set -e
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    ctrops.sshkey=*) key=${arg#ctrops.sshkey=} ;;
  esac
done
[ -n "$key" ] || exit 0
install -d -m 700 /root/.ssh
echo "$key" | base64 -d > /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
"""

# Documentation and man pages cost minutes of dpkg time under TCG.
DPKG_NODOC = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""


def chroot(root: Path, *cmd: str) -> None:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LANG": "C"}
    run(["chroot", str(root), *cmd], env=env)


def customise(name: str, root: Path, out: Path) -> None:
    r = RECIPES[name]
    (root / "etc/hostname").write_text(f"ctrops-{name}\n")
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 ctrops-{name}\n")
    (root / "etc/fstab").write_text("/dev/vda / ext4 defaults,noatime 0 1\n")
    (root / "etc/apt/sources.list").write_text(f"deb {debian_mirror()} {r['suite']} main\n")
    (root / "etc/dpkg/dpkg.cfg.d/01-nodoc").write_text(DPKG_NODOC)
    (root / "etc/apt/apt.conf.d/90-ctrops").write_text(
        'APT::Install-Recommends "false";\nAPT::Periodic::Enable "0";\nAcquire::Languages "none";\n'
        # The archive's Valid-Until can lag behind this machine's clock.
        'Acquire::Check-Valid-Until "false";\n'
    )
    if r["network"] == "ifupdown":
        (root / "etc/network/interfaces").write_text(
            "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n"
        )
    else:
        (root / "etc/systemd/network/10-eth0.network").write_text(
            "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n"
        )
        resolv = root / "etc/resolv.conf"
        if resolv.is_symlink() or resolv.exists():
            resolv.unlink()
        resolv.write_text("nameserver 10.0.2.3\n")
        chroot(root, "systemctl", "enable", "systemd-networkd.service")
    sbin = root / "usr/local/sbin/ctrops-sshkey"
    sbin.write_text(SSHKEY_SCRIPT)
    sbin.chmod(0o755)
    (root / "etc/systemd/system/ctrops-sshkey.service").write_text(SSHKEY_UNIT)
    chroot(root, "systemctl", "enable", "ctrops-sshkey.service")
    # Background apt runs would hold dpkg's lock while a test installs packages.
    for unit in ("apt-daily.timer", "apt-daily-upgrade.timer", "man-db.timer", "e2scrub_all.timer",
                 "fstrim.timer", "systemd-timesyncd.service"):
        chroot(root, "sh", "-c", f"systemctl mask {unit} >/dev/null 2>&1 || true")
    chroot(root, "passwd", "-l", "root")
    chroot(root, "apt-get", "update", "-qq")
    if r["predownload"]:
        chroot(root, "apt-get", "install", "-y", "-qq", "--download-only", *r["predownload"])
    if r["fetch_debs"]:
        debs = out / "debs"
        debs.mkdir(exist_ok=True)
        chroot(root, "sh", "-c", "mkdir -p /tmp/debs && cd /tmp/debs && apt-get download -qq " + " ".join(r["fetch_debs"]))
        for f in (root / "tmp/debs").iterdir():
            shutil.move(str(f), debs / f.name)
        shutil.rmtree(root / "tmp/debs")
    for f in (root / "etc/ssh").glob("ssh_host_*"):
        f.unlink()
    # New host keys at every boot of an overlay would be slow under TCG; one
    # set per image is enough for throw-away test machines.
    chroot(root, "ssh-keygen", "-A")
    (root / "etc/machine-id").write_text("")


def build_base(name: str) -> None:
    out = base_dir(name)
    if base_ready(name):
        log(f"base {name} is ready: {out}")
        return
    r = RECIPES[name]
    log(f"building base {name} in {out} (debootstrap {r['suite']}, several minutes)")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix=f"ctrops-vm-{name}-", dir=CACHE))
    root = work / "root"
    try:
        dlog = work / "debootstrap.log"
        with dlog.open("w") as f:
            res = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(r["packages"]),
                                  r["suite"], str(root), debian_mirror()], stdout=f, stderr=subprocess.STDOUT, check=False)
        if res.returncode != 0:
            inner = root / "debootstrap/debootstrap.log"
            tail = (inner if inner.exists() else dlog).read_text(errors="replace").splitlines()[-30:]
            raise SystemExit(f"debootstrap {r['suite']} failed:\n" + "\n".join(tail))
        customise(name, root, out)
        boot = root / "boot"
        kernel = sorted(boot.glob("vmlinuz-*"))[-1]
        initrd = sorted(boot.glob("initrd.img-*"))[-1]
        shutil.copy(kernel, out / "vmlinuz")
        shutil.copy(initrd, out / "initrd.img")
        for sub in ("var/cache/apt/archives/partial",):
            (root / sub).mkdir(parents=True, exist_ok=True)
        raw = work / "disk.raw"
        run(["mkfs.ext4", "-q", "-F", "-L", "root", "-E", "root_owner=0:0", "-d", str(root), str(raw), "8G"])
        run(["qemu-img", "convert", "-q", "-O", "qcow2", str(raw), str(out / "disk.qcow2")])
        (out / "recipe.json").write_text(json.dumps({"name": name, "revision": REVISION, **r}, indent=2))
        (out / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        link = CACHE / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(out.name)
        log(f"base {name} built")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- machines

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_state(state: Path) -> dict:
    return json.loads((state / "vm.json").read_text())


def ssh_cmd(st: dict, *cmd: str, timeout: int = 10) -> list[str]:
    return ["ssh", *SSH_OPTS, "-o", f"ConnectTimeout={timeout}", "-i", st["identity_file"],
            "-p", str(st["port"]), "root@127.0.0.1", *cmd]


def is_our_qemu(pid: int, overlay: str) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(args) and b"qemu-system" in args[0] and any(overlay.encode() in a for a in args)


def register(state: Path) -> None:
    REGISTRY.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(state).encode()).hexdigest()[:16]
    (REGISTRY / f"{key}.json").write_text(json.dumps({"state": str(state), "run_id": RUN_ID}))


def unregister(state: Path) -> None:
    key = hashlib.sha256(str(state).encode()).hexdigest()[:16]
    (REGISTRY / f"{key}.json").unlink(missing_ok=True)


def is_pid_of(pid: int, needle: str, program: bytes) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(args) and any(program in a for a in args[:3]) and any(needle.encode() in a for a in args)


def stop_pid(pid: int, needle: str, program: bytes) -> bool:
    if not is_pid_of(pid, needle, program):
        return False
    os.kill(pid, signal.SIGTERM)
    for _attempt in range(100):
        if not is_pid_of(pid, needle, program):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    for _attempt in range(50):
        if not is_pid_of(pid, needle, program):
            break
        time.sleep(0.1)
    return True


# What `serve` can start: the state file's name, the program (as /proc shows it) and its command line.
SERVERS = ("http", "registry")
REGISTRY_BIN = "/usr/bin/docker-registry"


def server_command(kind: str, root: Path, state: Path, port: int) -> tuple[list[str], str]:
    """The command line of one server and the string that tells its process apart from others."""
    if kind == "http":
        return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(root), str(port)], str(root)
    # docker-registry with plain HTTP and its storage under root; YAML reads the JSON as it is.
    config = state / "registry.yml"
    config.write_text(json.dumps({
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": os.urandom(16).hex()},
    }))
    return [REGISTRY_BIN, "serve", str(config)], str(config)


def stop_server(state: Path, kind: str) -> None:
    info = state / f"{kind}.json"
    if info.exists():
        old = json.loads(info.read_text())
        if stop_pid(old["pid"], old["dir"], old.get("program", "python").encode()):
            log(f"{state.name}: stopped {kind} pid {old['pid']}")


def serve(args: argparse.Namespace) -> None:
    state = Path(args.state).resolve()
    state.mkdir(parents=True, exist_ok=True)
    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    kind = "registry" if args.registry else "http"
    stop_server(state, kind)
    for _attempt in range(5):
        port = free_port()
        cmd, needle = server_command(kind, root, state, port)
        logf = (state / f"{kind}.log").open("ab")
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(0.5)
        for _attempt in range(50):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        if proc.poll() is None:
            break
    else:
        raise SystemExit(f"{kind} server did not start (log: {state / f'{kind}.log'})")
    st = {"pid": proc.pid, "port": port, "dir": needle, "program": Path(cmd[0]).name,
          "url_from_vm": f"http://10.0.2.2:{port}", "host_from_vm": f"10.0.2.2:{port}"}
    (state / f"{kind}.json").write_text(json.dumps(st))
    register(state)
    print(json.dumps(st))


def create(args: argparse.Namespace) -> None:
    state = Path(args.state).resolve()
    state.mkdir(parents=True, exist_ok=True)
    if (state / "vm.json").exists():
        st = read_state(state)
        if is_our_qemu(st["pid"], st["overlay"]):
            log(f"{state.name} already running on port {st['port']}")
            print(json.dumps(st))
            return
        destroy_state(state)
        state.mkdir(parents=True, exist_ok=True)
    if not base_ready(args.base):
        build_base(args.base)
    base = base_dir(args.base)
    key = state / "id_ed25519"
    for f in (key, key.with_suffix(".pub")):
        f.unlink(missing_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ctrops-molecule", "-f", str(key)])
    pub = base64.b64encode(key.with_suffix(".pub").read_bytes().strip()).decode()
    overlay = state / "overlay.qcow2"
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base / "disk.qcow2"), str(overlay)])
    accel = args.accel or ("kvm" if os.environ.get("CTROPS_VM_KVM") == "1" else "tcg")
    for attempt in range(5):
        port = free_port()
        cmd = [
            "qemu-system-x86_64", "-name", f"ctrops-{state.name}", "-accel", accel,
            "-machine", "q35", "-cpu", "max" if accel == "tcg" else "host",
            "-m", str(args.memory), "-smp", str(args.cpus),
            "-kernel", str(base / "vmlinuz"), "-initrd", str(base / "initrd.img"),
            "-append", f"root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet ctrops.sshkey={pub}",
            "-drive", f"file={overlay},if=virtio,format=qcow2,cache=unsafe,discard=unmap",
            "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22",
            "-device", "virtio-net-pci,netdev=n0",
            "-device", "virtio-rng-pci",
            "-display", "none", "-serial", f"file:{state / 'console.log'}",
            "-monitor", "none", "-daemonize", "-pidfile", str(state / "qemu.pid"),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode == 0:
            break
        if "hostfwd" not in res.stderr and "address" not in res.stderr.lower():
            raise SystemExit(f"qemu failed: {res.stderr.strip()}")
        log(f"port {port} taken, retrying ({attempt + 1})")
    else:
        raise SystemExit("qemu failed: no free port")
    pid = int((state / "qemu.pid").read_text().strip())
    st = {
        "name": state.name, "base": args.base, "pid": pid, "port": port, "address": "127.0.0.1",
        "user": "root", "identity_file": str(key), "overlay": str(overlay), "state": str(state),
        "accel": accel,
    }
    (state / "vm.json").write_text(json.dumps(st, indent=2))
    register(state)
    log(f"{state.name}: qemu pid {pid}, ssh 127.0.0.1:{port}; waiting for SSH")
    start = time.monotonic()
    while True:
        if not is_our_qemu(pid, str(overlay)):
            raise SystemExit(f"{state.name}: qemu exited; see {state / 'console.log'}")
        res = subprocess.run(ssh_cmd(st, "true", timeout=20), capture_output=True, timeout=90, check=False)
        if res.returncode == 0:
            break
        if time.monotonic() - start > args.timeout:
            # The state directory (and its console log) goes with the destroy step: keep the tail here.
            console = (state / "console.log").read_text(errors="replace").splitlines()[-25:]
            raise SystemExit(f"{state.name}: no SSH after {args.timeout}s; last lines of the console:\n"
                             + "\n".join(console))
        time.sleep(2)
    log(f"{state.name}: SSH up after {time.monotonic() - start:.0f}s")
    print(json.dumps(st))


def destroy_state(state: Path) -> None:
    for kind in SERVERS:
        stop_server(state, kind)
    st = None
    if (state / "vm.json").exists():
        st = read_state(state)
    elif (state / "qemu.pid").exists():
        st = {"pid": int((state / "qemu.pid").read_text().strip() or 0), "overlay": str(state / "overlay.qcow2")}
    if st and st.get("pid"):
        pid = st["pid"]
        if is_our_qemu(pid, st["overlay"]):
            os.kill(pid, signal.SIGTERM)
            for _attempt in range(100):
                if not is_our_qemu(pid, st["overlay"]):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
                for _attempt in range(50):
                    if not is_our_qemu(pid, st["overlay"]):
                        break
                    time.sleep(0.1)
            log(f"{state.name}: stopped qemu pid {pid}")
    if state.exists():
        shutil.rmtree(state)
    unregister(state)


def destroy_all(args: argparse.Namespace) -> None:
    if not REGISTRY.exists():
        return
    for f in sorted(REGISTRY.glob("*.json")):
        entry = json.loads(f.read_text())
        if args.run_id and entry.get("run_id") != args.run_id:
            continue
        destroy_state(Path(entry["state"]))
        f.unlink(missing_ok=True)


def destroy(args: argparse.Namespace) -> None:
    destroy_state(Path(args.state).resolve())


def ssh(args: argparse.Namespace) -> None:
    st = read_state(Path(args.state).resolve())
    os.execvp("ssh", ssh_cmd(st, *args.cmd))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build-bases")
    b.add_argument("names", nargs="*", default=list(RECIPES))
    c = sub.add_parser("create")
    c.add_argument("--base", required=True, choices=list(RECIPES))
    c.add_argument("--state", required=True)
    c.add_argument("--memory", type=int, default=2048)
    c.add_argument("--cpus", type=int, default=2)
    c.add_argument("--timeout", type=int, default=300)
    c.add_argument("--accel", choices=["tcg", "kvm"])
    d = sub.add_parser("destroy")
    d.add_argument("--state", required=True)
    s = sub.add_parser("ssh")
    s.add_argument("--state", required=True)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    sv = sub.add_parser("serve")
    sv.add_argument("--state", required=True)
    sv.add_argument("--dir", required=True)
    sv.add_argument("--registry", action="store_true", help="docker-registry (plain HTTP) storing under --dir")
    da = sub.add_parser("destroy-all")
    da.add_argument("--run-id", default="", help="only the VMs of this run (default: all registered)")
    sub.add_parser("list")
    sub.add_parser("debian-mirror")
    a = p.parse_args()
    try:
        dispatch(a)
    except NoMirror as exc:
        raise SystemExit(f"vm.py: {exc}") from None


def dispatch(a: argparse.Namespace) -> None:
    if a.command == "debian-mirror":
        print(debian_mirror())
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    if a.command == "build-bases":
        for n in a.names:
            build_base(n)
    elif a.command == "create":
        create(a)
    elif a.command == "destroy":
        destroy(a)
    elif a.command == "ssh":
        ssh(a)
    elif a.command == "serve":
        serve(a)
    elif a.command == "destroy-all":
        destroy_all(a)
    elif a.command == "list":
        for n in RECIPES:
            print(f"{n}\t{'ready' if base_ready(n) else 'missing'}\t{base_dir(n)}")


if __name__ == "__main__":
    main()
