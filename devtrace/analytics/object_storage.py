"""A lake whose Parquet files are on object storage (`s3://bucket/prefix/`, or any S3-compatible
store): DuckDB's httpfs extension, loaded offline from its pinned package only for such a lake,
and the credentials as a DuckDB secret that lives in the connection and nowhere else.

Credentials come from the standard places, read when a connection opens:
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (or
`AWS_DEFAULT_REGION`), and for an S3-compatible store its endpoint, `DEVTRACE_S3_ENDPOINT`
or `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (`http://host:port` for a store without TLS),
with `DEVTRACE_S3_URL_STYLE` (`path`, the default with an endpoint, or `vhost`). The secret
is scoped to the lake's prefix, is never persistent (DevTrace's connections keep their
persistent secrets in a folder that cannot exist, so none of the user's is picked up either),
and its values appear in no error DevTrace reports: the catalog keeps the data path only.
"""

import os
from urllib.parse import urlsplit

import duckdb

from devtrace.analytics.sql_text import literal
from devtrace.errors import DevtraceError

SECRET_NAME = "devtrace_lake"
REMOTE_SCHEMES = ("s3", "s3a", "s3n", "r2", "gcs", "gs", "http", "https", "hf")
"""The URL schemes DuckDB reaches through httpfs."""
S3_SCHEMES = ("s3", "s3a", "s3n")
URL_STYLES = ("path", "vhost")


WRITE_REFUSED = ("the object store refused to write the lake (HTTP 403 Access Denied): these credentials "
                 "may only read it; flush, maintain, retention and erase need the writers' credentials")


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


def reach(con: duckdb.DuckDBPyConnection, data_path: str, httpfs_extension: str) -> None:
    """Let `con` read and write `data_path` on object storage: load httpfs and create the
    secret from the environment (a local path needs neither)."""
    if not is_remote(data_path):
        return
    try:
        con.execute(f"LOAD {literal(httpfs_extension)}")
    except duckdb.Error:
        raise DevtraceError(f"cannot load DuckDB's httpfs extension from {httpfs_extension}") from None
    if urlsplit(data_path).scheme.lower() not in S3_SCHEMES:
        return
    values = s3_settings(data_path)
    options = ", ".join(f"{key} {literal(value) if isinstance(value, str) else str(value).lower()}"
                        for key, value in values.items())
    try:
        con.execute(f"CREATE OR REPLACE SECRET {SECRET_NAME} (TYPE s3, PROVIDER config, {options})")
    except duckdb.Error:
        # DuckDB's message could quote an option; none is repeated here.
        raise DevtraceError(f"cannot set up the credentials for {prefix(data_path)} from the environment "
                            "(check AWS_REGION, the endpoint and DEVTRACE_S3_URL_STYLE)") from None


def s3_settings(data_path: str, environ=os.environ) -> dict[str, str | bool]:
    """The options of the S3 secret for `data_path`, from the environment."""
    settings: dict[str, str | bool] = {"SCOPE": prefix(data_path)}
    for key, variable in (("KEY_ID", "AWS_ACCESS_KEY_ID"), ("SECRET", "AWS_SECRET_ACCESS_KEY"),
                          ("SESSION_TOKEN", "AWS_SESSION_TOKEN")):
        if environ.get(variable):
            settings[key] = environ[variable]
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region:
        settings["REGION"] = region
    endpoint = environ.get("DEVTRACE_S3_ENDPOINT") or environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
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
    return settings
