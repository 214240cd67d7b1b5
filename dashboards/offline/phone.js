// The technician's phone (/m/): My work, one order, an asset's open orders — drawn from the
// JSON API (/m/api), working without a network.
//
// Every action goes into a local queue (IndexedDB) with an idempotency key and the order
// version the technician saw, then the queue is sent in order. A retry after a lost answer
// sends the same key: the server applies it once. A 409 (the order was reassigned or closed
// meanwhile) is kept and shown with the server's words, never sent again and never
// overwriting the server. Orders read while online are kept in IndexedDB so they open offline.
"use strict";

const DB_NAME = "facility-phone";
const WORK_STATES = ["hold", "record", "labour", "part", "photo", "signature", "complete"];
const MAX_PHOTO_PX = 1600; // resized on the device: a 12 MP photo becomes ~300 KB
let db = null;
let syncing = false;
let current = null; // {kind: "mywork"|"order"|"asset", id}
let shownOrder = null;

// ---- storage ------------------------------------------------------------------------------

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      const d = request.result;
      d.createObjectStore("queue", { keyPath: "id", autoIncrement: true });
      d.createObjectStore("orders", { keyPath: "number" });
      d.createObjectStore("lists", { keyPath: "name" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function tx(store, mode, work) {
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const result = work(t.objectStore(store));
    t.oncomplete = () => resolve(result && "result" in result ? result.result : result);
    t.onerror = () => reject(t.error);
  });
}

const put = (store, value) => tx(store, "readwrite", (s) => s.put(value));
const get = (store, key) => tx(store, "readonly", (s) => s.get(key));
const del = (store, key) => tx(store, "readwrite", (s) => s.delete(key));
const all = (store) => tx(store, "readonly", (s) => s.getAll());

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function csrf() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("_csrf_token="));
  return found ? decodeURIComponent(found.slice("_csrf_token=".length)) : "";
}

// ---- reading: network first, the kept copy offline ----------------------------------------

async function readJson(path, store, key) {
  try {
    const response = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) { signedOut(); throw new Error("signed out"); }
    const body = await response.json();
    if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), { shown: true });
    await put(store, { ...(store === "orders" ? body.order : body), [store === "orders" ? "number" : "name"]: key, savedAt: Date.now() });
    return { data: store === "orders" ? body.order : body, fresh: true };
  } catch (error) {
    if (error.shown) throw error;
    const kept = await get(store, key);
    if (!kept) throw new Error("Offline and not kept on this phone yet · 离线且本机无缓存");
    return { data: kept, fresh: false };
  }
}

// ---- the queue ----------------------------------------------------------------------------

async function enqueue(number, action, fields, blob) {
  const order = await get("orders", number);
  const entry = {
    key: newKey(), number, action, fields: fields || {}, blob: blob || null,
    base: order ? order.version : null, state: "pending", queuedAt: Date.now(),
  };
  await put("queue", entry);
  await showQueue();
  if (current && current.kind === "order" && current.id === number) await render();
  sync();
}

async function pending() {
  return (await all("queue")).filter((e) => e.state === "pending").sort((a, b) => a.id - b.id);
}

async function sync() {
  if (syncing) return;
  syncing = true;
  let changed = false;
  try {
    for (;;) {
      const queue = await pending();
      if (!queue.length) break;
      const entry = queue[0];
      let response;
      try {
        response = await send(entry);
      } catch (networkDown) {
        break; // offline: keep everything, try again when the network is back
      }
      if (response.status === 401) { signedOut(); break; }
      let body = {};
      try { body = await response.json(); } catch (_) { body = { error: response.statusText }; }
      changed = true;
      if (response.ok) {
        await del("queue", entry.id);
        const version = body.version;
        if (body.order) await put("orders", { ...body.order, savedAt: Date.now() });
        // later entries of this order were queued against the version this one saw: they
        // follow on from the version it produced (our own change is not a conflict)
        for (const later of await pending()) {
          if (later.number === entry.number && later.base === entry.base) {
            later.base = version;
            await put("queue", later);
          }
        }
      } else {
        const kind = response.status === 409 ? "conflict" : "refused";
        await put("queue", { ...entry, blob: null, state: kind, error: body.error || String(response.status) });
        if (body.order) await put("orders", { ...body.order, savedAt: Date.now() });
        // what followed this change on the same order cannot be applied blindly either
        for (const later of await pending()) {
          if (later.number === entry.number) {
            await put("queue", { ...later, blob: null, state: kind,
              error: `not sent: an earlier change of ${entry.number} was not applied · 前一操作未被接受` });
          }
        }
      }
    }
  } finally {
    syncing = false;
    await showQueue();
    if (changed) await render();
  }
}

