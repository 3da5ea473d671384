// Review: the active version and the draft side by side, added/removed/changed elements coloured.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("diff-highlight");
    if (!source || !window.BpmnJS) { return; }
    var highlight = JSON.parse(source.textContent);
    document.querySelectorAll(".diff-viewer").forEach(function (container) {
      var xml = JSON.parse(document.getElementById(container.dataset.source).textContent);
      var viewer = new window.BpmnJS({ container: container });
      viewer.importXML(xml).then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        var marks = container.dataset.side === "old" ? { removed: "diff-removed", changed: "diff-changed" }
          : { added: "diff-added", changed: "diff-changed" };
        Object.keys(marks).forEach(function (what) {
          (highlight[what] || []).forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, marks[what]); }
          });
        });
        canvas.zoom("fit-viewport");
        container.dataset.ready = "true";
      }).catch(function (err) { container.textContent = err.message; container.dataset.ready = "error"; });
    });
  });
})();
