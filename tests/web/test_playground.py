"""The playground (GET /playground of the prediction server) in a real browser, against real servers on loopback:
every input type, files in and out, streaming, cancel, client-side and server-side checks, schemas with no
inputs, thirty inputs and types without a control of their own, a 20 MB image, training, markup that must not
run, and `cog playground URL`'s reverse proxy."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
from selenium.webdriver.support.ui import Select

from tests.loopback import free_port
from tests.runtime.conftest import FIXTURES as RUNTIME_FIXTURES, REPO
from tests.web.fixtures.models import HOSTILE, png


def field(browser, name: str):
    """The control of an input, as its label names it."""
    return browser.find("#" + browser.find(f'.field[data-name="{name}"] label').get_attribute("for"))


def run_and_wait(browser, *statuses: str, timeout: float = 30) -> str:
    browser.find("#run").click()
    return browser.until(lambda: browser.text("#status") in statuses and browser.text("#status"),
                         f"the status to become {'/'.join(statuses)}", timeout)


def open_playground(browser, server) -> None:
    browser.open(f"{server.url}/playground")
    browser.until(lambda: browser.find_all("#fields .field") or browser.find_all("#fields p")
                  or browser.text("#load-error"), "the form")


def test_every_input_type_has_its_control_and_the_form_runs(browser, model_server, tmp_path):
    server = model_server("models.py:Everything")
    open_playground(browser, server)
    kinds = [(node.get_attribute("data-name"), node.get_attribute("data-kind")) for node in browser.find_all(".field")]
    assert kinds == [("prompt", "text"), ("word", "text"), ("steps", "number"), ("temperature", "number"),
                     ("loud", "boolean"), ("size", "choice"), ("api_key", "secret"), ("document", "file"),
                     ("tags", "list"), ("weights", "list")]
    assert field(browser, "prompt").tag_name == "textarea"  # no maxLength: a long string
    assert field(browser, "word").get_attribute("value") == "cat"  # defaults filled in
    assert browser.find('.field[data-name="steps"] input[type=range]').get_attribute("value") == "4"  # both bounds
    assert not browser.find_all('.field[data-name="temperature"] input[type=range]')  # one bound: no slider
    assert field(browser, "api_key").get_attribute("type") == "password"
    assert Select(field(browser, "size")).first_selected_option.text == "medium"
    assert field(browser, "tags").get_attribute("value") == "a\nb"
    assert browser.find('.field[data-name="prompt"] label').text.startswith("Prompt *")  # required, marked
    assert browser.text('.field[data-name="prompt"] .description') == "What to write about"
    assert field(browser, "prompt").get_attribute("aria-describedby").split()[0] == \
        browser.find('.field[data-name="prompt"] .description').get_attribute("id")  # labels for screen readers

    document = tmp_path / "notes.txt"
    document.write_text("the notes")
    field(browser, "prompt").send_keys("a lighthouse")
    field(browser, "loud").click()
    Select(field(browser, "size")).select_by_visible_text("large")
    field(browser, "api_key").send_keys("hunter2")
    browser.find('.field[data-name="document"] input[type=file]').send_keys(str(document))
    browser.until(lambda: "notes.txt" in browser.text('.field[data-name="document"] .picked'), "the file to be read")
    field(browser, "weights").clear()
    field(browser, "weights").send_keys("3\n5")
    browser.screenshot("playground-form")
    assert run_and_wait(browser, "succeeded", "failed") == "succeeded", browser.text("#run-error")
    assert json.loads(browser.text("#output pre")) == {
        "prompt": "a lighthouse", "word": "cat", "steps": 4, "temperature": 0.75, "loud": True, "size": "large",
        "api_key": 7, "document": "the notes", "tags": ["a", "b"], "weights": [3, 5]}
    assert browser.text('[data-metric="predict_time"]').endswith(" s")
    assert "received" in browser.text("#logs")

    browser.find("#copy-as summary").click()
    snippets = [node.text for node in browser.find_all("#snippets pre")]
    assert "-i 'prompt=a lighthouse'" in snippets[0] and "-i document=@notes.txt" in snippets[0]
    assert "-i weights=3 \\\n  -i weights=5" in snippets[0]
    assert f"curl -s -X POST {server.url}/predictions" in snippets[1] and "$(base64 -w0 notes.txt)" in snippets[1]
    assert 'data_uri("notes.txt")' in snippets[2] and '"loud": True' in snippets[2]
    browser.screenshot("playground-output")
    assert browser.errors() == []


def test_client_side_checks_mirror_the_schema(browser, model_server):
    open_playground(browser, model_server("models.py:Everything"))
    field(browser, "word").clear()
    field(browser, "word").send_keys("Not1")
    field(browser, "steps").clear()
    field(browser, "steps").send_keys("51")
    browser.find("#run").click()
    browser.until(lambda: browser.text('.field[data-name="steps"] .error'), "the checks")
    assert browser.text('.field[data-name="prompt"] .error') == "prompt is required"
    assert browser.text('.field[data-name="word"] .error') == "word must match ^[a-z]+$"
    assert browser.text('.field[data-name="steps"] .error') == "steps must be at most 50"
    assert browser.text("#status") == "idle"  # nothing was sent
    assert browser.js("return document.activeElement.name") == "prompt"  # the first invalid field has the focus


def test_unusual_types_get_a_json_editor_and_a_422_lands_next_to_its_field(browser, model_server):
    server = model_server("json_inputs.py:Predictor", project_dir=str(RUNTIME_FIXTURES))
    open_playground(browser, server)
    kinds = {node.get_attribute("data-name"): node.get_attribute("data-kind") for node in browser.find_all(".field")}
    assert kinds == {"data": "json", "message": "json", "messages": "json", "raw": "json", "options": "json",
                     "point": "json", "tags": "json"}
    assert json.loads(field(browser, "options").get_attribute("value")) == {"k": 1}
    field(browser, "message").send_keys('{"role": "user", "content": "hi"}')
    field(browser, "data").send_keys("{not json")
    browser.find("#run").click()
    browser.until(lambda: browser.text('.field[data-name="data"] .error').startswith("data is not valid JSON"), "the JSON check")

    field(browser, "data").clear()
    field(browser, "data").send_keys("[1, 2]")  # JSON, but not the object the model takes: the server says so
    assert run_and_wait(browser, "failed", "succeeded") == "failed"
    message = browser.until(lambda: browser.text('.field[data-name="data"] .error'), "the 422 next to its field")
    assert "data" in message
    browser.screenshot("playground-422", at='.field[data-name="data"]')

    field(browser, "data").clear()
    field(browser, "data").send_keys('{"a": [1, {"b": null}]}')
    assert run_and_wait(browser, "succeeded", "failed") == "succeeded", browser.text("#run-error")
    output = json.loads(browser.text("#output pre"))
    assert output["data"] == {"a": [1, {"b": None}]} and output["message"] == {"role": "user", "content": "hi"}
    assert browser.errors() == []


# What Cog's SDK never writes but other servers of the same API may: each falls back to a JSON editor.
UNUSUAL_INPUTS = {
    "nested": {"type": "object", "properties": {"inner": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
    "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
    "one_of": {"oneOf": [{"$ref": "#/components/schemas/Point"}, {"type": "null"}, {"type": "boolean"}]},
    "point": {"$ref": "#/components/schemas/Point"},
    "grid": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
    "untyped": {},
}


def test_a_schema_of_unusual_types_gets_json_editors_and_the_page_stays_whole(browser):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from cog.server.playground import ROUTES
    from tests.web.conftest import serve_app

    properties = {name: {**schema, "x-order": order} for order, (name, schema) in enumerate(UNUSUAL_INPUTS.items())}
    schema = {"openapi": "3.0.2", "info": {"title": "Cog", "version": "0"}, "paths": {"/predictions": {"post": {}}},
              "components": {"schemas": {"Input": {"type": "object", "properties": properties, "required": ["nested"]},
                                         "Output": {"type": "string"},
                                         "Point": {"type": "object", "properties": {"x": {"type": "number"}}}}}}
    app = Starlette(routes=[*ROUTES, Route("/openapi.json", lambda request: JSONResponse(schema)),
                            Route("/health-check", lambda request: JSONResponse({"status": "READY"}))])
    with serve_app(app) as url:
        browser.open(f"{url}/playground")
        browser.until(lambda: len(browser.find_all(".field")) == len(UNUSUAL_INPUTS), "the form")
        assert {node.get_attribute("data-name"): node.get_attribute("data-kind") for node in browser.find_all(".field")} \
            == dict.fromkeys(UNUSUAL_INPUTS, "json")
        field(browser, "nested").send_keys('{"inner": {"x": 1}}')
        field(browser, "either").send_keys("7")
        browser.find("#copy-as summary").click()
        browser.until(lambda: "-i 'nested={\"inner\":{\"x\":1}}'" in browser.text("#snippets pre"), "the typed JSON in cog predict")
        assert "-i either=7" in browser.text("#snippets pre")
        browser.screenshot("playground-unusual")
        assert browser.errors() == []


def test_a_png_in_is_a_png_out_shown_decoded_and_a_list_of_files_is_a_gallery(browser, model_server, tmp_path):
    image = tmp_path / "dot.png"
    image.write_bytes(png(64, 48, bytes(range(256)) * (64 * 48 * 3 // 256)))
    open_playground(browser, model_server("models.py:Mirror"))
    browser.find('.field[data-name="image"] input[type=file]').send_keys(str(image))
    browser.until(lambda: browser.find_all('.field[data-name="image"] .picked img'), "the preview of the picked file")
    field(browser, "copies").clear()
    field(browser, "copies").send_keys("2")
    assert run_and_wait(browser, "succeeded", "failed") == "succeeded", browser.text("#run-error")
    sizes = browser.until(lambda: browser.js(
        "const imgs = [...document.querySelectorAll('#output .gallery img')];"
        "return imgs.length === 2 && imgs.every((i) => i.complete) && imgs.map((i) => [i.naturalWidth, i.naturalHeight]);"),
        "two decoded images")
    assert sizes == [[64, 48], [64, 48]]
    assert [link.get_attribute("download") for link in browser.find_all("#output a.download")] == ["output.0.png", "output.1.png"]
    browser.screenshot("playground-image")


def test_audio_is_playable_and_other_files_are_downloads(browser, model_server):
    open_playground(browser, model_server("models.py:Media"))
    assert run_and_wait(browser, "succeeded", "failed") == "succeeded", browser.text("#run-error")
    duration = browser.until(lambda: browser.js(
        "const audio = document.querySelector('#output audio[controls]'); return audio && audio.duration"),
        "the audio to load its metadata")
    assert duration == 1
    links = browser.js("return [...document.querySelectorAll('#output a.download')].map((a) => a.download)")
    assert links == ["output.0.wav", "output.1.txt"]


def test_a_streaming_output_grows_as_it_streams(browser, model_server, tmp_path):
    open_playground(browser, model_server("models.py:Streaming"))
    gate = tmp_path / "gate"
    field(browser, "gate").send_keys(str(gate))
    browser.find("#run").click()
    browser.until(lambda: browser.text("#output pre") == "The lighthouse keeper", "the first words")
    assert browser.text("#status") == "processing"
    assert "word The" in browser.text("#logs")  # the logs as they arrive
    browser.screenshot("playground-streaming")
    gate.touch()
    browser.until(lambda: browser.text("#status") == "succeeded", "the end of the stream")
    assert browser.text("#output pre") == "The lighthouse keeper slept soundly."


def test_cancel_stops_a_sleeping_prediction(browser, model_server):
    server = model_server("models.py:Sleeper")
    open_playground(browser, server)
    browser.find("#run").click()
    browser.until(lambda: "going to sleep" in browser.text("#logs"), "the prediction to start")
    assert browser.text("#status") == "processing"
    browser.find("#cancel").click()
    browser.until(lambda: browser.text("#status") == "canceled", "the cancel")
    assert server.health()["status"] == "READY"
    assert browser.find("#run").is_enabled()


def test_no_inputs_and_thirty_inputs(browser, model_server):
    open_playground(browser, model_server("models.py:NoInputs"))
    assert browser.text("#fields") == "This model takes no inputs."
    assert run_and_wait(browser, "succeeded", "failed") == "succeeded"
    assert browser.text("#output pre") == "nothing in, this out"

    open_playground(browser, model_server("models.py:Thirty"))
    names = [node.get_attribute("data-name") for node in browser.find_all(".field")]
    assert names == [f"p{i:02d}" for i in range(30)]  # in x-order
    assert run_and_wait(browser, "succeeded", "failed") == "succeeded"
    assert browser.text("#output pre") == ",".join(["x", "1", "0.5", "False"] * 7 + ["x", "1"])
    browser.screenshot("playground-thirty")


def test_a_20_mb_image_output_decodes(browser, model_server):
    open_playground(browser, model_server("models.py:Big"))
    assert run_and_wait(browser, "succeeded", "failed", timeout=120) == "succeeded"
    size = browser.until(lambda: browser.js(
        "const img = document.querySelector('#output img'); return img && img.complete && img.naturalWidth && "
        "[img.naturalWidth, img.naturalHeight, img.src.slice(0, 5)]"), "the 20 MB image to decode", timeout=120)
    assert size == [2600, 2600, "blob:"]
    assert browser.js("return document.body.innerText.length") < 100_000  # the data URI is not printed anywhere


def test_training_has_its_own_form(browser, model_server):
    open_playground(browser, model_server("hello.py:Predictor", project_dir=str(RUNTIME_FIXTURES), train_ref="train.py:train"))
    tabs = browser.find_all("#modes [role=tab]")
    assert [tab.text for tab in tabs] == ["Predict", "Train"]
    tabs[1].click()
    assert [node.get_attribute("data-name") for node in browser.find_all(".field")] == ["dataset", "epochs"]
    field(browser, "dataset").send_keys("birds")
    assert browser.find("#run").text == "Train"
    assert run_and_wait(browser, "succeeded", "failed") == "succeeded"
    assert json.loads(browser.text("#output pre")) == {"weights": "birds-weights", "epochs": 1}


def test_markup_from_the_model_is_shown_as_text_and_never_runs(browser, model_server):
    open_playground(browser, model_server("models.py:Hostile"))
    assert browser.text('.field[data-name="text"] .description') == HOSTILE
    assert field(browser, "text").get_attribute("value") == HOSTILE
    assert [option.text for option in Select(field(browser, "choice")).options] == [HOSTILE, "plain"]
    assert run_and_wait(browser, "succeeded", "failed") == "succeeded"
    assert browser.text("#output pre") == f"{HOSTILE}\n{HOSTILE}"
    assert HOSTILE in browser.text("#logs")
    # No element came from the model's text: no inline script, no handler attribute, no <img src=x>.
    assert browser.js("return document.querySelectorAll('script:not([src]), [onerror], img[src=\"x\"]').length") == 0
    assert browser.js("return window.__pwned") is None
    browser.screenshot("playground-hostile")


def test_a_model_whose_setup_failed_says_so(browser, model_server):
    open_playground(browser, model_server("broken_setup.py:Predictor", project_dir=str(RUNTIME_FIXTURES)))
    assert browser.text("#health") == "SETUP_FAILED"
    assert browser.text("#load-error") == "the schema is known once setup has succeeded (SETUP_FAILED)"
    assert "RuntimeError: weights not found" in browser.text("#logs")  # setup's logs say why


def test_pages_and_assets_that_do_not_exist_are_404s(model_server):
    server = model_server("models.py:NoInputs")
    page = server.client.get("/playground")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert server.client.get("/playground/static/playground.js").headers["content-type"].startswith("text/javascript")
    for missing in ("/playground/static/nope.js", "/playground/static/playground.html", "/playground/static/../http.py"):
        answer = server.client.get(missing)
        assert answer.status_code == 404, missing
    assert server.client.get("/").json()["playground_url"] == "/playground"


def test_cog_playground_serves_the_page_for_a_model_elsewhere_and_streams_through(browser, model_server, tmp_path):
    server = model_server("models.py:Streaming")
    port = free_port()
    proxy = subprocess.Popen([sys.executable, "-m", "cog.cli", "playground", server.url, "--port", str(port), "--no-open"],
                             cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        line = proxy.stderr.readline()
        assert line.strip() == f"Playground for {server.url} on http://127.0.0.1:{port}/playground (Ctrl-C to stop)"
        browser.open(f"http://127.0.0.1:{port}/playground")
        browser.until(lambda: browser.find_all('.field[data-name="gate"]'), "the form, through the proxy")
        gate = tmp_path / "gate"
        field(browser, "gate").send_keys(str(gate))
        browser.find("#run").click()
        browser.until(lambda: browser.text("#output pre") == "The lighthouse keeper", "the first words, through the proxy")
        gate.touch()
        browser.until(lambda: browser.text("#status") == "succeeded", "the end of the stream")
        assert httpx.get(f"http://127.0.0.1:{port}/health-check").json()["status"] == "READY"
    finally:
        proxy.terminate()
        proxy.wait(10)


def test_cog_playground_says_when_nothing_answers_at_the_url():
    result = subprocess.run([sys.executable, "-m", "cog.cli", "playground", f"http://127.0.0.1:{free_port()}", "--no-open"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("error: no Cog prediction server answers at http://127.0.0.1:")
    assert "Traceback" not in result.stderr
