"""The cni role and the cni_network module share one network model: the same networks, declared in the
role (roles/cni, ``cni_networks``) and with the module, give byte-identical files; on NixOS the text in
the generated Nix module is the module's own rendering (``state=rendered``).

The role runs with ansible-playbook as a user runs it (install method ``none`` or ``nixos``, every path
in the test's tmp_path); the module through pytest-ansible. Both check networks against Debian 12's CNI
plugins (1.1.1, /usr/lib/cni). Nothing here creates a bridge, a netns or a container: only files.
"""

import copy
import json
import os
import stat
import subprocess
import sys

import yaml

# make demo's driver (playbooks/demo) runs playbooks the way these tests do.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "playbooks", "demo"))

from demo import ansible_env, changed_tasks, run_playbook, stats, task_results  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE_DEFAULTS = os.path.join(REPO, "roles", "cni", "defaults", "main.yml")
PLUGINS = "/usr/lib/cni"
CONVERGE = "ctrops.containerd.cni : Converge the networks"
PLAYBOOK = """\
- name: The cni role
  hosts: all
  gather_subset: [min]
  roles:
    - role: ctrops.containerd.cni
"""


def field_notes_networks():
    with open(ROLE_DEFAULTS) as handle:
        return yaml.safe_load(handle)["cni_field_notes_networks"]


