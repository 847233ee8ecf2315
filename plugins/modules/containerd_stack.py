#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ctrops.containerd contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: containerd_stack
short_description: Converge a stack of containerd containers (and the images they need) in one task
version_added: 0.2.0
description:
  - Converges several containers, each as M(ctrops.containerd.containerd_container) would (the same options
    and states, the same comparison, recreate and task steps, shared code), and first the images they need as
    M(ctrops.containerd.containerd_image) would (pulled or imported, with its pull policy), in one module run.
    Ansible pays per module run, so a stack of ten services is one run instead of ten.
  - The containers and tasks of the namespace are listed once, not per container. A no-op run of a stack of
    running (or paused) containers costs a constant number of C(ctr) calls whatever their number (four, plus
    one with O(remove_orphans=true), plus two for the images); entries with O(containers[].secret_env) or a
    state other than V(running) or V(paused) read their container's info (one call each).
  - Each container gets the label C(ctrops.containerd/stack=NAME) (O(name)). With O(remove_orphans=true),
    containers that carry it but are no longer declared are removed, their task stopped first.
  - A container that joins the network, PID or IPC namespace of another container of the stack
    (O(containers[].network_from), O(containers[].pid_from), O(containers[].ipc_from)) is converged after it;
    when this run starts that container's task again (a recreate, a restart), the joining container is
    recreated to join the new namespace.
  - Bad input is reported in one sentence before any change, for the whole stack; two entries with one name,
    a namespace joined from a container that is not declared and does not exist, an entry without an image for
    a state that needs one, namespaces joined in a cycle.
  - A container that fails leaves the others converged (those that join its namespaces are not converged);
    the module fails at the end, naming the failed containers.
