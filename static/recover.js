// The recovery form: show the verification code only for the issue types that need it.
// Without this script the code block stays visible and names those types itself.
(function () {
  "use strict";
  var block = document.getElementById("challenge");
  var select = document.getElementById("issue_type");
  if (!block || !select) {
    return;
  }
  var types = JSON.parse(block.getAttribute("data-challenge-types") || "[]");
  var note = document.getElementById("challenge-for");
  if (note) {
    note.hidden = true;
  }
  function update() {
    block.hidden = types.indexOf(select.value) === -1;
  }
  select.addEventListener("change", update);
  update();
})();
