// The HTTP API, as the page uses it. Same origin: locally the gateway serves the page next to the
// API, and on AWS one CloudFront distribution sends the API's paths to API Gateway.

const TIMEOUT_MS = 15000;
const UPLOAD_TIMEOUT_MS = 10 * 60 * 1000;

/** The API answered, but not with success: `message` is the API's own, made readable. */
export class ApiError extends Error {
  constructor(status, message, details = [], retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

/** No answer at all: the network failed, the API is not listening, or it took too long. */
export class Unreachable extends Error {
  constructor(message) {
    super(message);
    this.name = "Unreachable";
  }
}

function explain(status, statusText, payload) {
  if (payload && typeof payload.message === "string") {
    const details = Array.isArray(payload.details) ? payload.details : [];
    const reasons = details.map((detail) => detail && detail.msg).filter(Boolean);
    return reasons.length ? `${payload.message}: ${reasons.join("; ")}` : payload.message;
  }
  if (status === 429) return "Too many requests; wait a moment and try again.";
  return `The API answered ${status} ${statusText}`.trim();
}

async function request(method, path, { body, headers = {}, timeoutMs = TIMEOUT_MS } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: "no-store",
    });
  } catch (error) {
    throw new Unreachable(
      error.name === "AbortError" ? `no answer within ${timeoutMs / 1000} s` : "the network request failed",
    );
  } finally {
    clearTimeout(timer);
  }
  const text = await response.text();
  let payload = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = null;
  }
  if (!response.ok) {
    throw new ApiError(
      response.status,
      explain(response.status, response.statusText, payload),
      payload && Array.isArray(payload.details) ? payload.details : [],
      response.headers.get("Retry-After"),
    );
  }
  return { status: response.status, body: payload };
}

function query(parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** The Authorization header of the key-holding routes (admin or reviewer). */
function admin(key) {
  return { Authorization: `Bearer ${key}` };
}

export const api = {
  health: () => request("GET", "/health", { timeoutMs: 8000 }),
  classify: (comment, idempotencyKey) =>
    request("POST", "/comments", { body: { comment }, headers: { "Idempotency-Key": idempotencyKey } }),
  comments: ({ sentiment, limit, nextToken }) =>
    request("GET", `/comments${query({ sentiment, limit, next_token: nextToken })}`),
  reviewQueue: ({ limit, nextToken }) =>
    request("GET", `/comments${query({ needs_review: "true", limit, next_token: nextToken })}`),
  explanation: (commentId) => request("GET", `/comments/${encodeURIComponent(commentId)}/explanation`),
  monitoring: (days) => request("GET", `/monitoring${query({ days })}`),
  feedback: (commentId, label) => request("POST", "/feedback", { body: { comment_id: commentId, label } }),
  // A named reviewer's label: their key (or the admin key) as a Bearer token.
  review: (commentId, label, key) =>
    request("POST", "/reviews", { body: { comment_id: commentId, label }, headers: admin(key) }),
  models: () => request("GET", "/models"),
  runs: (limit) => request("GET", `/training${query({ limit })}`),
  startRun: (key) => request("POST", "/training", { headers: admin(key) }),
  promote: (version, key) => request("POST", `/models/${encodeURIComponent(version)}/promote`, { headers: admin(key) }),
  submitJob: (job, key, idempotencyKey) =>
    request("POST", "/jobs", { body: job, headers: { ...admin(key), "Idempotency-Key": idempotencyKey } }),
  job: (jobId, key) => request("GET", `/jobs/${encodeURIComponent(jobId)}`, { headers: admin(key) }),
  jobResults: (jobId, key) => request("GET", `/jobs/${encodeURIComponent(jobId)}/results`, { headers: admin(key) }),
  cancelJob: (jobId, key) => request("POST", `/jobs/${encodeURIComponent(jobId)}/cancel`, { headers: admin(key) }),
  resumeJob: (jobId, key) => request("POST", `/jobs/${encodeURIComponent(jobId)}/resume`, { headers: admin(key) }),
  upload,
};

/** A file's bytes PUT to the upload path a job or dataset answers: a presigned path on this origin, sent
 * on to the data bucket as it is, so the file never passes through the API. Its own timeout: a large file
 * takes a while. */
async function upload(path, file, { timeoutMs = UPLOAD_TIMEOUT_MS } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, { method: "PUT", body: file, signal: controller.signal, cache: "no-store" });
  } catch (error) {
    throw new Unreachable(
      error.name === "AbortError" ? `no answer within ${timeoutMs / 1000} s` : "the network request failed",
    );
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    const reason = refusal(response.headers.get("Content-Type") || "", await response.text());
    throw new ApiError(response.status, reason || `The upload was answered ${response.status} ${response.statusText}`.trim());
  }
}

// Why the upload was refused: S3 says it in XML (<Error><Code>…</Code><Message>…</Message></Error>), the
// API and the edge in JSON ({"message"}). Empty when neither says.
function refusal(contentType, text) {
  if (contentType.includes("json")) {
    try {
      return JSON.parse(text)?.message || "";
    } catch {
      return "";
    }
  }
  if (!contentType.includes("xml")) return "";
  const answer = new DOMParser().parseFromString(text, "application/xml");
  const message = answer.querySelector("Error > Message")?.textContent;
  const code = answer.querySelector("Error > Code")?.textContent;
  return message ? `${message}${code ? ` (${code})` : ""}` : "";
}

/** A key for one submission: the same text sent twice (a retry) is stored once. */
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
