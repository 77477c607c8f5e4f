/* The review queue's keys: a accept, r reject, n/j next, p/k previous, s sentence, t turn,
   e the selected text, c replace the code, u undo. Each key presses the button that carries it (data-key). */
(function () {
  "use strict";
  const form = document.getElementById("decide");
  const box = document.getElementById("replace-box");
  const search = document.getElementById("replace-search");
  const note = sessionStorage.getItem("qk-flash");
  if (note) { sessionStorage.removeItem("qk-flash"); QK.flash(note); }

  /* A long turn scrolls inside its box: bring the suggested span into view (a third from the top). */
  const turnBox = document.getElementById("turntext");
  const suggested = turnBox && turnBox.querySelector("mark.suggested");
  if (suggested && turnBox.scrollHeight > turnBox.clientHeight) {
    const offset = suggested.getBoundingClientRect().top - turnBox.getBoundingClientRect().top;
    turnBox.scrollTop += offset - turnBox.clientHeight / 3;
  }

  async function undo() {
    try {
      const body = await QK.post("/api/undo");
      sessionStorage.setItem("qk-flash", body.message);
      location.reload();
    } catch (e) { if (!e.handled) QK.flash(String(e), "error"); }
  }
  const undoButton = document.getElementById("undo");
  if (undoButton) undoButton.addEventListener("click", undo);

  function openReplace() {
    box.hidden = false;
    search.value = "";
    search.focus();
  }
  const toggle = document.getElementById("replace-toggle");
  if (toggle) toggle.addEventListener("click", openReplace);
  if (search) {
    QK.typeahead(search, document.getElementById("replace-options"), (code) => {
      document.getElementById("replace-code").value = code.id;
      document.getElementById("replace-submit").click();
    });
  }

  /* e: accept with the span set to the text selected in the turn (code points, like the store). */
  function useSelection() {
    const box = document.getElementById("turntext");
    const sel = window.getSelection();
    if (!box || !sel || sel.isCollapsed || !sel.rangeCount) {
      QK.flash("Select the text to code in the turn first, then press e.", "error");
      return;
    }
    const range = sel.getRangeAt(0);
    if (!box.contains(range.startContainer) || !box.contains(range.endContainer)) {
      QK.flash("Select text inside the turn shown.", "error");
      return;
    }
    const upTo = (node, offset) => { const r = document.createRange(); r.selectNodeContents(box); r.setEnd(node, offset); return r.toString().length; };
    const full = box.textContent;
    let a = upTo(range.startContainer, range.startOffset);
    let b = upTo(range.endContainer, range.endOffset);
    while (a < b && /\s/.test(full[a])) a++;
    while (b > a && /\s/.test(full[b - 1])) b--;
    if (a >= b) return;
    document.getElementById("span-start").value = Array.from(full.slice(0, a)).length;
    document.getElementById("span-end").value = Array.from(full.slice(0, b)).length;
    document.getElementById("span-submit").click();
  }
  const spanButton = document.getElementById("span-selection");
  if (spanButton) spanButton.addEventListener("click", useSelection);

  /* Once a decision is on its way, further keys wait for the next page: a quick "a r" must not
     reject the suggestion just accepted (the second key was meant for the next one). */
  let sent = false;
  if (form) form.addEventListener("submit", () => { sent = true; });
  window.addEventListener("pageshow", () => { sent = false; });

  const aliases = { j: "n", k: "p" };
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && box && !box.hidden) { box.hidden = true; return; }
    if (QK.typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (sent) { event.preventDefault(); return; }
    const key = aliases[event.key] || event.key;
    if (key === "u") { event.preventDefault(); undo(); return; }
    if (key === "c" && box) { event.preventDefault(); openReplace(); return; }
    if (key === "e") { event.preventDefault(); useSelection(); return; }
    const target = document.querySelector('[data-key="' + key + '"]');
    if (!target || !form) return;
    event.preventDefault();
    target.click();
  });
})();
