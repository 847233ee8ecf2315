"""Lay out containerd, runc and CNI plugin release assets the way their
upstream download sites do, built from Debian's binaries on this machine, with
checksum files in the upstream formats. A "corrupt" tree holds the same names
with a damaged containerd tarball next to the genuine checksum file.

nerdctl has no build reachable from here (no Debian package, no release
download): its tarball holds a stand-in script that answers `--version` only,
so the role's nerdctl path (download, SHA256SUMS, unpack) runs for real.

  release_assets.py OUT_DIR
Writes OUT_DIR/versions.json with the versions it used.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile

CACHE = os.environ.get("CTROPS_CACHE", "/var/cache/ctrops-tests")
ARCH = "amd64"
# Debian unstable's containerd 2.1.9 (runs on Debian 12), Debian 12's runc and plugins.
CONTAINERD = ("2.1.9", os.path.join(CACHE, "containerd-sid/usr/bin"),
              ["containerd", "ctr", "containerd-shim-runc-v2"])
RUNC = ("1.1.5", "/usr/sbin/runc")
CNI = ("1.1.1", "/usr/lib/cni")
# Not a version the role pins a checksum for (2.1.6 and 2.3.0 are): the role must use the SHA256SUMS file.
NERDCTL = "2.1.5"
NERDCTL_STANDIN = f"""#!/bin/sh
# Stand-in for nerdctl {NERDCTL} (release_assets.py): answers --version only.
case "$1" in
  --version|-v) echo "nerdctl version {NERDCTL}" ;;
  *) echo "nerdctl stand-in: only --version is implemented" >&2; exit 2 ;;
esac
"""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tgz(path, members):
    """members: [(arcname, source file)], deterministic (mtime 0, root-owned)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for arc, src in members:
            info = t.gettarinfo(src, arc)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            with open(src, "rb") as f:
                t.addfile(info, f)
    with open(path, "wb") as f:
        f.write(gzip.compress(raw.getvalue(), mtime=0))


def main():
    out = os.path.abspath(sys.argv[1])
    stamp = os.path.join(out, "versions.json")
    if os.path.exists(stamp):
        return
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    v, bindir, names = CONTAINERD
    d = os.path.join(tmp, "containerd", "v" + v)
    os.makedirs(d)
    name = f"containerd-{v}-linux-{ARCH}.tar.gz"
    tgz(os.path.join(d, name), [("bin/" + n, os.path.join(bindir, n)) for n in names])
    with open(os.path.join(d, name + ".sha256sum"), "w") as f:
        f.write(f"{sha256(os.path.join(d, name))}  {name}\n")
    # The corrupted copy: same name and checksum file, one byte flipped in the middle.
    c = os.path.join(tmp, "corrupt", "containerd", "v" + v)
    os.makedirs(c)
    data = bytearray(open(os.path.join(d, name), "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(os.path.join(c, name), "wb").write(data)
    shutil.copy(os.path.join(d, name + ".sha256sum"), c)

    v, src = RUNC
    d = os.path.join(tmp, "runc", "v" + v)
    os.makedirs(d)
    shutil.copy(src, os.path.join(d, f"runc.{ARCH}"))
    with open(os.path.join(d, "runc.sha256sum"), "w") as f:
        f.write(f"{'0' * 64}  runc.arm64\n{sha256(os.path.join(d, f'runc.{ARCH}'))}  runc.{ARCH}\n")

    v, src = CNI
    d = os.path.join(tmp, "cni", "v" + v)
    os.makedirs(d)
    name = f"cni-plugins-linux-{ARCH}-v{v}.tgz"
    tgz(os.path.join(d, name), [("./" + n, os.path.join(src, n)) for n in sorted(os.listdir(src))])
    with open(os.path.join(d, name + ".sha256"), "w") as f:
        f.write(f"{sha256(os.path.join(d, name))}  {name}\n")

    d = os.path.join(tmp, "nerdctl", "v" + NERDCTL)
    os.makedirs(d)
    script = os.path.join(tmp, "nerdctl-standin")
    with open(script, "w") as f:
        f.write(NERDCTL_STANDIN)
    os.chmod(script, 0o755)
    name = f"nerdctl-{NERDCTL}-linux-{ARCH}.tar.gz"
    tgz(os.path.join(d, name), [("nerdctl", script)])
    os.unlink(script)
    # One SHA256SUMS for every asset of the release, as upstream publishes it.
    with open(os.path.join(d, "SHA256SUMS"), "w") as f:
        f.write(f"{'0' * 64}  nerdctl-full-{NERDCTL}-linux-{ARCH}.tar.gz\n{sha256(os.path.join(d, name))}  {name}\n")

    with open(os.path.join(tmp, "versions.json"), "w") as f:
        json.dump({"containerd": CONTAINERD[0], "runc": RUNC[0], "cni": CNI[0], "nerdctl": NERDCTL}, f)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


main()
