// qqscan review: keyboard shortcuts. Plain script, no build, no inline code (the CSP allows only
// same-origin scripts). Decisions submit the page's own HTML form (CSRF token included), exactly as a click.
(function () {
  "use strict";

  var TEXT_INPUTS = ["text", "search", "password", "email", "url", "number", "date", "tel", "month", "week", "time", "datetime-local"];

  function isTyping(el) {
    if (!el || !el.tagName) return false;
    var tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || el.isContentEditable) return true;
    if (tag === "input") return TEXT_INPUTS.indexOf((el.getAttribute("type") || "text").toLowerCase()) !== -1;
    return false;
  }

  function byId(id) { return document.getElementById(id); }

  function follow(id) {
    var a = byId(id);
    if (a && a.href) { window.location.assign(a.href); return true; }
    return false;
  }

  var help = byId("help");
  function helpOpen() { return help && !help.hidden; }
  function toggleHelp(show) {
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) { var c = byId("help-close"); if (c) c.focus(); }
  }
  var helpButton = byId("help-button");
  if (helpButton) helpButton.addEventListener("click", function () { toggleHelp(); });
  var helpClose = byId("help-close");
  if (helpClose) helpClose.addEventListener("click", function () { toggleHelp(false); });
  if (help) help.addEventListener("click", function (e) { if (e.target === help) toggleHelp(false); });

  var page = document.body.getAttribute("data-page");

  // --- image page ---------------------------------------------------------------------------------
  var submitting = false;
  function decide(status) {
    var button = byId("decide-" + status);
    var form = byId("decision-form");
    if (!button || !form || submitting) return;
    submitting = true; // one decision per page view, however fast the keys come
    if (form.requestSubmit) form.requestSubmit(button); else button.click();
  }
  function undo() {
    var form = byId("undo-form");
    if (!form || submitting) return;
    submitting = true;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }
  var decisionForm = byId("decision-form");
  if (decisionForm) decisionForm.addEventListener("submit", function () { submitting = true; });

  var detailKeys = {
    v: function () { decide("violation"); },
    f: function () { decide("false_positive"); },
    e: function () { decide("escalated"); },
    p: function () { decide("pending"); },
    u: undo,
    n: function () { var note = byId("note"); if (note) note.focus(); },
    j: function () { follow("next"); },
    k: function () { follow("prev"); },
    q: function () { follow("back-to-queue"); }
  };

  // --- queue ----------------------------------------------------------------------------------------
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-sha]")); }
  function currentIndex(list) {
    for (var i = 0; i < list.length; i++) if (list[i].classList.contains("current")) return i;
    return -1;
  }
  function move(delta) {
    var list = rows();
    if (!list.length) return;
    var i = currentIndex(list);
    var next = i === -1 ? (delta > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, i + delta));
    if (i !== -1) list[i].classList.remove("current");
    list[next].classList.add("current");
    list[next].scrollIntoView({ block: "nearest" });
  }
  function currentRow() { var list = rows(); var i = currentIndex(list); return i === -1 ? null : list[i]; }
  function openCurrent() {
    var row = currentRow();
    var a = row && row.querySelector("a.open");
    if (a) { window.location.assign(a.href); return true; }
    return false;
  }
  function toggleCurrent() {
    var row = currentRow();
    var box = row && row.querySelector("input.pick");
    if (box) box.checked = !box.checked;
  }
  var queueKeys = {
    j: function () { move(1); },
    k: function () { move(-1); },
    o: openCurrent,
    x: toggleCurrent
  };
  var selectAll = byId("select-all");
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      document.querySelectorAll("input.pick").forEach(function (b) { b.checked = selectAll.checked; });
    });
  }
  rows().forEach(function (row) {
    row.addEventListener("click", function () {
      var list = rows();
      list.forEach(function (r) { r.classList.remove("current"); });
      row.classList.add("current");
    });
  });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    var target = e.target;
    if (e.key === "Escape") {
      if (helpOpen()) { toggleHelp(false); e.preventDefault(); return; }
      if (isTyping(target)) { target.blur(); e.preventDefault(); return; }
      if (page === "detail" && follow("back-to-queue")) e.preventDefault();
      return;
    }
    if (isTyping(target)) return;
    if (e.key === "?") { toggleHelp(); e.preventDefault(); return; }
    if (helpOpen()) return;
    var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    if (page === "queue") {
      if (e.key === "Enter") {
        if (tag === "a" || tag === "button" || tag === "input") return; // their own Enter
        if (openCurrent()) e.preventDefault();
        return;
      }
      var qk = queueKeys[e.key];
      if (qk) { e.preventDefault(); qk(); }
    } else if (page === "detail") {
      var dk = detailKeys[e.key];
      if (dk) { e.preventDefault(); dk(); }
    }
  });
})();
