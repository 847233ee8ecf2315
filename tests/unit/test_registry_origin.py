from ansible_collections.ctrops.containerd.plugins.module_utils.registry import origin


def test_origin_makes_default_ports_explicit():
    assert origin("https://Registry.Example/v2/") == ("https", "registry.example", 443)
    assert origin("https://registry.example:443/x") == origin("https://registry.example/y")
    assert origin("http://registry.example/x") == ("http", "registry.example", 80)


def test_origins_differ_by_scheme_host_or_port():
    base = origin("https://127.0.0.1:5000/v2/")
    assert origin("https://127.0.0.1:5001/v2/") != base
    assert origin("http://127.0.0.1:5000/v2/") != base
    assert origin("https://localhost:5000/v2/") != base
    assert origin("https://127.0.0.1:5000/other?x=1") == base
