"""Long work shown on stderr, one way for every command: progress bars and a spinner, drawn
only when stderr is a terminal (nothing in a pipe or a log)."""

from contextlib import contextmanager


@contextmanager
def progress_bars():
    """Yields `report(name, done, total)`: one bar per name, made on its first report."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        tasks = {}

        def report(name: str, done: int, total: int | None = None) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)

        yield report


@contextmanager
def progress_bar(text: str, total: int | None = None):
    """One bar; yields `advance(done)`."""
    with progress_bars() as report:
        report(text, 0, total)
        yield lambda done: report(text, done, total)


@contextmanager
def spinner(text: str):
    """A spinner while `text` is being done."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield
        return
    with console.status(text):
        yield
