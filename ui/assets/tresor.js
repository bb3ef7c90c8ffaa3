// tresor.js: progressive enhancement only. Every page works without it.
"use strict";
document.addEventListener("click", function (ev) {
  var el = ev.target.closest("[data-print]");
  if (el) {
    ev.preventDefault();
    window.print();
  }
});
document.addEventListener("submit", function (ev) {
  // A long-running step (setup creates the pool) disables its button so a
  // second click does not send the form twice.
  var btn = ev.submitter;
  if (btn && btn.hasAttribute("data-busy")) {
    btn.setAttribute("aria-busy", "true");
    setTimeout(function () { btn.disabled = true; }, 0);
  }
});

// File browser uploads (ui/files): every chosen file goes as chunks to an
// upload session; the bar shows the bytes of all files; a chunk that
// breaks off is sent again from the last one the server acknowledged, and
// the session is remembered in localStorage so a reload resumes it.
// Without this script the form posts multipart and works the same.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (!form.hasAttribute || !form.hasAttribute("data-upload") || !window.XMLHttpRequest) return;
  var files = [];
  form.querySelectorAll("input[type=file]").forEach(function (inp) {
    for (var i = 0; i < inp.files.length; i++) files.push(inp.files[i]);
  });
  if (!files.length) return;
  ev.preventDefault();
  var base = form.getAttribute("data-uploads"), dir = form.getAttribute("data-dir");
  var chunk = parseInt(form.getAttribute("data-chunk"), 10) || 8388608;
  var csrf = form.querySelector("input[name=csrf]").value;
  var bar = form.querySelector("#upload-progress"), status = form.querySelector("#upload-status");
  var total = 0, done = 0;
  files.forEach(function (f) { total += f.size; });
  bar.max = Math.max(total, 1); bar.value = 0;
  form.querySelector("[data-upload-progress]").hidden = false;
  form.querySelector("button[type=submit]").disabled = true;
  function req(method, url, body, onprogress) {
    return new Promise(function (resolve, reject) {
      var x = new XMLHttpRequest();
      x.open(method, url);
      x.setRequestHeader("X-CSRF-Token", csrf);
      x.setRequestHeader("Accept", "application/json");
      if (onprogress) x.upload.onprogress = onprogress;
      x.onload = function () {
        var j = null;
        try { j = JSON.parse(x.responseText); } catch (e) { j = null; }
        if (x.status >= 200 && x.status < 300) resolve(j);
        else reject({ status: x.status, message: (j && j.error) || x.statusText });
      };
      x.onerror = function () { reject({ status: 0, message: "network" }); };
      x.send(body);
    });
  }
  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function one(f) {
    var rel = f.webkitRelativePath || f.name;
    var path = (dir === "/" ? "" : dir) + "/" + rel;
    var key = "tresor-upload:" + base + path + ":" + f.size + ":" + f.lastModified;
    var start = done, tries = 0;
    function begin() {
      var saved = localStorage.getItem(key);
      var fresh = function () {
        return req("POST", base, JSON.stringify({ path: path, size: f.size, mtime: f.lastModified, parents: !!f.webkitRelativePath, dir: dir }))
          .then(function (s) { localStorage.setItem(key, s.id); return s; });
      };
      if (!saved) return fresh();
      return req("GET", base + "/" + saved).catch(function (e) {
        if (e.status === 404) { localStorage.removeItem(key); return fresh(); }
        throw e;
      });
    }
    function send(s) {
      done = start + s.received; bar.value = done;
      if (s.received >= s.size) return req("POST", base + "/" + s.id + "/commit");
      // From the bytes acknowledged, not chunks times the page's chunk
      // size: a remembered session may have been begun with other chunks.
      var from = s.received, blob = f.slice(from, Math.min(f.size, from + chunk));
      return req("PUT", base + "/" + s.id + "/" + s.chunks, blob, function (e) {
        if (e.lengthComputable) bar.value = start + from + e.loaded;
      }).then(function (n) { tries = 0; return send(n); }, function (e) {
        if (e.status !== 0 && e.status < 500 || ++tries > 8) throw e;
        status.textContent = status.getAttribute("data-retry");
        return wait(500 * tries).then(function () { return req("GET", base + "/" + s.id); }).then(send, function () { return send(s); });
      });
    }
    return begin().then(send).then(function () {
      localStorage.removeItem(key);
      done = start + f.size; bar.value = done;
    });
  }
  var chain = Promise.resolve();
  files.forEach(function (f) { chain = chain.then(function () { return one(f); }); });
  chain.then(function () {
    bar.value = bar.max;
    status.textContent = status.getAttribute("data-done").replace("%d", files.length);
    form.setAttribute("data-state", "done");
    form.querySelector("#upload-reload").hidden = false;
  }, function (e) {
    status.textContent = status.getAttribute("data-failed").replace("%s", e.message || e.status);
    form.setAttribute("data-state", "failed");
  }).then(function () {
    form.querySelector("button[type=submit]").disabled = false;
  });
});

