"""What the inventory plugin's reader builds and parses: the ssh command line, the framed sh script and
its output, containerd label filters, libcni cache listings and host names. Pure functions; the
integration tests run them against real containerd, locally and over the rig's sshd."""

import json
import subprocess

import pytest

from ansible.errors import AnsibleParserError
from ansible_collections.ctrops.containerd.plugins.inventory import containerd as plugin
from ansible_collections.ctrops.containerd.plugins.module_utils import cni
from ansible_collections.ctrops.containerd.plugins.module_utils import inventory as reader


def test_ssh_command_keeps_user_args_first_and_never_prompts():
    cmd = reader.ssh_command("node1", user="ops", port=2222, ssh_args="-i '/keys/my key' -o ControlMaster=auto")
    assert cmd == ["ssh", "-i", "/keys/my key", "-o", "ControlMaster=auto", "-o", "BatchMode=yes", "-l", "ops",
                   "-p", "2222", "--", "node1", "sh"]
    assert reader.ssh_command("node1") == ["ssh", "-o", "BatchMode=yes", "--", "node1", "sh"]


def test_label_selector_is_one_filter_of_all_labels():
    assert reader.label_selector({}) is None
    assert reader.label_selector({"tier": None, "app": "a,b"}) == 'labels."app"=="a,b",labels."tier"'


def run_script(commands, socket_path=None):
    nonce = reader.new_nonce()
    script = reader.batch_script(commands, nonce, socket_path)
    out = subprocess.run(["sh"], input=script, capture_output=True, text=True, check=True).stdout
    return reader.parse_batch(out, nonce)


def test_batch_frames_each_command_exactly():
    results = run_script([["printf", "a\nb"], ["sh", "-c", "echo out; echo err >&2; exit 3"], ["true"]])
    assert results == [(0, "a\nb", ""), (3, "out\n", "err\n"), (0, "", "")]


def test_batch_stops_before_ctr_when_the_socket_is_missing(tmp_path):
    assert run_script([["true"]], socket_path=str(tmp_path / "none.sock")) is None


def test_cni_cache_listing_and_attachments(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    attachment = cni.Attachment("net1", "web", "eth0", "/proc/42/ns/net")
    owner = dict(address="unix:///run/c.sock", namespace="prod", netns_inode=4026532301)
    result = {"cniVersion": "1.0.0", "ips": [{"address": "10.89.0.5/24"}]}
    (results / "net1-web-eth0").write_text(json.dumps(cni.cache_entry(attachment, {"name": "net1"}, result, owner)))
    (results / "net1-other-eth0").write_text("not json")
    nonce = reader.new_nonce() + "-file"
    out = subprocess.run(["sh", "-c", reader.CNI_CACHE_SH, "sh", str(tmp_path), nonce], capture_output=True,
                         text=True, check=True).stdout
    entries = reader.parse_cni_cache(out, nonce)
    assert sorted(entries) == ["net1-web-eth0"]
    found = reader.attachments_of(entries, "web", "prod", "/run/c.sock", 4026532301)
    assert found == [dict(network="net1", ifname="eth0", addresses=["10.89.0.5/24"])]
    # Another namespace, another daemon, or a task restarted since (another netns): not its addresses.
    assert reader.attachments_of(entries, "web", "dev", "/run/c.sock", 4026532301) == []
    assert reader.attachments_of(entries, "web", "prod", "/run/other.sock", 4026532301) == []
    assert reader.attachments_of(entries, "web", "prod", "/run/c.sock", 4026532999) == []
    assert reader.parse_netns("42 net:[4026532301]\n43 \n") == {42: 4026532301}


def test_host_names_auto_takes_the_shortest_unique_form():
    fleet = [dict(id="web", namespace="a", host="h1"), dict(id="web", namespace="b", host="h1"),
             dict(id="db", namespace="a", host="h1")]
    assert plugin.choose_names(fleet[2:], "auto") == ["db"]
    assert plugin.choose_names(fleet, "auto") == ["a_web", "b_web", "a_db"]
    assert plugin.choose_names(fleet + [dict(id="web", namespace="a", host="h2")], "auto")[-1] == "h2_a_web"
    with pytest.raises(AnsibleParserError, match="Two containers would both be inventory host web with host_names=id"):
        plugin.choose_names(fleet, "id")


def test_host_entries_name_their_mistakes():
    assert plugin.host_entries([{"host": "n1", "port": "22"}])[0]["port"] == 22
    with pytest.raises(AnsibleParserError, match=r"hosts\[0\] .* unknown key\(s\) sock"):
        plugin.host_entries([{"sock": "/x"}])
    with pytest.raises(AnsibleParserError, match="names two hosts n1"):
        plugin.host_entries([{"host": "n1"}, {"host": "n1", "port": 2222}])
