/*! botbuilder chat widget. Embed with one tag:
 *  <script src="https://YOUR-SERVER/widget.js" data-bot-key="wk_…" async></script>
 * No dependencies. Messages go over HTTP, replies and agent messages also
 * arrive over Server-Sent Events. The session id lives in sessionStorage, so
 * the conversation continues across pages of the same browser tab.
 * Everything the bot or an agent says is inserted as text, never as HTML.
 */
(function () {
  "use strict";

  var STYLE = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Ubuntu,sans-serif}",
    ".bbw{position:fixed;bottom:20px;z-index:2147483000;display:flex;flex-direction:column;gap:12px;align-items:flex-end}",
    ".bbw.left{left:20px;align-items:flex-start}.bbw.right{right:20px}",
    ".bbw.inline{position:relative;bottom:auto;left:auto;right:auto;z-index:auto}",
    ".launcher{border:0;border-radius:999px;min-width:56px;height:56px;padding:0 18px;cursor:pointer;display:flex;align-items:center;gap:8px;font-size:15px;font-weight:600;box-shadow:0 6px 20px rgba(0,0,0,.2)}",
    ".launcher svg{width:26px;height:26px;fill:currentColor}",
    ".panel{width:min(370px,calc(100vw - 40px));height:min(560px,calc(100vh - 110px));border-radius:14px;overflow:hidden;display:flex;flex-direction:column;box-shadow:0 12px 40px rgba(0,0,0,.25)}",
    ".panel[hidden]{display:none}",
    ".head{display:flex;align-items:center;gap:10px;padding:14px 14px}",
    ".head img{width:34px;height:34px;border-radius:50%;object-fit:cover;background:rgba(255,255,255,.3)}",
    ".head .t{flex:1;min-width:0}.head .t b{display:block;font-size:15px}.head .t span{display:block;font-size:12px;opacity:.85}",
    ".head button{background:transparent;border:0;color:inherit;font-size:22px;line-height:1;cursor:pointer;padding:4px 8px}",
    ".banner{font-size:12px;padding:6px 12px;background:#fef3c7;color:#92400e}",
    ".banner[hidden]{display:none}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}",
    ".msg{max-width:85%;padding:8px 12px;border-radius:14px;font-size:14px;line-height:1.4;white-space:pre-wrap;word-wrap:break-word}",
    ".msg.user{align-self:flex-end;border-bottom-right-radius:4px}",
    ".msg.bot,.msg.agent{align-self:flex-start;background:#f1f1f5;border-bottom-left-radius:4px}",
    ".msg.agent{background:#e0f2fe}",
    ".msg.system{align-self:center;background:transparent;color:#6b7280;font-size:12px;text-align:center}",
    ".who{display:block;font-size:11px;font-weight:600;opacity:.7;margin-bottom:2px}",
    ".opts{display:flex;flex-wrap:wrap;gap:6px;align-self:flex-start}",
    ".opts button,.opts a{font-size:13px;border-radius:999px;padding:5px 12px;cursor:pointer;background:#fff;text-decoration:none;border:1px solid}",
    ".card{align-self:flex-start;width:85%;border:1px solid #e5e7eb;border-radius:12px;overflow:hidden;background:#fff}",
    ".card img{display:block;width:100%;max-height:160px;object-fit:cover}",
    ".card .cb{padding:8px 12px;font-size:14px}.card .cb small{display:block;color:#6b7280}",
    ".card .opts{padding:0 12px 10px}",
    ".img{align-self:flex-start;max-width:85%;border-radius:12px}",
    ".cite{align-self:flex-start;font-size:11px;color:#6b7280;margin-top:-4px}",
    ".typing{align-self:flex-start;font-size:12px;color:#6b7280;padding:0 4px}",
    ".typing[hidden]{display:none}",
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #e5e7eb}",
    "input{flex:1;font-size:14px;padding:9px 12px;border-radius:999px;border:1px solid #d1d5db;outline:none;min-width:0}",
    "form button{border:0;border-radius:999px;padding:0 14px;font-weight:600;cursor:pointer}",
    "form button:disabled{opacity:.5}",
    ".err{font-size:12px;color:#b91c1c;padding:0 12px 6px}.err:empty{display:none}",
    ".brand{font-size:11px;text-align:center;color:#6b7280;padding:0 0 8px}",
    ".attach{background:transparent!important;color:#6b7280!important;padding:0 8px!important;display:flex;align-items:center}",
    ".attach svg{width:20px;height:20px;fill:none;stroke:currentColor;stroke-width:2}",
    ".attach[hidden]{display:none}",
    ".att{display:flex;flex-direction:column;gap:4px;max-width:85%}",
    ".att.user{align-self:flex-end;align-items:flex-end}.att.bot,.att.agent{align-self:flex-start}",
    ".att img{display:block;max-width:100%;max-height:220px;border-radius:12px;border:1px solid #e5e7eb}",
    ".att a.file{display:inline-block;font-size:13px;padding:8px 12px;border-radius:12px;background:#f1f1f5;color:#1f2937;text-decoration:none;border:1px solid #e5e7eb;word-break:break-all}",
    ".upload{display:flex;flex-direction:column;gap:4px;min-width:160px}",
    ".upload progress{width:100%;height:6px}",
    ".panel.drop{outline:3px dashed #6d28d9;outline-offset:-6px}",
    ".vote{display:flex;gap:4px;align-self:flex-start;margin-top:-4px}",
    ".vote button{background:transparent;border:1px solid #e5e7eb;border-radius:999px;font-size:12px;padding:1px 8px;cursor:pointer;opacity:.7}",
    ".vote button[aria-pressed=true]{opacity:1;border-color:#6d28d9;background:#ede9fe}",
  ].join("\n");

  var CLIP_ICON =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5"/></svg>';
  /** What the file picker offers (the server checks the bytes anyway). */
  var ACCEPT = "image/png,image/jpeg,image/gif,image/webp,application/pdf,.docx,.xlsx,.pptx,.txt,.csv,text/plain,text/csv,audio/*,.mp3,.ogg,.m4a,.mp4,.wav";

  function humanSize(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return Math.round(n / 1024) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  var CHAT_ICON =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function safeUrl(u) {
    try {
      var p = new URL(u, location.href);
      return p.protocol === "https:" || p.protocol === "http:" ? p.href : null;
    } catch (e) {
      return null;
    }
  }

  /** One widget instance, mounted into `host` (a shadow root is attached). */
  function Widget(host, opts) {
    this.opts = opts;
    this.base = opts.base;
    this.key = opts.key;
    this.preview = !!opts.preview;
    this.seen = {};
    this.sessionKey = "bb-widget:" + this.key;
    this.session = null;
    this.source = null;
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    this.root = root;
    var style = el("style");
    style.textContent = STYLE;
    root.appendChild(style);
    this.wrap = el("div", "bbw");
    root.appendChild(this.wrap);
  }

  Widget.prototype.api = function (method, path, body) {
    var init = { method: method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(this.base + "/api/v1/widget/" + encodeURIComponent(this.key) + path, init).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try {
          data = t ? JSON.parse(t) : null;
        } catch (e) {}
        if (!r.ok) {
          var err = new Error((data && data.error && data.error.message) || "request failed (" + r.status + ")");
          err.status = r.status;
          err.code = data && data.error && data.error.code;
          throw err;
        }
        return data;
      });
    });
  };

  Widget.prototype.render = function (info) {
    var c = info.config || {};
    this.info = info;
    this.wrap.textContent = "";
    this.wrap.className = "bbw " + (c.position === "bottom_left" ? "left" : "right") + (this.opts.inline ? " inline" : "");
    this.wrap.setAttribute("data-position", c.position || "bottom_right");

    var panel = (this.panel = el("div", "panel"));
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", c.title || info.bot_name);
    panel.style.background = c.background_color;
    panel.style.color = c.text_color;

    var head = el("div", "head");
    head.style.background = c.primary_color;
    head.style.color = c.primary_text_color;
    if (c.show_avatar && info.avatar_url) {
      var av = el("img");
      av.alt = "";
      av.src = info.avatar_url.indexOf("/") === 0 ? this.base + info.avatar_url : info.avatar_url;
      head.appendChild(av);
    }
    var titles = el("div", "t");
    titles.appendChild(el("b", "title", c.title || info.bot_name));
    if (c.subtitle) titles.appendChild(el("span", "subtitle", c.subtitle));
    head.appendChild(titles);
    var close = el("button", "close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Close chat");
    var self = this;
    close.onclick = function () {
      self.toggle(false);
    };
    head.appendChild(close);
    panel.appendChild(head);

    this.banner = el("div", "banner");
    this.banner.hidden = true;
    panel.appendChild(this.banner);

    this.log = el("div", "log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    panel.appendChild(this.log);
    // The welcome message belongs to a new conversation only (see start()): a
    // reload or a reopened panel continues the stored conversation without it.
    this.typingEl = el("div", "typing", "…");
    this.typingEl.hidden = true;
    this.log.appendChild(this.typingEl);

    this.errorEl = el("div", "err");
    panel.appendChild(this.errorEl);

    var form = el("form");
    var input = (this.input = el("input", "input"));
    input.type = "text";
    input.placeholder = c.placeholder || "Type a message…";
    input.setAttribute("aria-label", "Message");
    input.maxLength = 4000;
    var send = (this.sendBtn = el("button", "send", "Send"));
    send.type = "submit";
    send.style.background = c.primary_color;
    send.style.color = c.primary_text_color;
    var uploads = c.uploads_enabled !== false && !this.preview;
    var picker = (this.picker = el("input", "picker"));
    picker.type = "file";
    picker.accept = ACCEPT;
    picker.multiple = true;
    picker.hidden = true;
    picker.tabIndex = -1;
    picker.setAttribute("aria-hidden", "true");
    picker.onchange = function () {
      Array.prototype.forEach.call(picker.files || [], function (f) {
        self.upload(f);
      });
      picker.value = "";
    };
    var attach = (this.attachBtn = el("button", "attach"));
    attach.type = "button";
    attach.innerHTML = CLIP_ICON;
    attach.setAttribute("aria-label", "Attach a file");
    attach.title = "Attach a file (images, PDF, documents, audio)";
    // The designer's preview shows the button as visitors will see it.
    attach.hidden = c.uploads_enabled === false;
    attach.onclick = function () {
      if (!self.preview) picker.click();
    };
    form.appendChild(attach);
    form.appendChild(input);
    form.appendChild(send);
    if (uploads) {
      // Pasted images (a screenshot) are sent as files.
      input.addEventListener("paste", function (e) {
        var files = (e.clipboardData && e.clipboardData.files) || [];
        if (!files.length) return;
        e.preventDefault();
        Array.prototype.forEach.call(files, function (f) {
          self.upload(f);
        });
      });
      // Files dropped anywhere on the panel.
      panel.addEventListener("dragover", function (e) {
        if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types || [], "Files") >= 0) {
          e.preventDefault();
          panel.classList.add("drop");
        }
      });
      panel.addEventListener("dragleave", function () {
        panel.classList.remove("drop");
      });
      panel.addEventListener("drop", function (e) {
        panel.classList.remove("drop");
        var files = (e.dataTransfer && e.dataTransfer.files) || [];
        if (!files.length) return;
        e.preventDefault();
        Array.prototype.forEach.call(files, function (f) {
          self.upload(f);
        });
      });
    }
    form.onsubmit = function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      input.value = "";
      self.send(text);
    };
    panel.appendChild(form);
    // Outside the form: `form input` stays the message box.
    panel.appendChild(picker);
    if (!c.white_label) {
      var brand = el("div", "brand", "Powered by botbuilder");
      panel.appendChild(brand);
    }
    this.wrap.appendChild(panel);

    var launcher = (this.launcher = el("button", "launcher"));
    launcher.type = "button";
    launcher.setAttribute("aria-label", "Open chat");
    launcher.style.background = c.primary_color;
    launcher.style.color = c.primary_text_color;
    launcher.innerHTML = CHAT_ICON;
    if (c.launcher_label) launcher.appendChild(el("span", null, c.launcher_label));
    launcher.onclick = function () {
      self.toggle(self.panel.hidden);
    };
    this.wrap.appendChild(launcher);
    this.userColors = { background: c.primary_color, color: c.primary_text_color };
    if (!info.available) this.setError("This chat is not available right now.");
    if (c.open_on_load && !this.preview) this.toggle(true);
  };

  Widget.prototype.setError = function (text) {
    this.errorEl.textContent = text || "";
  };

  /** `assigned`: whether an agent has taken the conversation (kept when not given). */
  Widget.prototype.setStatus = function (status, assigned) {
    this.status = status;
    if (typeof assigned === "boolean") this.assigned = assigned;
    if (status !== "handoff") this.assigned = false;
    if (status === "handoff" && this.assigned) {
      this.banner.textContent = "You are chatting with a person.";
      this.banner.hidden = false;
    } else if (status === "handoff") {
      this.banner.textContent = "Waiting for a person\u2026 We will be with you shortly.";
      this.banner.hidden = false;
    } else if (status === "closed") {
      this.banner.textContent = "This conversation is closed. Write to start a new one.";
      this.banner.hidden = false;
    } else {
      this.banner.hidden = true;
    }
  };

  Widget.prototype.toggle = function (open) {
    this.panel.hidden = !open;
    this.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      // The designer's preview redraws while its fields are typed in: it must not take the focus.
      if (!this.preview) this.input.focus();
      if (!this.started && !this.preview) this.start();
    }
  };

  Widget.prototype.start = function () {
    var self = this;
    this.started = true;
    var stored = null;
    try {
      stored = sessionStorage.getItem(this.sessionKey);
    } catch (e) {}
    var ready = stored
      ? this.api("GET", "/sessions/" + stored + "/messages").then(
          function (h) {
            self.session = stored;
            self.setStatus(h.status, h.assigned);
            h.messages.forEach(function (m) {
              self.show(m);
            });
          },
          function (err) {
            if (err.status === 404) return self.newSession();
            throw err;
          },
        )
      : this.newSession();
    return ready.then(
      function () {
        self.listen();
      },
      function (err) {
        self.started = false;
        self.setError(err.message);
      },
    );
  };

  Widget.prototype.newSession = function () {
    var self = this;
    var c = (this.info && this.info.config) || {};
    // Shown once, when the conversation starts.
    if (c.welcome_message && !this.log.querySelector(".welcome")) {
      this.log.insertBefore(el("div", "msg bot welcome", c.welcome_message), this.typingEl);
    }
    var where = { page_url: location.href, page_title: document.title || undefined, language: navigator.language || undefined };
    return this.api("POST", "/sessions", where).then(function (s) {
      self.session = s.session_id;
      try {
        sessionStorage.setItem(self.sessionKey, s.session_id);
      } catch (e) {}
      self.setStatus(s.status, s.assigned);
      s.messages.forEach(function (m) {
        self.show(m);
      });
    });
  };

  Widget.prototype.listen = function () {
    if (!window.EventSource || !this.session) return;
    var self = this;
    if (this.source) this.source.close();
    var url = this.base + "/api/v1/widget/" + encodeURIComponent(this.key) + "/sessions/" + this.session + "/events";
    var src = (this.source = new EventSource(url));
    src.addEventListener("message", function (e) {
      var data = JSON.parse(e.data);
      self.show(data.message);
    });
    src.addEventListener("typing", function (e) {
      var data = JSON.parse(e.data);
      self.typing(data.typing, data.role === "agent" ? "An agent is typing…" : "…");
    });
    src.addEventListener("status", function (e) {
      var d = JSON.parse(e.data);
      self.setStatus(d.status, d.assignee_user_id != null);
    });
    src.addEventListener("ready", function (e) {
      var d = JSON.parse(e.data);
      if (d && d.status) self.setStatus(d.status, !!d.assigned);
    });
    src.addEventListener("resync", function () {
      self.api("GET", "/sessions/" + self.session + "/messages").then(function (h) {
        h.messages.forEach(function (m) {
          self.show(m);
        });
      });
    });
  };

  Widget.prototype.typing = function (on, text) {
    this.typingEl.textContent = text || "…";
    this.typingEl.hidden = !on;
    if (on) this.log.appendChild(this.typingEl);
    this.scroll();
  };

  Widget.prototype.scroll = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  Widget.prototype.send = function (text) {
    var self = this;
    if (!this.session) {
      return this.start().then(function () {
        if (self.session) self.send(text);
      });
    }
    this.setError("");
    var pending = el("div", "msg user pending", text);
    pending.style.background = this.userColors.background;
    pending.style.color = this.userColors.color;
    this.log.insertBefore(pending, this.typingEl);
    this.typing(true, "…");
    this.sendBtn.disabled = true;
    return this.api("POST", "/sessions/" + this.session + "/messages", { text: text })
      .then(
        function (r) {
          pending.remove();
          if (r.message) self.show(r.message);
          r.replies.forEach(function (m) {
            self.show(m);
          });
          self.setStatus(r.status);
        },
        function (err) {
          pending.classList.add("failed");
          if (err.status === 404 && err.code === "widget_session_not_found") {
            try {
              sessionStorage.removeItem(self.sessionKey);
            } catch (e) {}
            self.session = null;
            self.started = false;
          }
          self.setError(err.status === 429 ? "You are sending messages too fast. Please wait a moment." : err.message);
        },
      )
      .then(function () {
        self.typing(false);
        self.sendBtn.disabled = false;
      });
  };

  /** The URL of a file of this session's conversation. */
  Widget.prototype.fileUrl = function (id) {
    return (
      this.base + "/api/v1/widget/" + encodeURIComponent(this.key) + "/sessions/" + this.session + "/files/" + encodeURIComponent(id)
    );
  };

  /** Sends a file (raw body, with upload progress) and shows it in the thread. */
  Widget.prototype.upload = function (file) {
    var self = this;
    if (!this.session) {
      return this.start().then(function () {
        if (self.session) self.upload(file);
      });
    }
    var limit = this.info && this.info.max_upload_bytes;
    if (limit && file.size > limit) {
      this.setError(file.name + " is too large (at most " + humanSize(limit) + ").");
      return Promise.resolve();
    }
    this.setError("");
    var row = el("div", "msg user upload");
    row.style.background = this.userColors.background;
    row.style.color = this.userColors.color;
    row.appendChild(el("span", null, file.name || "file"));
    var bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + (file.name || "file"));
    row.appendChild(bar);
    this.log.insertBefore(row, this.typingEl);
    this.scroll();
    var url =
      this.base + "/api/v1/widget/" + encodeURIComponent(this.key) + "/sessions/" + this.session + "/uploads?name=" +
      encodeURIComponent(file.name || "");
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
      };
      xhr.onload = function () {
        var data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (e) {}
        if (xhr.status >= 200 && xhr.status < 300 && data) {
          row.remove();
          if (data.message) self.show(data.message);
          (data.replies || []).forEach(function (m) {
            self.show(m);
          });
          self.setStatus(data.status);
        } else {
          row.classList.add("failed");
          bar.remove();
          var msg = (data && data.error && data.error.message) || "The file could not be sent (" + xhr.status + ").";
          if (xhr.status === 415) msg = "This kind of file cannot be sent: " + (file.name || "file") + ".";
          if (xhr.status === 429) msg = "You are sending messages too fast. Please wait a moment.";
          self.setError(msg);
        }
        resolve();
      };
      xhr.onerror = function () {
        row.classList.add("failed");
        self.setError("The file could not be sent (network error).");
        resolve();
      };
      xhr.send(file);
    });
  };

  /** Images inline, other files as download links. */
  Widget.prototype.attachments = function (m) {
    var self = this;
    var box = el("div", "att " + m.role);
    m.attachments.forEach(function (a) {
      var url = self.preview ? null : self.fileUrl(a.file_id);
      var link = el("a", a.content_type.indexOf("image/") === 0 ? "image" : "file");
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      if (url) link.href = url;
      if (a.content_type.indexOf("image/") === 0 && url) {
        var img = el("img");
        img.src = url;
        img.alt = a.name;
        link.appendChild(img);
      } else {
        link.textContent = "\uD83D\uDCCE " + a.name + " (" + humanSize(a.size_bytes) + ")";
        link.setAttribute("download", a.name);
      }
      link.setAttribute("data-file-id", a.file_id);
      box.appendChild(link);
    });
    this.log.insertBefore(box, this.typingEl);
  };

  Widget.prototype.options = function (items, parent) {
    var self = this;
    var box = el("div", "opts");
    items.forEach(function (o) {
      var url = o.url && safeUrl(o.url);
      var b;
      if (url) {
        b = el("a", null, o.label);
        b.href = url;
        b.target = "_blank";
        b.rel = "noopener noreferrer";
      } else {
        b = el("button", null, o.label);
        b.type = "button";
        b.onclick = function () {
          self.send(o.value || o.label);
        };
      }
      b.style.borderColor = self.userColors.background;
      b.style.color = self.userColors.background;
      box.appendChild(b);
    });
    (parent || this.log).insertBefore(box, parent ? null : this.typingEl);
  };

  /** Thumbs up/down under a bot answer; a second click on the same thumb takes the vote back. */
  Widget.prototype.thumbs = function (id, before) {
    var self = this;
    var box = el("div", "vote");
    box.setAttribute("data-vote-for", id);
    var buttons = {};
    [
      ["up", "\uD83D\uDC4D", "Helpful answer"],
      ["down", "\uD83D\uDC4E", "Unhelpful answer"],
    ].forEach(function (v) {
      var b = el("button", null, v[1]);
      b.type = "button";
      b.setAttribute("aria-label", v[2]);
      b.setAttribute("aria-pressed", "false");
      b.setAttribute("data-rating", v[0]);
      b.onclick = function () {
        var on = b.getAttribute("aria-pressed") === "true";
        var path = "/sessions/" + self.session + "/messages/" + id + "/feedback";
        var done = on ? self.api("DELETE", path) : self.api("PUT", path, { rating: v[0] });
        done.then(
          function () {
            Object.keys(buttons).forEach(function (k) {
              buttons[k].setAttribute("aria-pressed", !on && k === v[0] ? "true" : "false");
            });
          },
          function (err) {
            self.setError((err && err.message) || "Your vote could not be saved.");
          },
        );
      };
      buttons[v[0]] = b;
      box.appendChild(b);
    });
    this.log.insertBefore(box, before);
  };

  /** Shows a stored message once (replies can come by HTTP and by SSE). */
  Widget.prototype.show = function (m) {
    if (!m || this.seen[m.id] || m.role === "note") return;
    this.seen[m.id] = true;
    var log = this.log;
    var before = this.typingEl;
    if (m.text) {
      var b = el("div", "msg " + m.role);
      b.setAttribute("data-id", m.id);
      b.setAttribute("data-role", m.role);
      if (m.role === "agent" && m.author_name) b.appendChild(el("span", "who", m.author_name));
      b.appendChild(document.createTextNode(m.text));
      if (m.role === "user") {
        b.style.background = this.userColors.background;
        b.style.color = this.userColors.color;
      }
      log.insertBefore(b, before);
      if (m.role === "bot" && !this.preview) this.thumbs(m.id, before);
    }
    if (m.attachments && m.attachments.length) this.attachments(m);
    if (m.image) {
      var src = safeUrl(m.image.url);
      if (src) {
        var img = el("img", "img");
        img.src = src;
        img.alt = m.image.alt || "";
        log.insertBefore(img, before);
      }
    }
    var self = this;
    (m.cards || []).forEach(function (c) {
      var card = el("div", "card");
      var isrc = c.image_url && safeUrl(c.image_url);
      if (isrc) {
        var ci = el("img");
        ci.src = isrc;
        ci.alt = "";
        card.appendChild(ci);
      }
      var body = el("div", "cb", c.title);
      if (c.subtitle) body.appendChild(el("small", null, c.subtitle));
      card.appendChild(body);
      if (c.buttons && c.buttons.length) self.options(c.buttons, card);
      log.insertBefore(card, before);
    });
    if (m.buttons && m.buttons.length) this.options(m.buttons);
    if (m.quick_replies && m.quick_replies.length) this.options(m.quick_replies);
    if (m.citations && m.citations.length) {
      var names = m.citations
        .map(function (c) {
          return c.title || c.document || c.name || "";
        })
        .filter(Boolean);
      if (names.length) log.insertBefore(el("div", "cite", "Sources: " + names.join(", ")), before);
    }
    if (m.role !== "user") this.typing(false);
    this.scroll();
  };

  var api = {
    /** Mounts a widget into `container` (the designer's live preview). */
    preview: function (container, info) {
      container.textContent = "";
      var host = document.createElement("div");
      container.appendChild(host);
      var w = new Widget(host, { base: "", key: "preview", preview: true, inline: true });
      w.render(info);
      w.toggle(true);
      (info.sample || []).forEach(function (m, i) {
        w.show(Object.assign({ id: "p" + i }, m));
      });
      return w;
    },
  };
  window.BotbuilderWidget = api;

  var script =
    document.currentScript || document.querySelector("script[data-bot-key][src*='widget.js']");
  var key = script && script.getAttribute("data-bot-key");
  if (!key) return;
  var base = new URL(script.src, location.href).origin;

  function boot() {
    if (document.getElementById("bb-widget-host")) return;
    var host = document.createElement("div");
    host.id = "bb-widget-host";
    document.body.appendChild(host);
    var w = new Widget(host, { base: base, key: key });
    api.instance = w;
    w.api("GET", "/config").then(
      function (info) {
        w.render(info);
      },
      function (err) {
        if (window.console) console.warn("botbuilder widget:", err.message);
      },
    );
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