function send(entry) {
  const headers = { "X-CSRFToken": csrf() };
  if (entry.blob) {
    const q = new URLSearchParams({ kind: entry.action, key: entry.key });
    if (entry.base !== null && entry.base !== undefined) q.set("version", entry.base);
    if (entry.fields.item) q.set("item", entry.fields.item);
    headers["Content-Type"] = entry.blob.type || "application/octet-stream";
    return fetch(`/m/api/orders/${encodeURIComponent(entry.number)}/attachments?${q}`,
      { method: "POST", headers, body: entry.blob, credentials: "same-origin" });
  }
  headers["Content-Type"] = "application/json";
  const body = JSON.stringify({ key: entry.key, version: entry.base, action: entry.action, ...entry.fields });
  return fetch(`/m/api/orders/${encodeURIComponent(entry.number)}/actions`,
    { method: "POST", headers, body, credentials: "same-origin" });
}

async function showQueue() {
  const entries = await all("queue");
  const waiting = entries.filter((e) => e.state === "pending").length;
  document.getElementById("ph-queue").textContent =
    waiting ? `${waiting} to sync · 待同步` : "";
  const problems = document.getElementById("ph-problems");
  problems.replaceChildren(...entries.filter((e) => e.state !== "pending").map((e) => {
    const box = el("div", { className: "ph-problem", "data-state": e.state });
    const title = e.state === "conflict" ? "Conflict · 冲突" : "Not accepted · 未被接受";
    box.append(el("b", {}, `${title}: ${e.number} ${e.action}`), el("div", {}, e.error || ""));
    const dismiss = el("button", { className: "ph-btn alt" }, "OK · 知道了");
    dismiss.onclick = async () => { await del("queue", e.id); await showQueue(); };
    box.append(dismiss);
    return box;
  }));
}

function signedOut() {
  const problems = document.getElementById("ph-problems");
  if (document.getElementById("ph-signin")) return;
  const link = el("a", { id: "ph-signin", href: `/login?next=${encodeURIComponent(location.pathname)}` },
    "Signed out: sign in again — your changes stay on this phone · 请重新登录，未同步的操作已保留");
  problems.prepend(el("div", { className: "ph-problem" }, link));
}

// ---- small DOM helpers --------------------------------------------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k.startsWith("data-") || k === "for" || k === "accept" || k === "capture") node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function button(label, onclick, className = "ph-btn", id = "") {
  const b = el("button", { className, type: "button" }, label);
  if (id) b.id = id;
  b.onclick = onclick;
  return b;
}

function dueText(order) {
  const left = Math.round((new Date(order.due).getTime() - Date.now()) / 60000);
  const span = (m) => (Math.abs(m) >= 1440 ? `${Math.floor(Math.abs(m) / 1440)} d ${Math.floor((Math.abs(m) % 1440) / 60)} h`
    : `${Math.floor(Math.abs(m) / 60)} h ${Math.abs(m) % 60} min`);
  const text = left >= 0 ? `${span(left)} left · 剩余` : `overdue ${span(left)} · 已超时`;
  return el("span", { className: left >= 0 ? "ph-countdown" : "ph-countdown ph-late" }, text);
}

// ---- views --------------------------------------------------------------------------------

function route() {
  const path = location.pathname;
  let m = path.match(/^\/m\/order\/([^/]+)$/);
  if (m) return { kind: "order", id: decodeURIComponent(m[1]) };
  m = path.match(/^\/m\/asset\/([^/]+)$/);
  if (m) return { kind: "asset", id: decodeURIComponent(m[1]) };
  return { kind: "mywork", id: "mywork" };
}

async function render() {
  current = route();
  const main = document.getElementById("ph-main");
  try {
    if (current.kind === "order") await renderOrder(main, current.id);
    else if (current.kind === "asset") await renderList(main, `/m/api/assets/${encodeURIComponent(current.id)}/orders`, `asset:${current.id}`, current.id);
    else await renderList(main, "/m/api/mywork", "mywork", "My work · 我的工单");
  } catch (error) {
    main.replaceChildren(el("p", { className: "ph-problem", id: "ph-error" }, String(error.message || error)));
  }
}

