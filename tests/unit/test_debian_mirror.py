"""The Debian mirror that setup.sh and the VM base images fetch from (extensions/molecule/vm.py):
CTROPS_DEBIAN_MIRROR, else the first Debian archive of the machine's apt configuration."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "extensions", "molecule"))

import vm  # noqa: E402

DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.test/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.test/debian-security
Suites: bookworm-security
Components: main
"""


@pytest.fixture
def apt(tmp_path, monkeypatch):
    monkeypatch.delenv("CTROPS_DEBIAN_MIRROR", raising=False)
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    return tmp_path / "sources.list", parts


def test_deb822_sources_first_debian_archive(apt):
    sources, parts = apt
    # A third-party repository sorted first is not a Debian archive.
    (parts / "a-node.sources").write_text("Types: deb\nURIs: http://node.test/x\nSuites: nodistro\nComponents: main\n")
    (parts / "debian.sources").write_text(DEB822)
    (parts / "old.sources.disabled").write_text("Types: deb\nURIs: http://old.test/debian\nSuites: sid\nComponents: main\n")
    assert vm.debian_mirror(sources, parts) == "http://mirror.test/debian"


def test_sources_list_comes_first_and_options_are_skipped(apt):
    sources, parts = apt
    sources.write_text("# deb http://commented.test/debian sid main\n"
                       "deb-src http://src.test/debian bookworm main\n"
                       "deb http://security.test/debian-security bookworm-security main\n"
                       "deb [arch=amd64 signed-by=/k.gpg] https://list.test/debian bookworm main contrib\n")
    (parts / "debian.sources").write_text(DEB822)
    assert vm.debian_mirror(sources, parts) == "https://list.test/debian"


def test_disabled_stanza_and_other_components_are_skipped(apt):
    sources, parts = apt
    (parts / "debian.sources").write_text("Types: deb\nURIs: http://off.test/debian\nSuites: sid\nComponents: main\n"
                                          "Enabled: no\n\n"
                                          "Types: deb\nURIs: https://docker.test/linux/debian\nSuites: bookworm\n"
                                          "Components: stable\n\n" + DEB822)
    assert vm.debian_mirror(sources, parts) == "http://mirror.test/debian"


def test_environment_overrides(apt, monkeypatch):
    sources, parts = apt
    (parts / "debian.sources").write_text(DEB822)
    monkeypatch.setenv("CTROPS_DEBIAN_MIRROR", "http://override.test/debian/")
    assert vm.debian_mirror(sources, parts) == "http://override.test/debian"


def test_no_mirror_is_one_clear_error(apt):
    sources, parts = apt
    (parts / "node.sources").write_text("Types: deb\nURIs: http://node.test/x\nSuites: nodistro\nComponents: main\n")
    with pytest.raises(vm.NoMirror, match="set CTROPS_DEBIAN_MIRROR"):
        vm.debian_mirror(sources, parts)
