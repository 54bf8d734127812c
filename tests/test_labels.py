"""Labels: append-only, latest counts, one clear sentence for a bad one, from Python and the CLI."""

import sqlite3

import pytest

import devtrace
from devtrace.errors import DevtraceError
from tests.ml_support import add_events, cli
from tests.support import devtrace as run_cli
from tests.support import rows


def test_labels_are_appended_with_who_and_why(store):
    event = add_events(store, 1)[0]
    first = devtrace.label(event, 55, by="ana", note="slow but right", path=store)
    second = devtrace.label(event, 72.5, path=store)
    assert second > first
    stored = rows(store, "SELECT event_id, value, source, labeled_by, note, created_at FROM labels ORDER BY id")
    assert [tuple(r)[:5] for r in stored] == [
        (event, 55.0, "human", "ana", "slow but right"),
        (event, 72.5, "human", None, None),
    ]
    assert stored[0]["created_at"] <= stored[1]["created_at"]
    latest = devtrace.sql(f"SELECT human_label, human_label_by FROM events WHERE id = '{event}'", path=store)
    assert latest.row(0) == (72.5, None)


def test_labels_cannot_be_changed_afterwards(store):
    event = add_events(store, 1)[0]
    devtrace.label(event, 10, path=store)
    conn = sqlite3.connect(store / "devtrace.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE labels SET value = 99")
    conn.close()


@pytest.mark.parametrize(
    ("event", "value", "source", "message"),
    [
        ("evt_missing", 50, "human", "no event 'evt_missing' in the store"),
        (None, 101, "human", r"a label is a number from 0 to 100 \(got 101\)"),
        (None, -0.5, "human", "from 0 to 100"),
        (None, "80", "human", "from 0 to 100"),
        (None, True, "human", "from 0 to 100"),
        (None, 50, "robot", "label source must be 'human' or 'pseudo'"),
    ],
)
def test_bad_labels_are_refused_and_nothing_is_written(store, event, value, source, message):
    known = add_events(store, 1)[0]
    with pytest.raises(DevtraceError, match=message):
        devtrace.label(event or known, value, path=store, source=source)
    assert rows(store, "SELECT * FROM labels") == []


def test_label_command(store):
    event = add_events(store, 1)[0]
    out = cli("label", event, "64", "--by", "ana", "--note", "fixed the flaky test", "--path", str(store),
              cwd=store.parent).stdout
    assert out.strip() == f"Labeled {event}: 64 by ana"
    assert tuple(rows(store, "SELECT value, labeled_by, note FROM labels")[0]) == (64.0, "ana", "fixed the flaky test")
    for args, message in (
        (("evt_nope", "50"), "devtrace: no event 'evt_nope' in the store (see `devtrace events`)\n"),
        ((event, "150"), "devtrace: a label is a number from 0 to 100 (got 150.0)\n"),
    ):
        done = run_cli("label", *args, "--path", str(store), cwd=store.parent, text=True)
        assert (done.returncode, done.stderr, done.stdout) == (1, message, "")
