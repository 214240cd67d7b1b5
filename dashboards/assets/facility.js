// Clientside renderer of the overview: one store snapshot -> existing tiles and summary
// figures updated in place (text, class, CSS order: alarms first). Nothing is rebuilt.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  facility: {
    renderTiles: function (snapshot, meta) {
      if (!snapshot || !snapshot.tiles) {
        return window.dash_clientside.no_update;
      }
      // the tiles are plain DOM made here once (not Dash components: see pages/overview.py)
      for (const [assetNo, cls, name, grid] of (meta && meta.tiles) || []) {
        if (document.getElementById("tile-" + assetNo)) continue;
        const parent = document.getElementById(grid);
        if (parent) parent.appendChild(makeTile(assetNo, cls, name, meta.no_data));
      }
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
      const status = document.getElementById("live-status");
      if (status && status.firstChild && snapshot.banner) {
        setText(status.firstChild, snapshot.banner.text);
        if (status.firstChild.className !== snapshot.banner.css) {
          status.firstChild.className = snapshot.banner.css;
        }
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

    // The alarm console: filter, sort and patch the rows of one <tbody> by alarm id. A row
    // is made once; afterwards only the cells whose text changed are written and rows are
    // moved only when the order changed. Ticked rows are the selection (a store the action
    // callbacks read), kept across ticks while the alarm is shown.
    renderConsole: function (store, view, sites, systems, prios, states, sort, search, all) {
      const body = document.getElementById("console-body");
      if (!store || !body) return window.dash_clientside.no_update;
      let C = window.facilityConsole;
      if (!C || C.body !== body) {
        C = window.facilityConsole = { body: body, rows: new Map(), selected: new Set() };
        body.addEventListener("change", function (event) {
          const box = event.target;
          if (!box || !box.dataset || !box.dataset.alarm) return;
          if (box.checked) C.selected.add(box.dataset.alarm);
          else C.selected.delete(box.dataset.alarm);
          publishSelection(C);
        });
      }
      const has = function (list, value) { return !list || !list.length || list.includes(value); };
      const words = (search || "").toLowerCase().split(/\s+/).filter(Boolean);
      let rows = store.rows.filter(function (r) {
        if (r.view !== (view === "shelved" ? "shelved" : "standing")) return false;
        if (!has(sites, r.site) || !has(systems, r.system)) return false;
        if (!has(prios, r.prio) || !has(states, r.state)) return false;
        if (!words.length) return true;
        const text = [r.id, r.name, r.alarm, r.cause, r.action, r.by, r.comment, r.reason]
          .join(" ").toLowerCase();
        return words.every(function (w) { return text.indexOf(w) !== -1; });
      });
      if (sort === "raised") {
        rows = rows.slice().sort(function (a, b) { return b.raised_ms - a.raised_ms; });
      } else if (sort === "asset") {
        rows = rows.slice().sort(function (a, b) { return a.id < b.id ? -1 : a.id > b.id ? 1 : 0; });
      }
      const shown = new Set(rows.map(function (r) { return r.id; }));
      const stored = new Set(store.rows.map(function (r) { return r.id; }));
      for (const [id, tr] of C.rows) {
        // gone from the store: removed; filtered out: hidden (kept for when it comes back)
        if (!stored.has(id)) { tr.remove(); C.rows.delete(id); }
        else if (!shown.has(id) && !tr.hidden) tr.hidden = true;
      }
      const ctx = window.dash_clientside.callback_context;
      const byAll = ctx && ctx.triggered && ctx.triggered.some(function (t) {
        return t.prop_id.indexOf("console-select-all") === 0;
      });
      if (byAll) {
        C.selected = (all && all.length) ? new Set(shown) : new Set();
      }
      for (const id of Array.from(C.selected)) if (!shown.has(id)) C.selected.delete(id);
      rows.forEach(function (r, i) {
        let tr = C.rows.get(r.id);
        if (!tr) { tr = makeRow(r); C.rows.set(r.id, tr); }
        if (tr.hidden) tr.hidden = false;
        patchRow(tr, r, view === "shelved");
        const box = tr.firstChild.firstChild;
        const ticked = C.selected.has(r.id);
        if (box.checked !== ticked) box.checked = ticked;
        if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
      });
      const empty = document.querySelector(".console-empty");
      if (empty) empty.hidden = rows.length > 0;
      publishSelection(C);
      return String(rows.length);
    },

    // The header's counter by priority on every page, and the tone: a new unacknowledged
    // critical alarm sounds until silenced (silencing is not acknowledging).
    renderCounter: function (data) {
      if (!data || !data.counts) return window.dash_clientside.no_update;
      for (const [prio, pair] of Object.entries(data.counts)) {
        const cell = document.getElementById("counter-" + prio);
        if (!cell) continue;
        const text = String(pair[0]);
        if (cell.textContent !== text) cell.textContent = text;
        cell.classList.toggle("counter-hot", pair[0] > 0);
        cell.classList.toggle("counter-unack", pair[1] > 0);
        cell.title = prio + ": " + pair[0] + " (" + pair[1] + " unack)";
      }
      const T = tone();
      T.pending = (data.critical || []).filter(function (id) { return !T.silenced.has(id); });
      const counter = document.getElementById("alarm-counter");
      const button = document.getElementById("tone-silence");
      const ringing = T.pending.length > 0;
      if (counter) counter.dataset.tone = ringing ? "on" : "off";
      if (button) {
        button.hidden = !ringing;
        if (!button.dataset.wired) {
          button.dataset.wired = "1";
          button.addEventListener("click", function () {
            for (const id of T.pending) T.silenced.add(id);
            try {
              sessionStorage.setItem("facility-silenced", JSON.stringify(Array.from(T.silenced)));
            } catch (e) { /* private mode: silenced for this page only */ }
            T.pending = [];
            button.hidden = true;
            if (counter) counter.dataset.tone = "silenced";
          });
        }
      }
      if (ringing) beep(T);
      return String(T.pending.length);
    },
  },
});

