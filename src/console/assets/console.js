// The console's own script (the Content-Security-Policy allows no inline script): the copy
// buttons beside a secret. Without JavaScript the secret stays in a read-only field to select.
"use strict";
function showCopyButtons(root) {
  for (const button of root.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
  }
}
document.addEventListener("DOMContentLoaded", () => showCopyButtons(document));
document.addEventListener("htmx:afterSettle", (event) => showCopyButtons(event.target));
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) {
    return;
  }
  const field = document.getElementById(button.dataset.copy);
  const copied = () => { button.textContent = "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(copied);
  } else {
    field.select();
    if (document.execCommand("copy")) {
      copied();
    }
  }
});
