"""Plain `--help` that reads well at any width: usage lines in click's convention
(`EVENT_ID VALUE`, not typer's `{event_id} {value}`), and each command's summary in full,
wrapped, instead of cut with "…" at the terminal's width."""

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup
from typer.models import DefaultPlaceholder


class ReadableCommand(TyperCommand):
    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            for piece in param.get_usage_pieces(ctx):
                piece = piece.replace("{", "").replace("}", "")
                pieces.append(piece.upper() if isinstance(param, TyperArgument) else piece)
        return pieces


class ReadableGroup(TyperGroup):
    def collect_usage_pieces(self, ctx) -> list[str]:
        return [piece.replace("{", "").replace("}", "") for piece in super().collect_usage_pieces(ctx)]

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def summary(command) -> str:
    """The command's short help, or the first sentence of its help, whole."""
    if command.short_help:
        return command.short_help
    paragraph = " ".join((command.help or "").strip().split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[:end + 1]


def make_readable(app: typer.Typer) -> None:
    """Give every command and group of `app` (registered so far) the readable help."""
    if _default(app.info.cls, TyperGroup):
        app.info.cls = ReadableGroup
    for info in app.registered_commands:
        if _default(info.cls, TyperCommand):
            info.cls = ReadableCommand
    for group in app.registered_groups:
        if _default(group.cls, TyperGroup):
            group.cls = ReadableGroup
        make_readable(group.typer_instance)


def _default(cls, default) -> bool:
    """Whether a command or group class was left as typer's default."""
    return cls is None or cls is default or isinstance(cls, DefaultPlaceholder)
