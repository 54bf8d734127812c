"""Headless Chromium driven over the Chrome DevTools Protocol, for the notebook tests.

Only what the tests need: open a page, evaluate JavaScript (reaching into the shadow roots
marimo renders its elements in), wait for a condition, click, type, take a screenshot.
"""

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

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


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 1600):
        self._profile = tempfile.mkdtemp(prefix="devtrace-chromium-")
        self._process = subprocess.Popen(
            [
                chromium_path() or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", f"--user-data-dir={self._profile}", "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self._ids = itertools.count(1)
        self.exceptions: list[str] = []
        self._stack = contextlib.ExitStack()
        self._socket = self._stack.enter_context(connect(self._page_socket(), max_size=None, open_timeout=30))
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_TOASTS_JS)

    def _page_socket(self) -> str:
        """Chromium writes its DevTools port to <profile>/DevToolsActivePort once it listens."""
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit code {self._process.poll()})")
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")

    def call(self, method: str, **params) -> dict:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                self.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

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
        Enter; waits for the input, which a re-running cell may still be drawing."""
        self.wait_for(f"""(() => {{
            const labelOf = (input) => {{
                for (let node = input, i = 0; node && i < 6; i++) {{
                    node = node.parentElement || node.getRootNode().host;
                    const text = (node && node.innerText || '').trim();
                    if (text) return text;
                }}
                return '';
            }};
            const input = allElements().find(e => e.tagName === 'INPUT' && labelOf(e).startsWith({json.dumps(label)}));
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
        try:
            self._stack.close()
        finally:
            stop_process(self._process, grace=10)
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
