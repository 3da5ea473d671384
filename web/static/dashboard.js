// Draws the overview's charts with ECharts from the JSON tables beside them (the same tables
// the page lists and the CSV exports); a click on a bar or point opens the complaints behind it.
(function () {
  "use strict";
  if (!window.echarts) { return; }

  function read(name) {
    var node = document.getElementById("chart-" + name + "-data");
    return node ? JSON.parse(node.textContent) : null;
  }
  function col(data, name) { return data.columns.indexOf(name); }
  function label(data, key) { return data.labels[key] || key; }
  function word(data, value) { return (data.values && data.values[value]) || value || "—"; }
  function go(url) { if (url) { window.location.href = url; } }

  function bySeries(data, names, type, extra) {
    return names.map(function (name) {
      var i = col(data, name);
      return Object.assign({ name: label(data, name), type: type, metric: name,
        data: data.rows.map(function (r) { return r[i]; }) }, extra || {});
    });
  }

  function periodChart(data, names, type, extra) {
    var x = data.rows.map(function (r) { return r[0]; });
    return {
      option: { tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 40, right: 40, top: 40, bottom: 30 },
        xAxis: { type: "category", data: x }, yAxis: [{ type: "value", minInterval: 1 }],
        series: bySeries(data, names, type, extra) },
      link: function (p) { return data.links[p.dataIndex][p.series && p.series.metric || names[p.seriesIndex]]; }
    };
  }

  function stacked(data) {
    var dim = data.columns[1], periods = [], values = [], cell = {}, links = {};
    data.rows.forEach(function (r, i) {
      if (periods.indexOf(r[0]) < 0) { periods.push(r[0]); }
      if (values.indexOf(r[1]) < 0) { values.push(r[1]); }
      cell[r[0] + "|" + r[1]] = r[2];
      links[r[0] + "|" + r[1]] = data.links[i].received;
    });
    return {
      option: { tooltip: { trigger: "axis" }, legend: { type: "scroll", top: 0 }, grid: { left: 40, right: 20, top: 40, bottom: 30 },
        xAxis: { type: "category", data: periods }, yAxis: { type: "value", minInterval: 1 },
        series: values.map(function (v) {
          return { name: word(data, v), type: "bar", stack: dim, value: v,
            data: periods.map(function (p) { return cell[p + "|" + v] || 0; }) };
        }) },
      link: function (p) { return links[periods[p.dataIndex] + "|" + values[p.seriesIndex]]; }
    };
  }

  function withRate(data, bars, rate) {
    var chart = periodChart(data, bars, "bar", { stack: "n" });
    var i = col(data, rate);
    chart.option.yAxis.push({ type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } });
    chart.option.series.push({ name: label(data, rate), type: "line", yAxisIndex: 1, connectNulls: true,
      data: data.rows.map(function (r) { return r[i]; }) });
    chart.link = function (p) { return p.seriesIndex < bars.length ? data.links[p.dataIndex][bars[p.seriesIndex]] : null; };
    return chart;
  }

  var builders = {
    trend: function (d) { return periodChart(d, ["received", "resolved", "closed"], "line"); },
    category: stacked,
    channel: stacked,
    sla: function (d) { return withRate(d, ["within_sla", "breached"], "sla_compliance"); },
    csat: function (d) { return withRate(d, ["csat_positive"], "csat"); },
    backlog: function (d) {
      var x = d.rows.map(function (r) { return r[2] === null ? r[1] + "+" : r[1] + "–" + r[2]; });
      return { option: { tooltip: {}, grid: { left: 40, right: 20, bottom: 30 }, xAxis: { type: "category", data: x, name: label(d, "band") },
        yAxis: { type: "value", minInterval: 1 }, series: [{ type: "bar", name: label(d, "open"), data: d.rows.map(function (r) { return r[3]; }) }] },
        link: function (p) { return d.links[p.dataIndex].open; } };
    },
    root_causes: function (d) {
      var x = d.rows.map(function (r) { return r[0] || "—"; });
      return { option: { tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 40, right: 40, top: 40, bottom: 60 },
        xAxis: { type: "category", data: x, axisLabel: { rotate: 30 } },
        yAxis: [{ type: "value", minInterval: 1 }, { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } }],
        series: [{ type: "bar", name: label(d, "resolved"), data: d.rows.map(function (r) { return r[1]; }) },
                 { type: "line", name: label(d, "cumulative_share"), yAxisIndex: 1, data: d.rows.map(function (r) { return r[2]; }) }] },
        link: function (p) { return p.seriesIndex === 0 ? d.links[p.dataIndex].resolved : null; } };
    },
    compensation: function (d) {
      var x = d.rows.map(function (r) { return word(d, r[0]) + " " + r[1]; });
      return { option: { tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 60, right: 20, top: 40, bottom: 70 },
        xAxis: { type: "category", data: x, axisLabel: { rotate: 30 } }, yAxis: { type: "value" },
        series: [{ type: "bar", name: label(d, "paid"), data: d.rows.map(function (r) { return Number(r[2]); }) },
                 { type: "bar", name: label(d, "budget"), data: d.rows.map(function (r) { return Number(r[3]); }) }] },
        link: function (p) { return p.seriesIndex === 0 ? d.links[p.dataIndex].paid : null; } };
    }
  };

  document.querySelectorAll(".analytics-chart").forEach(function (section) {
    var name = section.getAttribute("data-chart-name"), data = read(name), target = document.getElementById("chart-" + name);
    if (!data || !target || !builders[name]) { return; }
    var built = builders[name](data);
    var chart = window.echarts.init(target, null, { renderer: "svg" });
    chart.setOption(built.option);
    chart.on("click", function (p) { go(built.link(p)); });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
