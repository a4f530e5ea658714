// The case page's notice of other staff: who else has the case open, and whether someone
// changed it since this page was drawn (before a stale action fails). Asks the desk every
// data-poll-seconds while the tab is visible, and at once when it becomes visible again.
(function () {
  "use strict";
  var region = document.getElementById("presence");
  if (!region || !window.fetch) {
    return;
  }
  var url = region.getAttribute("data-url");
  var version = parseInt(region.getAttribute("data-version"), 10);
  var seconds = parseInt(region.getAttribute("data-poll-seconds"), 10) || 10;
  var timer = null;
  var shown = null;

  function paragraph(className, text) {
    var p = document.createElement("p");
    p.className = className;
    p.textContent = text;
    return p;
  }

  function show(data) {
    var notes = data.viewers.map(function (viewer) { return viewer.notice; });
    var changed = typeof data.version === "number" && data.version > version;
    // Only a different notice is written: the live region must not repeat itself each poll.
    var key = JSON.stringify([notes.map(function (n) { return n.replace(/ \d+ \w+ ago| just now/, ""); }),
                              changed && data.change_notice]);
    if (key === shown) {
      // The same people: only the times move on, quietly.
      var items = region.querySelectorAll(".presence-viewer");
      notes.forEach(function (note, i) { if (items[i]) { items[i].textContent = note; } });
      return;
    }
    shown = key;
    var nodes = notes.map(function (note) { return paragraph("flash info presence-viewer", note); });
    if (changed) {
      var p = paragraph("flash conflict presence-change", data.change_notice.replace(/\.$/, "") + ": ");
      var link = document.createElement("a");
      link.href = window.location.pathname;
      link.id = "presence-reload";
      link.textContent = "reload to see it";
      p.appendChild(link);
      p.appendChild(document.createTextNode("."));
      nodes.push(p);
    }
    region.replaceChildren.apply(region, nodes);
  }

  function poll() {
    timer = null;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin",
                 cache: "no-store" })
      .then(function (response) {
        if (!response.ok || (response.headers.get("Content-Type") || "").indexOf("json") === -1) {
          throw new Error("presence " + response.status);
        }
        return response.json();
      })
      .then(show)
      .catch(function () { /* the next poll tries again; the page itself still works */ })
      .then(schedule);
  }

  function schedule() {
    if (timer === null && document.visibilityState === "visible") {
      timer = window.setTimeout(poll, seconds * 1000);
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      if (timer !== null) {
        window.clearTimeout(timer);
      }
      poll();
    } else if (timer !== null) {
      window.clearTimeout(timer);
      timer = null;
    }
  });
  poll();
})();
