// The form editor a designer works in: one row per field (key, Chinese and English label, kind,
// required), add, move up and down, remove; it edits the JSON Schema beside it, which stays the
// advanced view. Only what the designer touches is rewritten: a field's other keywords stay.
(function () {
  "use strict";

  var KINDS = [
    ["text", "单行文本", "Short text"], ["textarea", "多行文本", "Long text"], ["number", "数字", "Number"],
    ["money", "金额", "Amount"], ["boolean", "是/否", "Yes / no"], ["choice", "选项", "Choice"], ["date", "日期", "Date"]
  ];
  var KEY = /^[a-z][a-z0-9_]{0,63}$/;

  function kindOf(spec) {
    var widget = (spec["x-ui"] || {}).widget;
    if (spec.enum) { return "choice"; }
    if (spec.type === "boolean") { return "boolean"; }
    if (widget === "money") { return "money"; }
    if (spec.type === "number" || spec.type === "integer") { return "number"; }
    if (spec.format === "date" || widget === "date") { return "date"; }
    if (widget === "textarea") { return "textarea"; }
    return "text";
  }

  // The keywords of a kind; switching kind replaces these and keeps everything else.
  function applyKind(spec, kind) {
    ["type", "enum", "format", "maxLength", "minimum", "maximum", "multipleOf"].forEach(function (k) { delete spec[k]; });
    var ui = spec["x-ui"] = spec["x-ui"] || {};
    delete ui.widget;
    if (kind === "text") { spec.type = "string"; spec.maxLength = 500; }
    if (kind === "textarea") { spec.type = "string"; spec.maxLength = 5000; ui.widget = "textarea"; }
    if (kind === "number") { spec.type = "number"; spec.minimum = 0; spec.maximum = 1000000000; }
    if (kind === "money") { spec.type = "number"; spec.minimum = 0; spec.maximum = 100000000; ui.widget = "money"; }
    if (kind === "boolean") { spec.type = "boolean"; ui.widget = "radio"; }
    if (kind === "choice") { spec.type = "string"; spec.enum = ["option_1", "option_2"]; ui.widget = "select"; }
    if (kind === "date") { spec.type = "string"; spec.format = "date"; ui.widget = "date"; }
  }

  function create(options) {
    var box = options.container;
    var t = options.t;
    var el = options.el;
    var schema = null;

    function order() {
      var props = schema.properties || {};
      var listed = ((schema["x-ui"] || {}).order || []).filter(function (k) { return k in props; });
      return listed.concat(Object.keys(props).filter(function (k) { return listed.indexOf(k) < 0; }));
    }

    function commit() {
      schema["x-ui"] = schema["x-ui"] || {};
      options.onChange(JSON.stringify(schema, null, 2));
    }

    function setOrder(keys) { schema["x-ui"] = schema["x-ui"] || {}; schema["x-ui"].order = keys; }

    function labelInput(spec, language, key) {
      var ui = spec["x-ui"] = spec["x-ui"] || {};
      var current = ui.label && typeof ui.label === "object" ? ui.label[language] || "" : (language === "zh-CN" ? ui.label || "" : "");
      var input = el("input", { className: "form-control form-control-sm", value: current, maxlength: "200",
        "aria-label": (language === "zh-CN" ? t("中文标签 ", "Chinese label ") : t("英文标签 ", "English label ")) + key,
        "data-field": key, "data-lang": language });
      input.addEventListener("change", function () {
        var label = ui.label && typeof ui.label === "object" ? ui.label : { "zh-CN": typeof ui.label === "string" ? ui.label : "" };
        label[language] = input.value.trim();
        ui.label = label;
        commit();
      });
      return input;
    }

    function row(key, index, keys) {
      var spec = schema.properties[key];
      var required = (schema.required || []).indexOf(key) >= 0;
      var kind = el("select", { className: "form-select form-select-sm", "aria-label": t("类型 ", "Kind ") + key, "data-field": key });
      KINDS.forEach(function (k) {
        var option = el("option", { value: k[0], text: t(k[1], k[2]) });
        if (k[0] === kindOf(spec)) { option.selected = true; }
        kind.appendChild(option);
      });
      kind.addEventListener("change", function () { applyKind(spec, kind.value); commit(); render(); });
      var req = el("input", { type: "checkbox", className: "form-check-input", "aria-label": t("必填 ", "Required ") + key });
      req.checked = required;
      req.addEventListener("change", function () {
        var list = (schema.required || []).filter(function (k) { return k !== key; });
        if (req.checked) { list.push(key); }
        schema.required = list;
        commit();
      });
      var move = function (delta) {
        var next = keys.slice();
        var target = index + delta;
        if (target < 0 || target >= next.length) { return; }
        next.splice(index, 1);
        next.splice(target, 0, key);
        setOrder(next);
        commit();
        render();
      };
      var up = el("button", { type: "button", className: "btn btn-outline-secondary btn-sm", text: "↑", title: t("上移", "Move up"), "aria-label": t("上移 ", "Move up ") + key });
      up.addEventListener("click", function () { move(-1); });
      var down = el("button", { type: "button", className: "btn btn-outline-secondary btn-sm", text: "↓", title: t("下移", "Move down"), "aria-label": t("下移 ", "Move down ") + key });
      down.addEventListener("click", function () { move(1); });
      var remove = el("button", { type: "button", className: "btn btn-outline-danger btn-sm", text: "✕", title: t("删除", "Remove"), "aria-label": t("删除 ", "Remove ") + key });
      remove.addEventListener("click", function () {
        delete schema.properties[key];
        schema.required = (schema.required || []).filter(function (k) { return k !== key; });
        setOrder(keys.filter(function (k) { return k !== key; }));
        commit();
        render();
      });
      var cells = [el("code", { text: key }), labelInput(spec, "zh-CN", key), labelInput(spec, "en", key), kind, req];
      var tr = el("tr", { "data-field": key });
      cells.forEach(function (c) { tr.appendChild(el("td", {}, [c])); });
      if (kindOf(spec) === "choice") {
        var values = el("input", { className: "form-control form-control-sm mt-1", value: (spec.enum || []).join(", "),
          "aria-label": t("选项值(逗号分隔)", "Option values (comma separated)") + " " + key });
        values.addEventListener("change", function () {
          var list = values.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
          if (!list.length) { return; }
          spec.enum = list;
          commit();
        });
        tr.children[3].appendChild(values);
      }
      if (!options.editable) { tr.querySelectorAll("input, select").forEach(function (i) { i.disabled = true; }); }
      else { tr.appendChild(el("td", { className: "text-nowrap" }, [up, down, remove])); }
      return tr;
    }

    function render() {
      box.innerHTML = "";
      if (!schema) { return; }
      var keys = order();
      var head = el("tr", {});
      [t("字段", "Field"), t("中文标签", "Chinese label"), t("英文标签", "English label"), t("类型", "Kind"), t("必填", "Required")]
        .concat(options.editable ? [""] : []).forEach(function (h) { head.appendChild(el("th", { scope: "col", text: h })); });
      var body = el("tbody", {});
      keys.forEach(function (key, index) { body.appendChild(row(key, index, keys)); });
      box.appendChild(el("div", { className: "table-responsive" }, [
        el("table", { className: "table table-sm align-middle mb-2", id: "form-fields" }, [el("thead", {}, [head]), body])]));
      if (!options.editable) { return; }
      var newKey = el("input", { className: "form-control form-control-sm", id: "new-field-key", placeholder: "field_name",
        "aria-label": t("新字段名(小写字母、数字、下划线)", "New field name (lower-case letters, digits, _)") });
      var add = el("button", { type: "button", className: "btn btn-outline-primary btn-sm", id: "add-field", text: t("添加字段", "Add field") });
      var error = el("div", { className: "text-danger small", id: "new-field-error", role: "alert" });
      add.addEventListener("click", function () {
        var key = newKey.value.trim();
        if (!KEY.test(key)) { error.textContent = t("字段名须以小写字母开头,只含小写字母、数字和下划线(最长 64)。", "A field name starts with a lower-case letter and has only lower-case letters, digits and _ (at most 64)."); return; }
        if (schema.properties && schema.properties[key]) { error.textContent = t("已有同名字段。", "A field of that name exists."); return; }
        schema.properties = schema.properties || {};
        var spec = { "x-ui": { label: { "zh-CN": key, en: key } } };
        applyKind(spec, "text");
        schema.properties[key] = spec;
        setOrder(keys.concat([key]));
        commit();
        render();
      });
      box.appendChild(el("div", { className: "input-group input-group-sm" }, [newKey, add]));
      box.appendChild(error);
    }

    return {
      // Show the schema in `text`; invalid JSON leaves the table empty (the JSON view says why).
      load: function (text) {
        try { schema = JSON.parse(text); } catch (e) { schema = null; }
        if (schema && (typeof schema !== "object" || Array.isArray(schema))) { schema = null; }
        render();
      }
    };
  }

  window.RedressFormEditor = { create: create };
})();
