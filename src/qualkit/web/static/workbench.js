/* qualkit workbench: shared helpers (no dependencies, no build step).
   QK.post(url, data) sends JSON with the CSRF header; QK.flash(text) shows a message;
   QK.codes() loads the codebook once; QK.typeahead(input, list, onPick) offers codes. */
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function flash(text, kind) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = kind || "info";
    box.hidden = false;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 9000 : 3500);
  }

  async function post(url, data) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(data || {}),
    });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok || !body || !body.ok) {
      const error = (body && body.error) || { message: "the server answered " + response.status };
      flash(error.message + (error.hint ? " (" + error.hint + ")" : ""), "error");
      const failure = new Error(error.message);
      failure.handled = true;
      throw failure;
    }
    return body;
  }

  let codesPromise = null;
  function codes() {
    if (!codesPromise) {
      codesPromise = fetch("/api/codes", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then((r) => r.json()).then((body) => body.codes || []);
    }
    return codesPromise;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /* A type-ahead over the codebook: matches labels and ids (all words), shows definitions. */
  function typeahead(input, list, onPick) {
    let matches = [];
    let active = 0;
    async function refresh() {
      const all = await codes();
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      matches = all.filter((c) => {
        const hay = (c.label + " " + c.id).toLowerCase();
        return words.every((w) => hay.includes(w));
      }).slice(0, 12);
      active = 0;
      list.replaceChildren();
      matches.forEach((c, i) => {
        const item = el("li", { role: "option", "data-id": c.id });
        item.append(el("b", {}, c.label), " ", el("code", {}, c.id));
        if (c.definition) item.append(el("span", { class: "def" }, c.definition));
        if (i === active) item.classList.add("active");
        item.addEventListener("mousedown", (event) => { event.preventDefault(); onPick(c); });
        list.append(item);
      });
    }
    input.addEventListener("input", refresh);
    input.addEventListener("focus", refresh);
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!matches.length) return;
        active = (active + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
        [...list.children].forEach((li, i) => li.classList.toggle("active", i === active));
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (matches[active]) onPick(matches[active]);
      }
      if (event.key !== "Escape") event.stopPropagation();  // Escape still closes the box around the field
    });
    return { refresh };
  }

  /* Keys typed in a field are the field's, not shortcuts. */
  function typing(event) {
    const t = event.target;
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  }

  function resetCodes() { codesPromise = null; }
  window.QK = { post, flash, codes, resetCodes, typeahead, el, typing, csrf };
})();