async function renderList(main, path, key, heading) {
  main.dataset.order = "";
  const { data, fresh } = await readJson(path, "lists", key);
  const cards = data.orders.map((o) => el("a", { className: `ph-card prio-${o.priority}`, href: `/m/order/${o.number}`, "data-number": o.number },
    el("div", { className: "ph-number" }, `${o.number} · ${o.asset_no}`),
    el("div", { className: "ph-title" }, `${o.title_en}${o.title_zh && o.title_zh !== o.title_en ? " · " + o.title_zh : ""}`),
    el("div", { className: "ph-meta" },
      el("span", { className: "ph-tag" }, o.priority), el("span", { className: "ph-tag" }, o.state),
      el("span", { className: "ph-tag" }, o.mine ? "mine · 我的" : o.assignee ? o.assignee : "unassigned · 未分配")),
    el("div", { className: "ph-meta ph-due" }, `Due · 完成时限 ${o.due_local} — `, dueText(o))));
  main.replaceChildren(el("h1", {}, heading),
    fresh ? "" : el("p", { className: "ph-pending" }, "Offline: as last read · 离线：显示上次读取的内容"),
    cards.length ? el("div", { id: "ph-list" }, ...cards) : el("p", { id: "ph-list" }, "Nothing to do · 暂无工单"));
  if (fresh && navigator.onLine) {
    // keep every listed order on the phone, so each opens in the basement too
    for (const o of data.orders) readJson(`/m/api/orders/${encodeURIComponent(o.number)}`, "orders", o.number).catch(() => {});
  }
}

function optimistic(order, queued) {
  // what the technician did here and the server has not answered yet
  const view = JSON.parse(JSON.stringify(order));
  view.pendingItems = {};
  view.pendingCount = queued.length;
  for (const e of queued) {
    if (e.action === "start") { view.state = "in_progress"; view.allowed = WORK_STATES.slice(); }
    if (e.action === "hold") { view.state = "on_hold"; view.allowed = ["start"]; }
    if (e.action === "decline") { view.state = "open"; view.assignee = null; view.allowed = []; }
    if (e.action === "complete") { view.state = "completed"; view.allowed = []; }
    if (e.action === "record") view.pendingItems[e.fields.position] = e.fields.answer;
    if (e.action === "photo" && e.fields.item) view.pendingItems[e.fields.item] = "photo";
  }
  return view;
}

async function renderOrder(main, number) {
  const { data, fresh } = await readJson(`/m/api/orders/${encodeURIComponent(number)}`, "orders", number);
  const queued = (await pending()).filter((e) => e.number === number);
  const o = optimistic(data, queued);
  shownOrder = o;
  const can = (a) => o.allowed.includes(a);
  const act = (action, fields, blob) => enqueue(number, action, fields, blob);
  const parts = [
    el("a", { href: "/m/", className: "ph-back" }, "← My work · 我的工单"),
    el("div", { className: "ph-number" }, `${o.number} · ${o.asset_no} · ${o.kind}`),
    el("h1", { className: "ph-title" }, o.title_en + (o.title_zh && o.title_zh !== o.title_en ? ` · ${o.title_zh}` : "")),
    el("div", { className: "ph-meta" }, el("span", { className: "ph-tag" }, o.priority),
      el("span", { className: "ph-tag", id: "ph-state" }, o.state),
      ` ${o.assignee || "unassigned · 未分配"}`),
    el("div", { className: "ph-meta ph-due" }, `Due · 完成时限 ${o.due_local} — `, dueText(o)),
    fresh ? null : el("p", { className: "ph-pending" }, "Offline: as last read · 离线：显示上次读取的内容"),
    queued.length ? el("p", { className: "ph-pending", id: "ph-waiting" }, `${queued.length} change(s) waiting to sync · 待同步`) : null,
    o.description ? el("p", {}, o.description) : null,
  ];
  const actions = el("div", { className: "ph-row" });
  if (can("start")) {
    const label = o.state === "on_hold" ? "Resume · 继续" : o.assignee ? "Start · 开始" : "Accept · 接单";
    actions.append(button(label, () => act("start", {}), "ph-btn", "ph-start"));
  }
  if (can("decline")) {
    const why = el("input", { id: "ph-decline-reason", placeholder: "Why you cannot take it · 退单原因" });
    actions.append(why, button("Decline · 退单", () => {
      if (!why.value.trim()) { why.focus(); return; }
      act("decline", { reason: why.value.trim() });
    }, "ph-btn alt", "ph-decline"));
  }
  if (can("hold")) {
    const reason = el("input", { id: "ph-hold-reason", placeholder: "Reason for hold · 暂停原因" });
    actions.append(reason, button("Hold · 暂停", () => {
      if (!reason.value.trim()) { reason.focus(); return; }
      act("hold", { reason: reason.value.trim() });
    }, "ph-btn alt", "ph-hold"));
  }
  parts.push(actions);
  if (o.checklist.length) parts.push(checklistSection(o, can("record"), act));
  if (can("photo")) parts.push(photoSection(null, act, "ph-photo"));
  if (o.kind === "corrective" && (can("complete") || o.problem_code)) parts.push(codesSection(o, can("complete")));
  if (can("labour")) parts.push(linesSection(o, act));
  if (can("signature") || o.attachments.some((a) => a.kind === "signature")) parts.push(signatureSection(o, can("signature"), act));
  if (can("complete")) parts.push(completeSection(o, act));
  const supervisor = supervisorSection(o, act);
  if (supervisor) parts.push(supervisor);
  parts.push(el("section", { className: "ph-section" }, el("h2", {}, "History · 记录"),
    ...o.events.slice().reverse().map((e) => el("div", { className: "ph-meta" }, `${e.at_local} ${e.actor} ${e.action} ${e.note || ""}`))));
  // what is being typed or picked survives a redraw (a sync can finish mid-sentence)
  const typed = {};
  for (const field of main.querySelectorAll("input[id]:not([type=file]), select[id], textarea[id]")) typed[field.id] = field.value;
  main.replaceChildren(...parts.filter(Boolean));
  if (main.dataset.order === number) {
    for (const [id, value] of Object.entries(typed)) {
      const field = document.getElementById(id);
      if (field && value !== "" && !field.disabled) { field.value = value; if (field.oninput) field.oninput(); }
    }
  }
  main.dataset.order = number;
}

