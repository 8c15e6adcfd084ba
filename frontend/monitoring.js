// How well the model does: agreement of people's labels over time, the champion's drift against its
// training-time baseline, and agreement per version. Drawn from GET /monitoring.

import { api } from "./api.js";
import { el, LABELS, languageName, percent, svg } from "./dom.js";
import { $, attempt } from "./page.js";

export function setUpQuality() {
  let quality = null; // the last GET /monitoring answer, redrawn on resize

  async function refresh() {
    const { value } = await attempt(() => api.monitoring(30), $("quality-status"));
    if (!value) return;
    quality = value.body;
    drawAgreement($("agreement"), value.body.daily);
    renderSourceAgreement($("agreement-sources"), value.body.agreement_by_source);
    renderUnsupported($("quality-languages"), value.body.daily);
    drawDrift($("drift"), value.body.drift);
    renderVersionQuality(document.querySelector("#quality-versions tbody"), value.body.versions);
  }

  let resizeTimer = null;
  function redrawOnResize() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (quality) drawAgreement($("agreement"), quality.daily);
    }, 150);
  }

  $("refresh-quality").addEventListener("click", refresh);
  window.addEventListener("resize", redrawOnResize);
  return { refresh };
}

const DAY_FORMAT = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

function day(iso) {
  return DAY_FORMAT.format(new Date(`${iso}T00:00:00Z`));
}

/** Daily agreement as points joined by lines; days without feedback leave a gap. */
function drawAgreement(container, daily) {
  const judged = daily.filter((entry) => entry.agreement !== null);
  if (!judged.length) {
    container.replaceChildren(el("p", { class: "muted" }, "Agreement appears with the first label people give."));
    return;
  }
  const width = Math.max(280, Math.round(container.clientWidth) || 600);
  const height = 160;
  const [left, right, top, bottom] = [36, 12, 8, 24];
  const plot = height - top - bottom;
  const step = (width - left - right) / Math.max(1, daily.length - 1);
  const x = (index) => left + index * step;
  const y = (share) => top + (1 - share) * plot;
  const total = judged.reduce((sum, entry) => sum + entry.feedback, 0);
  const agreed = judged.reduce((sum, entry) => sum + entry.agreement * entry.feedback, 0);
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "agreement",
    role: "img",
    "aria-label": `Share of people's labels confirming the model, per day over ${daily.length} days: ${percent(agreed / total)} of ${total} labels overall.`,
  });
  chart.append(
    svg("line", { x1: left, y1: y(0), x2: width - right, y2: y(0), class: "axis" }),
    svg("line", { x1: left, y1: y(0.5), x2: width - right, y2: y(0.5), class: "grid" }),
    svg("text", { x: left - 6, y: y(1) + 4, class: "tick", "text-anchor": "end" }, "100%"),
    svg("text", { x: left - 6, y: y(0.5) + 4, class: "tick", "text-anchor": "end" }, "50%"),
    svg("text", { x: left - 6, y: y(0) + 4, class: "tick", "text-anchor": "end" }, "0%"),
    svg("text", { x: x(0), y: height - 6, class: "tick", "text-anchor": "start" }, day(daily[0].date)),
    svg("text", { x: x(daily.length - 1), y: height - 6, class: "tick", "text-anchor": "end" }, day(daily.at(-1).date)),
  );
  let run = [];
  const flush = () => {
    if (run.length > 1) chart.append(svg("polyline", { points: run.join(" "), class: "agreement-line" }));
    run = [];
  };
  daily.forEach((entry, index) => {
    if (entry.agreement === null) {
      flush();
      return;
    }
    run.push(`${x(index)},${y(entry.agreement)}`);
    chart.append(
      svg(
        "circle",
        { cx: x(index), cy: y(entry.agreement), r: 4, class: "agreement-point", dataset: { date: entry.date } },
        svg("title", {}, `${day(entry.date)}: ${percent(entry.agreement)} of ${entry.feedback} labels confirmed`),
      ),
    );
  });
  flush();
  container.replaceChildren(chart);
}

function verdict(psi) {
  if (psi < 0.1) return "stable";
  if (psi < 0.25) return "a moderate shift";
  return "a large shift";
}

