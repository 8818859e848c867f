/* One hazard (hazards/h5_detail.html): photo pickers in the action forms, one submission per
 * tap, a confirmation before irreversible actions, and the success message shown once. */
(function () {
  "use strict";

  var done = document.querySelector("[data-done]");
  if (done) {
    // The report went through: the 随手拍 draft has done its job.
    if (done.getAttribute("data-done") === "report") {
      try {
        for (var i = window.localStorage.length - 1; i >= 0; i -= 1) {
          var key = window.localStorage.key(i);
          if (key && key.indexOf("ancha.report.draft.") === 0) window.localStorage.removeItem(key);
        }
      } catch (ignored) { /* private mode */ }
    }
    // A reload should not announce it again.
    if (window.history && history.replaceState) {
      history.replaceState(null, "", location.pathname + location.hash);
    }
    setTimeout(function () { done.style.display = "none"; }, 5000);
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-action-form]"), function (form) {
    var root = form.querySelector("[data-uploader]");
    var uploader = root ? window.AnchaUploader.init(root) : null;
    var clicked = null;
    form.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (button) clicked = button;
    });
    form.addEventListener("submit", function (event) {
      if (clicked && clicked.getAttribute("data-confirm") && !window.confirm(clicked.getAttribute("data-confirm"))) {
        event.preventDefault();
        return;
      }
      if (uploader && uploader.busy > 0) {
        event.preventDefault();
        window.AnchaUploader.toptips("照片还在上传，请稍候再提交。");
        return;
      }
      var needsPhoto = form.querySelector("[data-needs-photo]");
      if (needsPhoto && uploader && uploader.tokens().length === 0) {
        event.preventDefault();
        window.AnchaUploader.toptips(needsPhoto.getAttribute("data-needs-photo"));
        return;
      }
      if (form.getAttribute("data-sent")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "1");
      // The pressed button's name/value (passed=1/0) must still be posted once disabled.
      if (clicked && clicked.name) {
        var carry = document.createElement("input");
        carry.type = "hidden";
        carry.name = clicked.name;
        carry.value = clicked.value;
        form.appendChild(carry);
      }
      Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
      if (clicked) clicked.textContent = "正在提交…";
    });
  });

  var failed = document.querySelector(".h5-banner--error");
  if (failed) failed.scrollIntoView({ block: "start" });
})();
