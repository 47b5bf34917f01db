// Charts of the hall reports (hall/reports/*.html): KPIs, the peak heat maps and the staffing plan. The data
// comes from a JSON script element of the page. Canvas tooltips (renderMode "richText"): ECharts' HTML tooltips
// carry style= attributes, which the CSP refuses.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.echarts) return;
  const charts = [];
  const data = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };
  const make = (id, option, height) => {
    const el = document.getElementById(id);
    if (!el) return;
    // A taller chart: set through the CSSOM (allowed by the CSP, unlike a style= attribute).
    if (height) el.style.height = height + "px";
    const chart = echarts.init(el);
    chart.setOption(option);
    charts.push(chart);
  };
  const tooltip = {trigger: "axis", renderMode: "richText"};

  const k = data("hall-kpi-chart");
  if (k) {
    make("chart-waits", {
      tooltip: tooltip, legend: {bottom: 0},
      grid: {left: 60, right: 60, top: 30, bottom: 60},
      xAxis: {type: "category", data: k.labels},
      yAxis: [{type: "value", name: "min"}, {type: "value", name: "%", max: 100}],
      series: [
        {name: k.names.wait_mean, type: "bar", data: k.wait_mean},
        {name: k.names.wait_p90, type: "bar", data: k.wait_p90},
        {name: k.names.within, type: "line", yAxisIndex: 1, data: k.within},
      ],
    });
    make("chart-volume", {
      tooltip: tooltip, legend: {bottom: 0},
      grid: {left: 60, right: 60, top: 30, bottom: 60},
      xAxis: {type: "category", data: k.labels},
      yAxis: [{type: "value"}, {type: "value"}],
      series: [
        {name: k.names.tickets, type: "bar", data: k.tickets},
        {name: k.names.service_mean, type: "line", yAxisIndex: 1, data: k.service_mean},
        {name: k.names.per_counter_hour, type: "line", yAxisIndex: 1, data: k.per_counter_hour},
      ],
    });
  }

  const p = data("hall-peaks-chart");
  if (p) {
    const heat = (id, rows, cells, max, height) => make(id, {
      tooltip: {position: "top", renderMode: "richText"},
      grid: {left: 60, right: 20, top: 10, bottom: 70},
      xAxis: {type: "category", data: p.hours, splitArea: {show: true}},
      yAxis: {type: "category", data: rows, inverse: true, splitArea: {show: true}},
      visualMap: {min: 0, max: Math.max(1, max), calculable: true, orient: "horizontal", left: "center", bottom: 0},
      series: [{name: p.names.arrivals, type: "heatmap", data: cells, label: {show: false}}],
    }, height);
    heat("chart-dom", p.days, p.dom, p.max, 640);
    heat("chart-wd", p.weekdays, p.wd, p.wd_max);
  }

  const s = data("hall-staffing-chart");
  if (s) {
    make("chart-staffing", {
      tooltip: tooltip, legend: {bottom: 0},
      grid: {left: 60, right: 60, top: 30, bottom: 80},
      dataZoom: [{type: "slider", bottom: 30}],
      xAxis: {type: "category", data: s.labels},
      yAxis: [{type: "value", name: s.names.recommended, minInterval: 1}, {type: "value", name: "min"}],
      series: [
        {name: s.names.recommended, type: "bar", data: s.recommended},
        {name: s.names.open, type: "bar", data: s.open},
        {name: s.names.wait, type: "line", yAxisIndex: 1, data: s.wait,
         markLine: {symbol: "none", data: [{name: s.names.target, yAxis: s.target}]}},
      ],
    }, 420);
  }
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
});
