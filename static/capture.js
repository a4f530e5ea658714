// The request form's photos: take them with the camera (a framing guide for the card, an
// oval for the face), and have each photo checked by the intake gate before sending.
// The captured frame goes into the field's own file input (DataTransfer), so the same form
// posts it. Without JavaScript, a camera or the permission, the file picker is the way.
(function () {
  "use strict";
  var form = document.getElementById("recover-form");
  if (!form) {
    return;
  }
  var texts = JSON.parse(form.getAttribute("data-texts") || "{}");
  var checkUrl = form.getAttribute("data-check-url");
  var canCapture = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
                      window.DataTransfer && HTMLCanvasElement.prototype.toBlob);

  function text(key) {
    return texts[key] || key;
  }

  function button(label, className) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = className || "secondary";
    b.textContent = label;
    return b;
  }

  function say(verdict, message, state) {
    verdict.textContent = message;
    verdict.className = "verdict" + (state ? " " + state : "");
  }

  function check(kind, input, verdict) {
    if (!checkUrl || !window.fetch || !input.files || !input.files.length) {
      return;
    }
    var body = new FormData();
    body.append("csrf_token", form.elements.csrf_token ? form.elements.csrf_token.value : "");
    body.append("upload_token", form.elements.upload_token.value);
    body.append("issue_type", form.elements.issue_type ? form.elements.issue_type.value : "");
    body.append("kind", kind);
    body.append("photo", input.files[0], input.files[0].name);
    say(verdict, text("checking"), "");
    fetch(checkUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.json().catch(function () { return { ok: false }; });
      })
      .then(function (answer) {
        say(verdict, answer.message || text("unchecked"), answer.ok ? "ok" : "bad");
        verdict.setAttribute("data-result", answer.ok ? "ok" : "refused");
      })
      .catch(function () {
        say(verdict, text("unchecked"), "");
      });
  }

  function camera(holder, kind, input, verdict) {
    var facing = holder.getAttribute("data-facing") || "environment";
    var panel = document.createElement("div");
    panel.className = "camera";
    panel.hidden = true;
    var view = document.createElement("div");
    view.className = "camera-view";
    var video = document.createElement("video");
    video.setAttribute("playsinline", "");
    video.muted = true;
    video.setAttribute("aria-label", text(holder.getAttribute("data-guide") === "face" ?
                                          "frame_face" : "frame_card"));
    var still = document.createElement("img");
    still.alt = text("captured");
    still.hidden = true;
    var guide = document.createElement("div");
    guide.className = "camera-guide " + holder.getAttribute("data-guide");
    view.appendChild(video);
    view.appendChild(still);
    view.appendChild(guide);
    var hint = document.createElement("p");
    hint.className = "help";
    hint.textContent = text(holder.getAttribute("data-guide") === "face" ? "frame_face" :
                            "frame_card");
    var actions = document.createElement("div");
    actions.className = "camera-actions";
    var take = button(text("take"), "");
    var retake = button(text("retake"));
    var use = button(text("use"), "");
    var close = button(text("close"));
    retake.hidden = use.hidden = true;
    [take, retake, use, close].forEach(function (b) { actions.appendChild(b); });
    panel.appendChild(view);
    panel.appendChild(hint);
    panel.appendChild(actions);
    var open = button(text("open"));
    open.className = "secondary camera-open";
    input.parentNode.insertBefore(open, input.nextSibling);
    open.parentNode.insertBefore(panel, open.nextSibling);

    var stream = null;
    var shot = null;
    function stop() {
      if (stream) {
        stream.getTracks().forEach(function (t) { t.stop(); });
      }
      stream = null;
      video.srcObject = null;
    }
    function live() {
      still.hidden = true;
      video.hidden = false;
      guide.hidden = false;
      take.hidden = false;
      retake.hidden = use.hidden = true;
    }
    function finish() {
      stop();
      panel.hidden = true;
      if (still.src) {
        URL.revokeObjectURL(still.src);
        still.removeAttribute("src");
      }
      open.focus();
    }
    open.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: facing }, width: { ideal: 1920 }, height: { ideal: 1080 } },
        audio: false
      }).then(function (s) {
        stream = s;
        video.srcObject = s;
        panel.hidden = false;
        live();
        return video.play();
      }).then(function () {
        take.focus();
      }).catch(function () {
        stop();
        panel.hidden = true;
        say(verdict, text("no_camera"), "bad");
        input.focus();
      });
    });
    take.addEventListener("click", function () {
      if (!video.videoWidth) {
        return;
      }
      var canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) {
        shot = blob;
        if (still.src) {
          URL.revokeObjectURL(still.src);
        }
        still.src = URL.createObjectURL(blob);
        still.hidden = false;
        video.hidden = true;
        guide.hidden = true;
        take.hidden = true;
        retake.hidden = use.hidden = false;
        use.focus();
      }, "image/jpeg", 0.92);
    });
    retake.addEventListener("click", function () {
      shot = null;
      live();
      take.focus();
    });
    use.addEventListener("click", function () {
      if (!shot) {
        return;
      }
      var file = new File([shot], kind + ".jpg", { type: "image/jpeg" });
      var transfer = new DataTransfer();
      transfer.items.add(file);
      input.files = transfer.files;
      finish();
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    close.addEventListener("click", finish);
  }

  Array.prototype.forEach.call(form.querySelectorAll(".photo-field"), function (holder) {
    var kind = holder.getAttribute("data-kind");
    var input = holder.querySelector("input[type=file]");
    var verdict = holder.querySelector(".verdict");
    if (!input || !verdict) {
      return;
    }
    input.addEventListener("change", function () { check(kind, input, verdict); });
    if (canCapture) {
      camera(holder, kind, input, verdict);
    }
  });
})();
