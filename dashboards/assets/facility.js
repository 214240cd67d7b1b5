// Clientside renderer of the overview: one store snapshot -> existing tiles and summary
// figures updated in place (text, class, CSS order: alarms first). Nothing is rebuilt.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  facility: {
    renderTiles: function (snapshot) {
      if (!snapshot || !snapshot.tiles) {
        return window.dash_clientside.no_update;
      }
      const setText = function (el, text) {
        if (el && el.textContent !== text) el.textContent = text;
      };
      let updated = 0;
      for (const [assetNo, tile] of Object.entries(snapshot.tiles)) {
        const box = document.getElementById("tile-" + assetNo);
        if (!box) continue;
        setText(document.getElementById("tile-" + assetNo + "-value"), tile.value);
        setText(document.getElementById("tile-" + assetNo + "-comm"), tile.comm);
        setText(document.getElementById("tile-" + assetNo + "-age"), tile.age || "");
        const css = "tile " + tile.css;
        if (box.className !== css) box.className = css;
        const order = String(tile.order === undefined ? 9 : tile.order);
        if (box.style.order !== order) box.style.order = order;
        updated += 1;
      }
      for (const [site, counts] of Object.entries(snapshot.summary || {})) {
        for (const [key, value] of Object.entries(counts)) {
          const cell = document.getElementById("summary-" + site + "-" + key);
          if (!cell) continue;
          setText(cell, String(value));
          const box = cell.parentElement;
          if (box) box.classList.toggle("sum-hot", value > 0);
        }
      }
      return String(updated);
    },
  },
});

// The server checks every callback (dashboards/auth.py). When it refuses one, say so on the
// page instead of failing silently; when the session has ended, go to the sign-in form.
(function () {
  const fetch0 = window.fetch.bind(window);
  window.fetch = async function (resource, init) {
    const response = await fetch0(resource, init);
    const url = typeof resource === "string" ? resource : (resource && resource.url) || "";
    if (url.indexOf("_dash-") === -1) return response;
    if (response.status === 401) {
      const next = window.location.pathname + window.location.search;
      window.location.assign("/login?next=" + encodeURIComponent(next));
    } else if (response.status === 403) {
      let text = "refused by the server";
      try {
        text = (await response.clone().json()).error || text;
      } catch (e) { /* not JSON: keep the generic words */ }
      let box = document.getElementById("server-refusal");
      if (!box) {
        box = document.createElement("div");
        box.id = "server-refusal";
        box.className = "banner banner-error server-refusal";
        box.setAttribute("role", "alert");
        document.body.appendChild(box);
      }
      box.textContent = "Not allowed · 无权操作: " + text;
    }
    return response;
  };
})();
