"""The pages in Firefox (Debian's firefox-esr over WebDriver BiDi), against the same real servers on loopback as
the Chromium tests: the playground's form, a run and its output, a server-side 422 next to its field, and
`cog server`'s list of models. Chromium covers the rest; these catch what only Firefox does differently."""

from __future__ import annotations

import json

from tests.packages.conftest import cli_env, run_cog  # noqa: F401 (fixtures)
from tests.runtime.conftest import FIXTURES as RUNTIME_FIXTURES
from tests.web.test_store_ui import project, push, store_server  # noqa: F401 (a fixture)

# Each field: its input's name and kind, its label's title (and " *" when required), the tag of the labelled control.
FIELDS = """() => [...document.querySelectorAll('.field')].map((node) => {
  const label = node.querySelector('label'), control = document.getElementById(label.htmlFor);
  const required = label.querySelector('.required') ? ' *' : '';
  return [node.dataset.name, node.dataset.kind, label.firstChild.textContent + required, control ? control.tagName : null];
})"""


def control(firefox, name: str) -> str:
    """A CSS selector for the control of an input, as its label names it."""
    return "#" + firefox.call("(name) => CSS.escape(document.querySelector(`.field[data-name=\"${name}\"] label`).htmlFor)", name)


def open_playground(firefox, server) -> None:
    firefox.open(f"{server.url}/playground")
    firefox.until(lambda: firefox.call("() => document.querySelectorAll('#fields .field').length"), "the form")


def run_and_wait(firefox, *statuses: str) -> str:
    firefox.click("#run")
    return firefox.until(lambda: firefox.text("#status") in statuses and firefox.text("#status"),
                         f"the status to become {'/'.join(statuses)}")


def test_the_form_has_a_labelled_field_per_input_and_a_text_in_gives_its_output(firefox, model_server):
    open_playground(firefox, model_server("models.py:Everything"))
    assert firefox.call(FIELDS) == [
        ["prompt", "text", "Prompt *", "TEXTAREA"], ["word", "text", "Word", "INPUT"], ["steps", "number", "Steps", "INPUT"],
        ["temperature", "number", "Temperature", "INPUT"], ["loud", "boolean", "Loud", "INPUT"],
        ["size", "choice", "size", "SELECT"], ["api_key", "secret", "Api Key", "INPUT"],
        ["document", "file", "Document", "INPUT"], ["tags", "list", "Tags", "TEXTAREA"], ["weights", "list", "Weights", "TEXTAREA"]]
    firefox.type(control(firefox, "prompt"), "a lighthouse")
    firefox.click(control(firefox, "loud"))
    firefox.shot("playground-form")
    assert run_and_wait(firefox, "succeeded", "failed") == "succeeded", firefox.text("#run-error")
    output = json.loads(firefox.text("#output pre"))
    assert output["prompt"] == "a lighthouse" and output["loud"] is True and output["word"] == "cat"  # a default
    assert "received" in firefox.text("#logs")
    firefox.shot("playground-output")
    assert firefox.errors() == []


def test_a_422_from_the_server_lands_next_to_its_field(firefox, model_server):
    open_playground(firefox, model_server("json_inputs.py:Predictor", project_dir=str(RUNTIME_FIXTURES)))
    data = control(firefox, "data")
    firefox.type(control(firefox, "message"), '{"role": "user", "content": "hi"}')
    firefox.type(data, "{not json")
    firefox.click("#run")
    firefox.until(lambda: firefox.text('.field[data-name="data"] .error').startswith("data is not valid JSON"), "the JSON check")
    assert firefox.call("(css) => document.activeElement === document.querySelector(css)", data)  # the invalid field
    assert firefox.text("#status") == "idle"  # nothing was sent

    firefox.clear(data)
    firefox.type(data, "[1, 2]")  # JSON, but not the object the model takes: the server says so
    assert run_and_wait(firefox, "failed", "succeeded") == "failed"
    message = firefox.until(lambda: firefox.text('.field[data-name="data"] .error'), "the 422 next to its field")
    assert "data" in message
    firefox.shot("playground-422", at='.field[data-name="data"]')

    firefox.clear(data)
    firefox.type(data, '{"a": 1}')
    assert run_and_wait(firefox, "succeeded", "failed") == "succeeded", firefox.text("#run-error")
    assert json.loads(firefox.text("#output pre"))["data"] == {"a": 1}
    assert firefox.text('.field[data-name="data"] .error') == ""
    assert firefox.errors() == []


def test_cog_servers_page_lists_a_pushed_model(firefox, store_server, run_cog, tmp_path_factory):  # noqa: F811
    package_id = push(run_cog, store_server, project(tmp_path_factory))
    firefox.open(f"{store_server.url}/")
    firefox.until(lambda: firefox.call("() => !!document.querySelector('a[href$=\"#/models/alice/hello\"]')"), "the model in the list")
    firefox.shot("server-models")
    firefox.click('a[href$="#/models/alice/hello"]')
    firefox.until(lambda: firefox.call("(id) => !!document.querySelector(`tr[data-package=\"${id}\"]`)", package_id),
                  "the package in the model's list")
    assert firefox.errors() == []
