/* qualkit workbench, search page: code a result in place.
   "Code…" on a hit opens the panel; the span is the match (keyword in context), the text selected
   in the turn (code search), or the whole turn; codes are picked with the shared type-ahead and
   stored through POST /api/codings (the same route as coding in the transcript view). */
(function () {
  "use strict";
  const QK = window.QK;
  const panel = document.getElementById("panel");
  if (!panel) return;
  const search = document.getElementById("panel-search");
  const options = document.getElementById("panel-options");
  const chosenBox = document.getElementById("panel-chosen");
  const save = document.getElementById("panel-save");
  let target = null;   // {row, transcript, transcriptPk, turn, start, end, length, text}
  let chosen = [];
  const selections = new WeakMap();  // hit row -> [start, end] of the text selected in it

  /* Offsets of the current selection inside box (code points of its text), or null. */
  function selectionIn(box) {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const range = sel.getRangeAt(0);
    if (!box.contains(range.startContainer) || !box.contains(range.endContainer)) return null;
    const offset = (container, within) => {
      const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
      let node, seen = 0;
      while ((node = walker.nextNode())) {
        if (node === container) return seen + [...node.textContent.slice(0, within)].length;
        seen += [...node.textContent].length;
      }
      return null;
    };
    const start = offset(range.startContainer, range.startOffset);
    const end = offset(range.endContainer, range.endOffset);
    return start !== null && end !== null && end > start ? [start, end] : null;
  }

  document.querySelectorAll(".hit .text").forEach((box) => {
    box.addEventListener("mouseup", () => {
      const row = box.closest(".hit");
      const span = selectionIn(box);
      if (span) selections.set(row, span); else selections.delete(row);
    });
  });

  function renderChosen() {
    chosenBox.replaceChildren();
    chosen.forEach((code) => {
      const chip = QK.el("span", { class: "chip human" }, code.label + " ");
      const drop = QK.el("button", { type: "button", "aria-label": "remove " + code.label }, "×");
      drop.addEventListener("click", () => { chosen = chosen.filter((c) => c.id !== code.id); renderChosen(); });
      chip.append(drop);
      chosenBox.append(chip);
    });
    save.disabled = chosen.length === 0;
  }

  function describe() {
    const turnScope = panel.querySelector('input[name="scope"][value="turn"]').checked;
    const start = turnScope ? 0 : target.start;
    const end = turnScope ? target.length : target.end;
    document.getElementById("panel-text").textContent = turnScope ? "the whole turn" : target.text;
    document.getElementById("panel-where").textContent = target.transcript + " · turn " + (target.turn + 1) + " · " + start + "–" + end;
    return [start, end];
  }

  function open(row) {
    const data = row.dataset;
    const box = row.querySelector(".text");
    const selected = box ? selections.get(row) : null;
    let start = Number(data.start), end = Number(data.end), text;
    if (selected) {
      [start, end] = selected;
      text = [...box.textContent].slice(start, end).join("");
    } else if (row.querySelector(".match")) {
      text = row.querySelector(".match").textContent;
    } else {
      text = "the whole turn";
    }
    target = { row, transcript: data.transcript, transcriptPk: Number(data.transcriptPk), turn: Number(data.turn),
               start, end, length: Number(data.turnLength), text };
    panel.querySelector('input[name="scope"][value="part"]').checked = true;
    chosen = [];
    renderChosen();
    describe();
    panel.hidden = false;
    search.value = "";
    search.focus();
  }

  function close() { panel.hidden = true; target = null; }

  document.querySelectorAll(".code-hit").forEach((button) => {
    button.addEventListener("click", (event) => { event.preventDefault(); open(button.closest(".hit")); });
  });
  panel.querySelectorAll('input[name="scope"]').forEach((radio) => radio.addEventListener("change", describe));
  QK.typeahead(search, options, (code) => {
    if (!chosen.some((c) => c.id === code.id)) chosen.push(code);
    renderChosen();
    search.value = "";
    options.replaceChildren();
  });
  document.getElementById("panel-cancel").addEventListener("click", close);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !panel.hidden) close(); });

  save.addEventListener("click", async () => {
    if (!target || chosen.length === 0) return;
    const [start, end] = describe();
    save.disabled = true;
    try {
      await QK.post("/api/codings", {
        transcript: target.transcript, transcript_pk: target.transcriptPk, turn: target.turn, start, end,
        codes: chosen.map((c) => c.id),
      });
      const done = target.row.querySelector(".done");
      done.textContent = "✓ coded " + chosen.map((c) => c.label).join(", ");
      target.row.classList.add("coded-now");
      QK.flash("Coded " + target.transcript + " turn " + (target.turn + 1) + " as " + document.querySelector(".topbar .who b").textContent);
      close();
    } catch (error) {
      if (!error.handled) QK.flash(String(error), "error");
      save.disabled = false;
    }
  });
})();
