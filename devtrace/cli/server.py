"""`devtrace server`: run the central service, and manage its tokens and models."""

import getpass
import inspect
import json
import socket
import time
from collections.abc import Callable
from typing import Annotated, Optional

import typer

from devtrace.cli import server_lake
from devtrace.cli.options import GIVEN_TO_GROUP, DbOption, JsonOption, from_group, open_db
from devtrace.errors import DevtraceError
from devtrace.readable import MISSING, local_time
from devtrace.readable import value as readable_value

server_app = typer.Typer(help="The central service: ingestion, tokens, approved models.", no_args_is_help=False,
                         invoke_without_command=True)
token_app = typer.Typer(help="Bearer tokens (stored hashed).", no_args_is_help=True)
models_app = typer.Typer(help="Central model versions and approvals.", no_args_is_help=True)
server_app.add_typer(token_app, name="token")
server_app.add_typer(models_app, name="models")
policy_app = typer.Typer(help="What the organisation requires of its machines (command text).", no_args_is_help=True)
server_app.add_typer(policy_app, name="policy")


def register(app: typer.Typer) -> None:
    server_lake.register(server_app)
    app.add_typer(server_app, name="server")


HostOption = Annotated[str, typer.Option("--host", help="Address to bind (loopback unless told).")]
PortOption = Annotated[int, typer.Option("--port", min=0, max=65535)]
MaxAgeOption = Annotated[float, typer.Option("--max-age-days", min=1, help="Refuse events older than this.")]
MaxBodyOption = Annotated[float, typer.Option("--max-body-mb", min=0.01, help="Largest request body accepted.")]
BodyTimeoutOption = Annotated[float, typer.Option("--body-timeout", min=0.1, help="Seconds a request body may stall (408).")]
HeaderTimeoutOption = Annotated[float, typer.Option(
    "--header-timeout", min=0.1, help="Seconds a request's line and headers may take to arrive (408).")]
FlushEveryOption = Annotated[float, typer.Option("--flush-every", min=0, help="Seconds between lake flushes (0: none).")]
LakeDataOption = Annotated[Optional[str], typer.Option("--lake-data", help="The lake's data folder, when the flush creates it.")]


def _serve_options(
    db: DbOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8765,
    max_age_days: MaxAgeOption = 365,
    max_body_mb: MaxBodyOption = 8,
    body_timeout: BodyTimeoutOption = 30,
    header_timeout: HeaderTimeoutOption = 10,
    flush_every: FlushEveryOption = 300,
    lake_data: LakeDataOption = None,
) -> None:
    """The options of `devtrace server serve`, declared once: the group takes them too, so that
    the bare `devtrace server [OPTIONS]` is `devtrace server serve [OPTIONS]`."""


ServeOptions = set(inspect.signature(_serve_options).parameters) - {"db"}