function checklistSection(o, editable, act) {
  const items = o.checklist.map((item) => {
    const box = el("div", { className: "ph-item", id: `ph-item-${item.position}` },
      el("div", {}, `${item.position}. ${item.text_en}${item.text_zh ? " · " + item.text_zh : ""}${item.required ? "" : " (optional · 选填)"}`));
    const waiting = o.pendingItems[item.position];
    if (item.answered) {
      const shown = item.attachment ? "photo ✔" : item.value_num !== null ? `${item.value_num} ${item.unit || ""}` : item.value_text;
      box.append(el("div", { className: item.passed === false ? "ph-bad ph-answer" : "ph-ok ph-answer" },
        `${item.passed === false ? "✘" : "✔"} ${shown || ""}`));
    } else if (waiting !== undefined) {
      box.append(el("div", { className: "ph-pending ph-answer" }, `⏳ ${waiting} — waiting to sync · 待同步`));
    }
    if (!editable || item.answered || waiting !== undefined) return box;
    const record = (answer) => act("record", { position: item.position, answer: String(answer) });
    const row = el("div", { className: "ph-row" });
    if (item.kind === "pass_fail") {
      row.append(button("Pass · 合格", () => record("pass"), "ph-btn pass", `ph-pass-${item.position}`),
        button("Fail · 不合格", () => record("fail"), "ph-btn fail", `ph-fail-${item.position}`));
    } else if (item.kind === "number" || item.kind === "meter") {
      const input = el("input", { type: "number", inputMode: "decimal", step: "any", id: `ph-value-${item.position}`,
        placeholder: item.unit || "" });
      const flag = el("span", { className: "ph-flag", id: `ph-flag-${item.position}` });
      input.oninput = () => {
        const v = parseFloat(input.value);
        const out = !Number.isNaN(v) && ((item.low !== null && v < item.low) || (item.high !== null && v > item.high));
        input.classList.toggle("out", out);
        flag.textContent = out ? `outside ${item.low ?? ""}..${item.high ?? ""} ${item.unit || ""} · 超出范围` : "";
      };
      row.append(input, el("span", {}, item.unit || ""), button("Save · 保存", () => {
        if (input.value.trim() !== "") record(input.value.trim());
      }, "ph-btn", `ph-save-${item.position}`), flag);
      if (item.low !== null || item.high !== null) box.append(el("div", { className: "ph-meta" }, `limits · 范围 ${item.low ?? ""}..${item.high ?? ""} ${item.unit || ""}`));
    } else if (item.kind === "text") {
      const input = el("input", { id: `ph-value-${item.position}`, className: "ph-wide" });
      row.append(input, button("Save · 保存", () => { if (input.value.trim()) record(input.value.trim()); }, "ph-btn", `ph-save-${item.position}`));
    } else if (item.kind === "photo") {
      row.append(photoSection(item.position, act, `ph-photo-${item.position}`));
    }
    box.append(row);
    return box;
  });
  return el("section", { className: "ph-section", id: "ph-checklist" }, el("h2", {}, "Checklist · 检查项"), ...items);
}

