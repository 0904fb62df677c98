"""A small synchronous Chrome DevTools Protocol driver for headless Chromium (no browser-automation package).

It starts Chromium with a private profile, opens one page, records every request the page and its workers
make (MapLibre fetches vector tiles from a web worker), evaluates JavaScript (awaiting promises), waits for
conditions evaluated inside the page, and sends real mouse clicks.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Reports every Content-Security-Policy violation of a document to the console, where the driver hears it
# (a script added over DevTools runs whatever the page's policy says).
CSP_LISTENER = (
    "document.addEventListener('securitypolicyviolation', e => console.error("
    "`securitypolicyviolation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`"
    " + ` in ${e.sourceFile}`));"
)
# Everything but the test server fails to resolve: a test run never reaches the internet, and any attempt
# still shows up in the recorded requests.
OFFLINE_RULES = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


class BrowserError(AssertionError):
    """A DevTools command failed, or a page condition did not become true in time."""


@dataclass
class Page:
    """One tab of a headless Chromium, driven over the DevTools protocol."""

    width: int = 1280
    height: int = 800
    requests: list[str] = field(default_factory=list)  # every URL the page or its workers asked for
    console_errors: list[str] = field(default_factory=list)
    # Content-Security-Policy violations (console messages, security events): a page leaving any fails.
    csp_violations: list[str] = field(default_factory=list)

    def __enter__(self) -> Page:
        assert CHROMIUM, "chromium is required (.ci/install-system-deps installs it)"
        self._root = Path(tempfile.mkdtemp(prefix="duogui-chromium-"))
        self._log = (self._root / "stderr.log").open("w+")
        self._proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--use-angle=swiftshader",  # WebGL for MapLibre without a GPU
                "--enable-unsafe-swiftshader",
                f"--host-resolver-rules={OFFLINE_RULES}",
                f"--window-size={self.width},{self.height}",
                f"--user-data-dir={self._root / 'profile'}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,  # a file, not a pipe: a full pipe would stall the browser
        )
        self._stack = ExitStack()
        try:
            self._set_up()
        except BaseException:
            self._close()
            raise
        return self

    def _set_up(self) -> None:
        self._ws = self._stack.enter_context(connect(self._devtools_url(), max_size=None, open_timeout=30))
        self._next_id = self._posted = 0
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Runtime.enable", "Network.enable", "Log.enable"):
            self.send(method, session=self.session)
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_LISTENER}, session=self.session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
            session=self.session,
        )
        # Workers (MapLibre's tile loaders) are attached paused, so their first request is seen too.
        self.send(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
            session=self.session,
        )

    def __exit__(self, *exc: object) -> None:
        clean = exc[:1] in ((), (None,))
        try:
            if clean and hasattr(self, "_ws"):
                self.js("new Promise(resolve => setTimeout(resolve, 100))")  # hear the last reports
        except Exception:
            pass  # the page is gone: nothing more to hear
        finally:
            self._close()
        if clean and self.csp_violations:
            raise BrowserError(f"Content-Security-Policy violations: {self.csp_violations}")

    def _close(self) -> None:
        try:
            if not hasattr(self, "_ws"):
                raise BrowserError("no DevTools connection")
            self._post("Browser.close", {}, None)  # a clean exit, so that its profile can be removed
            self._stack.close()
            self._proc.wait(timeout=30)
        except Exception:
            self._proc.kill()
            self._proc.wait(timeout=30)
        finally:
            self._log.close()
            shutil.rmtree(self._root, ignore_errors=True)

    def _devtools_url(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self._proc.poll() is None:
            m = re.search(r"DevTools listening on (ws://\S+)", (self._root / "stderr.log").read_text())
            if m:
                return m.group(1)
            time.sleep(0.05)  # the browser writes the line once it listens; nothing to wait on but the file
        raise BrowserError("Chromium did not start its DevTools endpoint")

    # --- protocol -------------------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        """Send a command and return its result, handling the events that arrive meanwhile."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        while True:
            answer = json.loads(self._ws.recv(timeout=60))
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self._event(answer)

    def _post(self, method: str, params: dict[str, Any], session: str | None) -> None:
        """Send a command without waiting for its answer (from inside event handling)."""
        self._posted += 1  # ids apart from those of awaited commands; their answers are skipped
        message: dict[str, Any] = {"id": -self._posted, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))

    def _event(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Page.loadEventFired":
            self._loaded = True
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Target.attachedToTarget" and params["targetInfo"]["type"] != "page":
            child = params["sessionId"]
            self._post("Network.enable", {}, child)
            self._post("Log.enable", {}, child)
            self._post("Runtime.runIfWaitingForDebugger", {}, child)
        elif method == "Runtime.exceptionThrown":
            self.console_errors.append(json.dumps(params["exceptionDetails"])[:2000])
        elif method == "Log.entryAdded" and "Content Security Policy" in params["entry"].get("text", ""):
            self.csp_violations.append(params["entry"]["text"][:500])
        elif method == "Runtime.consoleAPICalled":
            said = " ".join(str(a.get("value", "")) for a in params.get("args", []))
            if said.startswith("securitypolicyviolation"):
                self.csp_violations.append(said[:500])

    # --- page actions ---------------------------------------------------------------------------------

    def goto(self, url: str, timeout_s: float = 60) -> None:
        """Open a URL and wait for its load event."""
        self._loaded = False
        self.send("Page.navigate", {"url": url}, session=self.session)
        deadline = time.monotonic() + timeout_s
        while not self._loaded:
            if time.monotonic() > deadline:
                raise BrowserError(f"{url} did not load in {timeout_s} s")
            self._event(json.loads(self._ws.recv(timeout=timeout_s)))

    def js(self, expression: str) -> Any:
        """Evaluate an expression in the page (awaiting a promise) and return its JSON value."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=self.session,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:200]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout_s: float = 30) -> Any:
        """Poll a JavaScript condition in the page until it is truthy; return its value (true for a node)."""
        value = self.js(
            f"""new Promise(resolve => {{
                const deadline = Date.now() + {int(timeout_s * 1000)};
                const poll = () => {{
                    let value = null;
                    try {{ value = ({condition}); }} catch (e) {{ value = null; }}
                    if (value instanceof Node) value = true;
                    if (value || Date.now() > deadline) resolve(value || null); else setTimeout(poll, 50);
                }};
                poll();
            }})"""
        )
        if value is None:
            raise BrowserError(f"timed out after {timeout_s} s waiting for: {condition}")
        return value

    def wait_until(self, predicate: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
        """Wait for a Python condition on what the driver records (requests), collecting events meanwhile."""
        deadline = time.monotonic() + timeout_s
        while not (value := predicate()):
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout_s} s waiting for {what}")
            self.js("new Promise(resolve => setTimeout(resolve, 100))")  # events arrive while this runs
        return value

    def click_at(self, x: float, y: float) -> None:
        """A real left click at page coordinates (press and release)."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
                session=self.session,
            )

    def hover_at(self, x: float, y: float) -> None:
        """A real mouse move to page coordinates (what opens a map's tooltip)."""
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y}, session=self.session)

    def set_files(self, selector: str, *paths: str) -> None:
        """Choose files in a file input, as the file dialog would."""
        expression = f"document.querySelector({json.dumps(selector)})"
        node = self.send("Runtime.evaluate", {"expression": expression}, session=self.session)["result"]
        self.send(
            "DOM.setFileInputFiles",
            {"files": list(paths), "objectId": node["objectId"]},
            session=self.session,
        )

    def screenshot(self, path: str) -> None:
        """Save a PNG of the viewport."""
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=self.session)["data"]
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))
