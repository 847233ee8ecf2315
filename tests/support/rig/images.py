"""Test images built offline from busybox-static (and Debian's Python), and seeding them into a rig registry.

The integration tests need real images but the machine has no access to a
public registry, so images are assembled here from ``/bin/busybox`` with the
standard library only.  Every archive is deterministic (fixed mtimes, owners,
entry order and gzip headers): the same inputs always give the same digests,
which lets tests predict digests and tell a "rebuilt" image from the original.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import platform as _platform
import ssl
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request

__all__ = [
    "BUSYBOX",
    "MT_OCI_MANIFEST",
    "MT_OCI_INDEX",
    "MT_DOCKER_MANIFEST",
    "MT_DOCKER_LIST",
    "host_platform",
    "split_ref",
    "build_image",
    "build_docker_archive",
    "push_archive",
    "remote_digest",
    "archive_digest",
]

BUSYBOX = "/bin/busybox"

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"

APPLETS = (
    "cat", "chmod", "cp", "date", "df", "echo", "env", "false", "grep", "head",
    "hostname", "httpd", "id", "ifconfig", "ip", "kill", "ln", "ls", "mkdir",
    "mount", "mv", "nc", "nslookup", "ping", "ps", "pwd", "rm", "sed", "sh",
    "sleep", "sort", "stat", "tail", "test", "timeout", "top", "touch", "true",
    "umount", "uname", "wc", "wget", "whoami",
)

KINDS = ("busybox", "web", "python")

# The ``python`` kind: this machine's Debian-packaged Python (its packages' files and the shared
# libraries ldd finds for the interpreter and its extension modules) on top of the busybox layer.
PYTHON_PACKAGES = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib")
PYTHON_BIN = "/usr/bin/python3.11"
PYTHON_SKIP = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/lintian/", "/usr/share/binfmts/",
               "/usr/share/applications/", "/usr/share/pixmaps/")
# Changes whenever the python layer is assembled differently (part of its cache key).
PYTHON_LAYER_RECIPE = "3"
PYTHON_APPLETS = ("su", "chown", "chgrp", "dd", "find", "xargs", "sha256sum")
# A non-root user (uid 1000) for tests of exec users; root and nobody come with the busybox layer.
APP_USER = "app"
CACHE = os.environ.get("CTROPS_CACHE", "/var/cache/ctrops-tests")

_ARCH_BY_MACHINE = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_platform() -> str:
    """The host's platform in OCI spelling, so the default image runs here."""
    machine = _platform.machine()
    return "linux/" + _ARCH_BY_MACHINE.get(machine, machine)


