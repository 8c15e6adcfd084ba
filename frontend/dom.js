// Building elements. Text is only ever set as text (a text node), never parsed as HTML, so a comment
// holding markup or a script shows literally.

export const LABELS = ["negative", "neutral", "positive"];

/** `el("li", {class: "item", dataset: {id}}, "text", child)`: attributes, then children (strings become text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  node.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attributes);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function setAttributes(node, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

const languageNames = new Intl.DisplayNames(["en"], { type: "language", fallback: "code" });

/** "German (de)" for a language the model was not trained for; the code alone when it has no name. */
export function languageName(code) {
  const name = languageNames.of(code);
  return name && name !== code ? `${name} (${code})` : code;
}

/** A comment whose language the model was not trained for: its label is only a guess. */
export function unsupportedNote(comment) {
  return `Written in ${languageName(comment.language)}: the model was trained on English only, so its label is a guess. It is not asked about in the review queue and is left out of the monitoring figures.`;
}

export function percent(value) {
  return `${Math.round(value * 1000) / 10}%`;
}

const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** A `<time>` reading "3 minutes ago", with the exact moment on hover and for machines. */
export function timeElement(iso) {
  const moment = new Date(iso);
  return el("time", { datetime: moment.toISOString(), title: absolute.format(moment) }, ago(moment));
}

function ago(moment) {
  const seconds = Math.round((moment.getTime() - Date.now()) / 1000);
  const steps = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [7, "day"],
  ];
  let amount = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(amount) < size) return relative.format(amount, unit);
    amount = Math.round(amount / size);
  }
  return absolute.format(moment);
}
