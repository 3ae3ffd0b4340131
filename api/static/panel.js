// batchscore panel: upload, a live jobs table, notifications, job actions. No build step.
// The page talks to the same JSON API programs use; the session cookie authenticates it and
// every change carries the CSRF token from <meta name="csrf-token">.
"use strict";

const POLL_MS = 1500; // a status change shows within 2 s
const HIDDEN_POLL_MS = 5000; // a background tab still notifies, more slowly
const PAGE = 50;
const MAX_TOASTS = 3; // older notices make way: the stack never grows down the page
const TOAST_MS = 8000;
const FINISHED = new Set(["PROCESSED", "FAILED", "CANCELLED"]);
const STATUS_TEXT = { PENDING: "Pending", IN_PROGRESS: "In progress", PROCESSED: "Processed", FAILED: "Failed", CANCELLED: "Cancelled" };

const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;
const numberText = (n) => Number(n).toLocaleString();

// --- API calls -------------------------------------------------------------------------

async function api(method, url, body = null) {
  // body: a FormData (multipart, e.g. a file) or anything else, sent as JSON.
  const headers = { Accept: "application/json", "X-CSRF-Token": csrfToken() };
  if (body !== null && !(body instanceof FormData)) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === null || body instanceof FormData ? body : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    throw new Error("Your session has ended; sign in again.");
  }
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.status === 204 ? null : response.json();
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body.error.message;
  } catch {
    return `The server answered ${response.status} ${response.statusText}.`;
  }
}

// --- Toasts and browser notifications -------------------------------------------------

function toast(text, kind = "") {
  const box = document.getElementById("toasts");
  if (!box) return; // the sign-in page has none
  const item = document.createElement("div");
  item.className = "toast " + kind;
  const p = document.createElement("p");
  p.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => item.remove());
  item.append(p, close);
  box.prepend(item); // the newest first
  while (box.children.length > MAX_TOASTS) box.lastElementChild.remove();
  setTimeout(() => item.remove(), TOAST_MS);
}

function finishedText(job) {
  if (job.status === "PROCESSED") {
    const failed = job.rows_failed ? `${numberText(job.rows_failed)} with errors` : "no errors";
    return `${job.filename} is ready — ${numberText(job.rows_total ?? job.rows_done)} rows, ${failed}`;
  }
  if (job.status === "CANCELLED") return `${job.filename} was cancelled`;
  return `${job.filename} failed — ${job.error || "see the job for details"}`;
}

function announce(job) {
  const text = finishedText(job);
  toast(text, job.status);
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification("batchscore", { body: text, tag: `job-${job.id}` });
  }
}

function setUpNotificationButton() {
  const button = document.getElementById("enable-notifications");
  if (!button || !("Notification" in window) || Notification.permission !== "default") return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const answer = await Notification.requestPermission();
    button.hidden = true;
    toast(answer === "granted" ? "You will be notified when a job finishes." : "Notifications stay off.");
  });
}

// --- Upload ------------------------------------------------------------------------------

function setUpUpload() {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("file");
  const zone = document.getElementById("dropzone");
  const name = document.getElementById("file-name");
  const message = document.getElementById("upload-message");
  const model = document.getElementById("model");

  const showFile = () => {
    const file = input.files[0];
    name.textContent = file ? `${file.name} (${numberText(file.size)} bytes)` : "or drop it here";
    name.classList.toggle("chosen", Boolean(file));
  };
  input.addEventListener("change", showFile);
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      showFile();
    }
  });
  model.addEventListener("change", () => showFeatures(model));
  // One Idempotency-Key per file and choices: pressing Upload again after a lost answer finds
  // the job the first press made instead of queuing the file twice. Any change makes a new one.
  const newKey = () => (form.dataset.uploadKey = randomKey());
  newKey();
  form.addEventListener("change", newKey);
  form.addEventListener("input", newKey);
  zone.addEventListener("drop", newKey);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    message.className = "alert";
    message.textContent = "";
    const file = input.files[0];
    if (!file) return say(message, "Choose a file first: CSV, Excel, OpenDocument or parquet.", "error");
    if (file.size > Number(form.dataset.maxBytes)) {
      return say(message, `${file.name} is larger than the upload limit of ${numberText(form.dataset.maxBytes)} bytes.`, "error");
    }
    upload(form, file);
  });
}

