/* The queue's SLA countdowns ("due in 1 h 20 min", "overdue by 35 min"), told again every
 * 30 seconds from each <time datetime>; the server-rendered text stands without JavaScript. */
(function () {
  "use strict";

  function say(due, now) {
    var seconds = Math.round((due - now) / 1000);
    var minutes = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var rest = minutes % 60;
    var parts = days ? [days + " d"] : [];
    if (hours) { parts.push(hours + " h"); }
    if (!days && (rest || !hours)) { parts.push(rest + " min"); }
    return (seconds >= 0 ? "due in " : "overdue by ") + parts.join(" ");
  }

  function tick() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll("time.countdown"), function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) { return; }
      el.textContent = say(due, now);
      if (due < now && !el.classList.contains("sla-breached")) {
        el.classList.remove("sla-ok", "sla-at-risk");
        el.classList.add("sla-breached");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { window.setInterval(tick, 30000); });
}());
