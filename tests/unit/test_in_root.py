"""in_root: paths inside a container root, walked from a descriptor so nothing leads out of it.

A directory ``root`` stands for the container's root and ``host`` for a host directory beside it that
links planted in the root point at; every test checks that ``host`` is never written or read.
"""

import os
import stat

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import in_root
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError


@pytest.fixture
def tree(tmp_path):
    root, host = tmp_path / "root", tmp_path / "host"
    for directory in (root / "etc", root / "tmp" / "d", host):
        directory.mkdir(parents=True)
    (root / "etc" / "passwd").write_text("app:x:1000:1000::/:/bin/sh\n")
    (host / "shadow").write_text("host secret\n")
    return root, host


def place_of(root, path, **kwargs):
    with in_root.RootDir(str(root)) as rootdir:
        with rootdir.locate(path, **kwargs) as place:
            return place.path, place.parent_exists(), place.lstat() is not None


def test_plain_paths_and_missing_directories(tree):
    root, _host = tree
    assert place_of(root, "/etc/passwd") == ("/etc/passwd", True, True)
    assert place_of(root, "/etc/new") == ("/etc/new", True, False)
    assert place_of(root, "/new/dir/file") == ("/new/dir/file", False, False)
    # A file where a directory should be: its children have no directory.
    assert place_of(root, "/etc/passwd/x") == ("/etc/passwd/x", False, False)
    assert place_of(root, "/tmp/./d/../d/") == ("/tmp/d", True, True)


def test_absolute_links_start_again_at_the_root(tree):
    root, host = tree
    os.symlink(str(host), str(root / "tmp" / "abs"))  # the host's path: inside the root it names nothing
    os.symlink("/etc", str(root / "tmp" / "etc"))
    assert place_of(root, "/tmp/etc/passwd") == ("/etc/passwd", True, True)
    assert place_of(root, "/tmp/abs/shadow")[0] == str(host) + "/shadow"
    assert place_of(root, "/tmp/abs/shadow")[2] is False
    with in_root.RootDir(str(root)) as rootdir:
        with pytest.raises(OSError):
            rootdir.read("/tmp/abs/shadow")
        assert rootdir.read("/tmp/etc/passwd").startswith(b"app:")


def test_a_link_on_the_last_component(tree):
    root, host = tree
    os.symlink(str(host / "shadow"), str(root / "etc" / "shadow"))
    (root / str(host).lstrip("/")).mkdir(parents=True)  # the same directory names inside the root
    os.symlink("passwd", str(root / "etc" / "relative"))
    assert place_of(root, "/etc/relative") == ("/etc/passwd", True, True)
    assert place_of(root, "/etc/relative", follow_last=False) == ("/etc/relative", True, True)
    with in_root.RootDir(str(root)) as rootdir:
        # Written through the link: the file lands where the link points inside the root.
        with rootdir.locate("/etc/shadow") as place:
            place.write(b"inside\n", 0o640, None, None)
        with rootdir.locate("/etc/shadow", follow_last=False) as place:
            # Opened without following, the link itself is refused, never read through.
            with pytest.raises(in_root.RaceError, match="is a symbolic link, not a regular file"):
                place.read()
    assert (host / "shadow").read_text() == "host secret\n"
    planted = root / str(host / "shadow").lstrip("/")
    assert planted.read_text() == "inside\n" and stat.S_IMODE(planted.stat().st_mode) == 0o640


@pytest.mark.parametrize("path", ["/../etc", "/tmp/../../x", "/tmp/up/x", "/tmp/up"])
def test_dotdot_never_climbs_above_the_root(tree, path):
    root, _host = tree
    os.symlink("../../..", str(root / "tmp" / "up"))
    with in_root.RootDir(str(root)) as rootdir:
        with pytest.raises(in_root.EscapeError, match="leads outside the container's root"):
            rootdir.locate(path)


def test_link_loops_end_with_a_sentence(tree):
    root, _host = tree
    os.symlink("b", str(root / "tmp" / "a"))
    os.symlink("a", str(root / "tmp" / "b"))
    with in_root.RootDir(str(root)) as rootdir:
        with pytest.raises(ModuleError, match="too many levels of symbolic links"):
            rootdir.locate("/tmp/a/x")
        with pytest.raises(ModuleError, match="too many levels of symbolic links"):
            rootdir.locate("/tmp/a")


