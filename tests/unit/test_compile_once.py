"""The finder that compiles this collection's module_utils once per module run (compile_once.py): it takes
only this package's plain modules inside a zip, compiles each once, and every module imports it first.
tests/benchmark/module_cost.py measures what it saves; the integration tests run every module through it."""

import ast
import glob
import importlib.util
import os
import sys
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


def test_a_module_of_ours_in_a_zip_is_compiled_once_when_loaded(payload, monkeypatch):
    compiled = []
    real_compile = compile

    def counting_compile(source, filename, *args, **kwargs):
        compiled.append(filename)
        return real_compile(source, filename, *args, **kwargs)

    monkeypatch.setattr("builtins.compile", counting_compile)
    entry = os.path.join(payload, INSIDE)
    spec = compile_once.CompileOnceFinder.find_spec(compile_once.PACKAGE + ".probe", [entry])
    assert spec.origin == os.path.join(payload, INSIDE, "probe.py")
    assert compiled == []  # finding reads the source, it does not compile
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.ANSWER == 42
    assert module.__file__ == spec.origin
    assert compiled == [spec.origin]
    assert spec.loader.get_source(spec.name) == "ANSWER = 6 * 7\n"


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
