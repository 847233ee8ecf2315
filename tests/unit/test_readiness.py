"""Where a readiness probe connects, from the options and the CNI result cache cni_network writes."""

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import cni, readiness
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput


def params(tmp_path, **extra):
    ready = dict(exec=None, tcp=8080, http=None, port=80, status=200, host=None, cni_cache_dir=str(tmp_path),
                 interval=1.0, timeout=60.0, always=False)
    ready.update(extra.pop("ready", {}))
    base = dict(name="app", state="running", net_host=False, network_from=None, ready=ready, log_lines=0)
    base.update(extra)
    return base


def attach(tmp_path, container, address, network="web-net"):
    config = {"cniVersion": "1.0.0", "name": network, "plugins": [{"type": "bridge"}]}
    result = {"cniVersion": "1.0.0", "ips": [{"address": "fd00::5/64"}, {"address": address}]}
    attachment = cni.Attachment(network, container, "eth0", "/proc/1/ns/net")
    cni.write_cache(str(tmp_path), attachment, config, result, {"module": "cni_network"})


def test_host_network_is_loopback(tmp_path):
    assert readiness.target(params(tmp_path, net_host=True)) == ("tcp", "127.0.0.1:8080")


def test_joined_container_attachment_gives_the_address(tmp_path):
    attach(tmp_path, "pause", "10.88.0.7/24")
    attach(tmp_path, "pause-other", "10.88.0.9/24")
    found = readiness.target(params(tmp_path, network_from="pause", ready=dict(tcp=None, http="/health")))
    assert found == ("http", "http://10.88.0.7:80/health")


def test_own_attachment_and_given_host(tmp_path):
    attach(tmp_path, "app", "10.88.0.3/24")
    assert readiness.target(params(tmp_path)) == ("tcp", "10.88.0.3:8080")
    assert readiness.target(params(tmp_path, ready=dict(host="::1"))) == ("tcp", "[::1]:8080")


def test_no_address_is_an_error(tmp_path):
    with pytest.raises(InvalidInput, match="^Container app has no address to probe from the host"):
        readiness.target(params(tmp_path, network_from="/var/run/netns/x"))


def test_exec_and_url_need_no_address(tmp_path):
    assert readiness.target(params(tmp_path, ready=dict(tcp=None, exec=["true"]))) == ("exec", "true")
    url = "https://app.example:8443/up"
    assert readiness.target(params(tmp_path, ready=dict(tcp=None, http=url))) == ("http", url)


def test_log_tail(tmp_path):
    log = tmp_path / "task.log"
    log.write_text("".join("line %d\n" % n for n in range(100)))
    assert readiness.log_tail(str(log), 2) == ["line 98", "line 99"]
    assert readiness.log_tail(str(log), 0) == [] and readiness.log_tail(str(tmp_path / "none"), 5) == []
    assert readiness.log_tail(None, 5) == []