function showFeatures(select) {
  const option = select.selectedOptions[0];
  const target = document.getElementById("model-features");
  target.textContent = "Needs columns: ";
  for (const feature of option.dataset.features.split(", ")) {
    const code = document.createElement("code");
    code.textContent = feature;
    target.append(code, " ");
  }
  document.getElementById("model-warning").textContent = option.dataset.warning;
}

function randomKey() {
  // crypto.randomUUID needs a secure context; getRandomValues works on a plain-http LAN host too.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function say(element, text, kind) {
  element.className = `alert alert-${kind}`;
  element.textContent = text;
}

function upload(form, file) {
  // XMLHttpRequest rather than fetch: it reports upload progress for large files.
  const button = document.getElementById("upload-button");
  const bar = document.getElementById("upload-progress");
  const message = document.getElementById("upload-message");
  const data = new FormData();
  data.append("file", file);
  data.append("model", form.elements.model.value);
  data.append("format", form.elements.format.value);
  for (const name of ["sheet", "encoding", "decimal"]) {
    const value = form.elements[name].value.trim();
    if (value) data.append(name, value);
  }
  if (!form.elements.warnings.checked) data.append("warnings", "false");
  const request = new XMLHttpRequest();
  request.open("POST", "/api/jobs");
  request.setRequestHeader("X-CSRF-Token", csrfToken());
  request.setRequestHeader("Accept", "application/json");
  request.setRequestHeader("Idempotency-Key", form.dataset.uploadKey);
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) bar.value = event.loaded / event.total;
  });
  request.addEventListener("loadend", () => {
    button.disabled = false;
    bar.hidden = true;
    let body = null;
    try {
      body = JSON.parse(request.responseText);
    } catch {
      body = null;
    }
    if (request.status === 201 || request.status === 200) {
      const readAs = body.read_as ? ` (read as ${body.read_as.text})` : "";
      const queued = request.status === 200 ? "was already queued" : "was queued";
      say(message, `${body.filename} ${queued} as job ${body.id}${readAs}.`, "ok");
      // Only the file is cleared: the model, format and options stay for the next upload.
      const input = document.getElementById("file");
      input.value = "";
      input.dispatchEvent(new Event("change", { bubbles: true }));
      table.watch(body);
      table.refresh();
    } else if (request.status === 0) {
      say(message, "The upload did not reach the server. Check your connection and try again.", "error");
    } else {
      const text = body && body.error ? body.error.message : `The server answered ${request.status}.`;
      say(message, text, "error");
    }
  });
  button.disabled = true;
  bar.value = 0;
  bar.hidden = false;
  request.send(data);
}

// --- The jobs table ----------------------------------------------------------------------

function duration(job) {
  if (job.duration_seconds != null) return seconds(job.duration_seconds);
  if (job.status === "IN_PROGRESS" && job.started_at) return seconds((Date.now() - Date.parse(job.started_at)) / 1000);
  return "—";
}

function seconds(s) {
  if (s < 0.05) return "< 0.1 s"; // not "0.0 s", which reads as if nothing ran
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function localTime(iso, options = { dateStyle: "medium", timeStyle: "short" }) {
  return iso ? new Date(iso).toLocaleString(undefined, options) : "—";
}

const SHORT_TIME = { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" };

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null));
  return node;
}

function actionButton(job, action, label, kind = "secondary") {
  return el("button", {
    type: "button", class: `${kind} small`, "data-action": action, "data-id": job.id,
    "data-name": job.filename, "aria-label": `${label} ${job.filename}`, text: label,
  });
}

function jobRow(job, expanded, owners) {
  const row = el("tr", { "data-id": job.id, "data-status": job.status, class: job.archived ? "archived" : "" });
  const link = el("a", { href: `/jobs/${job.id}` }, ...breakable(job.filename));
  const cells = [
    el("td", { class: "file-cell", "data-label": "File" }, link, el("span", { class: "sub", text: `#${job.id}` })),
    owners ? el("td", { class: "owner", "data-label": "Owner", text: job.owner || "—" }) : null,
    el("td", { class: "model", "data-label": "Model", text: modelText(job) }),
    el("td", { class: "when", "data-label": "Submitted", text: localTime(job.created_at, SHORT_TIME), title: localTime(job.created_at) }),
    el("td", { "data-label": "Status" },
      el("span", { class: `badge badge-${job.status}`, text: STATUS_TEXT[job.status] }),
      job.archived ? el("span", { class: "tag", text: "archived" }) : null,
      job.status === "FAILED" ? errorToggle(job, expanded) : null),
    el("td", { "data-label": "Progress" }, progressCell(job)),
    el("td", { class: "num", "data-label": "Rows failed", text: job.rows_total == null && !job.rows_failed ? "—" : numberText(job.rows_failed) }),
    el("td", { class: "num", "data-label": "Duration", text: duration(job) }),
    el("td", { class: "actions-cell" }, actionsCell(job)),
  ];
  row.append(...cells.filter((cell) => cell !== null));
  return row;
}

