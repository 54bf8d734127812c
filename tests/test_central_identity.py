"""An event's central identity is (machine, id): labels and central scores name their event by
both, in the ingestion tables, the lake, the views and erasure. Two machines hold the same id."""

import time

import pytest

from devtrace.analytics import connect
from devtrace.central.db import open_central
from devtrace.central.ingest import store_labels
from devtrace.central.lake import admin, flush, ingest_tables, writer
from devtrace.central.payloads import Label, validate
from devtrace.ml.synthetic import generate
from tests.postgres_support import DATABASES
from tests.test_central_lake import OLD_ENOUGH, push


@pytest.fixture(params=DATABASES)
def central(request, tmp_path):
    url = str(tmp_path / "central.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    open_central(url).close()
    return url


def label(url: str, machine: str, event_id: str, client_label_id: int, value: float, *, admin_token: bool = False,
          **fields) -> dict:
    items = [{"event_id": event_id, "client_label_id": client_label_id, "value": value, "source": "human",
              "labeled_by": machine, "created_at": time.time() - 60, **fields}]
    labels, rejected = validate(Label, items, "event_id")
    assert not rejected
    db = open_central(url)
    try:
        return store_labels(db, machine, labels, [], OLD_ENOUGH, any_machine=admin_token)
    finally:
        db.close()


def per_machine(con, sql: str) -> dict:
    return {row[0]: row[1:] for row in con.execute(sql).fetchall()}


def test_labels_and_scores_of_two_machines_with_the_same_event_id(central, tmp_path):
    frame = generate(30, seed=11)
    push(central, frame, "alice")
    push(central, frame, "bob")  # the same ids, another machine: 30 more events
    shared = frame.get_column("id")[0]

    assert label(central, "alice", shared, 1, 90)["accepted"] == 1
    ambiguous = label(central, "root", shared, 1, 10, admin_token=True)
    assert ambiguous["accepted"] == 0 and "is on 2 machines" in ambiguous["rejected"][0]["reason"]
    assert label(central, "root", shared, 1, 10, admin_token=True, event_machine="bob")["accepted"] == 1
    refused = label(central, "alice", shared, 2, 50, event_machine="bob")  # not an admin: her own events only
    assert refused["accepted"] == 0 and "not among this machine's events" in refused["rejected"][0]["reason"]
    with ingest_tables.transaction(central) as tx:
        tx.execute("INSERT INTO event_scores (machine, event_id, predicted_productivity, model_ref, scored_at) "
                   "VALUES ('bob', ?, 42, 'org.v1', ?)", [shared, time.time()])

    def check(con) -> None:
        labelled = per_machine(con, f"SELECT machine, human_label, human_label_by FROM events WHERE id = '{shared}'")
        assert labelled == {"alice": (90.0, "alice"), "bob": (10.0, "root")}
        trained = per_machine(con, f"SELECT machine, productivity_label, label_source FROM training_set "
                                   f"WHERE id = '{shared}'")
        assert trained == {"alice": (90.0, "human"), "bob": (10.0, "human")}
        assert con.execute("SELECT count(*), count(human_label) FROM events").fetchone() == (60, 2)

    with connect(central=central) as con:  # the ingestion tables
        check(con)
    flush.flush(central, data_path=str(tmp_path / "lake-data"))
    with writer.connect(central, pinned=True) as con:
        scored = per_machine(con, f"SELECT machine, predicted_productivity, model_ref FROM lake.command_events "
                                  f"WHERE id = '{shared}'")
    assert scored["bob"] == (42.0, "org.v1") and scored["alice"][1] != "org.v1"
    with connect(central=central) as con:  # the lake
        check(con)

    admin.erase(central, "alice", actor="test")
    with ingest_tables.transaction(central) as tx:
        assert tx.execute("SELECT machine, event_machine, value FROM labels") == [("root", "bob", 10.0)]
        assert tx.execute("SELECT count(*) FROM event_scores") == [(1,)]
    with connect(central=central) as con:
        assert per_machine(con, f"SELECT machine, human_label FROM events WHERE id = '{shared}'") == {"bob": (10.0,)}


def test_labels_and_scores_of_an_older_central_database_get_their_events_machine(central):
    """Schema 6 to 7: a machine's own label names its machine's event; an admin's label of
    another machine's event names the machine holding that id; a score row its event's machine."""
    frame = generate(5, seed=12)
    push(central, frame, "alice")
    one, two = frame.get_column("id")[0], frame.get_column("id")[1]
    with ingest_tables.transaction(central) as tx:
        for statement in ("DROP INDEX labels_event_machine", "DROP INDEX event_scores_machine_event",
                          "ALTER TABLE labels DROP COLUMN event_machine", "ALTER TABLE event_scores DROP COLUMN machine",
                          "DROP TABLE agent_session_usage", "DELETE FROM schema_migrations WHERE version >= 7"):
            tx.execute(statement)
        tx.execute("INSERT INTO labels (event_id, client_label_id, value, source, created_at, machine, received_at) "
                   "VALUES (?, 1, 70, 'human', 0, 'alice', 0), (?, 1, 20, 'human', 0, 'root', 0)", [one, two])
        tx.execute("INSERT INTO event_scores (event_id, predicted_productivity, model_ref, scored_at) "
                   "VALUES (?, 5, 'org.v1', 0)", [two])
    open_central(central).close()
    with ingest_tables.transaction(central) as tx:
        assert tx.execute("SELECT machine, event_machine FROM labels ORDER BY value") == [("root", "alice"),
                                                                                       ("alice", "alice")]
        assert tx.execute("SELECT machine FROM event_scores") == [("alice",)]
