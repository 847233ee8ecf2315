# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What containerd_stack adds to the convergence of single containers: the checks of a whole stack
before any change, the order containers start in, the one-call proof that running containers are
as declared.

Pure functions (no ctr call), unit-tested in tests/unit/test_stack.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ctrops.containerd.plugins.module_utils import container_options as options
from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import task_logs
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput
from ansible_collections.ctrops.containerd.plugins.module_utils.labels import filter_quote, label_filter

STACK_LABEL = ctrs.STACK_LABEL
# The states whose container has a task whose namespaces other containers can join.
SHARING_STATES = ('running', 'paused', 'restarted')


def _and(names):
    names = list(names)
    return names[0] if len(names) == 1 else '%s and %s' % (', '.join(names[:-1]), names[-1])


def references(entry):
    """[(option, kind, container name)] of the namespaces ``entry`` joins by a container's name (not a path)."""
    if entry['state'] == 'absent':
        return []
    return [(option, kind, entry[option]) for option, kind, _short in ctrs.SHARED_NAMESPACES
            if entry.get(option) and not entry[option].startswith('/')]


def undeclared_targets(entries):
    """The names of containers that entries join and the stack does not declare."""
    declared = set(entry['name'] for entry in entries)
    return sorted(set(target for entry in entries for _o, _k, target in references(entry) if target not in declared))


def plan(entries, existing=(), orphans=()):
    """The entries in the order to converge them: a container after those whose namespaces it joins.

    ``existing``: the names of containers that exist (asked only for undeclared targets); ``orphans``:
    the containers remove_orphans would remove. Raises InvalidInput (one sentence) for two entries with
    one name, a joined container that is not declared and does not exist (or is an orphan about to be
    removed), one declared without a task to share, and a cycle.
    """
    by_name = {}
    for entry in entries:
        if entry['name'] in by_name:
            raise InvalidInput('Container %s is declared twice in containers: give each entry its own name.'
                               % entry['name'])
        by_name[entry['name']] = entry
    needs = {}
    for entry in entries:
        needs[entry['name']] = []
        for option, kind, target in references(entry):
            if target in by_name:
                state = by_name[target]['state']
                if state not in SHARING_STATES:
                    raise InvalidInput('Container %s joins the %s namespace of %s (%s), which this stack declares '
                                       'with state=%s: give %s state=running so that it has a task to share.'
                                       % (entry['name'], kind, target, option, state, target))
                needs[entry['name']].append(target)
            elif target in orphans:
                raise InvalidInput('Container %s joins the %s namespace of %s (%s), a container of this stack that '
                                   'is no longer declared and that remove_orphans would remove: declare it again.'
                                   % (entry['name'], kind, target, option))
            elif target not in existing:
                raise InvalidInput('Container %s joins the %s namespace of %s (%s), a container this stack does not '
                                   'declare and that does not exist: declare it in containers or fix the name.'
                                   % (entry['name'], kind, target, option))
    order, done = [], set()
    remaining = [entry['name'] for entry in entries]
    while remaining:
        ready = [name for name in remaining if all(target in done for target in needs[name])]
        if not ready:
            cycle = _cycle(remaining, needs)
            raise InvalidInput('Containers %s join each other\'s namespaces in a cycle (%s): one of them must '
                               'make its own.' % (_and(sorted(set(cycle))), ' -> '.join(cycle)))
        for name in ready:
            order.append(by_name[name])
            done.add(name)
        remaining = [name for name in remaining if name not in done]
    return order


def _cycle(names, needs):
    """One cycle among ``names`` (each needs another of them), as a path that ends where it starts."""
    path = [names[0]]
    while True:
        following = [target for target in needs[path[-1]] if target in names][0]
        if following in path:
            return path[path.index(following):] + [following]
        path.append(following)


def settled_filter(entry):
    """A containerd filter (one ``ctr containers ls`` argument) that matches the container of ``entry``
    only if a no-op run would leave it as it is, or None where one filter cannot tell.

    It matches the name, the image, the digest of the options it was created from (label
    ctrops.containerd/spec), every wanted label, and what the task state reads of the labels (the
    restart monitor's status, the log file). Together with a task in the wanted status (from the
    task listing) this proves what reading the container's info would. Not for: states other than
    running and paused (they may have an interrupted recreate to repair, which only the info shows),
    secret_env (its values are compared with the spec, not in the digest), ready.always and log_lines
    (they ask for a probe or the log on every run).
    """
    if entry['state'] not in ('running', 'paused') or entry.get('secret_env'):
        return None
    if (entry.get('ready') or {}).get('always') or entry.get('log_lines'):
        return None  # a readiness probe or the log's end is asked for on every run
    spec = options.desired_spec(entry)
    terms = ['id==' + filter_quote(entry['name']), 'image==' + filter_quote(spec['image']),
             label_filter(ctrs.SPEC_LABEL, options.spec_digest(spec))]
    for key, value in sorted((entry.get('labels') or {}).items()):
        terms.append(label_filter(str(key), str(value)))
    if entry['state'] == 'running':
        if spec['restart_policy'] != 'no':
            terms.append(label_filter(ctrs.RESTART_STATUS, 'running'))
        if entry.get('log_path'):
            terms.append(label_filter(ctrs.LOG_LABEL, task_logs.log_uri(entry['log_path'], entry.get('log_options'))))
    return ','.join(terms)


def settled_task(entry, task):
    """Whether ``task`` (a tasks listing entry or None) is in the status ``entry``'s state wants."""
    return task is not None and task['status'] == entry['state']


def orphans_filter(name):
    """The filter of the containers that carry stack ``name``'s label."""
    return label_filter(STACK_LABEL, name)
