# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The run loop every module uses.

``ModuleRun`` builds the ``AnsibleModule`` from the shared client options plus
the module's own, records each action, runs an action only outside check
mode, fails with one sentence plus ``actions`` and the ctr call count, and
finishes with ``changed`` and the diff. A module keeps its options, its
comparison and its actions::

    run = ModuleRun(dict(name=dict(type='str', required=True)))
    run.execute(converge, run)   # converge(run) calls run.act(...), run.set_diff(...)
    run.exit(namespace=...)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ctrops.containerd.plugins.module_utils.client import ContainerdClient, client_argument_spec
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import ModuleError


class ModuleRun:
    """One run of a module: its AnsibleModule, its client, its actions, its result."""

    def __init__(self, argument_spec, namespace=True, supports_check_mode=True, **module_kwargs):
        spec = client_argument_spec(namespace=namespace)
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=supports_check_mode, **module_kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.actions = []
        self.lost_races = []  # actions another run did first (races.act_racing): state to read back, no change
        self.result = {}
        self._client = None
        self._diff = None

    @property
    def client(self):
        """The ContainerdClient of this run, made on first use (modules that need no ctr never make one)."""
        if self._client is None:
            self._client = ContainerdClient.from_module(self.module)
        return self._client

    @property
    def ctr_calls(self):
        return self._client.calls if self._client is not None else 0

    def act(self, action, func=None, *args, **kwargs):
        """Record ``action`` (a text or a list of texts); run ``func(*args, **kwargs)`` unless in check mode,
        and return what it returns."""
        self.actions.extend([action] if isinstance(action, str) else action)
        if func is not None and not self.check_mode:
            return func(*args, **kwargs)
        return None

    def warn(self, message):
        self.module.warn(message)

    def part(self, params):
        """A RunPart for one object of a module that converges several (a stack's containers)."""
        return RunPart(self, params)

    def fail(self, msg, **extra):
        """Fail with one sentence, what was done (or would be) so far, what is known, and the ctr call count."""
        for key, value in self.result.items():
            extra.setdefault(key, value)
        extra.setdefault('actions', list(self.actions))
        extra.setdefault('ctr_calls', self.ctr_calls)
        self.module.fail_json(msg=msg, **extra)

    def execute(self, func, *args, **kwargs):
        """Run ``func``; any ModuleError (ctr, CNI, registry, input) or OS error becomes the module's failure."""
        try:
            return func(*args, **kwargs)
        except ModuleError as exc:
            self.fail(exc.message, **exc.details())
        except (IOError, OSError) as exc:
            self.fail(os_error_message(exc))

    def set_diff(self, before, after, header=None):
        """The diff of this run (shown with --diff): before/after dicts or texts of the managed state."""
        self._diff = dict(before=before, after=after)
        if header:
            self._diff.update(before_header=header, after_header=header)

    def exit(self, **result):
        """Finish: ``changed`` (unless given) is whether any action was recorded."""
        out = dict(self.result)
        out.update(result)
        out.setdefault('changed', bool(self.actions))
        out.setdefault('actions', self.actions)
        if self._client is not None:
            out.setdefault('ctr_calls', self._client.calls)
        if self._diff is not None and self.module._diff:
            out['diff'] = self._diff
        self.module.exit_json(**out)


class RunPart:
    """The share of one object in a run that converges several (containerd_stack's containers and images).

    It offers what the shared convergence code uses of a ModuleRun (client, check mode, params, act,
    actions, lost races, result, diff), with actions and results of its own, so each object reports what
    it did; every action is also recorded in the whole run's actions, which make its ``changed``.
    """

    def __init__(self, run, params):
        self.whole = run
        self.params = params
        self.check_mode = run.check_mode
        self.actions = []
        self.lost_races = []
        self.result = {}
        self.diff = None

    @property
    def client(self):
        return self.whole.client

    @property
    def module(self):
        return self.whole.module

    def act(self, action, func=None, *args, **kwargs):
        self.actions.extend([action] if isinstance(action, str) else action)
        return self.whole.act(action, func, *args, **kwargs)

    def warn(self, message):
        self.whole.warn(message)

    def set_diff(self, before, after, header=None):
        self.diff = dict(before=before, after=after)


def os_error_message(exc):
    """One sentence for a file-system failure: what, where, and the system's reason."""
    where = getattr(exc, 'filename', None)
    reason = getattr(exc, 'strerror', None) or str(exc)
    if where:
        return 'Cannot access %s: %s.' % (where, reason)
    return 'A system call failed: %s.' % reason
