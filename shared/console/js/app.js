// The console: hash routes over the public /v2 API (docs/console.md).
import config from "../config.js";
import { Api, ApiError, session } from "./api.js";
import { Chart, numeric } from "./chart.js";
import { facts, field, formatValue, h, isoTime, select, table } from "./dom.js";

const api = new Api(config.apiUrl);
const main = document.getElementById("main");
const statusBox = document.getElementById("status");
const errorBox = document.getElementById("error");
const nav = document.getElementById("nav");

const RANGES = [["900000", "Last 15 minutes"], ["3600000", "Last hour"], ["21600000", "Last 6 hours"], ["86400000", "Last 24 hours"], ["604800000", "Last 7 days"], ["2592000000", "Last 30 days"], ["custom", "Custom range"]];
const INTERVALS = [["raw", "Raw readings (history)"], ["1m", "1 minute"], ["5m", "5 minutes"], ["15m", "15 minutes"], ["1h", "1 hour"], ["6h", "6 hours"], ["1d", "1 day"]];
const AGGREGATIONS = [["", "Metric's default"], ["Avg", "Average"], ["Min", "Minimum"], ["Max", "Maximum"], ["Sum", "Sum"], ["First", "First"], ["Last", "Last"], ["Count", "Count"]];
const CHARTABLE = new Set(["Double", "Int", "Bool"]);
const MAX_POINTS = 100000;
const REFRESH_MS = 10000;

let cleanup = [];

function say(text) {
  statusBox.textContent = text;
}

function showError(err) {
  errorBox.replaceChildren();
  if (!err) {
    errorBox.hidden = true;
    return;
  }
  const status = err instanceof ApiError && err.status ? ` (HTTP ${err.status})` : "";
  errorBox.append(h("p", {}, h("strong", {}, `${err.title || "Error"}${status}`), err.detail ? `: ${err.detail}` : err instanceof ApiError ? "" : `: ${err.message}`));
  if (err.errors && err.errors.length) {
    errorBox.append(h("ul", {}, err.errors.slice(0, 20).map((e) => h("li", {}, e.path ? `${e.path}: ${e.message}` : e.message))));
  }
  errorBox.hidden = false;
  if (err instanceof ApiError && err.status === 401 && session.key) {
    errorBox.append(h("p", {}, "The key was refused. ", h("button", { type: "button", class: "link-button", onclick: signOut }, "Sign in again")));
  }
}

function signOut() {
  session.signOut();
  location.hash = "#/signin";
  route();
}

function heading(text) {
  return h("h1", { id: "page-title" }, text);
}

function page(title, ...content) {
  document.title = `${title} · Telemetry console`;
  main.replaceChildren(heading(title), ...content);
}

// ------------------------------------------------------------------ sign in

