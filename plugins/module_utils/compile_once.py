# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compile this collection's module_utils once per module run, not twice.

Ansible runs a module from a zip (AnsiballZ), and zipimport keeps no bytecode, so each module_utils file is
compiled from source on every run. Python 3.10 and newer compile it twice: ``zipimporter.find_spec`` asks
``get_filename``, which compiles the file to name it, and loading compiles it again. On a no-op run that
second compile was about a quarter of the module's own time (tests/benchmark/module_cost.py).

Importing this module (each module imports it before any other of ours) puts a finder in the
import system for this package's own modules inside the zip only: it reads the source from the zip and
compiles it once, when loading. Anything else (another package, a package directory, a path that is not a
zip, as under Mitogen or ansible-test) goes on to the usual finders untouched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

PACKAGE = __name__.rpartition('.')[0]
MARKER = '_ctrops_compile_once'

try:
    import zipimport
    from importlib.machinery import ModuleSpec, PathFinder
except ImportError:  # Python 2: find_spec is never asked
    zipimport = ModuleSpec = PathFinder = None


class SourceLoader:
    """Loads one module from source already read from the zip, compiling it once."""

    def __init__(self, filename, source):
        self.filename = filename
        self.source = source

    def create_module(self, spec):  # pylint: disable=unused-argument
        return None  # the default module object

    def exec_module(self, module):
        code = compile(self.source, self.filename, 'exec', dont_inherit=True)
        exec(code, module.__dict__)  # pylint: disable=exec-used

    def get_source(self, fullname):  # pylint: disable=unused-argument
        return self.source  # for tracebacks (linecache)

    def get_filename(self, fullname):  # pylint: disable=unused-argument
        return self.filename

    def is_package(self, fullname):  # pylint: disable=unused-argument
        return False


class CompileOnceFinder:
    """A meta path finder for the plain modules of this package that live in a zip."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):  # pylint: disable=unused-argument
        package, _dot, name = fullname.rpartition('.')
        if package != PACKAGE or not path:
            return None
        for entry in path:
            try:
                importer = zipimport.zipimporter(entry)
                if importer.is_package(fullname):
                    return None
                source = importer.get_source(fullname)
            except (zipimport.ZipImportError, OSError):
                continue  # not a zip, or not in this one
            if source is None:
                return None
            filename = os.path.join(importer.archive, importer.prefix, name + '.py')
            spec = ModuleSpec(fullname, SourceLoader(filename, source), origin=filename)
            spec.has_location = True
            return spec
        return None


def install():
    """Put the finder just before the path finder (which would take the zip), once per interpreter:
    Mitogen reuses one interpreter for many module runs. The finders before it (built-in, frozen, and
    any a host placed first) keep their turn."""
    if ModuleSpec is None or any(getattr(finder, MARKER, False) for finder in sys.meta_path):
        return
    setattr(CompileOnceFinder, MARKER, True)
    finders = list(sys.meta_path)
    position = finders.index(PathFinder) if PathFinder in finders else len(finders)
    sys.meta_path.insert(position, CompileOnceFinder)


install()
