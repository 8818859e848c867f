/* The check form (templates/checks/h5_form.html).
 *
 * - Draft: every answer, description, staged photo and the idempotency key are kept in
 *   localStorage under the task, so a reload (or WeChat dropping the page) loses nothing;
 *   the draft is cleared once the server has the check.
 * - Photos of 隐患 items are staged as soon as they are picked (POST data-stage-url →
 *   {token, thumb_url}); the form posts only the tokens. Inside WeChat they come from
 *   wx.chooseImage + wx.uploadImage (the server fetches the serverId with media/get);
 *   elsewhere from <input type=file capture>, scaled down in the browser first.
 * - Location (optional): wx.getLocation inside WeChat, navigator.geolocation elsewhere.
 * - Submit: checked here first (each item answered; a 隐患 has a description and a photo),
 *   then sent once with fetch. The idempotency key is made here, with the draft: a double
 *   tap, a retry after a lost answer or a reload sends the same key, and the server answers
 *   with the first submission instead of recording a second one.
 * Without this script the form still works: radios open the 隐患 fields through CSS and the
 * file inputs post the photos. Needs h5-common.js.
 */
(function () {
  "use strict";

  var form = document.getElementById("check-form");
  if (!form) return;

  var H5 = window.AnchaH5; // h5-common.js
  var IN_WECHAT = H5.IN_WECHAT;
  var toptips = H5.toptips;
  var draftKey = form.getAttribute("data-draft-key");
  var stageUrl = form.getAttribute("data-stage-url");
  var configUrl = form.getAttribute("data-jssdk-url");
  var maxPhotos = parseInt(form.getAttribute("data-max-photos"), 10) || 9;
  var maxBytes = (parseInt(form.getAttribute("data-max-mb"), 10) || 10) * 1024 * 1024;
  var total = parseInt(form.getAttribute("data-total"), 10) || 0;
  var fresh = form.getAttribute("data-fresh") === "1";
  var errorBox = form.querySelector("[data-error]");
  var submitButton = form.querySelector("[data-submit]");
  var restButton = form.querySelector("[data-rest-ok]");
  var loading = document.querySelector("[data-loading]");
  var items = Array.prototype.slice.call(form.querySelectorAll("[data-item]"));
  var busyUploads = 0;
  var sending = false;

  var storage = null;
  try {
    storage = window.localStorage;
    storage.setItem("ancha.probe", "1");
    storage.removeItem("ancha.probe");
  } catch (ignored) {
    storage = null; // private mode: the form works, only without a draft
  }

  /* --- small helpers ------------------------------------------------------------------ */

  function codeOf(item) { return item.getAttribute("data-item"); }

  function resultOf(item) {
    var checked = item.querySelector(".ck-radio:checked");
    return checked ? checked.value : "";
  }

  function noteOf(item) { return item.querySelector("textarea").value; }

  function tokensOf(item) {
    return Array.prototype.map.call(item.querySelectorAll("[data-photos] li[data-token]"), function (li) {
      return li.getAttribute("data-token");
    });
  }

  function newKey() {
    var bytes = new Uint8Array(18);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    var text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.classList.toggle("h5-hidden", !message);
  }

  function setProblem(item, message) {
    var box = item.querySelector("[data-problem]");
    box.textContent = message || "";
    box.classList.toggle("h5-hidden", !message);
    item.classList.toggle("ck-item--problem", Boolean(message));
  }

  /* --- draft ---------------------------------------------------------------------------- */

  function readDraft() {
    if (!storage) return null;
    try { return JSON.parse(storage.getItem(draftKey) || "null"); } catch (ignored) { return null; }
  }

  function saveDraft() {
    if (!storage) return;
    var answers = {};
    items.forEach(function (item) {
      var result = resultOf(item), note = noteOf(item), photos = tokensOf(item);
      if (result || note || photos.length) answers[codeOf(item)] = { result: result, note: note, photos: photos };
    });
    var draft = {
      key: form.elements.idempotency_key.value,
      answers: answers,
      location: {
        latitude: form.elements.latitude.value,
        longitude: form.elements.longitude.value,
        accuracy: form.elements.location_accuracy.value
      },
      savedAt: Date.now()
    };
    try { storage.setItem(draftKey, JSON.stringify(draft)); } catch (ignored) { /* full: go on without */ }
  }

  function clearDraft() {
    if (storage) storage.removeItem(draftKey);
  }

  function restore(draft) {
    if (draft.key) form.elements.idempotency_key.value = draft.key;
    var answers = draft.answers || {};
    items.forEach(function (item) {
      var answer = answers[codeOf(item)];
      if (!answer) return;
      if (answer.result) {
        var radio = item.querySelector('.ck-radio[value="' + answer.result + '"]');
        if (radio) radio.checked = true;
      }
      if (answer.note) item.querySelector("textarea").value = answer.note;
      (answer.photos || []).forEach(function (token) { restorePhoto(item, token); });
    });
    var loc = draft.location || {};
    if (loc.latitude && loc.longitude) setLocation(loc.latitude, loc.longitude, loc.accuracy);
  }

  /* --- progress ----------------------------------------------------------------------- */

  function refresh() {
    var done = 0, hazards = 0;
    items.forEach(function (item) {
      var result = resultOf(item);
      if (result) done += 1;
      if (result === "hazard") hazards += 1;
      var counter = item.querySelector("[data-count]");
      if (counter) counter.textContent = String(noteOf(item).length);
    });
    form.querySelector("[data-done]").textContent = String(done);
    form.querySelector("[data-bar]").style.width = (total ? (100 * done) / total : 0) + "%";
    form.querySelector("[data-hazards]").textContent = hazards ? "隐患 " + hazards + " 项" : "";
    restButton.hidden = done === total;
  }

  /* --- photos ------------------------------------------------------------------------- */

  function photoTile(item) {
    var li = document.createElement("li");
    li.className = "ck-photo ck-photo--busy";
    li.setAttribute("data-progress", "0%");
    item.querySelector("[data-photos]").insertBefore(li, item.querySelector("[data-add]"));
    return li;
  }

  function settle(item, li, token, thumbUrl) {
    li.className = "ck-photo";
    li.removeAttribute("data-progress");
    li.setAttribute("data-token", token);
    li.style.backgroundImage = "url(" + (thumbUrl || stageUrl + "/" + encodeURIComponent(token) + ".jpg") + ")";
    li.innerHTML =
      '<input type="hidden"><button type="button" class="ck-photo__remove" aria-label="删除照片" data-remove>×</button>';
    var hidden = li.querySelector("input");
    hidden.name = "photo-" + codeOf(item);
    hidden.value = token;
    setProblem(item, "");
    photosChanged(item);
  }

  function fail(item, li, message) {
    li.className = "ck-photo ck-photo--failed";
    li.removeAttribute("data-progress");
    // A failed tile shows for a moment, then goes: it can never be submitted.
    setTimeout(function () { if (li.parentNode) { li.parentNode.removeChild(li); photosChanged(item); } }, 2000);
    toptips(message);
  }

  function photosChanged(item) {
    var count = item.querySelectorAll("[data-photos] li.ck-photo").length;
    item.querySelector("[data-add]").style.display = count >= maxPhotos ? "none" : "";
    saveDraft();
  }

  function send(item, li, body) {
    busyUploads += 1;
    return H5.stage(stageUrl, body, function (percent) {
      li.setAttribute("data-progress", percent + "%");
    }).then(function (reply) {
      var answer = reply.answer;
      busyUploads -= 1;
      if (reply.status === 201 && answer && answer.token) settle(item, li, answer.token, answer.thumb_url);
      else if (reply.status === 0) fail(item, li, "网络不稳定，照片上传失败，请重试。");
      else fail(item, li, (answer && answer.message) || "照片上传失败，请重试。");
    });
  }

  function addFiles(item, files) {
    var room = maxPhotos - item.querySelectorAll("[data-photos] li.ck-photo").length;
    if (files.length > room) toptips("每项最多 " + maxPhotos + " 张照片");
    files.slice(0, Math.max(0, room)).forEach(function (file) {
      var li = photoTile(item);
      if (window.URL && /^image\//.test(file.type || "")) li.style.backgroundImage = "url(" + URL.createObjectURL(file) + ")";
      busyUploads += 1;
      H5.shrink(file).then(function (blob) {
        busyUploads -= 1;
        if (blob.size > maxBytes) {
          fail(item, li, "照片不能超过 " + Math.round(maxBytes / 1048576) + " MB，请压缩后再上传。");
          return;
        }
        var body = new FormData();
        body.append("photo", blob, file.name || "photo.jpg");
        send(item, li, body);
      });
    });
  }

  function chooseInWeChat(item) {
    var room = Math.min(9, maxPhotos - item.querySelectorAll("[data-photos] li.ck-photo").length);
    if (room <= 0) return;
    window.wx.chooseImage({
      count: room,
      sizeType: ["compressed"],
      sourceType: ["camera", "album"],
      success: function (res) {
        var ids = res.localIds || [];
        var next = function (i) {
          if (i >= ids.length) return;
          var li = photoTile(item);
          busyUploads += 1;
          window.wx.uploadImage({
            localId: ids[i],
            isShowProgressTips: 0,
            success: function (up) {
              busyUploads -= 1;
              var body = new FormData();
              body.append("media_id", up.serverId);
              send(item, li, body).then(function () { next(i + 1); });
            },
            fail: function () {
              busyUploads -= 1;
              fail(item, li, "照片上传到微信失败，请重试。");
              next(i + 1);
            }
          });
        };
        next(0); // one at a time: uploadImage does not run in parallel
      }
    });
  }

  /* A photo staged before the reload: shown again if the server still has it. */
  function restorePhoto(item, token) {
    if (tokensOf(item).indexOf(token) >= 0) return;
    var li = photoTile(item);
    li.setAttribute("data-token", token); // still in the draft while the probe runs
    busyUploads += 1;
    var probe = new Image();
    probe.onload = function () { busyUploads -= 1; settle(item, li, token); };
    probe.onerror = function () {
      busyUploads -= 1;
      if (li.parentNode) li.parentNode.removeChild(li);
      photosChanged(item);
    };
    probe.src = stageUrl + "/" + encodeURIComponent(token) + ".jpg";
  }

  function wechatReady() {
    return H5.wechatReady(configUrl, ["chooseImage", "uploadImage", "getLocation"]);
  }

  /* --- location ----------------------------------------------------------------------- */

  var locText = form.querySelector("[data-location-text]");
  var locButton = form.querySelector("[data-locate]");

  function setLocation(latitude, longitude, accuracy) {
    form.elements.latitude.value = latitude;
    form.elements.longitude.value = longitude;
    form.elements.location_accuracy.value = accuracy == null ? "" : accuracy;
    locText.innerHTML = "<b>已记录当前位置</b>" + (accuracy ? "（误差约 " + Math.round(accuracy) + " 米）" : "");
    locButton.textContent = "重新获取";
  }

  function locate() {
    locButton.disabled = true;
    locText.textContent = "正在获取位置…";
    var done = function () { locButton.disabled = false; saveDraft(); };
    var failed = function () { locText.textContent = "未能获取位置（可不提供，直接提交）"; done(); };
    wechatReady().then(function (ready) {
      if (ready) {
        window.wx.getLocation({
          type: "wgs84",
          success: function (res) { setLocation(res.latitude, res.longitude, res.accuracy); done(); },
          fail: failed,
          cancel: failed
        });
      } else if (navigator.geolocation) {
        navigator.geolocation.getCurrentPosition(
          function (pos) { setLocation(pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy); done(); },
          failed,
          { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
        );
      } else {
        failed();
      }
    });
  }

  /* --- checking and sending ------------------------------------------------------------- */

  function problemsHere() {
    var problems = {};
    items.forEach(function (item) {
      var result = resultOf(item);
      if (!result) problems[codeOf(item)] = "请选择“符合”“隐患”或“不适用”";
      else if (result === "hazard" && !noteOf(item).trim()) problems[codeOf(item)] = "请简要描述发现的隐患";
      else if (result === "hazard" && !tokensOf(item).length) problems[codeOf(item)] = "请至少拍摄一张隐患照片";
    });
    return problems;
  }

  function showProblems(problems, message) {
    var first = null;
    items.forEach(function (item) {
      var problem = problems[codeOf(item)] || "";
      setProblem(item, problem);
      if (problem && !first) first = item;
    });
    showError(message || "");
    if (first) first.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function busy(on) {
    sending = on;
    submitButton.disabled = on;
    submitButton.classList.toggle("weui-btn_loading", on);
    loading.classList.toggle("h5-hidden", !on);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) return; // a double tap: the first send is under way
    if (busyUploads > 0) { toptips("照片还在上传，请稍候再提交"); return; }
    var problems = problemsHere();
    var count = Object.keys(problems).length;
    if (count) {
      showProblems(problems, "还有 " + count + " 项需要处理，已用红框标出。");
      return;
    }
    saveDraft();
    busy(true);
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        return response.json().then(
          function (body) { return { status: response.status, body: body }; },
          function () { return { status: response.status, body: null }; }
        );
      })
      .then(function (answer) {
        var body = answer.body || {};
        if (answer.status === 200 && body.url) {
          clearDraft();
          location.replace(body.url);
          return;
        }
        busy(false);
        var fields = body.fields || {};
        var byItem = {};
        Object.keys(fields).forEach(function (name) {
          if (name.indexOf("answers.") === 0) byItem[name.slice(8)] = fields[name];
        });
        showProblems(byItem, body.message || "提交失败，请稍后重试。");
        if (!Object.keys(byItem).length) errorBox.scrollIntoView({ behavior: "smooth", block: "center" });
      })
      .catch(function () {
        busy(false);
        // The same key goes with the retry: if the first send did arrive, nothing doubles.
        showError("网络不稳定，提交未完成。请稍后再点“提交检查”，不会重复提交。");
        errorBox.scrollIntoView({ behavior: "smooth", block: "center" });
      });
  });

  /* --- wiring ------------------------------------------------------------------------- */

  var draft = readDraft();
  if (fresh && draft) {
    restore(draft);
  } else if (!fresh && draft && draft.location) {
    // The server showed the form again as posted; only the location is not part of it.
    var loc = draft.location;
    if (loc.latitude && loc.longitude) setLocation(loc.latitude, loc.longitude, loc.accuracy);
  }
  if (!form.elements.idempotency_key.value || (fresh && !(draft && draft.key))) {
    form.elements.idempotency_key.value = newKey();
  }

  items.forEach(function (item) {
    var add = item.querySelector("[data-add]");
    var input = add.querySelector("input[type=file]");
    input.removeAttribute("name"); // staged from here on: the files must not post twice
    input.addEventListener("change", function () {
      var picked = Array.prototype.slice.call(input.files || []);
      input.value = "";
      addFiles(item, picked);
    });
    if (IN_WECHAT) {
      // The JS-SDK picker once wx.config succeeded; the plain file input until then.
      add.addEventListener("click", function (event) {
        if (!item._wxReady) return;
        event.preventDefault();
        chooseInWeChat(item);
      }, true);
    }
    item.addEventListener("change", function (event) {
      if (event.target.classList.contains("ck-radio")) {
        setProblem(item, "");
        refresh();
        saveDraft();
      }
    });
    item.addEventListener("input", function () { refresh(); saveDraft(); });
    item.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-remove]");
      if (!remove) return;
      var li = remove.closest("li");
      if (li) { li.parentNode.removeChild(li); photosChanged(item); }
    });
    photosChanged(item);
  });
  if (IN_WECHAT) {
    wechatReady().then(function (ready) { items.forEach(function (item) { item._wxReady = ready; }); });
  }

  restButton.addEventListener("click", function () {
    items.forEach(function (item) {
      if (!resultOf(item)) {
        item.querySelector('.ck-radio[value="ok"]').checked = true;
        setProblem(item, "");
      }
    });
    refresh();
    saveDraft();
  });
  locButton.addEventListener("click", locate);

  refresh();
  saveDraft();
})();
