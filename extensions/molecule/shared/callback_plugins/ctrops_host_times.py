"""Prints, at the end of each playbook, how long each host spent in its tasks and the playbook's wall time.

Hosts of a fleet run side by side, so the wall time is about the slowest host's, not the sum; the per-host
times show which platform sets the pace. Enabled by the fleet scenario (ANSIBLE_CALLBACKS_ENABLED).
"""

from __future__ import annotations

import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: ctrops_host_times
type: aggregate
short_description: Each host's time in its tasks, and the playbook's wall time
description:
  - At the end of a playbook, one line per host with the seconds its tasks took, and the playbook's wall time.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ctrops_host_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._started = time.monotonic()
        self._running = {}
        self._spent = {}

    def v2_runner_on_start(self, host, task):
        self._running[(host.get_name(), task._uuid)] = time.monotonic()

    def _done(self, result, *_args, **_kwargs):
        key = (result._host.get_name(), result._task._uuid)
        start = self._running.pop(key, None)
        if start is not None:
            self._spent[key[0]] = self._spent.get(key[0], 0.0) + time.monotonic() - start

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_skipped = v2_runner_on_unreachable = _done

    def v2_playbook_on_stats(self, stats):
        hosts = ", ".join("%s %.0fs" % (host, secs) for host, secs in sorted(self._spent.items()))
        self._display.display("host times: %s; wall %.0fs" % (hosts or "none", time.monotonic() - self._started))
