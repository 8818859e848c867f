/* The WeChat simulator: one virtual WeChat user talking to the account.
 *
 * Every action goes to POST /sandbox/api/send, which posts the real callback XML to
 * /wechat/callback; what the service sends back (passive replies, customer-service,
 * template and mass messages) is read from the sandbox message log by polling
 * /sandbox/api/messages?openid=&after=. What the user sent is only known here, so each
 * user's conversation is kept in localStorage and merged with the log by `seq`.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("sim-config").textContent);
  var URLS = config.urls;
  var POLL_MS = 2000;
  var KEEP_ITEMS = 300;
  var MAX_LISTED = 200; // contacts rendered at once (benchmarks fill the sandbox with thousands)
  var STORE_PREFIX = "ancha-sim:v1:";
  var TIME_GAP_SECONDS = 5 * 60;
  var AVATAR_COLORS = ["#f5a623", "#4a90e2", "#7ed321", "#bd10e0", "#50b7c1", "#e86a5c", "#9b8afb", "#5a9e6f", "#d9826b", "#6c7fd8"];
  // Labels for keywords of templates the service does not describe (config.templates has
  // the title and labels of every template it uses): named after the key's kind.
  var KEY_LABELS = {
    thing: "事项", time: "时间", date: "日期", character_string: "编号", phrase: "状态", name: "姓名",
    number: "数量", amount: "金额", car_number: "车牌", phone_number: "电话", letter: "字母",
    symbol: "符号", const: "说明", keyword: "内容"
  };

  var state = {
    contacts: [],
    user: null, // the virtual user being played
    timeline: [],
    floor: 0, // log entries up to this seq were cleared from this browser's copy
    pollTimer: null,
    pollPromise: null,
    pendingScan: null, // a parametric QR scanned before following: {scene|qr, label}
    scanMode: null, // {type: "scan"} or {type: "scancode_waitmsg", key, name}
    codes: null,
    codeTab: "sites",
    photoAction: null // what the chosen photo is for
  };

  var $ = function (id) { return document.getElementById(id); };
  var phone = $("phone");
  var layer = $("layer");

  // ------------------------------------------------------------------------------------
  // Small helpers
  // ------------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    [].concat(children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function api(method, url, body) {
    var options = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.message || ("请求失败（HTTP " + response.status + "）"));
          error.code = data.error;
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function avatarColor(text) {
    var hash = 0;
    for (var i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) >>> 0;
    return AVATAR_COLORS[hash % AVATAR_COLORS.length];
  }

  function userAvatar(user, extraClass) {
    var name = (user && user.nickname) || "微";
    return el("span", {
      className: "avatar" + (extraClass ? " " + extraClass : ""),
      style: "background:" + avatarColor(user ? user.openid : name),
      text: Array.from(name)[0]
    });
  }

  function accountAvatar() {
    return el("span", { className: "avatar avatar--account", "aria-label": config.account.name });
  }

  function describePerson(person) {
    if (!person) return "未绑定安查账号";
    var parts = [person.name];
    if (person.memberships.length) {
      var first = person.memberships[0];
      parts.push(first.enterprise, first.role_label + (person.memberships.length > 1 ? " 等" : ""));
    } else if (person.bureau_role_label) {
      parts.push(person.bureau_role_label);
    }
    return parts.join(" · ");
  }

  function now() { return Math.floor(Date.now() / 1000); }

  function formatTime(seconds) {
    var date = new Date(seconds * 1000);
    var today = new Date();
    var hm = date.getHours() + ":" + String(date.getMinutes()).padStart(2, "0");
    var dayStart = new Date(today.getFullYear(), today.getMonth(), today.getDate()).getTime() / 1000;
    if (seconds >= dayStart) return hm;
    if (seconds >= dayStart - 86400) return "昨天 " + hm;
    return (date.getMonth() + 1) + "月" + date.getDate() + "日 " + hm;
  }

  /** An http(s) URL of this service as a same-origin path, or null for other sites. */
  function ownPath(url) {
    try {
      var parsed = new URL(url, location.href);
      var base = new URL(config.public_base_url);
      if (parsed.origin === location.origin || parsed.origin === base.origin) {
        return parsed.pathname + parsed.search + parsed.hash;
      }
    } catch (ignored) { /* not a URL */ }
    return null;
  }

  // ------------------------------------------------------------------------------------
  // WeUI layers: toast, dialog, action sheet
  // ------------------------------------------------------------------------------------

  function clearLayer() { layer.textContent = ""; }

  function toast(text, ms) {
    var node = el("div", { className: "toast-text", role: "status", text: text });
    layer.appendChild(node);
    setTimeout(function () { node.remove(); }, ms || 1800);
  }

  function loading(text) {
    var mask = el("div", { className: "weui-mask_transparent" });
    var box = el("div", { className: "weui-toast", role: "status" }, [
      el("i", { className: "weui-loading weui-icon_toast" }),
      el("p", { className: "weui-toast__content", text: text })
    ]);
    layer.append(mask, box);
    return function () { mask.remove(); box.remove(); };
  }

  function dialog(options) {
    return new Promise(function (resolve) {
      var input = options.input ? el("input", {
        className: "dialog-input", type: "text", maxlength: "32", placeholder: options.input.placeholder || ""
      }) : null;
      function close(ok) { clearLayer(); resolve(ok ? (input ? input.value.trim() : true) : null); }
      var buttons = [];
      if (options.cancel !== false) {
        buttons.push(el("a", { className: "weui-dialog__btn weui-dialog__btn_default", href: "javascript:", role: "button", text: options.cancel || "取消", onclick: function () { close(false); } }));
      }
      buttons.push(el("a", {
        className: "weui-dialog__btn " + (options.warn ? "weui-dialog__btn_warn" : "weui-dialog__btn_primary"),
        href: "javascript:", role: "button", text: options.ok || "确定", onclick: function () { close(true); }
      }));
      var body = el("div", { className: "weui-dialog__bd" + (options.preformatted ? " dialog-text" : "") }, [options.text || null, input]);
      layer.append(
        el("div", { className: "weui-mask" }),
        el("div", { className: "weui-dialog", role: "dialog", "aria-modal": "true" }, [
          options.title ? el("div", { className: "weui-dialog__hd" }, [el("strong", { className: "weui-dialog__title", text: options.title })]) : null,
          body,
          el("div", { className: "weui-dialog__ft" }, buttons)
        ])
      );
      if (input) {
        input.addEventListener("keydown", function (event) { if (event.key === "Enter") close(true); });
        input.focus();
      }
    });
  }

  function actionSheet(title, items) {
    var sheet = el("div", { className: "weui-actionsheet", role: "dialog", "aria-modal": "true" }, [
      title ? el("div", { className: "weui-actionsheet__title" }, [el("p", { className: "weui-actionsheet__title-text", text: title })]) : null,
      el("div", { className: "weui-actionsheet__menu" }, items.map(function (item) {
        return el("div", {
          className: "weui-actionsheet__cell" + (item.warn ? " weui-actionsheet__cell_warn" : ""),
          role: "button", tabindex: "0", text: item.label,
          onclick: function () { clearLayer(); item.run(); }
        });
      })),
      el("div", { className: "weui-actionsheet__action" }, [
        el("div", { className: "weui-actionsheet__cell", role: "button", tabindex: "0", text: "取消", onclick: clearLayer })
      ])
    ]);
    layer.append(el("div", { className: "weui-mask", onclick: clearLayer }), sheet);
    requestAnimationFrame(function () { requestAnimationFrame(function () { sheet.classList.add("weui-actionsheet_toggle"); }); });
  }

  // ------------------------------------------------------------------------------------
  // Contacts
  // ------------------------------------------------------------------------------------

  function loadContacts() {
    return api("GET", URLS.contacts).then(function (data) {
      state.contacts = data.users;
      if (state.user) {
        var fresh = state.contacts.find(function (u) { return u.openid === state.user.openid; });
        if (fresh) { state.user = fresh; renderIdentity(); renderBottom(); }
      }
      renderContacts();
      return data.users;
    });
  }

  function renderContacts() {
    var list = $("contact-list");
    var query = $("contact-search").value.trim().toLowerCase();
    var users = state.contacts.filter(function (user) {
      if (!query) return true;
      return [user.nickname, user.openid, describePerson(user.person)].join(" ").toLowerCase().indexOf(query) >= 0;
    });
    // Newest first: a user just created is the one you want next.
    users = users.slice().sort(function (a, b) { return b.seq - a.seq; });
    $("contacts-title").textContent = "虚拟微信用户（" + users.length + "）";
    list.textContent = "";
    if (!users.length) {
      list.appendChild(el("div", { className: "cell cell--empty", text: query ? "没有匹配的用户" : "还没有虚拟用户。导入演示数据（flask demo seed）或新建一个。" }));
      return;
    }
    users.slice(0, MAX_LISTED).forEach(function (user) {
      list.appendChild(el("button", {
        type: "button", className: "cell contact", "data-openid": user.openid,
        onclick: function () { openChat(user); }
      }, [
        userAvatar(user),
        el("span", { className: "cell__bd" }, [
          el("span", { className: "cell__title", text: user.nickname }),
          el("span", { className: "cell__desc", text: describePerson(user.person) })
        ]),
        el("span", { className: "cell__ft" }, [
          el("span", { className: "tag" + (user.subscribed ? "" : " tag--muted"), text: user.subscribed ? "已关注" : "未关注" })
        ])
      ]));
    });
    if (users.length > MAX_LISTED) {
      list.appendChild(el("div", { className: "cell cell--empty", text: "只显示最新的 " + MAX_LISTED + " 位，其余请用上方搜索查找" }));
    }
  }

  function createUser() {
    dialog({ title: "新建微信用户", text: "填写微信昵称。新用户尚未关注公众号。", input: { placeholder: "例如：张师傅" }, ok: "创建" })
      .then(function (nickname) {
        if (nickname === null) return;
        return api("POST", URLS.users, { nickname: nickname || "微信用户", subscribed: false }).then(function (data) {
          return loadContacts().then(function () {
            openChat(state.contacts.find(function (u) { return u.openid === data.user.openid; }) || data.user);
          });
        });
      })
      .catch(function (error) { toast(error.message); });
  }

  // ------------------------------------------------------------------------------------
  // The conversation
  // ------------------------------------------------------------------------------------

  function storageKey(openid) { return STORE_PREFIX + "timeline:" + openid; }

  function loadTimeline(openid) {
    try { return JSON.parse(localStorage.getItem(storageKey(openid))) || []; } catch (ignored) { return []; }
  }

  function saveTimeline() {
    if (!state.user) return;
    state.timeline = state.timeline.slice(-KEEP_ITEMS);
    try { localStorage.setItem(storageKey(state.user.openid), JSON.stringify(state.timeline)); } catch (ignored) { /* full or private */ }
  }

  function lastSeq() {
    return state.timeline.reduce(function (max, item) { return item.t === "in" && item.seq > max ? item.seq : max; }, state.floor);
  }

  function openChat(user) {
    state.user = user;
    state.pendingScan = null;
    state.timeline = loadTimeline(user.openid);
    state.floor = Number(localStorage.getItem(storageKey(user.openid) + ":after")) || 0;
    localStorage.setItem(STORE_PREFIX + "current", user.openid);
    $("screen-contacts").hidden = true;
    $("screen-chat").hidden = false;
    setInputMode(false);
    renderIdentity();
    renderMessages();
    renderBottom();
    startPolling();
  }

  function closeChat() {
    stopPolling();
    state.user = null;
    localStorage.removeItem(STORE_PREFIX + "current");
    $("screen-chat").hidden = true;
    $("screen-contacts").hidden = false;
    loadContacts().catch(function (error) { toast(error.message); });
  }

  function renderIdentity() {
    var user = state.user;
    var node = $("identity");
    node.textContent = "";
    if (!user) return;
    node.append(
      el("span", { className: "dot" + (user.subscribed ? "" : " dot--off") }),
      el("span", { className: "identity__text" }, [
        "你是 ", el("b", { text: user.nickname }),
        "（" + describePerson(user.person) + "）" + (user.subscribed ? "" : " · 未关注")
      ])
    );
  }

  function push(item) {
    item.at = item.at || now();
    state.timeline.push(item);
    saveTimeline();
    renderMessages();
  }

  function note(text, error) {
    var item = { t: "note", text: text, error: !!error };
    push(item);
    return item;
  }

  function unpush(item) {
    state.timeline = state.timeline.filter(function (other) { return other !== item; });
    saveTimeline();
    renderMessages();
  }

  function renderMessages() {
    var box = $("messages");
    box.textContent = "";
    var previous = 0;
    state.timeline.forEach(function (item) {
      if (item.at - previous > TIME_GAP_SECONDS) box.appendChild(el("div", { className: "msg-time", text: formatTime(item.at) }));
      previous = item.at;
      var node = renderItem(item);
      if (node) box.appendChild(node);
    });
    if (state.user && !state.user.subscribed) box.appendChild(renderProfile());
    scrollToEnd();
  }

  // A picture that finishes loading grows the list; keep the newest message in view.
  function scrollToEnd() {
    var box = $("messages");
    box.scrollTop = box.scrollHeight;
  }

  function renderItem(item) {
    if (item.t === "note") return el("div", { className: "msg-note" + (item.error ? " msg-note--error" : ""), text: item.text });
    if (item.t === "out-text") return outgoing(el("div", { className: "bubble", text: item.text }));
    if (item.t === "out-image") {
      return outgoing(el("div", { className: "bubble bubble--image" }, [el("img", { src: item.url, alt: "照片", onload: scrollToEnd })]));
    }
    if (item.t === "in") return incoming(item);
    return null;
  }

  function outgoing(content) {
    return el("div", { className: "msg msg--out" }, [userAvatar(state.user), content]);
  }

  function incomingRow(content, kind) {
    return el("div", { className: "msg msg--in", "data-kind": kind }, [accountAvatar(), content]);
  }

  /** Render one entry of the message log the way WeChat shows it. */
  function incoming(item) {
    var body = item.body || {};
    if (item.kind === "template") return incomingRow(templateCard(body, item.at), item.kind);
    if (item.kind === "passive_reply") {
      var type = String(body.MsgType || "").toLowerCase();
      if (type === "text") return incomingRow(textBubble(body.Content || ""), item.kind);
      if (type === "image") return incomingRow(imageBubble(body.Image && body.Image.MediaId), item.kind);
      if (type === "news") {
        var entries = body.Articles && body.Articles.item;
        return incomingRow(articleCard([].concat(entries || [])[0] || {}, "Title", "Description", "Url", "PicUrl"), item.kind);
      }
      return incomingRow(placeholder(type), item.kind);
    }
    // customer-service and mass messages share the API's JSON shape
    var msgtype = body.msgtype;
    var part = body[msgtype] || {};
    var content;
    if (msgtype === "text") content = textBubble(part.content || "");
    else if (msgtype === "image") content = imageBubble(part.media_id);
    else if (msgtype === "news") content = articleCard((part.articles || [])[0] || {}, "title", "description", "url", "picurl");
    else if (msgtype === "mpnews") content = articleCard({ title: "图文消息" }, "title");
    else content = placeholder(msgtype);
    if (item.kind === "mass" && content.classList.contains("bubble")) {
      // A mass message (群发) reads like an article push, unlike a template card or a
      // customer-service reply: badge on top, the mass-send note below.
      content.classList.add("bubble--mass");
      content.insertBefore(el("span", { className: "bubble__badge", text: "群发消息" }), content.firstChild);
      content.appendChild(el("span", { className: "bubble__meta", text: "公众号群发 · 每月最多 4 条" }));
    }
    return incomingRow(content, item.kind);
  }

  function placeholder(type) {
    return el("div", { className: "bubble", text: "[" + (type || "未知") + " 消息，模拟器暂不显示]" });
  }

  function imageBubble(mediaId) {
    if (!mediaId) return placeholder("image");
    return el("div", { className: "bubble bubble--image" }, [
      el("img", { src: URLS.media + "/" + encodeURIComponent(mediaId), alt: "图片", onload: scrollToEnd })
    ]);
  }

  /** Text as WeChat shows it: `<a href>` links (all the markup a text message may carry)
   * and bare URLs become tappable; everything else stays text. */
  function textBubble(text) {
    var bubble = el("div", { className: "bubble" });
    var anchor = /<a\s+href\s*=\s*(["'])(.*?)\1[^>]*>([\s\S]*?)<\/a>/gi;
    var last = 0;
    var match;
    while ((match = anchor.exec(text)) !== null) {
      appendLinkified(bubble, text.slice(last, match.index));
      bubble.appendChild(link(match[2], match[3].replace(/<[^>]*>/g, "")));
      last = anchor.lastIndex;
    }
    appendLinkified(bubble, text.slice(last));
    return bubble;
  }

  function appendLinkified(parent, text) {
    var url = /https?:\/\/[^\s<>"'，。）)]+/g;
    var last = 0;
    var match;
    while ((match = url.exec(text)) !== null) {
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      parent.appendChild(link(match[0], match[0]));
      last = url.lastIndex;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function link(href, label) {
    if (!/^https?:\/\//i.test(href)) return document.createTextNode(label);
    return el("a", {
      href: href, text: label,
      onclick: function (event) { event.preventDefault(); openLink(href); }
    });
  }

  /** A template key's position: WeChat numbers them (thing1, time2, …) in template order. */
  function keyNumber(key) {
    var match = /(\d+)(?:\.DATA)?$/i.exec(key);
    return match ? Number(match[1]) : Number.MAX_SAFE_INTEGER;
  }

  function keyLabels(keys, known) {
    var counts = {};
    var labels = keys.map(function (key) {
      var kind = key.replace(/\d+$/, "").replace(/\.DATA$/i, "");
      var label = known[key] || KEY_LABELS[kind] || key;
      counts[label] = (counts[label] || 0) + 1;
      return label;
    });
    var seen = {};
    return labels.map(function (label) {
      if (counts[label] < 2) return label;
      seen[label] = (seen[label] || 0) + 1;
      return label + seen[label];
    });
  }

  function templateCard(body, at) {
    var template = (config.templates || {})[body.template_id] || {};
    var data = body.data || {};
    // Since May 2023 WeChat shows neither `first` nor `remark`.
    var keys = Object.keys(data)
      .filter(function (key) { return key !== "first" && key !== "remark"; })
      .sort(function (a, b) { return keyNumber(a) - keyNumber(b) || (a < b ? -1 : a > b ? 1 : 0); });
    var labels = keyLabels(keys, template.labels || {});
    var rows = el("dl", { className: "card__rows" });
    keys.forEach(function (key, index) {
      rows.append(el("dt", { text: labels[index] }), el("dd", { text: String((data[key] || {}).value || "") }));
    });
    var card = el("div", { className: "card card--template" }, [
      el("div", { className: "card__hd", text: template.title || "模板消息" }),
      el("div", { className: "card__time", text: formatTime(at) }),
      rows
    ]);
    if (body.url) {
      card.appendChild(el("button", { type: "button", className: "card__link", text: "详情", onclick: function () { openLink(body.url); } }));
    } else {
      card.appendChild(el("div", { className: "card__kind", text: "模板 " + (body.template_id || "") }));
    }
    return card;
  }

  function articleCard(article, titleKey, descKey, urlKey, picKey) {
    var cover = el("div", { className: "article__cover", text: article[titleKey] || "图文消息" });
    if (picKey && article[picKey]) {
      cover.classList.add("article__cover--image");
      cover.style.backgroundImage = "linear-gradient(transparent 40%, rgba(0,0,0,.55)), url(\"" + encodeURI(article[picKey]) + "\")";
    }
    var url = urlKey ? article[urlKey] : null;
    return el(url ? "button" : "div", {
      type: url ? "button" : null, className: "article",
      onclick: url ? function () { openLink(url); } : null
    }, [cover, descKey && article[descKey] ? el("div", { className: "article__desc", text: article[descKey] }) : null]);
  }

  function renderProfile() {
    var pending = state.pendingScan;
    return el("div", { className: "profile", id: "profile" }, [
      accountAvatar(),
      el("h2", { text: config.account.name }),
      el("p", { className: "profile__kind", text: "服务号 · 工贸企业安全隐患排查治理" }),
      el("p", { className: "profile__desc", text: "扫描企业现场张贴的点位二维码即可开始排查；发现隐患随手拍照上报，整改进度和排查提醒都会通过本号通知你。" }),
      pending ? el("p", { className: "profile__via", text: "你扫描了" + pending.label + "。关注后，公众号才会收到这次扫码。" }) : null
    ]);
  }

  // ------------------------------------------------------------------------------------
  // Polling the message log
  // ------------------------------------------------------------------------------------

  /** Fetch what the service sent since the last entry shown; a call made while a fetch is
   * running waits for it and fetches again, so a reply just recorded is never missed. */
  function poll() {
    if (!state.user) return Promise.resolve();
    if (state.pollPromise) return state.pollPromise.then(poll);
    var openid = state.user.openid;
    var url = URLS.messages + "?" + new URLSearchParams({ openid: openid, after: String(lastSeq()) });
    var fetched = api("GET", url).then(function (data) {
      if (!state.user || state.user.openid !== openid) return;
      var known = {};
      state.timeline.forEach(function (item) { if (item.t === "in") known[item.seq] = true; });
      var fresh = data.messages.filter(function (entry) { return !known[entry.seq]; });
      if (!fresh.length) return;
      fresh.forEach(function (entry) {
        state.timeline.push({ t: "in", seq: entry.seq, kind: entry.kind, body: entry.body, at: Math.max(entry.at, lastOutAt()) });
      });
      saveTimeline();
      renderMessages();
    }).catch(function () { /* the next poll tries again */ });
    state.pollPromise = fetched.then(function () { state.pollPromise = null; });
    return state.pollPromise;
  }

  function lastOutAt() {
    // Keep replies below the message they answer even if the clocks differ a little.
    var at = 0;
    state.timeline.forEach(function (item) { if (item.at > at) at = item.at; });
    return at;
  }

  function startPolling() {
    stopPolling();
    poll();
    state.pollTimer = setInterval(function () { if (!document.hidden) poll(); }, POLL_MS);
  }

  function stopPolling() {
    if (state.pollTimer) clearInterval(state.pollTimer);
    state.pollTimer = null;
  }

  // ------------------------------------------------------------------------------------
  // Sending what the user does
  // ------------------------------------------------------------------------------------

  function send(payload, options) {
    options = options || {};
    var user = state.user;
    var done = options.waiting ? loading(options.waiting) : function () {};
    return api("POST", URLS.send, Object.assign({ openid: user.openid }, payload))
      .then(function (data) {
        if (state.user && state.user.openid === user.openid) {
          state.user = Object.assign({}, state.user, data.user);
        }
        data.exchanges.forEach(function (exchange) {
          logExchange(exchange);
          if (exchange.failure) note(exchange.failure, true);
        });
        renderIdentity();
        renderBottom();
        renderMessages(); // the account's profile goes once the user follows
        // A scan may have bound the openid to a person: refresh who this user is.
        loadContacts().catch(function () {});
        return poll().then(function () { return data; });
      })
      .catch(function (error) {
        // Another tab (or the API) changed the follow state: show the real one.
        if ((error.code === "not_following" || error.code === "already_following") && state.user) {
          state.user.subscribed = error.code === "already_following";
          renderIdentity();
          renderBottom();
          renderMessages();
        }
        toast(error.message, 2600);
        throw error;
      })
      .finally(done);
  }

  function follow() {
    var pending = state.pendingScan;
    var payload = { type: "subscribe" };
    if (pending) Object.assign(payload, pending.code);
    state.pendingScan = null;
    var said = note(pending ? "你通过扫描" + pending.label + "关注了公众号" : "你关注了公众号");
    send(payload).catch(function () { unpush(said); state.pendingScan = pending; renderMessages(); });
  }

  function unfollow() {
    dialog({ text: "不再关注后，将不再收到「" + config.account.name + "」下发的消息。", ok: "不再关注", warn: true })
      .then(function (ok) {
        if (!ok) return;
        var said = note("你已不再关注公众号");
        send({ type: "unsubscribe" }).catch(function () { unpush(said); });
      });
  }

  function sendText(text) {
    push({ t: "out-text", text: text });
    return send({ type: "text", content: text }).catch(function () {});
  }

  function choosePhoto(action) {
    state.photoAction = action;
    var input = $("photo-input");
    input.value = "";
    input.click();
  }

  function onPhotoChosen(file) {
    var action = state.photoAction || { type: "image" };
    state.photoAction = null;
    var form = new FormData();
    form.append("media", file, file.name || "photo.jpg");
    var done = loading("正在发送");
    api("POST", URLS.media, form)
      .then(function (media) {
        done();
        push({ t: "out-image", url: media.url });
        var payload = { type: action.type, media_id: media.media_id };
        if (action.key) payload.key = action.key;
        return send(payload);
      })
      .catch(function (error) { done(); toast(error.message); });
  }

  // ------------------------------------------------------------------------------------
  // Bottom bar: follow button, the account menu, the keyboard
  // ------------------------------------------------------------------------------------

  function renderBottom() {
    var following = !!(state.user && state.user.subscribed);
    $("follow-bar").hidden = following;
    $("menubar").hidden = !following || !$("inputbar").hidden;
    if (!following) $("inputbar").hidden = true;
  }

  function setInputMode(typing) {
    closeSubmenus();
    $("inputbar").hidden = !typing;
    $("menubar").hidden = typing;
    renderBottom();
    if (typing) $("text-input").focus();
  }

  function renderMenu() {
    var holder = $("menu-buttons");
    holder.textContent = "";
    (config.menu.button || []).forEach(function (button) {
      var subs = button.sub_button || [];
      var top = el("button", {
        type: "button", className: "menu-top" + (subs.length ? " has-subs" : ""), "data-menu": button.name,
        onclick: function (event) {
          event.stopPropagation();
          if (!subs.length) { closeSubmenus(); runButton(button); return; }
          var open = top.classList.contains("is-open");
          closeSubmenus();
          if (!open) {
            top.classList.add("is-open");
            top.appendChild(el("div", { className: "submenu", role: "menu" }, subs.map(function (sub) {
              return el("button", {
                type: "button", role: "menuitem", text: sub.name,
                onclick: function (inner) { inner.stopPropagation(); closeSubmenus(); runButton(sub); }
              });
            })));
          }
        }
      }, [el("span", { text: button.name })]);
      holder.appendChild(top);
    });
  }

  function closeSubmenus() {
    document.querySelectorAll(".menu-top.is-open").forEach(function (node) {
      node.classList.remove("is-open");
      var sub = node.querySelector(".submenu");
      if (sub) sub.remove();
    });
  }

  /** What tapping a menu button does in WeChat, by button type. */
  function runButton(button) {
    var type = button.type;
    if (type === "click") return send({ type: "click", key: button.key }).catch(function () {});
    if (type === "view") {
      send({ type: "view", url: button.url }).catch(function () {});
      return openLink(button.url);
    }
    if (type === "scancode_push" || type === "scancode_waitmsg") {
      return openScanner({ type: type, key: button.key, name: button.name });
    }
    if (type === "pic_sysphoto" || type === "pic_photo_or_album" || type === "pic_weixin") {
      return choosePhoto({ type: type, key: button.key });
    }
    toast("模拟器暂不支持 " + type + " 类型的菜单");
  }

  // ------------------------------------------------------------------------------------
  // Scanner
  // ------------------------------------------------------------------------------------

  function openScanner(mode) {
    state.scanMode = mode;
    $("scanner-title").textContent = mode.type === "scan" ? "扫一扫" : "扫一扫 · " + mode.name;
    $("scanner").hidden = false;
    phone.classList.add("is-dark-top");
    renderCodes();
    api("GET", URLS.codes).then(function (data) {
      state.codes = data;
      renderCodes();
    }).catch(function (error) { toast(error.message); });
  }

  function closeScanner() {
    $("scanner").hidden = true;
    phone.classList.remove("is-dark-top");
    state.scanMode = null;
  }

  function setCodeTab(tab) {
    state.codeTab = tab;
    document.querySelectorAll(".segmented__item").forEach(function (node) {
      var active = node.getAttribute("data-tab") === tab;
      node.classList.toggle("is-active", active);
      node.setAttribute("aria-selected", active ? "true" : "false");
    });
    renderCodes();
  }

  function renderCodes() {
    var list = $("code-list");
    list.textContent = "";
    var codes = state.codes;
    $("tab-sites").textContent = "点位二维码" + (codes ? "（" + codes.sites.length + "）" : "");
    $("tab-invites").textContent = "邀请二维码" + (codes ? "（" + codes.invites.length + "）" : "");
    if (!codes) { list.appendChild(el("div", { className: "code-empty", text: "正在加载…" })); return; }
    var albumButton = el("button", { type: "button", className: "code-album", text: "从相册选择二维码图片", onclick: chooseQrImage });
    if (state.codeTab === "sites") {
      if (!codes.sites.length) list.appendChild(el("div", { className: "code-empty", text: "还没有点位。在管理后台登记点位，或导入演示数据。" }));
      var group = null;
      codes.sites.forEach(function (site) {
        if (site.enterprise !== group) {
          group = site.enterprise;
          list.appendChild(el("div", { className: "code-group", text: group }));
        }
        list.appendChild(el("button", {
          type: "button", className: "code code--site", "data-scene": site.scene,
          onclick: function () { scanCode({ scene: site.scene }, "「" + site.enterprise + "」点位「" + site.name + "」的二维码"); }
        }, [
          el("span", { className: "code__icon" }),
          el("span", { className: "code__bd" }, [
            el("div", { className: "code__title", text: site.name }),
            el("div", { className: "code__desc", text: (site.area ? site.area + " · " : "") + "点位二维码" })
          ])
        ]));
      });
    } else {
      if (!codes.invites.length) {
        list.appendChild(el("div", { className: "code-empty", text: "没有可用的邀请。企业管理员可在管理后台的企业页面，为未绑定的成员点“邀请绑定”生成邀请二维码。" }));
      }
      codes.invites.forEach(function (invite) {
        list.appendChild(el("button", {
          type: "button", className: "code code--invite", "data-scene": invite.scene,
          onclick: function () { scanCode({ scene: invite.scene }, "邀请「" + invite.name + "」绑定的二维码"); }
        }, [
          el("span", { className: "code__icon" }),
          el("span", { className: "code__bd" }, [
            el("div", { className: "code__title", text: "邀请 " + invite.name + " 绑定" }),
            el("div", { className: "code__desc", text: invite.enterprise + " · " + invite.role_label + " · " + invite.expires_at + " 前有效" })
          ])
        ]));
      });
    }
    list.appendChild(albumButton);
  }

  /** A WeChat parametric QR was scanned (`code` = {scene} or {qr}). */
  function scanCode(code, label) {
    var mode = state.scanMode || { type: "scan" };
    closeScanner();
    if (mode.type !== "scan") {
      // The menu's scanner hands the code's content to the account.
      return send(Object.assign({ type: mode.type, key: mode.key }, code), { waiting: mode.type === "scancode_waitmsg" ? "消息接收中" : null })
        .catch(function () {});
    }
    if (!state.user.subscribed) {
      // WeChat shows the account's profile first; the scan reaches the server on 关注.
      state.pendingScan = { code: code, label: label };
      renderMessages();
      return;
    }
    var said = note("你扫描了" + label);
    send(Object.assign({ type: "scan" }, code)).catch(function () { unpush(said); });
  }

  function chooseQrImage() {
    var input = $("qr-input");
    input.value = "";
    input.click();
  }

  /** Decode a photo of a QR in the browser, as WeChat's scanner reads the camera. */
  function onQrImageChosen(file) {
    var mode = state.scanMode || { type: "scan" };
    var done = loading("正在识别");
    decodeQr(file).then(function (text) {
      done();
      if (text === null) { toast("未发现二维码，请换一张清晰的图片"); return; }
      handleScanResult(text, mode);
    }).catch(function () { done(); toast("无法读取这张图片"); });
  }

  function decodeQr(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var image = new Image();
      image.onload = function () {
        URL.revokeObjectURL(url);
        // Try a few sizes: jsQR is fastest near 800 px and posters are often much larger.
        var sizes = [1000, 1600, 600, Math.max(image.width, image.height)];
        for (var i = 0; i < sizes.length; i++) {
          var scale = Math.min(1, sizes[i] / Math.max(image.width, image.height));
          var width = Math.max(1, Math.round(image.width * scale));
          var height = Math.max(1, Math.round(image.height * scale));
          var canvas = document.createElement("canvas");
          canvas.width = width;
          canvas.height = height;
          var context = canvas.getContext("2d", { willReadFrequently: true });
          context.fillStyle = "#fff";
          context.fillRect(0, 0, width, height);
          context.drawImage(image, 0, 0, width, height);
          var pixels = context.getImageData(0, 0, width, height);
          var found = window.jsQR(pixels.data, width, height, { inversionAttempts: "attemptBoth" });
          if (found && found.data) return resolve(found.data);
        }
        resolve(null);
      };
      image.onerror = function () { URL.revokeObjectURL(url); reject(new Error("bad image")); };
      image.src = url;
    });
  }

  function handleScanResult(text, mode) {
    var trimmed = text.trim();
    var isWeChatQr = /^https?:\/\/weixin\.qq\.com\/q\//i.test(trimmed);
    if (mode.type !== "scan") {
      closeScanner();
      send({ type: mode.type, key: mode.key, scan_result: trimmed }, { waiting: mode.type === "scancode_waitmsg" ? "消息接收中" : null })
        .then(function () {
          // scancode_push: WeChat also opens what it scanned itself.
          if (mode.type === "scancode_push" && /^https?:\/\//i.test(trimmed) && !isWeChatQr) openLink(trimmed);
        })
        .catch(function () {});
      return;
    }
    if (isWeChatQr) return scanCode({ qr: trimmed }, "一张二维码图片");
    closeScanner();
    if (/^https?:\/\//i.test(trimmed)) return openLink(trimmed);
    dialog({ title: "扫描结果", text: trimmed, cancel: false, ok: "知道了", preformatted: true });
  }

  // ------------------------------------------------------------------------------------
  // The in-app browser
  // ------------------------------------------------------------------------------------

  /** Open a link as WeChat does: in its webview, signed in as the current user. */
  function openLink(url) {
    var path = ownPath(url);
    if (path === null) {
      window.open(url, "_blank", "noopener");
      return;
    }
    var frame = $("webview-frame");
    $("webview-title").textContent = "";
    var progress = $("webview-progress");
    progress.className = "webview__progress";
    requestAnimationFrame(function () { progress.classList.add("is-loading"); });
    $("webview").hidden = false;
    frame.src = URLS.open + "?" + new URLSearchParams({ openid: state.user.openid, url: path });
  }

  function onFrameLoad() {
    var frame = $("webview-frame");
    if ($("webview").hidden) return;
    var title = "";
    try { title = frame.contentDocument.title; } catch (ignored) { /* another origin */ }
    $("webview-title").textContent = title || "网页";
    $("webview-progress").className = "webview__progress is-done";
  }

  function closeWebview() {
    $("webview").hidden = true;
    $("webview-frame").src = "about:blank";
  }

  function webviewMenu() {
    var frame = $("webview-frame");
    var current = "";
    try { current = frame.contentWindow.location.href; } catch (ignored) { /* another origin */ }
    var host = current ? new URL(current).host : "";
    actionSheet(host ? "此网页由 " + host + " 提供" : "", [
      { label: "刷新", run: function () { try { frame.contentWindow.location.reload(); } catch (ignored) { /* another origin */ } } },
      { label: "在浏览器中打开", run: function () { if (current) window.open(current, "_blank", "noopener"); } }
    ]);
  }

  // ------------------------------------------------------------------------------------
  // Callback log (desktop side panel)
  // ------------------------------------------------------------------------------------

  /** One element per line, indented; text and CDATA stay on their element's line. */
  function prettyXml(xml) {
    var tokens = String(xml || "").match(/<!\[CDATA\[[\s\S]*?\]\]>|<\/?[^>]+>|[^<]+/g) || [];
    var out = "";
    var depth = 0;
    var inline = false;
    tokens.forEach(function (token) {
      if (token.charAt(0) === "<" && token.charAt(1) === "/") {
        depth = Math.max(depth - 1, 0);
        out += (inline ? "" : "\n" + "  ".repeat(depth)) + token;
        inline = false;
      } else if (token.charAt(0) === "<" && token.charAt(1) !== "!") {
        out += (out ? "\n" : "") + "  ".repeat(depth) + token;
        if (token.slice(-2) !== "/>") depth++;
        inline = false;
      } else {
        out += token;
        inline = true;
      }
    });
    return out;
  }

  function logExchange(exchange) {
    var box = $("devlog");
    var empty = box.querySelector(".devlog__empty");
    if (empty) empty.remove();
    var request = exchange.request;
    var what = request.msg_type === "event" ? "事件 " + request.event : request.msg_type + " 消息";
    var ok = exchange.status === 200 && !exchange.failure;
    var reply = exchange.reply === "" ? "（空）" : exchange.reply;
    box.prepend(el("details", {}, [
      el("summary", {}, [
        el("span", { className: "devlog__status" + (ok ? "" : " devlog__status--bad"), text: exchange.status === null ? "超时" : String(exchange.status) }),
        el("span", { className: "devlog__what", text: what + (request.encrypted ? " · AES" : "") }),
        el("span", { className: "devlog__ms", text: exchange.elapsed_ms + " ms" })
      ]),
      el("h3", { text: "微信推送（明文）" }),
      el("pre", { text: prettyXml(request.xml) }),
      el("h3", { text: "被动回复" + (exchange.recorded ? "（已记录）" : "") }),
      el("pre", { text: reply && reply.charAt(0) === "<" ? prettyXml(reply) : reply })
    ]));
  }

  // ------------------------------------------------------------------------------------
  // Wiring
  // ------------------------------------------------------------------------------------

  function tickClock() {
    var date = new Date();
    $("clock").textContent = date.getHours() + ":" + String(date.getMinutes()).padStart(2, "0");
  }

  function chatMenu() {
    var user = state.user;
    var items = [{ label: "扫一扫", run: function () { openScanner({ type: "scan" }); } }];
    if (user.subscribed) items.push({ label: "不再关注", warn: true, run: unfollow });
    else items.push({ label: "关注公众号", run: follow });
    items.push({ label: "切换微信用户", run: closeChat });
    items.push({
      label: "清空聊天记录", run: function () {
        // Only this browser's copy: the log keeps what the service sent.
        state.floor = lastSeq();
        state.timeline = [];
        saveTimeline();
        localStorage.setItem(storageKey(user.openid) + ":after", String(state.floor));
        renderMessages();
      }
    });
    actionSheet(user.nickname + "（" + user.openid + "）", items);
  }

  $("contact-search").addEventListener("input", renderContacts);
  $("new-user").addEventListener("click", createUser);
  $("chat-back").addEventListener("click", closeChat);
  $("chat-scan").addEventListener("click", function () { openScanner({ type: "scan" }); });
  $("chat-more").addEventListener("click", chatMenu);
  $("follow-button").addEventListener("click", follow);
  $("to-keyboard").addEventListener("click", function () { setInputMode(true); });
  $("to-menu").addEventListener("click", function () { setInputMode(false); });
  $("photo-button").addEventListener("click", function () { choosePhoto({ type: "image" }); });
  $("text-input").addEventListener("input", function () {
    var hasText = this.value.trim().length > 0;
    $("send-button").hidden = !hasText;
    $("photo-button").hidden = hasText;
  });
  $("inputbar").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = $("text-input");
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    input.dispatchEvent(new Event("input"));
    sendText(text);
  });
  $("photo-input").addEventListener("change", function () { if (this.files[0]) onPhotoChosen(this.files[0]); });
  $("qr-input").addEventListener("change", function () { if (this.files[0]) onQrImageChosen(this.files[0]); });
  $("scanner-close").addEventListener("click", closeScanner);
  $("scanner-album").addEventListener("click", chooseQrImage);
  $("tab-sites").addEventListener("click", function () { setCodeTab("sites"); });
  $("tab-invites").addEventListener("click", function () { setCodeTab("invites"); });
  $("webview-close").addEventListener("click", closeWebview);
  $("webview-more").addEventListener("click", webviewMenu);
  $("webview-frame").addEventListener("load", onFrameLoad);
  document.addEventListener("click", closeSubmenus);

  renderMenu();
  tickClock();
  setInterval(tickClock, 15000);
  loadContacts().then(function (users) {
    var remembered = localStorage.getItem(STORE_PREFIX + "current");
    var user = remembered && users.find(function (u) { return u.openid === remembered; });
    if (user) openChat(user);
  }).catch(function (error) { toast(error.message); });
})();
