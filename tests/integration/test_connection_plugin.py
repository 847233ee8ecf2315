"""The connection plugin ctrops.containerd.containerd: real `ansible` and `ansible-playbook` runs against
containers of the rig's containerd, with ctr on this machine and through the rig's sshd (containerd_host).

One set of containers per containerd version (module scope): ``py`` (the rig's Python image, running),
``bare`` (busybox only, running), ``idle`` (created, no task). Each host appears twice in the inventory:
ctr run locally, and ctr run over SSH on 127.0.0.1 (suffix ``_ssh``).
"""

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import remove_container

BIN = os.path.dirname(sys.executable)
PLUGIN = "ctrops.containerd.containerd"

PLAYBOOK = """
- name: Containers as hosts
  hosts: py,py_ssh
  gather_facts: true
  gather_subset: min
  vars:
    local_dir: "{{ lookup('ansible.builtin.env', 'CONN_LOCAL_DIR') }}"
  tasks:
    - name: Facts come from inside the container
      ansible.builtin.assert:
        that:
          - ansible_facts.python.version.major == 3
          - ansible_facts.user_id == 'root'
          - ansible_facts.env.PATH == '/usr/bin:/bin'

    - name: Copy a small file (without pipelining, the module files go through put_file)
      vars:
        ansible_pipelining: false
      ansible.builtin.copy:
        content: "hello {{ inventory_hostname }}\\n"
        dest: "/tmp/hello-{{ inventory_hostname }}.txt"
        mode: "0640"

    - name: Template
      ansible.builtin.template:
        src: "{{ local_dir }}/conf.j2"
        dest: "/tmp/conf-{{ inventory_hostname }}.txt"
        mode: "0644"

    - name: Read what was written (pipelined, as every task without ansible_pipelining false)
      ansible.builtin.command: "cat /tmp/hello-{{ inventory_hostname }}.txt /tmp/conf-{{ inventory_hostname }}.txt"
      register: written
      changed_when: false

    - name: Put the large binary file
      ansible.builtin.copy:
        src: "{{ local_dir }}/big.bin"
        dest: "/tmp/big-{{ inventory_hostname }}.bin"
        mode: "0600"

    - name: Fetch it back
      ansible.builtin.fetch:
        src: "/tmp/big-{{ inventory_hostname }}.bin"
        dest: "{{ local_dir }}/back-{{ inventory_hostname }}.bin"
        flat: true

    - name: A file as a non-root exec user (put_file and the module run as that user)
      ansible.builtin.copy:
        content: "mine\\n"
        dest: "/home/app/mine-{{ inventory_hostname }}.txt"
        mode: "0600"
      remote_user: app
      register: as_app

    - name: Become (su as root to the app user, where the image has su)
      ansible.builtin.command: id -un
      become: true
      become_method: ansible.builtin.su
      become_user: app
      register: became
      changed_when: false

    - name: Report
      ansible.builtin.set_fact:
        report:
          written: "{{ written.stdout_lines }}"
          as_app: "{{ as_app.owner }}"
          became: "{{ became.stdout | default('') }}"
"""