function progressCell(job) {
  if (job.status === "FAILED" && !job.rows_done) return el("span", { class: "sub", text: "—" });
  const bar = el("progress", { max: "1", value: String(job.progress), class: job.status, "aria-label": `Progress of ${job.filename}` });
  const done = job.rows_total != null
    ? `${numberText(job.rows_done)} / ${numberText(job.rows_total)} rows`
    : job.status === "PENDING" ? "waiting" : `${numberText(job.rows_done)} rows`;
  return el("div", { class: "progress" }, bar, el("span", { class: "sub", text: `${Math.round(job.progress * 100)}% · ${done}` }));
}

function errorToggle(job, expanded) {
  const toggle = actionButton(job, "toggle-error", expanded ? "Hide error" : "Show error", "link");
  toggle.setAttribute("aria-expanded", String(expanded));
  toggle.setAttribute("aria-controls", `error-${job.id}`);
  return el("span", { class: "sub" }, toggle);
}

function modelText(job) {
  if (job.kind === "train") return job.model_version ? `trained ${job.model} v${job.model_version}` : `training ${job.model}`;
  return `${job.model}${job.model_version ? " v" + job.model_version : " (active)"}`;
}

function actionsCell(job) {
  const box = el("div", { class: "actions" });
  if (job.result_url) {
    box.append(el("a", { class: "button small", href: job.result_url, download: "", "aria-label": `Download the result of ${job.filename}`, text: "Download" }));
  }
  if (job.status === "PENDING" || job.status === "IN_PROGRESS") box.append(actionButton(job, "cancel", "Cancel", "secondary"));
  if (job.status === "FAILED" || job.status === "CANCELLED") box.append(actionButton(job, "retry", "Retry", ""));
  box.append(actionButton(job, job.archived ? "unarchive" : "archive", job.archived ? "Unarchive" : "Archive"));
  if (job.status !== "IN_PROGRESS") box.append(actionButton(job, "delete", "Delete", "danger"));
  return box;
}

function errorRow(job, columns) {
  return el("tr", { class: "error-row", id: `error-${job.id}` }, el("td", { colspan: String(columns), "data-label": "Error", text: job.error || "" }));
}

function breakable(name) {
  // A long file name may wrap after _ - . or a space, not in the middle of a word.
  const parts = [];
  for (const piece of name.split(/(?<=[_\-. ])/)) parts.push(piece, document.createElement("wbr"));
  parts.pop();
  return parts;
}

class JobsTable {
  constructor(body, owners) {
    this.body = body;
    this.owners = owners; // an admin's table has an Owner column
    this.columns = owners ? 9 : 8;
    this.offset = 0;
    this.sort = "-created";
    this.seen = new Map(); // id → last JSON text, so unchanged rows (and focus) stay put
    this.statuses = new Map(); // id → last known status, to notice a job finishing
    this.expanded = new Set();
    this.first = true;
    this.timer = null;
  }

  watch(job) {
    this.statuses.set(job.id, job.status);
  }

