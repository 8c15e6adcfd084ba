// The "Classify a file" panel: a CSV export or a JSON Lines dump classified row by row by a bulk job
// (POST /jobs, admin-only: the admin key entered under The model). The file's bytes go to the upload path
// the API answers, on the page's own origin, which passes them to the data bucket as they are (the page
// may connect to its own origin only). Then the job is followed: a progress bar, the counts and the rate,
// Cancel while it runs, Resume once it stopped or failed, and when it is done the results file to download
// and how its rows split between the labels. The job this tab follows is kept in the tab, so a reload
// picks it up again.

import { adminRefused, readAdminKey } from "./admin-key.js";
import { api, ApiError, newIdempotencyKey } from "./api.js";
import { drawSplit } from "./chart.js";
import { LABELS, timeElement } from "./dom.js";
import { $, attempt, describe, reachability, setStatus } from "./page.js";

const POLL_MS = 1500;
const POLL_WHILE_DOWN_MS = 5000;
const JOB_STORAGE = "sentiment-file-job";
const WHERE_THE_KEY_GOES = " under The model";
const NEEDS_KEY = "Classifying a file needs the admin key: enter it under The model, then start.";
const RUNNING = new Set(["SUBMITTED", "IN_PROGRESS", "STOP_REQUESTED"]);
const ENDED_EARLY = new Set(["STOPPED", "FAILED"]);
// A stopped or failed job takes its status a moment before the results of the rows done so far are written
// (every other row NOT_PROCESSED); the job says results_ready then. The panel waits for that, this long at
// most, before it asks for the results.
const RESULTS_WAIT_MS = 60000;
const EXTENSIONS = { csv: "csv", jsonl: "jsonl", ndjson: "jsonl" };
const STATUS = {
  SUBMITTED: ["waiting for the file", "badge-running"],
  IN_PROGRESS: ["in progress", "badge-running"],
  STOP_REQUESTED: ["stopping", "badge-running"],
  STOPPED: ["stopped", ""],
  COMPLETED: ["completed", "badge-succeeded"],
  FAILED: ["failed", "badge-failed"],
};
const count = new Intl.NumberFormat();