function signInView() {
  const key = h("input", { type: "password", autocomplete: "off", spellcheck: "false", required: true });
  const form = h(
    "form",
    { class: "stack", id: "sign-in-form" },
    field("api-key", "API key", key, "The key `make run` printed (avy_…). It is kept in this browser tab only, and forgotten when the tab closes or you sign out."),
    h("div", {}, h("button", { type: "submit" }, "Sign in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = key.value.trim();
    showError(null);
    say("Checking the key…");
    try {
      await api.request("GET", "/v2/sites", { params: { pageLimit: 1 }, key: value });
    } catch (err) {
      // 403: a valid key without places:read; it may still read other things
      if (!(err instanceof ApiError && err.status === 403)) {
        say("");
        showError(err);
        key.focus();
        return;
      }
    }
    session.signIn(value);
    say("Signed in.");
    location.hash = "#/places";
  });
  page("Sign in", h("p", {}, "Sign in with an API key of your organization."), form);
}

// ------------------------------------------------------------------ places and things

function placeLink(kind, place) {
  return h("a", { href: `#/places/${kind}/${encodeURIComponent(place.id)}` }, place.name || place.id);
}

async function placesView() {
  page("Places", h("p", {}, "Loading places…"));
  const [sites, fleets] = await Promise.allSettled([api.all("/v2/sites"), api.all("/v2/fleets")]);
  const sections = [];
  for (const [kind, title, result] of [["sites", "Sites", sites], ["fleets", "Fleets", fleets]]) {
    sections.push(h("h2", {}, title));
    if (result.status === "rejected") {
      sections.push(h("p", { class: "error" }, result.reason.message));
      continue;
    }
    sections.push(
      result.value.length
        ? table(title, ["Name", "Description", "Id"], result.value.map((p) => [placeLink(kind, p), p.description || "", p.id]))
        : h("p", {}, `No ${kind} yet.`),
    );
  }
  page("Places", ...sections);
  say(`${sites.value ? sites.value.length : 0} sites, ${fleets.value ? fleets.value.length : 0} fleets.`);
}

async function placeView(kind, placeId) {
  const [place, things] = await Promise.all([
    api.get(`/v2/${kind}/${encodeURIComponent(placeId)}`),
    api.all(`/v2/${kind}/${encodeURIComponent(placeId)}/things`),
  ]);
  page(
    place.name || place.id,
    h("p", {}, h("a", { href: "#/places" }, "All places")),
    facts([["Kind", kind === "sites" ? "Site" : "Fleet"], ["Id", place.id], ["Description", place.description], ["Address", place.address], ["Timezone", place.timezone]]),
    h("h2", {}, "Things"),
    things.length
      ? table("Things", ["Name", "Type", "Id"], things.map((t) => [h("a", { href: `#/things/${encodeURIComponent(t.id)}` }, t.thingName || t.id), t.thingType || t.thingTypeId || "—", t.id]))
      : h("p", {}, "No things in this place yet."),
  );
  say(`${things.length} things.`);
}

// The thing's metric definitions (its type version's), chartable ones first; else the latest event's names.
async function thingMetrics(thing, latest) {
  try {
    if (thing.thingTypeId) {
      const [type, definitions] = await Promise.all([api.get(`/v2/definitions/thing-types/${encodeURIComponent(thing.thingTypeId)}`), api.all("/v2/definitions/metrics")]);
      const version = (type.versions || []).find((v) => v.id === thing.thingTypeVersionId) || (type.versions || []).at(-1);
      const byId = new Map(definitions.map((d) => [d.id, d]));
      const metrics = (version ? version.metricIds : []).map((id) => byId.get(id)).filter(Boolean);
      if (metrics.length) return metrics;
    }
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403)) throw err;
  }
  return Object.keys(latest.metrics || {}).map((name) => ({ name, dataType: "Double" }));
}

function latestSection(latest) {
  const names = Object.keys(latest.metrics || {});
  return h(
    "section",
    { "aria-labelledby": "latest-title" },
    h("h2", { id: "latest-title" }, "Latest event"),
    latest.timestamp === null || latest.timestamp === undefined
      ? h("p", {}, "No readings yet.")
      : [h("p", {}, "At ", h("time", { datetime: latest.time }, latest.time)), table("Latest event", ["Metric", "Value"], names.map((n) => [n, h("td", { class: "num" }, formatValue(latest.metrics[n]))]))],
  );
}