  query() {
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(this.offset), sort: this.sort });
    const status = document.getElementById("status-filter").value;
    if (status) params.set("status", status);
    if (document.getElementById("show-archived").checked) params.set("archived", "true");
    const search = document.getElementById("search").value.trim();
    if (search) params.set("q", search);
    // The dates are the user's own days: midnight here, sent as UTC.
    const since = document.getElementById("since").value;
    const until = document.getElementById("until").value;
    if (since) params.set("since", new Date(`${since}T00:00`).toISOString());
    if (until) {
      const end = new Date(`${until}T00:00`);
      end.setDate(end.getDate() + 1); // the whole last day
      params.set("until", end.toISOString());
    }
    return "/api/jobs?" + params;
  }

  filtered() {
    return ["search", "since", "until", "status-filter"].some((id) => document.getElementById(id).value)
      || document.getElementById("show-archived").checked;
  }

  async refresh() {
    clearTimeout(this.timer);
    try {
      const page = await api("GET", this.query());
      this.render(page);
      await this.notice(page.jobs);
    } catch (error) {
      console.warn("refresh failed:", error);
    } finally {
      this.timer = setTimeout(() => this.refresh(), document.hidden ? HIDDEN_POLL_MS : POLL_MS);
    }
  }

  async notice(jobs) {
    // Jobs that were unfinished when last seen but are outside the current view: ask one by one.
    const shown = new Map(jobs.map((job) => [job.id, job]));
    for (const [id, status] of this.statuses) {
      if (!FINISHED.has(status) && !shown.has(id)) {
        try {
          shown.set(id, await api("GET", `/api/jobs/${id}`));
        } catch {
          this.statuses.delete(id); // deleted meanwhile
        }
      }
    }
    for (const job of shown.values()) {
      const before = this.statuses.get(job.id);
      if (!this.first && before && !FINISHED.has(before) && FINISHED.has(job.status)) announce(job);
      if (this.first || before || !FINISHED.has(job.status)) this.statuses.set(job.id, job.status);
    }
    this.first = false;
  }

  render(page) {
    const keep = new Set();
    let previous = null;
    for (const job of page.jobs) {
      keep.add(String(job.id));
      const expanded = this.expanded.has(job.id) && job.status === "FAILED";
      const text = JSON.stringify(job) + expanded;
      let row = this.body.querySelector(`tr[data-id="${job.id}"]`);
      if (!row || this.seen.get(job.id) !== text || job.status === "IN_PROGRESS") {
        const fresh = jobRow(job, expanded, this.owners);
        const focused = row && row.contains(document.activeElement) ? document.activeElement.dataset.action : null;
        if (row) row.replaceWith(fresh);
        row = fresh;
        if (focused) row.querySelector(`[data-action="${focused}"]`)?.focus();
        this.seen.set(job.id, text);
      }
      // Keep the order of the page: each row right after the previous one.
      const anchor = previous ? previous.nextSibling : this.body.firstChild;
      if (anchor !== row) this.body.insertBefore(row, anchor);
      previous = row;
      const detail = document.getElementById(`error-${job.id}`);
      if (expanded) {
        const fresh = errorRow(job, this.columns);
        if (detail) detail.replaceWith(fresh);
        row.after(fresh);
        previous = fresh;
      } else if (detail) {
        detail.remove();
      }
    }
    for (const row of [...this.body.querySelectorAll("tr[data-id]")]) {
      if (!keep.has(row.dataset.id)) {
        document.getElementById(`error-${row.dataset.id}`)?.remove();
        row.remove();
      }
    }
    const none = page.jobs.length === 0;
    document.getElementById("jobs-empty").hidden = !none || this.filtered();
    document.getElementById("jobs-none").hidden = !none || !this.filtered();
    const waiting = page.jobs.some((job) => job.status === "PENDING");
    document.getElementById("no-processor").hidden = !(waiting && page.processors === 0);
    const alive = document.getElementById("processors-alive");
    if (alive) alive.textContent = numberText(page.processors);
    if (none && page.total > 0 && this.offset > 0) {
      this.offset = Math.max(0, page.total - PAGE); // the last page emptied (deleted jobs)
      this.refresh();
    }
    const last = Math.min(page.offset + page.jobs.length, page.total);
    document.getElementById("page-text").textContent = page.total
      ? `${numberText(page.offset + 1)}–${numberText(last)} of ${numberText(page.total)}`
      : "";
    document.getElementById("previous").disabled = page.offset === 0;
    document.getElementById("next").disabled = last >= page.total;
  }

  sortBy(key) {
    // Another column sorts ascending (the newest first for dates); the same one turns around.
    const descending = this.sort === key || (this.sort !== `-${key}` && key === "created");
    this.sort = descending ? `-${key}` : key;
    for (const th of document.querySelectorAll("th[data-sort]")) {
      if (th.dataset.sort === key) th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
    this.reset();
  }

  reset() {
    this.offset = 0;
    this.seen.clear();
    this.body.replaceChildren();
    this.refresh();
  }
}

let table = null;