def split_ref(ref: str) -> tuple[str, str, str]:
    """Split ``host/repo:tag`` into its parts; a ref without a host gets docker.io.

    Tests write refs the way users do; the registry HTTP API and the OCI
    ``ref.name`` annotation need the parts separately.
    """
    name, _at, digest = ref.partition("@")
    slash = name.find("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        host, repo = name.split("/", 1)
    else:
        host, repo = "docker.io", name
        if "/" not in repo:
            repo = "library/" + repo
    if not tag and not digest:
        tag = "latest"
    return host, repo, tag or digest


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical_json(obj) -> bytes:
    """Stable JSON bytes: the digest of a manifest or config is the hash of exactly these bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _tarinfo(name: str, kind: bytes, mode: int, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = linkname
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """A reproducible tar stream: entries sorted by name, USTAR headers with fixed metadata."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in sorted(entries, key=lambda e: e[0].name):
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _dir(name: str, mode: int = 0o755):
    return _tarinfo(name, tarfile.DIRTYPE, mode), None


def _file(name: str, data: bytes, mode: int = 0o644):
    return _tarinfo(name, tarfile.REGTYPE, mode, len(data)), data


def _symlink(name: str, target: str):
    return _tarinfo(name, tarfile.SYMTYPE, 0o777, linkname=target), None


def _available_applets() -> list[str]:
    """Applets this busybox build really has, so no symlink in an image points at nothing."""
    try:
        out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return list(APPLETS)
    have = set(out.split())
    return [a for a in APPLETS if a in have]


def _busybox_layer() -> bytes:
    with open(BUSYBOX, "rb") as fh:
        binary = fh.read()
    passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    group = b"root:x:0:\nnogroup:x:65534:\n"
    entries = [
        _dir("bin"), _dir("etc"), _dir("root", 0o700), _dir("tmp", 0o1777),
        _file("bin/busybox", binary, 0o755),
        _file("etc/passwd", passwd), _file("etc/group", group),
    ]
    entries += [_symlink(f"bin/{applet}", "busybox") for applet in _available_applets()]
    return _tar(entries)


def _host_entries(path: str, entries: dict) -> None:
    """Add ``path`` as this host has it: every symlink on the way (merged /usr: lib -> usr/lib), then the file."""
    parts = path.strip("/").split("/")
    current = ""
    for index, part in enumerate(parts):
        current = current + "/" + part
        name = current.lstrip("/")
        if os.path.islink(current):
            target = os.readlink(current)
            entries[name] = _symlink(name, target)
            resolved = os.path.normpath(os.path.join(os.path.dirname(current), target))
            _host_entries(resolved + "".join("/" + p for p in parts[index + 1:]), entries)
            return
        if os.path.isdir(current):
            if name not in entries:
                entries[name] = _dir(name, os.stat(current).st_mode & 0o7777)
        elif os.path.isfile(current) and index == len(parts) - 1:
            with open(current, "rb") as fh:
                entries[name] = _file(name, fh.read(), os.stat(current).st_mode & 0o7777)


def _ldd_paths(binaries: list[str]) -> set[str]:
    """The shared libraries (and the loader) the binaries need, as ldd resolves them here."""
    out = subprocess.run(["ldd", *binaries], capture_output=True, text=True, check=False).stdout
    return {word for word in out.split() if word.startswith("/") and not word.endswith(":")}


def _python_files() -> list[str]:
    out = subprocess.run(["dpkg-query", "-L", *PYTHON_PACKAGES], capture_output=True, text=True,
                         check=True).stdout
    return sorted(path for path in out.splitlines()
                  if path.startswith("/") and not path.startswith(PYTHON_SKIP)
                  and (os.path.islink(path) or os.path.isfile(path)))


def _python_layer_key() -> str:
    """Cache key of the python layer: the recipe and the exact versions of the packages it copies."""
    versions = subprocess.run(["dpkg-query", "-W", "-f", "${Package}=${Version} ", *PYTHON_PACKAGES],
                              capture_output=True, text=True, check=True).stdout
    return hashlib.sha256((PYTHON_LAYER_RECIPE + " " + versions).encode()).hexdigest()[:16]


def _python_layer() -> bytes:
    """Debian's Python 3.11 with its standard library and shared libraries, /usr/bin/python3, /var/tmp, a user
    ``app`` (uid 1000) with a home. Built once per package versions and cached in $CTROPS_CACHE."""
    cached = os.path.join(CACHE, "rig-images", "python-layer-%s.tar" % _python_layer_key())
    if os.path.exists(cached):
        with open(cached, "rb") as fh:
            return fh.read()
    if not os.access(PYTHON_BIN, os.X_OK):
        raise RuntimeError("%s is missing: run `make setup` (Debian's python3.11)" % PYTHON_BIN)
    files = _python_files()
    entries: dict = {}
    for path in files:
        _host_entries(path, entries)
    dynload = [path for path in files if path.endswith(".so") and os.path.isfile(path)]
    for path in sorted(_ldd_paths([PYTHON_BIN] + dynload)):
        _host_entries(path, entries)
    passwd = (b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
              b"app:x:1000:1000:app:/home/app:/bin/sh\n")
    group = b"root:x:0:\nnogroup:x:65534:\napp:x:1000:\n"
    for name, entry in (("usr/bin/python3", _symlink("usr/bin/python3", "python3.11")),
                        ("etc/passwd", _file("etc/passwd", passwd)), ("etc/group", _file("etc/group", group)),
                        ("home", _dir("home")), ("var", _dir("var")), ("var/tmp", _dir("var/tmp", 0o1777))):
        entries[name] = entry
    # What Ansible uses beyond the busybox kind's applets: su (become), chown (files for a become user).
    for applet in PYTHON_APPLETS:
        entries["bin/" + applet] = _symlink("bin/" + applet, "busybox")
    home = _tarinfo("home/app", tarfile.DIRTYPE, 0o755)
    home.uid = home.gid = 1000
    entries["home/app"] = (home, None)
    data = _tar(list(entries.values()))
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    tmp = "%s.tmp%d" % (cached, os.getpid())
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, cached)
    return data


