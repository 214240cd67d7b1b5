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
