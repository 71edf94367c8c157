() => {
  // Citation chips open their passage in the sources panel; "Try next" asks the suggested question.
  const showMark = (card) => {
    const box = card.querySelector(".src-text");
    const mark = box && box.querySelector("mark");
    if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.offsetTop - 24);
  };
  const flash = (el) => { el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash"); };
  document.addEventListener("click", (e) => {
    const chip = e.target.closest("a.cite-chip");
    if (chip) {
      e.preventDefault();
      e.stopPropagation();
      const anchor = (chip.getAttribute("href") || "").slice(1);
      const cards = document.querySelectorAll(`#sources [data-anchor="${CSS.escape(anchor)}"]`);
      if (!cards.length) return;
      cards.forEach((c) => { const d = c.closest("details"); if (d) d.open = true; showMark(c); flash(c); });
      cards[0].scrollIntoView({ behavior: "smooth", block: "nearest" });
      return;
    }
    const next = e.target.closest(".try-next");
    if (next) {
      e.preventDefault();
      const box = document.querySelector("#question textarea");
      if (!box) return;
      box.value = next.dataset.question || next.textContent.replace(/^Try next:\s*/, "");
      box.dispatchEvent(new Event("input", { bubbles: true }));
      setTimeout(() => document.querySelector("#send")?.click(), 60);
    }
  }, true);
  // Passages in the sources panel open scrolled to their highlighted quote.
  new MutationObserver(() => {
    document.querySelectorAll("#sources .src-card.cited:not([data-shown])").forEach((c) => {
      c.dataset.shown = "1";
      showMark(c);
    });
  }).observe(document.body, { childList: true, subtree: true });
}
