"use strict";
// Shared by the playground and the cog server UI. Every page is built with textContent and DOM properties:
// nothing a model or a package controls (names, descriptions, logs, outputs) is ever parsed as HTML, and links
// and media only take http(s), data: and blob: URLs.
const cogWeb = (() => {
  const SAFE_PROTOCOLS = ["http:", "https:", "data:", "blob:"];

  /** A URL that is safe to put in href/src, absolute; null for javascript: and anything else. */
  function safeUrl(url) {
    try {
      const parsed = new URL(String(url), location.href);
      return SAFE_PROTOCOLS.includes(parsed.protocol) ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  /** el("a", {href: url, class: "x", onclick: f}, "text", child): an element; strings become text nodes. */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (typeof value === "function") {
        node.addEventListener(key.replace(/^on/, ""), value);
      } else if (key === "href" || key === "src") {
        const url = safeUrl(value);
        if (url) node.setAttribute(key, url);
      } else if (key === "text") {
        node.textContent = String(value);
      } else {
        node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Server-sent events of a fetch response, as {event, data} with data parsed as JSON. Scans each chunk
   * once, so a 20 MB event costs no more than reading it. */
  async function* events(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = [];
    let endedWithNewline = false;
    const take = () => {
      const block = pending.join("");
      pending = [];
      return parseEvent(block);
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let from = 0;
      if (endedWithNewline && value.startsWith("\n")) {
        const event = take();
        if (event) yield event;
        from = 1;
      }
      let end;
      while ((end = value.indexOf("\n\n", from)) !== -1) {
        pending.push(value.slice(from, end));
        const event = take();
        if (event) yield event;
        from = end + 2;
      }
      if (from < value.length) pending.push(value.slice(from));
      endedWithNewline = value.endsWith("\n") && from < value.length;
    }
    if (pending.length) {
      const event = take();
      if (event) yield event;
    }
  }

  function parseEvent(block) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (!data.length) return null;
    return { event, data: JSON.parse(data.join("\n")) };
  }

  /** The text of a response that grows (a chunked log), piece by piece, to onText. */
  async function follow(response, onText) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onText(value);
    }
  }

  /** A block of copyable text with its own button. */
  function copyable(label, text) {
    const code = el("pre", { class: "code", tabindex: "0", "aria-label": label }, text);
    const button = el("button", {
      type: "button", class: "copy", "aria-label": `Copy ${label}`,
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(code.textContent);
          button.textContent = "Copied";
        } catch (_) {
          const range = document.createRange();
          range.selectNodeContents(code);
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          button.textContent = "Selected";
        }
        setTimeout(() => { button.textContent = "Copy"; }, 1500);
      },
    }, "Copy");
    return el("div", { class: "copyable" }, el("div", { class: "copyable-head" }, el("span", {}, label), button), code);
  }

  /** 1536 → "1.5 KB". */
  function bytes(size) {
    if (typeof size !== "number") return "";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let value = size;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
  }

  /** 'it''s' quoting for POSIX shells. */
  function shellQuote(text) {
    const value = String(text);
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
  }

  /** A prediction's or a build's random id, as the servers make them (crypto.randomUUID needs a secure context). */
  function newId() {
    const raw = new Uint8Array(16);
    crypto.getRandomValues(raw);
    return Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** The message of an error answer: {"detail": "..."} or FastAPI's [{"loc", "msg"}], else the status line. */
  async function errorOf(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      // not JSON: the status says it
    }
    return { status: response.status, body, message: describe(body, response) };
  }

  function describe(body, response) {
    const detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((item) => `${(item.loc || []).join(".")}: ${item.msg}`).join("; ");
    return `${response.status} ${response.statusText}`;
  }

  return { el, safeUrl, events, follow, copyable, bytes, shellQuote, newId, errorOf };
})();
