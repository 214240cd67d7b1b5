// The asset page's live values (dashboards/pages/asset.py): each tick's cells are written
// into the rows the page made once (ids from dashboards/ids.py asset_live_cell), only where
// the text or state changed. Nothing is rebuilt.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  facilityAsset: {
    renderLive: function (data) {
      if (!data || !data.points) {
        return window.dash_clientside.no_update;
      }
      let updated = 0;
      for (const [point, cells] of Object.entries(data.points)) {
        const row = document.getElementById("asset-live-" + point + "-row");
        if (!row) continue;
        for (const field of ["value", "quality", "age"]) {
          const cell = document.getElementById("asset-live-" + point + "-" + field);
          if (cell && cell.textContent !== cells[field]) cell.textContent = cells[field];
        }
        const css = "live-row tile-" + cells.state;
        if (row.className !== css) row.className = css;
        updated += 1;
      }
      return String(updated) + "@" + String(data.at);
    },
  },
});
