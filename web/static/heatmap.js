// The process heatmap: the complaint process diagram (bpmn-js) with each task coloured by its
// share of all the waiting, a badge with how often it was reached and its median wait, and the
// bottlenecks outlined. The figures are the tables' below (GET …/heatmap.json).
(function () {
  "use strict";
  function minutes(m) {
    if (m === null || m === undefined) { return "—"; }
    var zh = (document.documentElement.lang || "zh").toLowerCase().indexOf("en") !== 0;
    if (m < 120) { return m + (zh ? " 分钟" : " min"); }
    if (m < 2880) { return (Math.round(m / 6) / 10) + (zh ? " 小时" : " h"); }
    return (Math.round(m / 144) / 10) + (zh ? " 天" : " days");
  }
  function level(share, top) {
    if (!share || !top) { return 0; }
    return Math.min(5, Math.max(1, Math.ceil((share / top) * 5)));
  }
  function colour(viewer, body, container) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    var top = Math.max.apply(null, body.elements.map(function (e) { return e.share || 0; }).concat([0]));
    var shown = [];
    body.elements.forEach(function (e) {
      if (!registry.get(e.element)) { return; }
      canvas.addMarker(e.element, "rd-heat-" + level(e.share, top));
      if (e.bottleneck) { canvas.addMarker(e.element, "rd-bottleneck"); }
      var badge = document.createElement("div");
      badge.className = "rd-heat-badge";
      badge.textContent = e.count + " · " + container.dataset.labelMedian + " " + minutes(e.median_minutes);
      if (e.open) { badge.textContent += " · " + e.open + " " + container.dataset.labelOpen; }
      overlays.add(e.element, { position: { bottom: -4, left: 0 }, html: badge });
      shown.push(e.element);
    });
    // A wide pool fits too small to read: zoom in on the worst bottleneck.
    var worst = registry.get((body.bottlenecks || [])[0]);
    window.RedressDiagram.fitOrFocus(viewer, worst, { top: 150, bottom: 150, left: 300, right: 300 });
    container.dataset.coloured = shown.join(" ");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("heatmap-diagram");
    if (container && window.BpmnJS) { window.RedressDiagram.open(container, colour); }
  });
})();