@pytest.fixture(scope="module")
def hosts(containerd, py_image, rig_images, sshd, tmp_path_factory):
    """The containers and an inventory for them (local and SSH paths); a ctr wrapper logs every call."""
    work = tmp_path_factory.mktemp("conn")
    suffix = os.path.basename(str(work))[-6:].replace("_", "")
    namespace = "conn-%s-%s" % (containerd.version.replace(".", ""), suffix)
    names = {kind: "conn-%s-%s" % (kind, suffix) for kind in ("py", "bare", "idle")}
    log = work / "ctr-calls"
    ctr = work / "ctr"
    ctr.write_text('#!/bin/sh\necho "$*" >> %s\nexec %s "$@"\n' % (log, containerd.ctr))
    ctr.chmod(0o755)
    control = str(work / "cm-%C")
    ssh_args = "-F %s -o ControlPath=%s" % (sshd.ssh_config, control)
    try:
        containerd.ctr_run("images", "import", py_image["path"], namespace=namespace)
        containerd.ctr_run("images", "import", rig_images["busybox"]["path"], namespace=namespace)
        containerd.ctr_run("run", "-d", py_image["ref"], names["py"], namespace=namespace)
        containerd.ctr_run("run", "-d", rig_images["busybox"]["ref"], names["bare"], "sleep", "100000",
                           namespace=namespace)
        containerd.ctr_run("containers", "create", rig_images["busybox"]["ref"], names["idle"], namespace=namespace)
        common = ["ansible_connection=%s" % PLUGIN, "ansible_containerd_namespace=%s" % namespace,
                  "ansible_containerd_address=%s" % containerd.address, "ansible_containerd_ctr_path=%s" % ctr]
        py = "ansible_python_interpreter=/usr/bin/python3"
        down = "ansible_containerd_address=/nonexistent/containerd.sock ansible_containerd_timeout=2"
        via_ssh = "ansible_containerd_host=127.0.0.1 ansible_containerd_ssh_args='%s'" % ssh_args
        lines = [
            "py ansible_host=%s %s" % (names["py"], py),
            "py_ssh ansible_host=%s %s %s" % (names["py"], py, via_ssh),
            "bare ansible_host=%s ansible_python_interpreter=auto_silent" % names["bare"],
            "bare_ssh ansible_host=%s ansible_python_interpreter=auto_silent %s" % (names["bare"], via_ssh),
            "idle ansible_host=%s" % names["idle"],
            "idle_ssh ansible_host=%s %s" % (names["idle"], via_ssh),
            "missing ansible_host=conn-missing-%s" % suffix,
            "nouser ansible_host=%s ansible_user=nosuch %s" % (names["py"], py),
            "down ansible_host=%s %s" % (names["py"], down),
            "down_ssh ansible_host=%s %s %s" % (names["py"], down, via_ssh),
            "refused_ssh ansible_host=%s %s ansible_containerd_host_port=1" % (names["py"], via_ssh),
            "[all:vars]",
        ] + common
        inventory = work / "hosts.ini"
        inventory.write_text("\n".join(lines) + "\n")
        yield dict(inventory=str(inventory), work=work, log=log, names=names, namespace=namespace)
    finally:
        # The multiplexed SSH connection the plugin left for ControlPersist, ended by its control socket.
        subprocess.run(["ssh", "-F", sshd.ssh_config, "-o", "ControlPath=%s" % control, "-O", "exit", sshd.host],
                       capture_output=True, check=False, timeout=30)
        for name in names.values():
            remove_container(containerd, name, namespace=namespace)
        for image in (py_image["ref"], rig_images["busybox"]["ref"]):
            containerd.ctr_run("images", "rm", image, namespace=namespace, check=False)
        containerd.ctr_run("namespaces", "rm", namespace, check=False)


def ansible(hosts, pattern, module, args="", pipelining=True, extra=()):
    """One `ansible PATTERN -m MODULE` run through the json callback: {host: result}."""
    cmd = [os.path.join(BIN, "ansible"), pattern, "-i", hosts["inventory"], "-m", module, "-f", "8"] + list(extra)
    if args:
        cmd += ["-a", args]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="true",
               ANSIBLE_PIPELINING=str(pipelining))
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False, env=env)
    print("%.1fs %s" % (time.monotonic() - started, " ".join(cmd[1:])))
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible printed no JSON result: %s %s" % (proc.stdout[-3000:], proc.stderr[-3000:]))


def ctr_calls(hosts):
    """The ctr calls since the last look (the wrapper's log), emptied."""
    calls = hosts["log"].read_text().splitlines() if hosts["log"].exists() else []
    hosts["log"].write_text("")
    return calls