// Passkeys (ui/signin): [data-webauthn] elements run a WebAuthn ceremony.
// The server hands out the options as JSON with binary fields in base64url
// and takes the answer back the same way.
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) { return; }
  function bytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var b = atob(s), out = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) { out[i] = b.charCodeAt(i); }
    return out.buffer;
  }
  function b64url(buf) {
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) { s += String.fromCharCode(b[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, csrf, body) {
    var h = { "Content-Type": "application/json" };
    if (csrf) { h["X-CSRF-Token"] = csrf; }
    return fetch(url, { method: "POST", headers: h, credentials: "same-origin", body: body ? JSON.stringify(body) : "{}" })
      .then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) { throw new Error(j.error || r.statusText); }
          return j;
        });
      });
  }
  function creds(list) {
    return (list || []).map(function (c) { return { type: c.type, id: bytes(c.id), transports: c.transports }; });
  }
  function encode(c) {
    var r = c.response, out = { id: c.id, rawId: b64url(c.rawId), type: c.type, response: { clientDataJSON: b64url(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = b64url(r.attestationObject);
      if (r.getTransports) { out.response.transports = r.getTransports(); }
    }
    if (r.authenticatorData) {
      out.response.authenticatorData = b64url(r.authenticatorData);
      out.response.signature = b64url(r.signature);
      if (r.userHandle) { out.response.userHandle = b64url(r.userHandle); }
    }
    return out;
  }
  function fail(el, err) {
    var p = el.querySelector("#webauthn-error");
    if (p) {
      p.textContent = (err && err.message && err.name === "Error" ? err.message : el.getAttribute("data-error"));
      p.hidden = false;
    }
  }
  document.querySelectorAll("[data-webauthn=signin]").forEach(function (el) {
    var btn = el.querySelector("#webauthn-signin");
    btn.hidden = false;
    btn.addEventListener("click", function () {
      btn.disabled = true;
      post(el.getAttribute("data-begin")).then(function (o) {
        o.challenge = bytes(o.challenge);
        o.allowCredentials = creds(o.allowCredentials);
        return navigator.credentials.get({ publicKey: o });
      }).then(function (c) {
        return post(el.getAttribute("data-finish"), "", encode(c));
      }).then(function (j) {
        window.location.assign(j.next);
      }).catch(function (err) {
        btn.disabled = false;
        fail(el, err);
      });
    });
  });
  document.querySelectorAll("form[data-webauthn=register]").forEach(function (form) {
    var btn = form.querySelector("#webauthn-register"), csrf = form.getAttribute("data-csrf");
    btn.disabled = false;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      btn.disabled = true;
      post(form.getAttribute("data-begin"), csrf).then(function (o) {
        o.challenge = bytes(o.challenge);
        o.user.id = bytes(o.user.id);
        o.excludeCredentials = creds(o.excludeCredentials);
        return navigator.credentials.create({ publicKey: o });
      }).then(function (c) {
        return post(form.getAttribute("data-finish"), csrf, { label: form.elements.label.value, credential: encode(c) });
      }).then(function (j) {
        window.location.assign(j.next);
      }).catch(function (err) {
        btn.disabled = false;
        fail(form, err);
      });
    });
  });
})();