export function setUpFilePanel() {
  // waitingForKey: polling paused until a key is entered, because there was none or it was refused.
  // endedAt: when the job was first seen stopped or failed, while its results are being written.
  const state = { job: null, file: null, timer: null, waitingForKey: false, endedAt: null };
  const fields = ["file-input", "file-format", "file-text-field"].map($);

  function showKey() {
    $("file-key").textContent = readAdminKey() ? "" : NEEDS_KEY;
  }

  function refuse(message, field = null) {
    $("file-error").textContent = message;
    $("file-error").hidden = false;
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  }

  function clearRefusal() {
    $("file-error").hidden = true;
    $("file-error").textContent = "";
    for (const field of fields) field.removeAttribute("aria-invalid");
  }

  /** The job to submit, from the form; null once the reason it cannot be is said next to its field. */
  function jobRequest() {
    const file = $("file-input").files[0];
    if (!file) return refuse("Choose a file first: a CSV with a header row, or JSON Lines.", $("file-input"));
    const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    const format = $("file-format").value || EXTENSIONS[extension];
    if (!format) return refuse(`Choose the format: the name “${file.name}” does not say (.csv or .jsonl).`, $("file-format"));
    const textField = $("file-text-field").value.trim();
    if (!textField) {
      const what = format === "csv" ? "column" : "field";
      return refuse(`Name the ${what} that holds the text of each row.`, $("file-text-field"));
    }
    const idField = $("file-id-field").value.trim();
    return { file, job: { format, text_field: textField, ...(idField ? { id_field: idField } : {}) } };
  }

  async function start(event) {
    event.preventDefault();
    clearRefusal();
    const key = readAdminKey();
    if (!key) return refuse(NEEDS_KEY);
    const wanted = jobRequest();
    if (!wanted) return;
    $("file-start").disabled = true;
    try {
      const submitted = await attempt(() => api.submitJob(wanted.job, key, newIdempotencyKey()));
      if (submitted.error) return refuse(`Not started: ${adminRefused(submitted.error, WHERE_THE_KEY_GOES)}`);
      const created = submitted.value.body;
      if (!created.upload_path) return refuse("Not started: the API gave no path on this site to upload the file to.");
      follow(created.job, wanted.file.name);
      setStatus($("file-status"), `Uploading ${wanted.file.name} (${size(wanted.file.size)})…`);
      const uploaded = await attempt(() => api.upload(created.upload_path, wanted.file));
      if (uploaded.error) {
        stopPolling();
        const why = sentence(describe(uploaded.error));
        setStatus($("file-status"), `The file was not uploaded: ${why} Start again to retry.`, "error");
        return;
      }
      setStatus($("file-status"), `Uploaded ${wanted.file.name}; the job starts with it.`);
      poll();
    } finally {
      $("file-start").disabled = false;
    }
  }

  function follow(job, fileName) {
    sessionStorage.setItem(JOB_STORAGE, JSON.stringify({ jobId: job.job_id, fileName }));
    state.file = fileName;
    stopPolling();
    $("file-results").hidden = true;
    setStatus($("file-status"), "");
    render(job);
  }

  function render(job) {
    state.job = job;
    const [words, badge] = STATUS[job.status] || [job.status, ""];
    $("file-job").hidden = false;
    $("file-job-id").textContent = job.job_id;
    $("file-job-status").textContent = words;
    $("file-job-status").className = `badge ${badge}`;
    $("file-job-status").dataset.status = job.status;
    $("file-job-when").replaceChildren(...when(job));
    renderProgress(job);
    $("file-reason").textContent = job.reason ? `Why: ${job.reason}` : "";
    $("file-reason").hidden = !job.reason;
    $("file-cancel").hidden = !RUNNING.has(job.status);
    $("file-cancel").disabled = job.status === "STOP_REQUESTED";
    // A job that never started (its file did not arrive in time) has nothing to resume.
    $("file-resume").hidden = !(["STOPPED", "FAILED"].includes(job.status) && job.started_at);
  }

  function schedulePoll() {
    stopPolling();
    state.timer = setTimeout(poll, reachability.apiDown ? POLL_WHILE_DOWN_MS : POLL_MS);
  }

  function stopPolling() {
    clearTimeout(state.timer);
    state.timer = null;
  }

  async function poll() {
    const jobId = state.job?.job_id;
    if (!jobId) return;
    const key = readAdminKey();
    state.waitingForKey = !key;
    if (!key) return setStatus($("file-status"), NEEDS_KEY, "error");
    const { value, error } = await attempt(() => api.job(jobId, key));
    if (jobId !== state.job?.job_id) return; // another job was started meanwhile
    if (error) {
      setStatus($("file-status"), `Could not check the job: ${adminRefused(error, WHERE_THE_KEY_GOES)}`, "error");
      if (error instanceof ApiError && error.status === 404) return forget();
      if (error instanceof ApiError && [401, 403].includes(error.status)) state.waitingForKey = true;
      else schedulePoll();
      return;
    }
    // A note on the upload, or a failure to check, holds until the job answers that it is under way.
    if (value.body.status !== "SUBMITTED" || $("file-status").dataset.kind === "error") setStatus($("file-status"), "");
    render(value.body);
    if (RUNNING.has(value.body.status) || writingResults(value.body)) schedulePoll();
    else await showResults(value.body);
  }

  function writingResults(job) {
    if (!ENDED_EARLY.has(job.status) || job.total === null || job.results_ready) return false;
    state.endedAt ??= Date.now();
    if (Date.now() - state.endedAt > RESULTS_WAIT_MS) return false;
    setStatus($("file-status"), "Writing the results of the rows done so far…");
    return true;
  }

  async function showResults(job) {
    state.endedAt = null;
    if (job.total === null) return; // ended before its rows were counted: no results file, the reason says why
    const { value, error } = await attempt(() => api.jobResults(job.job_id, readAdminKey()));
    if (job.job_id !== state.job?.job_id) return;
    if (error) {
      setStatus($("file-status"), `Could not get the results: ${adminRefused(error, WHERE_THE_KEY_GOES)}`, "error");
      return;
    }
    const results = value.body;
    const link = $("file-download");
    link.href = results.download_url;
    link.download = resultsName(state.file, job.format);
    link.textContent = job.status === "COMPLETED" ? "Download the results" : "Download the results so far";
    renderSplit(results);
    $("file-results").hidden = false;
  }

  async function act(work, doing) {
    const key = readAdminKey();
    if (!key) return setStatus($("file-status"), NEEDS_KEY, "error");
    const jobId = state.job.job_id;
    setStatus($("file-status"), doing);
    const { value, error } = await attempt(() => work(jobId, key));
    if (error) return setStatus($("file-status"), adminRefused(error, WHERE_THE_KEY_GOES), "error");
    setStatus($("file-status"), "");
    $("file-results").hidden = true;
    render(value.body);
    if (RUNNING.has(value.body.status) || writingResults(value.body)) schedulePoll();
    else await showResults(value.body);
  }

  function forget() {
    sessionStorage.removeItem(JOB_STORAGE);
    stopPolling();
  }

  function pickUp() {
    let kept = null;
    try {
      kept = JSON.parse(sessionStorage.getItem(JOB_STORAGE) || "null");
    } catch {
      kept = null;
    }
    if (!kept?.jobId || !readAdminKey()) return;
    state.job = { job_id: kept.jobId };
    state.file = kept.fileName;
    poll();
  }

  function keyChanged() {
    showKey();
    if (!state.job) pickUp();
    else if (state.waitingForKey) poll();
  }

  $("file-form").addEventListener("submit", start);
  $("file-cancel").addEventListener("click", () => act(api.cancelJob, "Cancelling…"));
  $("file-resume").addEventListener("click", () => act(api.resumeJob, "Resuming: only the rows not yet done run again…"));
  for (const field of fields) field.addEventListener("change", clearRefusal);
  showKey();
  pickUp();
  return { keyChanged };
}

