// The 13-month usage chart of an electronic bill (billing/_ebill_chart.html, console and portal); data comes
// from the #usage-data JSON. Canvas tooltips: see customers-stats.js.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.echarts) return;
  const data = JSON.parse(document.getElementById("usage-data").textContent);
  const colors = {sharp: "#c0392b", peak: "#e67e22", flat: "#00706b", valley: "#2e86c1", total: "#7f8c8d"};
  const chart = echarts.init(document.getElementById("usage-chart"));
  chart.setOption({
    tooltip: {trigger: "axis", axisPointer: {type: "shadow"}, renderMode: "richText"},
    legend: {bottom: 0},
    grid: {left: 50, right: 10, top: 30, bottom: 50},
    xAxis: {type: "category", data: data.months},
    yAxis: {type: "value", name: data.unit},
    series: data.series.map(s => ({
      name: s.name, type: "bar", stack: "kwh", data: s.data, itemStyle: {color: colors[s.key]}
    }))
  });
  window.addEventListener("resize", () => chart.resize());
});
