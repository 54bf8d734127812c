"""A lake whose Parquet files are on object storage (`s3://bucket/prefix/`, any S3-compatible
store, Cloudflare R2 as `r2://`, Google Cloud Storage with HMAC keys as `gs://`/`gcs://`):
DuckDB's httpfs extension, loaded offline from its pinned package only for such a lake, and the
credentials as a DuckDB secret that lives in the connection and nowhere else.

Credentials come from the standard places, read when a connection opens:
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (for R2 and GCS: the S3 API
token's or HMAC key's pair); without them, the AWS shared files (`~/.aws/credentials` and
`~/.aws/config`, or `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`) through DuckDB's
credential chain (its aws extension, loaded offline likewise), the profile `AWS_PROFILE` or
`default`; DevTrace itself reads no credential from those files, only the profile's
`endpoint_url`. The region: `AWS_REGION` (or `AWS_DEFAULT_REGION`), else the profile's. An
S3-compatible store's endpoint: `DEVTRACE_S3_ENDPOINT`, else for s3:// `AWS_ENDPOINT_URL_S3`,
`AWS_ENDPOINT_URL` or the profile's `endpoint_url` (`http://host:port` for a store without
TLS), with `DEVTRACE_S3_URL_STYLE` (`path`, the default with an endpoint, or `vhost`); R2's
account: `DEVTRACE_R2_ACCOUNT_ID`. The secret is scoped to the lake's prefix, is never
persistent (DevTrace's connections keep their persistent secrets in a folder that cannot exist,
so none of the user's is picked up either), and its values appear in no error DevTrace
reports: the catalog keeps the data path only.
"""

import configparser
import os
from collections.abc import Callable
from urllib.parse import urlsplit

import duckdb

from devtrace.analytics.sql_text import literal
from devtrace.errors import DevtraceError

SECRET_NAME = "devtrace_lake"
REMOTE_SCHEMES = ("s3", "s3a", "s3n", "r2", "gcs", "gs", "http", "https", "hf")
"""The URL schemes DuckDB reaches through httpfs."""
SECRET_TYPES = {"s3": "s3", "s3a": "s3", "s3n": "s3", "r2": "r2", "gs": "gcs", "gcs": "gcs"}
"""The schemes that take credentials, and the type of DuckDB secret each takes."""
URL_STYLES = ("path", "vhost")


WRITE_REFUSED = ("the object store refused the lake's writer (HTTP 403 Access Denied): flush, maintain, retention "
                 "and erase need the writers' credentials (read, write, delete and list under the lake's prefix), "
                 "not the readers'")


def refused_write(exc: duckdb.Error) -> str | None:
    """The sentence a lake writer says when the store refused it (the readers' credentials,
    say), instead of DuckDB's message; None for any other error."""
    text = str(exc)
    return WRITE_REFUSED if "HTTP code 403" in text or "HTTP 403" in text or "AccessDenied" in text else None


def is_remote(data_path: str | None) -> bool:
    return bool(data_path) and urlsplit(data_path).scheme.lower() in REMOTE_SCHEMES


def prefix(data_path: str) -> str:
    """The lake's data path as a folder prefix (`s3://bucket/lake/`), the secret's scope, so
    that `s3://bucket/lake2/` is not inside it."""
    return data_path if data_path.endswith("/") else data_path + "/"


