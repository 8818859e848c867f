/* Photo picker of the AnCha H5 pages (hazards/_h5_uploader.html).
 *
 * Every picked photo is "staged" at once (POST data-stage-url → {token, thumb_url}) and the
 * form then posts only the tokens (hidden inputs named "staged"): the final submit is small,
 * a reload keeps the photos, and a bad file is refused while the worker still holds the phone
 * up. Inside WeChat the photos come from wx.chooseImage + wx.uploadImage (the server fetches
 * them with media/get); elsewhere from <input type=file>, scaled down in the browser first.
 * Without this script the file inputs simply post the files with the form. Needs h5-common.js.
 */
(function () {
  "use strict";

  var H5 = window.AnchaH5; // h5-common.js
  var IN_WECHAT = H5.IN_WECHAT;
  var toptips = H5.toptips;

  function Uploader(root, options) {
    this.root = root;
    this.options = options || {};
    this.max = parseInt(root.getAttribute("data-max"), 10) || 9;
    this.maxBytes = (parseInt(root.getAttribute("data-max-mb"), 10) || 10) * 1024 * 1024;
    this.stageUrl = root.getAttribute("data-stage-url");
    this.configUrl = root.getAttribute("data-jssdk-url");
    this.files = root.querySelector("[data-files]");
    this.counter = root.querySelector("[data-count]");
    this.pick = root.querySelector("[data-pick]");
    this.busy = 0;
    var self = this;
    // Staged from here on: the file inputs must not post the files a second time.
    Array.prototype.forEach.call(root.querySelectorAll("input[type=file]"), function (input) {
      input.removeAttribute("name");
      input.addEventListener("change", function () {
        var picked = Array.prototype.slice.call(input.files || []);
        input.value = "";
        self.addFiles(picked);
      });
    });
    root.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-remove]");
      if (remove) {
        var item = remove.closest("li");
        if (item && !item.classList.contains("weui-uploader__file_status")) { item.parentNode.removeChild(item); self.changed(); }
      }
    });
    if (IN_WECHAT && this.pick) {
      H5.wechatReady(this.configUrl, ["chooseImage", "uploadImage"]).then(function (ready) { self.wxReady = ready; });
      // The JS-SDK picker once wx.config succeeded; the plain file input until then (or if
      // it fails: an unsigned domain, an old WeChat).
      this.pick.addEventListener("click", function (event) {
        if (!self.wxReady) return;
        event.preventDefault();
        self.chooseInWeChat();
      }, true);
    }
    this.changed(true);
  }

  Uploader.prototype.tokens = function () {
    return Array.prototype.map.call(this.files.querySelectorAll("li[data-token]"), function (li) {
      return li.getAttribute("data-token");
    });
  };

  Uploader.prototype.count = function () {
    return this.files.querySelectorAll("li").length;
  };

  Uploader.prototype.changed = function (quiet) {
    if (this.counter) this.counter.textContent = String(this.tokens().length);
    if (this.pick) this.pick.style.display = this.count() >= this.max ? "none" : "";
    if (!quiet && this.options.onChange) this.options.onChange(this.tokens());
  };

  Uploader.prototype.thumbUrl = function (token) {
    return this.stageUrl + "/" + encodeURIComponent(token) + ".jpg";
  };

  Uploader.prototype.item = function () {
    var li = document.createElement("li");
    li.className = "weui-uploader__file weui-uploader__file_status";
    li.innerHTML = '<div class="weui-uploader__file-content">0%</div>';
    this.files.appendChild(li);
    this.changed(true);
    return li;
  };

  Uploader.prototype.settle = function (li, token, thumbUrl) {
    li.className = "weui-uploader__file";
    li.setAttribute("data-token", token);
    li.style.backgroundImage = "";
    li.innerHTML =
      '<span class="weui-uploader__file__thumb" role="img" aria-label="已选照片"></span>' +
      '<span class="weui-uploader__file__delete" role="button" title="删除" aria-label="删除照片" data-remove><i class="weui-icon-close"></i></span>' +
      '<input type="hidden" name="staged">';
    li.querySelector("span").style.backgroundImage = "url(" + (thumbUrl || this.thumbUrl(token)) + ")";
    li.querySelector("input").value = token;
    this.changed();
  };

  Uploader.prototype.fail = function (li, message) {
    li.className = "weui-uploader__file weui-uploader__file_status";
    li.innerHTML = '<div class="weui-uploader__file-content"><i class="weui-icon-warn" role="img" aria-label="上传失败"></i></div>';
    var self = this;
    // A failed tile explains itself once, then goes away so it cannot be submitted.
    setTimeout(function () { if (li.parentNode) { li.parentNode.removeChild(li); self.changed(); } }, 2500);
    toptips(message);
    if (this.options.onError) this.options.onError(message);
  };

  Uploader.prototype.send = function (li, body) {
    var self = this;
    self.busy += 1;
    return H5.stage(self.stageUrl, body, function (percent) {
      var content = li.querySelector(".weui-uploader__file-content");
      if (content) content.textContent = percent + "%";
    }).then(function (reply) {
      var answer = reply.answer;
      self.busy -= 1;
      if (reply.status === 201 && answer && answer.token) self.settle(li, answer.token, answer.thumb_url);
      else if (reply.status === 401) self.fail(li, (answer && answer.message) || "登录已失效，请返回公众号重新打开页面。");
      else if (reply.status === 0) self.fail(li, "网络不稳定，照片上传失败，请重试。");
      else self.fail(li, (answer && answer.message) || "照片上传失败，请重试。");
    });
  };

  Uploader.prototype.addFiles = function (files) {
    var self = this;
    var room = this.max - this.count();
    if (files.length > room) toptips("最多上传 " + this.max + " 张照片");
    files.slice(0, Math.max(0, room)).forEach(function (file) {
      var li = self.item();
      if (window.URL && /^image\//.test(file.type || "")) {
        li.style.backgroundImage = "url(" + URL.createObjectURL(file) + ")";
      }
      self.busy += 1;
      H5.shrink(file).then(function (blob) {
        self.busy -= 1;
        if (blob.size > self.maxBytes) {
          self.fail(li, "照片不能超过 " + Math.round(self.maxBytes / 1048576) + " MB，请压缩后再上传。");
          return;
        }
        var body = new FormData();
        body.append("photo", blob, file.name || "photo.jpg");
        self.send(li, body);
      });
    });
  };

  Uploader.prototype.chooseInWeChat = function () {
    var self = this;
    var room = Math.min(9, this.max - this.count());
    if (room <= 0) return;
    window.wx.chooseImage({
      count: room,
      sizeType: ["compressed"],
      sourceType: ["camera", "album"],
      success: function (res) {
        var ids = res.localIds || [];
        var next = function (i) {
          if (i >= ids.length) return;
          var li = self.item();
          self.busy += 1;
          window.wx.uploadImage({
            localId: ids[i],
            isShowProgressTips: 0,
            success: function (up) {
              self.busy -= 1;
              var body = new FormData();
              body.append("media_id", up.serverId);
              self.send(li, body).then(function () { next(i + 1); });
            },
            fail: function () {
              self.busy -= 1;
              self.fail(li, "照片上传到微信失败，请重试。");
              next(i + 1);
            }
          });
        };
        next(0); // one at a time: uploadImage does not run in parallel
      }
    });
  };

  /* Show photos staged earlier (a restored draft); those that expired drop out. */
  Uploader.prototype.restore = function (tokens) {
    var self = this;
    var have = this.tokens();
    (tokens || []).forEach(function (token) {
      if (have.indexOf(token) >= 0 || self.count() >= self.max) return;
      var li = self.item();
      var probe = new Image();
      probe.onload = function () { self.settle(li, token); };
      probe.onerror = function () { if (li.parentNode) li.parentNode.removeChild(li); self.changed(); };
      probe.src = self.thumbUrl(token);
    });
  };

  window.AnchaUploader = {
    init: function (root, options) { return new Uploader(root, options); },
    toptips: toptips
  };
})();
