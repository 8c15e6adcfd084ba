// A person's label for a comment, from the result under the comment box or from the list of recent
// comments: the buttons are held while it is sent, and the outcome is said next to them.

import { api } from "./api.js";
import { attempt, describe, setStatus } from "./page.js";

export async function sendFeedback(commentId, label, predicted, buttons, status) {
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
