// Clientside renderer of the overview: one store snapshot -> existing tiles updated in place.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  facility: {
    renderTiles: function (snapshot) {
      if (!snapshot || !snapshot.tiles) {
        return window.dash_clientside.no_update;
      }
      let updated = 0;
      for (const [assetNo, tile] of Object.entries(snapshot.tiles)) {
        const box = document.getElementById("tile-" + assetNo);
        if (!box) continue;
        const value = document.getElementById("tile-" + assetNo + "-value");
        const comm = document.getElementById("tile-" + assetNo + "-comm");
        if (value && value.textContent !== tile.value) value.textContent = tile.value;
        if (comm && comm.textContent !== tile.comm) comm.textContent = tile.comm;
        const css = "tile " + tile.css;
        if (box.className !== css) box.className = css;
        updated += 1;
      }
      return String(updated);
    },
  },
});