def test_relative_and_root_paths_are_refused(tree):
    root, _host = tree
    with in_root.RootDir(str(root)) as rootdir:
        with pytest.raises(InvalidInput, match="must be absolute"):
            rootdir.locate("etc/x")
        with pytest.raises(InvalidInput, match="root itself"):
            rootdir.locate("/")
        with pytest.raises(InvalidInput, match="root itself"):
            rootdir.locate("/etc/..")


def test_a_directory_swapped_for_a_link_during_the_walk(tree):
    """The race: the walk has looked at /tmp/d, then the container puts a link to the host there."""
    root, host = tree
    d = root / "tmp" / "d"

    def swap(parent, name):
        if (parent, name) == ("/tmp", "d") and d.is_dir() and not d.is_symlink():
            d.rename(root / "tmp" / "d.real")
            os.symlink(str(host), str(d))

    with in_root.RootDir(str(root), hook=swap) as rootdir:
        with rootdir.locate("/tmp/d/f") as place:
            # The walk read the link and resolved it inside the root: no such directory there.
            assert place.path == str(host) + "/f" and not place.parent_exists()
            with pytest.raises(OSError):
                place.write(b"x", 0o644, None, None)
    assert os.listdir(str(host)) == ["shadow"]


def test_a_place_keeps_its_directory_when_the_name_is_swapped_later(tree):
    """Between locate and write the container swaps the directory for a link: the write still lands in
    the directory the walk opened (now /tmp/d.real), never in the host directory."""
    root, host = tree
    d = root / "tmp" / "d"
    with in_root.RootDir(str(root)) as rootdir:
        with rootdir.locate("/tmp/d/f") as place:
            d.rename(root / "tmp" / "d.real")
            os.symlink(str(host), str(d))
            place.write(b"x", 0o644, None, None)
    assert (root / "tmp" / "d.real" / "f").read_bytes() == b"x"
    assert os.listdir(str(host)) == ["shadow"]


def test_the_last_component_swapped_after_the_walk(tree):
    root, host = tree
    host_mode = stat.S_IMODE((host / "shadow").stat().st_mode)
    target = root / "etc" / "app.conf"
    target.write_text("old\n")
    with in_root.RootDir(str(root)) as rootdir:
        with rootdir.locate("/etc/app.conf") as place:
            target.unlink()
            os.symlink(str(host / "shadow"), str(target))
            with pytest.raises(in_root.RaceError, match="is a symbolic link, not a regular file"):
                place.read()
            with pytest.raises(in_root.RaceError, match="is a symbolic link"):
                place.set_attributes(0o600, None, None)
            # A write replaces the link itself (rename over it), never the file it points to.
            place.write(b"new\n", 0o600, None, None)
    assert not target.is_symlink() and target.read_text() == "new\n"
    assert (host / "shadow").read_text() == "host secret\n"
    assert stat.S_IMODE((host / "shadow").stat().st_mode) == host_mode


def test_special_files_are_never_opened(tree):
    root, _host = tree
    os.mkfifo(str(root / "tmp" / "fifo"))
    with in_root.RootDir(str(root)) as rootdir:
        with rootdir.locate("/tmp/fifo") as place:
            with pytest.raises(in_root.RaceError, match="is a FIFO, not a regular file"):
                place.read()


def test_write_mkdir_attributes_and_listing(tree):
    root, _host = tree
    with in_root.RootDir(str(root)) as rootdir:
        with rootdir.locate("/srv") as place:
            place.mkdir(None, None)
        with rootdir.locate("/srv/a.txt") as place:
            place.write(b"a\n", 0o600, os.getuid(), os.getgid())
            place.set_attributes(0o644, None, None)
        with rootdir.locate("/srv") as place:
            assert [(name, stat.S_ISREG(info.st_mode)) for name, info in place.listing()] == [("a.txt", True)]
        with rootdir.locate("/srv/a.txt") as place:
            data, info = place.read()
    assert data == b"a\n" and stat.S_IMODE(info.st_mode) == 0o644
    # No temporary file left beside it.
    assert os.listdir(str(root / "srv")) == ["a.txt"]


def test_descriptors_are_released(tree):
    root, _host = tree
    before = len(os.listdir("/proc/self/fd"))
    with in_root.RootDir(str(root)) as rootdir:
        for _round in range(50):
            with rootdir.locate("/tmp/d/x/y"):
                pass
            with rootdir.locate("/etc/passwd") as place:
                place.read()
    assert len(os.listdir("/proc/self/fd")) == before
