// lfr: the little script the pages need; no build step.
// Live feeds: an element with data-live-feed="URL" subscribes to server-sent events; each
// event carries a fragment URL that htmx fetches (so every fragment passes the same
// permission check as a page) and places at the top of the element.
(function () {
  "use strict";
  function subscribe(el) {
    const source = new EventSource(el.dataset.liveFeed);
    const status = document.getElementById(el.dataset.liveStatus || "");
    source.addEventListener("open", function () { if (status) status.textContent = "live"; });
    source.addEventListener("error", function () { if (status) status.textContent = "reconnecting…"; });
    source.addEventListener("fragment", function (event) {
      const message = JSON.parse(event.data);
      const existing = message.id ? document.getElementById(message.id) : null;
      if (existing) {
        htmx.ajax("GET", message.url, { target: existing, swap: "outerHTML" });
      } else {
        htmx.ajax("GET", message.url, { target: el, swap: "afterbegin" });
        cue(el);
      }
      const empty = el.querySelector(".empty");
      if (empty) empty.remove();
    });
  }
  // A new alert is announced: a banner (read out: role=alert), the tab's title, and a short
  // tone where the browser allows sound; the banner goes when the operator scrolls to it.
  function cue(el) {
    const banner = document.getElementById(el.dataset.cue || "");
    if (!banner) return;
    banner.hidden = false;
    if (!document.title.startsWith("● ")) document.title = "● " + document.title;
    try {
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.15);
    } catch (e) { /* no sound before the first click: the banner and title still show */ }
    setTimeout(function () {
      banner.hidden = true;
      document.title = document.title.replace(/^● /, "");
    }, 15000);
  }
  // How long each alert has waited; a waiting alert older than two minutes is marked.
  function ages() {
    const now = Date.now() / 1000;
    document.querySelectorAll(".age[data-since]").forEach(function (el) {
      const waited = Math.max(0, Math.round(now - Number(el.dataset.since)));
      el.textContent = waited < 60 ? waited + " s ago" : Math.floor(waited / 60) + " min ago";
      const card = el.closest(".alert-card");
      if (card) card.classList.toggle("old", card.classList.contains("waiting") && waited > 120);
    });
  }
  setInterval(ages, 1000);
  // Live camera views: reload the image every data-refresh-ms (the server keeps only the
  // latest blurred frame in memory; nothing is cached: no-store).
  // A camera without frames is served no frame (404): the picture goes and "no frames"
  // shows, rather than a frozen frame that looks live.
  function refresh(img) {
    const base = img.src.split("?")[0];
    const flag = img.closest("figure") && img.closest("figure").querySelector(".no-frames");
    img.addEventListener("error", function () { img.hidden = true; if (flag) flag.hidden = false; });
    img.addEventListener("load", function () { img.hidden = false; if (flag) flag.hidden = true; });
    setInterval(function () { img.src = base + "?t=" + Date.now(); }, Number(img.dataset.refreshMs));
  }
  // Refusals (422) are shown in the form that caused them (lfr.web.forms): htmx swaps them
  // in, the fields they name are marked, and the list takes the focus so it is read out.
  htmx.config.responseHandling.unshift({ code: "422", swap: true });
  function markProblems(slot) {
    const form = slot.closest("form");
    if (!form) return;
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    const list = slot.querySelector(".problems");
    if (!list) return;
    (list.dataset.fields || "").split(" ").filter(Boolean).forEach(function (name) {
      const el = document.getElementById(name) || form.querySelector("[name='" + name + "']");
      if (el) el.setAttribute("aria-invalid", "true");
    });
    list.focus();
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.classList.contains("problems-slot")) markProblems(event.detail.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-feed]").forEach(subscribe);
    document.querySelectorAll("img[data-refresh-ms]").forEach(refresh);
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();
