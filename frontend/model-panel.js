// The model panel: the champion and its scores, the registered versions (promote, roll back), the
// training runs and the feedback waiting for the next one, and the admin key that starts a run. Polled
// every 20 s, every 3 s while a run is active.

import { adminRefused, keepAdminKey, readAdminKey } from "./admin-key.js";
import { api } from "./api.js";
import { el, timeElement } from "./dom.js";
import { $, attempt, reachability, setStatus } from "./page.js";

const POLL = { models: 20000, modelsWhileRunning: 3000 };

const METRICS = [
  ["reviews_accuracy", "Movie reviews: accuracy"],
  ["tweets_macro_f1", "Tweets: macro-F1"],
  ["golden_accuracy", "Golden split: accuracy"],
  ["golden_macro_f1", "Golden split: macro-F1"],
  ["feedback_holdout_accuracy", "Feedback hold-out: accuracy"],
];

// A held candidate waits for a person: its reasons (the badge's title) say which answers it changes.
const NAMES = { held: "held for review" };

// " (encoder minilm-sentiment)" or " (tfidf)": what kind of model answers, and which encoder it reads with.
export function describeKind(model) {
  if (!model.kind) return "";
  return model.encoder ? ` (${model.kind} ${model.encoder.name})` : ` (${model.kind})`;
}

function metric(value) {
  return value === null || value === undefined ? "—" : value.toFixed(3);
}

/** `onAdminKey` hears when the key changes: the other panels that use it say whether they can. */
export function setUpModelPanel({ onAdminKey = () => {} } = {}) {
  const state = {
    adminKey: readAdminKey(),
    runActive: false,
  };

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

  async function refresh() {
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

  function schedule() {
    setTimeout(
      async () => {
        if (!document.hidden && !reachability.apiDown) await refresh();
        schedule();
      },
      state.runActive ? POLL.modelsWhileRunning : POLL.models,
    );
  }

  async function adminAction(work, success) {
    const status = $("admin-status");
    setStatus(status, "Working…");
    const { value, error } = await attempt(work);
    if (error) setStatus(status, adminRefused(error), "error");
    else setStatus(status, success(value.body), "success");
    await refresh();
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
    keepAdminKey(state.adminKey);
    setStatus($("admin-status"), state.adminKey ? "Key kept for this tab." : "No key: admin actions are off.");
    showAdminKey();
    onAdminKey();
    refresh();
  }

  function forgetAdminKey() {
    $("admin-key").value = "";
    saveAdminKey(new Event("submit"));
  }

  $("refresh-models").addEventListener("click", refresh);
  $("admin-form").addEventListener("submit", saveAdminKey);
  $("admin-forget").addEventListener("click", forgetAdminKey);
  $("start-run").addEventListener("click", startRun);
  showAdminKey();
  return { refresh, schedule };
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
