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
from tests.postgres_support import new_database

EXAMPLES = 10  # per operation and mode (valid, invalid): about 40 s for each database (stress tier)
QUICK = 2  # the default tier's run, over SQLite: every operation still gets valid and invalid requests


@pytest.fixture(scope="module")
def servers(tmp_path_factory, request):
    """One server per central database, started by the first test that needs it."""
    started: dict[str, tuple[Server, str]] = {}

    def server_on(database: str) -> tuple[Server, str]:
        if database not in started:
            if database == "sqlite":
                url = str(tmp_path_factory.mktemp("fuzz") / "central.db")
            else:
                url = new_database(request.getfixturevalue("postgres_cluster"))
            token = make_token(url, "fuzzer", "admin")
            started[database] = (Server(url), token)
        return started[database]

    yield server_on
    for server, _ in started.values():
        server.stop()


@pytest.mark.parametrize("database, examples", [
    ("sqlite", QUICK),
    pytest.param("sqlite", EXAMPLES, marks=pytest.mark.stress),
    pytest.param("postgresql", EXAMPLES, marks=[pytest.mark.stress, pytest.mark.postgres]),
])
def test_no_generated_request_gets_a_server_error(servers, database, examples):
    server, token = servers(database)
    schema = schemathesis.openapi.from_url(server.address + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def no_server_error(case):
            case.call_and_validate(base_url=server.address, headers={"Authorization": f"Bearer {token}"},
                                   checks=[not_a_server_error])

        try:
            no_server_error()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # an operation without inputs has no invalid request
