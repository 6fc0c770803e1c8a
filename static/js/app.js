// Every page: on a narrow screen the lists' filter forms fold away when no filter is in use,
// so that the list comes first (templates/_filters.html, filter_box). Without script they
// stay open, as served.
(function () {
  "use strict";
  if (!window.matchMedia || !window.matchMedia("(max-width: 599.98px)").matches) return;
  document.querySelectorAll("details.filter-box[data-active='0']").forEach(function (box) {
    box.open = false;
  });
})();

// Every page: what inline handlers would do, which the Content-Security-Policy refuses
// (core/security.py). A form with data-confirm asks first (before the form's own handlers;
// "Cancel" stops them too); a button with data-print prints the page; a field with
// data-select-all selects its text when clicked (an address to copy).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) return;
    if (target.closest("[data-print]")) {
      window.print();
    } else if (target.matches("[data-select-all]")) {
      target.select();
    }
  });
})();
