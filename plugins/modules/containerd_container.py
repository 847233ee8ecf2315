#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_container
short_description: Manage containerd containers (their spec) and, in the same task, their task
version_added: 0.1.0
description:
  - Create and remove containerd containers as C(ctr containers create|delete) do, idempotently.
  - A container is the spec (image, command, mounts, namespaces, limits); the process that runs it is
    its task. With O(state=running) (or V(paused), V(stopped)) this module also brings the task to that
    state, as C(ctr run -d) and community.docker's C(docker_container state=started) do (one module run
    per service). M(ctrops.containerd.containerd_task) stays for task-only work; both share one
    implementation of the task's steps.
  - The existing container is compared with the wanted options through C(ctr containers info) (its OCI
    spec), so a container recreated or edited outside Ansible is noticed. The options the container was
    created from are also kept as a digest in the label C(ctrops.containerd/spec), so an option removed
    from the task (an environment variable, a command falling back to the image's) is noticed too.
  - On a difference the container is recreated. If its task was running, the task is stopped
    (O(stop_signal), then SIGKILL after O(stop_timeout)), the container recreated and the task started
    again, so that "present + running" ends running the new spec.
  - A recreate that is interrupted (a failed create, a lost connection, a killed run) is repaired by the
    next run. Before it stops a running task, the module records in containerd, as the label
    C(ctrops.containerd/restore-task.NAME) of the namespace, that the task must run again; the new
    container carries the label C(ctrops.containerd/restore-task) until its task started. The next run
    creates a missing container and starts its task, or starts the task of a new container that has none,
    then drops both records. A failure after the old container was removed says so.
  - "Labels are the exception: labels that differ are set in place, without recreating."
  - Runs that converge the same container at the same moment (two plays, overlapping jobs) all succeed.
    On one host, runs of this module and of M(ctrops.containerd.containerd_task) on one container take
    turns (a lock file under C(/run/ctrops-containerd)); a create that finds the container (or its
    snapshot) made by another run at the same moment compares it instead of failing, and a start that
    finds the task started is content.
options:
  name:
    description:
      - Name (ID) of the container.
    type: str
    required: true
  state:
    description:
      - V(present) creates the container, or recreates it when its spec differs. Its task is left as it
        is (a running task is stopped and started again around a recreate).
      - V(running) does what V(present) does, then starts the task (a task that exited is deleted first)
        or resumes a paused one, detached, with its output in O(log_path) or discarded.
      - V(paused) does what V(present) does, then freezes the task (its processes keep their PIDs),
        starting it first if it does not run.
      - V(stopped) does what V(present) does, then stops a live task with O(stop_signal), SIGKILL after
        O(stop_timeout). The stopped task is kept (C(ctr tasks ls) shows it as STOPPED). A recreate does
        not start the task again.
      - V(restarted) does what V(present) does, then stops a live task as V(stopped) does, deletes it and
        starts a new one (with its networks, in M(ctrops.containerd.containerd_stack)); a container without a
        live task gets one started. It acts, and reports C(changed), on every run (check mode predicts it), like
        a handler's C(docker restart). A container this run created or recreated is started once, not twice.
      - With V(running), V(paused), V(stopped) and V(restarted) the result also carries RV(task) (status, PID),
        and the diff shows the task's status.
      - V(absent) removes the container and its snapshot. If its task is running (or paused), the
        module fails unless O(force=true); then the task is stopped and deleted first. It also drops the
        record of an interrupted recreate (see the description), so a later create does not start a task.
    type: str
    choices: [present, absent, running, paused, stopped, restarted]
    default: present
  recreate:
    description:
      - Recreate the container when its spec differs. With V(false) the module fails instead and
        says what differs.
    type: bool
    default: true
  force:
    description:
      - With O(state=absent), stop and delete a running task first.
    type: bool
    default: false
  log_path:
    description:
      - File on the host that receives the task's stdout and stderr (ctr's C(--log-uri file://PATH)), as
        the option of that name of M(ctrops.containerd.containerd_task).
      - Takes effect when the task starts. A running task that was started with another log file (or
        none) is restarted.
      - Without it the output is discarded (C(--null-io)).
      - Only with O(state=running) or O(state=paused); its directory must exist.
      - Rotated with O(log_options).
    type: path
  log_options:
    description:
      - Rotation of O(log_path), as the option of that name of M(ctrops.containerd.containerd_task), with
        O(log_options.max_size) and O(log_options.max_files) as Docker's C(--log-opt max-size) and C(max-file).
    type: dict
    suboptions:
      max_size:
        description: The size at which O(log_path) is rotated (V(10m), V(512k), bytes); at least V(4k).
        type: str
        required: true
      max_files:
        description: How many files are kept, O(log_path) included; with V(1) the file is emptied when full.
        type: int
        default: 1
      writer_path:
        description: Where the log writer program is written on the host.
        type: path
        default: /var/lib/ctrops-containerd/bin/log-writer
  ready:
    description:
      - Wait, after this run starts (or restarts) the task, until the service in it is ready, as
        community.docker's C(state=healthy) and kubelet's readiness probes do. Only with O(state=running).
      - Exactly one probe, O(ready.exec), O(ready.tcp) or O(ready.http), is tried every O(ready.interval)
        seconds until it succeeds; after O(ready.timeout) seconds, or when the task ends first, the module
        fails with what the last probe saw (exit code and output, connection refused, HTTP status) and the
        last lines of the task's log (O(log_path)).
      - A run that finds the task running already does not probe unless O(ready.always) is set; RV(ready)
        says so. Check mode never probes.
      - A tcp or http probe connects from the host to the container's address, which is V(127.0.0.1) with
        O(net_host), the address of the CNI attachment (made by M(ctrops.containerd.cni_network)) of the
        container named in O(network_from) or of this container, or O(ready.host). Without one of these the
        module fails before it acts.
    type: dict
    suboptions:
      exec:
        description: A command run in the container (C(ctr tasks exec)); ready when it exits with 0.
        type: list
        elements: str
      tcp:
        description: A TCP port on the container's address; ready when it accepts a connection.
        type: int
      http:
        description:
          - A path (V(/health), on the container's address and O(ready.port)) or a full http:// or https:// URL;
            ready when a GET answers with O(ready.status). Certificates are not verified (the probe asks
            whether the service answers, not whom to trust).
        type: str
      port:
        description: The port of an O(ready.http) path.
        type: int
        default: 80
      status:
        description: The HTTP status that means ready.
        type: int
        default: 200
      host:
        description: The address to probe, instead of the one found from the container's network.
        type: str
      cni_cache_dir:
        description: Where the CNI attachments' results are cached (O(ctrops.containerd.cni_network#module:cache_dir)).
        type: path
        default: /var/lib/cni
      interval:
        description: Seconds between two probes.
        type: float
        default: 1.0
      timeout:
        description: Seconds to wait for the service before failing.
        type: float
        default: 60.0
      always:
        description: Probe also when the task was running already (a no-op run then confirms readiness too).
        type: bool
        default: false
  log_lines:
    description:
      - How many of the last lines of the task's log file (O(log_path)) the result carries in RV(task.log).
      - V(0) (the default) carries none, so results stay small and logs stay out of Ansible's output unless
        asked for. Values of C(no_log) options (O(secret_env)) are masked in them as everywhere in results.
      - A failed readiness wait quotes the last O(log_lines) lines, at least 10.
    type: int
    default: 0
  networks:
    description:
      - CNI networks to attach the container to, as M(ctrops.containerd.cni_network) with
        O(ctrops.containerd.cni_network#module:state=attached) does (the same plugin chain, libcni cache, CHECK
        and repair, lock). Each network must be defined in O(cni.conf_dir).
      - The container gets a network namespace of its own that outlives its tasks, pinned on a file in
        O(cni.netns_dir) (as C(ip netns add) and containerd's CRI sandboxes do), attached before its task starts;
        every task of the container joins it (ctr's C(--with-ns network:PATH)). So a task that containerd's
        restart monitor starts again (O(restart_policy), after the process died or after containerd restarted)
        keeps its interfaces, address, lease and port mappings with no Ansible run, and a recreate or
        O(state=restarted) keeps its address.
      - Each element is a network name, or a dict with C(name) and optionally C(ifname) (the interface in the
        container; default C(eth0) for the first element, C(eth1) for the second, ...), C(cni_args) and
        C(capability_args) (as O(ctrops.containerd.cni_network#module:cni_args) and
        O(ctrops.containerd.cni_network#module:capability_args)).
      - Not with O(net_host) or O(network_from); ignored with O(state=absent) (every attachment goes).
      - A network no longer listed (or every network, when the container is removed) is detached, and the
        pinned namespace removed with the last one. Only attachments this module made are detached; those made
        by M(ctrops.containerd.cni_network) are left alone.
      - After a host reboot the pinned namespace is gone (it lives in C(/run)) and the task cannot start until
        the next run of this module makes it again and repairs the attachments.
    type: list
    elements: raw
  published_ports:
    description:
      - Host ports forwarded to the container, in the forms of C(docker run -p) and C(nerdctl run -p)
        (V(8080:80), V(127.0.0.1:8080:80), V(8443:443/tcp), V(53:53/udp)); the protocol defaults to C(tcp), the
        address to all of the host's.
      - Made by CNI's C(portmap) plugin (capability C(portMappings)) on each of O(networks) that has it, for
        example a network of M(ctrops.containerd.cni_network) with O(ctrops.containerd.cni_network#module:port_map=true);
        the mappings live with the attachments in the pinned network namespace, so they stay while the task
        restarts. V(127.0.0.1) reaches them from the host (C(portmap)'s C(snat)).
      - Before any change the module fails with one sentence when none of the networks has C(portmap), or when a
        host port is published by another container's attachment or bound by a process on the host.
      - A changed list makes the attachments again (their address may change).
    type: list
    elements: str
    aliases: [ports]
  dns_servers:
    description:
      - Nameservers of the container's C(/etc/resolv.conf) (C(docker run --dns)).
      - A container with O(networks) gets C(/etc/resolv.conf) and C(/etc/hosts) from files this module writes in
        O(cni.etc_dir) and bind-mounts (unless O(mounts) puts a file there). Without O(dns_servers) the host's
        nameservers are used, loopback ones left out (they would be the container's own loopback; with none left,
        V(8.8.8.8) and V(8.8.4.4), as Docker does); without O(dns_search_domains) or O(dns_opts), the host's.
      - The files are rewritten in place when the options or the container's addresses change, so a running
        task sees the change without a recreate.
      - Only with O(networks).
    type: list
    elements: str
  dns_search_domains:
    description:
      - Search domains of the container's C(/etc/resolv.conf) (C(docker run --dns-search)); V([]) writes none.
    type: list
    elements: str
  dns_opts:
    description:
      - Resolver options of the container's C(/etc/resolv.conf) (C(docker run --dns-option)), for example
        V(ndots:2); V([]) writes none.
    type: list
    elements: str
  etc_hosts:
    description:
      - Host names and their addresses added to the container's C(/etc/hosts) (C(docker run --add-host)), after
        C(localhost) and the container's own addresses under its host name (O(hostname), or its name).
    type: dict
  cni:
    description:
      - Where the CNI networks of O(networks) are defined and attachments are kept, as the options of that name
        of M(ctrops.containerd.cni_network).
    type: dict
    default: {}
    suboptions:
      conf_dir:
        description:
          - Directory of the CNI network configuration files.
        type: path
        default: /etc/cni/net.d
      bin_dirs:
        description:
          - Directories searched, in order, for the CNI plugin binaries (C(CNI_PATH)).
        type: list
        elements: path
        default: [/opt/cni/bin, /usr/lib/cni]
      cache_dir:
        description:
          - libcni's cache directory (attachment results in its C(results) subdirectory, the lock file in it).
        type: path
        default: /var/lib/cni
      lock_timeout:
        description:
          - Seconds to wait for the CNI lock held by another run on the host.
        type: int
        default: 120
      netns_dir:
        description:
          - Directory of the pinned network namespaces of containers with O(networks), one file each, named
            C(ctrops-NAMESPACE-CONTAINER-DIGEST) (the digest tells containerds apart).
        type: path
        default: /run/netns
      etc_dir:
        description:
          - Directory of the C(resolv.conf) and C(hosts) files of containers with networks, one subdirectory each
            (named as the pinned network namespace), bind-mounted at C(/etc/resolv.conf) and C(/etc/hosts).
        type: path
        default: /var/lib/ctrops-containerd/etc
extends_documentation_fragment:
  - ctrops.containerd.container_options
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the managed spec fields before and after, and with a task state the task's status
      (C(task.status)).
  platform:
    platforms: posix
notes:
  - "C(tty) containers are not offered: C(ctr tasks start) of such a container needs a console."
  - A container without O(networks) and without a pinned network namespace runs no CNI code (a no-op costs
    what it did before); with O(networks), a no-op costs no further C(ctr) call, only reading the libcni cache
    (and CHECK by the plugins).
seealso:
  - module: ctrops.containerd.containerd_task
  - module: ctrops.containerd.containerd_image
  - module: ctrops.containerd.containerd_exec
  - module: ctrops.containerd.containerd_container_info
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.containerd_container \
#     -a "name=tools image=busybox state=running command='sleep infinity' env=TZ=UTC labels=team=web,tier=ops"

- name: A running web server in one task, as ctr run -d (the image was pulled by a containerd_image task)
  ctrops.containerd.containerd_container:
    name: web
    image: nginx:alpine
    state: running
    log_path: /var/log/web.log
    log_options:  # web.log, web.log.1 and web.log.2: at most about 30 MB
      max_size: 10m
      max_files: 3
    restart_policy: always
    stop_signal: SIGQUIT
    stop_timeout: 30

- name: A web server on the host network, ready when it answers on /health (its log's end in the result)
  ctrops.containerd.containerd_container:
    name: api
    image: registry.example:5000/team/api:1.2
    net_host: true
    state: running
    log_path: /var/log/api.log
    log_lines: 20
    ready:
      http: /health
      port: 8080
      timeout: 30
  register: api

- name: Tell when the wait was needed
  ansible.builtin.debug:
    msg: "api answered after {{ api.ready.waited }} s"
  when: api.ready.checked

- name: A database, ready when its client connects (an exec probe needs no address)
  ctrops.containerd.containerd_container:
    name: db
    image: registry.example:5000/team/db:16
    state: running
    ready:
      exec: [pg_isready, -q]
      interval: 2
      timeout: 120
      always: true

- name: Freeze it (its processes keep their PIDs)
  ctrops.containerd.containerd_container:
    name: web
    image: nginx:alpine
    state: paused

- name: Stop its task, keeping the container
  ctrops.containerd.containerd_container:
    name: web
    image: nginx:alpine
    state: stopped

- name: A web server container (the image was pulled by a containerd_image task)
  ctrops.containerd.containerd_container:
    name: web
    image: nginx:alpine
    mounts:
      - source: /srv/www
        destination: /usr/share/nginx/html
        options: [rbind, ro]
    env:
      TZ: UTC
    secret_env:
      API_TOKEN: "{{ vault_api_token }}"
    memory_limit: 256m
    restart_policy: always

- name: A service on a CNI bridge network that keeps its address when containerd's restart monitor restarts it
  ctrops.containerd.containerd_container:
    name: shop
    image: registry.example:5000/team/shop:3
    state: running
    restart_policy: always
    networks: [cni0]
    published_ports: ["8080:8080", "127.0.0.1:9090:9090"]
    ready:
      tcp: 8080
      timeout: 30
  register: shop

- name: Its address
  ansible.builtin.debug:
    msg: "{{ shop.networks[0].addresses[0] }}"

- name: A sidecar sharing web's network namespace (reaches it on localhost), running
  ctrops.containerd.containerd_container:
    name: probe
    image: busybox
    command: [sleep, infinity]
    network_from: web
    state: running

- name: Host networking
  ctrops.containerd.containerd_container:
    name: tools
    image: busybox
    command: [sleep, infinity]
    net_host: true

- name: Remove a container, stopping its task
  ctrops.containerd.containerd_container:
    name: web
    state: absent
    force: true
'''

RETURN = r'''
networks:
  description:
    - Its CNI attachments made by this module after the run, with the addresses from the CNI result (empty in
      check mode for an attachment not made yet).
  returned: when O(networks) is set, or the container had networks before
  type: list
  elements: dict
  sample: [{name: cni0, ifname: eth0, addresses: [10.88.0.2/16]}]
container:
  description: The container after the task (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name: {description: Name of the container., type: str, sample: web}
    exists: {description: Whether the container exists., type: bool, sample: true}
    image: {description: Normalised image reference., type: str, sample: docker.io/library/nginx:alpine}
    command: {description: The process's arguments., type: list, elements: str, sample: [sleep, '600']}
    env: {description: "The process's environment, without the variables of O(secret_env).", type: dict,
          sample: {PATH: /bin}}
    secret_env:
      description: Names of the variables set from O(secret_env) (never their values).
      type: list
      elements: str
      sample: [API_TOKEN]
    cwd: {description: Working directory., type: str, sample: /}
    user: {description: uid:gid of the process., type: str, sample: '0:0'}
    hostname: {description: Host name if set., type: str, sample: web}
    labels: {description: Labels (those of this collection and the restart monitor left out)., type: dict}
    mounts: {description: Mounts besides ctr's defaults., type: list, elements: dict}
    net_host: {description: Whether the host network is used., type: bool}
    network_from: {description: Container (or path) whose network namespace is joined., type: str}
    pid_from: {description: Container (or path) whose PID namespace is joined., type: str}
    ipc_from: {description: Container (or path) whose IPC namespace is joined., type: str}
    privileged: {description: Privileged., type: bool}
    read_only: {description: Read-only root filesystem., type: bool}
    runtime: {description: Runtime name., type: str, sample: io.containerd.runc.v2}
    snapshotter: {description: Snapshotter., type: str, sample: overlayfs}
    memory_limit: {description: Memory limit in bytes., type: int}
    cpu_quota: {description: CFS quota., type: int}
    cpu_period: {description: CFS period., type: int}
    cpus: {description: CPUs the CFS quota and period allow (null without a quota)., type: float, sample: 1.5}
    cpu_shares: {description: Relative CPU weight (containerd's default is 1024)., type: int, sample: 512}
    cpuset_cpus: {description: CPUs the container may run on (null for all)., type: str, sample: 0-1}
    cpuset_mems: {description: Memory nodes the container may use (null for all)., type: str, sample: '0'}
    pids_limit: {description: Most processes at once (null without a limit)., type: int, sample: 100}
    capabilities:
      description: Capabilities beyond the default set (none listed for a privileged container).
      type: list
      elements: str
      sample: [CAP_NET_ADMIN]
    cap_drop:
      description: Capabilities of the default set the container lacks.
      type: list
      elements: str
      sample: [CAP_MKNOD]
    no_new_privileges: {description: Whether the process may not gain privileges (C(NoNewPrivs))., type: bool}
    apparmor_profile: {description: AppArmor profile of the process (null for none)., type: str}
    annotations: {description: OCI annotations (the copies of the labels left out)., type: dict}
    devices:
      description: Devices added to the container, with the host node's type and numbers and the cgroup access.
      type: list
      elements: dict
      sample: [{path: /dev/fuse, type: c, major: 10, minor: 229, access: rwm, mode: 438}]
    ulimits:
      description: Resource limits of the process, by C(ulimit) name.
      type: dict
      sample: {nofile: {soft: 65536, hard: 65536}}
    sysctls: {description: Kernel parameters of the container's namespaces., type: dict,
              sample: {net.core.somaxconn: '1024'}}
    shm_size: {description: Size of C(/dev/shm) in bytes when set by O(shm_size)., type: int, sample: 67108864}
    tmpfs: {description: tmpfs mounts of O(tmpfs) and their options., type: dict, sample: {/run: 'size=64m,noexec,nosuid,nodev'}}
    groups: {description: Supplementary group IDs of the process (the image's and those added)., type: list,
             elements: int, sample: [0, 1234]}
    oom_score_adj: {description: OOM score adjustment of the process (null if unset)., type: int, sample: 500}
    restart_policy: {description: Restart policy., type: str, sample: always}
    created: {description: Creation time as containerd reports it., type: str}
    task:
      description: The container's task (status and pid), or null when it has none.
      type: dict
      sample: {status: running, pid: 4242}
task:
  description:
    - The task after the module ran (in check mode, as it would be), with the keys of the C(task) result
      of M(ctrops.containerd.containerd_task) except C(processes) (which would cost a ctr call).
  returned: with O(state=running), O(state=paused) and O(state=stopped)
  type: dict
  contains:
    container:
      description: Name of the container.
      type: str
      sample: web
    status:
      description: V(running), V(paused), V(stopped), V(created), or null when there is no task.
      type: str
      sample: running
    pid:
      description: Host PID of the task's init process (null without a task, or before a start in check mode).
      type: int
      sample: 4242
    netns:
      description: The task's network namespace path, for a CNI attachment.
      type: str
      sample: /proc/4242/ns/net
    log_path:
      description: The file the task's output goes to, when it was started with one.
      type: str
      sample: /var/log/web.log
    exit_status:
      description: Exit status of a task this module deleted (to start it again).
      type: int
      returned: when a task was deleted
      sample: 0
    stopped_by:
      description: How a stop ended the task, V(signal) or V(killed) (SIGKILL after O(stop_timeout)).
      type: str
      returned: when the module stopped a task
      sample: killed
    log:
      description: The last O(log_lines) lines of the task's log file (fewer when it has fewer, none without O(log_path)).
      type: list
      elements: str
      returned: when O(log_lines) is more than 0
      sample: ["httpd started", "listening on :8080"]
ready:
  description: The readiness wait of O(ready).
  returned: when O(ready) is set
  type: dict
  contains:
    probe:
      description: V(exec), V(tcp) or V(http).
      type: str
      sample: http
    target:
      description: What the probe reached (the command, host:port or the URL).
      type: str
      sample: http://127.0.0.1:8080/
    checked:
      description: Whether the run probed (not in check mode, nor when the task ran already without O(ready.always)).
      type: bool
      sample: true
    ready:
      description: Whether the service answered (null when not probed).
      type: bool
      sample: true
    attempts:
      description: How many probes ran.
      type: int
      sample: 3
    waited:
      description: Seconds spent probing.
      type: float
      sample: 2.04
    last:
      description: What the last probe saw, or why none ran.
      type: str
      sample: HTTP status 200
differences:
  description: The fields that differed and made the module recreate (or fail with O(recreate=false)).
  returned: when the container existed with another spec
  type: list
  elements: str
  sample: ["env.MODE", "command"]
actions:
  description: The ctr operations performed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["create container web", "start task web"]
'''

import os

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import container_networks as networking
from ansible_collections.ctrops.containerd.plugins.module_utils import netns
from ansible_collections.ctrops.containerd.plugins.module_utils.container_state import (
    Listing,
    argument_spec,
    converge_container,
)
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun


def converge(run):
    params = run.params
    listing = Listing(run.client)
    pinned = netns.pinned_path(params['cni']['netns_dir'], params['address'], params['namespace'], params['name'])
    if not params['networks'] and not params['published_ports'] and not os.path.lexists(pinned):
        converge_container(run, params, listing)  # no network to attach nor to release
        return
    params = networking.prepare(dict(params), params['address'], params['namespace'])
    record = dict(address=params['address'], namespace=params['namespace'], by='containerd_container')
    networks = networking.Networks(run, params['cni'], networking.checked_configs(params['cni'], [params]),
                                   listing, record)
    part = run.part(params)

    def converge_it(wanted):
        converge_container(part, wanted, listing)
        return dict(part.result)

    run.result.update(networks.converge(part, params, converge_it))
    if part.diff is not None:
        run.set_diff(part.diff['before'], part.diff['after'], 'container %s' % params['name'])


def main():
    run = ModuleRun(dict(argument_spec(), **networking.argument_spec()))
    run.execute(converge, run)
    run.exit()


if __name__ == '__main__':
    main()
