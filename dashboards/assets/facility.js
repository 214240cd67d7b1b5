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
    // callbacks read), kept across ticks while the alarm is shown. An incident (alarms the
    // engine grouped: a trip and its consequences, a flood from one cause) is one row of
    // its own, made once and patched like the others, with its member rows right under it,
    // hidden until it is expanded; what is expanded survives the ticks. Filters and sort
    // take an incident as a whole: it is shown when any member matches.
    renderConsole: function (store, view, sites, systems, prios, states, sort, search, all) {
      const body = document.getElementById("console-body");
      if (!store || !body) return window.dash_clientside.no_update;
      let C = window.facilityConsole;
      if (!C || C.body !== body) {
        C = window.facilityConsole = {
          body: body, rows: new Map(), incidents: new Map(), selected: new Set(),
          expanded: new Set(), labels: {},
        };
        body.addEventListener("change", function (event) {
          const box = event.target;
          if (!box || !box.dataset) return;
          if (box.dataset.incident) {
            const inc = C.incidents.get(box.dataset.incident);
            if (!inc) return;
            for (const id of inc.members) {
              if (box.checked) C.selected.add(id);
              else C.selected.delete(id);
            }
          } else if (box.dataset.alarm) {
            if (box.checked) C.selected.add(box.dataset.alarm);
            else C.selected.delete(box.dataset.alarm);
          } else {
            return;
          }
          syncBoxes(C);
          publishSelection(C);
        });
        body.addEventListener("click", function (event) {
          // a click on an incident row (not on its box or link) opens or closes it
          const target = event.target;
          if (!target || !target.closest || target.closest("input, a")) return;
          const tr = target.closest("tr[data-incident]");
          if (tr) toggleIncident(C, tr.dataset.incident);
        });
      }
      C.labels = store.labels || {};
      const wanted = view === "shelved" ? "shelved" : "standing";
      const has = function (list, value) { return !list || !list.length || list.includes(value); };
      const words = (search || "").toLowerCase().split(/\s+/).filter(Boolean);
      const match = function (r) {
        if (!has(sites, r.site) || !has(systems, r.system)) return false;
        if (!has(prios, r.prio) || !has(states, r.state)) return false;
        if (!words.length) return true;
        const text = [r.id, r.name, r.alarm, r.cause, r.action, r.by, r.comment, r.reason]
          .join(" ").toLowerCase();
        return words.every(function (w) { return text.indexOf(w) !== -1; });
      };
      const byId = new Map(store.rows.map(function (r) { return [r.id, r]; }));
      const grouped = new Set();
      let units = [];
      for (const inc of store.incidents || []) {
        if (inc.view !== wanted) continue;
        const members = inc.members.map(function (id) { return byId.get(id); }).filter(Boolean);
        members.forEach(function (m) { grouped.add(m.id); });
        if (members.some(match)) units.push({ inc: inc, members: members, order: inc });
      }
      for (const r of store.rows) {
        if (r.view === wanted && !grouped.has(r.id) && match(r)) units.push({ row: r, order: r });
      }
      const byUrgency = function (a, b) {
        const x = a.order, y = b.order;
        return x.rank - y.rank || x.state_rank - y.state_rank || y.raised_ms - x.raised_ms ||
          (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
      };
      if (sort === "raised") {
        units.sort(function (a, b) { return b.order.raised_ms - a.order.raised_ms || byUrgency(a, b); });
      } else if (sort === "asset") {
        units.sort(function (a, b) {
          return a.order.id < b.order.id ? -1 : a.order.id > b.order.id ? 1 : byUrgency(a, b);
        });
      } else {
        units.sort(byUrgency);
      }
      const shown = new Set();
      const shownIncidents = new Set();
      for (const u of units) {
        if (u.row) shown.add(u.row.id);
        else {
          shownIncidents.add(u.inc.key);
          u.members.forEach(function (m) { shown.add(m.id); });
        }
      }
      const stored = new Set(store.rows.map(function (r) { return r.id; }));
      for (const [id, tr] of C.rows) {
        // gone from the store: removed; filtered out: hidden (kept for when it comes back)
        if (!stored.has(id)) { tr.remove(); C.rows.delete(id); }
        else if (!shown.has(id) && !tr.hidden) tr.hidden = true;
      }
      const storedIncidents = new Set((store.incidents || []).map(function (i) { return i.key; }));
      for (const [key, inc] of C.incidents) {
        if (!storedIncidents.has(key)) {
          inc.tr.remove(); C.incidents.delete(key); C.expanded.delete(key);
        } else if (!shownIncidents.has(key) && !inc.tr.hidden) inc.tr.hidden = true;
      }
      const ctx = window.dash_clientside.callback_context;
      const byAll = ctx && ctx.triggered && ctx.triggered.some(function (t) {
        return t.prop_id.indexOf("console-select-all") === 0;
      });
      if (byAll) {
        C.selected = (all && all.length) ? new Set(shown) : new Set();
      }
      for (const id of Array.from(C.selected)) if (!shown.has(id)) C.selected.delete(id);
      const shelvedView = view === "shelved";
      let i = 0;
      const place = function (tr) {
        if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
        i += 1;
      };
      const rowOf = function (r, member) {
        let tr = C.rows.get(r.id);
        if (!tr) { tr = makeRow(r); C.rows.set(r.id, tr); }
        patchRow(tr, r, shelvedView, member);
        return tr;
      };
      for (const u of units) {
        if (u.row) {
          const tr = rowOf(u.row, "");
          if (tr.hidden) tr.hidden = false;
          place(tr);
          continue;
        }
        const key = u.inc.key;
        let inc = C.incidents.get(key);
        if (!inc) {
          inc = { tr: makeIncidentRow(u.inc), members: [] };
          C.incidents.set(key, inc);
        }
        inc.members = u.members.map(function (m) { return m.id; });
        patchIncident(inc.tr, u.inc, shelvedView);
        if (inc.tr.hidden) inc.tr.hidden = false;
        place(inc.tr);
        const open = C.expanded.has(key);
        for (const m of u.members) {
          const tr = rowOf(m, key);
          if (tr.hidden !== !open) tr.hidden = !open;
          place(tr);
        }
      }
      syncBoxes(C);
      const empty = document.querySelector(".console-empty");
      if (empty) empty.hidden = units.length > 0;
      publishSelection(C);
      return String(units.length);
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
  alarm.innerHTML = '<div class="row-alarm"><span></span><span class="row-tag" hidden></span>' +
    '</div><div class="row-sub row-cause"></div>';
  cell(tr, "col-raised");
  const value = cell(tr, "col-value");
  value.innerHTML = '<div class="row-value"></div><div class="row-sub"></div>';
  const by = cell(tr, "col-by");
  by.innerHTML = '<div class="row-by"></div><div class="row-sub row-comment"></div>';
  return tr;
}

// An incident's own row: a box that ticks every member, the first-out's text with the count
// of the related alarms, a button (and the whole row) that opens and closes it.
function makeIncidentRow(inc) {
  const tr = document.createElement("tr");
  tr.dataset.incident = inc.key;
  const sel = cell(tr, "col-sel");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.dataset.incident = inc.key;
  sel.appendChild(box);
  cell(tr, "col-prio");
  cell(tr, "col-state");
  const asset = cell(tr, "col-asset");
  asset.innerHTML = '<a class="row-asset"></a><div class="row-sub"></div>';
  const alarm = cell(tr, "col-alarm");
  alarm.innerHTML = '<div class="row-alarm"><button type="button" class="incident-toggle" ' +
    'aria-expanded="false"></button><span></span><span class="row-tag incident-count">' +
    '</span></div><div class="row-sub row-cause"></div>';
  cell(tr, "col-raised");
  const value = cell(tr, "col-value");
  value.innerHTML = '<div class="row-value"></div><div class="row-sub"></div>';
  const by = cell(tr, "col-by");
  by.innerHTML = '<div class="row-by"></div><div class="row-sub"></div>';
  return tr;
}

function patchIncident(tr, inc, shelvedView) {
  const key = JSON.stringify(inc) + (shelvedView ? "s" : "");
  if (tr._key === key) return;
  tr._key = key;
  const css = "incident-row prio-" + inc.prio + " state-" + inc.state +
    (inc.active ? "" : " row-cleared");
  if (tr.className !== css) tr.className = css;
  const c = tr.children;
  const box = c[0].firstChild;
  box.setAttribute("aria-label", inc.select_label || inc.key);
  setText(c[1], inc.prio_label);
  setText(c[2], inc.state_label);
  const link = c[3].firstChild;
  setText(link, inc.asset);
  if (inc.asset.indexOf("SYS-") !== 0) link.setAttribute("href", "/asset/" + inc.asset);
  setText(c[3].lastChild, inc.name);
  const head = c[4].firstChild;
  setText(head.children[1], inc.alarm);
  setText(head.children[2], inc.related);
  setText(c[4].lastChild, [inc.cause, inc.action].filter(Boolean).join(" → "));
  setText(c[5], inc.raised);
  setText(c[6].firstChild, inc.value);
  setText(c[6].lastChild, inc.limit);
  setText(c[7].firstChild, inc.acked);
  setText(c[7].lastChild, inc.flood);
}

function toggleIncident(C, key) {
  const inc = C.incidents.get(key);
  if (!inc) return;
  const open = !C.expanded.has(key);
  if (open) C.expanded.add(key);
  else C.expanded.delete(key);
  for (const id of inc.members) {
    const tr = C.rows.get(id);
    if (tr && tr.dataset.memberOf === key) tr.hidden = !open;
  }
  syncBoxes(C);
}

// Every box says what is selected; an incident's box is ticked when all its members are,
// half-ticked when some are. The incident's toggle says whether it is open.
function syncBoxes(C) {
  for (const [id, tr] of C.rows) {
    const box = tr.firstChild.firstChild;
    const ticked = C.selected.has(id);
    if (box.checked !== ticked) box.checked = ticked;
  }
  for (const [key, inc] of C.incidents) {
    const box = inc.tr.firstChild.firstChild;
    const n = inc.members.filter(function (id) { return C.selected.has(id); }).length;
    const all = n > 0 && n === inc.members.length;
    if (box.checked !== all) box.checked = all;
    box.indeterminate = n > 0 && !all;
    const open = C.expanded.has(key);
    const toggle = inc.tr.querySelector(".incident-toggle");
    if (toggle) {
      const state = open ? "true" : "false";
      if (toggle.getAttribute("aria-expanded") !== state) toggle.setAttribute("aria-expanded", state);
      const label = (open ? C.labels.collapse : C.labels.expand) || "";
      if (toggle.getAttribute("aria-label") !== label) toggle.setAttribute("aria-label", label);
    }
    inc.tr.classList.toggle("incident-open", open);
  }
}

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

function patchRow(tr, r, shelvedView, member) {
  // member: the key of the incident this row is shown under ("" when on its own)
  const key = JSON.stringify(r) + (shelvedView ? "s" : "") + "|" + (member || "");
  if (tr._key === key) return;
  tr._key = key;
  const css = "prio-" + r.prio + " state-" + r.state + (r.active ? "" : " row-cleared") +
    (member ? " incident-member" : "");
  if (tr.className !== css) tr.className = css;
  if (member) tr.dataset.memberOf = member;
  else delete tr.dataset.memberOf;
  const c = tr.children;
  setText(c[1], r.prio_label);
  setText(c[2], r.state_label);
  const link = c[3].firstChild;
  setText(link, r.asset);
  if (r.asset.indexOf("SYS-") !== 0) link.setAttribute("href", "/asset/" + r.asset);
  setText(c[3].lastChild, r.name);
  setText(c[4].firstChild.firstChild, r.alarm);
  const tag = c[4].firstChild.lastChild;
  setText(tag, r.first || "");
  tag.hidden = !r.first;
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

// The header on a phone is one line (menu button, title, alarm counter): the menu button
// opens the rest (navigation, who is signed in, language) below it, and following a link
// closes it again. Plain DOM: the header lives outside the pages, no server round trip.
(function () {
  document.addEventListener("click", function (event) {
    const target = event.target;
    if (!target || !target.closest) return;
    const header = document.getElementById("app-header");
    if (!header) return;
    const button = document.getElementById("menu-toggle");
    let open;
    if (target.closest("#menu-toggle")) open = !header.classList.contains("menu-open");
    else if (target.closest("#nav a")) open = false;
    else return;
    header.classList.toggle("menu-open", open);
    if (button) button.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
