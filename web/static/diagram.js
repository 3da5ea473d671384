// The complaint's process diagram: bpmn-js viewer, current position and the path taken marked.
(function () {
  "use strict";
  function show(container) {
    var done = window.RedressDiagram.loading(container);
    fetch(container.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) {
        if (!body.xml) { throw new Error("no diagram"); }
        var viewer = new window.BpmnJS({ container: container });
        window.RedressDiagram.controls(viewer, container);
        return viewer.importXML(body.xml).then(function () {
          done();
          var canvas = viewer.get("canvas");
          var registry = viewer.get("elementRegistry");
          (body.done || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "rd-done"); } });
          (body.current || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "rd-current"); } });
          canvas.zoom("fit-viewport");
          // A wide pool fits too small to read: zoom in on where the complaint is now.
          var here = (body.current || []).map(function (id) { return registry.get(id); }).filter(Boolean)[0];
          if (here && canvas.zoom() < 0.6) {
            canvas.zoom(0.8);
            canvas.scrollToElement(here, { top: 120, bottom: 120, left: 200, right: 200 });
          }
          container.dataset.ready = "true";
          container.dataset.current = (body.current || []).join(" ");
        });
      })
      .catch(function () {
        done();
        container.textContent = container.dataset.error;
        container.dataset.ready = "error";
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("process-diagram");
    if (container && window.BpmnJS) { show(container); }
  });
})();
