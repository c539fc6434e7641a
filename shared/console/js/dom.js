// Building DOM from data without innerHTML: every API value is text, never markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function field(id, labelText, control, hint) {
  if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, labelText), control, hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null);
}

export function select(options, value) {
  const el = h("select");
  for (const [optionValue, text] of options) {
    el.append(h("option", { value: optionValue, selected: optionValue === value }, text));
  }
  return el;
}

export function table(caption, headers, rows) {
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => (cell instanceof Node && cell.tagName === "TD" ? cell : h("td", {}, cell)))))),
    ),
  );
}

export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function isoTime(ms) {
  return ms === null || ms === undefined ? "—" : new Date(ms).toISOString().replace(".000Z", "Z");
}

export function formatValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
