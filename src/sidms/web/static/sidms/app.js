// The only script of the staff pages, served from the application itself (no inline script: the
// Content-Security-Policy allows scripts from this origin only). It submits the language switch when a
// language is chosen, and asks before a form whose button names a grave consequence is sent.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  document.querySelectorAll(".js-hidden").forEach(function (el) { el.hidden = true; });
  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
});
