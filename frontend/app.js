// The page: a comment box with its result, its explanation and feedback, recent comments, a picture of
// them, the review queue, how well the model does, and the model panel. Every request has a timeout and every failure is said in words next to what failed.

import { api, ApiError, newIdempotencyKey, Unreachable } from "./api.js";
import { drawDistribution, drawTimeline } from "./chart.js";
import { el, LABELS, percent, timeElement } from "./dom.js";
import { renderExplanation } from "./explain.js";
import { drawAgreement, drawDrift, renderSourceAgreement, renderVersionQuality } from "./monitoring.js";
import { setUpReview } from "./review.js";

const MAX_CHARS = 5000;
const PAGE_SIZE = 10;
const OVERVIEW_SIZE = 100;
const ADMIN_KEY_STORAGE = "sentiment-admin-key";
const POLL = { health: 30000, healthWhileDown: 5000, healthWhileStarting: 5000, models: 20000, modelsWhileRunning: 3000 };

const $ = (id) => document.getElementById(id);

const state = {
  filter: "",
  nextToken: null,
  listGeneration: 0,
  result: null,
  submission: null, // {text, key}: a resend of the same text reuses its Idempotency-Key
  adminKey: sessionStorage.getItem(ADMIN_KEY_STORAGE) || "",
  apiDown: false,
  modelStarting: false, // a serverless endpoint starting after idle: health is checked more often until it answers
  runActive: false,
  overview: [], // the comments the picture was drawn from
  quality: null, // the last GET /monitoring answer, redrawn on resize
  review: null,
};

// ---------------------------------------------------------------- reachability

function describe(error) {
  if (error instanceof Unreachable) return `The API cannot be reached (${error.message}).`;
  if (error instanceof ApiError) return error.message;
  return String(error);
}

function apiUnreachable(error) {
  state.apiDown = true;
  $("banner-text").textContent =
    `The API cannot be reached (${error.message}). Nothing you typed is lost; the page keeps trying.`;
  $("banner").hidden = false;
  setHealth("down", "API unreachable");
}

/** Runs `work`; an unreachable API raises the banner, any failure is shown in `status` and returned. */
async function attempt(work, status) {
  try {
    const value = await work();
    if (status) setStatus(status, "");
    return { value };
  } catch (error) {
    if (error instanceof Unreachable) apiUnreachable(error);
    if (status) setStatus(status, describe(error), "error");
    return { error };
  }
}

function setStatus(node, text, kind = "info") {
  node.textContent = text;
  node.dataset.kind = kind;
}

function setHealth(stateName, text) {
  const health = $("health");
  health.dataset.state = stateName;
  health.textContent = text;
}

async function checkHealth() {
  try {
    const { body } = await api.health();
    const wasDown = state.apiDown;
    state.apiDown = false;
    $("banner").hidden = true;
    state.modelStarting = body.model.status === "starting";
    if (body.model.reachable) setHealth("ok", `API up · model ${body.model.model_version}${describeKind(body.model)}`);
    else if (state.modelStarting)
      setHealth("starting", "Model starting after a quiet spell: comments are stored and classified within a minute or so");
    else setHealth("degraded", "Model unreachable: comments are stored and classified when it returns");
    if (wasDown) refreshAll();
  } catch (error) {
    if (error instanceof Unreachable) apiUnreachable(error);
    else setHealth("down", `API error: ${describe(error)}`);
  }
}

function scheduleHealth() {
  setTimeout(
    async () => {
      if (!document.hidden || state.apiDown) await checkHealth();
      scheduleHealth();
    },
    state.apiDown ? POLL.healthWhileDown : state.modelStarting ? POLL.healthWhileStarting : POLL.health,
  );
}

// ---------------------------------------------------------------- the comment box

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
    refreshComments();
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

