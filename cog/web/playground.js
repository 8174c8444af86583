"use strict";
// The playground: a form generated from the model's /openapi.json, run over the prediction API (server-sent
// events for the live view, POST .../cancel to stop), outputs rendered by kind. Served at /playground by the
// runtime of every image; every URL here is relative to the server's root, so a reverse proxy works too.
(() => {
  const { el, events, copyable, shellQuote, newId, errorOf } = cogWeb;
  const $ = (id) => document.getElementById(id);
  const LONG_TEXT = 120; // longer strings get a textarea
  const FILE_PROTOCOLS = /^(data:|https?:\/\/)/;
  const MEDIA = {
    image: /\.(png|jpe?g|gif|webp|bmp|svg|avif)(\?|$)/i,
    audio: /\.(wav|mp3|ogg|flac|m4a|aac|opus)(\?|$)/i,
    video: /\.(mp4|webm|mov|mkv|ogv)(\?|$)/i,
  };
  // A data: URI's subtype → the file extension of its download, where they differ.
  const EXTENSIONS = { jpeg: "jpg", plain: "txt", mpeg: "mp3", "svg+xml": "svg", "octet-stream": "bin", markdown: "md" };
  const base = new URL(".", location.href); // the server's root, wherever the page is served from
  const api = (path) => new URL(path, base).href;

  let schema = null;
  let mode = null; // {collection, inputName, outputName}
  let fields = [];
  let current = null; // the prediction in flight: {id, collection}
  const objectUrls = [];

  // --- the schema --------------------------------------------------------------------------------------

  function deref(ref) {
    const name = String(ref).split("/").pop();
    return (schema.components && schema.components.schemas && schema.components.schemas[name]) || {};
  }

  /** A property's own schema with Cog's indirections taken out: allOf [$ref] (enums), anyOf [X, null]. */
  function resolve(property) {
    let resolved = { ...property };
    if (resolved.$ref) {
      resolved = { ...deref(resolved.$ref), ...resolved };
      delete resolved.$ref;
    }
    if (Array.isArray(resolved.allOf) && resolved.allOf.length === 1) {
      const [inner] = resolved.allOf;
      delete resolved.allOf;
      resolved = { ...resolve(inner), ...resolved };
    }
    const union = resolved.anyOf || resolved.oneOf;
    if (Array.isArray(union)) {
      const others = union.filter((member) => member.type !== "null");
      if (others.length === 1) {
        delete resolved.anyOf;
        delete resolved.oneOf;
        resolved = { ...resolve(others[0]), ...resolved, nullable: true };
      }
    }
    return resolved;
  }

  /** Which control a property gets; anything without one (objects, unions, ...) is edited as JSON. */
  function kindOf(property) {
    if (property.anyOf || property.oneOf || property.allOf) return "json";
    if (Array.isArray(property.enum)) return "choice";
    switch (property.type) {
      case "string":
        if (property.format === "uri") return "file";
        if (property.format === "password" || property["x-cog-secret"]) return "secret";
        return "text";
      case "integer":
      case "number":
        return "number";
      case "boolean":
        return "boolean";
      case "array": {
        const item = resolve(property.items || {});
        if (item.type === "string" && item.format === "uri") return "files";
        if (["string", "integer", "number"].includes(item.type) && !item.enum && !item.anyOf) return "list";
        return "json";
      }
      default:
        return "json";
    }
  }

  // --- fields ------------------------------------------------------------------------------------------

  class Invalid extends Error {}

  /** Mirrors the schema's constraints; throws Invalid with the message shown next to the field. */
  function check(property, value) {
    if (typeof value === "string") {
      if (property.minLength !== undefined && value.length < property.minLength)
        throw new Invalid(`must be at least ${property.minLength} characters`);
      if (property.maxLength !== undefined && value.length > property.maxLength)
        throw new Invalid(`must be at most ${property.maxLength} characters`);
      if (property.pattern) {
        let pattern = null;
        try {
          pattern = new RegExp(property.pattern, "u");
        } catch (_) {
          // a Python-only pattern: the server checks it
        }
        if (pattern && !pattern.test(value)) throw new Invalid(`must match ${property.pattern}`);
      }
    }
    if (typeof value === "number") {
      if (property.type === "integer" && !Number.isInteger(value)) throw new Invalid("must be a whole number");
      if (property.minimum !== undefined && value < property.minimum) throw new Invalid(`must be at least ${property.minimum}`);
      if (property.maximum !== undefined && value > property.maximum) throw new Invalid(`must be at most ${property.maximum}`);
      if (property.exclusiveMinimum !== undefined && value <= property.exclusiveMinimum)
        throw new Invalid(`must be more than ${property.exclusiveMinimum}`);
      if (property.exclusiveMaximum !== undefined && value >= property.exclusiveMaximum)
        throw new Invalid(`must be less than ${property.exclusiveMaximum}`);
    }
    return value;
  }

  function number(text, property) {
    const value = Number(text);
    if (text.trim() === "" || Number.isNaN(value)) throw new Invalid("must be a number");
    return check(property, value);
  }

  function readFile(file) {
    return new Promise((resolveRead, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolveRead(reader.result);
      reader.onerror = () => reject(new Invalid(`could not read ${file.name}`));
      reader.readAsDataURL(file);
    });
  }

  /** A field: {name, node, read() → value or undefined (left out), fill(value), fileNames}. */
  function makeField(name, property, required, index) {
    const kind = kindOf(property);
    const id = `input-${index}`;
    const described = property.description ? `${id}-description` : null;
    const common = { id, name, "aria-describedby": [described, `${id}-error`].filter(Boolean).join(" "),
      "aria-required": required ? "true" : null };
    const control = CONTROLS[kind](property, common, required);
    const label = el("label", { for: id }, property.title || name,
      required ? el("span", { class: "required", title: "required", "aria-hidden": "true" }, " *") : null,
      el("span", { class: "type" }, kind === "json" ? "JSON" : typeLabel(property)));
    const error = el("p", { class: "error", id: `${id}-error`, hidden: true });
    const node = el("div", { class: `field kind-${kind}`, "data-name": name, "data-kind": kind }, label, control.node,
      property.description ? el("p", { class: "description", id: described }, property.description) : null, error);
    const field = {
      name, kind, node, control,
      async read() {
        const value = await control.read();
        if (value === undefined && required) throw new Invalid("is required");
        return value;
      },
      showError(message) {
        node.classList.toggle("invalid", Boolean(message));
        error.hidden = !message;
        error.textContent = message || "";
      },
    };
    if (property.default !== undefined && property.default !== null) control.fill(property.default);
    return field;
  }

  function typeLabel(property) {
    if (property.type === "array") return `list of ${resolve(property.items || {}).type || "values"}`;
    if (property.format === "uri") return "file";
    if (property.format === "password") return "secret";
    return property.type || "";
  }

  const CONTROLS = {
    text(property, common) {
      const long = property.maxLength === undefined || property.maxLength > LONG_TEXT;
      const input = long ? el("textarea", { ...common, rows: 3 }) : el("input", { ...common, type: "text" });
      return {
        node: input,
        read: () => (input.value === "" ? undefined : check(property, input.value)),
        fill: (value) => { input.value = String(value); },
      };
    },
    secret(property, common) {
      const input = el("input", { ...common, type: "password", autocomplete: "off" });
      return {
        node: input,
        read: () => (input.value === "" ? undefined : input.value),
        fill: (value) => { input.value = String(value); },
      };
    },
    number(property, common) {
      const step = property.type === "integer" ? "1" : "any";
      const input = el("input", { ...common, type: "number", step, min: property.minimum, max: property.maximum });
      const read = () => (input.value === "" ? undefined : number(input.value, property));
      const fill = (value) => { input.value = String(value); };
      if (property.minimum === undefined || property.maximum === undefined) return { node: input, read, fill };
      const slider = el("input", { type: "range", min: property.minimum, max: property.maximum,
        step: property.type === "integer" ? "1" : String((property.maximum - property.minimum) / 100),
        "aria-label": `${property.title || common.name} (slider)`, tabindex: "-1" });
      slider.addEventListener("input", () => { input.value = slider.value; input.dispatchEvent(new Event("input", { bubbles: true })); });
      input.addEventListener("input", () => { slider.value = input.value; });
      return {
        node: el("div", { class: "slider" }, slider, input), read,
        fill: (value) => { fill(value); slider.value = String(value); },
      };
    },
    boolean(property, common) {
      const input = el("input", { ...common, type: "checkbox" });
      return {
        node: el("div", {}, input),
        read: () => input.checked,
        fill: (value) => { input.checked = Boolean(value); },
      };
    },
    choice(property, common, required) {
      const select = el("select", common);
      if (!required && property.default === undefined) select.append(el("option", { value: "" }, "—"));
      property.enum.forEach((choice, position) => select.append(el("option", { value: String(position) }, String(choice))));
      return {
        node: select,
        read: () => (select.value === "" ? undefined : property.enum[Number(select.value)]),
        fill: (value) => {
          const position = property.enum.indexOf(value);
          if (position >= 0) select.value = String(position);
        },
      };
    },
    file(property, common) {
      let picked = null; // {name, dataUri}
      const url = el("input", { ...common, type: "url", placeholder: "https://… or drop a file here" });
      const preview = el("div", { class: "picked" });
      const pick = el("input", { type: "file", "aria-label": `${property.title || common.name}: choose a file` });
      const zone = el("div", { class: "drop" }, url, el("div", {}, "or ", pick), preview);
      const show = () => {
        preview.replaceChildren();
        if (!picked) return;
        preview.append(`${picked.name} (${cogWeb.bytes(picked.size)})`);
        if (picked.dataUri.startsWith("data:image/")) preview.append(el("img", { src: picked.dataUri, alt: picked.name }));
      };
      const take = async (file) => {
        picked = { name: file.name, size: file.size, dataUri: await readFile(file) };
        url.value = "";
        show();
        zone.dispatchEvent(new Event("input", { bubbles: true }));
      };
      pick.addEventListener("change", () => { if (pick.files[0]) take(pick.files[0]); });
      url.addEventListener("input", () => { if (url.value) { picked = null; pick.value = ""; show(); } });
      zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
      zone.addEventListener("dragleave", () => zone.classList.remove("over"));
      zone.addEventListener("drop", (event) => {
        event.preventDefault();
        zone.classList.remove("over");
        if (event.dataTransfer.files[0]) take(event.dataTransfer.files[0]);
      });
      return {
        node: zone,
        fileName: () => (picked ? picked.name : null),
        read: () => {
          if (picked) return picked.dataUri;
          if (url.value === "") return undefined;
          if (!FILE_PROTOCOLS.test(url.value)) throw new Invalid("must be an http(s) URL or a file");
          return url.value;
        },
        fill: (value) => { url.value = String(value); },
        reset: () => { picked = null; show(); },
      };
    },
    files(property, common) {
      const urls = el("textarea", { ...common, rows: 2, placeholder: "one URL a line, or choose files" });
      const pick = el("input", { type: "file", multiple: true, "aria-label": `${property.title || common.name}: choose files` });
      return {
        node: el("div", { class: "drop" }, urls, el("div", {}, "or ", pick)),
        read: async () => {
          const values = urls.value.split("\n").map((line) => line.trim()).filter(Boolean);
          for (const file of pick.files) values.push(await readFile(file));
          return values.length ? values : undefined;
        },
        fill: (value) => { urls.value = [].concat(value).join("\n"); },
      };
    },
    list(property, common) {
      const item = resolve(property.items || {});
      const input = el("textarea", { ...common, rows: 3, placeholder: "one item a line" });
      return {
        node: input,
        read: () => {
          const lines = input.value.split("\n").filter((line) => line.trim() !== "");
          if (!lines.length) return undefined;
          return lines.map((line) => (item.type === "string" ? check(item, line) : number(line, item)));
        },
        fill: (value) => { input.value = [].concat(value).join("\n"); },
      };
    },
    json(property, common) {
      const input = el("textarea", { ...common, rows: 4, class: "json", spellcheck: "false", placeholder: "JSON" });
      return {
        node: input,
        read: () => {
          if (input.value.trim() === "") return undefined;
          try {
            return JSON.parse(input.value);
          } catch (error) {
            throw new Invalid(`is not valid JSON: ${error.message}`);
          }
        },
        fill: (value) => { input.value = JSON.stringify(value, null, 2); },
      };
    },
  };

  // --- the form ----------------------------------------------------------------------------------------

  function buildForm() {
    const inputSchema = deref(mode.inputName);
    const properties = inputSchema.properties || {};
    const required = new Set(inputSchema.required || []);
    const names = Object.keys(properties).sort((a, b) => order(properties[a]) - order(properties[b]));
    fields = names.map((name, index) => makeField(name, resolve(properties[name]), required.has(name), index));
    const container = $("fields");
    container.replaceChildren(...fields.map((field) => field.node));
    if (!fields.length) container.append(el("p", { class: "muted" }, "This model takes no inputs."));
    $("run").textContent = mode.collection === "trainings" ? "Train" : "Run";
    updateSnippets();
  }

  function order(property) {
    return typeof property["x-order"] === "number" ? property["x-order"] : Number.MAX_SAFE_INTEGER;
  }

  /** The inputs as the API takes them, or null when a field is invalid (its message shown next to it). */
  async function collect(showErrors) {
    const input = {};
    let valid = true;
    for (const field of fields) {
      try {
        const value = await field.read();
        if (value !== undefined) input[field.name] = value;
        if (showErrors) field.showError(null);
      } catch (error) {
        if (!(error instanceof Invalid)) throw error;
        valid = false;
        if (showErrors) field.showError(`${field.name} ${error.message}`);
      }
    }
    return valid ? input : null;
  }

  // --- running -----------------------------------------------------------------------------------------

  async function run(event) {
    event.preventDefault();
    if (current) return;
    showRunError(null);
    $("form-error").hidden = true;
    const input = await collect(true);
    if (!input) {
      const first = $("fields").querySelector(".invalid input, .invalid textarea, .invalid select");
      if (first) first.focus();
      return;
    }
    current = { id: newId(), collection: mode.collection };
    const view = new OutputView(deref(mode.outputName));
    setStatus("starting");
    $("prediction-id").textContent = current.id;
    $("logs").textContent = "";
    $("metrics").replaceChildren();
    $("run").disabled = true;
    $("cancel").disabled = false;
    try {
      const response = await fetch(api(mode.collection), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ id: current.id, input }),
      });
      if (!response.ok) {
        showServerError(await errorOf(response));
        setStatus("failed");
        return;
      }
      let completed = false;
      for await (const { event: name, data } of events(response)) {
        if (name === "start") setStatus(data.status);
        else if (name === "output") view.add(data.chunk, data.index);
        else if (name === "log") $("logs").append(data.data);
        else if (name === "completed") completed = finish(data, view);
      }
      if (!completed) {
        showRunError("The server closed the stream before the prediction completed.");
        setStatus("unknown");
      }
    } catch (error) {
      showRunError(`The server did not answer: ${error.message}`);
      setStatus("failed");
    } finally {
      current = null;
      $("run").disabled = false;
      $("cancel").disabled = true;
    }
  }

  function finish(prediction, view) {
    setStatus(prediction.status);
    $("logs").textContent = prediction.logs || "";
    if (prediction.status === "succeeded" || prediction.output !== null) view.complete(prediction.output);
    if (prediction.error) showRunError(prediction.error);
    const metrics = $("metrics");
    metrics.replaceChildren();
    for (const [name, value] of Object.entries(prediction.metrics || {})) {
      const shown = typeof value === "number" && name.endsWith("_time") ? `${value.toFixed(3)} s` : JSON.stringify(value);
      metrics.append(el("dt", {}, name), el("dd", { "data-metric": name }, shown));
    }
    return true;
  }

  async function cancel() {
    if (!current) return;
    $("cancel").disabled = true;
    const response = await fetch(api(`${current.collection}/${encodeURIComponent(current.id)}/cancel`), { method: "POST" });
    if (!response.ok && response.status !== 404) showRunError((await errorOf(response)).message);
  }

  /** A 422 lands next to the field it names; anything else above the output. */
  function showServerError({ body, message }) {
    const detail = body && body.detail;
    let placed = false;
    if (Array.isArray(detail)) {
      for (const item of detail) {
        const loc = item.loc || [];
        const field = fields.find((f) => f.name === loc[loc.length - 1] && loc.includes("input"));
        if (field) {
          field.showError(item.msg);
          placed = true;
        }
      }
    }
    if (!placed) showRunError(message);
  }

  function showRunError(message) {
    $("run-error").hidden = !message;
    $("run-error").textContent = message || "";
  }

  function setStatus(status) {
    const node = $("status");
    node.textContent = status;
    node.className = `status ${status}`;
  }

  // --- outputs -----------------------------------------------------------------------------------------

  function isFile(value) {
    return typeof value === "string" && FILE_PROTOCOLS.test(value) && !/\s/.test(value.slice(0, 200));
  }

  function mediaOf(url) {
    const match = /^data:([a-z]+)\//i.exec(url);
    if (match) return match[1].toLowerCase();
    return Object.keys(MEDIA).find((kind) => MEDIA[kind].test(url)) || "other";
  }

  /** A data: URI as a blob: URL, so that a 20 MB image costs the page one decode, not a 27 MB attribute. */
  async function displayUrl(url) {
    if (!url.startsWith("data:")) return url;
    const blob = await (await fetch(url)).blob();
    const objectUrl = URL.createObjectURL(blob);
    objectUrls.push(objectUrl);
    return objectUrl;
  }

  function fileName(url, index) {
    if (url.startsWith("data:")) {
      const type = /^data:([a-z]+\/[a-z0-9.+-]+)/i.exec(url);
      const subtype = type ? type[1].split("/")[1].toLowerCase() : "bin";
      return `output${index === undefined ? "" : `.${index}`}.${EXTENSIONS[subtype] || subtype.replace(/^x-|\+.*$/g, "")}`;
    }
    return decodeURIComponent(new URL(url).pathname.split("/").pop() || "output");
  }

  function renderFile(url, index) {
    const box = el("div", { class: "file" });
    const media = mediaOf(url);
    const name = fileName(url, index);
    displayUrl(url).then((shown) => {
      if (media === "image") box.append(el("img", { src: shown, alt: name, class: "output-image" }));
      else if (media === "audio") box.append(el("audio", { src: shown, controls: true, "aria-label": name }));
      else if (media === "video") box.append(el("video", { src: shown, controls: true, "aria-label": name }));
      box.append(el("a", { href: shown, download: name, class: "download" }, `Download ${name}`));
    });
    return box;
  }

  /** A JSON value for display: long strings (data URIs) shortened. */
  function shortened(value) {
    return JSON.stringify(value, (key, item) => (typeof item === "string" && item.length > 500
      ? `${item.slice(0, 80)}… (${item.length} characters)` : item), 2);
  }

  function render(value) {
    if (value === null || value === undefined) return el("p", { class: "muted" }, "(no output)");
    if (isFile(value)) return renderFile(value);
    if (typeof value === "string") return el("pre", { class: "text" }, value);
    if (Array.isArray(value) && value.length && value.every(isFile))
      return el("div", { class: "gallery" }, value.map((item, index) => renderFile(item, index)));
    if (typeof value === "object") return el("pre", { class: "json" }, shortened(value));
    return el("pre", { class: "text" }, String(value));
  }

  /** The output as it streams (an iterator's items as they come), then as it completed. */
  class OutputView {
    constructor(outputSchema) {
      this.concatenate = outputSchema["x-cog-array-display"] === "concatenate";
      this.node = $("output");
      this.node.replaceChildren();
      this.text = null;
      this.gallery = null;
      this.streamed = false;
    }

    add(chunk, index) {
      this.streamed = true;
      if (isFile(chunk)) {
        if (!this.gallery) this.node.append((this.gallery = el("div", { class: "gallery" })));
        this.gallery.append(renderFile(chunk, index));
      } else if (typeof chunk === "string") {
        if (!this.text) this.node.append((this.text = el("pre", { class: "text" })));
        this.text.append(this.concatenate || index === 0 ? chunk : `\n${chunk}`);
      } else {
        this.node.append(el("pre", { class: "json" }, shortened(chunk)));
      }
    }

    complete(output) {
      if (this.streamed && Array.isArray(output)) return; // what streamed is the output
      if (Array.isArray(output) && output.length && output.every((item) => typeof item === "string" && !isFile(item))) {
        this.node.replaceChildren(el("pre", { class: "text" }, output.join(this.concatenate ? "" : "\n")));
        return;
      }
      this.node.replaceChildren(render(output));
    }
  }

  // --- copy as -----------------------------------------------------------------------------------------

  async function updateSnippets() {
    const input = (await collect(false)) || {};
    const local = {};
    for (const field of fields) {
      const name = field.control.fileName && field.control.fileName();
      if (name && field.name in input) local[field.name] = name;
    }
    const endpoint = mode.collection === "trainings" ? "train" : "predict";
    const args = Object.entries(input).flatMap(([name, value]) => {
      if (local[name]) return [`-i ${shellQuote(`${name}=@${local[name]}`)}`];
      const values = Array.isArray(value) && value.every((item) => typeof item !== "object") ? value : [value];
      return values.map((item) => `-i ${shellQuote(`${name}=${typeof item === "string" ? item : JSON.stringify(item)}`)}`);
    });
    const url = api(mode.collection);
    // In the heredoc, $(base64 ...) runs and the rest stays literal; local files are read where the command runs.
    const placeholder = (name) => `@@cog-file:${name}@@`;
    const body = JSON.stringify({ input }, (key, value) => (local[key] && typeof value === "string" ? placeholder(key) : value), 2)
      .replace(/[\\$`]/g, (c) => `\\${c}`)
      .replace(/"@@cog-file:([^"]*)@@"/g, (_, name) => `"data:application/octet-stream;base64,$(base64 -w0 ${shellQuote(local[name])})"`);
    const python = [
      "import base64, httpx",
      "",
      ...(Object.keys(local).length ? [
        "def data_uri(path):",
        "    with open(path, \"rb\") as f:",
        "        return \"data:application/octet-stream;base64,\" + base64.b64encode(f.read()).decode()",
        "",
      ] : []),
      `inputs = ${pythonLiteral(input, local)}`,
      `response = httpx.post(${JSON.stringify(url)}, json={"input": inputs}, timeout=None)`,
      "print(response.json()[\"output\"])",
    ].join("\n");
    $("snippets").replaceChildren(
      copyable(`cog ${endpoint}`, [`cog ${endpoint}`, ...args].join(" \\\n  ")),
      copyable("curl", `curl -s -X POST ${shellQuote(url)} \\\n  -H 'Content-Type: application/json' -d @- <<EOF\n${body}\nEOF`),
      copyable("Python (httpx)", python),
    );
  }

  function pythonLiteral(input, local) {
    const items = Object.entries(input).map(([name, value]) =>
      `    ${JSON.stringify(name)}: ${local[name] ? `data_uri(${JSON.stringify(local[name])})` : python(value)},`);
    return items.length ? `{\n${items.join("\n")}\n}` : "{}";
  }

  function python(value) {
    if (value === null) return "None";
    if (value === true) return "True";
    if (value === false) return "False";
    if (Array.isArray(value)) return `[${value.map(python).join(", ")}]`;
    if (typeof value === "object") return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${python(v)}`).join(", ")}}`;
    return JSON.stringify(value);
  }

  // --- start -------------------------------------------------------------------------------------------

  const MODES = [
    { collection: "predictions", inputName: "Input", outputName: "Output", label: "Predict" },
    { collection: "trainings", inputName: "TrainingInput", outputName: "TrainingOutput", label: "Train" },
  ];

  function chooseMode(next) {
    mode = next;
    for (const tab of $("modes").children) tab.setAttribute("aria-selected", String(tab.dataset.collection === next.collection));
    $("output").replaceChildren();
    setStatus("idle");
    buildForm();
  }

  async function health() {
    try {
      const response = await fetch(api("health-check"));
      const body = await response.json();
      $("health").textContent = body.status;
      $("health").className = `badge ${body.status}`;
      return body;
    } catch (_) {
      $("health").textContent = "unreachable";
      return null;
    }
  }

  async function load() {
    for (;;) {
      const { status, setup } = (await health()) || {};
      const response = await fetch(api("openapi.json")).catch(() => null);
      if (response && response.ok) {
        schema = await response.json();
        break;
      }
      if (status === "SETUP_FAILED" || status === "DEFUNCT" || (response && response.status !== 503)) {
        $("load-error").hidden = false;
        $("load-error").textContent = response ? (await errorOf(response)).message : "the server does not answer";
        $("logs").textContent = (setup && setup.logs) || ""; // why setup() failed
        return;
      }
      await new Promise((resolveLater) => setTimeout(resolveLater, 1000));
    }
    const available = MODES.filter((m) => (schema.paths || {})[`/${m.collection}`] && deref(m.inputName).type);
    if (available.length > 1) {
      $("modes").hidden = false;
      $("modes").replaceChildren(...available.map((m) => el("button", {
        type: "button", role: "tab", "data-collection": m.collection, onclick: () => chooseMode(m),
      }, m.label)));
    }
    chooseMode(available[0] || MODES[0]);
    setInterval(health, 5000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("form").addEventListener("submit", run);
    $("form").addEventListener("input", () => { clearTimeout(updateSnippets.timer); updateSnippets.timer = setTimeout(updateSnippets, 200); });
    $("form").addEventListener("reset", () => setTimeout(() => { buildForm(); }, 0));
    $("cancel").addEventListener("click", cancel);
    load();
  });
})();
