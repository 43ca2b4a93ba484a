// The only script of the staff pages, served from the application itself (no inline script: the
// Content-Security-Policy allows scripts from this origin only). It submits the language switch when a
// language is chosen, asks before a form whose button names a grave consequence is sent, and shows how far
// a long upload has got (the form names a progress URL; the server answers {stage, done, total}).
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
  var stages = {read: "读取文件", check: "逐行检查", execute: "写入登记库"};
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var line = form.querySelector("[data-progress-line]");
      if (!line) { return; }
      var poll = function () {
        fetch(form.getAttribute("data-progress"), {credentials: "same-origin"})
          .then(function (response) { return response.ok ? response.json() : {}; })
          .then(function (p) {
            if (p.stage) {
              line.textContent = (stages[p.stage] || p.stage) + (p.total ? "：" + p.done + " / " + p.total + " 行" : "…");
            }
          })
          .catch(function () {});
      };
      window.setInterval(poll, 700);
    });
  });
});
