"""Image references normalised as docker and nerdctl do."""

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils.reference import InvalidReference, normalize, parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("text, expected", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:alpine", "docker.io/library/nginx:alpine"),
    ("library/nginx:1.25", "docker.io/library/nginx:1.25"),
    ("team/app", "docker.io/team/app:latest"),
    ("index.docker.io/team/app:v1", "docker.io/team/app:v1"),
    ("docker.io/nginx", "docker.io/library/nginx:latest"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/app:v2", "localhost:5000/app:v2"),
    ("registry.example:5000/team/app@" + DIGEST, "registry.example:5000/team/app@" + DIGEST),
    ("registry.example/team/app:v1@" + DIGEST, "registry.example/team/app:v1@" + DIGEST),
    ("127.0.0.1:5000/rig/busybox:1", "127.0.0.1:5000/rig/busybox:1"),
    ("ghcr.io/a/b/c:x.y-z_1", "ghcr.io/a/b/c:x.y-z_1"),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_familiar_and_parts():
    ref = parse("nginx:alpine")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("docker.io", "library/nginx", "alpine", None)
    assert ref.familiar() == "nginx:alpine"
    assert parse("registry:5000/app").familiar() == "registry:5000/app:latest"
    assert parse("nginx@" + DIGEST).tag is None


@pytest.mark.parametrize("text, fragment", [
    ("", "must not be empty"),
    ("Nginx", "must be lower case"),
    ("nginx:", "invalid tag"),
    ("nginx:-x", "invalid tag"),
    ("nginx@sha256:abc", "invalid digest"),
    ("a b", "white space"),
    ("bad_host_/x", "invalid repository name"),
])
def test_invalid(text, fragment):
    with pytest.raises(InvalidReference, match=fragment):
        parse(text)
