/* The review queue's keys: a accept, r reject, n/j next, p/k previous, s sentence, t turn,
   c replace the code, u undo. Each key presses the button that carries it (data-key). */
(function () {
  "use strict";
  const form = document.getElementById("decide");
  const box = document.getElementById("replace-box");
  const search = document.getElementById("replace-search");
  const note = sessionStorage.getItem("qk-flash");
  if (note) { sessionStorage.removeItem("qk-flash"); QK.flash(note); }

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

  const aliases = { j: "n", k: "p" };
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && box && !box.hidden) { box.hidden = true; return; }
    if (QK.typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = aliases[event.key] || event.key;
    if (key === "u") { event.preventDefault(); undo(); return; }
    if (key === "c" && box) { event.preventDefault(); openReplace(); return; }
    const target = document.querySelector('[data-key="' + key + '"]');
    if (!target || !form) return;
    event.preventDefault();
    target.click();
  });
})();
