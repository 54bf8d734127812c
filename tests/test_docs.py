"""The manual (docs/, mkdocs.yml): the generated pages are current, every command is documented,
and the built site loads nothing from another host."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer

from scripts import docs_reference
from tests.support import CHECKOUT

DOCS = CHECKOUT / "docs"
GENERATED = {docs_reference.CLI_PAGE, docs_reference.VIEWS_PAGE}
REGENERATE = "stale: run `python scripts/docs_reference.py` and commit the page"


def all_commands() -> list[str]:
    """Every command and subcommand of the typer app, walked here rather than by the generator."""
    from devtrace.cli.app import app

    found = []

    def walk(command, words):
        found.append(" ".join(words))
        ctx = command.make_context(words[-1], [], resilient_parsing=True)
        for name in getattr(command, "list_commands", lambda _: [])(ctx):
            walk(command.get_command(ctx, name), [*words, name])

    walk(typer.main.get_command(app), ["devtrace"])
    return found[1:]


def guide_pages() -> list[Path]:
    """The hand-written pages the site is built from."""
    notes = DOCS / "notes"
    return [p for p in sorted(DOCS.rglob("*.md")) if p not in GENERATED and notes not in p.parents]


def test_cli_reference_is_current():
    assert docs_reference.cli_reference() == docs_reference.CLI_PAGE.read_text(encoding="utf-8"), REGENERATE


def test_views_reference_is_current():
    assert docs_reference.views_reference() == docs_reference.VIEWS_PAGE.read_text(encoding="utf-8"), REGENERATE


def test_cli_reference_shows_every_command_and_run_usage():
    page = docs_reference.CLI_PAGE.read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (devtrace.*)$", page, flags=re.M))
    commands = all_commands()
    assert {"devtrace run", "devtrace ml train", "devtrace server token create"} <= set(commands)
    assert [c for c in commands if c not in headings] == []
    # `devtrace run` parses its own options before typer loads: its section is its own usage.
    run_section = page.split("## devtrace run\n", 1)[1].split("\n## ", 1)[0]
    assert "--timeout S" in run_section and "--keep-noop" in run_section


def test_every_command_is_explained_in_a_guide_page():
    text = "\n".join(p.read_text(encoding="utf-8") for p in guide_pages())
    missing = [c for c in all_commands() if not re.search(re.escape(c) + r"(?![\w-])", text)]
    assert missing == [], f"commands no guide page mentions: {missing}"


def test_every_view_is_in_the_views_reference():
    from devtrace import analytics

    page = docs_reference.VIEWS_PAGE.read_text(encoding="utf-8")
    assert [v.name for v in analytics.views() if f"\n## {v.name}\n" not in page] == []


class _Resources(HTMLParser):
    """What a browser fetches on its own when it shows a page (links a reader follows excluded)."""

    FETCHED = {"script": "src", "img": "src", "iframe": "src", "source": "src", "link": "href", "audio": "src", "video": "src"}

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.FETCHED and attrs.get(self.FETCHED[tag]):
            self.urls.append(attrs[self.FETCHED[tag]])
        if attrs.get("style"):
            self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", attrs["style"])


def _elsewhere(url: str) -> bool:
    return bool(re.match(r"^([a-z][a-z0-9+.-]*:)?//", url, flags=re.I)) and not url.startswith("data:")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site as `mkdocs build --strict` makes it (a warning, such as a broken link, fails)."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    folder = tmp_path_factory.mktemp("site")
    build(load_config(str(CHECKOUT / "mkdocs.yml"), site_dir=str(folder), strict=True))
    return folder


def test_site_builds_strict_and_its_files_load_nothing_from_elsewhere(site):
    pages = list(site.rglob("*.html"))
    assert len(pages) >= len(guide_pages())
    assert not (site / "notes").exists()  # helpers' drafts stay out of the site
    fetched = {}
    for page in pages:
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        fetched[page.relative_to(site).as_posix()] = [u for u in parser.urls if _elsewhere(u)]
    for sheet in site.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8")
        urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", text) + re.findall(r"@import\s+['\"]([^'\"]+)", text)
        fetched[sheet.relative_to(site).as_posix()] = [u for u in urls if _elsewhere(u)]
    assert {name: urls for name, urls in fetched.items() if urls} == {}


@pytest.mark.browser
def test_pages_shown_in_chromium_without_a_network_request_only_their_own_files(site):
    """What the theme's scripts fetch once running, which reading the files cannot show."""
    from tests.browser import Browser, chromium_path

    assert chromium_path(), "headless Chromium is needed: bash .ci/install-system"
    with Browser(offline=True) as browser:
        for page in ["index.html", "capture/run.html", "analytics/views.html", "reference/cli.html"]:
            browser.open((site / page).as_uri())
            browser.wait_for("document.readyState === 'complete' && typeof document$ !== 'undefined'", timeout=30)
        requests = browser.requests
    assert len(requests) > 4 and [u for u in requests if not u.startswith((site.as_uri() + "/", "data:"))] == []


@pytest.mark.parametrize("url", ["https://fonts.googleapis.com/css", "//cdn.example/x.js", "HTTP://x"])
def test_a_remote_resource_would_be_caught(url):
    parser = _Resources()
    parser.feed(f'<link rel="stylesheet" href="{url}"><script src="{url}"></script><a href="https://a.example">a</a>')
    assert [u for u in parser.urls if _elsewhere(u)] == [url, url]


README = CHECKOUT / "README.md"
INSTALL_AND_DEMO = 'python3 -m venv .venv && . .venv/bin/activate && pip install -c constraints.txt -e ".[dev]" && devtrace demo'
TEST_COMMAND = "bash .ci/install-system && . .venv/bin/activate && python -m pytest -q"


def test_readme_is_the_front_door_with_the_two_commands_ci_runs():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    lines = text.splitlines()
    assert INSTALL_AND_DEMO in lines and TEST_COMMAND in lines
    assert TEST_COMMAND in (CHECKOUT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    # DevTrace 0.2.0's quickstart, verbatim.
    for command in ["python -m devtrace.cli init --path .devtrace",
                    'python -m devtrace.cli run --agent codex --path .devtrace --repo . -- sh -lc "echo hello"',
                    "python -m devtrace.cli events --path .devtrace",
                    "python -m devtrace.cli export --path .devtrace --format csv --out ./dataset.csv"]:
        assert command in lines


def test_readme_links_reach_files_of_the_checkout():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if not _elsewhere(link)]
    assert len(local) > 20
    assert [link for link in local if not (CHECKOUT / link).is_file()] == []
    # every page of the site is reachable from the front door
    pages = {p.relative_to(CHECKOUT).as_posix() for p in [*guide_pages(), *GENERATED]}
    assert sorted(pages - set(local)) == []
