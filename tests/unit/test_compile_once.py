"""The finder that compiles this collection's module_utils once per module run (compile_once.py): it takes
only this package's plain modules inside a zip, compiles each once (and keeps the code in the user's own
cache for the next run), and every module imports it first. tests/benchmark/module_cost.py measures what it
saves; the integration tests run every module through it."""

import ast
import glob
import importlib.util
import os
import stat
import sys
import types
import zipfile

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once

MODULES = os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "modules")
INSIDE = compile_once.PACKAGE.replace(".", "/")


@pytest.fixture
def payload(tmp_path):
    """A zip laid out as AnsiballZ lays one out, holding one plain module and one package of ours."""
    path = tmp_path / "payload.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(INSIDE + "/probe.py", "ANSWER = 6 * 7\n")
        archive.writestr(INSIDE + "/sub/__init__.py", "")
    return str(path)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """The effective user's home, as the password database gives it, in a scratch directory."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setattr(compile_once.pwd, "getpwuid", lambda uid: types.SimpleNamespace(pw_dir=str(path)))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return path


@pytest.fixture
def compiled(monkeypatch):
    """The file names compile() is called with."""
    names = []
    real_compile = compile

    def counting_compile(source, filename, *args, **kwargs):
        names.append(filename)
        return real_compile(source, filename, *args, **kwargs)

    monkeypatch.setattr("builtins.compile", counting_compile)
    return names


def load(payload, name="probe"):
    spec = compile_once.CompileOnceFinder.find_spec(compile_once.PACKAGE + "." + name, [os.path.join(payload, INSIDE)])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return spec, module


def cache_of(home):
    return home / ".cache" / "ctrops-containerd" / ("bytecode-" + sys.implementation.cache_tag)


def test_a_module_of_ours_in_a_zip_is_compiled_once_when_loaded(payload, home, compiled):
    entry = os.path.join(payload, INSIDE)
    spec = compile_once.CompileOnceFinder.find_spec(compile_once.PACKAGE + ".probe", [entry])
    assert spec.origin == os.path.join(payload, INSIDE, "probe.py")
    assert compiled == []  # finding reads the source, it does not compile
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.ANSWER == 42
    assert module.__file__ == spec.origin
    # Compiled under its path inside the zip, the same in every run's payload.
    assert compiled == [INSIDE + "/probe.py"]
    assert spec.loader.get_source(spec.name) == "ANSWER = 6 * 7\n"


def test_the_next_run_takes_the_code_from_the_users_cache(payload, home, compiled):
    load(payload)
    cache = cache_of(home)
    entries = list(cache.iterdir())
    assert len(entries) == 1
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(entries[0].stat().st_mode) == 0o600
    compiled.clear()
    _spec, module = load(payload)
    assert module.ANSWER == 42
    assert compiled == []


def test_a_changed_source_is_compiled_again(payload, tmp_path, home, compiled):
    load(payload)
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(changed, "w") as archive:
        archive.writestr(INSIDE + "/probe.py", "ANSWER = 6 * 8\n")
    compiled.clear()
    _spec, module = load(str(changed))
    assert module.ANSWER == 48
    assert compiled == [INSIDE + "/probe.py"]
    assert len(list(cache_of(home).iterdir())) == 2


def test_a_damaged_entry_is_compiled_again(payload, home, compiled):
    load(payload)
    (entry,) = cache_of(home).iterdir()
    entry.write_bytes(b"\x00not code")
    compiled.clear()
    _spec, module = load(payload)
    assert module.ANSWER == 42
    assert compiled == [INSIDE + "/probe.py"]


@pytest.mark.parametrize("how", ["group-writable", "a symlink"])
def test_a_cache_directory_others_could_write_is_not_used(payload, tmp_path, home, compiled, how):
    cache = cache_of(home)
    cache.parent.mkdir(parents=True)
    if how == "a symlink":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        cache.symlink_to(elsewhere)
        written = elsewhere
    else:
        cache.mkdir()
        cache.chmod(0o770)
        written = cache
    load(payload)
    load(payload)
    assert compiled == [INSIDE + "/probe.py"] * 2
    assert list(written.iterdir()) == []


def test_nothing_is_written_when_python_is_told_not_to(payload, home, compiled, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    load(payload)
    load(payload)
    assert compiled == [INSIDE + "/probe.py"] * 2
    assert not cache_of(home).exists()


@pytest.mark.parametrize("name, where", [
    ("probe", "a directory, not a zip"),
    ("sub", "a package"),
    ("missing", "not in the zip"),
])
def test_everything_else_goes_on_to_the_usual_finders(payload, tmp_path, name, where):
    entry = str(tmp_path) if where.startswith("a directory") else os.path.join(payload, INSIDE)
    assert compile_once.CompileOnceFinder.find_spec(compile_once.PACKAGE + "." + name, [entry]) is None


def test_other_packages_are_never_taken(payload):
    entry = os.path.join(payload, INSIDE)
    assert compile_once.CompileOnceFinder.find_spec("ansible.module_utils.probe", [entry]) is None
    assert compile_once.CompileOnceFinder.find_spec(compile_once.PACKAGE + ".probe", None) is None


def test_installed_once_and_after_the_finders_placed_before_the_path_finder():
    compile_once.install()
    compile_once.install()
    assert sys.meta_path.count(compile_once.CompileOnceFinder) == 1
    assert sys.meta_path.index(compile_once.CompileOnceFinder) == sys.meta_path.index(importlib.machinery.PathFinder) - 1


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(MODULES, "*.py"))), ids=os.path.basename)
def test_every_module_imports_it_before_any_other_module_util_of_ours(path):
    tree = ast.parse(open(path).read())
    ours = [node for node in tree.body if isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith("ansible_collections.ctrops.containerd")]
    assert ours, "%s imports nothing of ours" % path
    assert ours[0].module == compile_once.PACKAGE and [alias.name for alias in ours[0].names] == ["compile_once"]