// epoch ms as a datetime-local input's value (local time, to the second)
function localInput(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

async function thingView(thingId) {
  const id = encodeURIComponent(thingId);
  const [thing, latest] = await Promise.all([api.get(`/v2/things/${id}`), api.get(`/v2/things/${id}/latest-event`)]);
  const metrics = await thingMetrics(thing, latest);
  const chartable = metrics.filter((m) => CHARTABLE.has(m.dataType));
  const latestBox = h("div", {}, latestSection(latest));
  const placeKind = thing.placeKind === "Fleet" || thing.placeKind === "fleet" ? "fleets" : "sites";

  const metricPicker = select(chartable.map((m) => [m.name, m.displayName ? `${m.displayName} (${m.name})` : m.name]), chartable[0] && chartable[0].name);
  const intervalPicker = select(INTERVALS, "raw");
  const aggregationPicker = select(AGGREGATIONS, "");
  const rangePicker = select(RANGES, "86400000");
  const start = h("input", { type: "datetime-local", step: "1" });
  const end = h("input", { type: "datetime-local", step: "1" });
  const customRange = h("div", { class: "controls", hidden: true }, field("range-start", "From (local time)", start), field("range-end", "To (local time)", end));
  const autoRefresh = h("input", { type: "checkbox", id: "auto-refresh" });
  const chartBox = h("div", { class: "chart", id: "chart", role: "img", "aria-label": "Line chart" });
  const tableBox = h("div", {});
  const summary = h("p", { class: "hint", id: "chart-summary" });
  const chart = new Chart(chartBox);
  cleanup.push(() => chart.dispose());

  aggregationPicker.disabled = true;
  intervalPicker.addEventListener("change", () => {
    aggregationPicker.disabled = intervalPicker.value === "raw";
  });
  rangePicker.addEventListener("change", () => {
    customRange.hidden = rangePicker.value !== "custom";
    if (!customRange.hidden && !start.value && !end.value) {
      // start from the last 24 hours, in the inputs' local time
      start.value = localInput(Date.now() - 86400000);
      end.value = localInput(Date.now());
    }
  });

  function range() {
    if (rangePicker.value === "custom") {
      const from = Date.parse(start.value);
      const to = Date.parse(end.value);
      if (Number.isNaN(from) || Number.isNaN(to)) throw new Error("Give both ends of the custom range.");
      return [from, to];
    }
    const now = Date.now() + 1000; // end is exclusive
    return [now - Number(rangePicker.value), now];
  }

  async function series(metric, from, to) {
    const timestamps = [];
    const values = [];
    if (intervalPicker.value === "raw") {
      let token;
      do {
        const pageOf = await api.get(`/v2/things/${id}/history`, { start: from, end: to, metrics: metric, order: "asc", pageLimit: 1000, continuationToken: token });
        for (const frame of pageOf.frames) {
          timestamps.push(frame.timestamp);
          values.push(numeric(frame.metrics[metric]));
        }
        token = pageOf.continuationToken;
      } while (token && timestamps.length < MAX_POINTS);
      return { timestamps, values, note: token ? ` (the first ${timestamps.length}; narrow the range or pick an interval)` : "" };
    }
    const answer = await api.get(`/v2/things/${id}/aggregates`, { start: from, end: to, metrics: metric, interval: intervalPicker.value, aggregation: aggregationPicker.value });
    for (const bucket of answer.buckets) {
      timestamps.push(bucket.timestamp);
      values.push(numeric(bucket.metrics[metric]));
    }
    return { timestamps, values, note: ` (${answer.aggregations[metric] || "aggregated"} per ${answer.interval})` };
  }

  async function load() {
    const metric = metricPicker.value;
    if (!metric) return;
    const definition = chartable.find((m) => m.name === metric) || {};
    const [from, to] = range();
    say(`Loading ${metric}…`);
    const { timestamps, values, note } = await series(metric, from, to);
    chart.draw(timestamps, values, { label: metric, unit: definition.unitLabel });
    summary.textContent = `${timestamps.length} points of ${metric}${note}.`;
    const recent = timestamps.map((t, i) => [t, values[i]]).slice(-100).reverse();
    tableBox.replaceChildren(
      h("details", {}, h("summary", {}, `Data as a table (the latest ${recent.length})`), table(`${metric} readings`, ["Time", metric], recent.map(([t, v]) => [isoTime(t), h("td", { class: "num" }, formatValue(v))]))),
    );
    say(`Chart shows ${timestamps.length} points.`);
  }

  async function refresh() {
    try {
      const fresh = await api.get(`/v2/things/${id}/latest-event`);
      latestBox.replaceChildren(latestSection(fresh));
      await load();
    } catch (err) {
      showError(err);
    }
  }

  const form = h(
    "form",
    { class: "controls", id: "chart-form", "aria-label": "Chart settings" },
    field("metric", "Metric", metricPicker),
    field("interval", "Interval", intervalPicker),
    field("aggregation", "Aggregation", aggregationPicker),
    field("range", "Time range", rangePicker),
    h("div", {}, h("button", { type: "submit" }, "Show")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(null);
    try {
      await load();
    } catch (err) {
      say("");
      showError(err);
    }
  });

  let timer = null;
  autoRefresh.addEventListener("change", () => {
    clearInterval(timer);
    timer = autoRefresh.checked ? setInterval(refresh, REFRESH_MS) : null;
    say(autoRefresh.checked ? "Auto-refresh on (every 10 s)." : "Auto-refresh off.");
    if (autoRefresh.checked) refresh(); // now, then every 10 s
  });
  cleanup.push(() => clearInterval(timer));

  const zoomControls = h(
    "div",
    { class: "controls", role: "group", "aria-label": "Zoom" },
    h("button", { type: "button", class: "secondary", id: "zoom-in", onclick: () => chart.zoom(0.5) }, "Zoom in"),
    h("button", { type: "button", class: "secondary", id: "zoom-out", onclick: () => chart.zoom(2) }, "Zoom out"),
    h("button", { type: "button", class: "secondary", id: "zoom-reset", onclick: () => chart.reset() }, "Reset zoom"),
    h("div", { class: "field check" }, autoRefresh, h("label", { for: "auto-refresh" }, "Auto-refresh (every 10 s)")),
  );

  page(
    thing.thingName || thing.id,
    h("p", {}, h("a", { href: `#/places/${placeKind}/${encodeURIComponent(thing.placeId)}` }, "Back to its place")),
    facts([["Id", thing.id], ["Type", thing.thingType || thing.thingTypeId || "none"], ["Serial number", thing.serialNumber], ["Properties", Object.keys(thing.properties || {}).length ? JSON.stringify(thing.properties) : null]]),
    latestBox,
    h(
      "section",
      { "aria-labelledby": "chart-title" },
      h("h2", { id: "chart-title" }, "Chart"),
      chartable.length
        ? [form, customRange, zoomControls, h("p", { class: "hint" }, "Drag across the chart to zoom into a time span; the buttons zoom from the keyboard."), chartBox, summary, tableBox]
        : h("p", {}, "This thing has no numeric metric to chart."),
    ),
  );
  if (chartable.length) await load();
}

// ------------------------------------------------------------------ template playground

function reportFacts(report) {
  return facts(
    Object.entries(report)
      .filter(([k, v]) => !["readings", "transactions", "recordsSkipped"].includes(k) && (typeof v !== "object" || v === null || Array.isArray(v)))
      .map(([k, v]) => [k, Array.isArray(v) ? (v.length ? v.join(", ") : "none") : formatValue(v)]),
  );
}

function readingsTable(readings, names) {
  if (!Array.isArray(readings)) return h("pre", {}, JSON.stringify(readings, null, 2));
  const columns = [...new Set(readings.flatMap((r) => Object.keys(r.metrics || {})))];
  return table(
    "Readings it would write",
    ["Time", ...columns.map((c) => (names.get(c) ? `${names.get(c)} (${c})` : c))],
    readings.map((r) => [r.time || isoTime(r.timestamp), ...columns.map((c) => h("td", { class: "num" }, formatValue((r.metrics || {})[c])))]),
  );
}

async function playgroundView() {
  const templates = (await api.all("/v2/templates")).filter((t) => t.status !== "deleted");
  if (!templates.length) {
    page("Template playground", h("p", {}, "No templates yet: create one with POST /v2/templates (docs/templates.md)."));
    return;
  }
  let names = new Map();
  try {
    names = new Map((await api.all("/v2/definitions/metrics")).map((m) => [m.id, m.name]));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403)) throw err;
  }
  const picker = select(templates.map((t) => [t.id, `${t.name} (${t.target}, ${t.format})`]), templates[0].id);
  const payload = h("textarea", { spellcheck: "false", rows: "12" }, '{\n  "readings": []\n}');
  const output = h("div", { id: "playground-result", "aria-live": "polite" });
  const specBox = h("details", {}, h("summary", {}, "The template's spec"), h("pre", { id: "template-spec" }));
  const showSpec = () => {
    const t = templates.find((x) => x.id === picker.value);
    specBox.querySelector("pre").textContent = JSON.stringify(t ? t.spec : {}, null, 2);
  };
  picker.addEventListener("change", showSpec);
  showSpec();
  const form = h(
    "form",
    { id: "playground-form" },
    h("div", { class: "controls" }, field("template", "Template", picker)),
    specBox,
    field("payload", "Payload (JSON, sent as is)", payload, "The external payload the template maps. Nothing is written: this is POST /v2/templates/{id}/test."),
    h("div", {}, h("button", { type: "submit" }, "Run test")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(null);
    output.replaceChildren();
    say("Running the template…");
    try {
      const report = await api.request("POST", `/v2/templates/${encodeURIComponent(picker.value)}/test`, { rawBody: payload.value });
      const written = report.readings ?? report.transactions ?? [];
      const skipped = report.recordsSkipped || [];
      const parts = [
        h("h2", { id: "report-title" }, "Report"),
        reportFacts(report),
        skipped.length ? [h("h2", {}, "Records skipped"), table("Records skipped", ["Record", "Reason", "Value"], skipped.map((s) => [formatValue(s.index), formatValue(s.reason), formatValue(s.value)]))] : [],
        h("h2", {}, report.transactions ? "Transactions it would record" : "Readings it would write"),
        Array.isArray(written) && !written.length ? h("p", {}, "None.") : readingsTable(written, names),
        h("details", {}, h("summary", {}, "Raw answer"), h("pre", {}, JSON.stringify(report, null, 2))),
      ];
      output.append(...parts.flat());
      say(`Template ran: ${Array.isArray(written) ? written.length : "some"} readings.`);
    } catch (err) {
      say("");
      showError(err);
    }
  });
  page("Template playground", form, output);
}

