"""Real browsers for the web pages: Debian's Chromium, driven by Selenium through Debian's chromedriver, and
Debian's Firefox ESR, driven over WebDriver BiDi (bidi.py; scripts/setup.sh installs all three). One browser of
each for the whole session; each test loads its page afresh.

Screenshots of each page go to $COG_TEST_ARTIFACTS/browser (default: a pytest temporary directory); the ones in
docs/images/ were taken by these tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest
import uvicorn

from tests.runtime.conftest import InProcessServer, wait_until
from tests.web.bidi import Firefox
from cog.server.runner import Settings

FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = "chromedriver"
FIREFOX = ("firefox-esr", "firefox")


def _missing(what: str) -> None:
    message = f"{what} (scripts/setup.sh installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class Browser:
    """The Selenium driver, with the waits and checks every page test needs."""

    def __init__(self, driver: Any, artifacts: Path) -> None:
        self.driver = driver
        self.artifacts = artifacts

    def open(self, url: str) -> None:
        self.driver.get(url)
        self.driver.execute_script("window.__pwned = undefined")

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> List[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def until(self, condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        """Wait for `condition()` to be true; on timeout, fail with `what` and save a screenshot."""
        try:
            return wait_until(condition, timeout=timeout, what=what)
        except AssertionError as exc:
            shot = self.screenshot(f"failed-{what[:40].replace(' ', '-')}")
            page = self.js("return document.querySelector('main') && document.querySelector('main').innerText")
            raise AssertionError(f"{exc}; the page ({shot}):\n{str(page)[:2000]}\nconsole: {self.errors()}") from None

    def text(self, css: str) -> str:
        """The rendered text of the first element `css` selects ("" if none), read in one step: a part of the page
        that is redrawn meanwhile cannot go stale."""
        return (self.js("const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", css) or "").strip()

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def screenshot(self, name: str, at: str = "") -> Path:
        """The window as a PNG in the artifacts: from the top of the page, or with the element `at` in view."""
        self.js("const e = arguments[0] && document.querySelector(arguments[0]);"
                "e ? e.scrollIntoView({block: 'center'}) : window.scrollTo(0, 0)", at)
        path = self.artifacts / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def errors(self) -> List[str]:
        """The page's console errors since the last call, but for failed requests (the tests make some fail)."""
        return [entry["message"] for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = Path(os.environ.get("COG_TEST_ARTIFACTS") or tmp_path_factory.mktemp("artifacts")) / "browser"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="session")
def browser(artifacts: Path) -> Iterator[Browser]:
    binary = next((path for path in map(shutil.which, CHROMIUM) if path), None)
    driver_path = shutil.which(CHROMEDRIVER) or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    if binary is None or driver_path is None:
        _missing("Chromium and chromedriver are not installed")
    try:
        from selenium import webdriver
    except ImportError:
        _missing("selenium is not installed (the test extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--no-first-run", "--disable-extensions", "--proxy-server=direct://"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    driver.set_script_timeout(30)
    try:
        yield Browser(driver, artifacts)
    finally:
        driver.quit()


class FirefoxPage(Firefox):
    """The BiDi client, with the waits every page test needs and its screenshots among the artifacts."""

    artifacts: Path

    def until(self, condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        """Wait for `condition()` to be true; on timeout, fail with `what` and save a screenshot."""
        try:
            return wait_until(condition, timeout=timeout, what=what)
        except AssertionError as exc:
            shot = self.shot(f"failed-{what[:40].replace(' ', '-')}")
            raise AssertionError(f"{exc}; the page ({shot}):\n{self.text('main')[:2000]}\nconsole: {self.errors()}") from None

    def shot(self, name: str, at: str = "") -> Path:
        """The viewport as a PNG in the artifacts: from the top of the page, or with the element `at` in view."""
        self.scroll_to(at)
        return self.screenshot(self.artifacts / f"firefox-{name}.png")


@pytest.fixture(scope="session")
def firefox(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirefoxPage]:
    binary = next((path for path in map(shutil.which, FIREFOX) if path), None)
    if binary is None:
        _missing("Firefox (Debian's firefox-esr) is not installed")
    page = FirefoxPage.start(binary, tmp_path_factory.mktemp("firefox-profile"))
    page.artifacts = artifacts
    try:
        yield page
    finally:
        page.close()


@pytest.fixture(scope="module")
def model_server() -> Iterator[Callable[[str], InProcessServer]]:
    """model_server("models.py:Everything") → a prediction server (in this process, on loopback) for a model of
    fixtures/models.py, started once per module."""
    servers: dict = {}

    def start(predict_ref: str, **settings: Any) -> InProcessServer:
        if predict_ref not in servers:
            server = InProcessServer(Settings(**{"project_dir": str(FIXTURES), **settings, "predict_ref": predict_ref}))
            servers[predict_ref] = server
            server.wait_for("READY", "SETUP_FAILED")
        return servers[predict_ref]

    yield start
    for server in servers.values():
        server.stop()


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """http://127.0.0.1:PORT of an ASGI app served by uvicorn in a thread of this process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, access_log=False, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), what="uvicorn's start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
