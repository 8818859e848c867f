/* What the AnCha H5 scripts share (uploader.js on the hazard pages, check-form.js on the
 * check form): the top-of-page notice, wx.config of the WeChat JS-SDK, shrinking a photo in
 * the browser and staging one upload with its progress. Loaded before either of them.
 */
(function () {
  "use strict";

  var IN_WECHAT = /MicroMessenger/i.test(navigator.userAgent);
  var JWEIXIN = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js";
  var MAX_EDGE = 2048; // px: still sharp on any screen, a fraction of a camera original
  var COMPRESS_ABOVE = 1024 * 1024;
  var wxState = null; // null: not tried; a Promise resolving to true (JS-SDK ready) or false

  function toptips(message) {
    var tip = document.querySelector(".weui-toptips[data-h5]");
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "weui-toptips weui-toptips_warn";
      tip.setAttribute("data-h5", "");
      tip.setAttribute("role", "alert");
      document.body.appendChild(tip);
    }
    tip.textContent = message;
    tip.style.display = "block";
    tip.style.opacity = "1";
    clearTimeout(tip._timer);
    tip._timer = setTimeout(function () { tip.style.display = "none"; }, 3500);
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  /* wx.config for this page with `apis` (once per page); resolves true once it succeeded,
     false (use the browser's own way) outside WeChat or when anything fails. */
  function wechatReady(configUrl, apis) {
    if (wxState) return wxState;
    if (!IN_WECHAT || !window.Promise || !window.fetch) {
      wxState = Promise.resolve(false);
      return wxState;
    }
    var page = location.href.split("#")[0];
    wxState = loadScript(JWEIXIN)
      .then(function () {
        return fetch(configUrl + "?url=" + encodeURIComponent(page), {
          credentials: "same-origin",
          headers: { Accept: "application/json" }
        });
      })
      .then(function (r) { if (!r.ok) throw new Error("config " + r.status); return r.json(); })
      .then(function (cfg) {
        return new Promise(function (resolve) {
          var settled = false;
          var done = function (ok) { if (!settled) { settled = true; resolve(ok); } };
          window.wx.config({
            debug: false,
            appId: cfg.appId,
            timestamp: cfg.timestamp,
            nonceStr: cfg.nonceStr,
            signature: cfg.signature,
            jsApiList: apis
          });
          window.wx.ready(function () { done(true); });
          window.wx.error(function () { done(false); });
          setTimeout(function () { done(false); }, 6000);
        });
      })
      .catch(function () { return false; });
    return wxState;
  }

  /* A smaller JPEG of a large photo (drawing applies the EXIF orientation); whatever the
     browser cannot decode goes as it is, for the server to judge. */
  function shrink(file) {
    return new Promise(function (resolve) {
      if (!/^image\/(jpeg|png|webp)$/i.test(file.type || "") || file.size < COMPRESS_ABOVE || !window.URL) {
        resolve(file);
        return;
      }
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        var scale = Math.min(1, MAX_EDGE / Math.max(img.naturalWidth, img.naturalHeight));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(img.naturalWidth * scale);
        canvas.height = Math.round(img.naturalHeight * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        if (!canvas.toBlob) { resolve(file); return; }
        canvas.toBlob(function (blob) { resolve(blob && blob.size < file.size ? blob : file); }, "image/jpeg", 0.85);
      };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(file); };
      img.src = url;
    });
  }

  /* POST one photo (FormData) to a staging URL. Resolves, never rejects, with
     {status, answer}: the HTTP status (0 when the network failed) and the parsed JSON (or
     null); `onProgress(percent)` follows the upload, capped at 99 until the answer. */
  function stage(url, body, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      var csrf = document.querySelector('meta[name="csrf-token"]');
      if (csrf) xhr.setRequestHeader("X-CSRFToken", csrf.content);
      if (xhr.upload && onProgress) {
        xhr.upload.onprogress = function (e) {
          if (e.lengthComputable) onProgress(Math.min(99, Math.round((100 * e.loaded) / e.total)));
        };
      }
      xhr.onload = function () {
        var answer = null;
        try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = null; }
        resolve({ status: xhr.status, answer: answer });
      };
      xhr.onerror = function () { resolve({ status: 0, answer: null }); };
      xhr.send(body);
    });
  }

  window.AnchaH5 = {
    IN_WECHAT: IN_WECHAT,
    toptips: toptips,
    wechatReady: wechatReady,
    shrink: shrink,
    stage: stage
  };
})();