options:
  name:
    description:
      - Name of the stack, written as the label C(ctrops.containerd/stack) on each of its containers.
    type: str
    required: true
  containers:
    description:
      - The containers of the stack, each with the options of M(ctrops.containerd.containerd_container).
      - Converged in the order given, except that a container comes after those whose namespaces it joins.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Name (ID) of the container.
          - As O(ctrops.containerd.containerd_container#module:name).
        type: str
        required: true
      state:
        description:
          - V(present) creates the container, or recreates it when its spec differs. Its task is left as
            it is (a running task is stopped and started again around a recreate).
          - As O(ctrops.containerd.containerd_container#module:state).
        type: str
        default: present
        choices: [present, absent, running, paused, stopped, restarted]
      image:
        description:
          - Image to create the container from, as users write it (V(busybox) is C(docker.io/library/busybox:latest)).
          - As O(ctrops.containerd.containerd_container#module:image).
        type: str
      command:
        description:
          - The process's argument vector (C(args) of the OCI spec). Default is the image's.
          - As O(ctrops.containerd.containerd_container#module:command).
        type: raw
      env:
        description:
          - Environment variables added to the image's.
          - As O(ctrops.containerd.containerd_container#module:env).
        type: dict
      secret_env:
        description:
          - Environment variables added to the image's whose values are secret (tokens, passwords).
          - As O(ctrops.containerd.containerd_container#module:secret_env).
        type: dict
      cwd:
        description:
          - Working directory of the process. Default is the image's.
          - As O(ctrops.containerd.containerd_container#module:cwd).
        type: str
      user:
        description:
          - User (and group) of the process, C(uid[:gid]) or C(name[:group]).
          - As O(ctrops.containerd.containerd_container#module:user).
        type: str
      hostname:
        description:
          - Host name inside the container.
          - As O(ctrops.containerd.containerd_container#module:hostname).
        type: str
      labels:
        description:
          - Labels to set on the container. Labels that differ are set in place (no recreate); other labels
            are left as they are.
          - The stack adds its own label C(ctrops.containerd/stack=NAME) (O(name)); do not set that key.
          - As O(ctrops.containerd.containerd_container#module:labels).
        type: dict
      mounts:
        description:
          - Extra mounts, as ctr's C(--mount).
          - As O(ctrops.containerd.containerd_container#module:mounts).
        type: list
        elements: dict
        suboptions:
          type:
            description:
              - M
              - o
              - u
              - n
              - t
              - ' '
              - t
              - y
              - p
              - e
              - .
            type: str
            default: bind
          source:
            description:
              - Host path for a bind mount (must exist), or the source of another mount type.
            type: str
          destination:
            description:
              - A
              - b
              - s
              - o
              - l
              - u
              - t
              - e
              - ' '
              - p
              - a
              - t
              - h
              - ' '
              - i
              - n
              - s
              - i
              - d
              - e
              - ' '
              - t
              - h
              - e
              - ' '
              - c
              - o
              - n
              - t
              - a
              - i
              - n
              - e
              - r
              - .
            type: str
            required: true
          options:
            description:
              - Mount options. Default for bind mounts is V([rbind, rw]).
            type: list
            elements: str
      net_host:
        description:
          - Use the host's network namespace (ctr's C(--net-host)).
          - As O(ctrops.containerd.containerd_container#module:net_host).
        type: bool
        default: false
      network_from:
        description:
          - Join the network namespace of another container's running task (give its name) or of a path
            such as C(/proc/PID/ns/net) or C(/var/run/netns/NAME) (ctr's C(--with-ns network:PATH)).
          - A container of this stack (declared with O(containers[].state=running) or V(paused)) starts
            first; any other must exist.
          - As O(ctrops.containerd.containerd_container#module:network_from).
        type: str
      pid_from:
        description:
          - Join the PID namespace of another container's running task or of a path, as O(containers[].network_from).
          - As O(containers[].network_from) for the order.
          - As O(ctrops.containerd.containerd_container#module:pid_from).
        type: str
      ipc_from:
        description:
          - Join the IPC namespace of another container's running task or of a path, as O(containers[].network_from).
          - As O(containers[].network_from) for the order.
          - As O(ctrops.containerd.containerd_container#module:ipc_from).
        type: str
      privileged:
        description:
          - Run privileged (all capabilities, host devices).
          - As O(ctrops.containerd.containerd_container#module:privileged).
        type: bool
        default: false
      read_only:
        description:
          - Mount the root filesystem read-only.
          - As O(ctrops.containerd.containerd_container#module:read_only).
        type: bool
        default: false
      runtime:
        description:
          - Runtime name (ctr's C(--runtime)).
          - As O(ctrops.containerd.containerd_container#module:runtime).
        type: str
        default: io.containerd.runc.v2
      runtime_binary:
        description:
          - The runc-compatible binary of the runtime (ctr's C(--runc-binary)).
          - As O(ctrops.containerd.containerd_container#module:runtime_binary).
        type: path
      snapshotter:
        description:
          - Snapshotter of the container's root filesystem. Default is containerd's.
          - As O(ctrops.containerd.containerd_container#module:snapshotter).
        type: str
      memory_limit:
        description:
          - Memory limit, in bytes or with a unit (V(64m), V(1g)).
          - As O(ctrops.containerd.containerd_container#module:memory_limit).
        type: str
      cpu_quota:
        description:
          - CFS CPU quota in microseconds per O(containers[].cpu_period).
          - As O(ctrops.containerd.containerd_container#module:cpu_quota).
        type: int
      cpu_period:
        description:
          - CFS CPU period in microseconds.
          - As O(ctrops.containerd.containerd_container#module:cpu_period).
        type: int
      restart_policy:
        description:
          - Let containerd's restart monitor bring the task back (after a containerd restart, or when it
            exits), through the labels C(containerd.io/restart.policy) and C(containerd.io/restart.status).
          - As O(ctrops.containerd.containerd_container#module:restart_policy).
        type: str
        default: 'no'
        choices: ['no', always, on-failure, unless-stopped]
      recreate:
        description:
          - Recreate the container when its spec differs. With V(false) the module fails instead and says
            what differs.
          - As O(ctrops.containerd.containerd_container#module:recreate).
        type: bool
        default: true
      force:
        description:
          - With O(containers[].state=absent), stop and delete a running task first.
          - As O(ctrops.containerd.containerd_container#module:force).
        type: bool
        default: false
      stop_signal:
        description:
          - Signal that stops a running task before a recreate, a forced removal or O(containers[].state=stopped)
            (V(SIGTERM), V(SIGINT), V(15), ...).
          - As O(ctrops.containerd.containerd_container#module:stop_signal).
        type: str
        default: SIGTERM
      stop_timeout:
        description:
          - Seconds to wait after O(containers[].stop_signal) before SIGKILL.
          - As O(ctrops.containerd.containerd_container#module:stop_timeout).
        type: int
        default: 10
      log_path:
        description:
          - File on the host that receives the task's stdout and stderr (ctr's C(--log-uri file://PATH)),
            as the option of that name of M(ctrops.containerd.containerd_task).
          - As O(ctrops.containerd.containerd_container#module:log_path).
        type: path
      log_options:
        description:
          - Rotation of O(containers[].log_path), as the option of that name of M(ctrops.containerd.containerd_task), with
            O(containers[].log_options.max_size) and O(containers[].log_options.max_files) as Docker's C(--log-opt max-size) and C(max-file).
        type: dict
        suboptions:
          max_size:
            description: The size at which O(containers[].log_path) is rotated (V(10m), V(512k), bytes); at least V(4k).
            type: str
            required: true
          max_files:
            description: How many files are kept, O(containers[].log_path) included; with V(1) the file is emptied when full.
            type: int
            default: 1
          writer_path:
            description: Where the log writer program is written on the host.
            type: path
            default: /var/lib/ctrops-containerd/bin/log-writer
      networks:
        description:
          - CNI networks to attach the container to, as M(ctrops.containerd.cni_network) with
            O(ctrops.containerd.cni_network#module:state=attached) does (the same plugin chain, libcni cache,
            CHECK and repair, lock). Each network must be defined in O(cni.conf_dir).
          - The container gets a network namespace of its own that outlives its tasks, pinned on a file in
            O(cni.netns_dir) (as C(ip netns add) and containerd's CRI sandboxes do), attached before its task
            starts; every task of the container joins it (ctr's C(--with-ns network:PATH)). So a task that
            containerd's restart monitor starts again (O(containers[].restart_policy), after the process died or
            after containerd restarted) keeps its interfaces, address, lease and port mappings with no Ansible
            run, and a recreate or O(containers[].state=restarted) keeps its address. A container of
            O(containers[].network_from) that names it joins the same pinned namespace.
          - Each element is a network name, or a dict with C(name) and optionally C(ifname) (the interface in
            the container; default C(eth0) for the first element, C(eth1) for the second, ...), C(cni_args)
            and C(capability_args) (as O(ctrops.containerd.cni_network#module:cni_args) and
            O(ctrops.containerd.cni_network#module:capability_args)).
          - Not with O(containers[].net_host) or O(containers[].network_from); ignored with
            O(containers[].state=absent) (every attachment goes).
          - A network no longer listed (or every network, when the container is removed or is an orphan) is
            detached. Only attachments this stack made are detached; those made by
            M(ctrops.containerd.cni_network) are left alone.
          - After a host reboot the pinned namespace is gone (it lives in C(/run)) and the task cannot start until
            the next run of this module makes it again and repairs the attachments.
        type: list
        elements: raw
      published_ports:
        description:
          - Host ports forwarded to the container, in the forms of C(docker run -p) and C(nerdctl run -p)
            (V(8080:80), V(127.0.0.1:8080:80), V(8443:443/tcp), V(53:53/udp)); the protocol defaults to C(tcp), the
            address to all of the host's.
          - Made by CNI's C(portmap) plugin (capability C(portMappings)) on each of O(containers[].networks) that has it, for
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
          - A container with O(containers[].networks) gets C(/etc/resolv.conf) and C(/etc/hosts) from files this module writes in
            O(cni.etc_dir) and bind-mounts (unless O(containers[].mounts) puts a file there). Without O(containers[].dns_servers) the host's
            nameservers are used, loopback ones left out (they would be the container's own loopback; with none left,
            V(8.8.8.8) and V(8.8.4.4), as Docker does); without O(containers[].dns_search_domains) or O(containers[].dns_opts), the host's.
          - The files are rewritten in place when the options or the container's addresses change, so a running
            task sees the change without a recreate.
          - Only with O(containers[].networks).
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
            C(localhost) and the container's own addresses under its host name (O(containers[].hostname), or its name).
        type: dict
      ready:
        description:
          - Wait, after this run starts (or restarts) the task, until the service in it is ready, as
            community.docker's C(state=healthy) and kubelet's readiness probes do. Only with
            O(containers[].state=running).
          - Exactly one probe, O(containers[].ready.exec), O(containers[].ready.tcp) or
            O(containers[].ready.http), is tried every O(containers[].ready.interval) seconds until it succeeds;
            after O(containers[].ready.timeout) seconds, or when the task ends first, the module fails with what
            the last probe saw (exit code and output, connection refused, HTTP status) and the last lines of the
            task's log (O(containers[].log_path)).
          - A run that finds the task running already does not probe unless O(containers[].ready.always) is set;
            RV(containers[].ready) says so. Check mode never probes.
          - A tcp or http probe connects from the host to the container's address, which is V(127.0.0.1) with
            O(containers[].net_host), the address of the CNI attachment (made by
            M(ctrops.containerd.cni_network)) of the container named in O(containers[].network_from) or of this
            container, or O(containers[].ready.host). Without one of these the module fails before it acts.
          - An entry with O(containers[].networks) is probed after they are attached, on the first address they
            give it (unless O(containers[].ready.host) is set); in check mode the target names the network.
          - As O(ctrops.containerd.containerd_container#module:ready); a container that runs as declared is
            probed only with O(containers[].ready.always).
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
              - A path (V(/health), on the container's address and O(containers[].ready.port)) or a full http://
                or https:// URL; ready when a GET answers with O(containers[].ready.status). Certificates are
                not verified (the probe asks whether the service answers, not whom to trust).
            type: str
          port:
            description: The port of an O(containers[].ready.http) path.
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
            description:
              - Where the CNI attachments' results are cached (O(ctrops.containerd.cni_network#module:cache_dir)).
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
          - How many of the last lines of the task's log file (O(containers[].log_path)) the result carries in
            RV(containers[].log).
          - V(0) (the default) carries none, so results stay small and logs stay out of Ansible's output unless
            asked for. Values of C(no_log) options (O(containers[].secret_env)) are masked in them as everywhere
            in results.
          - A failed readiness wait quotes the last O(containers[].log_lines) lines, at least 10.
        type: int
        default: 0
  images:
    description:
      - Images to pull (or import, or tag) before the containers are converged, each with the options of
        M(ctrops.containerd.containerd_image) for O(ctrops.containerd.containerd_image#module:state=present).
      - In check mode an image that would be pulled counts as present for the containers that need it.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The image reference, as users write it (V(nginx:alpine), V(registry.example:5000/team/app:1.2),
            V(registry.example:5000/team/app@sha256:...)).
          - As O(ctrops.containerd.containerd_image#module:name).
        type: str
        required: true
      source:
        description:
          - Where a V(present) image comes from.
          - As O(ctrops.containerd.containerd_image#module:source).
        type: str
        default: pull
        choices: [pull, archive, image]
      pull:
        description:
          - With O(images[].source=pull), when to pull.
          - As O(ctrops.containerd.containerd_image#module:pull).
        type: str
        default: missing
        choices: [missing, always, never]
      platform:
        description:
          - Platform (V(linux/arm64)) to pull, import, export or mount. Default is the host's platform.
          - As O(ctrops.containerd.containerd_image#module:platform).
        type: str
      all_platforms:
        description:
          - Pull, import or export the content of every platform.
          - As O(ctrops.containerd.containerd_image#module:all_platforms).
        type: bool
        default: false
      plain_http:
        description:
          - Talk to the registry over plain HTTP.
          - As O(ctrops.containerd.containerd_image#module:plain_http).
        type: bool
        default: false
      hosts_dir:
        description:
          - A registry hosts directory in containerd's C(certs.d) layout (C(<dir>/<host:port>/hosts.toml)),
            with the CA, client certificates and endpoints of registries (ctr's C(--hosts-dir)).
          - As O(ctrops.containerd.containerd_image#module:hosts_dir).
        type: path
      validate_certs:
        description:
          - Verify the registry's TLS certificate. V(false) is unsafe; use it only for a registry you reach
            over a network you trust.
          - As O(ctrops.containerd.containerd_image#module:validate_certs).
        type: bool
        default: true
      username:
        description:
          - User name for the registry.
          - As O(ctrops.containerd.containerd_image#module:username).
        type: str
      password:
        description:
          - Password for the registry. It is typed on a pseudo-terminal at ctr's prompt, so it never appears
            in any process's argument list or environment.
          - As O(ctrops.containerd.containerd_image#module:password).
        type: str
      snapshotter:
        description:
          - Snapshotter to unpack into (or mount from). Default is containerd's.
          - As O(ctrops.containerd.containerd_image#module:snapshotter).
        type: str
      unpack:
        description:
          - Unpack the pulled image into the snapshotter (C(ctr images pull)). V(false) only fetches the
            content and creates the record (C(ctr content fetch)); see
            RV(ctrops.containerd.containerd_image#module:image.unpacked).
          - As O(ctrops.containerd.containerd_image#module:unpack).
        type: bool
        default: true
      archive_path:
        description:
          - The archive to import (O(images[].source=archive)).
          - As O(ctrops.containerd.containerd_image#module:archive_path).
        type: path
      source_image:
        description:
          - With O(images[].source=image), the image whose target O(images[].name) should point at.
          - As O(ctrops.containerd.containerd_image#module:source_image).
        type: str
      force:
        description:
          - With O(images[].source=image), move O(images[].name) when it exists and points at another digest. Without it the
            module fails rather than retag silently.
          - As O(ctrops.containerd.containerd_image#module:force).
        type: bool
        default: false
      labels:
        description:
          - Labels to set on the image record; a label whose value is V(null) is removed.
          - As O(ctrops.containerd.containerd_image#module:labels).
        type: dict
      purge_labels:
        description:
          - Remove labels not in O(images[].labels).
          - As O(ctrops.containerd.containerd_image#module:purge_labels).
        type: bool
        default: false
  remove_orphans:
    description:
      - Remove the containers that carry this stack's label but are no longer in O(containers), stopping
        and deleting their task first (with the default O(containers[].stop_signal) and
        O(containers[].stop_timeout)).
    type: bool
    default: false
  cni:
    description:
      - Where the CNI networks of O(containers[].networks) are defined and attachments are kept, as the options
        of that name of M(ctrops.containerd.cni_network).
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
          - Directory of the pinned network namespaces of the containers with O(containers[].networks), one file
            each, named C(ctrops-NAMESPACE-CONTAINER-DIGEST) (the digest tells containerds apart). A namespace is
            removed with its container's last network.
        type: path
        default: /run/netns
      etc_dir:
        description:
          - Directory of the C(resolv.conf) and C(hosts) files of containers with O(containers[].networks), one subdirectory each
            (named as the pinned network namespace), bind-mounted at C(/etc/resolv.conf) and C(/etc/hosts).
        type: path
        default: /var/lib/ctrops-containerd/etc
extends_documentation_fragment:
  - ctrops.containerd.client
  - ctrops.containerd.client.NAMESPACE
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Predicts per container, also for a container that joins the namespace of one this run would
      start first. An attachment in an existing pinned namespace is predicted exactly (CHECK still runs, as in
      M(ctrops.containerd.cni_network)); one in a namespace this run would make is predicted as an attach.
  diff_mode:
    support: full
    details: Per container that changes (or would), as M(ctrops.containerd.containerd_container) shows it, and
      per image.
  platform:
    platforms: posix
notes:
  - CNI attachments (O(containers[].networks)) are in the container's pinned network namespace; a no-op costs no
    further C(ctr) call, only reading the libcni cache (and CHECK by the plugins).
  - In an ad-hoc command the lists of dicts go in as JSON (see EXAMPLES).
seealso:
  - module: ctrops.containerd.containerd_container
  - module: ctrops.containerd.containerd_image
  - module: ctrops.containerd.cni_network
author:
  - ctrops.containerd maintainers (@ctrops)
'''

EXAMPLES = r'''
# Ad-hoc, as an operator types it:
#   ansible web -m ctrops.containerd.containerd_stack \
#     -a '{"name": "shop", "containers": [{"name": "web", "image": "nginx:alpine", "state": "running"}]}'

- name: A web server and a sidecar that shares its network namespace, with their image, in one task
  ctrops.containerd.containerd_stack:
    name: shop
    images:
      - name: nginx:alpine
      - name: registry.example:5000/team/probe:1.2
        pull: always
    containers:
      - name: web
        image: nginx:alpine
        state: running
        restart_policy: always
        log_path: /var/log/web.log
        mounts:
          - source: /srv/www
            destination: /usr/share/nginx/html
            options: [rbind, ro]
      - name: probe
        image: registry.example:5000/team/probe:1.2
        command: sleep infinity
        network_from: web
        state: running
    remove_orphans: true

- name: A CNI bridge network, then a stack whose containers are attached to it
  ctrops.containerd.cni_network:
    name: shop-net
    bridge: shop0
    subnet: 10.88.0.0/24

- name: Attach web to shop-net (eth0) and db to shop-net and a second network with a fixed interface name
  ctrops.containerd.containerd_stack:
    name: shop
    containers:
      - name: web
        image: nginx:alpine
        state: running
        networks: [shop-net]
      - name: db
        image: postgres:16
        state: running
        networks:
          - shop-net
          - name: backup-net
            ifname: backup0
  register: shop

- name: Show web's address
  ansible.builtin.debug:
    msg: "{{ shop.containers[0].networks[0].addresses[0] }}"

- name: Images from an archive (air-gapped hosts) and a stopped one-shot container
  ctrops.containerd.containerd_stack:
    name: batch
    namespace: jobs
    images:
      - name: example.org/batch/tool:1
        source: archive
        archive_path: /srv/images/tool.tar
    containers:
      - name: tool
        image: example.org/batch/tool:1
        command: [tool, --once]
        state: stopped

- name: Remove every container of a stack
  ctrops.containerd.containerd_stack:
    name: shop
    containers: []
    remove_orphans: true
'''

RETURN = r'''
containers:
  description: One entry per declared container, in the order of O(containers), then the removed orphans.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Name of the container., type: str, sample: web}
    state: {description: The state declared (V(absent) for a removed orphan)., type: str, sample: running}
    exists:
      description: Whether the container exists after the run (in check mode, whether it would).
      type: bool
    status:
      description: The status of its task after the run (in check mode, as it would be), null without a task.
      type: str
      sample: running
    pid:
      description: Host PID of its task (null without a task, or before a start in check mode).
      type: int
      sample: 4242
    changed: {description: Whether this container changed (or would)., type: bool}
    actions:
      description: What was done to this container (or would be).
      type: list
      elements: str
      sample: ["create container web", "start task web"]
    differences:
      description: The fields that differed and made the module recreate it.
      type: list
      elements: str
      returned: when it existed with another spec
    orphan: {description: Whether it was removed as an orphan., type: bool}
    networks:
      description:
        - Its CNI attachments made by this stack after the run, with the addresses from the CNI result (empty
          in check mode for an attachment not made yet).
      type: list
      elements: dict
      returned: for converged containers
      sample: [{name: shop-net, ifname: eth0, addresses: [10.88.0.2/24]}]
    failed:
      description: Whether converging it failed (or was skipped because a container it joins failed).
      type: bool
    msg: {description: Why it failed., type: str, returned: when it failed}
    ready:
      description: Its readiness wait, as RV(ctrops.containerd.containerd_container#module:ready).
      type: dict
      returned: when O(containers[].ready) is set and the container was converged (not settled in one call)
    log:
      description: The last O(containers[].log_lines) lines of its task's log file.
      type: list
      elements: str
      returned: when O(containers[].log_lines) is more than 0 and the container was converged
images:
  description: One entry per image of O(images).
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Normalised reference., type: str, sample: docker.io/library/nginx:alpine}
    digest: {description: Target digest (null when unknown in check mode)., type: str}
    changed: {description: Whether this image changed (or would)., type: bool}
    actions: {description: What was done to it., type: list, elements: str}
    failed: {description: Whether it failed., type: bool}
    msg: {description: Why it failed., type: str, returned: when it failed}
actions:
  description: Every operation performed (or that would be, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["pull docker.io/library/nginx:alpine", "create container web", "start task web"]
ctr_calls:
  description: Number of ctr invocations of this run.
  returned: always
  type: int
'''

# First of ours: the rest of this collection's module_utils then compile once per run (compile_once.py).
from ansible_collections.ctrops.containerd.plugins.module_utils import compile_once  # noqa: F401 pylint: disable=unused-import

from ansible_collections.ctrops.containerd.plugins.module_utils import container_networks as networking
from ansible_collections.ctrops.containerd.plugins.module_utils import containers as ctrs
from ansible_collections.ctrops.containerd.plugins.module_utils import reference
from ansible_collections.ctrops.containerd.plugins.module_utils import stack
from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.container_state import (
    Listing,
    argument_spec as container_argument_spec,
    converge_container,
    validate_params as validate_container,
)
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput, ModuleError
from ansible_collections.ctrops.containerd.plugins.module_utils.image_state import (
    SOURCE_REQUIRED_IF,
    SOURCE_REQUIRED_TOGETHER,
    ImageTask,
    source_argument_spec,
    validate_params as validate_image,
)
from ansible_collections.ctrops.containerd.plugins.module_utils.images import ImageStore, name_filter
from ansible_collections.ctrops.containerd.plugins.module_utils.module_run import ModuleRun


def entries_of(run):
    """The container entries, checked (each message names its container) and labelled with the stack."""
    name = run.params['name']
    entries = []
    for given in run.params['containers']:
        entry = dict(given)
        if stack.STACK_LABEL in (entry['labels'] or {}):
            raise InvalidInput('Container %s sets the label %s, which containerd_stack sets to the stack name: '
                               'leave it out.' % (entry['name'], stack.STACK_LABEL))
        entry['labels'] = dict(entry['labels'] or {}, **{stack.STACK_LABEL: name})
        try:
            validate_container(entry)
        except InvalidInput as exc:
            if entry['name'] in exc.message:
                raise
            raise InvalidInput('Container %s: %s' % (entry['name'], exc.message))
        entries.append(networking.prepare(dict(entry, cni=run.params['cni']), run.params['address'],
                                          run.params['namespace']))
    return entries


def images_of(run):
    """The image entries, checked, with their normalised names."""
    images, seen = [], set()
    for given in run.params['images']:
        entry = dict(given, timeout=run.params['timeout'])
        validate_image(entry)
        entry['name'] = reference.normalize(entry['name'], option='images name')
        if entry['name'] in seen:
            raise InvalidInput('Image %s is declared twice in images: keep one entry.' % entry['name'])
        seen.add(entry['name'])
        images.append(entry)
    return images


def orphan_params(name):
    """The options that remove an orphan as containerd_container state=absent force=true would."""
    params = dict((key, spec.get('default')) for key, spec in container_argument_spec().items())
    params.update(name=name, state='absent', force=True)
    return params


def converge_images(run, images, listing):
    """Pull, import or tag each image (one listing for all); returns their results and the failures."""
    results, failed = [], []
    if not images:
        return results, failed
    store = ImageStore(run.client)
    current = store.records([name_filter(entry['name']) for entry in images])
    for entry in images:
        part = run.part(entry)
        result = dict(name=entry['name'])
        try:
            record = ImageTask(part, entry).present(entry['name'], current.get(entry['name']))
            result['digest'] = record.get('digest')
            listing.images.add(entry['name'])
        except ModuleError as exc:
            result.update(failed=True, msg=exc.message)
            failed.append(entry['name'])
        result.update(changed=bool(part.actions), actions=part.actions)
        if part.diff is None and part.actions:
            part.set_diff(dict(name=entry['name'], digest=(current.get(entry['name']) or {}).get('digest')),
                          dict(name=entry['name'], digest=result.get('digest')))
        results.append((result, part))
    return results, failed


def container_result(entry, part=None, task=None):
    """The result entry of one container: from its RunPart, or (no-op) from the task listing."""
    result = dict(name=entry['name'], state=entry['state'], orphan=False)
    if part is None:
        result.update(exists=True, status=task['status'], pid=task['pid'] or None, changed=False, actions=[])
        return result
    view = part.result.get('container') or {}
    task = part.result.get('task') or view.get('task') or {}
    result.update(exists=bool(view.get('exists')), status=task.get('status'), pid=task.get('pid'),
                  changed=bool(part.actions), actions=part.actions)
    if 'differences' in part.result:
        result['differences'] = part.result['differences']
    if 'ready' in part.result:
        result['ready'] = part.result['ready']
    if 'log' in task:
        result['log'] = task['log']
    return result


def converge_one(part, entry, listing, settled_task=None):
    """What converges one container within Networks.converge: nothing for a container found as declared
    (``settled_task``, its task), converge_container otherwise; returns its result entry."""
    def converge_it(params):
        if settled_task is not None:
            return container_result(entry, task=settled_task)
        converge_container(part, params, listing)
        return container_result(entry, part)
    return converge_it


def converge(run):
    params = run.params
    validate.identifier(params['name'], 'name', 'stack name')
    entries = entries_of(run)
    images = images_of(run)
    client = run.client
    declared = set(entry['name'] for entry in entries)
    orphans = []
    if params['remove_orphans']:
        found = ctrs.list_containers_matching(client, [stack.orphans_filter(params['name'])])
        orphans = [name for name in found if name not in declared]
    existing = ctrs.list_containers(client) if stack.undeclared_targets(entries) else ()
    order = stack.plan(entries, existing, orphans)
    listing = Listing(client)
    record = dict(address=params['address'], namespace=params['namespace'], stack=params['name'])
    networks = networking.Networks(run, params['cni'], networking.checked_configs(params['cni'], entries),
                                   listing, record)
    image_results, failed_images = converge_images(run, images, listing)

    # One call tells which running containers are exactly as declared (see stack.settled_filter).
    filters = [f for f in (stack.settled_filter(entry) for entry in order) if f]
    settled = set(ctrs.list_containers_matching(client, filters)) if filters else set()
    results, parts, failed = {}, {}, {}
    for entry in order:
        name = entry['name']
        blocked = [target for _o, _k, target in stack.references(entry) if target in failed]
        if blocked:
            failed[name] = 'not converged, because %s failed' % ', '.join(blocked)
            results[name] = dict(name=name, state=entry['state'], orphan=False, changed=False, actions=[],
                                 failed=True, msg='Container %s was not converged: %s.' % (name, failed[name]))
            continue
        task = listing.tasks().get(name) if name in settled else None
        joins_restarted = any(target in listing.restarted and not ctrs.joins_pinned(kind, target, listing.pinned)
                              for _o, kind, target in stack.references(entry))
        part = parts[name] = run.part(entry)

        try:
            results[name] = networks.converge(part, entry, converge_one(part, entry, listing, (
                task if name in settled and stack.settled_task(entry, task) and not joins_restarted else None)))
        except ModuleError as exc:
            failed[name] = exc.message.rstrip('.')
            results[name] = dict(results.get(name) or container_result(entry, part), failed=True, msg=exc.message)
    removed = []
    for name in orphans:
        entry = orphan_params(name)
        part = parts[name] = run.part(entry)
        try:
            removed.append(dict(networks.converge(part, dict(entry, networks=[]), converge_one(part, entry, listing)),
                                orphan=True))
        except ModuleError as exc:
            failed[name] = exc.message.rstrip('.')
            removed.append(dict(container_result(entry, part), orphan=True, failed=True, msg=exc.message))

    run.result['containers'] = [results[entry['name']] for entry in entries] + removed
    run.result['images'] = [result for result, _part in image_results]
    before, after = {}, {}
    for result, part in image_results:
        if part.actions and part.diff:
            before['image ' + result['name']] = part.diff['before']
            after['image ' + result['name']] = part.diff['after']
    for name, part in parts.items():
        if part.actions and part.diff:
            before[name], after[name] = part.diff['before'], part.diff['after']
    run.set_diff(before, after, 'stack %s' % params['name'])
    if failed or failed_images:
        what = ['container %s (%s)' % (name, failed[name]) for name in failed]
        what += ['image %s' % name for name in failed_images]
        raise ModuleError('Stack %s did not converge %s; the others did.' % (params['name'], '; '.join(what)))


def main():
    run = ModuleRun(dict(
        name=dict(type='str', required=True),
        containers=dict(type='list', elements='dict', default=[], options=dict(
            container_argument_spec(), **networking.container_argument_spec())),
        images=dict(type='list', elements='dict', default=[], options=source_argument_spec(),
                    required_if=SOURCE_REQUIRED_IF, required_together=SOURCE_REQUIRED_TOGETHER),
        remove_orphans=dict(type='bool', default=False),
        cni=networking.argument_spec()['cni'],
    ))
    run.execute(converge, run)
    run.exit()


if __name__ == '__main__':
    main()
