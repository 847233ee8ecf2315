"""A local pacman repository for the Arch stand-in: containerd, runc and
cni-plugins packages built with makepkg in Arch Linux's file layout
(binaries in /usr/bin, plugins in /usr/lib/cni, the unit in
/usr/lib/systemd/system) from Debian unstable's .deb files, which vm.py keeps
beside the sid image.

  arch_repo.py OUT_DIR
Writes OUT_DIR/ctrops.db and the packages; makepkg runs as `nobody` because
it refuses root.
"""
import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

CACHE = os.environ.get("CTROPS_CACHE", "/var/cache/ctrops-tests")
DEBS = os.path.join(CACHE, "vm", "sid", "debs")

PACKAGES = {
    "runc": {
        "deb": "runc",
        "desc": "CLI tool for spawning and running containers according to the OCI specification",
        "depends": [],
        "files": [("usr/sbin/runc", "usr/bin/runc")],
    },
    "containerd": {
        "deb": "containerd",
        "desc": "An open and reliable container runtime",
        "depends": ["runc"],
        "files": [("usr/bin/containerd", "usr/bin/containerd"), ("usr/bin/ctr", "usr/bin/ctr"),
                  ("usr/bin/containerd-shim-runc-v2", "usr/bin/containerd-shim-runc-v2"),
                  ("usr/lib/systemd/system/containerd.service", "usr/lib/systemd/system/containerd.service")],
    },
    "cni-plugins": {
        "deb": "containernetworking-plugins",
        "desc": "Some standard networking plugins, maintained by the CNI team",
        "depends": ["glibc"],
        "files": [("usr/lib/cni", "usr/lib/cni")],
    },
    # What dpkg already installed, declared to pacman: on a real Arch system
    # the local database always holds explicit and dependency packages and
    # groups, and community.general.pacman fails when a query comes back empty.
    "ctrops-standin-base": {
        "deb": None,
        "desc": "The Debian system under the Arch stand-in",
        "depends": ["ctrops-standin-core"],
        "groups": ["ctrops-standin"],
        "files": [],
    },
    "ctrops-standin-core": {
        "deb": None,
        "desc": "glibc, iptables and systemd of the Debian system under the Arch stand-in",
        "depends": [],
        "provides": ["glibc", "iptables", "systemd"],
        "groups": ["ctrops-standin"],
        "files": [],
    },
}

PKGBUILD = """\
pkgname={name}
pkgver={ver}
pkgrel=1
pkgdesc="{desc}"
arch=('x86_64')
license=('Apache-2.0')
depends=({depends})
provides=({provides})
groups=({groups})
options=('!strip' '!debug' '!emptydirs')

package() {{
  true
{copies}
}}
"""


def main():
    out = os.path.abspath(sys.argv[1])
    if os.path.exists(os.path.join(out, "ctrops.db")):
        return
    nobody = pwd.getpwnam("nobody")
    work = tempfile.mkdtemp(prefix="ctrops-arch-repo-")
    os.chmod(work, 0o755)
    try:
        for name, p in PACKAGES.items():
            stage = os.path.join(work, name, "stage")
            os.makedirs(stage)
            if p["deb"]:
                deb = glob.glob(os.path.join(DEBS, f"{p['deb']}_*.deb"))
                if not deb:
                    sys.exit(f"no {p['deb']} .deb in {DEBS}: run `make setup` (vm.py build-bases sid)")
                ver = re.match(r"(?:\d+:)?([0-9.]+)", os.path.basename(deb[0]).split("_")[1]).group(1)
                subprocess.run(["dpkg-deb", "-x", deb[0], stage], check=True)
            else:
                ver = "1.0"
            copies = []
            for src, dst in p["files"]:
                copies.append(f'  install -d "$pkgdir/{os.path.dirname(dst)}"')
                copies.append(f'  cp -a "{stage}/{src}" "$pkgdir/{dst}"')
            if name == "containerd":
                # Debian's unit starts /usr/bin/containerd, as Arch's does.
                unit = os.path.join(stage, "usr/lib/systemd/system/containerd.service")
                if not os.path.exists(unit):
                    os.makedirs(os.path.dirname(unit), exist_ok=True)
                    shutil.copy(glob.glob(os.path.join(stage, "lib/systemd/system/containerd.service"))[0], unit)
            with open(os.path.join(work, name, "PKGBUILD"), "w") as f:
                f.write(PKGBUILD.format(name=name, ver=ver, desc=p["desc"],
                                        depends=" ".join(f"'{d}'" for d in p["depends"]),
                                        provides=" ".join(f"'{d}'" for d in p.get("provides", [])),
                                        groups=" ".join(f"'{d}'" for d in p.get("groups", [])),
                                        copies="\n".join(copies)))
        for root, dirs, files in os.walk(work):
            for d in dirs + files:
                os.lchown(os.path.join(root, d), nobody.pw_uid, nobody.pw_gid)
            os.lchown(root, nobody.pw_uid, nobody.pw_gid)
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": work, "PKGEXT": ".pkg.tar.zst",
               "LANG": "C", "PKGDEST": os.path.join(work, "pkgs")}
        os.makedirs(env["PKGDEST"])
        os.chown(env["PKGDEST"], nobody.pw_uid, nobody.pw_gid)
        for name in PACKAGES:
            subprocess.run(["runuser", "-u", "nobody", "--", "makepkg", "--nodeps", "--force", "--noconfirm"],
                           cwd=os.path.join(work, name), env=env, check=True, stdout=subprocess.DEVNULL)
        tmp = out + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        pkgs = sorted(glob.glob(os.path.join(env["PKGDEST"], "*.pkg.tar.zst")))
        for f in pkgs:
            shutil.copy(f, tmp)
        subprocess.run(["repo-add", "-q", os.path.join(tmp, "ctrops.db.tar.gz"),
                        *[os.path.join(tmp, os.path.basename(f)) for f in pkgs]], check=True)
        # Served over HTTP, the symlinks repo-add makes must be real files.
        for link in ("ctrops.db", "ctrops.files"):
            path = os.path.join(tmp, link)
            target = os.path.realpath(path)
            os.unlink(path)
            shutil.copy(target, path)
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
