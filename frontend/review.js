// The review view: the comments the model was least sure of, one at a time. Keys 1, 2 and 3 label the
// comment shown (negative, neutral, positive) and move on; S skips it; W shows why the model decided.
// Labelling here needs a reviewer key (an admin issues one with POST /reviewers): the labels are sent
// to POST /reviews and carry the reviewer's name. The key is kept in this tab only (sessionStorage).

import { api } from "./api.js";
import { renderExplanation } from "./explain.js";
import { el, LABELS, percent } from "./dom.js";

const PAGE = 20;
const KEYS = { 1: "negative", 2: "neutral", 3: "positive" };
const REVIEWER_KEY_STORAGE = "sentiment-reviewer-key";
const NEEDS_KEY = "A reviewer key is needed to label here: ask an admin for one, then enter it above.";

const $ = (id) => document.getElementById(id);

export function setUpReview({ attempt, describe, onLabelled }) {
  const state = {
    queue: [],
    token: null,
    seen: new Set(),
    remaining: null,
    current: null,
    busy: false,
    key: sessionStorage.getItem(REVIEWER_KEY_STORAGE) || "",
  };
  const item = $("review-item");
  const status = $("review-status");

  function say(text, kind = "info") {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  function showKey() {
    $("reviewer-key").value = state.key;
    $("reviewer-forget").hidden = !state.key;
    $("reviewer-hint").textContent = state.key
      ? "Kept in this tab only. Your labels carry your reviewer name."
      : NEEDS_KEY;
    for (const name of LABELS) $(`review-${name}`).disabled = !state.key;
  }

  function saveKey(event) {
    event.preventDefault();
    state.key = $("reviewer-key").value.trim();
    if (state.key) sessionStorage.setItem(REVIEWER_KEY_STORAGE, state.key);
    else sessionStorage.removeItem(REVIEWER_KEY_STORAGE);
    say(state.key ? "Reviewer key kept for this tab." : "No reviewer key: labelling is off.");
    showKey();
  }

  function refused(error) {
    if (error && (error.status === 401 || error.status === 403)) {
      return `the reviewer key was refused (${error.status}): it may be mistyped or revoked. Enter it again.`;
    }
    return describe(error);
  }

  function showLeft() {
    const left = state.remaining ?? 0;
    $("review-left").textContent =
      left === 1 ? "1 comment waits for a label." : `${left} comments wait for a label.`;
  }

  function show(comment) {
    state.current = comment;
    $("review-explanation").replaceChildren();
    $("review-why").setAttribute("aria-expanded", "false");
    if (!comment) {
      item.hidden = true;
      $("review-empty").hidden = false;
      return;
    }
    $("review-empty").hidden = true;
    item.hidden = false;
    $("review-text").textContent = comment.original_comment;
    // A public suggestion is shown so a reviewer can confirm or correct it; it never trains by itself.
    const suggested = comment.suggested_label ? ` Someone suggested ${comment.suggested_label}.` : "";
    $("review-guess").textContent =
      `The model says ${comment.sentiment}, ${percent(comment.confidence)} sure (uncertainty ${comment.uncertainty.toFixed(2)}).${suggested}`;
  }

  async function fetchMore(fromStart) {
    const { value } = await attempt(
      () => api.reviewQueue({ limit: PAGE, nextToken: fromStart ? null : state.token }),
      status,
    );
    if (!value) return false;
    state.token = value.body.next_token;
    state.remaining = value.body.remaining;
    state.queue.push(...value.body.items.filter((comment) => !state.seen.has(comment.comment_id)));
    showLeft();
    return true;
  }

  async function next() {
    while (!state.queue.length && state.token) {
      if (!(await fetchMore(false))) return;
    }
    show(state.queue.shift() ?? null);
  }

  async function reload() {
    state.queue = [];
    state.token = null;
    state.seen.clear();
    if (await fetchMore(true)) await next();
  }

  async function label(name) {
    const comment = state.current;
    if (!comment || state.busy) return;
    if (!state.key) {
      say(NEEDS_KEY, "error");
      return;
    }
    state.busy = true;
    const { error } = await attempt(() => api.review(comment.comment_id, name, state.key));
    state.busy = false;
    if (error) {
      say(`Not recorded: ${refused(error)}`, "error");
      return;
    }
    state.seen.add(comment.comment_id);
    state.remaining = Math.max(0, (state.remaining ?? 1) - 1);
    showLeft();
    say(
      name === comment.sentiment ? `Recorded: you confirmed ${name}.` : `Recorded: ${comment.sentiment} corrected to ${name}.`,
      "success",
    );
    onLabelled();
    await next();
    if (!item.hidden) item.focus();
  }

  async function skip() {
    if (!state.current) return;
    state.seen.add(state.current.comment_id);
    say("Skipped; it stays in the queue for later.");
    await next();
    if (!item.hidden) item.focus();
  }

  async function why() {
    const comment = state.current;
    if (!comment) return;
    const button = $("review-why");
    button.setAttribute("aria-expanded", "true");
    $("review-explanation").replaceChildren(el("p", { class: "muted" }, "Asking the model…"));
    const { value, error } = await attempt(() => api.explanation(comment.comment_id));
    if (state.current !== comment) return;
    if (error) {
      $("review-explanation").replaceChildren(el("p", { class: "error" }, `No explanation: ${describe(error)}`));
      return;
    }
    renderExplanation($("review-explanation"), value.body);
  }

  $("review").addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.target.closest("input, textarea")) return;
    const key = event.key.toLowerCase();
    if (KEYS[key]) label(KEYS[key]);
    else if (key === "s") skip();
    else if (key === "w") why();
    else return;
    event.preventDefault();
  });
  for (const name of LABELS) $(`review-${name}`).addEventListener("click", () => label(name));
  $("review-skip").addEventListener("click", skip);
  $("review-why").addEventListener("click", why);
  $("refresh-review").addEventListener("click", reload);
  $("reviewer-form").addEventListener("submit", saveKey);
  $("reviewer-forget").addEventListener("click", () => {
    $("reviewer-key").value = "";
    saveKey(new Event("submit"));
  });
  showKey();
  return { reload };
}
