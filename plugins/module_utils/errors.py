# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one base error of the collection: a failure with a sentence meant for the user.

ctr, CNI, registry and archive failures and invalid input all derive from it,
so the run loop (module_run.py) turns any of them into one ``fail_json``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleError(Exception):
    """A failure with ``message`` for the user and ``details()`` for the result (never a secret)."""

    def __init__(self, message, **extra):
        super(ModuleError, self).__init__(message)
        self.message = message
        self.extra = extra

    def details(self):
        """Extra keys for fail_json."""
        return dict(self.extra)


class InvalidInput(ModuleError):
    """An option value the module refuses before it acts."""