function photoSection(position, act, id) {
  const input = el("input", { type: "file", accept: "image/*", capture: "environment", id });
  const status = el("span", { className: "ph-meta" });
  input.onchange = async () => {
    const file = input.files && input.files[0];
    if (!file) return;
    status.textContent = "…";
    try {
      const blob = await resized(file);
      await act("photo", position ? { item: position } : {}, blob);
      status.textContent = `${Math.round(blob.size / 1024)} KB ✔`;
    } catch (error) {
      status.textContent = `Not a usable photo · 照片无法使用: ${error.message || error}`;
    }
  };
  const wrap = el("div", { className: "ph-row" }, el("label", { for: id }, position ? "Photo · 拍照" : "Add a photo · 添加照片"), input, status);
  return position ? wrap : el("section", { className: "ph-section" }, wrap);
}

async function resized(file) {
  // decode and redraw on the device: the upload is a JPEG of at most MAX_PHOTO_PX a side
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_PHOTO_PX / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("encode"))), "image/jpeg", 0.82));
}

function codesSection(o, editable) {
  const pick = (kind, label) => {
    const select = el("select", { id: `ph-code-${kind}`, disabled: !editable },
      el("option", { value: "" }, `${label}…`),
      ...o.codes[kind].map((c) => el("option", { value: c.code, selected: o[`${kind}_code`] === c.code }, `${c.code} ${c.en} · ${c.zh}`)));
    return el("div", { className: "ph-row" }, select);
  };
  return el("section", { className: "ph-section", id: "ph-codes" }, el("h2", {}, "Failure codes · 故障代码"),
    pick("problem", "Problem · 现象"), pick("cause", "Cause · 原因"), pick("remedy", "Remedy · 处理"));
}

function linesSection(o, act) {
  const minutes = el("input", { type: "number", inputMode: "numeric", id: "ph-minutes", placeholder: "min" });
  const note = el("input", { id: "ph-labour-note", placeholder: "Note · 说明" });
  const part = el("input", { id: "ph-part", placeholder: "Part · 配件" });
  const qty = el("input", { type: "number", inputMode: "decimal", id: "ph-qty", value: "1", step: "any" });
  return el("section", { className: "ph-section", id: "ph-lines" }, el("h2", {}, "Labour and parts · 工时与配件"),
    ...o.labour.map((l) => el("div", { className: "ph-meta" }, `${l.technician}: ${l.minutes} min ${l.note}`)),
    ...o.parts.map((p) => el("div", { className: "ph-meta" }, `${p.quantity} ${p.unit} ${p.description}`)),
    el("div", { className: "ph-row" }, minutes, note, button("Add time · 记工时", () => {
      const value = parseInt(minutes.value, 10);
      if (value > 0) { minutes.value = ""; act("labour", { minutes: value, note: note.value }); }
    }, "ph-btn alt", "ph-add-labour")),
    el("div", { className: "ph-row" }, part, qty, button("Add part · 加配件", () => {
      const description = part.value.trim();
      if (description) { part.value = ""; act("part", { description, quantity: parseFloat(qty.value) || 1 }); }
    }, "ph-btn alt", "ph-add-part")));
}

function signatureSection(o, editable, act) {
  const signed = o.attachments.filter((a) => a.kind === "signature");
  const section = el("section", { className: "ph-section", id: "ph-signature" }, el("h2", {}, "Signature · 签名"),
    ...signed.map((a) => el("img", { className: "ph-thumb", src: `/m/api/files/${a.sha256}`, alt: "signature" })));
  if (!editable) return section;
  const canvas = el("canvas", { className: "ph-sig", id: "ph-sig-canvas" });
  let strokes = 0;
  let drawing = false;
  const ctx = () => canvas.getContext("2d");
  const at = (event) => { const r = canvas.getBoundingClientRect(); return [(event.clientX - r.left) * canvas.width / r.width, (event.clientY - r.top) * canvas.height / r.height]; };
  canvas.onpointerdown = (event) => { drawing = true; strokes += 1; canvas.setPointerCapture(event.pointerId); const [x, y] = at(event); ctx().beginPath(); ctx().moveTo(x, y); };
  canvas.onpointermove = (event) => { if (!drawing) return; const [x, y] = at(event); const c = ctx(); c.lineWidth = 3; c.lineCap = "round"; c.lineTo(x, y); c.stroke(); };
  canvas.onpointerup = () => { drawing = false; };
  setTimeout(() => { canvas.width = canvas.clientWidth || 340; canvas.height = canvas.clientHeight || 160; }, 0);
  section.append(canvas, el("div", { className: "ph-row" },
    button("Clear · 清除", () => { strokes = 0; ctx().clearRect(0, 0, canvas.width, canvas.height); }, "ph-btn alt"),
    button("Save signature · 保存签名", () => {
      if (!strokes) return;
      canvas.toBlob((blob) => blob && act("signature", {}, blob), "image/png");
    }, "ph-btn", "ph-save-signature")));
  return section;
}