/** Paired bars: recent share against the baseline's, per category. */
function pairedBars(title, categories, distribution) {
  const width = 300;
  const height = 130;
  const [left, bottom, top] = [8, 30, 8];
  const plot = height - top - bottom;
  const slot = (width - left * 2) / categories.length;
  const tallest = Math.max(0.01, ...distribution.recent, ...distribution.baseline);
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "drift-bars",
    role: "img",
    "aria-label": `${title}: ${categories
      .map((name, index) => `${name} ${percent(distribution.recent[index])} now, ${percent(distribution.baseline[index])} at training`)
      .join("; ")}. PSI ${distribution.psi.toFixed(3)}, ${verdict(distribution.psi)}.`,
  });
  chart.append(svg("line", { x1: left, y1: top + plot, x2: width - left, y2: top + plot, class: "axis" }));
  categories.forEach((name, index) => {
    const x = left + index * slot;
    for (const [offset, kind, share] of [
      [0.12, "recent", distribution.recent[index]],
      [0.5, "baseline", distribution.baseline[index]],
    ]) {
      const h = (share / tallest) * plot;
      chart.append(
        svg(
          "rect",
          { x: x + slot * offset, y: top + plot - h, width: slot * 0.36, height: h, class: `bar-${kind}` },
          svg("title", {}, `${name}, ${kind === "recent" ? "last 7 days" : "at training"}: ${percent(share)}`),
        ),
      );
    }
    chart.append(
      svg("text", { x: x + slot / 2, y: height - 12, class: "tick", "text-anchor": "middle" }, name),
    );
  });
  return el("figure", { class: "drift-figure" }, chart, el("figcaption", {}, `${title}: PSI ${distribution.psi.toFixed(3)} (${verdict(distribution.psi)})`));
}

// "<.5", ".5", ".6", …, "≥.95": each bin by its lower edge, short enough to sit under its bars.
function binNames(edges) {
  const short = (edge) => String(edge).replace(/^0/, "");
  return [`<${short(edges[0])}`, ...edges.slice(0, -1).map(short), `≥${short(edges.at(-1))}`];
}

const SOURCE_NAMES = { public: "The public", reviewer: "Reviewers" };

/** Agreement per source over the period: anyone can send a public label, so the two are read apart. */
function renderSourceAgreement(paragraph, bySource) {
  const parts = Object.entries(SOURCE_NAMES).map(([source, name]) => {
    const figures = bySource[source];
    if (!figures || !figures.count) return `${name}: no labels.`;
    const labels = figures.count === 1 ? "1 label" : `${figures.count} labels`;
    return `${name}: ${labels}, ${percent(figures.agreement)} confirming the model.`;
  });
  paragraph.textContent = parts.join(" ");
}

/** Comments in languages the model was not trained for: counted apart, in none of the figures here. */
function renderUnsupported(paragraph, daily) {
  const byLanguage = {};
  for (const entry of daily) {
    for (const [code, count] of Object.entries(entry.unsupported || {})) byLanguage[code] = (byLanguage[code] || 0) + count;
  }
  const total = Object.values(byLanguage).reduce((sum, count) => sum + count, 0);
  if (!total) {
    paragraph.textContent = "";
    paragraph.hidden = true;
    return;
  }
  const parts = Object.entries(byLanguage)
    .sort(([, a], [, b]) => b - a)
    .map(([code, count]) => `${languageName(code)} ${count}`);
  const comments = total === 1 ? "1 comment" : `${total} comments`;
  paragraph.textContent = `${comments} in languages the model was not trained for (${parts.join(", ")}) in these ${daily.length} days: their labels are guesses, left out of every figure here.`;
  paragraph.hidden = false;
}

function drawDrift(container, drift) {
  if (!drift) {
    container.replaceChildren(el("p", { class: "muted" }, "Drift appears once a model serves."));
    return;
  }
  if (drift.psi === null) {
    container.replaceChildren(el("p", { class: "muted", "data-testid": "drift-reason" }, `No drift figure yet: ${drift.reason}.`));
    return;
  }
  container.replaceChildren(
    el(
      "p",
      { "data-testid": "drift-summary" },
      `Drift of the last ${drift.window_days} days (${drift.comments} comments) against model ${drift.model_version} at training: PSI ${drift.psi.toFixed(3)}, ${verdict(drift.psi)}.`,
    ),
    el("div", { class: "drift-row" }, pairedBars("Labels", LABELS, drift.labels), pairedBars("Confidence", binNames(drift.confidence_edges), drift.confidence)),
    el(
      "p",
      { class: "legend muted" },
      el("span", { class: "swatch swatch-recent" }),
      " last 7 days ",
      el("span", { class: "swatch swatch-baseline" }),
      " at training (golden split)",
    ),
  );
}

function renderVersionQuality(tbody, versions) {
  tbody.replaceChildren(
    ...versions.map((version) =>
      el(
        "tr",
        { dataset: { version: version.model_version } },
        el("td", {}, el("code", {}, version.model_version), version.champion ? " (champion)" : ""),
        el("td", {}, String(version.count)),
        el("td", {}, version.agreement === null ? "–" : percent(version.agreement)),
        el(
          "td",
          { class: "optional-column" },
          LABELS.map((label) => {
            const share = version.per_label[label].agreement;
            return `${label} ${share === null ? "–" : percent(share)}`;
          }).join(" · "),
        ),
      ),
    ),
  );
}
