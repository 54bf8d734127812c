"""Labels across machines: attributed to the token, identified with the machine, only on the
token's own machine's events (an admin's: any), and no answer that tells whether an event exists."""

import time

from devtrace.central.db import SERIAL, PostgresCentral, SQLiteCentral, _central_migrations, open_central
from devtrace.store.migrations import statements
from tests.central_support import call, central_count, make_token
from tests.test_central_server import batch, event


def label(event_id: str, client_label_id: int, **fields) -> dict:
    return {"event_id": event_id, "client_label_id": client_label_id, "value": 80, "source": "human",
            "labeled_by": "ana", "created_at": time.time(), **fields}


def post(address: str, token: str, labels: list) -> dict:
    status, answer, _ = call(address, "POST", "/v1/labels/batch", token=token, body={"labels": labels})
    assert status == 200, answer
    return answer


def test_a_machine_labels_only_its_own_events_and_cannot_claim_anothers_label(central_url, server_factory):
    alice, mallory = make_token(central_url, "alice"), make_token(central_url, "mallory")
    root = make_token(central_url, "root", scope="admin")
    server = server_factory(central_url)
    assert batch(server.address, alice, [event(1)])[1]["accepted"] == 1
    assert batch(server.address, mallory, [event(2)])[1]["accepted"] == 1
    alices_event, mallorys_event = event(1)["id"], event(2)["id"]

    # mallory tries to pre-claim alice's first label, with a labeled_by of her choosing
    answer = post(server.address, mallory, [label(alices_event, 1, labeled_by="alice", value=0),
                                            label("evt_nowhere", 2)])
    assert answer["accepted"] == 0
    reasons = [r["reason"].replace(alices_event, "X").replace("evt_nowhere", "X") for r in answer["rejected"]]
    assert reasons[0] == reasons[1] == "event X is not among this machine's events on the server"  # no oracle

    answer = post(server.address, alice, [label(alices_event, 1)])
    assert (answer["accepted"], answer["duplicates"]) == (1, 0)
    answer = post(server.address, mallory, [label(mallorys_event, 1)])  # the same local id on another machine
    assert (answer["accepted"], answer["duplicates"]) == (1, 0)
    assert post(server.address, alice, [label(alices_event, 1)])["duplicates"] == 1  # a re-push
    answer = post(server.address, root, [label(alices_event, 1, labeled_by="reviewer")])  # admin: any machine's
    assert answer["accepted"] == 1
    assert central_count(central_url, f"SELECT count(*) FROM labels WHERE event_id = '{alices_event}'") == 2
    assert central_count(central_url, "SELECT count(*) FROM labels WHERE machine = 'mallory' AND labeled_by = 'alice'") == 0
    assert central_count(central_url, "SELECT machine FROM labels WHERE labeled_by = 'reviewer'") == "root"


def test_labels_of_an_older_central_database_are_kept_by_the_migration(central_url):
    """A central database at schema 2 (labels unique by event and local id) migrates in place."""
    raw = PostgresCentral(central_url) if central_url.startswith("postgresql://") else SQLiteCentral(central_url, create=True)
    try:
        with raw.transaction() as tx:
            tx.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                       "applied_at DOUBLE PRECISION NOT NULL)")
            for version, name, file in _central_migrations(raw.dialect)[:2]:
                with open(file, encoding="utf-8") as f:
                    for statement in statements(f.read().replace("@SERIAL@", SERIAL[raw.dialect])):
                        tx.execute(statement)
                tx.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, name))
            tx.execute("INSERT INTO labels (event_id, client_label_id, value, source, created_at, machine, received_at)"
                       " VALUES ('evt_a', 1, 50, 'human', 0, 'alice', 0), ('evt_b', 1, 60, 'human', 0, 'alice', 0),"
                       " ('evt_c', 1, 60, 'human', 0, 'alice', 0)")
            tx.execute("DELETE FROM labels WHERE event_id = 'evt_c'")  # erased: its id is never given again
    finally:
        raw.close()
    db = open_central(central_url)
    try:
        with db.transaction() as tx:
            assert tx.execute("SELECT id, event_id FROM labels ORDER BY id") == [(1, "evt_a"), (2, "evt_b")]
            tx.execute("INSERT INTO labels (event_id, client_label_id, value, source, created_at, machine, received_at)"
                       " VALUES ('evt_a', 1, 70, 'human', 0, 'bob', 0)")  # same event and local id, other machine
            assert tx.execute("SELECT max(id) FROM labels") == [(4,)]
            assert tx.execute("SELECT max(version) FROM schema_migrations") == [(_central_migrations(db.dialect)[-1][0],)]
    finally:
        db.close()


