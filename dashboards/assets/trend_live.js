// The asset trend's live tail (dashboards/pages/asset.py): each tick's newest readings are
// appended to their traces with Plotly.extendTraces (a trace is found by its meta, the point
// name) and the x axis is moved so its right edge is now, keeping the span shown. The figure
// is neither sent again nor redrawn.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  facilityTrend: {
    appendTail: function (tail, live) {
      if (!tail || !tail.points || !live || !live.includes("live")) {
        return window.dash_clientside.no_update;
      }
      const gd = document.querySelector("#history-graph .js-plotly-plot");
      if (!gd || !gd.data || !window.Plotly) return window.dash_clientside.no_update;
      const xs = [], ys = [], indices = [];
      gd.data.forEach(function (trace, i) {
        const reading = trace.meta !== undefined ? tail.points[trace.meta] : undefined;
        if (!reading) return;
        const [atMs, local, value] = reading;
        trace._tailMs = trace._tailMs || 0;
        if (atMs <= trace._tailMs) return;  // already appended
        trace._tailMs = atMs;
        xs.push([local]);
        ys.push([value]);
        indices.push(i);
      });
      if (indices.length) window.Plotly.extendTraces(gd, { x: xs, y: ys }, indices);
      // the right edge at now, the span kept; the axis strings are the estate's wall time,
      // read and written here as if UTC (the same frame both ways)
      const axis = gd.layout && gd.layout.xaxis;
      const toMs = function (text) { return Date.parse(String(text).replace(" ", "T") + "Z"); };
      const fmt = function (ms) { return new Date(ms).toISOString().replace("T", " ").slice(0, 23); };
      if (tail.now && axis && axis.range && axis.range.length === 2) {
        const span = toMs(axis.range[1]) - toMs(axis.range[0]);
        const end = toMs(tail.now);
        if (span > 0 && Math.abs(end - toMs(axis.range[1])) > 500) {
          window.Plotly.relayout(gd, { "xaxis.range": [fmt(end - span), fmt(end)] });
        }
      }
      return String(indices.length);
    },
  },
});
