// The status page while the automatic checks run: ask the desk every few seconds where the
// request stands and, when it moves on, show the new step in the polite live region (screen
// readers announce it). Without this script a <noscript> refresh reloads the whole page.
(function () {
  "use strict";
  var card = document.getElementById("progress-card");
  var region = document.getElementById("progress");
  if (!card || !region || card.getAttribute("data-running") !== "true") {
    return;
  }
  var url = card.getAttribute("data-progress-url");
  var every = Math.max(2, parseInt(card.getAttribute("data-every"), 10) || 5) * 1000;
  var shown = region.querySelector("#steps").getAttribute("data-step");
  var actions = card.getAttribute("data-actions") || "";

  function ask() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (now) {
        if (now.actions.join(" ") !== actions) {
          // What the person can do changed (new photos asked for, the request closed):
          // the page's forms follow only with a fresh page.
          window.location.reload();
          return;
        }
        if (now.step !== shown) {
          region.innerHTML = now.html;
          shown = now.step;
        }
        if (now.checks_running) {
          window.setTimeout(ask, every);
        }
      })
      .catch(function () {
        // The desk is busy or unreachable: try again later, more slowly.
        window.setTimeout(ask, every * 3);
      });
  }
  window.setTimeout(ask, every);
})();
