"""Where a lake on object storage gets its settings: the standard AWS variables and DevTrace's
own, turned into the options of the connection's DuckDB secret (the lake itself is tested
against a real S3-compatible server in test_central_lake_s3.py)."""

import duckdb
import pytest

from devtrace.analytics.connection import OFFLINE_CONFIG, extension_file
from devtrace.analytics.object_storage import SECRET_NAME, is_remote, prefix, reach, secret_settings
from devtrace.errors import DevtraceError

KEYS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "never-shown-1234", "AWS_SESSION_TOKEN": "tok-5678"}


def test_a_lake_is_remote_by_its_url_scheme_and_its_scope_is_a_folder():
    assert is_remote("s3://bucket/lake") and is_remote("S3://bucket/lake") and is_remote("gs://b/l")
    assert not is_remote("/srv/devtrace-lake") and not is_remote("lake-data") and not is_remote(None)
    assert prefix("s3://bucket/lake") == prefix("s3://bucket/lake/") == "s3://bucket/lake/"


def test_aws_s3_takes_the_keys_and_region_and_keeps_duckdb_s_defaults():
    settings = secret_settings("s3://bucket/lake", {**KEYS, "AWS_DEFAULT_REGION": "eu-west-1"})
    assert settings == {"SCOPE": "s3://bucket/lake/", "PROVIDER": "config", "KEY_ID": "AKIAEXAMPLE", "SECRET": "never-shown-1234",
                        "SESSION_TOKEN": "tok-5678", "REGION": "eu-west-1"}
    assert secret_settings("s3://bucket/lake", {"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "eu-west-1"})["REGION"] == "us-east-2"


def test_an_s3_compatible_endpoint_sets_host_tls_and_path_style():
    local = secret_settings("s3://b/l", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"})
    assert (local["ENDPOINT"], local["USE_SSL"], local["URL_STYLE"]) == ("127.0.0.1:9000", False, "path")
    bare = secret_settings("s3://b/l", {"AWS_ENDPOINT_URL": "objects.internal", "DEVTRACE_S3_URL_STYLE": "vhost"})
    assert (bare["ENDPOINT"], bare["USE_SSL"], bare["URL_STYLE"]) == ("objects.internal", True, "vhost")
    first = secret_settings("s3://b/l", {"DEVTRACE_S3_ENDPOINT": "https://a:1", "AWS_ENDPOINT_URL_S3": "https://b:2",
                                     "AWS_ENDPOINT_URL": "https://c:3"})
    assert first["ENDPOINT"] == "a:1"
    assert secret_settings("s3://b/l", {"AWS_ENDPOINT_URL_S3": "https://b:2", "AWS_ENDPOINT_URL": "https://c:3"})["ENDPOINT"] == "b:2"


@pytest.mark.parametrize("environ, says", [
    ({"DEVTRACE_S3_URL_STYLE": "sideways"}, "DEVTRACE_S3_URL_STYLE"),
    ({"AWS_ENDPOINT_URL": "ftp://host"}, "endpoint"),
    ({"AWS_ENDPOINT_URL": "https://host/some/path"}, "endpoint"),
])
def test_a_bad_setting_is_one_sentence_without_the_keys(environ, says):
    with pytest.raises(DevtraceError, match=says) as caught:
        secret_settings("s3://b/l", {**KEYS, **environ})
    assert "never-shown" not in str(caught.value) and "tok-5678" not in str(caught.value)


def test_the_secret_lives_in_the_connection_redacted_and_a_local_lake_loads_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws here
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with duckdb.connect(config=OFFLINE_CONFIG) as con:
        reach(con, "/srv/devtrace-lake", extension_file)
        assert con.execute("SELECT count(*) FROM duckdb_extensions() WHERE loaded AND extension_name = 'httpfs'").fetchone() == (0,)
        reach(con, "s3://bucket/lake", extension_file)
        name, persistent, scope, shown = con.execute(
            "SELECT name, persistent, scope, secret_string FROM duckdb_secrets()").fetchone()
        assert (name, persistent, scope) == (SECRET_NAME, False, ["s3://bucket/lake/"])
        assert "AKIAEXAMPLE" in shown and "never-shown" not in shown and "tok-5678" not in shown


def aws_home(tmp_path, credentials: str, config: str = "") -> dict:
    """A scratch HOME holding ~/.aws/credentials (and ~/.aws/config): its environment."""
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(credentials)
    if config:
        (tmp_path / ".aws" / "config").write_text(config)
    return {"HOME": str(tmp_path)}


PROFILES = """[default]
aws_access_key_id = AKIADEFAULTPROFILE01
aws_secret_access_key = default-never-shown

[lake-reader]
aws_access_key_id = AKIAREADERPROFILE001
aws_secret_access_key = reader-never-shown
"""
CONFIG = """[default]
region = eu-west-1

[profile lake-reader]
region = eu-central-1
endpoint_url = http://127.0.0.1:9000
"""


def test_without_keys_in_the_environment_duckdb_s_chain_reads_the_shared_files_and_devtrace_only_the_endpoint(tmp_path):
    home = aws_home(tmp_path, PROFILES, CONFIG)
    chosen = secret_settings("s3://b/l", {**home, "AWS_PROFILE": "lake-reader"})
    assert chosen == {"SCOPE": "s3://b/l/", "PROVIDER": "credential_chain", "CHAIN": "config", "PROFILE": "lake-reader",
                      "ENDPOINT": "127.0.0.1:9000", "USE_SSL": False, "URL_STYLE": "path"}
    assert secret_settings("s3://b/l", home) == {"SCOPE": "s3://b/l/", "PROVIDER": "credential_chain", "CHAIN": "config"}
    # Keys in the environment win over the files (as for the AWS tools); so does an endpoint.
    keys = secret_settings("s3://b/l", {**home, **KEYS, "AWS_PROFILE": "lake-reader", "AWS_ENDPOINT_URL": "https://x:1"})
    assert (keys["PROVIDER"], keys["KEY_ID"], keys["ENDPOINT"]) == ("config", "AKIAEXAMPLE", "x:1")
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "creds").write_text(PROFILES)
    assert secret_settings("s3://b/l", {"HOME": str(other), "AWS_SHARED_CREDENTIALS_FILE": str(other / "creds")})["PROVIDER"] == "credential_chain"
    assert secret_settings("s3://b/l", {"HOME": str(other)})["PROVIDER"] == "config"  # no files: anonymous


def test_the_chain_s_secret_holds_the_profile_s_key_and_region_redacted(tmp_path, monkeypatch):
    for name, value in aws_home(tmp_path, PROFILES, CONFIG).items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
                 "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "lake-reader")
    with duckdb.connect(config=OFFLINE_CONFIG) as con:
        reach(con, "s3://bucket/lake", extension_file)
        shown = con.execute("SELECT secret_string FROM duckdb_secrets()").fetchone()[0]
    assert "provider=credential_chain" in shown and "key_id=AKIAREADERPROFILE001" in shown
    assert "region=eu-central-1" in shown and "endpoint=127.0.0.1:9000" in shown
    assert "never-shown" not in shown
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with duckdb.connect(config=OFFLINE_CONFIG) as con, pytest.raises(DevtraceError, match="no-such-profile") as caught:
        reach(con, "s3://bucket/lake", extension_file)
    assert "\n" not in str(caught.value) and "never-shown" not in str(caught.value)


@pytest.mark.parametrize("url, secret_type", [("gs://b/l", "gcs"), ("gcs://b/l", "gcs"), ("r2://b/l", "r2")])
def test_gcs_and_r2_take_the_same_keys_and_only_devtrace_s_own_endpoint(url, secret_type, tmp_path, monkeypatch):
    environ = {**KEYS, "HOME": str(tmp_path), "AWS_ENDPOINT_URL": "https://aws-only:1", "DEVTRACE_R2_ACCOUNT_ID": "acct"}
    settings = secret_settings(url, environ)
    assert settings["KEY_ID"] == "AKIAEXAMPLE" and "ENDPOINT" not in settings  # DuckDB's own: GCS's, or the R2 account's
    assert secret_settings(url, {**environ, "DEVTRACE_S3_ENDPOINT": "http://127.0.0.1:9"})["ENDPOINT"] == "127.0.0.1:9"
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with duckdb.connect(config=OFFLINE_CONFIG) as con:
        reach(con, url, extension_file)
        kind, scope = con.execute("SELECT type, scope FROM duckdb_secrets()").fetchone()
    assert (kind, scope) == (secret_type, [url + "/"])


def test_an_r2_lake_needs_its_account_or_an_endpoint(tmp_path):
    with pytest.raises(DevtraceError, match="DEVTRACE_R2_ACCOUNT_ID"):
        secret_settings("r2://b/l", {**KEYS, "HOME": str(tmp_path), "AWS_ENDPOINT_URL": "https://aws-only:1"})



def test_an_unreadable_aws_config_file_is_one_sentence_naming_the_file_not_its_content(tmp_path):
    home = aws_home(tmp_path, PROFILES, "[default\nregion = eu-west-1\naws_secret_access_key = never-shown-9\n")
    with pytest.raises(DevtraceError, match="config") as caught:
        secret_settings("s3://b/l", home)
    assert "never-shown" not in str(caught.value) and "\n" not in str(caught.value)
