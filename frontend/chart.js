// The picture of recent comments, drawn as SVG by the page itself: how they split between the labels,
// and how many of each arrived over time. The split is drawn the same way for a classified file's rows.

import { el, LABELS, percent, svg } from "./dom.js";

const KINDS = [...LABELS, "pending"];
const MINUTE = 60 * 1000;
const BUCKET_SIZES = [MINUTE, 5 * MINUTE, 15 * MINUTE, 60 * MINUTE, 6 * 60 * MINUTE, 24 * 60 * MINUTE, 7 * 24 * 60 * MINUTE];
const MAX_BUCKETS = 12;

function kindOf(comment) {
  return comment.sentiment || "pending";
}

function countKinds(comments) {
  const counts = Object.fromEntries(KINDS.map((kind) => [kind, 0]));
  for (const comment of comments) counts[kindOf(comment)] += 1;
  return counts;
}

/** The split of `comments` between the labels, as one bar and a legend that says it in words. */
export function drawDistribution(container, comments) {
  const counts = countKinds(comments);
  const total = comments.length;
  const shown = KINDS.filter((kind) => counts[kind] > 0 || kind !== "pending");
  const summary = total
    ? `Of the last ${total} comments: ${shown.map((kind) => `${counts[kind]} ${kind} (${percent(counts[kind] / total)})`).join(", ")}.`
    : "No comments yet.";
  drawSplit(
    container,
    shown.map((kind) => ({ kind, name: kind, count: counts[kind] })),
    summary,
  );
  return summary;
}

/** How a whole splits into `parts` (`{kind, name, count}`, drawn in the colour of `fill-{kind}`): one bar,
 * and a legend that says each part's count and share. `summary` says it all in words for screen readers. */
export function drawSplit(container, parts, summary) {
  const total = parts.reduce((sum, part) => sum + part.count, 0);
  const width = 600;
  const height = 28;
  const bar = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "distribution",
    role: "img",
    "aria-label": summary,
    preserveAspectRatio: "none",
  });
  let x = 0;
  for (const { kind, name, count } of parts) {
    if (!count) continue;
    const share = (count / total) * width;
    bar.append(svg("rect", { x, y: 0, width: share, height, class: `fill-${kind}` }, svg("title", {}, `${name}: ${count}`)));
    x += share;
  }
  if (!total) bar.append(svg("rect", { x: 0, y: 0, width, height, class: "fill-empty" }));
  const legend = el(
    "ul",
    { class: "legend" },
    ...parts.map(({ kind, name, count }) =>
      el(
        "li",
        { dataset: { kind } },
        el("span", { class: `swatch fill-${kind}`, "aria-hidden": "true" }),
        `${name} `,
        el("strong", {}, String(count)),
        total ? ` (${percent(count / total)})` : "",
      ),
    ),
  );
  container.replaceChildren(bar, legend);
}

function bucketSize(span) {
  return BUCKET_SIZES.find((size) => Math.ceil((span + 1) / size) <= MAX_BUCKETS) ?? BUCKET_SIZES.at(-1);
}

function bucketLabel(start, size) {
  const options =
    size >= 24 * 60 * MINUTE ? { month: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(undefined, options).format(new Date(start));
}

/** Stacked columns: how many comments of each label arrived in each interval, oldest on the left. */
export function drawTimeline(container, comments) {
  if (!comments.length) {
    container.replaceChildren(el("p", { class: "muted" }, "The timeline appears with the first comment."));
    return;
  }
  const times = comments.map((comment) => new Date(comment.timestamp).getTime());
  const newest = Math.max(...times);
  const size = bucketSize(newest - Math.min(...times));
  const last = Math.floor(newest / size) * size;
  const buckets = Array.from({ length: MAX_BUCKETS }, (_, index) => ({
    start: last - (MAX_BUCKETS - 1 - index) * size,
    counts: Object.fromEntries(KINDS.map((kind) => [kind, 0])),
  }));
  comments.forEach((comment, index) => {
    const slot = MAX_BUCKETS - 1 - Math.round((last - Math.floor(times[index] / size) * size) / size);
    if (slot >= 0) buckets[slot].counts[kindOf(comment)] += 1;
  });
  const tallest = Math.max(1, ...buckets.map((bucket) => KINDS.reduce((sum, kind) => sum + bucket.counts[kind], 0)));

  const width = Math.max(280, Math.round(container.clientWidth) || 600); // drawn at its real size: ticks stay legible
  const height = 180;
  const bottom = 24;
  const left = 28;
  const right = 24; // room for the last tick's label
  const plot = height - bottom - 8;
  const column = (width - left - right) / MAX_BUCKETS;
  const labelEvery = Math.max(1, Math.ceil(60 / column)); // a tick's label needs about 60 px
  const unit = size >= 24 * 60 * MINUTE ? "day" : `${size / MINUTE} min`;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "timeline",
    role: "img",
    "aria-label": `Comments per ${unit} over the last ${MAX_BUCKETS} intervals, by sentiment; at most ${tallest} in one interval.`,
  });
  chart.append(
    svg("line", { x1: left, y1: 8 + plot, x2: width - right, y2: 8 + plot, class: "axis" }),
    svg("text", { x: left - 6, y: 12, class: "tick", "text-anchor": "end" }, String(tallest)),
    svg("text", { x: left - 6, y: 8 + plot, class: "tick", "text-anchor": "end" }, "0"),
  );
  buckets.forEach((bucket, index) => {
    const x = left + index * column + column * 0.15;
    let y = 8 + plot;
    const described = KINDS.filter((kind) => bucket.counts[kind])
      .map((kind) => `${bucket.counts[kind]} ${kind}`)
      .join(", ");
    const group = svg("g", {}, svg("title", {}, `${bucketLabel(bucket.start, size)}: ${described || "none"}`));
    for (const kind of KINDS) {
      const count = bucket.counts[kind];
      if (!count) continue;
      const h = (count / tallest) * plot;
      y -= h;
      group.append(svg("rect", { x, y, width: column * 0.7, height: h, class: `fill-${kind}` }));
    }
    chart.append(group);
    if ((MAX_BUCKETS - 1 - index) % labelEvery === 0) {
      chart.append(
        svg(
          "text",
          { x: x + column * 0.35, y: height - 6, class: "tick", "text-anchor": "middle" },
          bucketLabel(bucket.start, size),
        ),
      );
    }
  });
  container.replaceChildren(chart);
}
