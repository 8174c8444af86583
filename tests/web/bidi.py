"""Firefox without geckodriver: Debian's firefox-esr, headless, driven over WebDriver BiDi, the W3C protocol its
built-in remote agent speaks on a websocket (https://w3c.github.io/webdriver-bidi/). Debian ships no geckodriver
and PyPI has none either; the agent needs nothing but the browser.

One browser, one tab. Clicks and keys go through `input.performActions`, as a user's would (events the page sees
as trusted); everything else is a script run in the page.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import websocket  # websocket-client: synchronous, which is all a test that waits on one reply at a time needs

from tests.runtime.conftest import wait_until

# A fresh profile, quiet: only BiDi (no CDP), no first-run or what's-new pages, no default-browser question.
# The agent sets its own recommended preferences on top (no updates, no telemetry, no remote settings polling).
PREFERENCES = {
    "remote.active-protocols": 1,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
}


class BidiError(AssertionError):
    """An error reply to a command, or an exception thrown by a script in the page."""


class Firefox:
    def __init__(self, process: subprocess.Popen, url: str) -> None:
        self.process = process
        # Firefox refuses websocket handshakes that carry an Origin header unless told to allow that origin.
        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.console: List[Dict[str, Any]] = []
        self.command("session.new", capabilities={})
        self.command("session.subscribe", events=["log.entryAdded"])
        self.context = self.command("browsingContext.getTree", maxDepth=0)["contexts"][0]["context"]

    @classmethod
    def start(cls, binary: str, profile: Path, width: int = 1280, height: int = 900) -> Firefox:
        """Start `binary` on a fresh profile in `profile`, with the remote agent on a port of the system's choice."""
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text("".join(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n"
                                                 for name, value in PREFERENCES.items()))
        log = profile / "firefox.log"
        with log.open("wb") as output:
            process = subprocess.Popen([binary, "--headless", "--remote-debugging-port", "0", "--profile", str(profile),
                                        "about:blank"], stdout=output, stderr=subprocess.STDOUT)
        try:
            address = wait_until(lambda: _listening(profile) or process.poll() is not None,
                                 timeout=60, what="Firefox's remote agent to listen")
            if process.poll() is not None:
                raise AssertionError(f"{binary} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            browser = cls(process, f"ws://{address['ws_host']}:{address['ws_port']}/session")
            browser.command("browsingContext.setViewport", context=browser.context,
                            viewport={"width": width, "height": height})
            return browser
        except BaseException:
            process.kill()
            process.wait()
            raise

    def close(self) -> None:
        try:
            self.command("browser.close")
        except (BidiError, websocket.WebSocketException, OSError):
            pass  # it may close the socket before its reply
        self.socket.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def command(self, method: str, **params: Any) -> Dict[str, Any]:
        """Send a command and return its result; the events that arrive meanwhile are kept."""
        command_id = next(self.ids)
        self.socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("type") == "event":
                if message["method"] == "log.entryAdded":
                    self.console.append(message["params"])
            elif message.get("id") == command_id:
                if message["type"] == "error":
                    raise BidiError(f"{method}: {message['error']}: {message['message']}")
                return message["result"]

    # The page

    def open(self, url: str) -> None:
        self.command("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def call(self, function: str, *args: Any) -> Any:
        """The value of the JavaScript `function` (a declaration, as "(a, b) => ...") called in the page with
        `args`, as Python values; elements come back as {"sharedId": ...}, which call() takes back as arguments."""
        reply = self.command("script.callFunction", functionDeclaration=function, awaitPromise=True,
                             target={"context": self.context}, arguments=[_local(arg) for arg in args])
        if reply["type"] == "exception":
            details = reply["exceptionDetails"]
            raise BidiError(f"{details['text']}\n{function}")
        return _python(reply["result"])

    def text(self, css: str) -> str:
        """The rendered text of the first element `css` selects ("" if none)."""
        return self.call("(css) => { const e = document.querySelector(css); return e ? e.innerText : ''; }", css).strip()

    def element(self, css: str) -> Dict[str, str]:
        found = self.call("(css) => document.querySelector(css)", css)
        if found is None:
            raise AssertionError(f"no element matches {css}")
        return found

    def click(self, css: str) -> None:
        """A mouse click in the middle of the element `css` selects, scrolled into view first."""
        target = self.element(css)
        self.scroll_to(css)
        self.command("input.performActions", context=self.context, actions=[{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
                {"type": "pointerMove", "x": 0, "y": 0, "origin": {"type": "element", "element": target}},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}])

    def scroll_to(self, css: str = "") -> None:
        """Scroll the element `css` selects to the middle of the viewport, or the page to its top."""
        # Firefox scrolls the caret of a control just typed into into view a little later: two frames first, or
        # that scroll would undo this one (and a click land elsewhere).
        self.call("async (css) => { const frame = () => new Promise((done) => requestAnimationFrame(done));"
                  " await frame(); await frame(); const e = css && document.querySelector(css);"
                  " e ? e.scrollIntoView({block: 'center'}) : window.scrollTo(0, 0); }", css)

    def type(self, css: str, text: str) -> None:
        """Type `text` key by key into the control `css` selects, after what it holds (as send_keys does)."""
        self.call("(css) => { const e = document.querySelector(css); e.focus();"
                  " if (e.setSelectionRange) e.setSelectionRange(e.value.length, e.value.length); }", css)
        keys = [{"type": kind, "value": key} for key in text for kind in ("keyDown", "keyUp")]
        self.command("input.performActions", context=self.context, actions=[{"type": "key", "id": "keyboard", "actions": keys}])

    def clear(self, css: str) -> None:
        """Empty a text control as a user would, who selects all of it and deletes it."""
        self.call("(css) => document.querySelector(css).select()", css)
        self.command("input.performActions", context=self.context, actions=[{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": "\ue017"}, {"type": "keyUp", "value": "\ue017"}]}])  # Delete

    def screenshot(self, path: Path) -> Path:
        """The viewport as a PNG."""
        path.write_bytes(base64.b64decode(self.command("browsingContext.captureScreenshot", context=self.context)["data"]))
        return path

    def errors(self) -> List[str]:
        """The page's console errors and uncaught exceptions since the last call."""
        self.call("() => null")  # a round trip: what the page logged before it has arrived
        errors = [entry["text"] for entry in self.console if entry["level"] == "error"]
        self.console.clear()
        return errors


def _listening(profile: Path) -> Dict[str, Any] | None:
    """{"ws_host": ..., "ws_port": ...}, which the agent writes into the profile once it listens."""
    try:
        return json.loads((profile / "WebDriverBiDiServer.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _local(value: Any) -> Dict[str, Any]:
    """A Python value as a BiDi LocalValue (an argument of a script)."""
    if isinstance(value, dict) and set(value) == {"sharedId"}:
        return value  # an element, as call() returned it
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, (int, float)):
        return {"type": "number", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, (list, tuple)):
        return {"type": "array", "value": [_local(item) for item in value]}
    if isinstance(value, dict):
        return {"type": "object", "value": [[str(key), _local(item)] for key, item in value.items()]}
    raise TypeError(f"no BiDi value for {value!r}")


def _python(remote: Dict[str, Any]) -> Any:
    """A BiDi RemoteValue (what a script returned) as a Python value."""
    kind = remote["type"]
    if kind in ("undefined", "null"):
        return None
    if kind == "number":
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}.get(remote["value"], remote["value"])
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind in ("array", "set", "nodelist", "htmlcollection"):
        return [_python(item) for item in remote.get("value", [])]
    if kind == "object":
        return {key if isinstance(key, str) else json.dumps(_python(key)): _python(item) for key, item in remote["value"]}
    if kind == "node":
        return {"sharedId": remote["sharedId"]}
    raise TypeError(f"a script returned a {kind}, which these tests do not read: {remote}")