def test_playbook_files_users_become(hosts):
    """A playbook: facts, copy, template, command, a 10 MB binary file there and back, a non-root exec user,
    become; pipelined (no module file is transferred) except for the tasks that turn it off."""
    work = hosts["work"]
    local = work / "local"
    local.mkdir()
    data = os.urandom(10 * 1024 * 1024)
    (local / "big.bin").write_bytes(data)
    (local / "conf.j2").write_text("host={{ inventory_hostname }} user={{ ansible_facts.user_id }}\n")
    playbook = work / "play.yml"
    playbook.write_text(PLAYBOOK)
    ctr_calls(hosts)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="true",
               ANSIBLE_PIPELINING="true", CONN_LOCAL_DIR=str(local))
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", hosts["inventory"], str(playbook),
                           "-f", "4"],
                          capture_output=True, text=True, timeout=300, check=False, env=env)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook printed no JSON: %s %s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    failures = [(t["task"]["name"], h, r) for t in out["plays"][0]["tasks"] for h, r in t["hosts"].items()
                if r.get("failed") or r.get("unreachable")]
    assert proc.returncode == 0 and not failures, json.dumps(failures)[-6000:]
    tasks = out["plays"][0]["tasks"]
    want = hashlib.sha256(data).hexdigest()
    for host in ("py", "py_ssh"):
        report = tasks[-1]["hosts"][host]["ansible_facts"]["report"]
        assert report["written"] == ["hello %s" % host, "host=%s user=root" % host], report
        assert report["as_app"] == "app", report
        assert report["became"] == "app", report
        copied = [t for t in tasks if t["task"]["name"] == "Put the large binary file"][0]["hosts"][host]
        assert copied["checksum"] == hashlib.sha1(data).hexdigest(), copied
        assert hashlib.sha256((local / ("back-%s.bin" % host)).read_bytes()).hexdigest() == want
    calls = ctr_calls(hosts)
    assert calls and all(" tasks exec --exec-id ansible-" in c for c in calls), calls[:3]
    assert len(set(c.split("--exec-id ")[1].split()[0] for c in calls)) == len(calls), "exec IDs are not unique"
    module_files = [c for c in calls if 'cat > "$1"' in c and "AnsiballZ_" in c]
    # Transferred: the small copy's two modules (stat, copy) without pipelining, and the su task's module
    # (Ansible's su plugin does not pipeline; its file goes to /var/tmp); per host. All others were pipelined.
    assert len(module_files) == 6, module_files
    assert sum("/var/tmp/" in c for c in module_files) == 2, module_files


def test_adhoc_ping_raw_and_clear_errors(hosts):
    """Ad-hoc ping through local ctr and through ctr over SSH; for the other hosts one sentence each, never a
    traceback: no task, no container, an unknown exec user, no containerd at the address (here and on the SSH
    host), an SSH host that refuses (unreachable); no Python (failed). raw works without Python."""
    results = ansible(hosts, "all", "ansible.builtin.ping")
    assert results.pop("py").get("ping") == "pong" and results.pop("py_ssh").get("ping") == "pong", results
    for host, result in results.items():
        assert "Traceback" not in json.dumps(result), (host, result)
        if host.startswith("bare"):
            assert result.get("failed") and not result.get("unreachable"), (host, json.dumps(result))
        else:
            assert result.get("unreachable"), (host, json.dumps(result))
    for host in ("idle", "idle_ssh"):
        assert "container %s in namespace %s%s has no running task: start it" % (
            hosts["names"]["idle"], hosts["namespace"], " on 127.0.0.1" if host.endswith("ssh") else "") \
            in results[host]["msg"], results[host]
    assert "does not exist: check the host's ansible_host" in results["missing"]["msg"], results["missing"]
    assert "user nosuch does not exist in container" in results["nouser"]["msg"], results["nouser"]
    for host in ("bare", "bare_ssh"):
        assert "has no Python at /usr/bin/python3: modules need Python 3 in the container" in \
            results[host]["msg"], results[host]
    assert "containerd is not reachable at /nonexistent/containerd.sock: the socket does not exist" in \
        results["down"]["msg"], results["down"]
    assert "containerd is not reachable at /nonexistent/containerd.sock" in results["down_ssh"]["msg"], \
        results["down_ssh"]
    assert "could not reach the containerd host 127.0.0.1 over SSH:" in results["refused_ssh"]["msg"], \
        results["refused_ssh"]

    raw = ansible(hosts, "bare,bare_ssh", "ansible.builtin.raw", "echo raw-$((40+2)); ls /usr/bin/python3")
    for host in ("bare", "bare_ssh"):
        assert "raw-42" in raw[host]["stdout"] and raw[host]["rc"] != 0, raw[host]


def test_connection_doc_renders():
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "connection", PLUGIN], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    for option in ("remote_addr", "namespace", "address", "ctr_path", "containerd_host", "ssh_args"):
        assert option in proc.stdout
    assert "ansible_containerd_namespace" in proc.stdout and "CONTAINERD_ADDRESS" in proc.stdout
