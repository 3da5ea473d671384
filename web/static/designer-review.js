// Review: the active version and the draft side by side, added/removed/changed elements coloured,
// both diagrams at a readable size, zooming and scrolling together.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("diff-highlight");
    if (!source || !window.BpmnJS) { return; }
    var highlight = JSON.parse(source.textContent);
    var pairs = {};
    document.querySelectorAll(".diff-viewer").forEach(function (container) {
      var xml = JSON.parse(document.getElementById(container.dataset.source).textContent);
      var done = window.RedressDiagram.loading(container);
      var viewer = new window.BpmnJS({ container: container });
      window.RedressDiagram.controls(viewer, container);
      var pair = container.dataset.pair;
      viewer.importXML(xml).then(function () {
        done();
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        var marks = container.dataset.side === "old" ? { removed: "diff-removed", changed: "diff-changed" }
          : { added: "diff-added", changed: "diff-changed" };
        Object.keys(marks).forEach(function (what) {
          (highlight[what] || []).forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, marks[what]); }
          });
        });
        window.RedressDiagram.readable(viewer, 20);
        // Open on the first change, so the reviewer sees it without searching.
        var first = ["changed", "added", "removed"].map(function (what) { return highlight[what] || []; })
          .reduce(function (a, b) { return a.concat(b); }, []).map(function (id) { return registry.get(id); })
          .filter(Boolean)[0];
        if (first && canvas.zoom() < 0.75) { canvas.scrollToElement(first, { top: 100, bottom: 100, left: 150, right: 150 }); }
        container.dataset.ready = "true";
        if (pair) {
          pairs[pair] = (pairs[pair] || []).concat([viewer]);
          if (pairs[pair].length === 2) {
            var box = pairs[pair][1].get("canvas").viewbox();
            pairs[pair][0].get("canvas").viewbox({ x: box.x, y: box.y, width: box.width, height: box.height });
            window.RedressDiagram.synchronize(pairs[pair]);
          }
        }
      }).catch(function (err) { done(); container.textContent = err.message; container.dataset.ready = "error"; });
    });
  });
})();
