"use strict";
// cog server's UI: models, their packages, a package's files, config, images and builds (live, with their logs
// streaming), retry and delete for a token holder. Only the public /v1/ API (docs/server-api.md).
(() => {
  const { el, copyable, bytes, shellQuote, errorOf, follow } = cogWeb;
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "cog-server-token";
  const LIVE_INTERVAL = 2000; // ms between looks at a package whose builds run
  const base = new URL(".", location.href);
  const api = (path) => new URL(path.replace(/^\//, ""), base).href;
  const modelPath = (model) => model.split("/").map(encodeURIComponent).join("/");
  let leave = () => {}; // stops what the current view keeps doing (polling, a followed log)

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  async function request(path, options = {}) {
    const headers = { ...(options.headers || {}) };
    if (token() && options.method && options.method !== "GET") headers.Authorization = `Bearer ${token()}`;
    const response = await fetch(api(path), { ...options, headers });
    if (!response.ok) {
      const error = new Error((await errorOf(response)).message);
      error.status = response.status;
      throw error;
    }
    return response.status === 204 ? null : response.json();
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "";
  }

  /** REPOSITORY@DIGEST: exactly what was built, whatever its tag points at later (as `cog show` prints it). */
  function reference(build) {
    return `${build.image.replace(/:[^:/]*$/, "")}@${build.digest}`;
  }

  function badge(status) {
    return el("span", { class: `badge ${status}`, "data-status": status }, status);
  }

  function table(headings, rows, label) {
    return el("table", { "aria-label": label },
      el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col", class: h.num ? "num" : null }, h.text || h)))),
      el("tbody", {}, rows));
  }

  function show(...nodes) {
    $("view").replaceChildren(...nodes.filter(Boolean));
  }

  function failed(error) {
    show(el("p", { class: "error", role: "alert" }, error.message));
  }

  // --- views -------------------------------------------------------------------------------------------

  async function models() {
    const packages = await request("v1/packages");
    const byModel = new Map();
    for (const found of packages) {
      if (!byModel.has(found.model)) byModel.set(found.model, []);
      byModel.get(found.model).push(found);
    }
    const rows = [...byModel].map(([model, list]) => el("tr", {},
      el("td", {}, el("a", { href: `#/models/${modelPath(model)}` }, model)),
      el("td", { class: "num" }, String(list.length)),
      el("td", {}, when(list[0].created_at)),
      el("td", {}, list[0].builds.map((build) => [`${build.variant} `, badge(build.status), " "]))));
    show(el("h2", {}, "Models"), rows.length ? table(["Model", { text: "Packages", num: true }, "Latest", "Latest images"], rows, "Models")
      : el("p", { class: "muted" }, "No packages yet: push one with cog build in a project whose repo is this server (cog repo set)."));
  }

  async function model(name) {
    const packages = await request(`v1/models/${modelPath(name)}/packages`);
    const rows = packages.map((found) => el("tr", { "data-package": found.id },
      el("td", {}, el("a", { href: `#/models/${modelPath(name)}/packages/${found.id}`, class: "mono" }, found.id.slice(0, 12))),
      el("td", {}, when(found.created_at)),
      el("td", { class: "num" }, bytes(found.size)),
      el("td", { class: "num" }, String(found.files)),
      el("td", {}, found.builds.map((build) => [`${build.variant} `, badge(build.status), " "]))));
    show(el("p", {}, el("a", { href: "#/" }, "Models"), " / "), el("h2", {}, name),
      rows.length ? table(["Package", "Created", { text: "Size", num: true }, { text: "Files", num: true }, "Images"], rows, "Packages")
        : el("p", { class: "muted" }, "No packages."));
  }

  async function packageView(name, id) {
    const root = `v1/models/${modelPath(name)}/packages/${encodeURIComponent(id)}`;
    let detail = await request(root);
    const builds = el("div");
    const log = el("pre", { class: "logs", id: "build-log", tabindex: "0", "aria-label": "Build log" });
    const logTitle = el("h3", { id: "log-title" }, "Build log");
    let following = null; // {variant, controller}
    let timer = null;
    let stopped = false;
    leave = () => {
      stopped = true;
      clearTimeout(timer);
      if (following) following.controller.abort();
    };

    const followLog = async (variant) => {
      if (following) following.controller.abort();
      const controller = new AbortController();
      following = { variant, controller };
      logTitle.textContent = `Build log (${variant})`;
      log.textContent = "";
      try {
        const response = await fetch(api(`${root}/builds/${variant}/log?follow=true`), { signal: controller.signal });
        if (!response.ok) {
          log.textContent = (await errorOf(response)).message;
          return;
        }
        await follow(response, (text) => {
          const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
          log.append(text);
          if (atEnd) log.scrollTop = log.scrollHeight;
        });
      } catch (error) {
        if (error.name !== "AbortError") log.append(`\n(the log stopped: ${error.message})`);
      }
    };

    const commands = el("div", { id: "commands" });
    const renderBuilds = () => {
      const built = detail.builds.find((build) => build.status === "succeeded" && build.digest);
      commands.replaceChildren(...[
        copyable("Run a prediction", `cog remote set ${shellQuote(location.origin)}\ncog infer ${detail.id.slice(0, 12)} -i ...`),
        copyable("Download", `cog download ${detail.id.slice(0, 12)}`),
        built ? copyable("Docker", `docker run -p 5000:5000 ${shellQuote(reference(built))}`) : null,
      ].filter(Boolean));
      const rows = detail.builds.map((build) => el("tr", { "data-variant": build.variant },
        el("td", {}, build.variant),
        el("td", {}, badge(build.status), build.attempt > 1 ? el("span", { class: "muted" }, ` attempt ${build.attempt}`) : null),
        el("td", { class: "mono" }, build.digest ? reference(build) : build.image),
        el("td", {}, (build.platforms || []).join(", ")),
        el("td", {}, build.error ? el("span", { class: "error" }, build.error) : ""),
        el("td", {},
          el("button", { type: "button", onclick: () => followLog(build.variant) }, "Log"),
          build.status === "failed" && token() ? el("button", {
            type: "button", class: "retry", onclick: async () => {
              try {
                detail = await request(`${root}/builds/${build.variant}/retry`, { method: "POST" });
                renderBuilds();
                watch();
                followLog(build.variant);
              } catch (error) {
                alertMessage(error.message);
              }
            },
          }, "Retry") : null)));
      builds.replaceChildren(rows.length ? table(["Variant", "Status", "Image", "Platforms", "Error", ""], rows, "Images")
        : el("p", { class: "muted" }, "This server builds no images."));
    };

    const unfinished = () => detail.builds.some((build) => build.status === "queued" || build.status === "building");
    const watch = () => {
      clearTimeout(timer);
      if (stopped || !unfinished()) return;
      timer = setTimeout(async () => {
        try {
          detail = await request(root);
          renderBuilds();
        } catch (error) {
          if (error.status === 404) return failed(error);
        }
        watch();
      }, LIVE_INTERVAL);
    };

    const files = detail.manifest.files.map((entry) => el("tr", {},
      el("td", { class: "mono" }, el("a", { href: api(`${root}/files/${entry.path.split("/").map(encodeURIComponent).join("/")}`) }, entry.path)),
      el("td", { class: "num" }, bytes(entry.size)),
      el("td", { class: "mono" }, (entry.mode & 0o777).toString(8))));
    const config = el("pre", { class: "code", id: "cog-yaml", "aria-label": "cog.yaml" });
    const remove = token() ? el("button", {
      type: "button", class: "danger", id: "delete", onclick: async () => {
        if (!confirm(`Delete package ${detail.id.slice(0, 12)} of ${name}?`)) return;
        try {
          await request(`v1/models/${modelPath(name)}/packages/${detail.id}`, { method: "DELETE" });
          location.hash = `#/models/${modelPath(name)}`;
        } catch (error) {
          alertMessage(error.message);
        }
      },
    }, "Delete package") : null;

    show(
      el("p", {}, el("a", { href: "#/" }, "Models"), " / ", el("a", { href: `#/models/${modelPath(name)}` }, name), " /"),
      el("h2", { class: "mono", id: "package-id" }, detail.id),
      el("p", { class: "muted" }, `created ${when(detail.created_at)} · ${bytes(detail.size)} · ${detail.files} files`),
      remove,
      el("h3", {}, "Images"), builds, ...(detail.builds.length ? [logTitle, log] : []),
      el("h3", {}, "Commands"), commands,
      el("h3", {}, "cog.yaml"), config,
      el("h3", {}, "Files"), table(["Path", { text: "Size", num: true }, "Mode"], files, "Files"),
    );
    renderBuilds();
    watch();
    const first = detail.builds.find((build) => build.status !== "succeeded") || detail.builds[0];
    if (first) followLog(first.variant);
    fetch(api(`${root}/files/cog.yaml`)).then((response) => (response.ok ? response.text() : JSON.stringify(detail.config, null, 2)))
      .then((text) => { config.textContent = text; });
  }

  function alertMessage(message) {
    $("login-error").hidden = false;
    $("login-error").textContent = message;
  }

  // --- login and routing -------------------------------------------------------------------------------

  function showLogin() {
    $("login").hidden = Boolean(token());
    $("logged-in").hidden = !token();
  }

  async function logIn(event) {
    event.preventDefault();
    const candidate = $("token").value.trim();
    $("login-error").hidden = true;
    const response = await fetch(api("v1/auth"), { headers: { Authorization: `Bearer ${candidate}` } });
    if (!response.ok) return alertMessage((await errorOf(response)).message);
    sessionStorage.setItem(TOKEN_KEY, candidate);
    $("token").value = "";
    showLogin();
    route();
  }

  const ROUTES = [
    [/^#?\/?$/, () => models()],
    [/^#\/models\/([^/]+\/[^/]+)$/, (m) => model(decodeURIComponent(m[1]))],
    [/^#\/models\/([^/]+\/[^/]+)\/packages\/([0-9a-f]+)$/, (m) => packageView(decodeURIComponent(m[1]), m[2])],
  ];

  async function route() {
    leave();
    leave = () => {};
    const found = ROUTES.find(([pattern]) => pattern.test(location.hash));
    if (!found) return failed(new Error(`There is no page ${location.hash}`));
    try {
      await found[1](found[0].exec(location.hash));
    } catch (error) {
      failed(error);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("submit", logIn);
    $("logout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showLogin(); route(); });
    window.addEventListener("hashchange", route);
    request("v1/health").then((health) => { $("server").textContent = `${location.host} · cog ${health.version}`; })
      .catch((error) => { $("server").textContent = error.message; });
    showLogin();
    route();
  });
})();