def _web_layer(ref: str) -> bytes:
    html = f"<html><body><h1>ctrops rig web</h1><p>{ref}</p></body></html>\n".encode()
    return _tar([_dir("www"), _file("www/index.html", html)])


def _variant_layer(variant_tag: str) -> bytes:
    return _tar([_dir("etc"), _file("etc/rig-variant", variant_tag.encode() + b"\n")])


def _layers_for(kind: str, ref: str, variant_tag: str | None) -> list[bytes]:
    """Uncompressed layer tars for a kind; shared by the OCI and docker-archive writers."""
    if kind not in KINDS:
        raise ValueError(f"unknown image kind {kind!r}; expected one of {KINDS}")
    layers = [_busybox_layer()]
    if kind == "web":
        layers.append(_web_layer(ref))
    if kind == "python":
        layers.append(_python_layer())
    if variant_tag is not None:
        layers.append(_variant_layer(variant_tag))
    return layers


def _runtime_config(kind: str) -> dict:
    config = {"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/"}
    if kind == "python":
        config["Env"] = ["PATH=/usr/bin:/bin"]
        config["Cmd"] = ["sleep", "2147483647"]
    if kind == "web":
        config["Cmd"] = ["httpd", "-f", "-p", "80", "-h", "/www"]
        config["ExposedPorts"] = {"80/tcp": {}}
    return config


def _parse_platform(text: str) -> dict:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform {text!r} is not os/arch[/variant]")
    plat = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        plat["variant"] = parts[2]
    return plat


def _image_config(kind: str, plat: dict, diff_ids: list[str]) -> bytes:
    config = dict(plat)
    config.update({
        "created": "1970-01-01T00:00:00Z",
        "config": _runtime_config(kind),
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"ctrops rig {kind} layer {i}"}
                    for i in range(len(diff_ids))],
    })
    return _canonical_json(config)


def _gzip(data: bytes) -> bytes:
    """gzip with no name and mtime 0 in the header, so the compressed digest is stable too.

    Large layers (the python kind's) are compressed once and kept in $CTROPS_CACHE by their digest."""
    cached = None
    if len(data) > (4 << 20):
        cached = os.path.join(CACHE, "rig-images", "layer-%s.tar.gz" % hashlib.sha256(data).hexdigest())
        if os.path.exists(cached):
            with open(cached, "rb") as fh:
                return fh.read()
    compressed = _gzip_raw(data)
    if cached:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        tmp = "%s.tmp%d" % (cached, os.getpid())
        with open(tmp, "wb") as fh:
            fh.write(compressed)
        os.replace(tmp, cached)
    return compressed


