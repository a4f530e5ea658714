/* Keyboard shortcuts for the whole console.
 *
 * Any element with data-shortcut="x" (and data-shortcut-label="What it does") is focused (a
 * field) or clicked (anything else) when x is pressed: not while typing in a field, and never
 * with Ctrl, Alt or Meta held. "?" opens the help dialog, which lists every shortcut on the
 * page from the DOM. A table with data-row-shortcuts gets j / k (next / previous row), Enter
 * (open the row's case) and x (tick the row's checkbox). The page works without any of this.
 */
(function () {
  "use strict";

  var ROW_KEYS = [["j", "Next case in the list"], ["k", "Previous case in the list"],
                  ["Enter", "Open the selected case"], ["x", "Select or unselect the case"]];

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    if (tag === "input") {  /* a ticked box or a button takes no text: keys stay shortcuts */
      return ["checkbox", "radio", "button", "submit", "reset"].indexOf(target.type) < 0;
    }
    return tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function visible(element) {
    return !element.hidden && !element.disabled && element.getClientRects().length > 0;
  }

  function shortcuts() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-shortcut]"), function (el) {
      return visible(el);
    });
  }

  function rowsTable() { return document.querySelector("table[data-row-shortcuts]"); }

  function rows() {
    var table = rowsTable();
    return table ? Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-href]")) : [];
  }

  function currentRow() {
    return rows().filter(function (row) { return row.classList.contains("current"); })[0] || null;
  }

  function moveRow(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.indexOf(currentRow());
    var next = index < 0 ? (step > 0 ? 0 : all.length - 1)
                         : Math.min(all.length - 1, Math.max(0, index + step));
    all.forEach(function (row) { row.classList.remove("current"); row.removeAttribute("aria-current"); });
    var row = all[next];
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    row.tabIndex = -1;
    row.focus();
    row.scrollIntoView({block: "nearest"});
  }

  function addEntry(list, key, label) {
    var term = document.createElement("dt");
    var kbd = document.createElement("kbd");
    kbd.textContent = key;
    term.appendChild(kbd);
    var description = document.createElement("dd");
    description.textContent = label;
    list.appendChild(term);
    list.appendChild(description);
  }

  function openHelp() {
    var dialog = document.getElementById("shortcuts-help");
    var list = document.getElementById("shortcuts-list");
    if (!dialog || !list || dialog.open) { return; }
    list.textContent = "";
    shortcuts().forEach(function (el) {
      addEntry(list, el.getAttribute("data-shortcut"),
               el.getAttribute("data-shortcut-label") || el.textContent.trim());
    });
    if (rows().length) {
      ROW_KEYS.forEach(function (entry) { addEntry(list, entry[0], entry[1]); });
    }
    dialog.showModal();
    var close = document.getElementById("shortcuts-close");
    if (close) { close.focus(); }
  }

  function activate(el) {
    if (typing(el)) {
      el.focus();
      if (el.select && el.tagName.toLowerCase() === "input") { el.select(); }
    } else {
      el.click();
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented) { return; }
    if (typing(event.target)) { return; }
    var dialog = document.getElementById("shortcuts-help");
    if (dialog && dialog.open) { return; }  /* the dialog has its own keys: Escape closes it */
    var key = event.key;
    if (key === "?") { event.preventDefault(); openHelp(); return; }
    var row = currentRow();
    if (rows().length) {
      if (key === "j" || key === "k") { event.preventDefault(); moveRow(key === "j" ? 1 : -1); return; }
      if (key === "Enter" && row && document.activeElement === row) {
        event.preventDefault();
        window.location.assign(row.getAttribute("data-href"));
        return;
      }
      if (key === "x" && row) {
        var box = row.querySelector("input[type=checkbox]");
        if (box) { event.preventDefault(); box.click(); }
        return;
      }
    }
    var match = shortcuts().filter(function (el) {
      return el.getAttribute("data-shortcut") === key;
    })[0];
    if (match) { event.preventDefault(); activate(match); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var open = document.getElementById("shortcuts-open");
    if (open && document.getElementById("shortcuts-help")) {
      open.hidden = false;
      open.addEventListener("click", openHelp);
    }
    var dialog = document.getElementById("shortcuts-help");
    if (dialog) {
      dialog.addEventListener("close", function () { if (open) { open.focus(); } });
    }
  });
}());