function el(tag, className, text, id) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  if (id) node.id = id;
  return node;
}

function makeTile(assetNo, cls, name, noData) {
  const box = el("a", "tile tile-nodata", "", "tile-" + assetNo);
  box.href = "/asset/" + encodeURIComponent(assetNo);
  const head = el("div", "tile-head");
  head.appendChild(el("span", "tile-class", cls));
  head.appendChild(el("span", "tile-asset", assetNo));
  box.appendChild(head);
  const title = el("div", "tile-name", name);
  title.title = name;
  box.appendChild(title);
  box.appendChild(el("div", "tile-value", noData, "tile-" + assetNo + "-value"));
  const foot = el("div", "tile-foot");
  foot.appendChild(el("span", "tile-comm", "—", "tile-" + assetNo + "-comm"));
  foot.appendChild(el("span", "tile-age", "", "tile-" + assetNo + "-age"));
  box.appendChild(foot);
  box.style.order = "9";
  return box;
}

function publishSelection(C) {
  const ids = Array.from(C.selected).sort();
  const key = ids.join("\n");
  if (C.published === key) return;
  C.published = key;
  const count = document.getElementById("console-count");
  if (count) count.textContent = String(ids.length);
  window.dash_clientside.set_props("console-selected", { data: ids });
}

function cell(tr, className) {
  const td = document.createElement("td");
  td.className = className;
  tr.appendChild(td);
  return td;
}

function makeRow(r) {
  const tr = document.createElement("tr");
  tr.id = "alarm-row-" + r.id;
  tr.dataset.alarm = r.id;
  const sel = cell(tr, "col-sel");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.dataset.alarm = r.id;
  box.setAttribute("aria-label", r.id);
  sel.appendChild(box);
  cell(tr, "col-prio");
  cell(tr, "col-state");
  const asset = cell(tr, "col-asset");
  asset.innerHTML = '<a class="row-asset"></a><div class="row-sub"></div>';
  const alarm = cell(tr, "col-alarm");
  alarm.innerHTML = '<div class="row-alarm"></div><div class="row-sub row-cause"></div>';
  cell(tr, "col-raised");
  const value = cell(tr, "col-value");
  value.innerHTML = '<div class="row-value"></div><div class="row-sub"></div>';
  const by = cell(tr, "col-by");
  by.innerHTML = '<div class="row-by"></div><div class="row-sub row-comment"></div>';
  return tr;
}

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

function patchRow(tr, r, shelvedView) {
  const key = JSON.stringify(r) + (shelvedView ? "s" : "");
  if (tr._key === key) return;
  tr._key = key;
  const css = "prio-" + r.prio + " state-" + r.state + (r.active ? "" : " row-cleared");
  if (tr.className !== css) tr.className = css;
  const c = tr.children;
  setText(c[1], r.prio_label);
  setText(c[2], r.state_label);
  const link = c[3].firstChild;
  setText(link, r.asset);
  if (r.asset.indexOf("SYS-") !== 0) link.setAttribute("href", "/asset/" + r.asset);
  setText(c[3].lastChild, r.name);
  setText(c[4].firstChild, r.alarm);
  setText(c[4].lastChild, [r.cause, r.action].filter(Boolean).join(" → "));
  setText(c[5], r.raised);
  setText(c[6].firstChild, r.value);
  setText(c[6].lastChild, r.limit);
  if (shelvedView && r.until) {
    setText(c[7].firstChild, r.by + " → " + r.until);
    setText(c[7].lastChild, r.reason);
  } else {
    setText(c[7].firstChild, r.by);
    setText(c[7].lastChild, r.comment);
  }
}

function tone() {
  if (!window.facilityTone) {
    let silenced = [];
    try { silenced = JSON.parse(sessionStorage.getItem("facility-silenced") || "[]"); }
    catch (e) { silenced = []; }
    window.facilityTone = { silenced: new Set(silenced), pending: [], beeps: 0 };
  }
  return window.facilityTone;
}

function beep(T) {
  T.beeps += 1;
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    T.audio = T.audio || new Ctx();
    const osc = T.audio.createOscillator();
    const gain = T.audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(T.audio.destination);
    osc.start();
    osc.stop(T.audio.currentTime + 0.35);
  } catch (e) { /* no audio device: the counter still says "tone on" */ }
}


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
