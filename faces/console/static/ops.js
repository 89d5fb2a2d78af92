// GovHub ops console: the one piece of script. Every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // "Select all" ticks every dead letter on the page.
  for (const all of document.querySelectorAll("input.select-all")) {
    all.addEventListener("change", () => {
      for (const box of all.form.querySelectorAll('input[type=checkbox][name=ids]')) {
        box.checked = all.checked;
      }
    });
  }
});
