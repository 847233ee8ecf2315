"""Write an OCI image archive (for `ctr images import`) built from the host's
static busybox: sh, echo, httpd and a page at /www/index.html. No registry is
reachable from the test VMs, so the scenarios bring their image along.

  oci_image.py OUT.tar [NAME] [MARKER]
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import time

BUSYBOX = "/bin/busybox"
APPLETS = ["sh", "echo", "cat", "httpd", "sleep", "ip", "hostname", "wget"]


def blob(tar, data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + digest.split(":", 1)[1])
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def layer(marker):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("bin", "www", "tmp"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            t.addfile(info)
        with open(BUSYBOX, "rb") as f:
            data = f.read()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        t.addfile(info, io.BytesIO(data))
        for a in APPLETS:
            info = tarfile.TarInfo("bin/" + a)
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            t.addfile(info)
        page = f"<html><body>{marker}</body></html>\n".encode()
        info = tarfile.TarInfo("www/index.html")
        info.size = len(page)
        info.mode = 0o644
        t.addfile(info, io.BytesIO(page))
    plain = raw.getvalue()
    return plain, gzip.compress(plain, mtime=0)


def main():
    out = sys.argv[1]
    name = sys.argv[2] if len(sys.argv) > 2 else "docker.io/ctrops/busybox:test"
    marker = sys.argv[3] if len(sys.argv) > 3 else "ctrops-molecule-ok"
    plain, gz = layer(marker)
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w") as tar:
        lay = blob(tar, gz, "application/vnd.oci.image.layer.v1.tar+gzip")
        config = {
            "architecture": "amd64", "os": "linux",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(0)),
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(plain).hexdigest()]},
        }
        cfg = blob(tar, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg, "layers": [lay]}
        man = blob(tar, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        man["annotations"] = {"io.containerd.image.name": name,
                              "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}
        man["platform"] = {"architecture": "amd64", "os": "linux"}
        for fname, doc in (("oci-layout", {"imageLayoutVersion": "1.0.0"}),
                           ("index.json", {"schemaVersion": 2, "manifests": [man]})):
            data = json.dumps(doc).encode()
            info = tarfile.TarInfo(fname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, out)


main()