def _gzip_raw(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return buf.getvalue()


def _descriptor(media_type: str, data: bytes, **extra) -> dict:
    desc = {"mediaType": media_type, "digest": _sha256(data), "size": len(data)}
    desc.update(extra)
    return desc


def _write_archive(out_path: str, files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> None:
    entries = [_dir(d) for d in dirs] + [_file(name, data) for name, data in files.items()]
    data = _tar(entries)
    tmp = f"{out_path}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, out_path)


def build_image(out_path: str, ref: str, kind: str, *, platforms: list[str] | None = None,
                variant_tag: str | None = None) -> dict:
    """Write an OCI image-layout tar archive for ``ref`` and describe what it holds.

    ``kind`` is ``busybox`` (a shell), ``python`` (busybox + Debian's Python 3.11, user ``app``)
    or ``web`` (busybox httpd serving a page naming the ref).  ``variant_tag`` adds a tiny layer with ``/etc/rig-variant``
    so a test can produce a second image under the same name with another digest.
    ``platforms=None`` gives a single manifest for the host; a list gives an OCI
    image index with one manifest per platform (other architectures carry the
    host's busybox: pullable, not runnable, but with their own config digest).

    The archive names the image twice in ``index.json``: ``ref.name`` (the tag,
    as the OCI spec wants) and ``io.containerd.image.name`` (the full ref) so
    ``ctr images import`` registers it under ``ref``.
    """
    tag = split_ref(ref)[2]
    layers = _layers_for(kind, ref, variant_tag)
    blobs: dict[str, bytes] = {}
    layer_descs = []
    diff_ids = []
    for raw in layers:
        gz = _gzip(raw)
        blobs[_sha256(gz)] = gz
        layer_descs.append(_descriptor(MT_OCI_LAYER_GZIP, gz))
        diff_ids.append(_sha256(raw))

    plat_names = list(platforms) if platforms else [host_platform()]
    manifests: dict[str, str] = {}
    manifest_descs = []
    config_digests: dict[str, str] = {}
    for name in plat_names:
        plat = _parse_platform(name)
        config = _image_config(kind, plat, diff_ids)
        blobs[_sha256(config)] = config
        manifest = _canonical_json({
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": _descriptor(MT_OCI_CONFIG, config),
            "layers": layer_descs,
        })
        blobs[_sha256(manifest)] = manifest
        manifests[name] = _sha256(manifest)
        config_digests[name] = _sha256(config)
        manifest_descs.append(_descriptor(MT_OCI_MANIFEST, manifest, platform=plat))

    annotations = {ANNOTATION_REF_NAME: tag, ANNOTATION_CONTAINERD_NAME: ref}
    if platforms:
        index = _canonical_json({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": manifest_descs})
        blobs[_sha256(index)] = index
        target = _descriptor(MT_OCI_INDEX, index, annotations=annotations)
    else:
        target = dict(manifest_descs[0], annotations=annotations)

    top_index = _canonical_json({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [target]})
    files = {"oci-layout": _canonical_json({"imageLayoutVersion": "1.0.0"}), "index.json": top_index}
    files.update({f"blobs/sha256/{d.split(':', 1)[1]}": data for d, data in blobs.items()})
    _write_archive(out_path, files, dirs=("blobs", "blobs/sha256"))

    result = {
        "ref": ref,
        "kind": kind,
        "digest": target["digest"],
        "media_type": target["mediaType"],
        "size": target["size"],
        "manifests": manifests,
        "config_digests": config_digests,
        "layers": [d["digest"] for d in layer_descs],
        "diff_ids": diff_ids,
        "path": out_path,
    }
    if not platforms:
        result["config_digest"] = config_digests[plat_names[0]]
    return result


def build_docker_archive(out_path: str, ref: str, kind: str, *, variant_tag: str | None = None) -> dict:
    """Write a ``docker save`` style archive (manifest.json, config, layer tars) for import tests.

    Its manifest is created by the importer, so only the config digest (the
    docker image ID) is known beforehand; that is what the result reports.
    """
    host, repo, tag = split_ref(ref)
    layers = _layers_for(kind, ref, variant_tag)
    diff_ids = [_sha256(raw) for raw in layers]
    config = _image_config(kind, _parse_platform(host_platform()), diff_ids)
    config_hex = _sha256(config).split(":", 1)[1]
    files = {f"{config_hex}.json": config}
    layer_paths = []
    for raw, diff_id in zip(layers, diff_ids):
        path = f"{diff_id.split(':', 1)[1]}/layer.tar"
        files[path] = raw
        layer_paths.append(path)
    if host == "docker.io":
        name = repo.removeprefix("library/")
    else:
        name = f"{host}/{repo}"
    repo_tag = f"{name}:{tag}"
    files["manifest.json"] = json.dumps(
        [{"Config": f"{config_hex}.json", "RepoTags": [repo_tag], "Layers": layer_paths}]).encode()
    files["repositories"] = json.dumps({name: {tag: diff_ids[-1].split(":", 1)[1]}}).encode()
    dirs = tuple(sorted({p.split("/", 1)[0] for p in layer_paths}))
    _write_archive(out_path, files, dirs=dirs)
    return {
        "ref": ref,
        "kind": kind,
        "repo_tag": repo_tag,
        "config_digest": _sha256(config),
        "diff_ids": diff_ids,
        "path": out_path,
    }


def _auth_header(registry) -> dict:
    if not getattr(registry, "username", None):
        return {}
    token = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _ssl_context(registry) -> ssl.SSLContext | None:
    if getattr(registry, "plain_http", False):
        return None
    context = ssl.create_default_context(cafile=registry.ca_cert)
    if getattr(registry, "client_cert", None):
        context.load_cert_chain(registry.client_cert, registry.client_key)
    return context


def remote_digest(registry, repo: str, reference: str) -> str | None:
    """The digest a registry serves for ``repo:reference`` (tag or digest), or None if absent.

    Uses HEAD with every manifest and index media type in Accept, the way
    containerd resolves, so an index is reported as the index digest and never
    converted or replaced by a single platform's manifest.
    """
    accept = ", ".join([MT_OCI_INDEX, MT_OCI_MANIFEST, MT_DOCKER_LIST, MT_DOCKER_MANIFEST])
    req = urllib.request.Request(f"{registry.url}/v2/{repo}/manifests/{reference}", method="HEAD",
                                 headers={"Accept": accept, **_auth_header(registry)})
    try:
        with urllib.request.urlopen(req, timeout=30, context=_ssl_context(registry)) as resp:
            return resp.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def _authfile(registry) -> str | None:
    """A 0600 auth.json for skopeo: credentials must never appear in a process's argv."""
    if not getattr(registry, "username", None):
        return None
    token = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    fd, path = tempfile.mkstemp(prefix="rig-auth-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump({"auths": {registry.host: {"auth": token}}}, fh)
    return path


def _skopeo_dest_args(registry, authfile: str | None) -> list[str]:
    args = []
    if getattr(registry, "plain_http", False):
        args.append("--dest-tls-verify=false")
    else:
        args += ["--dest-tls-verify=true", "--dest-cert-dir", os.path.dirname(registry.ca_cert)]
    if authfile:
        args += ["--dest-authfile", authfile]
    return args


def push_archive(archive_path: str, dest_ref: str, *, registry, expected_digest: str | None = None) -> str:
    """Seed an OCI archive into a rig registry as ``dest_ref`` (``repo:tag``, host optional).

    skopeo is used (not ctr) so seeding does not depend on the containerd under
    test.  Digests are preserved and checked against the registry afterwards:
    a test that compares digests must compare against what was really stored.
    Returns the digest the registry serves.
    """
    repo_tag = dest_ref.split("/", 1)[1] if dest_ref.startswith(registry.host + "/") else dest_ref
    repo, _colon, tag = repo_tag.rpartition(":")
    if not repo or "/" in tag:
        repo, tag = repo_tag, "latest"
    if expected_digest is None:
        expected_digest = archive_digest(archive_path)
    authfile = _authfile(registry)
    try:
        cmd = ["skopeo", "copy", "--all", "--preserve-digests", *_skopeo_dest_args(registry, authfile),
               f"oci-archive:{archive_path}", f"docker://{registry.host}/{repo}:{tag}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    finally:
        if authfile:
            os.unlink(authfile)
    if proc.returncode != 0:
        raise RuntimeError(f"skopeo copy to {registry.host}/{repo}:{tag} failed "
                           f"(rc={proc.returncode}): {proc.stderr.strip()[-2000:]}")
    served = remote_digest(registry, repo, tag)
    if served != expected_digest:
        raise RuntimeError(f"registry serves {served} for {repo}:{tag}, archive holds {expected_digest}")
    return served


def archive_digest(archive_path: str) -> str:
    """The target digest named in an OCI archive's index.json (its single entry)."""
    with tarfile.open(archive_path) as tar:
        member = tar.extractfile("index.json")
        index = json.load(member)
    entries = index.get("manifests", [])
    if len(entries) != 1:
        raise ValueError(f"{archive_path}: index.json has {len(entries)} entries, expected 1")
    return entries[0]["digest"]