function setUpTable() {
  const body = document.getElementById("jobs-body");
  if (!body) return;
  table = new JobsTable(body, document.getElementById("jobs-table").hasAttribute("data-owners"));
  for (const id of ["status-filter", "show-archived", "since", "until"]) {
    document.getElementById(id).addEventListener("change", () => table.reset());
  }
  let typing = null;
  document.getElementById("search").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => table.reset(), 300); // one request when typing pauses
  });
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => table.sortBy(th.dataset.sort));
  }
  const turn = (step) => {
    table.offset = Math.max(0, table.offset + step * PAGE);
    table.seen.clear();
    table.body.replaceChildren();
    table.refresh();
  };
  document.getElementById("previous").addEventListener("click", () => turn(-1));
  document.getElementById("next").addEventListener("click", () => turn(1));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) table.refresh();
  });
  table.refresh();
}

// --- Job actions (jobs table and job page) ---------------------------------------------------

const ACTIONS = {
  cancel: (id) => api("POST", `/api/jobs/${id}/cancel`),
  retry: (id) => api("POST", `/api/jobs/${id}/retry`),
  archive: (id) => api("POST", `/api/jobs/${id}/archive`),
  unarchive: (id) => api("POST", `/api/jobs/${id}/unarchive`),
  delete: (id) => api("DELETE", `/api/jobs/${id}`),
};
const DONE_TEXT = { cancel: "cancelled", retry: "queued again", archive: "archived", unarchive: "unarchived", delete: "deleted" };

// Every failed job at once (an admin's: everyone's): the URL, and what the toast says of n jobs.
const BULK = {
  "retry-failed": ["/api/jobs/failed/retry", (n) => `${n} failed ${n === 1 ? "job" : "jobs"} queued again.`],
  "archive-failed": ["/api/jobs/failed/archive", (n) => `${n} failed ${n === 1 ? "job" : "jobs"} archived.`],
};

async function bulk(button, [url, said]) {
  button.disabled = true;
  try {
    const { job_ids: ids } = await api("POST", url);
    toast(ids.length ? said(numberText(ids.length)) : "There are no failed jobs.");
    table?.refresh();
  } catch (error) {
    toast(error.message, "FAILED");
  } finally {
    button.disabled = false;
  }
}

function confirmDelete(name) {
  const dialog = document.getElementById("confirm-delete");
  document.getElementById("confirm-name").textContent = name;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "delete"), { once: true });
  });
}

async function onAction(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const { action, id, name } = button.dataset;
  if (action === "toggle-error") {
    const jobId = Number(id);
    if (table.expanded.has(jobId)) table.expanded.delete(jobId);
    else table.expanded.add(jobId);
    table.refresh();
    return;
  }
  if (action === "activate") {
    await activate(button);
    return;
  }
  if (action in BULK) {
    await bulk(button, BULK[action]);
    return;
  }
  if (!(action in ACTIONS)) return;
  if (action === "delete" && !(await confirmDelete(name))) return;
  button.disabled = true;
  try {
    const job = await ACTIONS[action](id);
    toast(`${name} ${DONE_TEXT[action]}.`);
    if (job) table?.watch(job);
    if (table) table.refresh();
    else window.location.assign(action === "delete" ? "/" : window.location.pathname);
  } catch (error) {
    toast(`${name}: ${error.message}`, "FAILED");
    button.disabled = false;
  }
}

