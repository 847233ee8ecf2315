"""`make demo`: playbooks/site.yml, then the field notes' walk-through, on a throwaway QEMU VM.

The VM is the Molecule harness's Debian 12 machine (extensions/molecule/vm.py):
software emulation, SSH on 127.0.0.1, destroyed at the end. On this machine
the demo starts two registries on 127.0.0.1, which the VM reaches as
10.0.2.2 (QEMU's user network maps that address to the host's loopback):

- a plain-HTTP registry seeded with the rig's busybox and web images, standing
  in for Docker Hub (not reachable here);
- the self-hosted registry of the notes: TLS with its own CA and a password.
  Its certificate names ``registry.test``; site.yml writes the /etc/hosts entry
  and the certs.d hosts.toml for it, after playbooks/demo/trust-registry.yml
  has copied the CA into the VM, as one hands hosts a private CA.

Then: site.yml (roles cni and containerd: Debian's packages), the walk-through
twice (the second run must change only the tasks tagged non_idempotent), its
clean-up play, a look inside the VM for anything left, the summary (demo.demo)
and the tear-down (VM by its PID, registries by theirs, the temporary directory).
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from demo import PLAYBOOK, REPO, changed_tasks, demo, run_playbook, run_playbook_as_awx, stats, tagged_tasks  # noqa: E402

VM_TOOL = os.path.join(REPO, "extensions", "molecule", "vm.py")
VM_BASE = "bookworm"
SITE = os.path.join(REPO, "playbooks", "site.yml")
TRUST = os.path.join(REPO, "playbooks", "demo", "trust-registry.yml")
# The VM's name for this machine: QEMU's user network forwards 10.0.2.2 to 127.0.0.1.
HOST_FROM_VM = "10.0.2.2"
REGISTRY_NAME = "registry.test"
SSH_ARGS = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
            # Post-quantum key exchange costs seconds per connection under software emulation.
            "-o KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org")

# What the clean-up play must have removed inside the VM; prints one line per leftover.
LEFTOVER_CHECK = r"""
ip -o link show {bridge} >/dev/null 2>&1 && echo "bridge: {bridge}"
ctr namespaces ls -q | grep -x -e {namespace} -e {other_namespace} | sed 's/^/namespace: /'
grep -F " {directory}" /proc/mounts | awk '{{print "mount: " $2}}'
test -e {directory} && echo "directory: {directory}"
ls /etc/cni/net.d | grep -F {network} | sed 's/^/network file: /'
iptables -w -t nat -S | grep -F '{network}' | sed 's/^/iptables: /'
true
"""

INSTALLED = r"""
echo "containerd  $(containerd --version | cut -d' ' -f3) ($(dpkg-query -W -f '${Version}' containerd), systemd: $(systemctl is-active containerd))"
echo "runc        $(runc --version | head -n1 | cut -d' ' -f3)"
echo "CNI plugins $(dpkg-query -W -f '${Version}' containernetworking-plugins): $(ls /usr/lib/cni | tr '\n' ' ')"
echo "networks    $(ls /etc/cni/net.d | tr '\n' ' ')"
dump=$(containerd config dump); n=0
for s in /usr/lib/cni /etc/containerd/certs.d 'BinaryName = .*/usr/sbin/runc'; do echo "$dump" | grep -q -e "$s" && n=$((n + 1)); done
echo "config      /etc/containerd/config.toml: $(grep '^version' /etc/containerd/config.toml), $n of 3 settings in force"
member=$(id -nG {user} | tr ' ' '\n' | grep -cx containerd)
runuser -u {user} -- ctr version >/dev/null 2>&1 && ctr=works || ctr=fails
echo "user        {user} in group containerd: $member, ctr without sudo: $ctr"
"""
# An unprivileged user site.yml adds to the containerd group.
DEMO_USER = "ctrops"


def walkthrough_strategy_env():
    """The walk-through's plays run under Mitogen's mitogen_linear strategy (DEMO_STRATEGY=linear: Ansible's own).

    Under software emulation each task that starts a new Python in the VM pays seconds for it; Mitogen keeps one
    interpreter there, which roughly halves the three walk-through plays. site.yml (through ansible-runner, as AWX
    runs it) and its dry run keep Ansible's linear strategy, so both paths run against the VM.
    """
    if os.environ.get("DEMO_STRATEGY", "mitogen_linear") == "linear":
        return {}
    import ansible_mitogen  # pylint: disable=import-outside-toplevel
    return {"ANSIBLE_STRATEGY": "mitogen_linear",
            "ANSIBLE_STRATEGY_PLUGINS": os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy"),
            # The VM is new at each boot, with new host keys; Mitogen checks them itself.
            "ANSIBLE_HOST_KEY_CHECKING": "False"}


class VmWalkthrough:
    """site.yml and the walk-through on a throwaway VM; the interface demo.demo() drives."""

    def __init__(self, memory=2048, cpus=2, workdir=None):
        self.base = tempfile.mkdtemp(prefix="ctrops-demo-vm-", dir=workdir)
        os.chmod(self.base, 0o700)
        self.uid = secrets.token_hex(3)
        self.memory, self.cpus = memory, cpus
        self.vm_state = os.path.join(self.base, "vm")
        self.vm = None
        self.registries = {}
        self.inventory = os.path.join(self.base, "inventory.yml")
        self.vars_file = os.path.join(self.base, "demo-vars.json")
        # Inside the VM: a network of the walk-through's own beside site.yml's cni0.
        self.network = "walkthrough"
        self.bridge = "wt0"
        self.subnet = "10.88.0.0/24"
        self.namespace, self.other_namespace = "walkthrough", "walkthrough-b"
        self.directory = "/var/tmp/ctrops-walkthrough"
        self.setup_notes = []

    # -- set-up ---------------------------------------------------------------------------

    def start(self):
        from rig.images import build_image, push_archive
        from rig.registry import Registry

        images_dir = os.path.join(self.base, "images")
        os.makedirs(images_dir)
        images = {name: build_image(os.path.join(images_dir, name + ".tar"), "docker.io/rig/%s:1" % name, name)
                  for name in ("busybox", "web")}
        source = Registry(os.path.join(self.base, "registry-http"), "http")
        self.registries["http"] = source.start()
        for name, image in images.items():
            push_archive(image["path"], "rig/%s:1" % name, registry=source, expected_digest=image["digest"])
        target = Registry(os.path.join(self.base, "registry-auth"), "auth", names=(REGISTRY_NAME,))
        self.registries["auth"] = target.start()
        print("   registries on 127.0.0.1:%d (HTTP, images) and 127.0.0.1:%d (TLS + password); "
              "booting a %s VM (software emulation, 1-3 min)" % (source.port, target.port, VM_BASE), flush=True)
        started = time.monotonic()
        out = subprocess.run([sys.executable, VM_TOOL, "create", "--base", VM_BASE, "--state", self.vm_state,
                              "--memory", str(self.memory), "--cpus", str(self.cpus)],
                             stdout=subprocess.PIPE, text=True, check=True).stdout
        self.vm = json.loads(out.strip().splitlines()[-1])
        boot_secs = time.monotonic() - started
        self._write_inventory()
        self._write_vars(source, target)
        print("== site.yml on the VM (roles cni and containerd), after handing it the registry's CA", flush=True)
        self._run(TRUST, "trust-registry.json")
        # As AWX runs a job template: through ansible-runner, extra vars in its private data directory.
        site, site_secs = run_playbook_as_awx(SITE, self.inventory, self.vars_file, os.path.join(self.base, "runner"),
                                              env=self._env())
        # A fleet operator's look before a leap: on the converged host the dry run predicts no change.
        print("== site.yml again, as a dry run (--check --diff)", flush=True)
        dry, dry_secs = self._run(SITE, "site-check.json", "--check", "--diff")
        self.setup_notes = [
            "VM              Debian 12 on QEMU (%s, %d vCPU, %d MiB), SSH 127.0.0.1:%d, booted in %.0fs; destroyed" % (
                self.vm.get("accel", "tcg"), self.cpus, self.memory, self.vm["port"], boot_secs),
            "site.yml        ok=%d changed=%d in %.0fs (through ansible-runner)" % (
                stats(site)["ok"], stats(site)["changed"], site_secs),
            "site.yml --check --diff again: ok=%d changed=%d in %.0fs%s" % (
                stats(dry)["ok"], stats(dry)["changed"], dry_secs,
                "" if not stats(dry)["changed"] else " (would change: %s)" % "; ".join(changed_tasks(dry))),
        ] + ["installed       " + line for line in self.ssh(INSTALLED.replace("{user}", DEMO_USER)).splitlines()]
        return self

    def _write_inventory(self):
        host = {
            "ansible_host": self.vm["address"], "ansible_port": self.vm["port"], "ansible_user": self.vm["user"],
            "ansible_ssh_private_key_file": self.vm["identity_file"], "ansible_ssh_common_args": SSH_ARGS,
            "ansible_python_interpreter": "/usr/bin/python3",
        }
        # JSON is YAML; the group picks playbooks/group_vars/debian.yml (Debian's packages).
        with open(self.inventory, "w") as handle:
            json.dump({"all": {"children": {"debian": {"hosts": {"demo-vm": host}}}}}, handle, indent=2)

    def _write_vars(self, source, target):
        registry = "%s:%d" % (REGISTRY_NAME, target.port)
        ca_in_vm = "/etc/containerd/certs.d/%s/ca.crt" % registry
        # containerd 1.6 needs ca and capabilities at the top level too (see rig/registry.py).
        tls = {"capabilities": ["pull", "resolve", "push"], "ca": ca_in_vm}
        variables = {
            # playbooks/demo/trust-registry.yml
            "demo_registry": registry,
            "demo_registry_ca": target.ca_cert,
            # site.yml: the roles' settings for the registry
            "containerd_hosts_entries": [{"ip": HOST_FROM_VM, "names": [REGISTRY_NAME]}],
            "containerd_users": [DEMO_USER],
            "containerd_registries": [dict(tls, name=registry, server="https://" + registry,
                                           hosts=[dict(tls, url="https://" + registry)])],
            # walkthrough.yml
            "walkthrough_busybox_image": "%s:%d/rig/busybox:1" % (HOST_FROM_VM, source.port),
            "walkthrough_web_image": "%s:%d/rig/web:1" % (HOST_FROM_VM, source.port),
            "walkthrough_pull_plain_http": True,
            "walkthrough_registry": registry,
            "walkthrough_registry_repository": "walkthrough/web-" + self.uid,
            "walkthrough_registry_username": target.username,
            "walkthrough_registry_password": target.password,
            "walkthrough_cni_network": self.network,
            "walkthrough_cni_bridge": self.bridge,
            "walkthrough_cni_subnet": self.subnet,
            "walkthrough_cni_gateway": "10.88.0.1",
        }
        fd = os.open(self.vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(variables, handle, indent=2)

    # -- running playbooks and commands in the VM --------------------------------------------

    def _env(self):
        # Ansible's SSH control sockets in the demo's directory, not in ~/.ansible.
        return {"ANSIBLE_SSH_CONTROL_PATH_DIR": os.path.join(self.base, "cp"), "ANSIBLE_TIMEOUT": "60"}

    def _run(self, playbook, log_name, *extra):
        return run_playbook(playbook, ["-i", self.inventory], self.vars_file, *extra, env=self._env(),
                            log_path=os.path.join(self.base, log_name))

    def play(self, *extra, log_name=None):
        return run_playbook(PLAYBOOK, ["-i", self.inventory], self.vars_file, *extra,
                            env=dict(self._env(), **walkthrough_strategy_env()),
                            log_path=os.path.join(self.base, log_name or "walkthrough.json"))

    def non_idempotent_tasks(self):
        return tagged_tasks(["-i", self.inventory], self.vars_file)

    def ssh(self, script):
        """Run a shell script in the VM as root; returns its output."""
        cmd = ["ssh", *SSH_ARGS.split(), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
               "-i", self.vm["identity_file"], "-p", str(self.vm["port"]), "root@" + self.vm["address"], "sh", "-s"]
        return subprocess.run(cmd, input=script, capture_output=True, text=True, check=True, timeout=120).stdout

    # -- tear-down -------------------------------------------------------------------------

    def leftovers(self):
        """What the clean-up play left inside the VM: {kind: [names]}."""
        found = {}
        script = LEFTOVER_CHECK.format(bridge=self.bridge, namespace=self.namespace, network=self.network,
                                       other_namespace=self.other_namespace, directory=self.directory)
        for line in self.ssh(script).splitlines():
            kind, _sep, name = line.partition(": ")
            found.setdefault(kind, []).append(name)
        return found

    def stop(self):
        """Destroy the VM and stop the registries (each by its PID), remove the directory."""
        if os.path.exists(self.vm_state):
            subprocess.run([sys.executable, VM_TOOL, "destroy", "--state", self.vm_state], check=False)
        for registry in self.registries.values():
            registry.stop()
        shutil.rmtree(self.base, ignore_errors=True)
        return {}


def main():
    walk = VmWalkthrough()
    demo(walk, "a throwaway %s VM (QEMU, extensions/molecule/vm.py), a registry standing in for Docker Hub "
               "(HTTP) and a self-hosted registry (TLS + password) on this machine, under %s" % (VM_BASE, walk.base))


if __name__ == "__main__":
    main()
