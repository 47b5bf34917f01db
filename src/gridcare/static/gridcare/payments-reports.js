// Charts of the collection reports page (payments/reports.html); data comes from the #report-charts JSON.
// Canvas tooltips (renderMode "richText"): ECharts' HTML tooltips carry style= attributes, which the CSP refuses.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.echarts) return;
  const data = JSON.parse(document.getElementById("report-charts").textContent);
  const charts = [];
  const make = (slug, option) => {
    const el = document.getElementById("chart-" + slug);
    if (!el) return;
    const chart = echarts.init(el);
    chart.setOption(option);
    charts.push(chart);
  };
  if (data["collection-rate"]) {
    const d = data["collection-rate"];
    make("collection-rate", {
      tooltip: {trigger: "axis", renderMode: "richText"}, legend: {bottom: 0},
      grid: {left: 60, right: 60, top: 30, bottom: 50},
      xAxis: {type: "category", data: d.names},
      yAxis: [{type: "value", name: d.labels[3]}, {type: "value", name: "%", max: 100}],
      series: [
        {name: d.labels[0], type: "bar", data: d.billed},
        {name: d.labels[1], type: "bar", data: d.collected},
        {name: d.labels[2], type: "line", yAxisIndex: 1, data: d.rates},
      ],
    });
  }
  if (data["arrears-ageing"]) {
    const d = data["arrears-ageing"];
    make("arrears-ageing", {
      tooltip: {trigger: "axis", renderMode: "richText"}, grid: {left: 70, right: 20, top: 30, bottom: 30},
      xAxis: {type: "category", data: d.names}, yAxis: {type: "value", name: d.labels[1]},
      series: [{name: d.labels[0], type: "bar", data: d.amounts, itemStyle: {color: "#c0392b"}}],
    });
  }
  if (data["channel-mix"]) {
    make("channel-mix", {
      tooltip: {trigger: "item", renderMode: "richText"}, legend: {bottom: 0},
      series: [{type: "pie", radius: ["35%", "65%"], data: data["channel-mix"].items}],
    });
  }
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
});
