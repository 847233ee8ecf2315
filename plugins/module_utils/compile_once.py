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

The compiled code is also kept between runs, as Python keeps ``__pycache__`` for files on disk, in
``~/.cache/ctrops-containerd/bytecode-<cache tag>`` of the user the module runs as: a directory of that
user's alone (0700, created so; any other owner or mode and it is not used), one 0600 file per source, named
by a hash of the interpreter's magic number, the module's name and its source, so a changed source or
another Python never finds an old entry. Nothing is written when Python is told not to write bytecode
(``PYTHONDONTWRITEBYTECODE``); an entry that cannot be read or written is compiled as before.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import marshal
import os
import pwd
import stat
import sys

PACKAGE = __name__.rpartition('.')[0]
MARKER = '_ctrops_compile_once'

try:
    import zipimport
    from importlib.machinery import ModuleSpec, PathFinder
    from importlib.util import MAGIC_NUMBER
except ImportError:  # Python 2: find_spec is never asked
    zipimport = ModuleSpec = PathFinder = MAGIC_NUMBER = None


def cache_dir():
    """This user's bytecode directory, made 0700 if missing (and writing allowed); None when it is missing, or is
    not a directory of this user's alone (another user could then plant code in it). The home is the effective
    user's from the password database, not $HOME, which become methods may leave pointing at another user's."""
    try:
        home = pwd.getpwuid(os.geteuid()).pw_dir
    except KeyError:
        return None
    path = os.path.join(home, '.cache', 'ctrops-containerd', 'bytecode-' + str(sys.implementation.cache_tag))
    if not sys.dont_write_bytecode:
        try:
            os.makedirs(path, 0o700)
        except OSError:
            pass  # there already, or cannot be made: the checks below decide
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        return None
    return path


def cached_code(fullname, filename, source):
    """The code object of one module: from this user's cache when it holds this exact source, else compiled
    (and kept there for the next run)."""
    key = hashlib.sha256(MAGIC_NUMBER + fullname.encode() + b'\0' + source.encode('utf-8')).hexdigest()
    directory = cache_dir()
    entry = os.path.join(directory, key) if directory else None
    if entry:
        try:
            fd = os.open(entry, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
            with os.fdopen(fd, 'rb') as handle:
                return marshal.loads(handle.read())
        except (OSError, EOFError, ValueError, TypeError):
            pass  # not there yet, or unreadable: compile
    code = compile(source, filename, 'exec', dont_inherit=True)
    if entry and not sys.dont_write_bytecode:
        partial = '%s.%d.tmp' % (entry, os.getpid())
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o600)
            with os.fdopen(fd, 'wb') as handle:
                handle.write(marshal.dumps(code))
            os.rename(partial, entry)  # atomic: a concurrent run reads the old entry, the new one, or none
        except OSError:
            try:
                os.unlink(partial)
            except OSError:
                pass
    return code


class SourceLoader:
    """Loads one module from source already read from the zip, compiling it once."""

    def __init__(self, filename, source, codename=None):
        self.filename = filename
        self.source = source
        # The name tracebacks show; the path inside the zip, the same for every run, as the code may be cached.
        self.codename = codename or filename

    def create_module(self, spec):  # pylint: disable=unused-argument
        return None  # the default module object

    def exec_module(self, module):
        exec(cached_code(module.__name__, self.codename, self.source), module.__dict__)  # pylint: disable=exec-used

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
            codename = os.path.join(importer.prefix, name + '.py')
            spec = ModuleSpec(fullname, SourceLoader(filename, source, codename), origin=filename)
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
