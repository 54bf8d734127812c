"""Where a lake on object storage gets its settings: the standard AWS variables and DevTrace's
own, turned into the options of the connection's DuckDB secret (the lake itself is tested
against a real S3-compatible server in test_central_lake_s3.py)."""

import duckdb
import pytest

from devtrace.analytics.connection import OFFLINE_CONFIG, extension_file
from devtrace.analytics.object_storage import SECRET_NAME, is_remote, prefix, reach, s3_settings
from devtrace.errors import DevtraceError

KEYS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "never-shown-1234", "AWS_SESSION_TOKEN": "tok-5678"}


def test_a_lake_is_remote_by_its_url_scheme_and_its_scope_is_a_folder():
    assert is_remote("s3://bucket/lake") and is_remote("S3://bucket/lake") and is_remote("gs://b/l")
    assert not is_remote("/srv/devtrace-lake") and not is_remote("lake-data") and not is_remote(None)
    assert prefix("s3://bucket/lake") == prefix("s3://bucket/lake/") == "s3://bucket/lake/"


def test_aws_s3_takes_the_keys_and_region_and_keeps_duckdb_s_defaults():
    settings = s3_settings("s3://bucket/lake", {**KEYS, "AWS_DEFAULT_REGION": "eu-west-1"})
    assert settings == {"SCOPE": "s3://bucket/lake/", "KEY_ID": "AKIAEXAMPLE", "SECRET": "never-shown-1234",
                        "SESSION_TOKEN": "tok-5678", "REGION": "eu-west-1"}
    assert s3_settings("s3://bucket/lake", {"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "eu-west-1"})["REGION"] == "us-east-2"


def test_an_s3_compatible_endpoint_sets_host_tls_and_path_style():
    local = s3_settings("s3://b/l", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"})
    assert (local["ENDPOINT"], local["USE_SSL"], local["URL_STYLE"]) == ("127.0.0.1:9000", False, "path")
    bare = s3_settings("s3://b/l", {"AWS_ENDPOINT_URL": "objects.internal", "DEVTRACE_S3_URL_STYLE": "vhost"})
    assert (bare["ENDPOINT"], bare["USE_SSL"], bare["URL_STYLE"]) == ("objects.internal", True, "vhost")
    first = s3_settings("s3://b/l", {"DEVTRACE_S3_ENDPOINT": "https://a:1", "AWS_ENDPOINT_URL_S3": "https://b:2",
                                     "AWS_ENDPOINT_URL": "https://c:3"})
    assert first["ENDPOINT"] == "a:1"
    assert s3_settings("s3://b/l", {"AWS_ENDPOINT_URL_S3": "https://b:2", "AWS_ENDPOINT_URL": "https://c:3"})["ENDPOINT"] == "b:2"


@pytest.mark.parametrize("environ, says", [
    ({"DEVTRACE_S3_URL_STYLE": "sideways"}, "DEVTRACE_S3_URL_STYLE"),
    ({"AWS_ENDPOINT_URL": "ftp://host"}, "endpoint"),
    ({"AWS_ENDPOINT_URL": "https://host/some/path"}, "endpoint"),
])
def test_a_bad_setting_is_one_sentence_without_the_keys(environ, says):
    with pytest.raises(DevtraceError, match=says) as caught:
        s3_settings("s3://b/l", {**KEYS, **environ})
    assert "never-shown" not in str(caught.value) and "tok-5678" not in str(caught.value)


def test_the_secret_lives_in_the_connection_redacted_and_a_local_lake_loads_nothing(monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with duckdb.connect(config=OFFLINE_CONFIG) as con:
        reach(con, "/srv/devtrace-lake", extension_file("httpfs"))
        assert con.execute("SELECT count(*) FROM duckdb_extensions() WHERE loaded AND extension_name = 'httpfs'").fetchone() == (0,)
        reach(con, "s3://bucket/lake", extension_file("httpfs"))
        name, persistent, scope, shown = con.execute(
            "SELECT name, persistent, scope, secret_string FROM duckdb_secrets()").fetchone()
        assert (name, persistent, scope) == (SECRET_NAME, False, ["s3://bucket/lake/"])
        assert "AKIAEXAMPLE" in shown and "never-shown" not in shown and "tok-5678" not in shown
