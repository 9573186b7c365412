// Plotina — progressive enhancement. Every page works without this script; it adds
// the collapsible menu, the filter builder, record pickers, and kanban drag and drop.
(function () {
  "use strict";
  var doc = document;
  doc.documentElement.classList.add("js");
  function $(sel, root) { return (root || doc).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || doc).querySelectorAll(sel)); }
  function on(el, ev, fn) { if (el) el.addEventListener(ev, fn); }

  function ready() {
    menu(); autosubmit(); confirms(); builder(); bulk(); dealForm(); $$(".picker").forEach(picker); board(); planner();
  }

  function menu() {
    var btn = $(".menu-btn");
    on(btn, "click", function () {
      var open = doc.body.classList.toggle("nav-open");
      btn.setAttribute("aria-expanded", open ? "true" : "false");
    });
    on(doc, "keydown", function (e) {
      if (e.key === "Escape" && doc.body.classList.contains("nav-open")) {
        doc.body.classList.remove("nav-open");
        if (btn) { btn.setAttribute("aria-expanded", "false"); btn.focus(); }
      }
    });
  }

  function autosubmit() {
    $$("[data-autosubmit]").forEach(function (el) { on(el, "change", function () { el.form.submit(); }); });
  }

  function confirms() {
    $$("form[data-confirm]").forEach(function (f) {
      on(f, "submit", function (e) { if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault(); });
    });
  }

  // The filter builder appends `field op value` to the filter text.
  function quote(v) {
    if (/^-?\d+(\.\d+)?$/.test(v) || /^(me|true|false|null|today|now)([+-]\d+[dwmyh])?$/.test(v)) return v;
    return '"' + v.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }
  function builder() {
    var box = $("[data-builder]"), text = $("#filter");
    if (!box || !text) return;
    box.hidden = false;
    on($("[data-b-add]", box), "click", function () {
      var field = $("[data-b-field]", box).value, op = $("[data-b-op]", box).value, val = $("[data-b-value]", box).value.trim();
      var cond = field + " " + op;
      if (op.indexOf("null") < 0) {
        if (!val) { $("[data-b-value]", box).focus(); return; }
        cond += " " + quote(val);
      }
      text.value = text.value.trim() ? text.value.trim() + " and " + cond : cond;
      $("[data-b-value]", box).value = "";
      text.focus();
    });
  }

  function bulk() {
    var all = $("[data-select-all]"), action = $("[data-bulk-action]"), form = $("#bulk-form");
    function count() {
      var n = $$('input[name="ids"]:checked').length;
      if (form) form.classList.toggle("active", n > 0);
    }
    on(all, "change", function () {
      $$('input[name="ids"]').forEach(function (c) { c.checked = all.checked; });
      count();
    });
    $$('input[name="ids"]').forEach(function (c) { on(c, "change", count); });
    function show() {
      $$("[data-bulk-for]").forEach(function (el) { el.hidden = el.getAttribute("data-bulk-for") !== action.value; });
    }
    if (action) { on(action, "change", show); show(); }
  }

  // Deal form: stages of the chosen pipeline only; the lost reason for lost stages.
  function dealForm() {
    var pipe = $('select[name="pipeline_id"]'), stage = $('select[name="stage_id"]');
    if (!pipe || !stage) return;
    var lost = $('[data-field-wrap="lost_reason"]');
    function sync() {
      $$("option", stage).forEach(function (o) {
        var g = o.getAttribute("data-group");
        o.hidden = !!g && g !== pipe.value;
        o.disabled = o.hidden;
        if (o.hidden && o.selected) stage.value = "";
      });
      var sel = stage.options[stage.selectedIndex];
      if (lost) lost.classList.toggle("show", !!sel && sel.getAttribute("data-kind") === "lost" || lost.classList.contains("has-error"));
    }
    on(pipe, "change", sync); on(stage, "change", sync); sync();
  }

  var TITLE = { companies: "name", contacts: "full_name", deals: "title", leads: "title", activities: "subject" };

  // A record picker: search by name, INN, phone or e-mail; keeps ids in the original input.
  function picker(box) {
    var ids = $(".picker-ids", box), list = $(".picked", box), plural = box.getAttribute("data-picker");
    var multiple = box.getAttribute("data-multiple") === "true";
    var search = doc.createElement("input"), results = doc.createElement("ul"), timer = null, active = -1;
    search.type = "search"; search.autocomplete = "off";
    search.setAttribute("aria-label", (doc.querySelector('label[for="' + ids.id + '"]') || {}).textContent || plural);
    search.placeholder = box.getAttribute("data-placeholder") || "…";
    results.className = "pick-results"; results.hidden = true; results.setAttribute("role", "listbox");
    ids.type = "hidden";
    box.insertBefore(search, list); box.appendChild(results);
    function values() { return ids.value.split(/[,\s]+/).filter(Boolean); }
    function render() {
      $$("li", list).forEach(function (li) {
        if ($("button", li)) return;
        var x = doc.createElement("button"); x.type = "button"; x.textContent = "×"; x.setAttribute("aria-label", "×");
        on(x, "click", function () {
          ids.value = values().filter(function (v) { return v !== li.getAttribute("data-id"); }).join(", ");
          li.remove();
        });
        li.appendChild(x);
      });
    }
    function choose(id, text) {
      var vals = multiple ? values() : [];
      if (vals.indexOf(String(id)) < 0) vals.push(String(id));
      ids.value = vals.join(", ");
      if (!multiple) list.innerHTML = "";
      if (!$('li[data-id="' + id + '"]', list)) {
        var li = doc.createElement("li"); li.setAttribute("data-id", id); li.textContent = text; list.appendChild(li);
      }
      render(); search.value = ""; results.hidden = true;
    }
    function find() {
      var q = search.value.trim();
      if (q.length < 2) { results.hidden = true; return; }
      fetch("/api/v1/" + plural + "?limit=8&q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { data: [] }; })
        .then(function (page) {
          results.innerHTML = ""; active = -1;
          (page.data || []).forEach(function (rec) {
            var li = doc.createElement("li");
            li.textContent = rec[TITLE[plural]] || ("#" + rec.id);
            if (rec.inn) li.textContent += " · " + rec.inn;
            li.setAttribute("role", "option");
            on(li, "mousedown", function (e) { e.preventDefault(); choose(rec.id, rec[TITLE[plural]] || ("#" + rec.id)); });
            li._rec = rec;
            results.appendChild(li);
          });
          results.hidden = !results.children.length;
        });
    }
    on(search, "input", function () { clearTimeout(timer); timer = setTimeout(find, 200); });
    on(search, "blur", function () { setTimeout(function () { results.hidden = true; }, 150); });
    on(search, "keydown", function (e) {
      var items = $$("li", results);
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = Math.max(0, Math.min(items.length - 1, active + (e.key === "ArrowDown" ? 1 : -1)));
        items.forEach(function (li, i) { li.setAttribute("aria-selected", i === active ? "true" : "false"); });
      } else if (e.key === "Enter" && active >= 0 && items[active]) {
        e.preventDefault();
        var rec = items[active]._rec; choose(rec.id, rec[TITLE[plural]] || ("#" + rec.id));
      }
    });
    render();
  }

  // Kanban: drag and drop, arrow keys on a focused card, and the lost-reason dialog.
  function board() {
    var root = $("#board");
    if (!root) return;
    var csrf = doc.body.getAttribute("data-csrf"), dragged = null;
    var msg = $("[data-board-message]"), dialog = $("#lost-dialog");

    function say(text) { if (msg) { msg.textContent = text; msg.hidden = !text; } }

    function askReason(done) {
      if (!dialog || typeof dialog.showModal !== "function") {
        var r = window.prompt($("h2", dialog) ? $("h2", dialog).textContent : "?");
        done(r ? r.trim() : null); return;
      }
      dialog.returnValue = "";
      dialog.showModal();
      dialog.addEventListener("close", function handler() {
        dialog.removeEventListener("close", handler);
        if (dialog.returnValue !== "ok") { done(null); return; }
        var text = $("#lost-reason-text", dialog), sel = $("#lost-reason", dialog);
        done((text && text.value.trim()) || (sel && sel.value) || null);
      });
    }

    function send(dealId, stageId, reason) {
      var body = new URLSearchParams();
      body.set("csrf", csrf); body.set("stage_id", stageId);
      body.set("back", "/deals/board?" + root.getAttribute("data-qs"));
      if (reason) body.set("lost_reason", reason);
      fetch("/deals/" + dealId + "/move", { method: "POST", credentials: "same-origin", body: body,
        headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          // A gate refused the move: the notebook explains and links back here.
          var to = r.status === 423 && r.headers.get("X-Redirect");
          if (to) { window.location.assign(to); return { ok: false, text: "" }; }
          return r.text().then(function (t) { return { ok: r.ok, text: t }; });
        })
        .then(function (res) {
          if (!res.ok) { say(res.text); return; }
          say("");
          var tmp = doc.createElement("div"); tmp.innerHTML = res.text;
          var fresh = $("#board", tmp);
          if (fresh) { root.replaceWith(fresh); root = fresh; wire(); var c = $('[data-deal-id="' + dealId + '"]', root); if (c) c.focus(); }
        })
        .catch(function () { say("…"); });
    }

    function move(card, column) {
      if (!column || card.closest(".column") === column) return;
      var dealId = card.getAttribute("data-deal-id"), stageId = column.getAttribute("data-stage-id");
      if (column.getAttribute("data-kind") === "lost") {
        askReason(function (reason) { if (reason) send(dealId, stageId, reason); });
      } else {
        send(dealId, stageId, null);
      }
    }

    function wire() {
      $$(".deal-card", root).forEach(function (card) {
        on(card, "dragstart", function (e) { dragged = card; card.classList.add("dragging"); e.dataTransfer.effectAllowed = "move";
          e.dataTransfer.setData("text/plain", card.getAttribute("data-deal-id")); });
        on(card, "dragend", function () { card.classList.remove("dragging"); dragged = null;
          $$(".column", root).forEach(function (c) { c.classList.remove("drop-target"); }); });
        on(card, "keydown", function (e) {
          if (e.target !== card || (e.key !== "ArrowLeft" && e.key !== "ArrowRight")) return;
          e.preventDefault();
          var col = card.closest(".column");
          move(card, e.key === "ArrowLeft" ? col.previousElementSibling : col.nextElementSibling);
        });
      });
      $$(".column", root).forEach(function (col) {
        on(col, "dragover", function (e) { if (dragged) { e.preventDefault(); col.classList.add("drop-target"); } });
        on(col, "dragleave", function (e) { if (!col.contains(e.relatedTarget)) col.classList.remove("drop-target"); });
        on(col, "drop", function (e) { e.preventDefault(); col.classList.remove("drop-target"); if (dragged) move(dragged, col); });
      });
    }

    // One move form for the board: a card's "Move" link opens it for that card (without
    // scripts the link leads to the deal's own stage bar).
    var mover = $("#move-dialog"), moveForm = mover && $("[data-move-form]", mover), moving = null;
    if (moveForm && typeof mover.showModal === "function") {
      on(doc, "click", function (e) {
        var link = e.target.closest && e.target.closest("[data-move]");
        if (!link || !root.contains(link)) return;
        e.preventDefault();
        moving = link.closest(".deal-card");
        var col = moving.closest(".column");
        moveForm.action = "/deals/" + moving.getAttribute("data-deal-id") + "/move";
        moveForm.elements.stage_id.value = col.getAttribute("data-stage-id");
        moveForm.elements.lost_reason.value = "";
        var title = $(".deal-title", moving), slot = $("[data-move-title]", mover);
        if (slot) slot.textContent = title ? "«" + title.textContent + "»" : "";
        mover.showModal();
      });
      on($("[data-move-cancel]", mover), "click", function () { mover.close(); });
      on(moveForm, "submit", function (e) {
        e.preventDefault();
        if (!moving) { mover.close(); return; }
        var stage = moveForm.elements.stage_id, opt = stage.options[stage.selectedIndex];
        var reason = moveForm.elements.lost_reason.value.trim();
        var id = moving.getAttribute("data-deal-id");
        mover.close(); moving = null;
        if (opt.getAttribute("data-kind") === "lost" && !reason) {
          askReason(function (r) { if (r) send(id, stage.value, r); });
        } else {
          send(id, stage.value, reason);
        }
      });
    }
    wire();
  }

  // The notebook's planner: drag an entry to another day (or focus it and use the
  // arrow keys); the date form in each entry does the same without scripts.
  function planner() {
    var root = $("#planner");
    if (!root) return;
    var csrf = doc.body.getAttribute("data-csrf"), dragged = null, msg = $("[data-planner-message]");
    function send(entry, day) {
      if (!day || entry.closest(".planner-day") === day) return;
      var body = new URLSearchParams();
      body.set("csrf", csrf); body.set("date", day.getAttribute("data-date"));
      fetch("/notebook/planner/" + entry.getAttribute("data-activity-id") + "/move", { method: "POST",
        credentials: "same-origin", body: body, headers: { "X-Requested-With": "fetch" } })
        .then(function (r) {
          if (r.ok) { $("ul", day).appendChild(entry); var d = $('input[name="date"]', entry); if (d) d.value = day.getAttribute("data-date");
            if (msg) msg.hidden = true; entry.focus(); return; }
          return r.text().then(function (t) { if (msg) { msg.textContent = t; msg.hidden = false; } });
        });
    }
    var days = $$(".planner-day", root);
    $$(".planner-entry", root).forEach(function (en) {
      on(en, "dragstart", function (e) { dragged = en; e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", en.getAttribute("data-activity-id")); });
      on(en, "dragend", function () { dragged = null; days.forEach(function (d) { d.classList.remove("drop-target"); }); });
      on(en, "keydown", function (e) {
        if (e.target !== en || (e.key !== "ArrowLeft" && e.key !== "ArrowRight")) return;
        e.preventDefault();
        var i = days.indexOf(en.closest(".planner-day"));
        send(en, days[i + (e.key === "ArrowLeft" ? -1 : 1)]);
      });
    });
    days.forEach(function (d) {
      on(d, "dragover", function (e) { if (dragged) { e.preventDefault(); d.classList.add("drop-target"); } });
      on(d, "dragleave", function (e) { if (!d.contains(e.relatedTarget)) d.classList.remove("drop-target"); });
      on(d, "drop", function (e) { e.preventDefault(); d.classList.remove("drop-target"); if (dragged) send(dragged, d); });
    });
  }

  // Live notebook (reminders, approvals): the server pushes `badge` and `toast` events
  // over SSE; the notebook link shows the count and a toast appears without a reload.
  function live() {
    var link = doc.querySelector('[data-testid="nav-notebook"]');
    if (!link || !window.EventSource) return;
    var badge = doc.createElement("span");
    badge.className = "badge badge-live";
    badge.setAttribute("data-testid", "notebook-badge");
    badge.hidden = true;
    link.appendChild(badge);
    var box = doc.createElement("div");
    box.className = "toasts";
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    doc.body.appendChild(box);
    var es = new EventSource("/api/v1/notebook/stream");
    es.addEventListener("badge", function (e) {
      var n = JSON.parse(e.data).count;
      badge.textContent = n ? String(n) : "";
      badge.hidden = !n;
    });
    es.addEventListener("toast", function (e) {
      var t = JSON.parse(e.data);
      var el = doc.createElement(t.record ? "a" : "div");
      el.className = "toast";
      el.setAttribute("data-testid", "toast");
      if (t.record) el.href = t.record;
      el.textContent = "⏰ " + t.text;
      box.appendChild(el);
      setTimeout(function () { el.remove(); }, 10000);
    });
  }

  // An import running in the background: the batch page polls its status and fills the
  // progress bar, then reloads to show the result (without the script the page refreshes).
  function importProgress() {
    var box = $("[data-import-status]");
    if (!box || !window.fetch) return;
    var bar = $("progress", box), done = $("[data-import-done]", box), pct = $("[data-import-percent]", box);
    function poll() {
      fetch(box.getAttribute("data-import-status"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (b) {
          if (!b) return;
          if (b.status !== "running") { window.location.reload(); return; }
          var total = b.rows_total || 1;
          bar.value = b.rows_done; done.textContent = String(b.rows_done);
          pct.textContent = String(Math.floor(b.rows_done * 100 / total));
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    setTimeout(poll, 500);
  }

  function start() { ready(); live(); importProgress(); }
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", start); else start();
})();
