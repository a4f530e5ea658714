// The recovery form: focus the error summary of a form that came back; show the
// verification code only for the issue types that need it; fetch a new code without
// reloading. Without this script the summary is still announced (role="alert"), the code
// block stays visible and names those types itself, and "Get a new code" re-renders the
// form keeping what was typed and the kept photos.
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
  var form = document.getElementById("recover-form");
  var block = document.getElementById("challenge");
  var select = document.getElementById("issue_type");
  if (!block || !select || !form) {
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

  var button = document.getElementById("new-code");
  var url = form.getAttribute("data-code-url");
  if (!button || !url || !window.fetch) {
    return;
  }
  button.addEventListener("click", function (event) {
    // A kept selfie shows the old code: the form's own way (a post) drops it and says so.
    var keptSelfie = document.getElementById("selfie-verdict");
    if (keptSelfie && keptSelfie.hasAttribute("data-kept") && !block.hidden) {
      return;
    }
    event.preventDefault();
    var body = new FormData();
    body.append("csrf_token", form.elements.csrf_token ? form.elements.csrf_token.value : "");
    button.disabled = true;
    fetch(url, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error(answer.message || "");
        }
        var code = document.getElementById("challenge-code");
        code.textContent = answer.code;
        code.setAttribute("aria-label", answer.label);
        form.elements.challenge_token.value = answer.token;
        document.getElementById("challenge-expiry").textContent = answer.expiry;
      })
      .catch(function () {
        // The form's own way still works: post it with the button's name.
        form.noValidate = true;
        var flag = document.createElement("input");
        flag.type = "hidden";
        flag.name = "new_code";
        flag.value = "1";
        form.appendChild(flag);
        form.submit();
      })
      .then(function () { button.disabled = false; });
  });
})();
