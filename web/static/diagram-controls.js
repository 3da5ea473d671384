// Controls every diagram on our pages shares (designer, review, complaint file): zoom in and out,
// fit, actual size, full screen; a readable first view instead of a whole pool shrunk to fit;
// a loading indicator; and, in the review, two diagrams that zoom and scroll together.
(function () {
  "use strict";

  var zh = (document.documentElement.lang || "zh").toLowerCase().indexOf("en") !== 0;
  function t(zhText, enText) { return zh ? zhText : enText; }
  var READABLE = 0.75;  // below this zoom, task names cannot be read

  function button(label, title, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-light btn-sm border";
    b.textContent = label;
    b.title = title;
    b.setAttribute("aria-label", title);
    b.addEventListener("click", action);
    return b;
  }

  // Wrap the container so the toolbar and full screen have a frame; returns the wrapper.
  function frame(container) {
    if (container.parentNode && container.parentNode.classList.contains("rd-diagram-frame")) { return container.parentNode; }
    var wrapper = document.createElement("div");
    wrapper.className = "rd-diagram-frame";
    container.parentNode.insertBefore(wrapper, container);
    wrapper.appendChild(container);
    return wrapper;
  }

  function controls(viewer, container) {
    var canvas = viewer.get("canvas");
    var wrapper = frame(container);
    var bar = document.createElement("div");
    bar.className = "rd-diagram-toolbar btn-group-vertical";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", t("图缩放", "Diagram zoom"));
    var step = function (factor) { canvas.zoom(Math.min(4, Math.max(0.2, canvas.zoom() * factor))); };
    bar.appendChild(button("+", t("放大", "Zoom in"), function () { step(1.25); }));
    bar.appendChild(button("−", t("缩小", "Zoom out"), function () { step(0.8); }));
    bar.appendChild(button("⤢", t("适应窗口", "Fit to window"), function () { canvas.zoom("fit-viewport", "auto"); }));
    bar.appendChild(button("1:1", t("实际大小", "Actual size"), function () { canvas.zoom(1); }));
    if (wrapper.requestFullscreen) {
      bar.appendChild(button(t("全屏", "Full"), t("全屏", "Full screen"), function () {
        if (document.fullscreenElement) { document.exitFullscreen(); } else { wrapper.requestFullscreen(); }
      }));
      document.addEventListener("fullscreenchange", function () { canvas.resized(); });
    }
    wrapper.appendChild(bar);
    return bar;
  }

  // The first view: the whole diagram when that is readable, otherwise its start at a readable
  // size, left clear of `leftInset` pixels (the modeler's tool palette).
  function readable(viewer, leftInset) {
    var canvas = viewer.get("canvas");
    canvas.zoom("fit-viewport");
    if (canvas.zoom() >= READABLE) { return; }
    var box = canvas.viewbox();
    var inner = box.inner;
    var scale = 0.9;
    var width = box.outer.width / scale;
    var height = box.outer.height / scale;
    canvas.viewbox({ x: inner.x - (leftInset || 20) / scale, y: inner.y - 20 / scale, width: width, height: height });
  }

  function loading(container) {
    var spinner = document.createElement("div");
    spinner.className = "rd-diagram-loading";
    spinner.setAttribute("role", "status");
    spinner.innerHTML = '<span class="spinner-border spinner-border-sm me-2" aria-hidden="true"></span>';
    spinner.appendChild(document.createTextNode(t("正在加载流程图…", "Loading the diagram…")));
    container.appendChild(spinner);
    return function done() { if (spinner.parentNode) { spinner.parentNode.removeChild(spinner); } };
  }

  // Keep several viewers on the same view box: the reviewer compares the same spot on both sides.
  function synchronize(viewers) {
    var busy = false;
    viewers.forEach(function (source) {
      source.on("canvas.viewbox.changed", function (event) {
        if (busy) { return; }
        busy = true;
        var box = event.viewbox;
        viewers.forEach(function (target) {
          if (target !== source) {
            target.get("canvas").viewbox({ x: box.x, y: box.y, width: box.width, height: box.height });
          }
        });
        busy = false;
      });
    });
  }

  // Fetch a page's diagram (JSON with `xml`, from the container's data-source) into a viewer with
  // the controls; `onReady(viewer, body, container)` marks it up. data-ready says "true" when shown, "error" when not
  // (the container's data-error text is shown instead).
  function open(container, onReady) {
    var done = loading(container);
    fetch(container.dataset.source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) {
        if (!body.xml) { throw new Error("no diagram"); }
        var viewer = new window.BpmnJS({ container: container });
        controls(viewer, container);
        return viewer.importXML(body.xml).then(function () {
          done();
          onReady(viewer, body, container);
          container.dataset.ready = "true";
        });
      })
      .catch(function () {
        done();
        container.textContent = container.dataset.error;
        container.dataset.ready = "error";
      });
  }

  // Fit the diagram; when a wide pool fits too small to read, zoom in on `element` instead.
  function fitOrFocus(viewer, element, padding) {
    var canvas = viewer.get("canvas");
    canvas.zoom("fit-viewport");
    if (element && canvas.zoom() < 0.6) {
      canvas.zoom(0.8);
      canvas.scrollToElement(element, padding);
    }
  }

  window.RedressDiagram = {
    controls: controls, readable: readable, loading: loading, synchronize: synchronize, open: open, fitOrFocus: fitOrFocus,
  };
})();
