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
