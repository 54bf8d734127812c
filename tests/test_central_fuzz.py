"""schemathesis against the running server's /openapi.json: no input makes it answer 5xx.

Every operation gets a bounded number of generated requests (valid and invalid), with an
admin token so the generated bodies reach validation and the database, over SQLite and
PostgreSQL.
"""

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.central_support import Server, make_token
from tests.postgres_support import DATABASES

EXAMPLES = 10  # per operation and mode (valid, invalid): the whole file runs in about half a minute


@pytest.fixture(scope="module", params=DATABASES)
def fuzzed(request, tmp_path_factory):
    if request.param == "sqlite":
        url = str(tmp_path_factory.mktemp("fuzz") / "central.db")
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        database = f"fuzz_{id(request)}"
        done = cluster.run("createdb", "-h", cluster.sockets, "-p", str(cluster.port), "-U", "postgres", database)
        assert done.returncode == 0, done.stderr
        url = cluster.url(database)
    token = make_token(url, "fuzzer", "admin")
    server = Server(url)
    yield server, token
    server.stop()


def test_no_generated_request_gets_a_server_error(fuzzed):
    server, token = fuzzed
    schema = schemathesis.openapi.from_url(server.address + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def no_server_error(case):
            case.call_and_validate(base_url=server.address, headers={"Authorization": f"Bearer {token}"},
                                   checks=[not_a_server_error])

        try:
            no_server_error()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # an operation without inputs has no invalid request
