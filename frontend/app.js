// The page: each panel is a module of its own, set up here and told what to refresh when it changes
// something another panel shows. Every request has a timeout, and every failure is said in words next to
// what failed (page.js).

import { setUpComposer } from "./composer.js";
import { setUpFilePanel } from "./file-panel.js";
import { setUpHealth } from "./health.js";
import { setUpModelPanel } from "./model-panel.js";
import { setUpQuality } from "./monitoring.js";
import { attempt, describe } from "./page.js";
import { setUpRecent } from "./recent.js";
import { setUpReview } from "./review.js";

const recent = setUpRecent();
const quality = setUpQuality();
const filePanel = setUpFilePanel();
const modelPanel = setUpModelPanel({ onAdminKey: filePanel.keyChanged });
const review = setUpReview({ attempt, describe, onLabelled: quality.refresh });
setUpComposer({
  onClassified: recent.refresh,
  onFeedback: () => {
    recent.refresh();
    quality.refresh();
  },
});
const health = setUpHealth({ onBack: refreshAll });

function refreshAll() {
  recent.refresh();
  modelPanel.refresh();
  quality.refresh();
  review.reload();
}

health.checkHealth();
refreshAll();
health.scheduleHealth();
modelPanel.schedule();
