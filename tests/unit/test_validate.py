import pytest

from ansible_collections.ctrops.containerd.plugins.module_utils import validate
from ansible_collections.ctrops.containerd.plugins.module_utils.errors import InvalidInput


@pytest.mark.parametrize("value, fragment", [
    ("web", None), ("a.b-c_d", None), ("", "must not be empty"), ("a b", "not a valid"),
    ("-a", "not a valid"), ("a..b", "not a valid"), ("x" * 77, "longer than 76")])
def test_identifier_error(value, fragment):
    problem = validate.identifier_error(value)
    if fragment is None:
        assert problem is None
    else:
        assert fragment in problem


def test_identifier_raises_one_sentence_naming_the_option():
    with pytest.raises(InvalidInput, match=r"^Invalid container: container name 'a b' is not a valid"):
        validate.identifier('a b', 'container', 'container name')


@pytest.mark.parametrize("signal, ok", [("SIGTERM", True), ("15", True), ("SIGRTMIN+3", True),
                                        ("TERM", False), ("sigterm", False), ("KILLME", False), ("", False)])
def test_signal(signal, ok):
    if ok:
        validate.signal(signal)
    else:
        with pytest.raises(InvalidInput, match="Invalid signal"):
            validate.signal(signal)


@pytest.mark.parametrize("labels, listed, fragment", [
    ({"a": "1"}, True, None), ({"a,b": "1"}, True, "neither"), ({"a": "x,y"}, True, "comma"),
    ({"a,b": "1"}, False, None), ({"": "1"}, False, "non-empty"), ({"a=b": "1"}, False, "no \"=\"")])
def test_label_keys(labels, listed, fragment):
    if fragment is None:
        validate.label_keys(labels, reported_in_list=listed)
    else:
        with pytest.raises(InvalidInput, match=fragment):
            validate.label_keys(labels, reported_in_list=listed)


def test_readable_file(tmp_path):
    present = tmp_path / "ca.pem"
    present.write_text("x")
    validate.readable_file(str(present), "ca_cert")
    validate.readable_file(None, "ca_cert")
    with pytest.raises(InvalidInput, match=r"^The ca_cert file .*/missing\.pem does not exist: give the path"):
        validate.readable_file(str(tmp_path / "missing.pem"), "ca_cert")
    with pytest.raises(InvalidInput, match=r"^The client_key path .* is a directory: give the path of a PEM file\.$"):
        validate.readable_file(str(tmp_path), "client_key")
