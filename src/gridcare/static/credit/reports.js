// Charts of the credit grade distribution (credit/report_grades.html): stacked bars of the grades per unit and
// a line per grade of its share by month. The data comes from a JSON script element of the page. Canvas
// tooltips (renderMode "richText"): ECharts' HTML tooltips carry style= attributes, which the CSP refuses.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.echarts) return;
  const el = document.getElementById("credit-grades-chart");
  if (!el) return;
  const c = JSON.parse(el.textContent);
  const charts = [];
  const make = (id, option) => {
    const node = document.getElementById(id);
    if (!node) return;
    const chart = echarts.init(node);
    chart.setOption(option);
    charts.push(chart);
  };
  const tooltip = {trigger: "axis", renderMode: "richText"};
  make("chart-units", {
    tooltip: tooltip, legend: {bottom: 0},
    grid: {left: 60, right: 20, top: 30, bottom: 60},
    xAxis: {type: "category", data: c.units},
    yAxis: {type: "value", name: c.names.count, minInterval: 1},
    series: c.grades.map((g) => ({name: g, type: "bar", stack: "grades", data: c.stacks[g]})),
  });
  make("chart-trend", {
    tooltip: tooltip, legend: {bottom: 0},
    grid: {left: 60, right: 20, top: 30, bottom: 60},
    xAxis: {type: "category", data: c.months},
    yAxis: {type: "value", name: c.names.share, max: 100},
    series: c.grades.map((g) => ({name: g, type: "line", data: c.shares[g], connectNulls: true})),
  });
  window.addEventListener("resize", () => charts.forEach((ch) => ch.resize()));
});