def with_serve_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command(ctx, **options)` declared to typer with the context and _serve_options' options."""
    context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    options = inspect.signature(_serve_options, eval_str=True).parameters.values()
    command.__signature__ = inspect.Signature([context, *options])  # type: ignore[attr-defined]  # typer reads it
    command.__annotations__ = {"ctx": typer.Context, **{o.name: o.annotation for o in options}}
    return command


@server_app.callback()
@with_serve_options
def group(ctx: typer.Context, **options) -> None:
    """The central service. `devtrace server [OPTIONS]` alone is `devtrace server serve [OPTIONS]`;
    --db given here reaches every subcommand."""
    GIVEN_TO_GROUP["db"] = options["db"]
    if ctx.invoked_subcommand is None:
        run_server(**options)
        return
    given = [name for name in ServeOptions if _given(ctx, name)]
    if given and ctx.invoked_subcommand != "serve":
        option = "--" + sorted(given)[0].replace("_", "-")
        raise DevtraceError(f"{option} is an option of `devtrace server serve`, not of `devtrace server {ctx.invoked_subcommand}`")
    GIVEN_TO_GROUP["serve"] = {name: ctx.params[name] for name in given}


def _given(ctx, name: str) -> bool:
    """Whether the option was typed (or came from its environment variable), not defaulted."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


@server_app.command("serve")
@with_serve_options
def serve(ctx: typer.Context, **options) -> None:
    """Run the central service (FastAPI + uvicorn) over a SQLite file or PostgreSQL."""
    inherited = {name: value for name, value in GIVEN_TO_GROUP.get("serve", {}).items() if not _given(ctx, name)}
    run_server(**{**options, "db": from_group("db", options["db"]), **inherited})


def run_server(*, db: str | None, host: str, port: int, max_age_days: float, max_body_mb: float,
               body_timeout: float, header_timeout: float, flush_every: float, lake_data: str | None) -> None:
    try:
        import uvicorn

        from devtrace.central.server import create_app
    except ImportError:
        raise DevtraceError("the server needs its extra: pip install 'devtrace[server]'") from None
    from devtrace.central.db import describe

    central = open_db(db)
    app = create_app(central, max_age_days=max_age_days, max_body=int(max_body_mb * 1024 * 1024), body_timeout=body_timeout)
    try:
        listener = socket.create_server((host, port))
    except OSError as exc:
        raise DevtraceError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = listener.getsockname()[1]
    typer.echo(f"DevTrace server on http://{host}:{bound} · database {describe(central.url)}", err=True)
    config = uvicorn_config(app, header_timeout=header_timeout)
    if flush_every > 0:
        from devtrace.central.lake import flush_timer

        flush_timer.start(central.url, every=flush_every, data_path=lake_data)
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        central.close()


def uvicorn_config(app, header_timeout: float | None = None, **settings):
    """How the service is served: idle keep-alive connections close after 5 s; a request's
    headers may not exceed 64 KiB and must arrive within header_timeout (default 10 s)."""
    import uvicorn

    from devtrace.central.header_timeout import with_header_timeout

    http = with_header_timeout() if header_timeout is None else with_header_timeout(header_timeout)
    return uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5,
                          timeout_keep_alive=5, h11_max_incomplete_event_size=64 * 1024, http=http, **settings)


@policy_app.command("set")
def policy_set(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The setting: command_text.")],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="command_text: redacted or off.")],
    db: DbOption = None,
) -> None:
    """Require a setting of every enrolled machine (e.g. command_text off: they purge their text)."""
    from devtrace.central import policy

    central = open_db(db)
    try:
        policy.set_policy(central, name, value)
    finally:
        central.close()
    typer.echo(f"{name} = {value} for every machine: each obeys at its next devtrace sync (or sync login).")


@policy_app.command("show")
def policy_show(db: DbOption = None) -> None:
    """The organisation's policy, each setting with its value."""
    from devtrace.central import policy

    central = open_db(db)
    try:
        with central.transaction(write=False) as tx:
            found = policy.current(tx)
    finally:
        central.close()
    for name, value in found.items():
        typer.echo(f"{name} = {value}")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="The machine or person (events are attributed to it).")],
    scope: Annotated[str, typer.Option("--scope", help="ingest, read or admin.")] = "ingest",
    expires: Annotated[Optional[str], typer.Option("--expires", help="Lifetime, e.g. 90d, 12h, 2w.")] = None,
    db: DbOption = None,
) -> None:
    """Create a token and print it once (only its hash is kept)."""
    from devtrace.central import tokens

    lifetime = tokens.parse_duration(expires) if expires else None
    central = open_db(db)
    try:
        token = tokens.create(central, name, scope, lifetime)
    finally:
        central.close()
    typer.echo(token)
    typer.echo(f"Token for {name} ({scope}{', expires in ' + expires if expires else ''}); it is shown only now.",
               err=True)


@token_app.command("list")
def token_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every token: name, scope, created, expiry, revocation (never the token itself)."""
    from devtrace.central import tokens

    _listing(db, as_json, tokens.listing, _token_rows,
             "no tokens yet (devtrace server token create --name NAME --scope ingest)")


def _token_rows(found: list[dict]) -> list[dict]:
    now = time.time()
    rows = []
    for t in found:
        state = ("revoked" if t["revoked_at"] else
                 "expired" if t["expires_at"] and t["expires_at"] <= now else "live")
        rows.append({"name": t["name"], "scope": t["scope"], "state": state, "created": _when(t["created_at"]),
                     "expires": _when(t["expires_at"]) if t["expires_at"] else "never"})
    return rows


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")], db: DbOption = None) -> None:
    """Revoke a token: its next request is refused."""
    from devtrace.central import tokens

    central = open_db(db)
    try:
        tokens.revoke(central, name)
    finally:
        central.close()
    typer.echo(f"Revoked the token {name}.")


@models_app.command("list")
def models_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every published version: validation metrics, who published and approved it, when."""
    from devtrace.central import models

    _listing(db, as_json, models.listing, _model_rows, "no model published yet (devtrace ml publish VERSION)")


def _model_rows(found: list[dict]) -> list[dict]:
    rows = []
    for m in found:
        validation = m["metrics"].get("validation", {}) if isinstance(m["metrics"], dict) else {}
        approvals = ", ".join(f"{a['approved_by']} {_when(a['approved_at'])}" for a in m["approvals"]) or MISSING
        rows.append({"version": m["version"], "active": "*" if m["active"] else "", "mae": _num(validation.get("mae")),
                     "r2": _num(validation.get("r2")), "published": f"{m['published_by']} {_when(m['published_at'])}",
                     "approved": approvals})
    return rows


@models_app.command("approve")
def models_approve(
    version: Annotated[str, typer.Argument(help="The version to make the organisation's active model.")],
    by: Annotated[Optional[str], typer.Option("--by", help="Who approves (default: the current user).")] = None,
    db: DbOption = None,
) -> None:
    """Make a version the organisation's active model (approving an older one rolls back)."""
    from devtrace.central import models

    approver = by or f"{getpass.getuser()}@{socket.gethostname()}"
    central = open_db(db)
    try:
        active = models.approve(central, version, approver)
    finally:
        central.close()
    typer.echo(f"{active['version']} is the organisation's active model (sha256 {active['sha256'][:12]}…), "
               f"approved by {approver}.")


def _listing(db: str | None, as_json: bool, listing: Callable[..., list[dict]],
             to_rows: Callable[[list[dict]], list[dict]], empty: str) -> None:
    """Print what `listing(central)` finds: as JSON, or as a table of `to_rows(found)` (`empty` if none)."""
    central = open_db(db)
    try:
        found = listing(central)
    finally:
        central.close()
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    _table(to_rows(found), empty)


def _when(at: float | None) -> str:
    return local_time(at, seconds=False) if at else MISSING


def _num(value) -> str:
    return readable_value(value, 3) if isinstance(value, (int, float)) else MISSING


def _table(rows: list[dict], empty: str) -> None:
    if not rows:
        typer.echo(empty)
        return
    from devtrace.cli.render import print_table

    columns = list(rows[0])
    print_table(columns, ["VARCHAR"] * len(columns), [tuple(row.values()) for row in rows])