// A job that stopped or failed counts the rows it never reached among the failed (NOT_PROCESSED in its
// results): its bar and its words show the rows classified, not a full bar.
function renderProgress(job) {
  const ended = job.status === "STOPPED" || job.status === "FAILED";
  const bar = $("file-progress");
  if (job.total === null || job.total === undefined) {
    bar.removeAttribute("value"); // indeterminate: the rows are not counted yet
  } else {
    bar.max = Math.max(job.total, 1);
    bar.value = ended ? job.succeeded : job.total ? job.succeeded + job.failed : Number(job.status === "COMPLETED");
  }
  $("file-counts").textContent = counts(job, ended);
}

/** "30 of 40 rows done: 29 succeeded, 1 failed; 12.5 rows a second." */
function counts(job, ended) {
  if (job.status === "SUBMITTED") return "Waiting for the file to arrive.";
  const [succeeded, failed] = [count.format(job.succeeded), count.format(job.failed)];
  const total = job.total === null ? null : count.format(job.total);
  if (ended) {
    const of = total === null ? "" : ` of ${total}`;
    return `${succeeded}${of} rows classified; ${failed} failed or not reached.`;
  }
  const done = count.format(job.succeeded + job.failed);
  const rows = total === null ? `${done} rows done so far` : `${done} of ${total} rows done`;
  const rate = job.rows_per_second ? `; ${rateOf(job.rows_per_second)} rows a second` : "";
  return `${rows}: ${succeeded} succeeded, ${failed} failed${rate}.`;
}

function rateOf(perSecond) {
  return perSecond < 10 ? perSecond.toFixed(1) : count.format(Math.round(perSecond));
}

function when(job) {
  const parts = [];
  if (job.started_at) parts.push("started ", timeElement(job.started_at));
  if (job.finished_at) parts.push(parts.length ? ", finished " : "finished ", timeElement(job.finished_at));
  return parts;
}

/** The labels' split of the classified rows, and the rows that got none, said in words as well. */
function renderSplit(results) {
  const parts = LABELS.map((label) => ({ kind: label, name: label, count: results.labels[label] || 0 }));
  if (results.failed) parts.push({ kind: "error", name: "not classified", count: results.failed });
  const total = parts.reduce((sum, part) => sum + part.count, 0);
  const errors = Object.entries(results.errors)
    .map(([code, rows]) => `${rows} ${code}`)
    .join(", ");
  const summary = total
    ? `Of the ${total} rows: ${parts.map((part) => `${part.count} ${part.name}`).join(", ")}${errors ? ` (${errors})` : ""}.`
    : "The file had no rows.";
  drawSplit($("file-chart"), parts, summary);
}

/** tickets.csv → tickets.results.csv, as make classify names it. */
function resultsName(fileName, format) {
  const stem = (fileName || "job").replace(/\.[^.]*$/, "");
  return `${stem}.results.${format}`;
}

function sentence(text) {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
