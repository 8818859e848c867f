/* 随手拍 (hazards/h5_report.html): the draft survives a reload (localStorage, per user),
 * the site list follows the chosen enterprise, and the form is sent once.
 *
 * The idempotency key is part of the draft: sending again after a lost answer, a double tap
 * or a reload carries the same key, and the server answers with the hazard the first send
 * created instead of creating another one.
 */
(function () {
  "use strict";

  var form = document.getElementById("report-form");
  if (!form) return;
  var draftKey = form.getAttribute("data-draft-key");
  var errorBox = form.querySelector("[data-error]");
  var submit = form.querySelector("[data-submit]");
  var loading = document.querySelector("[data-loading]");
  var description = form.elements.description;
  var counter = form.querySelector("[data-counter]");
  var enterpriseSelect = form.querySelector("[data-enterprise-select]");
  var siteSelect = form.querySelector("[data-site-select]");
  var FIELDS = ["description", "location", "enterprise_id", "site_id", "level", "category"];
  var storage = null;
  try { storage = window.localStorage; storage.setItem("ancha.probe", "1"); storage.removeItem("ancha.probe"); } catch (ignored) { storage = null; }

  function readDraft() {
    if (!storage) return null;
    try { return JSON.parse(storage.getItem(draftKey) || "null"); } catch (ignored) { return null; }
  }

  var uploader = window.AnchaUploader.init(form.querySelector("[data-uploader]"), { onChange: saveDraft });

  function value(name) {
    var field = form.elements[name];
    if (!field) return "";
    if (field.length !== undefined && field.tagName !== "SELECT") {
      var checked = Array.prototype.filter.call(field, function (f) { return f.checked; })[0];
      return checked ? checked.value : "";
    }
    return field.value;
  }

  function setValue(name, v) {
    var field = form.elements[name];
    if (!field || v === undefined || v === null || field.type === "hidden") return;
    if (field.length !== undefined && field.tagName !== "SELECT") {
      Array.prototype.forEach.call(field, function (f) { f.checked = f.value === v; });
    } else {
      field.value = v;
    }
  }

  function saveDraft() {
    if (!storage) return;
    var draft = { key: form.elements.idempotency_key.value, staged: uploader.tokens(), savedAt: Date.now() };
    FIELDS.forEach(function (name) { draft[name] = value(name); });
    try { storage.setItem(draftKey, JSON.stringify(draft)); } catch (ignored) { /* full: keep going without */ }
  }

  function filterSites() {
    if (!siteSelect || !enterpriseSelect) return;
    var chosen = enterpriseSelect.value;
    Array.prototype.forEach.call(siteSelect.options, function (option) {
      var owner = option.getAttribute("data-enterprise");
      option.hidden = Boolean(owner && chosen && owner !== chosen);
    });
    var selected = siteSelect.options[siteSelect.selectedIndex];
    if (selected && selected.hidden) siteSelect.value = "";
  }

  function count() { if (counter) counter.textContent = String(description.value.length); }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.classList.remove("h5-hidden");
    errorBox.scrollIntoView({ behavior: "smooth", block: "center" });
  }

  function busy(on) {
    submit.disabled = on;
    submit.classList.toggle("weui-btn_loading", on);
    submit.textContent = on ? "正在提交…" : "提交隐患";
    if (loading) loading.classList.toggle("h5-hidden", !on);
  }

  // A fresh page picks up the draft; a page the server sent back with an error shows what
  // was posted, which becomes the draft.
  var draft = readDraft();
  if (draft && form.getAttribute("data-fresh") === "1") {
    FIELDS.forEach(function (name) { setValue(name, draft[name]); });
    if (draft.key) form.elements.idempotency_key.value = draft.key;
    uploader.restore(draft.staged);
  }
  filterSites();
  count();
  saveDraft();

  form.addEventListener("input", function () { count(); saveDraft(); });
  form.addEventListener("change", function (event) {
    if (event.target === enterpriseSelect) filterSites();
    if (event.target === siteSelect && enterpriseSelect && siteSelect.value) {
      var owner = siteSelect.options[siteSelect.selectedIndex].getAttribute("data-enterprise");
      if (owner) enterpriseSelect.value = owner;
    }
    saveDraft();
  });

  form.addEventListener("submit", function (event) {
    if (!window.fetch || !window.FormData) return; // the plain post works too
    event.preventDefault();
    if (uploader.busy > 0) { showError("照片还在上传，请稍候再提交。"); return; }
    if (uploader.tokens().length === 0) { showError("请至少拍摄或选择一张隐患照片。"); return; }
    if (!description.value.trim()) { showError("请填写隐患描述。"); description.focus(); return; }
    if (enterpriseSelect && !enterpriseSelect.value && !(siteSelect && siteSelect.value)) { showError("请选择企业。"); return; }
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
          function (answer) { return { ok: response.ok, answer: answer }; },
          function () { return { ok: false, answer: { message: "服务器暂时无法处理，请稍后重试（不会重复上报）。" } }; }
        );
      })
      .then(function (result) {
        if (result.ok && result.answer.url) {
          if (storage) storage.removeItem(draftKey);
          location.replace(result.answer.url);
          return;
        }
        busy(false);
        showError(result.answer.message || "提交失败，请重试。");
      })
      .catch(function () {
        busy(false);
        showError("网络不稳定，提交失败。请再点一次“提交隐患”，不会重复上报。");
      });
  });
})();
