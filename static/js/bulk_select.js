// The inspection list's "select all on this page": one checkbox ticks or clears every row's
// checkbox (they belong to the bulk form through their form attribute) and shows whether some
// or all are ticked. Without JavaScript the box stays hidden and each row is ticked alone.
// The fields for the new contractor and the new date show only for their action.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  var action = document.getElementById("bulk-action");
  var rows = Array.prototype.slice.call(
    document.querySelectorAll('input[type="checkbox"][name="ids"][form="bulk-form"]')
  );

  function showFields() {
    if (!action) return;
    var contractor = document.getElementById("bulk-contractor-field");
    var dueOn = document.getElementById("bulk-due_on-field");
    if (contractor) contractor.hidden = action.value !== "reassign";
    if (dueOn) dueOn.hidden = action.value !== "reschedule";
  }

  function showAll() {
    var ticked = rows.filter(function (box) {
      return box.checked;
    }).length;
    all.checked = rows.length > 0 && ticked === rows.length;
    all.indeterminate = ticked > 0 && ticked < rows.length;
  }

  if (action) {
    action.addEventListener("change", showFields);
    showFields();
  }
  if (!all || rows.length === 0) return;
  all.hidden = false;
  all.addEventListener("change", function () {
    rows.forEach(function (box) {
      box.checked = all.checked;
    });
    showAll();
  });
  rows.forEach(function (box) {
    box.addEventListener("change", showAll);
  });
  showAll();
})();
