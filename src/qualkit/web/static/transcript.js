/* The transcript view: details of a highlight, coding a selected span, remove, re-span, undo. */
(function () {
  "use strict";
  const root = document.getElementById("transcript");
  if (!root) return;
  const marks = JSON.parse(document.getElementById("marks-data").textContent);
  const codeInfo = JSON.parse(document.getElementById("codes-data").textContent);  // label and definition per code
  for (const mark of Object.values(marks)) Object.assign(mark, codeInfo[mark.code_id] || {});
  const me = root.dataset.coder;
  const transcript = root.dataset.transcript;
  const transcriptPk = Number(root.dataset.transcriptPk);
  const pop = document.getElementById("pop");
  const panel = document.getElementById("panel");
  const { el } = QK;
  let respanning = null; // the mark being moved to a new span
  let selection = null; // {turn, start, end, text}
  let chosen = [];

  /* ---- details of a highlight -------------------------------------------------------- */
  function describe(mark, turnIdx) {
    const box = el("div", { class: "mark " + mark.kind });
    const head = el("p", { class: "head" });
    head.append(el("span", { class: "badge " + mark.kind }, mark.kind === "auto" ? "automatic" : "human"), " ",
      el("b", {}, mark.label), " ", el("code", {}, mark.code_id));
    box.append(head);
    if (mark.definition) box.append(el("p", { class: "def" }, mark.definition));
    const facts = el("dl");
    const add = (k, v) => { if (v !== null && v !== undefined && v !== "") { facts.append(el("dt", {}, k), el("dd", {}, String(v))); } };
    if (mark.kind === "auto") {
      add("run", mark.run_id);
      add("rule", mark.rule);
      add("matched", mark.matched_text);
      add("score", typeof mark.score === "number" ? mark.score.toFixed(2) : mark.score);
      if (mark.evidence) add("evidence", JSON.stringify(mark.evidence));
      for (const [who, decision] of Object.entries(mark.reviews || {})) add("review", who + ": " + decision);
    } else {
      add("coder", mark.coder);
      add("decision", mark.decision);
      add("origin", mark.origin);
      add("when", mark.created_at);
    }
    add("span", mark.start + "–" + mark.end);
    box.append(facts);
    if (mark.kind === "human" && Number.isInteger(turnIdx)) {
      const back = location.pathname + "?turn=" + (turnIdx + 1);
      const href = "/memos?new_coding=" + mark.pk + "&back=" + encodeURIComponent(back) + "#new-memo";
      const line = el("p", { class: "memo-on-coding" });
      line.append(el("a", { href, "data-action": "memo" }, "Write a memo on this coding"));
      box.append(line);
    }
    if (mark.kind === "human" && mark.coder === me) {
      const actions = el("p", { class: "actions" });
      const remove = el("button", { type: "button", class: "danger", "data-action": "remove" }, "Remove");
      remove.addEventListener("click", () => act(() => QK.post("/api/codings/" + mark.pk + "/delete")));
      const move = el("button", { type: "button", "data-action": "respan" }, "Re-span…");
      move.addEventListener("click", () => {
        respanning = mark;
        hidePop();
        QK.flash("Select the new span for “" + mark.label + "” in the same turn (Esc cancels).");
      });
      actions.append(remove, " ", move);
      box.append(actions);
    }
    return box;
  }

  function showPop(target, pinned) {
    const keys = (target.dataset.keys || "").split(" ").filter(Boolean);
    if (!keys.length) return;
    const turn = target.closest("article.turn");
    const turnIdx = turn ? Number(turn.dataset.turn) : NaN;
    pop.replaceChildren(...keys.map((key) => describe(marks[key], turnIdx)).filter(Boolean));
    pop.hidden = false;
    pop.dataset.pinned = pinned ? "1" : "";
    const rect = target.getBoundingClientRect();
    const top = window.scrollY + rect.bottom + 6;
    const left = Math.max(8, Math.min(window.scrollX + rect.left, window.scrollX + document.documentElement.clientWidth - pop.offsetWidth - 12));
    pop.style.top = top + "px";
    pop.style.left = left + "px";
  }
  function hidePop() { pop.hidden = true; pop.dataset.pinned = ""; }

  root.addEventListener("mouseover", (event) => {
    const target = event.target.closest(".hl, .chip");
    if (target && !pop.dataset.pinned && panel.hidden) showPop(target, false);
  });
  root.addEventListener("mouseout", (event) => {
    const target = event.target.closest(".hl, .chip");
    if (target && !pop.dataset.pinned) hidePop();
  });
  root.addEventListener("click", (event) => {
    const target = event.target.closest(".hl, .chip");
    if (target && window.getSelection().isCollapsed) showPop(target, true);
  });
  root.addEventListener("keydown", (event) => {
    const target = event.target.closest(".hl, .chip");
    if (target && event.key === "Enter") showPop(target, true);
  });
  document.addEventListener("mousedown", (event) => {
    if (!pop.hidden && !pop.contains(event.target) && !event.target.closest(".hl, .chip")) hidePop();
  });

  /* ---- selecting a span ---------------------------------------------------------------- */
  function codePoints(text, utf16) { return Array.from(text.slice(0, utf16)).length; }

  function offsetIn(container, node, offset) {
    const range = document.createRange();
    range.selectNodeContents(container);
    range.setEnd(node, offset);
    return range.toString().length;
  }

  function readSelection() {
    const sel = window.getSelection();
    if (!sel || sel.isCollapsed || !sel.rangeCount) return null;
    const range = sel.getRangeAt(0);
    const startBox = (range.startContainer.nodeType === 1 ? range.startContainer : range.startContainer.parentElement).closest(".text");
    const endBox = (range.endContainer.nodeType === 1 ? range.endContainer : range.endContainer.parentElement).closest(".text");
    if (!startBox || startBox !== endBox) {
      if (startBox || endBox) QK.flash("A coding stays inside one turn: select text within a single turn.", "error");
      return null;
    }
    const full = startBox.textContent;
    let a = offsetIn(startBox, range.startContainer, range.startOffset);
    let b = offsetIn(startBox, range.endContainer, range.endOffset);
    while (a < b && /\s/.test(full[a])) a++;
    while (b > a && /\s/.test(full[b - 1])) b--;
    if (a >= b) return null;
    return { turn: Number(startBox.dataset.turn), start: codePoints(full, a), end: codePoints(full, b), text: full.slice(a, b) };
  }

  root.addEventListener("mouseup", () => {
    setTimeout(() => {
      const picked = readSelection();
      if (!picked) return;
      if (respanning) {
        const mark = respanning;
        respanning = null;
        act(() => QK.post("/api/codings/" + mark.pk + "/span", { start: picked.start, end: picked.end, transcript_pk: transcriptPk }));
        return;
      }
      openPanel(picked);
    }, 0);
  });

  /* ---- the coding panel ------------------------------------------------------------------ */
  const search = document.getElementById("panel-search");
  const options = document.getElementById("panel-options");
  const chosenBox = document.getElementById("panel-chosen");
  const save = document.getElementById("panel-save");

  function renderChosen() {
    chosenBox.replaceChildren(...chosen.map((c) => {
      const chip = el("span", { class: "chip human", "data-id": c.id }, c.label + " ");
      const x = el("button", { type: "button", "aria-label": "remove " + c.label }, "×");
      x.addEventListener("click", () => { chosen = chosen.filter((d) => d.id !== c.id); renderChosen(); });
      chip.append(x);
      return chip;
    }));
    save.disabled = chosen.length === 0;
  }

  function openPanel(picked) {
    hidePop();
    selection = picked;
    chosen = [];
    renderChosen();
    document.getElementById("panel-text").textContent = picked.text.length > 160 ? picked.text.slice(0, 157) + "…" : picked.text;
    document.getElementById("panel-where").textContent = "turn " + (picked.turn + 1) + ", characters " + picked.start + "–" + picked.end;
    panel.hidden = false;
    search.value = "";
    search.focus();
  }
  function closePanel() { panel.hidden = true; selection = null; document.getElementById("panel-new").hidden = true; }

  QK.typeahead(search, options, (code) => {
    if (!chosen.some((c) => c.id === code.id)) chosen.push(code);
    renderChosen();
    search.value = "";
    options.replaceChildren();
  });
  save.addEventListener("click", () => {
    if (!selection || !chosen.length) return;
    act(() => QK.post("/api/codings", {
      transcript, transcript_pk: transcriptPk, turn_idx: selection.turn, start: selection.start, end: selection.end,
      codes: chosen.map((c) => c.id),
    }));
  });
  document.getElementById("panel-cancel").addEventListener("click", closePanel);
  document.getElementById("panel-new-toggle").addEventListener("click", async () => {
    const form = document.getElementById("panel-new");
    form.hidden = !form.hidden;
    const ids = document.getElementById("code-ids");
    ids.replaceChildren(...(await QK.codes()).map((c) => el("option", { value: c.id }, c.label)));
  });
  document.getElementById("panel-new").addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target).entries());
    try {
      const body = await QK.post("/api/codes", data);
      QK.resetCodes();
      chosen.push(body.code);
      renderChosen();
      event.target.reset();
      event.target.hidden = true;
      QK.flash("Added “" + body.code.label + "” to the codebook extension.");
    } catch (e) { if (!e.handled) throw e; }
  });

  async function act(call) {
    try {
      const body = await call();
      sessionStorage.setItem("qk-flash", (body.change && body.change.summary) || body.message || "done");
      location.reload();
    } catch (e) { if (!e.handled) QK.flash(String(e), "error"); }
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { closePanel(); hidePop(); respanning = null; return; }
    if (QK.typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "u") act(() => QK.post("/api/undo"));
  });

  const note = sessionStorage.getItem("qk-flash");
  if (note) { sessionStorage.removeItem("qk-flash"); QK.flash(note); }
  if (root.dataset.focus) {
    const turn = document.getElementById("turn-" + root.dataset.focus);
    if (turn) turn.scrollIntoView({ block: "center" });
  }
})();