// ------------------------------------------------------------------ integrations

function healthCell(status) {
  const health = (status && status.health) || "never_run";
  const cls = health === "ok" ? "health-ok" : health === "failing" || health === "needs_attention" ? "health-bad" : "health-other";
  return h("td", {}, h("span", { class: cls }, health.replace(/_/g, " ")));
}

async function integrationsView() {
  const items = await api.all("/v2/integrations");
  page(
    "Integrations",
    items.length
      ? table(
          "Integrations",
          ["Name", "Provider", "Enabled", "Health", "Last run", "Last success", "Failures in a row", "Last error"],
          items.map((i) => {
            const s = i.status || {};
            return [i.name, i.provider, i.enabled ? "yes" : "no", healthCell(s), isoTime(s.lastRunAt), isoTime(s.lastSuccessAt), String(s.consecutiveFailures ?? 0), s.lastError ? Object.values(s.lastError).join(": ") : "—"];
          }),
        )
      : h("p", {}, "No integrations yet (docs/integrations.md)."),
  );
  say(`${items.length} integrations.`);
}

// ------------------------------------------------------------------ routing

const ROUTES = [
  [/^#\/places\/(sites|fleets)\/([^/]+)$/, (m) => placeView(m[1], decodeURIComponent(m[2])), "places"],
  [/^#\/things\/([^/]+)$/, (m) => thingView(decodeURIComponent(m[1])), "places"],
  [/^#\/playground$/, () => playgroundView(), "playground"],
  [/^#\/integrations$/, () => integrationsView(), "integrations"],
  [/^#\/places$/, () => placesView(), "places"],
];

async function route() {
  for (const undo of cleanup) undo();
  cleanup = [];
  showError(null);
  say("");
  const hash = location.hash || "#/places";
  if (!session.key) {
    nav.hidden = true;
    signInView();
    main.querySelector("input").focus();
    return;
  }
  nav.hidden = false;
  const found = ROUTES.map(([re, view, section]) => [hash.match(re), view, section]).find(([m]) => m);
  const [match, view, section] = found || [[], () => placesView(), "places"];
  for (const link of nav.querySelectorAll("a[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    await view(match);
  } catch (err) {
    page("Something went wrong");
    showError(err);
  }
  main.focus();
}

document.getElementById("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
route();
