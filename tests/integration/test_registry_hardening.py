"""Registry hardening, per matrix version: credentials stay with their registry, every fault is a
sentence, TLS is verified under a registry name that is not localhost.

Misbehaving registries are stub servers on 127.0.0.1 (rig/stub_server.py) that record the headers they
get; the module runs in check mode against them, so only its HTTP client talks to them.
"""

import json
import os

import pytest

from rig.images import remote_digest
from rig.stub_server import StubServer, bearer_challenge, redirect, status
from test_containerd_image import image
# ns and local are fixtures of test_registry_push, used here as arguments.
from test_registry_push import local, local_names, ns, push  # noqa: F401  # pylint: disable=unused-import

PASSWORD = "stub-secret-password"


@pytest.fixture(scope="module")
def mtls_registry(tmp_path_factory):
    """A TLS registry that asks every client for a certificate signed by the rig's CA."""
    from rig.registry import Registry

    registry = Registry(str(tmp_path_factory.mktemp("registry-mtls")), "mtls")
    try:
        yield registry.start()
    finally:
        registry.stop()


def check_push(containerd, ns, run_module, local, host, **args):
    """registry_push in check mode to ``host`` (only the module's HTTP client talks to the registry)."""
    name, _digest = local
    return push(containerd, ns, run_module, check=True, name=name, destination=host + "/x/y:1", **args)


def token_endpoint(token="stub-token", code=200):
    body = json.dumps({"token": token}).encode()
    return lambda request: (code, {"Content-Type": "application/json"}, body)


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_credentials_do_not_follow_a_redirect_to_another_origin(containerd, run_module, registries, ns, local,
                                                                scheme):
    tls = registries["tls"]
    with StubServer(tls=tls.server_cert()) as elsewhere, \
            StubServer(token_endpoint(), tls=tls.server_cert()) as token:
        if scheme == "basic":
            def front_respond(request):
                if "Authorization" in request["headers"]:
                    return redirect(elsewhere.url)(request)
                return 401, {"WWW-Authenticate": 'Basic realm="stub"'}, b""
        else:
            front_respond = bearer_challenge(token.url + "/token", then=redirect(elsewhere.url))
        with StubServer(front_respond, tls=tls.server_cert()) as front:
            result = check_push(containerd, ns, run_module, local, front.host, ca_cert=tls.ca_cert,
                                username="u", password=PASSWORD)
    assert result["changed"] is True, result
    assert result["remote_digest_before"] == "sha256:" + "0" * 64, "the redirect was not followed"
    expected = "Bearer stub-token" if scheme == "bearer" else "Basic "
    assert any(value.startswith(expected) for value in front.authorizations()), front.requests
    assert [r["method"] for r in elsewhere.requests] == ["HEAD"], elsewhere.requests
    assert elsewhere.authorizations() == [], "credentials followed the redirect to another port"
    if scheme == "bearer":
        assert token.authorizations() and token.authorizations()[0].startswith("Basic "), token.requests


def test_https_to_http_redirect_is_refused(containerd, run_module, registries, ns, local):
    tls = registries["tls"]
    with StubServer() as plain:
        with StubServer(redirect(plain.url), tls=tls.server_cert()) as front:
            result = check_push(containerd, ns, run_module, local, front.host, ca_cert=tls.ca_cert,
                                username="u", password=PASSWORD)
    assert result.get("failed") is True, result
    assert result["msg"] == ("registry %s redirected from HTTPS to the plain HTTP address %s/v2/x/y/manifests/1, "
                             "which this module refuses: fix the registry, or set plain_http=true if plain HTTP is "
                             "acceptable." % (front.host, plain.url)), result["msg"]
    assert plain.requests == [], "the plain HTTP address was contacted"


def test_plain_http_token_realm_gets_no_credentials(containerd, run_module, registries, ns, local):
    tls = registries["tls"]
    with StubServer(token_endpoint()) as plain_realm:
        realm = plain_realm.url + "/token"
        with StubServer(bearer_challenge(realm), tls=tls.server_cert()) as front:
            result = check_push(containerd, ns, run_module, local, front.host, ca_cert=tls.ca_cert,
                                username="u", password=PASSWORD)
    assert result.get("failed") is True, result
    assert result["msg"] == ("registry %s named the plain HTTP token realm %s, and this module sends no credentials "
                             "over plain HTTP: serve the token server over HTTPS, or set plain_http=true if plain "
                             "HTTP is acceptable." % (front.host, realm)), result["msg"]
    assert plain_realm.requests == [], "the plain HTTP realm was contacted"


@pytest.mark.parametrize("answer, message", [
    (status(403, "DENIED"), "registry {host} denied access (HTTP 403) for user u: the account lacks the permission "
                            "for this repository."),
    (status(503), "registry {host} failed with HTTP 503 (a server error) to HEAD /v2/x/y/manifests/1: the registry "
                  "side has a problem; try again later or look at its logs."),
    ("token-500", "the token server {realm} of registry {host} failed with HTTP 500 (a server error): the registry "
                  "side has a problem; try again later or look at its logs."),
])
def test_registry_status_faults_are_sentences(containerd, run_module, registries, ns, local, answer, message):
    tls = registries["tls"]
    with StubServer(token_endpoint(code=500), tls=tls.server_cert()) as token:
        realm = token.url + "/token"
        respond = bearer_challenge(realm) if answer == "token-500" else answer
        with StubServer(respond, tls=tls.server_cert()) as front:
            result = check_push(containerd, ns, run_module, local, front.host, ca_cert=tls.ca_cert,
                                username="u", password=PASSWORD)
    assert result.get("failed") is True, result
    assert result["msg"] == message.format(host=front.host, realm=realm)


