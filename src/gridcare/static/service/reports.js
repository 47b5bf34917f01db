// Charts of the service reports page (service/reports.html); data comes from the #service-report-chart JSON.
// Canvas tooltips (renderMode "richText"): ECharts' HTML tooltips carry style= attributes, which the CSP refuses.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.echarts) return;
  const source = document.getElementById("service-report-chart");
  if (!source) return;
  const d = JSON.parse(source.textContent);
  const charts = [];
  const make = (id, option) => {
    const el = document.getElementById(id);
    if (!el) return;
    const chart = echarts.init(el);
    chart.setOption(option);
    charts.push(chart);
  };
  const tooltip = {trigger: "axis", renderMode: "richText"};
  // One series per order type, stacked, over the given categories.
  const stacked = (categories, stack, horizontal) => {
    const cat = {type: "category", data: categories};
    const val = {type: "value", name: d.labels.count};
    return {
      tooltip: tooltip, legend: {bottom: 0, type: "scroll"},
      grid: {left: horizontal ? 110 : 60, right: 20, top: 30, bottom: 60},
      xAxis: horizontal ? val : cat, yAxis: horizontal ? cat : val,
      series: d.types.map((name, i) => ({name: name, type: "bar", stack: "types", data: stack[i]})),
    };
  };
  make("chart-types", {
    tooltip: tooltip, grid: {left: 60, right: 20, top: 30, bottom: 60},
    xAxis: {type: "category", data: d.types, axisLabel: {interval: 0, rotate: 30}},
    yAxis: {type: "value", name: d.labels.count},
    series: [{name: d.labels.count, type: "bar", data: d.by_type}],
  });
  make("chart-channels", stacked(d.channels, d.channel_stack, true));
  make("chart-units", stacked(d.units, d.unit_stack, false));
  make("chart-months", stacked(d.months, d.month_stack, false));
  make("chart-on-time", {
    tooltip: tooltip, grid: {left: 60, right: 20, top: 30, bottom: 40},
    xAxis: {type: "category", data: d.on_time.names},
    yAxis: {type: "value", name: d.labels.rate, max: 100},
    series: [{name: d.labels.rate, type: "bar", data: d.on_time.rates}],
  });
  make("chart-times", {
    tooltip: tooltip, legend: {bottom: 0},
    grid: {left: 60, right: 20, top: 30, bottom: 60},
    xAxis: {type: "category", data: d.areas},
    yAxis: {type: "value", name: "min"},
    series: [
      {name: d.labels.arrival, type: "bar", data: d.arrival},
      {name: d.labels.arrival + " · " + d.labels.commitment, type: "line", data: d.arrival_commitment},
      {name: d.labels.restoration, type: "bar", data: d.restoration},
      {name: d.labels.restoration + " · " + d.labels.commitment, type: "line", data: d.restoration_commitment},
    ],
  });
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
});
