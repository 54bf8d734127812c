"""Headless Chromium driven over the Chrome DevTools Protocol, for the notebook and report tests.

Only what the tests need: open a page, evaluate JavaScript (reaching into the shadow roots
marimo renders its elements in), wait for a condition, click, type, take a screenshot, and
list the requests the page made. The protocol runs over a pipe (Chromium's fds 3 and 4), so
a browser started in a network namespace of its own, with no network at all, is driven too.
"""

import base64
import itertools
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import stop_process

# Every element, and all text, of the page: light DOM and open shadow roots alike.
ALL_ELEMENTS_JS = """
function allElements(root = document) {
    const found = [];
    for (const element of root.querySelectorAll('*')) {
        found.push(element);
        if (element.shadowRoot) found.push(...allElements(element.shadowRoot));
    }
    return found;
}
function allText() {
    const parts = [document.body ? document.body.innerText : ''];
    for (const element of allElements()) {
        if (element.shadowRoot) parts.push(element.shadowRoot.textContent);
    }
    return parts.join(String.fromCharCode(10));
}
"""

# Errors marimo shows in `marimo run`: a failed cell's output is hidden and replaced by a toast.
RECORD_TOASTS_JS = """
window.__toasts = [];
new MutationObserver(() => {
    for (const toast of document.querySelectorAll('li[role=status], [data-sonner-toast], .destructive')) {
        const text = toast.innerText.trim();
        if (text && !window.__toasts.includes(text)) window.__toasts.push(text);
    }
}).observe(document, {subtree: true, childList: true});
"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless Chromium process, driven over its pipe; pages are `Browser`s.

    `offline`: Chromium runs in a network namespace of its own (`unshare --net`), where no
    network exists, not even loopback.
    """

    def __init__(self, width: int, height: int, offline: bool):
        namespace = []
        if offline:
            # As root a network namespace needs nothing else; otherwise a user namespace grants it.
            namespace = ["unshare", "--net", *([] if os.geteuid() == 0 else ["--map-root-user"])]
            tried = subprocess.run([*namespace, "true"], capture_output=True, text=True)
            if tried.returncode != 0:
                raise RuntimeError(
                    f"cannot start Chromium without a network: {' '.join(namespace)} failed here"
                    f" ({tried.stderr.strip()}); run the tests as root or with user namespaces enabled"
                )
        self.size = (width, height)
        self._profile = tempfile.mkdtemp(prefix="devtrace-chromium-")
        command = [
            *namespace, chromium_path() or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={self._profile}", "--remote-debugging-pipe",
            f"--window-size={width},{height}", "about:blank",
        ]
        # Chromium reads the protocol from its fd 3 and writes it to its fd 4.
        to_chromium, self._commands = os.pipe()
        self._replies, from_chromium = os.pipe()

        def give_pipes() -> None:  # in the child, before exec (from_chromium, opened later, is never 3)
            for end, fd in ((to_chromium, 3), (from_chromium, 4)):
                if end == fd:
                    os.set_inheritable(fd, True)  # dup2 onto itself would leave it close-on-exec
                else:
                    os.dup2(end, fd)

        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self._log, preexec_fn=give_pipes, close_fds=False,
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self._ids = itertools.count(1)
        self._unread = b""
        self.pages: dict[str, Browser] = {}

    def alive(self) -> bool:
        return self._process.poll() is None

    def call(self, method: str, session: str | None = None, **params) -> dict:
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            message = self._receive(timeout=60)
            page = self.pages.get(message.get("sessionId", ""))
            if page is not None and message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                page.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
            if page is not None and message.get("method") == "Network.requestWillBeSent":
                page.requests.append(message["params"]["request"]["url"])
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def _receive(self, timeout: float) -> dict:
        """The next protocol message: JSON, each ended by a NUL byte."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self._unread:
            ready, _, _ = select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self._replies, 1 << 20) if ready else b""
            if not chunk:
                self._log.seek(0)
                said = self._log.read().decode(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(
                    f"chromium stopped answering ({'' if ready else f'nothing for {timeout}s, '}"
                    f"exit code {self._process.poll()}): {' / '.join(said)}"
                )
            self._unread += chunk
        message, _, self._unread = self._unread.partition(b"\0")
        return json.loads(message)

    def close(self) -> None:
        try:
            os.close(self._commands)
            os.close(self._replies)
        finally:
            stop_process(self._process, grace=10)
            self._log.close()
            shutil.rmtree(self._profile, ignore_errors=True)


_shared: dict[tuple, Chromium] = {}


def close_shared() -> None:
    """End the Chromium processes the session's pages shared (conftest, at the session's end)."""
    while _shared:
        _shared.popitem()[1].close()


# A JavaScript function: the input labeled `label` (the nearest text around it), or undefined.
_INPUT_LABELED = """((label) => {
    const labelOf = (input) => {
        for (let node = input, i = 0; node && i < 6; i++) {
            node = node.parentElement || node.getRootNode().host;
            const text = (node && node.innerText || '').trim();
            if (text) return text;
        }
        return '';
    };
    return allElements().find(e => e.tagName === 'INPUT' && labelOf(e).startsWith(label));
})"""


class Browser:
    """One page, in a browser context of its own (no cookies or storage from another page), of
    a headless Chromium the test session shares (one per window size and network); use as a
    context manager. `offline`: that Chromium has no network at all (see `Chromium`).
    `requests` lists every URL the page asked for, `exceptions` what its scripts threw.
    """

    def __init__(self, width: int = 1280, height: int = 1600, offline: bool = False):
        key = (width, height, offline)
        if key not in _shared or not _shared[key].alive():
            _shared[key] = Chromium(width, height, offline)
        self._chromium = _shared[key]
        self._session: str | None = None
        self.exceptions: list[str] = []
        self.requests: list[str] = []
        self._context = self._chromium.call("Target.createBrowserContext")["browserContextId"]
        try:
            target = self._chromium.call("Target.createTarget", url="about:blank", browserContextId=self._context,
                                         width=width, height=height)["targetId"]
            self._session = self._chromium.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self._chromium.pages[self._session] = self
            self.call("Page.enable")
            self.call("Page.bringToFront")  # focus and selection as in the page a person looks at
            self.call("Runtime.enable")
            self.call("Network.enable")
            self.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_TOASTS_JS)
        except BaseException:
            self.close()
            raise

    def call(self, method: str, **params) -> dict:
        return self._chromium.call(method, session=self._session, **params)

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (awaited if it is a promise), which may use
        `allElements()` and `allText()`."""
        result = self.call(
            "Runtime.evaluate",
            expression=f"{ALL_ELEMENTS_JS}\n{expression}",
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0, interval: float = 0.25):
        """Poll until the expression is truthy; return its value, or fail saying what was last seen."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                text = self.evaluate("allText().slice(0, 3000)")
                raise AssertionError(f"timed out after {timeout}s waiting for {expression!r}; page says:\n{text}")
            time.sleep(interval)

    def toasts(self) -> list[str]:
        return self.evaluate("window.__toasts || []")

    def fill(self, label: str, text: str, timeout: float = 30.0) -> None:
        """Replace the text of the input labeled `label` (the nearest text around it), press
        Enter; waits for the input, which a re-running cell may still be drawing, and types
        again if a redraw replaced the input (and what was typed) meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            self._type_into(label, text, timeout)
            try:
                self.wait_for(f"{_INPUT_LABELED}({json.dumps(label)})?.value === {json.dumps(text)}", timeout=1.0)
                return
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise

    def submit(self, button: str, values: dict[str, str], timeout: float = 60.0) -> None:
        """Fill the inputs (label: text), then click `button` in the same instant the page
        shows each input holding what was typed. A form that a re-running cell redraws puts
        back the values it had, and a click then submits those (a CI run saved 55 as 17):
        what a redraw replaced is typed again before the click."""
        for label, text in values.items():
            self.fill(label, text, timeout)
        holding = " && ".join(f"{_INPUT_LABELED}({json.dumps(label)})?.value === {json.dumps(text)}"
                              for label, text in values.items())
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"""(() => {{
                if (!({holding})) return false;
                const button = allElements().find(e => e.tagName === 'BUTTON' && e.innerText.trim() === {json.dumps(button)});
                if (!button) return false;
                button.click();
                return true;
            }})()"""):
            if time.monotonic() > deadline:
                text = self.evaluate("allText().slice(0, 3000)")
                raise AssertionError(f"timed out after {timeout}s submitting {values!r} with {button!r}; page says:\n{text}")
            for label, text in values.items():
                if self.evaluate(f"{_INPUT_LABELED}({json.dumps(label)})?.value") != text:
                    self.fill(label, text, timeout)
            time.sleep(0.1)

    def _type_into(self, label: str, text: str, timeout: float) -> None:
        self.wait_for(f"""(() => {{
            const input = {_INPUT_LABELED}({json.dumps(label)});
            if (!input) return false;
            input.focus();
            input.select();
            return true;
        }})()""", timeout=timeout)
        self.call("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13)

    def click(self, text: str, timeout: float = 30.0) -> None:
        """Click the button whose text is `text`, once it is on the page."""
        self.wait_for(f"""(() => {{
            const button = allElements().find(e => e.tagName === 'BUTTON' && e.innerText.trim() === {json.dumps(text)});
            if (!button) return false;
            button.click();
            return true;
        }})()""", timeout=timeout)

    def screenshot(self, file: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        file.write_bytes(base64.b64decode(data))
        return file

    def close(self) -> None:
        """Close the page and its browser context; the Chromium stays for the next page."""
        self._chromium.pages.pop(self._session or "", None)
        if self._chromium.alive():
            self._chromium.call("Target.disposeBrowserContext", browserContextId=self._context)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
