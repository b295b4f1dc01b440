// The cache dashboard: actions that change state ask first (forms with data-confirm).
"use strict";
document.addEventListener("submit", function (event) {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
