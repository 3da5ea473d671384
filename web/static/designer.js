// The process designer: bpmn-js / dmn-js modelers, a properties form for what our runtime
// reads (lane, form, handler, SLA timer, script, condition), a form editor with live
// preview, save with a version check, the validation list with element highlight, test runs.
(function () {
  "use strict";

  var SPIFF = "spiffworkflow:";
  var config = JSON.parse(document.getElementById("designer-config").textContent);
  var draft = config.draft;
  var zh = config.language !== "en";
  function t(zhText, enText) { return zh ? zhText : enText; }
  function csrfToken() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "className") { node.className = attrs[key]; }
      else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  var state = {
    files: Object.assign({}, draft.files),
    version: draft.version,
    current: null,
    dirty: false,
    report: draft.report || null,
    pendingHighlight: null
  };

  var bpmnContainer = document.getElementById("bpmn-canvas");
  var dmnContainer = document.getElementById("dmn-canvas");
  var formEditor = document.getElementById("form-editor");
  var formSource = document.getElementById("form-source");
  var bpmn = new window.BpmnJS({ container: bpmnContainer, moddleExtensions: { spiffworkflow: window.SPIFF_MODDLE } });
  window.RedressDiagram.controls(bpmn, bpmnContainer);
  var dmn = new window.DmnJS({ container: dmnContainer });

  function markDirty() {
    if (state.importing) { return; }
    state.dirty = true;
    state.editorDirty = true;
    document.getElementById("dirty-flag").classList.remove("d-none");
  }
  bpmn.on("commandStack.changed", markDirty);
  dmn.on("views.changed", function () {
    var viewer = dmn.getActiveViewer();
    if (viewer && !viewer.__redressWatched) {
      viewer.__redressWatched = true;
      viewer.get("eventBus").on("elements.changed", markDirty);
    }
  });

  // -- files ---------------------------------------------------------------------

  function kindOf(path) {
    if (/\.bpmn$/.test(path)) { return "bpmn"; }
    if (/\.dmn$/.test(path)) { return "dmn"; }
    return "form";
  }

  var GROUPS = [["bpmn", "流程(BPMN)", "Processes (BPMN)"], ["dmn", "决策表(DMN)", "Decision tables (DMN)"],
                ["form", "表单", "Forms"]];

  function renderFileList() {
    var list = document.getElementById("file-list");
    list.innerHTML = "";
    var paths = Object.keys(state.files).sort();
    GROUPS.forEach(function (group) {
      var inGroup = paths.filter(function (path) { return kindOf(path) === group[0]; });
      if (!inGroup.length) { return; }
      list.appendChild(el("div", { className: "file-group", text: t(group[1], group[2]) }));
      inGroup.forEach(function (path) {
        var name = path.split("/").pop().replace(/\.(bpmn|dmn|json)$/, "");  // the group names the kind
        var item = el("button", { type: "button", className: "list-group-item list-group-item-action file-item" +
          (path === state.current ? " active" : ""), "data-path": path, title: path, text: name });
        item.addEventListener("click", function () { openFile(path); });
        var link = el("a", { className: "file-download", text: "⬇", title: t("下载 ", "Download ") + path,
          "aria-label": t("下载 ", "Download ") + path });
        link.href = window.location.pathname.replace(/\/$/, "") + "/files/" + path;
        list.appendChild(el("div", { className: "file-row" }, [item, link]));
      });
    });
  }

  // Write what the open editor holds back into state.files; an untouched file keeps its exact text.
  function flush() {
    var path = state.current;
    if (!path || !state.editorDirty) { return Promise.resolve(); }
    state.editorDirty = false;
    var kind = kindOf(path);
    if (kind === "bpmn") {
      return bpmn.saveXML({ format: true }).then(function (r) { state.files[path] = r.xml; });
    }
    if (kind === "dmn") {
      return dmn.saveXML({ format: true }).then(function (r) { state.files[path] = r.xml; });
    }
    state.files[path] = formSource.value;
    return Promise.resolve();
  }

  function show(kind) {
    bpmnContainer.classList.toggle("d-none", kind !== "bpmn");
    bpmnContainer.parentNode.classList.toggle("d-none", kind !== "bpmn");  // its frame and zoom toolbar
    dmnContainer.classList.toggle("d-none", kind !== "dmn");
    formEditor.classList.toggle("d-none", kind !== "form");
  }

  function openFile(path) {
    return flush().then(function () {
      state.current = path;
      state.editorDirty = false;
      state.importing = true;
      renderFileList();
      document.getElementById("editor-title").textContent = path;
      var kind = kindOf(path);
      show(kind);
      document.getElementById("properties").innerHTML = "";
      if (kind === "bpmn") {
        return bpmn.importXML(state.files[path]).then(function () {
          window.RedressDiagram.readable(bpmn, 110);  // clear of the tool palette
          bpmnContainer.dataset.ready = path;
        }).catch(function (err) { showMessage("danger", t("无法打开此 BPMN 文件:", "Cannot open this BPMN file: ") + err.message); });
      }
      if (kind === "dmn") {
        return dmn.importXML(state.files[path]).then(function () {
          var table = dmn.getViews().filter(function (v) { return v.type === "decisionTable"; })[0];
          return table ? dmn.open(table) : null;
        }).then(function () { dmnContainer.dataset.ready = path; })
          .catch(function (err) { showMessage("danger", t("无法打开此 DMN 文件:", "Cannot open this DMN file: ") + err.message); });
      }
      formSource.value = state.files[path];
      fieldsEditor.load(formSource.value);
      renderPreview();
      return null;
    }).then(function () {
      state.importing = false;
      applyPendingHighlight();
    });
  }

  // -- messages and validation ------------------------------------------------------

  function showMessage(kind, text) {
    var box = document.getElementById("save-message");
    box.className = "alert alert-" + kind;
    box.textContent = text;
  }

  function renderFindings(report) {
    state.report = report;
    var box = document.getElementById("findings");
    var count = document.getElementById("findings-count");
    box.innerHTML = "";
    if (!report) { return; }
    count.textContent = report.errors + " / " + report.warnings;
    count.className = "badge " + (report.errors ? "bg-danger" : report.warnings ? "bg-warning text-dark" : "bg-success");
    var summary = el("p", { className: "mb-2", id: "findings-summary",
      text: report.errors ? t("有 " + report.errors + " 个错误,修正后才能提交。", report.errors + " error(s): fix them before submitting.")
        : t("没有错误,可以提交。", "No errors: the draft can be submitted.") });
    box.appendChild(summary);
    var list = el("ul", { className: "list-group findings" });
    (report.findings || []).forEach(function (f) {
      var badge = el("span", { className: "badge me-1 " + (f.severity === "error" ? "bg-danger" : "bg-warning text-dark"),
        text: f.severity === "error" ? t("错误", "error") : t("警告", "warning") });
      var where = el("code", { text: (f.file || "") + (f.element_id ? " · " + f.element_id : "") + (f.line ? " · L" + f.line : "") });
      var message = el("div", { text: (f.message && (f.message[zh ? "zh-CN" : "en"] || f.message.en)) || f.code });
      var item = el("li", { className: "list-group-item finding finding-" + f.severity, tabindex: "0",
        "data-element": f.element_id || "", "data-file": f.file || "", "data-code": f.code }, [badge, where, message]);
      item.addEventListener("click", function () { highlight(f.file, f.element_id); });
      item.addEventListener("keydown", function (e) { if (e.key === "Enter") { highlight(f.file, f.element_id); } });
      list.appendChild(item);
    });
    box.appendChild(list);
    var failing = renderScenarioSuite(report.scenarios || []);
    var submit = document.getElementById("submit-draft");
    if (submit) { submit.disabled = !!report.errors || failing > 0; }
  }

  // The scenario suite runs on every save; a failing scenario blocks the submission as an error does.
  function renderScenarioSuite(results) {
    var box = document.getElementById("scenario-suite");
    if (!box) { return 0; }
    box.innerHTML = "";
    var failing = results.filter(function (r) { return !r.passed; }).length;
    if (!results.length) { return 0; }
    box.appendChild(el("p", { className: "mb-1 " + (failing ? "text-danger" : "text-success"), id: "suite-summary",
      text: failing ? t(failing + " 个测试场景未通过,修正后才能提交。", failing + " test scenario(s) fail: fix them before submitting.")
        : t("全部 " + results.length + " 个测试场景通过。", "All " + results.length + " test scenarios pass.") }));
    var list = el("ul", { className: "list-unstyled mb-0", id: "suite-results" });
    results.forEach(function (r) {
      var lang = zh ? "zh-CN" : "en";
      var stops = (r.stopped_at || []).map(function (s) { return (!zh && s.name_en) || s.name; }).join(zh ? "、" : ", ");
      var item = el("li", { className: "mb-1 scenario-" + (r.passed ? "pass" : "fail"), "data-scenario": r.id }, [
        el("span", { className: "badge me-1 " + (r.passed ? "bg-success" : "bg-danger"), text: r.passed ? t("通过", "pass") : t("未通过", "fail") }),
        el("span", { text: (r.name && (r.name[lang] || r.name.en)) || r.id }),
        el("div", { className: "text-muted", text: t("停在:", "Stopped at: ") + (stops || t("流程结束", "the end of the process")) })
      ]);
      (r.problems || []).forEach(function (p) { item.appendChild(el("div", { className: "text-danger", text: p[lang] || p.en })); });
      list.appendChild(item);
    });
    box.appendChild(list);
    return failing;
  }

  function highlight(file, elementId) {
    state.pendingHighlight = { file: file, element: elementId };
    if (file && file !== state.current && state.files[file] !== undefined) {
      openFile(file);
    } else {
      applyPendingHighlight();
    }
  }

  function applyPendingHighlight() {
    var wanted = state.pendingHighlight;
    if (!wanted || !wanted.element) { return; }
    state.pendingHighlight = null;
    var kind = kindOf(state.current || "");
    if (kind === "bpmn") {
      var registry = bpmn.get("elementRegistry");
      var canvas = bpmn.get("canvas");
      registry.getAll().forEach(function (e) { canvas.removeMarker(e, "finding-highlight"); });
      var element = registry.get(wanted.element);
      if (!element) { return; }
      canvas.addMarker(element, "finding-highlight");
      bpmn.get("selection").select(element);
      try { canvas.scrollToElement(element); } catch (e) { /* older diagram-js */ }
    } else if (kind === "dmn") {
      document.querySelectorAll("#dmn-canvas .finding-highlight").forEach(function (c) { c.classList.remove("finding-highlight"); });
      var cell = dmnContainer.querySelector('[data-element-id="' + wanted.element + '"]') ||
        dmnContainer.querySelector('[data-row-id="' + wanted.element + '"]');
      if (cell) { cell.classList.add("finding-highlight"); cell.scrollIntoView({ block: "center" }); }
    }
  }

  // -- save ------------------------------------------------------------------------

  function save() {
    var button = document.getElementById("save-draft");
    button.disabled = true;
    return flush().then(function () {
      return fetch(config.urls.save, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
        body: JSON.stringify({ version: state.version, files: state.files })
      });
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (result) {
      if (result.status === 200) {
        state.version = result.body.version;
        document.getElementById("draft-version").textContent = state.version;
        var uploadVersion = document.getElementById("upload-version");
        if (uploadVersion) { uploadVersion.value = state.version; }
        state.dirty = false;
        document.getElementById("dirty-flag").classList.add("d-none");
        renderFindings(result.body.report);
        showMessage(result.body.report.errors ? "warning" : "success", result.body.report.errors
          ? t("已保存;有 " + result.body.report.errors + " 个错误需要修正。", "Saved; " + result.body.report.errors + " error(s) to fix.")
          : t("已保存,校验通过。", "Saved; validation passed."));
        if (result.body.report.errors) { showFindingsTab(); }
      } else if (result.status === 409) {
        showMessage("danger", result.body.error);
      } else if (result.body.report) {
        renderFindings(result.body.report);
        showFindingsTab();
        showMessage("danger", t("文件被拒绝,草稿未更改。", "The files were refused; the draft was not changed."));
      } else {
        showMessage("danger", result.body.error || ("HTTP " + result.status));
      }
    }).catch(function (err) {
      showMessage("danger", t("保存失败:", "Saving failed: ") + err.message);
    }).then(function () { button.disabled = false; });
  }

  function showFindingsTab() {
    var tab = document.getElementById("tab-findings");
    if (tab && window.bootstrap) { window.bootstrap.Tab.getOrCreateInstance(tab).show(); }
  }

  // -- BPMN properties form ------------------------------------------------------

  function extensionValues(bo) {
    return (bo.extensionElements && bo.extensionElements.values) || [];
  }
  function findExtension(bo, type) {
    return extensionValues(bo).filter(function (v) { return v.$type === type; })[0];
  }
  function spiffProperty(bo, name) {
    var props = findExtension(bo, SPIFF + "Properties");
    var found = props && (props.properties || []).filter(function (p) { return p.name === name; })[0];
    return found ? found.value : "";
  }
  function laneOf(element) {
    var bo = element.businessObject;
    var lanes = bpmn.get("elementRegistry").filter(function (e) { return e.type === "bpmn:Lane"; });
    var lane = lanes.filter(function (l) { return (l.businessObject.flowNodeRef || []).indexOf(bo) >= 0; })[0];
    return lane ? (lane.businessObject.id + (lane.businessObject.name ? " (" + lane.businessObject.name + ")" : "")) : "";
  }
  function timerOf(element) {
    var boundary = (element.attachers || []).filter(function (a) {
      return (a.businessObject.eventDefinitions || []).some(function (d) { return d.$type === "bpmn:TimerEventDefinition"; });
    })[0];
    return boundary || null;
  }
  function timerExpression(eventElement) {
    var definition = (eventElement.businessObject.eventDefinitions || [])[0];
    var expr = definition && (definition.timeDuration || definition.timeDate || definition.timeCycle);
    return expr ? expr.body : "";
  }

  // What each properties field showed when the element was selected: Apply writes only the fields
  // the designer changed, so nothing untouched is rewritten (a timeDate timer stays a timeDate).
  var shown = {};

  function field(label, id, value, options) {
    options = options || {};
    shown[id] = value || "";
    var input;
    if (options.choices) {
      input = el("select", { className: "form-select form-select-sm", id: id });
      [""].concat(options.choices).forEach(function (choice) {
        var option = el("option", { value: choice, text: choice || "—" });
        if (choice === value) { option.selected = true; }
        input.appendChild(option);
      });
    } else if (options.multiline) {
      input = el("textarea", { className: "form-control form-control-sm font-monospace", id: id, rows: options.rows || 4, spellcheck: "false" });
      input.value = value || "";
    } else {
      input = el("input", { className: "form-control form-control-sm", id: id, value: value || "" });
    }
    if (options.readonly || !config.editable) { input.setAttribute(options.choices ? "disabled" : "readonly", "readonly"); }
    var help = options.help ? el("div", { className: "form-text", text: options.help }) : null;
    return el("div", { className: "mb-2" }, [el("label", { className: "form-label mb-0", for: id, text: label }), input, help]);
  }

  function formFiles() {
    return Object.keys(state.files).filter(function (p) { return /\.json$/.test(p); })
      .map(function (p) { return p.split("/").pop(); });
  }

  function renderProperties(element) {
    var box = document.getElementById("properties");
    box.innerHTML = "";
    shown = {};
    if (!element || element.type === "bpmn:Process" || element.type === "bpmn:Collaboration") {
      box.appendChild(el("p", { className: "text-muted", text: t("在图中选择一个元素。", "Select an element in the diagram.") }));
      return;
    }
    var bo = element.businessObject;
    var type = element.type;
    box.appendChild(el("p", { className: "mb-1" }, [el("code", { text: type.replace("bpmn:", "") })]));
    box.appendChild(field("ID", "prop-id", bo.id, { readonly: true }));
    box.appendChild(field(t("名称(中文)", "Name (Chinese)"), "prop-name", bo.name || ""));
    box.appendChild(field(t("英文名称", "English name"), "prop-name-en", spiffProperty(bo, "name_en")));
    if (/Task$|CallActivity|SubProcess|Event$|Gateway$/.test(type)) {
      box.appendChild(field(t("泳道(部门)", "Lane (department)"), "prop-lane", laneOf(element), {
        readonly: true, help: t("把元素拖入部门泳道即可更改。", "Drag the element into a department's lane to change it.") }));
    }
    if (type === "bpmn:UserTask" || type === "bpmn:ManualTask") {
      box.appendChild(field(t("表单", "Form"), "prop-form", spiffProperty(bo, "formJsonSchemaFilename"), { choices: formFiles() }));
      box.appendChild(field(t("候选组", "Candidate group"), "prop-group", spiffProperty(bo, "candidateGroup"), { choices: ["senior", "supervisor"] }));
    }
    if (type === "bpmn:ServiceTask") {
      var operator = findExtension(bo, SPIFF + "ServiceTaskOperator");
      var params = operator && operator.parameterList ? operator.parameterList.parameters || [] : [];
      box.appendChild(field(t("处理程序", "Handler"), "prop-handler", operator ? operator.id : "", { choices: config.handlers }));
      box.appendChild(field(t("结果变量", "Result variable"), "prop-result", operator ? operator.resultVariable || "" : ""));
      box.appendChild(field(t("参数(每行 名称 = 表达式)", "Parameters (one per line: name = expression)"), "prop-params",
        params.map(function (p) { return p.id + " = " + (p.value || ""); }).join("\n"), { multiline: true }));
    }
    if (type === "bpmn:ScriptTask") {
      box.appendChild(field(t("脚本(沙箱中运行的 Python)", "Script (Python, run in the sandbox)"), "prop-script", bo.script || "", { multiline: true, rows: 8 }));
    }
    if (type === "bpmn:SequenceFlow") {
      var source = element.source && element.source.businessObject;
      box.appendChild(field(t("条件表达式", "Condition"), "prop-condition", bo.conditionExpression ? bo.conditionExpression.body : "", {
        multiline: true, rows: 3, help: source && source.default === bo ? t("这是默认连线。", "This is the default flow.") : "" }));
    }
    var timerTarget = null;
    if ((bo.eventDefinitions || []).some(function (d) { return d.$type === "bpmn:TimerEventDefinition"; })) {
      timerTarget = element;
    } else if (/Task$|CallActivity|SubProcess/.test(type)) {
      timerTarget = timerOf(element);
    }
    if (timerTarget || /UserTask|ManualTask/.test(type)) {
      box.appendChild(field(t("时限(定时器表达式,例如 \"P2D\" 或 settings[\"response_timeout\"])", "SLA timer (expression, e.g. \"P2D\" or settings[\"response_timeout\"])"),
        "prop-timer", timerTarget ? timerExpression(timerTarget) : "", {
          help: timerTarget ? "" : t("留空则不设时限;填写后会添加边界定时器和超时结束事件。", "Leave empty for none; filling it in adds a boundary timer with an end event.") }));
    }
    if (config.editable) {
      var apply = el("button", { type: "button", className: "btn btn-primary btn-sm", id: "apply-properties", text: t("应用", "Apply") });
      apply.addEventListener("click", function () { applyProperties(element, timerTarget); });
      box.appendChild(apply);
    }
  }

  function buildProperties(moddle, bo, updates) {
    var existing = findExtension(bo, SPIFF + "Properties");
    var values = {};
    ((existing && existing.properties) || []).forEach(function (p) { values[p.name] = p.value; });
    Object.keys(updates).forEach(function (key) {
      if (updates[key] === undefined) { return; }
      if (updates[key]) { values[key] = updates[key]; } else { delete values[key]; }
    });
    var names = Object.keys(values);
    if (!names.length) { return null; }
    return moddle.create(SPIFF + "Properties", { properties: names.map(function (name) {
      return moddle.create(SPIFF + "Property", { name: name, value: values[name] });
    }) });
  }

  function value(id) {
    var input = document.getElementById(id);
    return input ? input.value : undefined;
  }

  function edited(id) {
    var input = document.getElementById(id);
    return !!input && !input.readOnly && !input.disabled && input.value !== (shown[id] || "");
  }

  function serviceOperator(moddle, bo) {
    var existing = findExtension(bo, SPIFF + "ServiceTaskOperator");
    var types = {};
    ((existing && existing.parameterList && existing.parameterList.parameters) || []).forEach(function (p) { types[p.id] = p.type; });
    var parameters = (value("prop-params") || "").split("\n").map(function (line) {
      var at = line.indexOf("=");
      if (at < 0) { return null; }
      var id = line.slice(0, at).trim();
      return moddle.create(SPIFF + "Parameter", { id: id, type: types[id] || "any", value: line.slice(at + 1).trim() });
    }).filter(function (p) { return p && p.id; });
    return moddle.create(SPIFF + "ServiceTaskOperator", {
      id: value("prop-handler"), resultVariable: value("prop-result") || undefined,
      parameterList: moddle.create(SPIFF + "Parameters", { parameters: parameters })
    });
  }

  function applyProperties(element, timerTarget) {
    var modeling = bpmn.get("modeling");
    var moddle = bpmn.get("moddle");
    var bo = element.businessObject;
    var type = element.type;
    var update = {};
    if (edited("prop-name")) { update.name = value("prop-name") || undefined; }

    var propertyUpdates = {};
    [["prop-name-en", "name_en"], ["prop-form", "formJsonSchemaFilename"], ["prop-group", "candidateGroup"]]
      .forEach(function (pair) { if (edited(pair[0])) { propertyUpdates[pair[1]] = value(pair[0]); } });
    var operatorEdited = type === "bpmn:ServiceTask" && (edited("prop-handler") || edited("prop-result") || edited("prop-params"));
    if (Object.keys(propertyUpdates).length || operatorEdited) {
      // Rebuild the extension elements in their order, replacing only what was edited.
      var values = [];
      var hadProperties = false;
      extensionValues(bo).forEach(function (v) {
        if (v.$type === SPIFF + "Properties") {
          hadProperties = true;
          var props = Object.keys(propertyUpdates).length ? buildProperties(moddle, bo, propertyUpdates) : v;
          if (props) { values.push(props); }
        } else if (v.$type === SPIFF + "ServiceTaskOperator" && operatorEdited) {
          if (value("prop-handler")) { values.push(serviceOperator(moddle, bo)); }
        } else {
          values.push(v);
        }
      });
      if (!hadProperties && Object.keys(propertyUpdates).length) {
        var created = buildProperties(moddle, bo, propertyUpdates);
        if (created) { values.unshift(created); }
      }
      if (operatorEdited && !findExtension(bo, SPIFF + "ServiceTaskOperator") && value("prop-handler")) {
        values.push(serviceOperator(moddle, bo));
      }
      update.extensionElements = values.length ? moddle.create("bpmn:ExtensionElements", { values: values }) : undefined;
    }
    if (type === "bpmn:ScriptTask" && edited("prop-script")) {
      update.script = value("prop-script");
      update.scriptFormat = bo.scriptFormat || "python";
    }
    if (type === "bpmn:SequenceFlow" && edited("prop-condition")) {
      var condition = (value("prop-condition") || "").trim();
      var before = bo.conditionExpression;
      update.conditionExpression = condition ? moddle.create("bpmn:FormalExpression",
        before && before.language ? { body: condition, language: before.language } : { body: condition }) : undefined;
    }
    if (Object.keys(update).length) { modeling.updateProperties(element, update); }
    var timer = (value("prop-timer") || "").trim();
    if (timerTarget && timer && edited("prop-timer")) {
      // The same kind of timer as before (date, duration or cycle), with the new expression.
      var definition = timerTarget.businessObject.eventDefinitions[0];
      var kind = ["timeDate", "timeCycle", "timeDuration"].filter(function (k) { return definition[k]; })[0] || "timeDuration";
      var changes = {};
      changes[kind] = moddle.create("bpmn:FormalExpression", { body: timer });
      modeling.updateModdleProperties(timerTarget, definition, changes);
    } else if (!timerTarget && timer) {
      addSlaTimer(element, timer);
    }
    renderProperties(bpmn.get("elementRegistry").get(element.id));
  }

  function addSlaTimer(task, expression) {
    var modeling = bpmn.get("modeling");
    var factory = bpmn.get("elementFactory");
    var moddle = bpmn.get("moddle");
    var boundary = factory.createShape({ type: "bpmn:BoundaryEvent", eventDefinitionType: "bpmn:TimerEventDefinition" });
    boundary.businessObject.cancelActivity = false;
    var created = modeling.createShape(boundary, { x: task.x + task.width / 2, y: task.y + task.height }, task, { attach: true });
    var definition = created.businessObject.eventDefinitions[0];
    modeling.updateModdleProperties(created, definition, { timeDuration: moddle.create("bpmn:FormalExpression", { body: expression }) });
    modeling.updateProperties(created, { name: t("时限", "SLA") });
    modeling.appendShape(created, { type: "bpmn:EndEvent" }, { x: created.x + 18, y: created.y + 90 });
  }

  bpmn.on("selection.changed", function (event) {
    renderProperties(event.newSelection[0] || null);
  });

  // -- forms: JSON Schema editor with a live preview --------------------------------

  function label(spec, name) {
    var ui = (spec && spec["x-ui"]) || {};
    var text = ui.label;
    if (text && typeof text === "object") { return text[zh ? "zh-CN" : "en"] || text.en || name; }
    return text || spec.title || name;
  }

  function renderPreview() {
    var preview = document.getElementById("form-preview");
    var error = document.getElementById("form-source-error");
    preview.innerHTML = "";
    error.textContent = "";
    var schema;
    try { schema = JSON.parse(formSource.value); } catch (e) {
      error.textContent = t("JSON 有误:", "Invalid JSON: ") + e.message;
      return;
    }
    var ui = schema["x-ui"] || {};
    var title = ui.title && typeof ui.title === "object" ? ui.title[zh ? "zh-CN" : "en"] : (ui.title || schema.title);
    if (title) { preview.appendChild(el("h3", { className: "h6", text: title })); }
    var props = schema.properties || {};
    var order = (ui.order || []).concat(Object.keys(props).filter(function (k) { return (ui.order || []).indexOf(k) < 0; }));
    var required = schema.required || [];
    order.forEach(function (name) {
      var spec = props[name];
      if (!spec) { return; }
      var widget = (spec["x-ui"] || {}).widget || (spec.enum ? "select" : spec.type === "boolean" ? "checkbox" : spec.type === "number" || spec.type === "integer" ? "number" : "text");
      var id = "preview-" + name;
      var labels = (spec["x-ui"] || {}).enum_labels || {};
      var optionText = function (v) { var l = labels[v]; return l && typeof l === "object" ? (l[zh ? "zh-CN" : "en"] || v) : v; };
      var input;
      if (widget === "textarea") { input = el("textarea", { className: "form-control form-control-sm", id: id, rows: "3" }); }
      else if (widget === "select" || widget === "radio") {
        input = el("select", { className: "form-select form-select-sm", id: id });
        (spec.enum || []).forEach(function (v) { input.appendChild(el("option", { value: v, text: optionText(v) })); });
      } else if (widget === "checkbox") { input = el("input", { type: "checkbox", className: "form-check-input ms-1", id: id }); }
      else { input = el("input", { className: "form-control form-control-sm", id: id,
        type: widget === "number" || widget === "money" ? "number" : widget === "date" ? "date" : "text" }); }
      var text = label(spec, name) + (required.indexOf(name) >= 0 ? " *" : "");
      preview.appendChild(el("div", { className: "mb-2" }, [el("label", { className: "form-label mb-0", for: id, text: text }), input]));
    });
  }
  var previewTimer = null;
  var fieldsEditor = window.RedressFormEditor.create({
    container: document.getElementById("form-fields-editor"), t: t, el: el, editable: config.editable,
    onChange: function (text) { formSource.value = text; markDirty(); renderPreview(); }
  });
  formSource.addEventListener("input", function () {
    markDirty();
    clearTimeout(previewTimer);
    previewTimer = setTimeout(function () { renderPreview(); fieldsEditor.load(formSource.value); }, 200);
  });

  var newForm = document.getElementById("new-form");
  if (newForm) {
    newForm.addEventListener("click", function () {
      var name = document.getElementById("new-form-name").value.trim();
      if (!/^[\w\-.]+\.json$/.test(name)) { showMessage("danger", t("表单文件名须以 .json 结尾,只含字母、数字、-、_。", "A form name ends in .json and uses letters, digits, - and _ only.")); return; }
      var path = "forms/" + name;
      if (state.files[path] === undefined) {
        state.files[path] = JSON.stringify({ "$schema": "https://json-schema.org/draft/2020-12/schema", type: "object",
          "x-ui": { title: { "zh-CN": "新表单", en: "New form" } }, required: [],
          properties: { note: { type: "string", "x-ui": { widget: "textarea", label: { "zh-CN": "备注", en: "Note" } } } } }, null, 2);
        markDirty();
      }
      openFile(path);
    });
  }

  // A new decision table from scratch: one input, one output, one rule, ready to edit in dmn-js.
  function newDecisionXml(id) {
    return '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Definitions_' + id + '" name="' + id +
      '" namespace="https://redress.example/dmn">\n' +
      '  <decision id="' + id + '" name="' + id + '">\n' +
      '    <decisionTable id="DecisionTable_' + id + '" hitPolicy="FIRST">\n' +
      '      <input id="Input_' + id + '_1" label="' + t("输入", "Input") + '">\n' +
      '        <inputExpression id="InputExpression_' + id + '_1" typeRef="string"><text>category</text></inputExpression>\n' +
      '      </input>\n' +
      '      <output id="Output_' + id + '_1" label="' + t("结果", "Result") + '" name="result" typeRef="string"/>\n' +
      '      <rule id="Rule_' + id + '_1">\n' +
      '        <inputEntry id="InputEntry_' + id + '_1_1"><text>"other"</text></inputEntry>\n' +
      '        <outputEntry id="OutputEntry_' + id + '_1_1"><text>"default"</text></outputEntry>\n' +
      '      </rule>\n' +
      '    </decisionTable>\n' +
      '  </decision>\n' +
      '</definitions>\n';
  }

  var newDmn = document.getElementById("new-dmn");
  if (newDmn) {
    newDmn.addEventListener("click", function () {
      var id = document.getElementById("new-dmn-name").value.trim();
      if (!/^[a-z][a-z0-9_]{0,63}$/.test(id)) {
        showMessage("danger", t("决策表名须以小写字母开头,只含小写字母、数字和下划线。", "A decision table name starts with a lower-case letter and has only lower-case letters, digits and _."));
        return;
      }
      var path = "bpmn/" + id + ".dmn";
      if (state.files[path] === undefined) { state.files[path] = newDecisionXml(id); markDirty(); }
      openFile(path);
    });
  }

  // -- test runs ------------------------------------------------------------------

  function renderScenarios() {
    var select = document.getElementById("scenario-select");
    select.appendChild(el("option", { value: "", text: t("(使用下方粘贴的场景)", "(use the scenario pasted below)") }));
    (config.scenarios || []).forEach(function (sc) {
      if (sc.process && draft.process_key && sc.process !== draft.process_key) { return; }
      select.appendChild(el("option", { value: sc.id, text: sc.label }));
    });
    // A built-in scenario is shown in the box, where the designer can read and adapt it.
    select.addEventListener("change", function () {
      var chosen = (config.scenarios || []).filter(function (sc) { return sc.id === select.value; })[0];
      document.getElementById("scenario-json").value = chosen ? chosen.json : "";
    });
  }

  function runTest() {
    var result = document.getElementById("test-result");
    result.textContent = t("运行中…", "Running…");
    var payload = {};
    var pasted = document.getElementById("scenario-json").value.trim();
    if (pasted) { payload.scenario = pasted; } else { payload.scenario_id = document.getElementById("scenario-select").value; }
    var save_ = state.dirty && config.editable ? save() : Promise.resolve();
    save_.then(function () {
      return fetch(config.urls.test_run, { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
        body: JSON.stringify(payload) });
    }).then(function (r) { return r.json(); }).then(function (body) {
      result.innerHTML = "";
      if (body.error && !body.path) { result.appendChild(el("div", { className: "text-danger", text: body.error })); return; }
      var outcome = { completed: t("流程走完", "completed"), waiting: t("停在等待处", "stopped, waiting"), error: t("出错", "error") }[body.outcome] || body.outcome;
      result.appendChild(el("p", { id: "test-outcome", "data-outcome": body.outcome }, [el("strong", { text: t("结果:", "Outcome: ") + outcome })]));
      if (body.error) { result.appendChild(el("p", { className: "text-danger", text: body.error })); }
      var path = el("ol", { id: "test-path" });
      var named = function (s) { return (!zh && s.name_en) || s.name; };
      (body.path || []).forEach(function (step) { path.appendChild(el("li", { "data-bpmn-id": step.bpmn_id, text: named(step) + (step.lane ? " · " + step.lane : "") })); });
      result.appendChild(el("div", { text: t("经过的步骤:", "Path taken:") }));
      result.appendChild(path);
      var stops = el("ul", { id: "test-stops" });
      (body.stopped_at || []).forEach(function (s) { stops.appendChild(el("li", { "data-bpmn-id": s.bpmn_id, text: named(s) + " (" + s.waits_for + (s.lane ? ", " + s.lane : "") + ")" })); });
      if ((body.stopped_at || []).length) { result.appendChild(el("div", { text: t("停在:", "Stopped at:") })); result.appendChild(stops); }
      if (kindOf(state.current || "") === "bpmn") {
        var registry = bpmn.get("elementRegistry");
        var canvas = bpmn.get("canvas");
        registry.getAll().forEach(function (e) { canvas.removeMarker(e, "testrun-path"); canvas.removeMarker(e, "testrun-stop"); });
        (body.path || []).forEach(function (s) { if (registry.get(s.bpmn_id)) { canvas.addMarker(s.bpmn_id, "testrun-path"); } });
        (body.stopped_at || []).forEach(function (s) { if (registry.get(s.bpmn_id)) { canvas.addMarker(s.bpmn_id, "testrun-stop"); } });
      }
    }).catch(function (err) { result.textContent = err.message; });
  }

  // -- start ----------------------------------------------------------------------

  var saveButton = document.getElementById("save-draft");
  if (saveButton) { saveButton.addEventListener("click", save); }
  document.getElementById("run-test").addEventListener("click", runTest);
  var submitForm = document.getElementById("submit-form");
  if (submitForm) {
    submitForm.addEventListener("submit", function (event) {
      if (state.dirty) {
        event.preventDefault();
        showMessage("warning", t("请先保存草稿,再提交。", "Save the draft before submitting."));
      }
    });
  }
  window.addEventListener("beforeunload", function (event) {
    if (state.dirty) { event.preventDefault(); event.returnValue = ""; }
  });
  renderScenarios();
  renderFindings(state.report);
  var first = Object.keys(state.files).sort(function (a, b) {
    return (kindOf(a) === "bpmn" ? 0 : 1) - (kindOf(b) === "bpmn" ? 0 : 1) || a.localeCompare(b);
  })[0];
  // Expose a small handle for tests and the console.
  window.redressDesigner = { state: state, bpmn: bpmn, dmn: dmn, openFile: openFile, save: save, flush: flush };
  if (first) { openFile(first); }
})();
