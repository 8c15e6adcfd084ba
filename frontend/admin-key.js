// The admin key, kept in this tab only (sessionStorage). The model panel is where a person enters it;
// every panel whose routes are admin-only reads it here when it sends, and says so the same way when it
// is missing or refused.

import { ApiError } from "./api.js";
import { describe } from "./page.js";

const STORAGE = "sentiment-admin-key";

export function readAdminKey() {
  return sessionStorage.getItem(STORAGE) || "";
}

export function keepAdminKey(key) {
  if (key) sessionStorage.setItem(STORAGE, key);
  else sessionStorage.removeItem(STORAGE);
}

/** A failure of an admin route in words: a refused key is said to be refused (and `where` to enter it
 * again), anything else as it is. */
export function adminRefused(error, where = "") {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    return `The admin key was refused (${error.status}): ${error.message}. Check it and enter it again${where}.`;
  }
  return describe(error);
}
