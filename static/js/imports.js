// The Imports page: the upload's progress, then "checking" while the server reads every row;
// the confirmation's "importing". Without this script the forms post as they are.
(function () {
  "use strict";

  function showProgress(form) {
    var box = form.querySelector(".import-progress") ||
      (form.parentNode && form.parentNode.querySelector(".import-progress"));
    if (box) box.hidden = false;
    return box;
  }

  function setText(box, key, percent) {
    var text = box.querySelector(".import-progress-text");
    if (text) text.textContent = text.dataset[key].replace("{percent}", percent);
  }

  function upload(form) {
    var box = showProgress(form);
    var bar = box.querySelector("progress");
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      var percent = Math.round((100 * event.loaded) / event.total);
      bar.value = percent;
      setText(box, "uploading", percent);
    });
    request.upload.addEventListener("load", function () {
      bar.removeAttribute("value"); // indeterminate while the server checks
      setText(box, "checking", 100);
    });
    request.addEventListener("load", function () {
      if (request.responseURL && request.responseURL !== form.action) {
        window.location.assign(request.responseURL); // the preview of a good file
        return;
      }
      // A refused file: the page the server answered, as a plain post would show it.
      document.open();
      document.write(request.responseText);
      document.close();
    });
    request.addEventListener("error", function () {
      button.disabled = false;
      box.hidden = true;
      form.submit();
    });
    request.send(new FormData(form));
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList.contains("import-upload") && window.FormData) {
      event.preventDefault();
      upload(form);
    } else if (form.classList.contains("import-apply")) {
      showProgress(form);
      form.querySelector("button[type=submit]").disabled = true;
    }
  });
})();
