// After a rejected submit, move the keyboard focus to the list of problems (it links to each field).
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var summary = document.getElementById("form-errors");
  if (summary) { summary.focus(); }
});
