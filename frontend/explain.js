// Why the model gave its label: the comment's words, each shaded by how far it pushed toward the label
// (orange) or away from it (blue), with the strongest named in words for screen readers.

import { el } from "./dom.js";

const NAMED = 3;
const MAX_ALPHA = 0.45; // the strongest word's shade: dark text keeps its contrast on it

function signed(weight) {
  const rounded = Math.round(weight * 100) / 100;
  return `${rounded > 0 ? "+" : rounded < 0 ? "−" : "±"}${Math.abs(rounded).toFixed(2)}`;
}

function quoted(tokens) {
  return tokens.map((token) => `“${token.text}” (${signed(token.weight)})`).join(", ");
}

/** The explanation as shaded text and a sentence; `explanation` is GET /comments/{id}/explanation's answer. */
export function renderExplanation(container, explanation) {
  const strongest = Math.max(1e-6, ...explanation.tokens.map((token) => Math.abs(token.weight)));
  const text = explanation.original_comment;
  const parts = [];
  let at = 0;
  for (const token of explanation.tokens) {
    if (token.start > at) parts.push(text.slice(at, token.start));
    const mark = el(
      "mark",
      {
        class: token.weight >= 0 ? "toward" : "against",
        title: `${signed(token.weight)} toward ${explanation.sentiment}`,
        dataset: { weight: String(token.weight) },
      },
      text.slice(token.start, token.end),
    );
    mark.style.setProperty("--strength", String((Math.abs(token.weight) / strongest) * MAX_ALPHA));
    parts.push(mark);
    at = token.end;
  }
  if (at < text.length) parts.push(text.slice(at));

  const toward = explanation.tokens.filter((token) => token.weight > 0).sort((a, b) => b.weight - a.weight);
  const against = explanation.tokens.filter((token) => token.weight < 0).sort((a, b) => a.weight - b.weight);
  const sentence = [
    toward.length ? `Toward ${explanation.sentiment}: ${quoted(toward.slice(0, NAMED))}.` : "",
    against.length ? `Against it: ${quoted(against.slice(0, NAMED))}.` : "",
  ]
    .filter(Boolean)
    .join(" ");
  const grouping =
    explanation.tokens_per_span > 1 ? ` Long text: each shaded span groups ${explanation.tokens_per_span} words.` : "";
  container.replaceChildren(
    el("p", { class: "explained-text", "data-testid": "explained-text" }, ...parts),
    el(
      "p",
      { class: "muted", "data-testid": "explanation-summary" },
      `${sentence || "No single word moved the label."} Weights: how much the ${explanation.sentiment} probability drops without the word (model ${explanation.model_version}).${grouping}`,
    ),
  );
}