function showResult(comment, status) {
  state.result = comment;
  const pending = status === 202 || comment.status === "pending";
  const label = $("result-label");
  label.textContent = comment.sentiment || "pending";
  label.className = `badge badge-${comment.sentiment || "pending"}`;
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

async function sendFeedback(commentId, label, predicted, buttons, status) {
  for (const button of buttons) button.disabled = true;
  const { error } = await attempt(() => api.feedback(commentId, label));
  for (const button of buttons) {
    button.disabled = false;
    if (!error) button.setAttribute("aria-pressed", String(button.dataset.label === label));
  }
  if (error) {
    setStatus(status, `Feedback not recorded: ${describe(error)}`, "error");
    return false;
  }
  setStatus(
    status,
    label === predicted ? `Recorded: you confirmed ${label}.` : `Recorded: corrected to ${label}. Thank you.`,
    "success",
  );
  return true;
}

async function resultFeedback(event) {
  const button = event.target.closest("button[data-label]");
  if (!button || !state.result) return;
  const buttons = document.querySelectorAll("#result-feedback button");
  if (await sendFeedback(state.result.comment_id, button.dataset.label, state.result.sentiment, buttons, $("feedback-status"))) {
    refreshComments();
    refreshQuality();
  }
}

// ---------------------------------------------------------------- recent comments

function feedbackNote(comment) {
  if (!comment.feedback) return null;
  const text =
    comment.feedback.label === comment.sentiment ? `confirmed ${comment.feedback.label}` : `corrected to ${comment.feedback.label}`;
  return el("span", { class: `note note-${comment.feedback.label}`, "data-testid": "item-feedback" }, text);
}

function commentItem(comment) {
  const label = comment.sentiment || "pending";
  const status = el("span", { class: "status", role: "status" });
  const buttons = LABELS.map((name) =>
    el(
      "button",
      { type: "button", class: "small", dataset: { label: name }, "aria-label": `Mark as ${name}`, "data-testid": `item-feedback-${name}` },
      name,
    ),
  );
  const item = el(
    "li",
    { class: "comment", dataset: { commentId: comment.comment_id, sentiment: label } },
    el(
      "div",
      { class: "comment-head" },
      el("span", { class: `badge badge-${label}`, "data-testid": "item-label" }, label),
      comment.confidence === null ? null : el("span", { class: "muted" }, percent(comment.confidence)),
      timeElement(comment.timestamp),
      feedbackNote(comment),
    ),
    el("p", { class: "comment-text", "data-testid": "item-text" }, comment.original_comment),
    el("div", { class: "comment-actions" }, el("span", { class: "muted" }, "Label it:"), ...buttons, status),
  );
  item.querySelector(".comment-actions").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-label]");
    if (button && (await sendFeedback(comment.comment_id, button.dataset.label, comment.sentiment, buttons, status))) {
      const head = item.querySelector(".comment-head");
      head.querySelector(".note")?.remove();
      head.append(feedbackNote({ ...comment, feedback: { label: button.dataset.label } }));
    }
  });
  return item;
}

async function loadComments({ append }) {
  const generation = append ? state.listGeneration : ++state.listGeneration;
  const list = $("comment-list");
  const status = $("comments-status");
  const more = $("load-more");
  more.disabled = true;
  list.setAttribute("aria-busy", "true");
  const { value, error } = await attempt(
    () => api.comments({ sentiment: state.filter, limit: PAGE_SIZE, nextToken: append ? state.nextToken : null }),
    status,
  );
  if (generation !== state.listGeneration) return; // the filter changed while this page was on its way
  list.removeAttribute("aria-busy");
  more.disabled = false;
  if (error) {
    setStatus(status, `Could not load comments: ${describe(error)}`, "error");
    return;
  }
  const items = value.body.items.map(commentItem);
  if (append) list.append(...items);
  else list.replaceChildren(...items);
  state.nextToken = value.body.next_token;
  more.hidden = !state.nextToken;
  if (!list.children.length) {
    setStatus(status, state.filter ? `No ${state.filter} comments yet.` : "No comments yet: write the first one above.");
  }
}

async function refreshOverview() {
  const { value } = await attempt(() => api.comments({ limit: OVERVIEW_SIZE }));
  if (!value) return;
  state.overview = value.body.items;
  drawDistribution($("distribution"), state.overview);
  drawTimeline($("timeline"), state.overview);
}

let resizeTimer = null;

function redrawOnResize() {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    drawTimeline($("timeline"), state.overview);
    if (state.quality) drawAgreement($("agreement"), state.quality.daily);
  }, 150);
}

// ---------------------------------------------------------------- how well it does

