// The complaint's process diagram: bpmn-js viewer, current position and the path taken marked.
(function () {
  "use strict";
  function mark(viewer, body, container) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    (body.done || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "rd-done"); } });
    (body.current || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "rd-current"); } });
    // A wide pool fits too small to read: zoom in on where the complaint is now.
    var here = (body.current || []).map(function (id) { return registry.get(id); }).filter(Boolean)[0];
    window.RedressDiagram.fitOrFocus(viewer, here, { top: 120, bottom: 120, left: 200, right: 200 });
    container.dataset.current = (body.current || []).join(" ");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("process-diagram");
    if (container && window.BpmnJS) { window.RedressDiagram.open(container, mark); }
  });
})();
