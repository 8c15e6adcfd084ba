// Recent comments, newest first, filtered by label and paged, each with buttons to label it; and the
// picture of the last hundred: the split by label and the count per interval.

import { api } from "./api.js";
import { drawDistribution, drawTimeline } from "./chart.js";
import { el, LABELS, languageName, percent, timeElement, unsupportedNote } from "./dom.js";
import { sendFeedback } from "./labelling.js";
import { $, attempt, describe, setStatus } from "./page.js";

const PAGE_SIZE = 10;
const OVERVIEW_SIZE = 100;

export function setUpRecent() {
  const state = {
    filter: "",
    nextToken: null,
    listGeneration: 0,
    overview: [], // the comments the picture was drawn from
  };

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
    // A label guessed for a language the model cannot read says nothing about what people think.
    drawDistribution($("distribution"), state.overview.filter((comment) => comment.supported !== false));
    drawTimeline($("timeline"), state.overview);
  }

  function refresh() {
    loadComments({ append: false });
    refreshOverview();
  }

  let resizeTimer = null;
  function redrawOnResize() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => drawTimeline($("timeline"), state.overview), 150);
  }

  for (const radio of document.querySelectorAll("input[name=sentiment]")) {
    radio.addEventListener("change", () => {
      state.filter = radio.value;
      loadComments({ append: false });
    });
  }
  $("load-more").addEventListener("click", () => loadComments({ append: true }));
  $("refresh-comments").addEventListener("click", refresh);
  window.addEventListener("resize", redrawOnResize);
  return { refresh };
}

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
      el("span", { class: `badge badge-${label}${comment.supported === false ? " badge-guess" : ""}`, "data-testid": "item-label" }, label),
      comment.confidence === null ? null : el("span", { class: "muted" }, percent(comment.confidence)),
      comment.supported === false
        ? el("span", { class: "badge badge-language", title: unsupportedNote(comment), "data-testid": "item-language" }, `${languageName(comment.language)} · not supported`)
        : null,
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