async function refreshQuality() {
  const { value } = await attempt(() => api.monitoring(30), $("quality-status"));
  if (!value) return;
  state.quality = value.body;
  drawAgreement($("agreement"), value.body.daily);
  renderSourceAgreement($("agreement-sources"), value.body.agreement_by_source);
  drawDrift($("drift"), value.body.drift);
  renderVersionQuality(document.querySelector("#quality-versions tbody"), value.body.versions);
}

function refreshComments() {
  loadComments({ append: false });
  refreshOverview();
}

// ---------------------------------------------------------------- the model panel

const METRICS = [
  ["reviews_accuracy", "Movie reviews: accuracy"],
  ["tweets_macro_f1", "Tweets: macro-F1"],
  ["golden_accuracy", "Golden split: accuracy"],
  ["golden_macro_f1", "Golden split: macro-F1"],
  ["feedback_holdout_accuracy", "Feedback hold-out: accuracy"],
];

function metric(value) {
  return value === null || value === undefined ? "—" : value.toFixed(3);
}

// " (encoder minilm-sentiment)" or " (tfidf)": what kind of model answers, and which encoder it reads with.
function describeKind(model) {
  if (!model.kind) return "";
  return model.encoder ? ` (${model.kind} ${model.encoder.name})` : ` (${model.kind})`;
}

function renderChampion(models) {
  const champion = models.items.find((model) => model.version === models.champion);
  if (!champion) {
    $("champion").replaceChildren(el("p", { class: "muted" }, "No champion registered yet."));
    return;
  }
  const rows = METRICS.filter(([key]) => champion.metrics[key] !== null && champion.metrics[key] !== undefined);
  $("champion").replaceChildren(
    el(
      "p",
      {},
      "Serving ",
      el("code", { "data-testid": "champion-version" }, champion.version),
      el("span", { "data-testid": "champion-kind" }, describeKind(champion)),
      champion.encoder
        ? el("span", { class: "muted", title: `SHA-256 ${champion.encoder.sha256}` }, ` · ${champion.encoder.licence}`)
        : null,
      champion.promoted_at ? el("span", { class: "muted" }, ", promoted ", timeElement(champion.promoted_at)) : null,
    ),
    el("dl", { class: "metrics" }, ...rows.flatMap(([key, name]) => [el("dt", {}, name), el("dd", {}, metric(champion.metrics[key]))])),
  );
}

// A held candidate waits for a person: its reasons (the badge's title) say which answers it changes.
const NAMES = { held: "held for review" };

function renderVersions(models) {
  const rows = models.items.slice(0, 10).map((model) => {
    const isChampion = model.version === models.champion;
    const action = isChampion
      ? el("span", { class: "muted" }, "serving")
      : el(
          "button",
          {
            type: "button",
            class: "small",
            disabled: !state.adminKey,
            title: state.adminKey ? null : "Enter the admin key first",
            "data-testid": `promote-${model.version}`,
            onclick: () => promote(model.version),
          },
          model.status === "retired" ? "Roll back to this" : "Promote",
        );
    return el(
      "tr",
      { dataset: { version: model.version } },
      el("td", {}, el("code", {}, model.version)),
      el("td", {}, el("span", { class: `badge badge-${model.status}`, title: model.reasons.join("\n") }, NAMES[model.status] || model.status)),
      el("td", {}, metric(model.metrics.reviews_accuracy)),
      el("td", {}, metric(model.metrics.tweets_macro_f1)),
      el("td", { class: "optional-column" }, timeElement(model.created_at)),
      el("td", {}, action),
    );
  });
  $("versions").tBodies[0].replaceChildren(...rows);
}