def reach(con: duckdb.DuckDBPyConnection, data_path: str, extension_file: Callable[[str], str]) -> None:
    """Let `con` read and write `data_path` on object storage: load httpfs (and aws, for the
    credential chain) and create the secret from the environment (a local path needs none).
    `extension_file(name)` finds a DuckDB extension's file."""
    if not is_remote(data_path):
        return
    secret_type = SECRET_TYPES.get(urlsplit(data_path).scheme.lower())
    settings = secret_settings(data_path) if secret_type else {}
    for name in ("httpfs", "aws") if settings.get("PROVIDER") == "credential_chain" else ("httpfs",):
        file = extension_file(name)
        try:
            con.execute(f"LOAD {literal(file)}")
        except duckdb.Error:
            raise DevtraceError(f"cannot load DuckDB's {name} extension from {file}") from None
    if not secret_type:
        return
    options = ", ".join(f"{key} {literal(value) if isinstance(value, str) else str(value).lower()}"
                        for key, value in settings.items())
    try:
        con.execute(f"CREATE OR REPLACE SECRET {SECRET_NAME} (TYPE {secret_type}, {options})")
    except duckdb.Error:
        # DuckDB's message could quote an option; none is repeated here.
        where = (f"the AWS profile {settings['PROFILE']!r}" if "PROFILE" in settings
                 else "the AWS shared credentials file" if settings["PROVIDER"] == "credential_chain"
                 else "the environment")
        raise DevtraceError(f"cannot set up the credentials for {prefix(data_path)} from {where} "
                            "(check the keys, AWS_REGION, the endpoint and DEVTRACE_S3_URL_STYLE)") from None


def secret_settings(data_path: str, environ=os.environ) -> dict[str, str | bool]:
    """The options of the secret for `data_path` (s3://, r2://, gs://), from the environment
    and the AWS shared files."""
    scheme = urlsplit(data_path).scheme.lower()
    settings: dict[str, str | bool] = {"SCOPE": prefix(data_path)}
    profile = environ.get("AWS_PROFILE", "").strip()
    if environ.get("AWS_ACCESS_KEY_ID") or not (profile or os.path.isfile(credentials_file(environ))):
        settings["PROVIDER"] = "config"  # the keys from the environment, or none (anonymous)
        for key, variable in (("KEY_ID", "AWS_ACCESS_KEY_ID"), ("SECRET", "AWS_SECRET_ACCESS_KEY"),
                              ("SESSION_TOKEN", "AWS_SESSION_TOKEN")):
            if environ.get(variable):
                settings[key] = environ[variable]
    else:  # DuckDB reads the keys from the shared files itself
        settings.update({"PROVIDER": "credential_chain", "CHAIN": "config"})
        if profile:
            settings["PROFILE"] = profile
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region:
        settings["REGION"] = region
    endpoint = environ.get("DEVTRACE_S3_ENDPOINT")
    if not endpoint and SECRET_TYPES[scheme] == "s3":
        endpoint = (environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
                    or profile_endpoint(profile or "default", environ))
    style = environ.get("DEVTRACE_S3_URL_STYLE", "").strip().lower()
    if style and style not in URL_STYLES:
        raise DevtraceError(f"DEVTRACE_S3_URL_STYLE is {style!r}: it is path or vhost")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            raise DevtraceError("the S3 endpoint is an http:// or https:// URL with a host (and port), and no path")
        settings["ENDPOINT"] = parts.netloc
        settings["USE_SSL"] = parts.scheme == "https"
        style = style or "path"
    if style:
        settings["URL_STYLE"] = style
    if scheme == "r2":
        account = environ.get("DEVTRACE_R2_ACCOUNT_ID", "").strip()
        if account:
            settings["ACCOUNT_ID"] = account
        elif not endpoint:
            raise DevtraceError("an r2:// lake needs DEVTRACE_R2_ACCOUNT_ID (the Cloudflare account's id) "
                                "or DEVTRACE_S3_ENDPOINT")
    return settings


def credentials_file(environ=os.environ) -> str:
    return environ.get("AWS_SHARED_CREDENTIALS_FILE") or _in_home(environ, "credentials")


def _in_home(environ, name: str) -> str:
    return os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".aws", name)


def profile_endpoint(profile: str, environ=os.environ) -> str | None:
    """The profile's `endpoint_url` in the AWS config file (the only value DevTrace reads
    there: DuckDB's credential chain reads no endpoint)."""
    file = environ.get("AWS_CONFIG_FILE") or _in_home(environ, "config")
    if not os.path.isfile(file):
        return None
    parser = configparser.RawConfigParser(default_section="devtrace-no-defaults", interpolation=None)
    try:
        parser.read(file, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        raise DevtraceError(f"{file} is not an AWS config file DevTrace can read") from None
    section = "default" if profile == "default" else f"profile {profile}"
    return parser.get(section, "endpoint_url", fallback=None) or None
