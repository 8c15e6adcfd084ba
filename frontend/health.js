// The health line in the header and the API-down banner: checked every 30 s, every 5 s while the API is
// down or a serverless model is starting after idle; when the API is back, every panel is refreshed.

import { api, Unreachable } from "./api.js";
import { describeKind } from "./model-panel.js";
import { $, apiUnreachable, describe, reachability, setHealth } from "./page.js";

const POLL = { health: 30000, healthWhileDown: 5000, healthWhileStarting: 5000 };

export function setUpHealth({ onBack }) {
  let modelStarting = false; // a serverless endpoint starting after idle: health is checked more often until it answers

  async function checkHealth() {
    try {
      const { body } = await api.health();
      const wasDown = reachability.apiDown;
      reachability.apiDown = false;
      $("banner").hidden = true;
      modelStarting = body.model.status === "starting";
      if (body.model.reachable) setHealth("ok", `API up · model ${body.model.model_version}${describeKind(body.model)}`);
      else if (modelStarting)
        setHealth("starting", "Model starting after a quiet spell: comments are stored and classified within a minute or so");
      else setHealth("degraded", "Model unreachable: comments are stored and classified when it returns");
      if (wasDown) onBack();
    } catch (error) {
      if (error instanceof Unreachable) apiUnreachable(error);
      else setHealth("down", `API error: ${describe(error)}`);
    }
  }

  function scheduleHealth() {
    setTimeout(
      async () => {
        if (!document.hidden || reachability.apiDown) await checkHealth();
        scheduleHealth();
      },
      reachability.apiDown ? POLL.healthWhileDown : modelStarting ? POLL.healthWhileStarting : POLL.health,
    );
  }

  $("banner-retry").addEventListener("click", checkHealth);
  return { checkHealth, scheduleHealth };
}
