"""Label semantics shared by the modules."""

from ansible_collections.ctrops.containerd.plugins.module_utils.labels import label_changes, labels_match, wanted_labels


def test_merge_keeps_unnamed_labels_and_none_removes():
    assert wanted_labels({"a": "1", "b": "2"}, {"a": "9", "b": None, "c": 3}, False) == {"a": "9", "c": "3"}


def test_purge_keeps_only_named_labels():
    assert wanted_labels({"a": "1", "b": "2"}, {"b": "2"}, True) == {"b": "2"}


def test_changes_set_and_remove():
    assert label_changes({"a": "1", "b": "2"}, {"a": "9", "c": "3"}) == {"a": "9", "b": None, "c": "3"}
    assert label_changes({"a": "1"}, {"a": "1"}) == {}


def test_labels_match_needs_every_wanted_label_and_none_matches_any_value():
    labels = {"team": "web", "tier": "1"}
    assert labels_match(labels, {"team": "web", "tier": 1})
    assert labels_match(labels, {"team": None})
    assert labels_match(labels, {}) and labels_match(labels, None)
    assert not labels_match(labels, {"team": "db"})
    assert not labels_match(labels, {"owner": None})