function completeSection(o, act) {
  const note = el("textarea", { id: "ph-note", className: "ph-wide", placeholder: "What was done · 处理说明" });
  return el("section", { className: "ph-section" }, el("h2", {}, "Complete · 完工"), note,
    el("div", { className: "ph-row" }, button("Complete · 完工", () => {
      const fields = { note: note.value };
      for (const kind of ["problem", "cause", "remedy"]) {
        const select = document.getElementById(`ph-code-${kind}`);
        if (select && select.value) fields[kind] = select.value;
      }
      act("complete", fields);
    }, "ph-btn", "ph-complete")));
}

function supervisorSection(o, act) {
  const can = (a) => o.allowed.includes(a);
  if (!["assign", "verify", "reopen", "close"].some(can)) return null;
  const section = el("section", { className: "ph-section", id: "ph-supervise" }, el("h2", {}, "Supervisor · 主管"));
  if (can("assign")) {
    const who = el("input", { id: "ph-assignee", placeholder: "technician · 技术员", value: o.assignee || "" });
    section.append(el("div", { className: "ph-row" }, who, button("Assign · 派单", () => { if (who.value.trim()) act("assign", { assignee: who.value.trim() }); }, "ph-btn alt", "ph-assign")));
  }
  if (can("verify") || can("close") || o.state === "completed") {
    const proof = o.verification;
    section.append(el("div", { className: "ph-meta", id: "ph-proof" }, proof
      ? `Proof of fix · 修复验证: ${proof.verdict} — ${proof.reason}`
      : "No telemetry proof for this order: check the work and the photos · 无遥测验证，请核查记录与照片"));
    const photos = o.attachments.filter((a) => a.kind === "photo");
    section.append(el("div", {}, ...photos.map((a) => el("img", { className: "ph-thumb", src: `/m/api/files/${a.sha256}`, alt: "photo" }))));
  }
  if (can("verify")) section.append(button("Verify · 验收", () => act("verify", {}), "ph-btn pass", "ph-verify"));
  if (can("close")) section.append(button("Close · 关闭", () => act("close", {}), "ph-btn", "ph-close"));
  if (can("reopen")) {
    const reason = el("input", { id: "ph-reopen-reason", placeholder: "Why reopen · 返工原因" });
    section.append(el("div", { className: "ph-row" }, reason, button("Reopen · 返工", () => { if (reason.value.trim()) act("reopen", { reason: reason.value.trim() }); }, "ph-btn fail", "ph-reopen")));
  }
  return section;
}

// ---- start --------------------------------------------------------------------------------

function showNet() {
  const net = document.getElementById("ph-net");
  net.textContent = navigator.onLine ? "online · 在线" : "offline · 离线";
  net.classList.toggle("off", !navigator.onLine);
}

async function start() {
  db = await openDb();
  showNet();
  window.addEventListener("online", () => { showNet(); sync(); });
  window.addEventListener("offline", showNet);
  document.addEventListener("click", (event) => {
    // links between the phone's own views stay in the page (no network needed)
    const link = event.target.closest && event.target.closest("a[href^='/m/']");
    if (!link || event.defaultPrevented) return;
    event.preventDefault();
    history.pushState(null, "", link.getAttribute("href"));
    render();
  });
  window.addEventListener("popstate", render);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => {});
  await showQueue();
  await render();
  sync();
  setInterval(sync, 15000); // a network that came back without an "online" event
  // the SLA countdowns of the list move on (the list is read again, or its kept copy)
  setInterval(() => { if (current && current.kind !== "order" && !syncing) render(); }, 60000);
}

start();
