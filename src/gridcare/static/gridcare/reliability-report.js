// Charts of the reliability report (outages/report.html): monthly SAIDI, SAIFI and RS-1, all and excluding MEDs.
// Canvas tooltips (renderMode "richText"): ECharts' HTML tooltips carry style= attributes, which the CSP refuses.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.echarts) return;
  const d = JSON.parse(document.getElementById("reliability-chart").textContent);
  const charts = [];
  const line = (id, a, b, la, lb, yName) => {
    const el = document.getElementById(id);
    if (!el) return;
    const chart = echarts.init(el);
    chart.setOption({
      tooltip: {trigger: "axis", renderMode: "richText"}, legend: {bottom: 0},
      grid: {left: 60, right: 20, top: 30, bottom: 50},
      xAxis: {type: "category", data: d.months},
      yAxis: {type: "value", name: yName, scale: true},
      series: [
        {name: la, type: "bar", data: a},
        {name: lb, type: "line", data: b},
      ],
    });
    charts.push(chart);
  };
  line("chart-saidi", d.saidi, d.saidi_ex, d.labels.saidi, d.labels.saidi_ex, "h");
  line("chart-saifi", d.saifi, d.saifi_ex, d.labels.saifi, d.labels.saifi_ex, "");
  line("chart-rs1", d.rs1, d.rs1_ex, d.labels.rs1, d.labels.rs1_ex, "%");
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
});