def networks(uid):
    """The field notes' networks (role defaults), one with nothing but the module's defaults, one given
    whole (with a string Nix and JSON must both escape), one with routes in both shapes."""
    return field_notes_networks() + [
        {"name": "ct-%s-min" % uid, "subnet": "10.89.250.0/24"},
        {"name": "ct-%s-whole" % uid, "priority": 20,
         "config": {"cniVersion": "1.0.0",
                    "ctrops.note": 'costs ${5} "quoted" back\\slash \u00fcml\u00e4ut',
                    "plugins": [{"type": "bridge", "bridge": "ct%sw" % uid[:6], "isGateway": True,
                                 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.89.251.0/24"}]]}},
                                {"type": "portmap", "capabilities": {"portMappings": True}}]}},
        {"name": "ct-%s-routes" % uid, "bridge": "ct%sr" % uid[:6], "subnet": "10.89.252.0/24",
         "gateway": "10.89.252.1", "format": "conf", "priority": 30,
         "routes": ["0.0.0.0/0", {"dst": "192.168.0.0/16", "gw": "10.89.252.254"}]},
    ]


def module_args(network, **extra):
    """A network of cni_networks as the module's options (the role passes the same keys)."""
    args = copy.deepcopy(network)
    args.update(extra)
    return args


def role_files(tmp_path, role_vars):
    playbook = tmp_path / "cni-role.yml"
    playbook.write_text(PLAYBOOK)
    vars_file = tmp_path / "cni-role-vars.json"
    vars_file.write_text(json.dumps(role_vars))
    return str(playbook), ["-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable], \
        str(vars_file)


def apply_role(tmp_path, role_vars, *extra):
    """ansible-playbook with the role; the JSON callback's result (a failed run raises)."""
    playbook, inventory, vars_file = role_files(tmp_path, role_vars)
    result, _secs = run_playbook(playbook, inventory, vars_file, *extra)
    return result


def failing_role(tmp_path, role_vars):
    """ansible-playbook with the role, expected to fail: the messages of the failed loop items."""
    playbook, inventory, vars_file = role_files(tmp_path, role_vars)
    env = ansible_env()
    env["ANSIBLE_STDOUT_CALLBACK"] = "json"
    proc = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), *inventory, "-e", "@" + vars_file,
                           playbook], env=env, capture_output=True, text=True, check=False, cwd=REPO)
    assert proc.returncode != 0, proc.stdout[-2000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    # ansible-core 2.21 marks a failed loop item by its "exception" only, no longer by "failed".
    return [(name, item.get("msg")) for _play, name, res in task_results(result)
            for item in res.get("results", [res]) if item.get("failed") or item.get("exception")]


def files_of(directory):
    """{file name: (bytes, mode)} of a configuration directory."""
    found = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        with open(path, "rb") as handle:
            found[name] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return found


def test_role_and_module_write_byte_identical_files(run_module, tmp_path, uid):
    role_dir, module_dir = str(tmp_path / "role" / "net.d"), str(tmp_path / "module" / "net.d")
    declared = networks(uid)
    role_vars = {"cni_install_method": "none", "cni_bin_dir": PLUGINS, "cni_conf_dir": role_dir,
                 "cni_networks": declared}

    # Check mode predicts every network and writes nothing.
    checked = apply_role(tmp_path, role_vars, "--check")
    assert changed_tasks(checked) == [CONVERGE], changed_tasks(checked)
    assert not os.path.exists(role_dir)

    first = apply_role(tmp_path, role_vars)
    assert stats(first)["failures"] == 0
    assert CONVERGE in changed_tasks(first)
    again = apply_role(tmp_path, role_vars)
    assert changed_tasks(again) == [], "the role changed on its second run: %s" % changed_tasks(again)

    for network in declared:
        result = run_module("cni_network", **module_args(network, conf_dir=module_dir, bin_dirs=[PLUGINS]))
        assert result.get("failed") is not True and result["changed"] is True, json.dumps(result)

    role_files, module_files = files_of(role_dir), files_of(module_dir)
    assert sorted(role_files) == sorted([
        "10-cni0.conflist", "99-lo.conf", "10-ct-%s-min.conflist" % uid, "20-ct-%s-whole.conflist" % uid,
        "30-ct-%s-routes.conf" % uid])
    assert role_files == module_files
    assert all(mode == 0o644 for _text, mode in role_files.values())

    # The field notes' networks are what the role wrote before it used the module (site.yml's result).
    assert json.loads(role_files["10-cni0.conflist"][0]) == {
        "cniVersion": "1.0.0", "name": "cni0",
        "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True,
                     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.66.0.0/16", "gateway": "10.66.0.1"}]],
                              "routes": [{"dst": "0.0.0.0/0"}]},
                     "dns": {"nameservers": ["8.8.8.8", "114.114.114.114"]}}]}
    assert json.loads(role_files["99-lo.conf"][0]) == {"cniVersion": "0.4.0", "name": "lo", "type": "loopback"}
    # A network with only a name and a subnet gets the module's defaults, in the role too.
    minimal = json.loads(role_files["10-ct-%s-min.conflist" % uid][0])["plugins"][0]
    assert (minimal["bridge"], minimal["ipMasq"], "routes" in minimal["ipam"]) == ("cni0", False, False)

    # absent: the role and the module remove the same network.
    gone = declared[2]["name"]
    apply_role(tmp_path, dict(role_vars, cni_networks=[dict(declared[2], state="absent")]))
    result = run_module("cni_network", name=gone, state="absent", conf_dir=module_dir)
    assert result["changed"] is True, json.dumps(result)
    assert files_of(role_dir) == files_of(module_dir)
    assert "10-%s.conflist" % gone not in files_of(role_dir)


def test_role_refuses_a_network_the_module_refuses(tmp_path):
    """The role's validation is the module's: a gateway outside the subnet stops the role, nothing written."""
    role_dir = str(tmp_path / "net.d")
    role_vars = {"cni_install_method": "none", "cni_bin_dir": PLUGINS, "cni_conf_dir": role_dir,
                 "cni_networks": [{"name": "bad", "subnet": "10.89.253.0/24", "gateway": "10.90.0.1"}]}
    failed = failing_role(tmp_path, role_vars)
    assert failed == [(CONVERGE,
                       "plugin 1 (bridge): gateway 10.90.0.1 is not inside subnet 10.89.253.0/24.")], failed
    assert not os.path.exists(os.path.join(role_dir, "10-bad.conflist"))