// --- Models: try a record, train / import / feed rows, activate ----------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function probabilityChart(probabilities) {
  // Horizontal bars, most likely first, laid out like the server's charts (api/charts.py).
  const items = Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
  const row = 26, labelW = 120, valueW = 64, width = 480, plotW = width - labelW - valueW;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${12 + row * items.length + 8}`, role: "img", "aria-label": "Probability of each class" });
  chart.append(svg("title", {}, "Probability of each class"));
  items.forEach(([label, p], i) => {
    const y = 12 + i * row, text = `${(p * 100).toFixed(1)}%`;
    chart.append(
      svg("text", { class: "label", x: labelW - 8, y: y + 16, "text-anchor": "end" }, label),
      svg("rect", { class: "bar", x: labelW, y: y + 4, height: row - 8, width: Math.max(plotW * p, 1).toFixed(1) }),
      svg("text", { class: "value", x: (labelW + plotW * p + 6).toFixed(1), y: y + 16 }, text),
    );
  });
  return chart;
}

function tryRecord(form) {
  const record = {};
  for (const input of form.querySelectorAll("[data-feature]")) {
    const value = input.value.trim();
    const kind = input.dataset.kind;
    record[input.dataset.feature] = value === "" ? null : kind === "number" ? Number(value) : kind === "boolean" ? value === "true" : value;
  }
  return record;
}

function setUpTryIt() {
  const form = document.getElementById("try-form");
  if (!form) return;
  const out = document.getElementById("try-result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const answer = await api("POST", `/api/models/${encodeURIComponent(form.dataset.model)}/predict`, tryRecord(form));
      const shown = typeof answer.prediction === "number" ? Number(answer.prediction).toLocaleString(undefined, { maximumSignificantDigits: 6 }) : String(answer.prediction);
      out.replaceChildren(
        el("p", { class: "prediction" }, el("span", { class: "sub", text: `v${answer.version} predicts` }), el("strong", { id: "try-prediction", text: shown })),
        answer.probabilities ? probabilityChart(answer.probabilities) : null,
      );
    } catch (error) {
      out.replaceChildren(el("p", { class: "alert alert-error", role: "alert", text: error.message }));
    } finally {
      button.disabled = false;
    }
  });
}

const MODEL_ROUTES = { train: "train", data: "data", import: "versions" };

function setUpModelForms() {
  for (const form of document.querySelectorAll("form[data-api-form]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const message = form.querySelector("[data-form-message]");
      const data = new FormData(form);
      const name = form.dataset.model || String(data.get("name") || "").trim();
      data.delete("name");
      for (const [key, value] of [...data.entries()]) if (value === "") data.delete(key);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      say(message, "Uploading…", "info");
      try {
        const answer = await api("POST", `/api/models/${encodeURIComponent(name)}/${MODEL_ROUTES[form.dataset.apiForm]}`, data);
        if (form.dataset.apiForm === "import") {
          const version = answer.versions[answer.versions.length - 1].version;
          return done(`/models/${name}`, `${name} v${version} imported.`);
        }
        await followModelJob(answer, message, name);
      } catch (error) {
        say(message, error.message, "error");
      } finally {
        button.disabled = false;
      }
    });
  }
}

async function followModelJob(job, message, name) {
  // Show the job's progress here until it ends: the new version, or why there is none.
  const bar = el("progress", { max: "1", value: "0", "aria-label": `Progress of job ${job.id}` });
  const line = el("span");
  message.className = "alert alert-info";
  message.replaceChildren(el("a", { href: `/jobs/${job.id}`, text: `Job #${job.id}` }), " ", line, bar);
  for (;;) {
    line.textContent = job.status === "PENDING" ? "is waiting for a processor." : `is ${Math.round(job.progress * 100)}% done.`;
    bar.value = job.progress;
    if (FINISHED.has(job.status)) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await api("GET", `/api/jobs/${job.id}`);
  }
  if (job.status === "PROCESSED") {
    return done(`/models/${name}`, `${name} v${job.model_version} is ready: its scores are in the table of versions.`);
  }
  say(message, `Job #${job.id} ${job.status === "FAILED" ? "failed" : "was cancelled"}: ${job.error || "see the job"}`, "error");
}

function done(url, text) {
  // Go to the page that shows what changed; the toast says what it is once there.
  sessionStorage.setItem("batchscore-flash", text);
  window.location.assign(url);
}

function showFlash() {
  const text = sessionStorage.getItem("batchscore-flash");
  if (!text) return;
  sessionStorage.removeItem("batchscore-flash");
  toast(text, "PROCESSED");
}

async function activate(button) {
  const { model, version } = button.dataset;
  button.disabled = true;
  try {
    await api("POST", `/api/models/${encodeURIComponent(model)}/versions/${version}/activate`);
    done(window.location.pathname, `${model} v${version} now predicts.`);
  } catch (error) {
    toast(error.message, "FAILED");
    button.disabled = false;
  }
}

// --- Job page: follow a running job; tokens page: copy ----------------------------------------

function followJob() {
  const card = document.getElementById("job");
  if (!card || FINISHED.has(card.dataset.status)) return;
  const poll = async () => {
    try {
      const job = await api("GET", `/api/jobs/${card.dataset.jobId}`);
      if (job.status !== card.dataset.status) {
        if (FINISHED.has(job.status)) announce(job);
        window.location.reload();
        return;
      }
    } catch (error) {
      console.warn(error);
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}

function setUpCopy() {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Press Ctrl+C";
      }
    });
  }
}

function localTimes() {
  for (const time of document.querySelectorAll("time[data-local]")) {
    time.title = time.textContent;
    time.textContent = localTime(time.getAttribute("datetime"));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpUpload();
  setUpTable();
  setUpNotificationButton();
  setUpCopy();
  setUpTryIt();
  setUpModelForms();
  showFlash();
  localTimes();
  followJob();
  document.addEventListener("click", onAction);
});
