"""What a read command loads: `devtrace events` builds the typer app with its own module only,
and loads neither Polars nor XGBoost; the table of which module registers which command is
whole, so `--help` and every command still reach the same app."""

import importlib
import subprocess
import sys

import typer

import devtrace.cli.app as cli_app
from tests.support import devtrace, devtrace_env


def _names(app: typer.Typer) -> list[str]:
    return [c.name or c.callback.__name__ for c in app.registered_commands] + \
           [g.name or g.typer_instance.info.name for g in app.registered_groups]


def test_each_command_is_registered_by_the_module_the_table_names():
    for module in cli_app.MODULES:
        app = typer.Typer()
        importlib.import_module(f"devtrace.cli.{module}").register(app)
        for name in _names(app):
            assert cli_app.COMMANDS.get(name) == module, f"{name} is registered by devtrace.cli.{module}"
    assert sorted(_names(cli_app.build())) == sorted(["run", *cli_app.COMMANDS])


def test_a_command_line_builds_its_own_module_and_help_builds_all():
    assert cli_app.modules_for(["events", "--limit", "5"]) == ("core",)
    assert cli_app.modules_for(["key", "rotate"]) == ("store",)
    for args in ([], ["--help"], ["-h"], ["no-such-command"]):
        assert cli_app.modules_for(args) == cli_app.MODULES


def test_devtrace_events_loads_only_what_it_needs(tmp_path):
    store = tmp_path / "store"
    assert devtrace("init", "--path", str(store), cwd=tmp_path).returncode == 0
    probe = ("import sys\n"
             "from devtrace.cli.app import main\n"
             f"sys.argv = ['devtrace', 'events', '--limit', '5', '--path', {str(store)!r}]\n"
             "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
             "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('devtrace', 'polars', 'xgboost', 'pyarrow'))),"
             " file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=devtrace_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stderr.split())
    assert "devtrace.cli.core" in loaded and "devtrace.analytics.connection" in loaded
    cli_modules = {m for m in loaded if m.startswith("devtrace.cli.") and m.count(".") == 2}
    assert cli_modules <= {"devtrace.cli.app", "devtrace.cli.core", "devtrace.cli.help", "devtrace.cli.options",
                           "devtrace.cli.render"}, cli_modules
    assert not loaded & {"polars", "xgboost", "pyarrow", "devtrace.ml.features"}, loaded


def test_help_still_lists_every_command(tmp_path):
    done = devtrace("--help", cwd=tmp_path)
    assert done.returncode == 0
    for name in cli_app.COMMANDS:
        assert f"\n  {name} " in done.stdout.decode(), name