def test_tls_files_are_checked_before_acting(containerd, run_module, registries, ns, local, tmp_path):
    tls = registries["tls"]
    name, _digest = local
    missing = str(tmp_path / "missing.pem")
    destination = tls.ref("files/a:1")
    cases = [
        (dict(ca_cert=missing), "The ca_cert file %s does not exist: give the path of an existing PEM file." % missing),
        (dict(ca_cert=str(tmp_path)), "The ca_cert path %s is a directory: give the path of a PEM file." % tmp_path),
        (dict(ca_cert=tls.ca_cert, client_cert=missing, client_key=tls.ca_cert),
         "The client_cert file %s does not exist: give the path of an existing PEM file." % missing),
        (dict(ca_cert=tls.ca_cert, client_cert=tls.ca_cert, client_key=missing),
         "The client_key file %s does not exist: give the path of an existing PEM file." % missing),
    ]
    for args, message in cases:
        result = push(containerd, ns, run_module, name=name, destination=destination, **args)
        assert result.get("failed") is True, result
        assert result["msg"] == message
        assert result["actions"] == []
    assert remote_digest(tls, "files/a", "1") is None
    assert local_names(containerd, ns) == [name]

    # containerd_image: the files a hosts_dir names for the registry, before ctr pulls.
    hosts = tmp_path / "hosts" / tls.host
    hosts.mkdir(parents=True)
    (hosts / "hosts.toml").write_text('server = "%s"\nca = "%s"\n' % (tls.url, missing))
    pulled = image(containerd, ns, run_module, name=tls.ref("rig/busybox:1"), hosts_dir=str(tmp_path / "hosts"))
    assert pulled.get("failed") is True, pulled
    assert pulled["msg"] == ("The ca (in %s) file %s does not exist: give the path of an existing PEM file."
                             % (hosts / "hosts.toml", missing))


def test_mutual_tls_push(containerd, run_module, mtls_registry, ns, local, uid):
    registry = mtls_registry
    name, digest = local
    destination = registry.ref("mtls-%s/a:1" % uid)
    without = push(containerd, ns, run_module, name=name, destination=destination, ca_cert=registry.ca_cert)
    assert without.get("failed") is True, without
    assert without["msg"] == ("registry %s requires a client certificate (mutual TLS): give client_cert and "
                              "client_key, or a hosts_dir whose hosts.toml names them." % registry.host)
    assert destination not in local_names(containerd, ns)

    pushed = push(containerd, ns, run_module, name=name, destination=destination, ca_cert=registry.ca_cert,
                  client_cert=registry.client_cert, client_key=registry.client_key)
    assert pushed["changed"] is True, pushed
    assert remote_digest(registry, "mtls-%s/a" % uid, "1") == digest


def test_push_without_verification(containerd, run_module, registries, ns, local, uid):
    tls = registries["tls"]
    name, digest = local
    pushed = push(containerd, ns, run_module, name=name, destination=tls.ref("noverify-%s/a:1" % uid),
                  validate_certs=False)
    assert pushed["changed"] is True, pushed
    assert remote_digest(tls, "noverify-%s/a" % uid, "1") == digest


@pytest.fixture
def tls_name_hosts_dir(registries, tmp_path):
    """hosts dirs mapping ``registry.test:PORT`` to the rig's TLS registry on 127.0.0.1, with and without its CA.

    containerd treats registries named localhost or 127.0.0.1 as insecure (2.x skips TLS verification for
    them), so TLS is proven under a name that is neither; nothing system-wide (/etc/hosts) changes.
    """
    tls = registries["tls"]
    host = "registry.test:%d" % tls.port
    dirs = {}
    for kind in ("with_ca", "without_ca"):
        directory = tmp_path / kind / host
        directory.mkdir(parents=True)
        settings = ['capabilities = ["pull", "resolve", "push"]']
        if kind == "with_ca":
            settings.append('ca = "%s"' % tls.ca_cert)
        lines = ['server = "%s"' % tls.url] + settings + ["", '[host."%s"]' % tls.url] + ["  " + s for s in settings]
        (directory / "hosts.toml").write_text("\n".join(lines) + "\n")
        dirs[kind] = str(tmp_path / kind)
    return host, dirs


def test_tls_is_verified_under_a_registry_name(containerd, run_module, registries, rig_images, ns, local, uid,
                                               tls_name_hosts_dir):
    tls = registries["tls"]
    host, dirs = tls_name_hosts_dir
    name = host + "/rig/busybox:1"

    pull_without = image(containerd, ns, run_module, name=name, hosts_dir=dirs["without_ca"])
    assert pull_without.get("failed") is True, pull_without
    assert pull_without["msg"].startswith("TLS verification of registry %s failed (" % host), pull_without["msg"]
    assert name not in local_names(containerd, ns)

    pulled = image(containerd, ns, run_module, name=name, hosts_dir=dirs["with_ca"])
    assert pulled["changed"] is True, pulled
    assert pulled["image"]["digest"] == rig_images["busybox"]["digest"]

    local_name, digest = local
    destination = "%s/name-%s/a:1" % (host, uid)
    push_without = push(containerd, ns, run_module, name=local_name, destination=destination,
                        hosts_dir=dirs["without_ca"])
    assert push_without.get("failed") is True, push_without
    assert push_without["msg"].startswith("TLS verification of registry %s failed (" % host), push_without["msg"]
    assert remote_digest(tls, "name-%s/a" % uid, "1") is None

    pushed = push(containerd, ns, run_module, name=local_name, destination=destination, hosts_dir=dirs["with_ca"])
    assert pushed["changed"] is True, pushed
    assert remote_digest(tls, "name-%s/a" % uid, "1") == digest
    assert os.path.isdir(dirs["with_ca"])
