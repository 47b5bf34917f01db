// Charts of the customer distribution page (customers/stats.html); data comes from the #chart-data JSON.
// Tooltips render on the canvas (renderMode "richText"): ECharts' HTML tooltips carry style= attributes,
// which the Content-Security-Policy refuses.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.echarts) return;
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  for (const key of ["by_class", "by_segment", "by_area_type"]) {
    echarts.init(document.getElementById("chart-" + key)).setOption({
      tooltip: {trigger: "item", renderMode: "richText"}, legend: {bottom: 0},
      series: [{type: "pie", radius: ["35%", "65%"], data: data[key]}]
    });
  }
  echarts.init(document.getElementById("chart-by_unit")).setOption({
    tooltip: {renderMode: "richText"}, grid: {left: 110}, xAxis: {type: "value"},
    yAxis: {type: "category", data: data.by_unit.map(r => r.name)},
    series: [{type: "bar", data: data.by_unit.map(r => r.value)}]
  });
});
