/* Added by `qualkit serve` to the report it serves: each quote link (data-transcript and
   data-turn, or a #t-... appendix anchor) opens the workbench's transcript view at the turn. */
(function () {
  "use strict";
  document.querySelectorAll("a[data-transcript]").forEach((a) => {
    const turn = a.getAttribute("data-turn");
    a.href = "/open?transcript=" + encodeURIComponent(a.getAttribute("data-transcript")) + (turn !== null ? "&turn=" + encodeURIComponent(turn) : "");
    a.title = "open this turn in the workbench";
  });
})();