function renderRuns(runs) {
  state.runActive = runs.some((run) => run.status === "RUNNING");
  const rows = runs.map((run) => {
    const why = run.error || run.reasons.join("; ");
    return el(
      "tr",
      { dataset: { runId: run.run_id } },
      el("td", {}, el("code", {}, run.run_id)),
      el("td", { class: "optional-column" }, run.trigger),
      el("td", {}, el("span", { class: `badge badge-${run.status.toLowerCase()}` }, run.status.toLowerCase())),
      el("td", { title: why || null }, NAMES[run.decision] || run.decision || (run.status === "FAILED" ? "failed" : "—"), why ? el("span", { class: "why" }, why) : null),
      el("td", {}, timeElement(run.started_at)),
    );
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No runs yet.")));
  $("runs").tBodies[0].replaceChildren(...rows);
  $("start-run").disabled = !state.adminKey || state.runActive;
}

// The feedback waiting for the next run, and why a run that is due has not started (the guard on
// runs started by feedback: RetrainMinIntervalMinutes, RetrainMaxPerDay).
function renderQueue(page) {
  const queue = $("run-queue");
  const waiting = page.pending_feedback || 0;
  const items = `${waiting} feedback item${waiting === 1 ? "" : "s"}`;
  if (page.held_back) {
    queue.replaceChildren(
      `A run is held back: ${page.held_back.reason}. The next feedback after `,
      el("time", { datetime: page.held_back.until }, new Date(page.held_back.until).toLocaleString()),
      ` starts it (${items} waiting).`,
    );
  } else {
    queue.replaceChildren(waiting ? `${items} waiting for the next run.` : "");
  }
  queue.hidden = !page.held_back && !waiting;
}

async function refreshModels() {
  const status = $("models-status");
  const [models, runs] = await Promise.all([attempt(api.models, status), attempt(() => api.runs(10), status)]);
  if (models.value) {
    renderChampion(models.value.body);
    renderVersions(models.value.body);
  }
  if (runs.value) {
    renderRuns(runs.value.body.items);
    renderQueue(runs.value.body);
  }
}

function scheduleModels() {
  setTimeout(
    async () => {
      if (!document.hidden && !state.apiDown) await refreshModels();
      scheduleModels();
    },
    state.runActive ? POLL.modelsWhileRunning : POLL.models,
  );
}

function adminRefused(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    return `The admin key was refused (${error.status}): ${error.message}. Check it and enter it again.`;
  }
  return describe(error);
}

async function adminAction(work, success) {
  const status = $("admin-status");
  setStatus(status, "Working…");
  const { value, error } = await attempt(work);
  if (error) setStatus(status, adminRefused(error), "error");
  else setStatus(status, success(value.body), "success");
  await refreshModels();
}

function promote(version) {
  return adminAction(
    () => api.promote(version, state.adminKey),
    (body) => `Deploying ${version} in ${body.run_id}; the runs below show its progress.`,
  );
}

function startRun() {
  return adminAction(
    () => api.startRun(state.adminKey),
    (body) => `Started ${body.run_id}: it trains on all the feedback so far and promotes only if better.`,
  );
}

function showAdminKey() {
  $("admin-key").value = state.adminKey;
  $("admin-forget").hidden = !state.adminKey;
  $("start-run").disabled = !state.adminKey || state.runActive;
}

function saveAdminKey(event) {
  event.preventDefault();
  state.adminKey = $("admin-key").value.trim();
  if (state.adminKey) sessionStorage.setItem(ADMIN_KEY_STORAGE, state.adminKey);
  else sessionStorage.removeItem(ADMIN_KEY_STORAGE);
  setStatus($("admin-status"), state.adminKey ? "Key kept for this tab." : "No key: admin actions are off.");
  showAdminKey();
  refreshModels();
}

function forgetAdminKey() {
  $("admin-key").value = "";
  saveAdminKey(new Event("submit"));
}

// ---------------------------------------------------------------- wiring

function refreshAll() {
  refreshComments();
  refreshModels();
  refreshQuality();
  state.review?.reload();
}

function start() {
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
  for (const radio of document.querySelectorAll("input[name=sentiment]")) {
    radio.addEventListener("change", () => {
      state.filter = radio.value;
      loadComments({ append: false });
    });
  }
  $("load-more").addEventListener("click", () => loadComments({ append: true }));
  $("refresh-comments").addEventListener("click", refreshComments);
  $("refresh-models").addEventListener("click", refreshModels);
  $("banner-retry").addEventListener("click", checkHealth);
  $("admin-form").addEventListener("submit", saveAdminKey);
  $("admin-forget").addEventListener("click", forgetAdminKey);
  $("start-run").addEventListener("click", startRun);
  $("result-why").addEventListener("click", explainResult);
  $("refresh-quality").addEventListener("click", refreshQuality);
  state.review = setUpReview({ attempt, describe, onLabelled: refreshQuality });
  window.addEventListener("resize", redrawOnResize);

  updateCounter();
  showAdminKey();
  checkHealth();
  refreshAll();
  scheduleHealth();
  scheduleModels();
}

start();
