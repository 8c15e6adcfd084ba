// What every panel shares: finding an element, saying a status in words, and the API's reachability.
// An unreachable API raises the banner above every panel; the health line says what is down.

import { ApiError, Unreachable } from "./api.js";

export const $ = (id) => document.getElementById(id);

/** Whether the last request found the API unreachable: the panels poll less while it is. */
export const reachability = { apiDown: false };

export function describe(error) {
  if (error instanceof Unreachable) return `The API cannot be reached (${error.message}).`;
  if (error instanceof ApiError) return error.message;
  return String(error);
}

export function setStatus(node, text, kind = "info") {
  node.textContent = text;
  node.dataset.kind = kind;
}

export function setHealth(stateName, text) {
  const health = $("health");
  health.dataset.state = stateName;
  health.textContent = text;
}

export function apiUnreachable(error) {
  reachability.apiDown = true;
  $("banner-text").textContent =
    `The API cannot be reached (${error.message}). Nothing you typed is lost; the page keeps trying.`;
  $("banner").hidden = false;
  setHealth("down", "API unreachable");
}

/** Runs `work`; an unreachable API raises the banner, any failure is shown in `status` and returned. */
export async function attempt(work, status) {
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
