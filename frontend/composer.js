// The comment box: a comment classified, its result and scores, why the model decided, and the
// person's confirmation or correction of the label.

import { api, newIdempotencyKey, Unreachable } from "./api.js";
import { el, LABELS, percent, unsupportedNote } from "./dom.js";
import { renderExplanation } from "./explain.js";
import { sendFeedback } from "./labelling.js";
import { $, apiUnreachable, attempt, describe, setStatus } from "./page.js";

const MAX_CHARS = 5000;

export function setUpComposer({ onClassified, onFeedback }) {
  const state = {
    result: null,
    submission: null, // {text, key}: a resend of the same text reuses its Idempotency-Key
  };

  function updateCounter() {
    const length = $("comment-input").value.length;
    const counter = $("comment-counter");
    counter.textContent = `${length} / ${MAX_CHARS}`;
    counter.dataset.near = String(length > MAX_CHARS * 0.9);
  }

  function showFormError(message) {
    const node = $("comment-error");
    node.textContent = message;
    node.hidden = !message;
    $("comment-input").setAttribute("aria-invalid", String(Boolean(message)));
  }

  function idempotencyKeyFor(text) {
    if (!state.submission || state.submission.text !== text) state.submission = { text, key: newIdempotencyKey() };
    return state.submission.key;
  }

  async function submitComment(event) {
    event.preventDefault();
    const input = $("comment-input");
    const text = input.value.trim();
    if (!text) {
      showFormError("Write a comment first: it cannot be empty or only spaces.");
      input.focus();
      return;
    }
    if (text.length > MAX_CHARS) {
      showFormError(`The comment is ${text.length} characters long; the limit is ${MAX_CHARS}.`);
      return;
    }
    const button = document.querySelector("[data-testid=comment-submit]");
    button.disabled = true;
    button.textContent = "Classifying…";
    showFormError("");
    try {
      const { status, body } = await api.classify(text, idempotencyKeyFor(text));
      state.submission = null;
      input.value = "";
      updateCounter();
      showResult(body, status);
      onClassified();
    } catch (error) {
      if (error instanceof Unreachable) {
        apiUnreachable(error);
        showFormError(
          `Not sent: the API cannot be reached (${error.message}). Your comment is still in the box; sending it again will not store it twice.`,
        );
      } else {
        showFormError(`Not stored: ${describe(error)}`);
      }
    } finally {
      button.disabled = false;
      button.textContent = "Classify";
    }
  }

  function showResult(comment, status) {
    state.result = comment;
    const pending = status === 202 || comment.status === "pending";
    const label = $("result-label");
    label.textContent = comment.sentiment || "pending";
    label.className = `badge badge-${comment.sentiment || "pending"}${comment.supported === false ? " badge-guess" : ""}`;
    $("result-language").textContent = comment.supported === false ? unsupportedNote(comment) : "";
    $("result-language").hidden = comment.supported !== false;
    $("result-confidence").textContent = !pending
      ? `${percent(comment.confidence)} confident`
      : comment.pending_reason === "model_starting"
        ? "The model is starting after a quiet spell: your comment is stored and will be classified within a minute or so."
        : "The model is unavailable right now: your comment is stored and will be classified when it is back.";
    $("result-scores").replaceChildren(
      ...(comment.scores ? LABELS.map((name) => scoreRow(name, comment.scores[name])) : []),
    );
    $("result-model").textContent = comment.model_version || "none yet";
    for (const button of document.querySelectorAll("#result-feedback button")) {
      const confirms = button.dataset.label === comment.sentiment;
      button.textContent = confirms ? `✓ ${button.dataset.label} (confirm)` : button.dataset.label;
      button.setAttribute("aria-pressed", "false");
      button.disabled = false;
    }
    setStatus($("feedback-status"), "");
    $("result-explanation").replaceChildren();
    $("result-why").setAttribute("aria-expanded", "false");
    $("result-why").hidden = pending;
    $("result").hidden = false;
  }

  async function explainResult() {
    const comment = state.result;
    if (!comment) return;
    const container = $("result-explanation");
    $("result-why").setAttribute("aria-expanded", "true");
    container.replaceChildren(el("p", { class: "muted" }, "Asking the model…"));
    const { value, error } = await attempt(() => api.explanation(comment.comment_id));
    if (state.result !== comment) return;
    if (error) container.replaceChildren(el("p", { class: "error" }, `No explanation: ${describe(error)}`));
    else renderExplanation(container, value.body);
  }

  async function resultFeedback(event) {
    const button = event.target.closest("button[data-label]");
    if (!button || !state.result) return;
    const buttons = document.querySelectorAll("#result-feedback button");
    if (await sendFeedback(state.result.comment_id, button.dataset.label, state.result.sentiment, buttons, $("feedback-status"))) {
      onFeedback();
    }
  }

  const input = $("comment-input");
  input.addEventListener("input", () => {
    updateCounter();
    if (!$("comment-error").hidden) showFormError("");
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("comment-form").requestSubmit();
  });
  $("comment-form").addEventListener("submit", submitComment);
  $("result-feedback").addEventListener("click", resultFeedback);
  $("result-why").addEventListener("click", explainResult);
  updateCounter();
}

function scoreRow(label, value) {
  const fill = el("span", { class: `fill fill-${label}` });
  fill.style.width = percent(value); // CSSOM, which the page's Content-Security-Policy allows
  return el(
    "div",
    { class: "score-row", dataset: { label } },
    el("span", { class: "score-name" }, label),
    el(
      "span",
      {
        class: "bar",
        role: "meter",
        "aria-label": `${label} probability`,
        "aria-valuemin": 0,
        "aria-valuemax": 100,
        "aria-valuenow": Math.round(value * 100),
      },
      fill,
    ),
    el("span", { class: "score-value" }, percent(value)),
  );
}
