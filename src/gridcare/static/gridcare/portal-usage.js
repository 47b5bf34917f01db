// The portal's usage analysis chart (portal/usage.html); data comes from the #usage-analysis-data JSON.
// Canvas tooltips: see customers-stats.js.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.echarts) return;
  const el = document.getElementById("usage-analysis-data");
  if (!el) return;
  const data = JSON.parse(el.textContent);
  const colors = {sharp: "#c0392b", peak: "#e67e22", flat: "#00706b", valley: "#2e86c1", total: "#7f8c8d"};
  const series = data.bars.map(s => ({name: s.name, type: "bar", stack: "kwh", data: s.data, itemStyle: {color: colors[s.key]}}));
  series.push({name: data.last_year.name, type: "line", data: data.last_year.data, symbol: "circle", lineStyle: {type: "dashed"}, itemStyle: {color: "#34495e"}});
  series.push({name: data.yoy.name, type: "line", yAxisIndex: 1, data: data.yoy.data, itemStyle: {color: "#8e44ad"}});
  const chart = echarts.init(document.getElementById("usage-analysis-chart"));
  chart.setOption({
    tooltip: {trigger: "axis", renderMode: "richText"},
    legend: {bottom: 0, type: "scroll"},
    grid: {left: 50, right: 45, top: 30, bottom: 60},
    xAxis: {type: "category", data: data.months},
    yAxis: [{type: "value", name: data.unit}, {type: "value", name: "%", splitLine: {show: false}}],
    series: series
  });
  window.addEventListener("resize", () => chart.resize());
});
