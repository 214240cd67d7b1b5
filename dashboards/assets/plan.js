// Clientside renderer of the overview's site plans (dashboards/pages/overview.py): the pins
// are plain DOM made once over each estate's drawing, then on every tick their class (the
// tile's state classes, tile- -> pin-: ISA-101 grey when calm, colour only for an alarm,
// stale and no data their own) and their tooltip are rewritten in place from the same store
// as the tiles. Nothing is rebuilt. The Tiles / Site plan toggle is handled here too, without
// a server round trip; the choice is kept per estate in the browser.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  facilityPlan: {
    renderPins: function (snapshot, meta) {
      if (!snapshot || !snapshot.tiles || !meta || !meta.pins) {
        return window.dash_clientside.no_update;
      }
      let updated = 0;
      for (const [site, pins] of Object.entries(meta.pins)) {
        const layer = document.getElementById("plan-pins-" + site);
        if (!layer) continue;
        if (!layer.dataset.made) {
          layer.dataset.made = "1";
          for (const [assetNo, left, top, name] of pins) {
            layer.appendChild(makePin(assetNo, left, top, name));
          }
          restoreView(site);
        }
        for (const [assetNo, , , name] of pins) {
          const pin = document.getElementById("pin-" + assetNo);
          const tile = snapshot.tiles[assetNo];
          if (!pin || !tile) continue;
          const css = "pin " + String(tile.css || "").replace(/\btile-/g, "pin-");
          if (pin.className !== css) pin.className = css;
          const tip = assetNo + " " + name + "\n" + tile.value + " · " + tile.comm +
            (tile.age ? " · " + tile.age : "");
          if (pin.title !== tip) pin.title = tip;
          updated += 1;
        }
      }
      return String(updated);
    },
  },
});

function makePin(assetNo, left, top, name) {
  const pin = document.createElement("a");
  pin.id = "pin-" + assetNo;
  pin.className = "pin pin-nodata";
  pin.href = "/asset/" + encodeURIComponent(assetNo);
  pin.style.left = left + "%";
  pin.style.top = top + "%";
  pin.title = assetNo + " " + name;
  pin.setAttribute("aria-label", assetNo + " " + name);
  pin.dataset.asset = assetNo;
  return pin;
}

function showView(site, view) {
  const tiles = document.getElementById("site-tiles-" + site);
  const plan = document.getElementById("site-plan-" + site);
  if (!tiles || !plan) return;
  tiles.hidden = view === "plan";
  plan.hidden = view !== "plan";
  for (const v of ["tiles", "plan"]) {
    const button = document.getElementById("view-" + v + "-" + site);
    if (button) button.setAttribute("aria-pressed", String(v === view));
  }
}

function restoreView(site) {
  let view = null;
  try {
    view = localStorage.getItem("facility-view-" + site);
  } catch (e) { /* storage refused: the tiles, as the page came */ }
  if (view === "plan") showView(site, "plan");
}

document.addEventListener("click", function (event) {
  const button = event.target && event.target.closest && event.target.closest("[data-view]");
  if (!button || !button.dataset.site) return;
  showView(button.dataset.site, button.dataset.view);
  try {
    localStorage.setItem("facility-view-" + button.dataset.site, button.dataset.view);
  } catch (e) { /* private mode: for this page only */ }
});
