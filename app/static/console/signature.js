/* The signature pad of /console/inspections/<id>/sign: draw with a finger, a pen or the
   mouse (pointer events), "清除" to start again, "确认签字" posts the drawing as a PNG data
   URL in the form's hidden "signature" field (the form carries the CSRF token). */
(function () {
  "use strict";
  var form = document.querySelector("[data-signature-form]");
  if (!form) return;
  var canvas = form.querySelector("canvas");
  var field = form.querySelector("input[name=signature]");
  var hint = form.querySelector("[data-hint]");
  var status = form.querySelector("[data-status]");
  var ctx = canvas.getContext("2d");
  var drawing = false;
  var inked = 0;
  var last = null;

  function resize() {
    // The backing store follows the shown size (and the screen's density), so strokes are crisp.
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    var rect = canvas.getBoundingClientRect();
    var keep = inked ? canvas.toDataURL("image/png") : null;
    canvas.width = Math.round(rect.width * ratio);
    canvas.height = Math.round(rect.height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#111";
    if (keep) {
      var img = new Image();
      img.onload = function () { ctx.drawImage(img, 0, 0, rect.width, rect.height); };
      img.src = keep;
    }
  }

  function point(event) {
    var rect = canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  canvas.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    if (canvas.setPointerCapture) canvas.setPointerCapture(event.pointerId);
    drawing = true;
    last = point(event);
    ctx.beginPath();
    ctx.arc(last.x, last.y, 1.5, 0, Math.PI * 2);
    ctx.fillStyle = "#111";
    ctx.fill();
    if (hint) hint.style.display = "none";
    if (status) status.textContent = "";
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) return;
    event.preventDefault();
    var p = point(event);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    inked += Math.abs(p.x - last.x) + Math.abs(p.y - last.y);
    last = p;
  });
  function stop() { drawing = false; last = null; }
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  canvas.addEventListener("pointerleave", stop);

  form.querySelector("[data-clear]").addEventListener("click", function () {
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.restore();
    inked = 0;
    field.value = "";
    if (hint) hint.style.display = "";
    if (status) status.textContent = "";
  });

  form.addEventListener("submit", function (event) {
    if (inked < 10) {
      event.preventDefault();
      if (status) status.textContent = "请先在签名框内签字";
      return;
    }
    field.value = canvas.toDataURL("image/png");
  });

  window.addEventListener("resize", resize);
  resize();
})();