// Share page uploads (ui/sharepage): each chosen file is sent on its own
// to the link's upload URL, the bar shows the bytes of all files. Without
// this script the form posts multipart to the page and works the same.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (!form.hasAttribute || !form.hasAttribute("data-share-upload") || !window.XMLHttpRequest) return;
  var input = form.querySelector("input[type=file]");
  var files = Array.prototype.slice.call(input.files);
  if (!files.length) return;
  ev.preventDefault();
  var url = form.getAttribute("data-share-upload");
  var bar = form.querySelector("#share-progress"), status = form.querySelector("#share-status");
  var btn = form.querySelector("button[type=submit]");
  var total = 0, done = 0;
  files.forEach(function (f) { total += f.size; });
  bar.max = Math.max(total, 1); bar.value = 0;
  form.querySelector("[data-share-progress]").hidden = false;
  btn.disabled = true; status.textContent = "";
  function send(i) {
    if (i >= files.length) {
      bar.value = bar.max; btn.disabled = false; input.value = "";
      status.textContent = form.getAttribute("data-done");
      return;
    }
    var f = files[i], x = new XMLHttpRequest();
    x.open("POST", url + (url.indexOf("?") < 0 ? "?" : "&") + "name=" + encodeURIComponent(f.name));
    x.upload.onprogress = function (e) { bar.value = done + e.loaded; };
    x.onload = function () {
      if (x.status >= 200 && x.status < 300) { done += f.size; bar.value = done; send(i + 1); }
      else { btn.disabled = false; status.textContent = form.getAttribute("data-failed"); }
    };
    x.onerror = function () { btn.disabled = false; status.textContent = form.getAttribute("data-failed"); };
    x.send(f);
  }
  send(0);
});

// Copy buttons (ui/files: a new share link's URL): data-copy names the
// input whose value goes to the clipboard; the button says so for a
// moment. Without the script the URL stays selectable in its field.
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("[data-copy]");
  if (!btn) return;
  var inp = document.getElementById(btn.getAttribute("data-copy"));
  if (!inp) return;
  ev.preventDefault();
  var label = btn.textContent;
  function copied() {
    btn.textContent = btn.getAttribute("data-copied") || label;
    setTimeout(function () { btn.textContent = label; }, 2000);
  }
  inp.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(inp.value).then(copied, function () {
      if (document.execCommand("copy")) copied();
    });
  } else if (document.execCommand("copy")) {
    copied();
  }
});

// Long jobs (ui/admin): [data-job-events] names a job's stream of
// server-sent events; each event moves the bar and the status text, the
// "end" event closes the stream. Without the script the page has a link
// that loads the latest state.
document.querySelectorAll("[data-job-events]").forEach(function (el) {
  if (!window.EventSource) return;
  var bar = el.querySelector("#job-progress"), status = el.querySelector("#job-status");
  var badge = el.querySelector("#job-state .badge"), error = el.querySelector("#job-error");
  var reload = el.querySelector("#job-reload"), cancel = el.querySelector("#job-cancel");
  var es = new EventSource(el.getAttribute("data-job-events"));
  function show(ev) {
    var j = JSON.parse(ev.data);
    if (j.total > 0 || j.state !== "running") {
      bar.max = 100;
      bar.value = j.percent;
      bar.textContent = j.percent + " %";
    }
    status.textContent = j.text;
    if (badge) {
      badge.textContent = j.badge;
      badge.className = "badge badge-" + ({done: "ok", failed: "err", cancelled: "muted", interrupted: "warn"}[j.state] || "warn");
    }
    if (j.error) { error.textContent = j.error; error.hidden = false; }
    el.setAttribute("data-state", j.state);
    return j;
  }
  es.addEventListener("progress", show);
  es.addEventListener("end", function (ev) {
    es.close();
    show(ev);
    if (reload) reload.hidden = true;
    if (cancel) cancel.hidden = true;
  });
  es.onerror = function () {
    // The stream broke off (a restart): stop; the reload link stays.
    es.close();
  };
});
