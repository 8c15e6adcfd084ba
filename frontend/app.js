// The page: each panel is a module of its own, set up here and told what to refresh when it changes
// something another panel shows. Every request has a timeout, and every failure is said in words next to
// what failed (page.js).

import { setUpComments } from "./comments.js";
import { setUpComposer } from "./composer.js";
import { setUpHealth } from "./health.js";
import { setUpModels } from "./models.js";
import { setUpQuality } from "./monitoring.js";
import { attempt, describe } from "./page.js";
import { setUpReview } from "./review.js";

const comments = setUpComments();
const quality = setUpQuality();
const models = setUpModels();
const review = setUpReview({ attempt, describe, onLabelled: quality.refresh });
setUpComposer({
  onClassified: comments.refresh,
  onFeedback: () => {
    comments.refresh();
    quality.refresh();
  },
});
const health = setUpHealth({ onBack: refreshAll });

function refreshAll() {
  comments.refresh();
  models.refresh();
  quality.refresh();
  review.reload();
}

health.checkHealth();
refreshAll();
health.scheduleHealth();
models.schedule();