def test_hostile_admin_input_is_4xx(central_url, server_factory, tmp_path):
    root = make_token(central_url, "root", scope="admin")
    server = server_factory(central_url)
    status, _, _ = call(server.address, "POST", "/v1/admin/erase", token=root, body={"machine": "a\u0000b"})
    assert status == 422
    status, answer, _ = call(server.address, "POST", "/v1/models/v9/approve", token=root)
    assert status == 404 and "no model version 'v9'" in answer["detail"]


def test_only_an_xgboost_model_can_be_published(central_url, server_factory, tmp_path):
    from devtrace.central.models import sha256
    from devtrace.ml.pipeline import train_and_register
    from devtrace.ml.registry import active_dir
    from devtrace.ml.synthetic import generate
    from devtrace.ml.training import dataset_training_data

    root = make_token(central_url, "root", scope="admin")
    server = server_factory(central_url)
    for text in ('{"not": "a model"}', "[1, 2, 3]", "plain text",
                 '{"learner": {"gradient_booster": {"name": "gbtree"}}, "version": [3, 1, 0]}'):
        upload = {"version": "v1", "model_json": text, "metadata": {}, "sha256": sha256(text)}
        status, answer, _ = call(server.address, "POST", "/v1/models", token=root, body=upload)
        assert status == 422 and "XGBoost" in json_detail(answer), (text, answer)
    train_and_register(dataset_training_data(generate(800, seed=2)), source="t", path=tmp_path / "s", promote=True,
                       n_estimators=5, max_depth=2, learning_rate=0.3)
    real = (active_dir(tmp_path / "s") + "/model.json")
    with open(real, encoding="utf-8") as f:
        text = f.read()
    upload = {"version": "v1", "model_json": text, "metadata": {}, "sha256": sha256(text)}
    assert call(server.address, "POST", "/v1/models", token=root, body=upload)[0] == 201
    assert central_count(central_url, "SELECT count(*) FROM models") == 1


def json_detail(answer) -> str:
    return answer["detail"] if isinstance(answer.get("detail"), str) else str(answer["detail"])


def test_the_same_event_id_from_two_machines_is_two_events(central_url, server_factory):
    alice, bob = make_token(central_url, "alice"), make_token(central_url, "bob")
    server = server_factory(central_url)
    assert batch(server.address, alice, [event(1), event(2)])[1]["accepted"] == 2
    status, answer, _ = batch(server.address, bob, [event(1)])
    assert (status, answer["accepted"], answer["duplicates"]) == (200, 1, 0)
    assert batch(server.address, bob, [event(1)])[1]["duplicates"] == 1  # bob's re-push
    assert central_count(central_url, f"SELECT count(*) FROM command_events WHERE id = '{event(1)['id']}'") == 2


def test_events_of_an_older_central_database_keep_their_seq(central_url):
    raw = PostgresCentral(central_url) if central_url.startswith("postgresql://") else SQLiteCentral(central_url, create=True)
    try:
        with raw.transaction() as tx:
            tx.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                       "applied_at DOUBLE PRECISION NOT NULL)")
            for version, name, file in _central_migrations(raw.dialect)[:5]:
                with open(file, encoding="utf-8") as f:
                    for statement in statements(f.read().replace("@SERIAL@", SERIAL[raw.dialect])):
                        tx.execute(statement)
                tx.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, name))
            for n in (1, 2, 3):
                tx.execute("INSERT INTO command_events (id, executed_at, command_hash, machine, received_at)"
                           " VALUES (?, 0, 'h', 'alice', 0)", (f"evt_{n}",))
            tx.execute("DELETE FROM command_events WHERE id = 'evt_3'")
    finally:
        raw.close()
    db = open_central(central_url)
    try:
        with db.transaction() as tx:
            assert tx.execute("SELECT seq, id FROM command_events ORDER BY seq") == [(1, "evt_1"), (2, "evt_2")]
            tx.execute("INSERT INTO command_events (id, executed_at, command_hash, machine, received_at)"
                       " VALUES ('evt_1', 0, 'h', 'bob', 0)")
            assert tx.execute("SELECT max(seq) FROM command_events") == [(4,)]  # never reused
    finally:
        db.close()
