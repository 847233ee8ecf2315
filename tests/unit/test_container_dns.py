"""The resolv.conf and hosts files of a networked container (pure rendering and checks)."""

import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import container_dns
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput


def params(**extra):
    base = dict(name="web", hostname=None, networks=[dict(name="n")], dns_servers=None, dns_search_domains=None,
                dns_opts=None, etc_hosts=None)
    base.update(extra)
    return base


def test_the_host_resolver_without_loopback_servers_or_docker_fallback():
    host = (["127.0.0.1", "10.0.0.2", "::1"], ["corp.example"], ["ndots:1"])
    assert container_dns.resolv_conf(params(), host).splitlines()[1:] == [
        "search corp.example", "nameserver 10.0.0.2", "options ndots:1"]
    assert container_dns.resolv_conf(params(), (["127.0.0.53"], [], [])).splitlines()[1:] == [
        "nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    given = params(dns_servers=["10.1.0.1"], dns_search_domains=[], dns_opts=["rotate"])
    assert container_dns.resolv_conf(given, host).splitlines()[1:] == ["nameserver 10.1.0.1", "options rotate"]


def test_the_resolved_stub_is_looked_through(tmp_path):
    stub = tmp_path / "resolv.conf"
    stub.write_text("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n")
    servers, search, options = container_dns._parse(stub.read_text())
    assert (servers, search, options) == (["127.0.0.53"], ["lan"], ["edns0", "trust-ad"])


def test_hosts_has_loopback_its_addresses_and_the_extra_names():
    text = container_dns.hosts(params(hostname="shop", etc_hosts={"db": "10.0.0.7"}), ["10.88.0.2/16"])
    assert text.splitlines()[1:] == ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                                     "10.88.0.2\tshop", "10.0.0.7\tdb"]


@pytest.mark.parametrize("extra, message", [
    (dict(networks=[], dns_servers=["10.0.0.1"]), "Container web sets dns_servers without networks: these files are "
     "written for a container on CNI networks (one on the host's network uses the host's files), so add networks."),
    (dict(dns_servers=["dns.example"]), "Container web: dns_servers entry 'dns.example' is not an IP address."),
    (dict(etc_hosts={"bad name": "10.0.0.1"}), "Container web: etc_hosts name 'bad name' is not a host name."),
    (dict(etc_hosts={"db": "ten"}), "Container web: etc_hosts address 'ten' of db is not an IP address."),
    (dict(dns_opts=["ndots 2"]), "Container web: DNS search domains and options are single words: 'ndots 2' is not."),
])
def test_bad_dns_options_are_one_sentence(extra, message):
    with pytest.raises(InvalidInput) as caught:
        container_dns.check(params(**extra))
    assert caught.value.message == message


def test_written_in_place_keeps_the_inode(tmp_path):
    path = str(tmp_path / "etc" / "hosts")
    container_dns.write_in_place(path, "one\n")
    inode = (tmp_path / "etc" / "hosts").stat().st_ino
    container_dns.write_in_place(path, "two\n")
    assert (tmp_path / "etc" / "hosts").read_text() == "two\n" and (tmp_path / "etc" / "hosts").stat().st_ino == inode
    assert oct((tmp_path / "etc" / "hosts").stat().st_mode & 0o777) == "0o644"
    assert not container_dns.differs(path, "two\n") and container_dns.differs(path, "three\n")