def nix_value(module_path, attribute):
    """An attribute of the generated NixOS module, evaluated by Nix (pkgs stood in for)."""
    expr = ('(import %s { config = {}; lib = {}; pkgs = { cni-plugins = "/nix/store/x-cni-plugins"; }; }).%s'
            % (module_path, attribute))
    out = subprocess.run(["nix-instantiate", "--readonly-mode", "--eval", "--strict", "--json", "-E", expr],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def nix_etc(module_path):
    """environment.etc of the generated NixOS module."""
    return nix_value(module_path, "environment.etc")


def test_nixos_module_carries_the_module_rendering(run_module, tmp_path, uid):
    nixos = tmp_path / "nixos"
    nixos.mkdir()
    configuration = nixos / "configuration.nix"
    configuration.write_text("{ config, pkgs, ... }:\n{\n  imports = [ ];\n}\n")
    module_path = str(nixos / "ctrops-cni.nix")
    declared = networks(uid)
    removed = {"name": "ct-%s-old" % uid, "subnet": "10.89.254.0/24", "state": "absent"}
    lib = tmp_path / "lib"
    role_vars = {"cni_install_method": "nixos", "cni_nixos_module_path": module_path,
                 "cni_nixos_configuration": str(configuration), "cni_nixos_rebuild_command": "true",
                 "cni_networks": declared + [removed], "cni_restore_lib_dir": str(lib)}
    first = apply_role(tmp_path, role_vars)
    assert stats(first)["failures"] == 0
    assert "ctrops.containerd.cni : Write the NixOS module" in changed_tasks(first)
    assert "./ctrops-cni.nix" in configuration.read_text()
    # The boot unit that pins lost network namespaces again: declared in the module, its program copied.
    service = nix_value(module_path, "systemd.services.ctrops-netns-restore")
    assert service["before"] == ["containerd.service"] and service["environment"]["PYTHONPATH"] == str(lib)
    assert service["serviceConfig"]["ExecStart"].split()[1:5] == [
        "-S", "-m", "ansible_collections.ctrops.containerd.plugins.module_utils.netns_restore", "--netns-dir"]
    restore = subprocess.run(service["serviceConfig"]["ExecStart"].split() + ["--netns-dir", str(tmp_path / "netns"),
                             "--cache-dir", str(tmp_path / "cache")], env={"PYTHONPATH": str(lib)},
                             capture_output=True, text=True, check=False)
    assert restore.returncode == 0 and restore.stdout == "", restore
    again = apply_role(tmp_path, role_vars)
    assert changed_tasks(again) == [], "the role changed on its second run: %s" % changed_tasks(again)

    etc = nix_etc(module_path)
    module_dir = str(tmp_path / "module" / "net.d")
    expected = {}
    for network in declared:
        # No plugin exists before a NixOS rebuild: rendering must not look for them.
        no_plugins = [str(tmp_path / "no-plugins")]
        rendered = run_module("cni_network", **module_args(network, state="rendered", bin_dirs=no_plugins))
        assert rendered.get("failed") is not True and rendered["changed"] is False, json.dumps(rendered)
        name = os.path.basename(rendered["network"]["path"])
        assert rendered["network"]["path"] == os.path.join("/etc/cni/net.d", name)
        expected["cni/net.d/" + name] = rendered["rendered"]
        # ... and the rendering is the file state=present writes.
        written = run_module("cni_network", **module_args(network, conf_dir=module_dir, bin_dirs=[PLUGINS]))
        with open(written["network"]["path"]) as handle:
            assert handle.read() == rendered["rendered"]
    assert sorted(etc) == sorted(expected)
    for key, text in expected.items():
        assert etc[key]["text"] == text, key
    assert "ct-%s-old" % uid not in json.dumps(sorted(etc))


def test_rendered_validates_all_but_the_plugins(run_module, tmp_path):
    result = run_module("cni_network", name="bad", state="rendered", subnet="10.89.253.0/24", gateway="10.90.0.1",
                        conf_dir=str(tmp_path))
    assert result.get("failed") is True
    assert "gateway 10.90.0.1 is not inside subnet 10.89.253.0/24" in result["msg"]
    assert os.listdir(str(tmp_path)) == []
