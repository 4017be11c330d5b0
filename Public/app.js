// Parley web client: plain JavaScript, no build step, no external resources.
// Talks REST for accounts, rooms and history, and the native /ws protocol for
// everything live. See docs/PROTOCOL.md.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
};

// ---------- State ----------

const state = {
  token: sessionStorage.getItem("parley.token"),
  me: null,
  rooms: new Map(),          // id -> room (wire shape, plus lastText)
  current: null,             // id of the open room, or {draftTo: user} for a new direct conversation
  messages: new Map(),       // roomId -> Map(seq -> message)
  hasMore: new Map(),        // roomId -> bool (older history exists)
  others: new Map(),         // roomId -> {delivered, read}: highest cursors of other members
  pending: [],               // outgoing messages not yet acknowledged: {roomId?, toUserId?, text, clientId}
  participants: [],
  typing: new Map(),         // roomId -> Map(userId -> {name, timer})
  ws: null, ready: false, retry: 0, retryTimer: null,
  acks: new Map(), nextId: 1,
  hangout: { page: 1, selected: null, applying: false },
};

const HANGOUT_ITEMS = 60, HANGOUT_PAGE = 20;

// ---------- UI helpers ----------

let bannerTimer = null;
function banner(text, isError = false, sticky = false) {
  const b = $("banner");
  b.textContent = text;
  b.classList.toggle("error-banner", isError);
  b.hidden = false;
  clearTimeout(bannerTimer);
  if (!sticky) bannerTimer = setTimeout(() => { b.hidden = true; }, 5000);
}
function clearBanner() { $("banner").hidden = true; }

function explain(error) {
  const code = error && error.code;
  if (code === "rate_limited") return `You are sending too fast. Try again in ${Math.ceil((error.retryAfterMs || 1000) / 1000)} s.`;
  if (code === "forbidden") return "You are not a member of this room.";
  if (code === "not_found") return "That room or person no longer exists.";
  if (code === "unavailable") return "The server cannot reach its database right now. Retrying helps.";
  if (code === "too_large") return "That is too large to send.";
  return (error && error.message) || "Something went wrong.";
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
const dayKey = (d) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
function lastSeen(iso) {
  if (!iso) return "";
  const minutes = Math.round((Date.now() - new Date(iso)) / 60000);
  if (minutes < 1) return "seen just now";
  if (minutes < 60) return `seen ${minutes} min ago`;
  if (minutes < 1440) return `seen ${Math.round(minutes / 60)} h ago`;
  return `seen ${new Date(iso).toLocaleDateString()}`;
}

// ---------- REST ----------

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const error = data.error || { code: "internal", message: res.statusText };
    if (res.status === 401 && state.token && path !== "/api/auth/login") signOut("Your session ended. Please sign in again.");
    throw error;
  }
  return data;
}

// ---------- Auth ----------

let registering = false;
function setAuthMode(register) {
  registering = register;
  $("tab-login").setAttribute("aria-selected", String(!register));
  $("tab-register").setAttribute("aria-selected", String(register));
  $("display-row").hidden = !register;
  $("auth-submit").textContent = register ? "Create account" : "Sign in";
  $("auth-password").autocomplete = register ? "new-password" : "current-password";
  $("auth-error").textContent = "";
}

async function submitAuth(event) {
  event.preventDefault();
  const username = $("auth-username").value.trim();
  const password = $("auth-password").value;
  const body = { username, password };
  if (registering && $("auth-display").value.trim()) body.displayName = $("auth-display").value.trim();
  $("auth-submit").disabled = true;
  try {
    const result = await api("POST", registering ? "/api/auth/register" : "/api/auth/login", body);
    state.token = result.token;
    sessionStorage.setItem("parley.token", result.token);
    state.me = result.user;
    startApp();
  } catch (error) {
    $("auth-error").textContent = explain(error);
  } finally {
    $("auth-submit").disabled = false;
  }
}

function signOut(message) {
  sessionStorage.removeItem("parley.token");
  state.token = null;
  state.me = null;
  clearTimeout(state.retryTimer);
  if (state.ws) { state.ws.onclose = null; state.ws.close(); }
  state.ws = null;
  $("app-view").hidden = true;
  $("auth-view").hidden = false;
  if (message) $("auth-error").textContent = message;
}

// ---------- Socket ----------

function connect() {
  clearTimeout(state.retryTimer);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws`);
  state.ws = ws;
  state.ready = false;
  setConnection("Connecting…", "");
  ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: state.token }));
  ws.onmessage = (event) => { try { handleFrame(JSON.parse(event.data)); } catch (e) { console.error(e); } };
  ws.onclose = (event) => {
    state.ready = false;
    for (const { reject } of state.acks.values()) reject({ code: "unavailable", message: "connection lost" });
    state.acks.clear();
    if (event.code === 4401) { signOut("Your session ended. Please sign in again."); return; }
    const delay = Math.min(30000, 1000 * 2 ** state.retry) * (0.75 + Math.random() / 2);
    state.retry += 1;
    setConnection(`Offline, retrying in ${Math.round(delay / 1000)} s`, "offline");
    banner(`Connection lost. Retrying in ${Math.round(delay / 1000)} s; your messages wait and will be sent.`, true, true);
    state.retryTimer = setTimeout(connect, delay);
  };
}

function setConnection(text, cls) {
  const c = $("connection");
  c.textContent = text;
  c.className = `connection ${cls}`;
}

function request(type, data = {}) {
  return new Promise((resolve, reject) => {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN || !state.ready) {
      reject({ code: "unavailable", message: "offline" });
      return;
    }
    const id = String(state.nextId++);
    const timer = setTimeout(() => { state.acks.delete(id); reject({ code: "unavailable", message: "no answer" }); }, 15000);
    state.acks.set(id, { resolve: (v) => { clearTimeout(timer); resolve(v); }, reject: (e) => { clearTimeout(timer); reject(e); } });
    state.ws.send(JSON.stringify({ type, id, data }));
  });
}

function fire(type, data) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN && state.ready) state.ws.send(JSON.stringify({ type, data }));
}

function handleFrame(frame) {
  const d = frame.data || {};
  switch (frame.type) {
    case "ack": {
      const waiter = state.acks.get(String(frame.id));
      if (!waiter) return;
      state.acks.delete(String(frame.id));
      frame.ok ? waiter.resolve(frame.data) : waiter.reject(frame.error);
      return;
    }
    case "ready":
      state.me = d.user;
      $("me").textContent = d.user.displayName;
      $("my-status").value = d.user.status === "offline" ? "online" : d.user.status;
      for (const room of d.rooms) mergeRoom(room);
      renderRooms();
      return;
    case "message:new": received(d.message); return;
    case "sync:done":
      state.ready = true;
      state.retry = 0;
      setConnection("Online", "online");
      clearBanner();
      flushPending();
      if (typeof state.current === "string") openRoom(state.current, { keepScroll: true });
      return;
    case "message:status": statusChanged(d); return;
    case "typing": typingChanged(d); return;
    case "presence": presenceChanged(d); return;
    case "room:user:joined":
    case "room:user:left":
      if (d.roomId === state.current) loadParticipants(d.roomId);
      return;
    case "room:activity": activityReceived(d); return;
    case "error": banner(explain(frame.error), true); return;
  }
}

// ---------- Rooms ----------

function mergeRoom(room) {
  const known = state.rooms.get(room.id) || {};
  state.rooms.set(room.id, { ...known, ...room });
}

function roomLabel(room) {
  if (room.kind !== "direct" || !state.me) return room.name;
  const others = room.name.split(", ").filter((n) => n !== state.me.username);
  return others[0] || room.name;
}

function renderRooms() {
  const list = $("room-list");
  list.replaceChildren();
  const rooms = [...state.rooms.values()].filter((r) => r.readSeq !== undefined)
    .sort((a, b) => (b.lastActivity || b.createdAt).localeCompare(a.lastActivity || a.createdAt));
  for (const room of rooms) {
    const unread = Math.max(0, (room.lastSeq || 0) - (room.readSeq || 0));
    const label = roomLabel(room);
    const button = el("button", {
      type: "button", "data-room": room.id, "aria-current": room.id === state.current ? "true" : "false",
      "aria-label": `${label}${unread ? `, ${unread} unread` : ""}`, onclick: () => openRoom(room.id),
    },
      el("span", { class: "room-name" }, label, room.kind !== "group" ? el("span", { class: "kind-tag", text: room.kind === "event" ? "event" : "direct" }) : null),
      unread ? el("span", { class: "badge", "data-unread": String(unread), text: String(unread) }) : el("span"),
      el("span", { class: "room-preview", text: room.lastText || room.topic || "" }));
    list.append(el("li", {}, button));
  }
}

async function openRoom(roomId, { keepScroll = false } = {}) {
  state.current = roomId;
  document.querySelector(".app").classList.remove("show-sidebar");
  const room = state.rooms.get(roomId);
  $("chat-title").textContent = room ? roomLabel(room) : "Room";
  $("chat-topic").textContent = room && room.topic ? room.topic : "";
  $("composer-input").disabled = false;
  $("send").disabled = false;
  setupHangout(room);
  renderRooms();
  renderTyping();
  try {
    const page = await api("GET", `/api/messages/room/${roomId}?limit=50`);
    if (state.current !== roomId) return;
    const map = state.messages.get(roomId) || new Map();
    for (const m of page.messages) map.set(m.seq, m);
    state.messages.set(roomId, map);
    if (!state.hasMore.has(roomId) || !keepScroll) state.hasMore.set(roomId, page.hasMore);
    renderMessages({ toBottom: true });
    await loadStatus(roomId);
    markRead(roomId);
  } catch (error) {
    banner(explain(error), true);
  }
  loadParticipants(roomId);
}

/// The read and delivered marks of my latest message, to start the ticks from.
async function loadStatus(roomId) {
  const mine = [...(state.messages.get(roomId) || new Map()).values()].filter((m) => state.me && m.senderId === state.me.id);
  const latest = mine[mine.length - 1];
  if (!latest) return;
  try {
    const s = await api("GET", `/api/messages/${latest.id}/status`);
    const others = state.others.get(roomId) || { delivered: 0, read: 0 };
    if (s.deliveredTo.length) others.delivered = Math.max(others.delivered, s.seq);
    if (s.readBy.length) others.read = Math.max(others.read, s.seq);
    state.others.set(roomId, others);
    renderMessages({});
  } catch { /* ticks start from the pushes instead */ }
}

async function loadOlder() {
  const roomId = state.current;
  if (typeof roomId !== "string" || !state.hasMore.get(roomId)) return;
  const map = state.messages.get(roomId);
  const first = Math.min(...map.keys());
  const list = $("messages");
  const before = list.scrollHeight - list.scrollTop;
  state.hasMore.set(roomId, false);
  try {
    const page = await api("GET", `/api/messages/room/${roomId}?before=${first}&limit=50`);
    for (const m of page.messages) map.set(m.seq, m);
    state.hasMore.set(roomId, page.hasMore);
    renderMessages({});
    list.scrollTop = list.scrollHeight - before;
  } catch (error) {
    state.hasMore.set(roomId, true);
    banner(explain(error), true);
  }
}

function tickFor(roomId, m) {
  if (m.state === "queued") return ["queued", "⏳", "Waiting to send"];
  const others = state.others.get(roomId) || { delivered: 0, read: 0 };
  if (others.read >= m.seq) return ["read", "✓✓", "Read"];
  if (others.delivered >= m.seq) return ["delivered", "✓✓", "Delivered"];
  return ["sent", "✓", "Sent"];
}

function renderMessages({ toBottom = false }) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren();
  const roomId = typeof state.current === "string" ? state.current : null;
  const stored = roomId ? [...(state.messages.get(roomId) || new Map()).values()].sort((a, b) => a.seq - b.seq) : [];
  const queued = state.pending.filter((p) => (roomId && p.roomId === roomId) || (!roomId && state.current && p.toUserId === state.current.draftTo.id))
    .map((p) => ({ ...p, senderId: state.me.id, senderName: state.me.displayName, createdAt: p.createdAt, state: "queued" }));
  if (roomId && state.hasMore.get(roomId)) {
    list.append(el("li", { class: "older" }, el("button", { type: "button", id: "load-older", onclick: loadOlder, text: "Load older messages" })));
  }
  let lastDay = null;
  for (const m of [...stored, ...queued]) {
    const when = new Date(m.createdAt);
    if (dayKey(when) !== lastDay) {
      lastDay = dayKey(when);
      list.append(el("li", { class: "day", role: "separator", text: dayFmt.format(when) }));
    }
    const mine = state.me && m.senderId === state.me.id;
    const [tickState, tick, tickLabel] = mine ? tickFor(roomId, m) : [null];
    list.append(el("li", { class: `message${mine ? " mine" : ""}`, "data-seq": m.seq, "data-client-id": m.clientId, "data-state": tickState },
      mine ? null : el("div", { class: "from", text: m.senderName }),
      el("div", { class: "text", text: m.text }),
      el("div", { class: "meta" }, el("time", { datetime: m.createdAt, text: timeFmt.format(when) }),
        mine ? el("span", { class: "tick", "aria-label": tickLabel, title: tickLabel, text: tick }) : null)));
  }
  if (toBottom || atBottom) list.scrollTop = list.scrollHeight;
}

function received(message) {
  const room = state.rooms.get(message.roomId);
  // The open room keeps it even before its history has loaded (a message arriving
  // while the first page is in flight): openRoom merges the page into this same map.
  // Other rooms load their latest page when opened.
  let map = state.messages.get(message.roomId);
  if (!map && message.roomId === state.current) state.messages.set(message.roomId, map = new Map());
  if (map) map.set(message.seq, message);
  if (room) {
    room.lastSeq = Math.max(room.lastSeq || 0, message.seq);
    room.lastText = `${message.senderName}: ${message.text}`;
    room.lastActivity = message.createdAt;
    if (state.me && message.senderId === state.me.id) room.readSeq = Math.max(room.readSeq || 0, message.seq);
  } else {
    // A room we did not know: a new direct conversation or a room joined elsewhere.
    api("GET", `/api/rooms/${message.roomId}`).then((r) => { mergeRoom({ ...r.room, lastText: message.text }); renderRooms(); }).catch(() => {});
  }
  acknowledgeDelivery(message.roomId, message.seq);
  if (message.roomId === state.current) {
    renderMessages({});
    if (document.visibilityState === "visible") markRead(message.roomId);
  }
  typingStopped(message.roomId, message.senderId);
  renderRooms();
}

const deliveredTimers = new Map();
function acknowledgeDelivery(roomId, seq) {
  const room = state.rooms.get(roomId);
  if (room && (room.deliveredSeq || 0) >= seq) return;
  if (room) room.deliveredSeq = seq;
  clearTimeout(deliveredTimers.get(roomId));
  deliveredTimers.set(roomId, setTimeout(() => fire("message:delivered", { roomId, seq: (state.rooms.get(roomId) || { deliveredSeq: seq }).deliveredSeq }), 200));
}

function markRead(roomId) {
  const room = state.rooms.get(roomId);
  if (!room || !room.lastSeq || (room.readSeq || 0) >= room.lastSeq) return;
  room.readSeq = room.lastSeq;
  room.deliveredSeq = Math.max(room.deliveredSeq || 0, room.lastSeq);
  request("message:read", { roomId, seq: room.lastSeq }).catch(() => {});
  renderRooms();
}

function statusChanged({ roomId, userId, deliveredSeq, readSeq }) {
  if (state.me && userId === state.me.id) {
    const room = state.rooms.get(roomId);
    if (room) { room.readSeq = Math.max(room.readSeq || 0, readSeq); renderRooms(); }
    return;
  }
  const others = state.others.get(roomId) || { delivered: 0, read: 0 };
  others.delivered = Math.max(others.delivered, deliveredSeq);
  others.read = Math.max(others.read, readSeq);
  state.others.set(roomId, others);
  if (roomId === state.current) renderMessages({});
}

// ---------- Sending ----------

function newClientId() {
  return (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);
}

async function send(event) {
  event.preventDefault();
  const input = $("composer-input");
  const text = input.value;
  if (!text.trim() || !state.current) return;
  const item = { text, clientId: newClientId(), createdAt: new Date().toISOString() };
  if (typeof state.current === "string") item.roomId = state.current; else item.toUserId = state.current.draftTo.id;
  state.pending.push(item);
  input.value = "";
  stopTyping();
  renderMessages({ toBottom: true });
  await deliver(item);
}

/// Sends one queued message; on a lost connection it stays queued and goes out,
/// with the same clientId (so never twice), after the next sync:done.
async function deliver(item) {
  try {
    const ack = item.roomId
      ? await request("message:send", { roomId: item.roomId, text: item.text, clientId: item.clientId })
      : await request("message:private", { toUserId: item.toUserId, text: item.text, clientId: item.clientId });
    state.pending = state.pending.filter((p) => p.clientId !== item.clientId);
    const m = ack.message;
    if (!state.rooms.has(m.roomId)) {
      const r = await api("GET", `/api/rooms/${m.roomId}`);
      mergeRoom(r.room);
      state.messages.set(m.roomId, new Map());
      state.current = m.roomId;
    }
    received(m);
    if (state.current === m.roomId) openRoomIfDraft(m.roomId);
  } catch (error) {
    if (error.code === "unavailable") {
      // Stays queued. A lost connection flushes it on reconnect; an ack that did not
      // come in time (a slow database) is asked for again with the same clientId,
      // which the server answers with the stored message, never a second copy.
      if (error.message === "no answer") setTimeout(() => { if (state.pending.includes(item)) deliver(item); }, 1000);
      return;
    }
    state.pending = state.pending.filter((p) => p.clientId !== item.clientId);
    renderMessages({});
    banner(explain(error), true);
  }
}

function openRoomIfDraft(roomId) {
  if (typeof state.current === "object" && state.current) openRoom(roomId);
}

function flushPending() {
  for (const item of [...state.pending]) deliver(item);
}

// ---------- Typing ----------

let typingSent = 0, typingIdle = null;
function onComposerInput() {
  if (typeof state.current !== "string") return;
  const now = Date.now();
  if (now - typingSent > 3000) {
    typingSent = now;
    fire("typing", { roomId: state.current, isTyping: true });
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, 4000);
}

function stopTyping() {
  clearTimeout(typingIdle);
  if (typingSent && typeof state.current === "string") fire("typing", { roomId: state.current, isTyping: false });
  typingSent = 0;
}

function typingChanged({ roomId, userId, username, isTyping }) {
  if (!isTyping) { typingStopped(roomId, userId); return; }
  const who = state.typing.get(roomId) || new Map();
  clearTimeout(who.get(userId) && who.get(userId).timer);
  who.set(userId, { name: username, timer: setTimeout(() => typingStopped(roomId, userId), 6000) });
  state.typing.set(roomId, who);
  renderTyping();
}

function typingStopped(roomId, userId) {
  const who = state.typing.get(roomId);
  if (!who || !who.has(userId)) return;
  clearTimeout(who.get(userId).timer);
  who.delete(userId);
  renderTyping();
}

function renderTyping() {
  const who = [...((state.typing.get(state.current) || new Map()).values())].map((w) => w.name);
  $("typing").textContent = who.length === 0 ? "" : who.length === 1 ? `${who[0]} is typing…` : `${who.join(", ")} are typing…`;
}

// ---------- People and presence ----------

async function loadParticipants(roomId) {
  try {
    const r = await api("GET", `/api/rooms/${roomId}`);
    if (state.current !== roomId) return;
    mergeRoom(r.room);
    state.participants = r.participants;
    renderPeople($("participants"), r.participants);
  } catch { /* the room header still works without the list */ }
}

function renderPeople(list, users) {
  list.replaceChildren();
  for (const u of users) {
    const status = u.online ? u.status : "offline";
    const isMe = state.me && u.id === state.me.id;
    const parts = [el("span", { class: `dot ${status}`, "aria-hidden": "true" }), el("span", { text: isMe ? `${u.displayName} (you)` : u.displayName }),
      el("span", { class: "seen", text: u.online ? (status === "online" ? "" : status) : lastSeen(u.lastSeenAt) })];
    if (isMe) {
      list.append(el("li", { class: "self", "data-user": u.id }, ...parts));
      continue;
    }
    list.append(el("li", {}, el("button", {
      type: "button", "data-user": u.id, "data-status": status,
      "aria-label": `${u.displayName} (${status}${!u.online && u.lastSeenAt ? `, ${lastSeen(u.lastSeenAt)}` : ""}), open a direct conversation`,
      onclick: () => openDirect(u),
    }, ...parts)));
  }
}

function presenceChanged({ userId, status, lastSeenAt }) {
  for (const u of state.participants) {
    if (u.id === userId) { u.online = status !== "offline"; u.status = status; u.lastSeenAt = lastSeenAt || u.lastSeenAt; }
  }
  renderPeople($("participants"), state.participants);
}

async function openDirect(user) {
  if (!state.me || user.id === state.me.id) return;
  try {
    const c = await api("GET", `/api/messages/conversation/${state.me.id}/${user.id}?limit=1`);
    if (c.roomId) {
      if (!state.rooms.has(c.roomId)) mergeRoom((await api("GET", `/api/rooms/${c.roomId}`)).room);
      openRoom(c.roomId);
      return;
    }
    state.current = { draftTo: user };
    $("chat-title").textContent = user.displayName;
    $("chat-topic").textContent = "New direct conversation: your first message opens it.";
    $("hangout").hidden = true;
    $("composer-input").disabled = false;
    $("send").disabled = false;
    renderMessages({ toBottom: true });
    renderRooms();
    $("composer-input").focus();
  } catch (error) {
    banner(explain(error), true);
  }
}

let searchTimer = null;
function onSearch() {
  clearTimeout(searchTimer);
  const q = $("user-search").value.trim();
  if (!q) { $("search-results").replaceChildren(); return; }
  searchTimer = setTimeout(async () => {
    try {
      const r = await api("GET", `/api/users/search?q=${encodeURIComponent(q)}&limit=10`);
      renderPeople($("search-results"), r.users);
    } catch (error) { banner(explain(error), true); }
  }, 250);
}

// ---------- Creating and browsing rooms ----------

function openRoomDialog() {
  $("room-form").reset();
  $("event-times").hidden = true;
  $("room-error").textContent = "";
  $("room-dialog").showModal();
  $("room-name").focus();
}

async function createRoom(event) {
  event.preventDefault();
  const kind = document.querySelector("input[name=kind]:checked").value;
  const body = { name: $("room-name").value.trim(), private: $("room-private").checked };
  if ($("room-topic").value.trim()) body.topic = $("room-topic").value.trim();
  if (kind === "event") {
    if ($("room-starts").value) body.startsAt = new Date($("room-starts").value).toISOString();
    if ($("room-ends").value) body.endsAt = new Date($("room-ends").value).toISOString();
  }
  try {
    const r = await api("POST", kind === "event" ? "/api/events" : "/api/rooms", body);
    const room = r.room || r.event;
    mergeRoom(room);
    state.messages.set(room.id, new Map());
    $("room-dialog").close();
    openRoom(room.id);
  } catch (error) {
    $("room-error").textContent = explain(error);
  }
}

async function openBrowse() {
  const list = $("browse-list");
  list.replaceChildren(el("li", { text: "Loading…" }));
  $("browse-dialog").showModal();
  try {
    const r = await api("GET", "/api/rooms");
    list.replaceChildren();
    const rooms = r.rooms.filter((room) => room.kind !== "direct");
    if (!rooms.length) list.append(el("li", { text: "No public rooms yet: create one." }));
    for (const room of rooms) {
      const member = room.readSeq !== undefined;
      list.append(el("li", { "data-room": room.id },
        el("span", {}, el("strong", { text: room.name }), room.kind === "event" ? el("span", { class: "kind-tag", text: "event" }) : null,
          el("span", { class: "hint", text: ` ${room.memberCount} member${room.memberCount === 1 ? "" : "s"}` })),
        el("button", {
          type: "button", class: member ? "" : "primary", "aria-label": `${member ? "Open" : "Join"} ${room.name}`,
          text: member ? "Open" : "Join", onclick: () => joinRoom(room.id),
        })));
    }
  } catch (error) {
    list.replaceChildren(el("li", { class: "error", text: explain(error) }));
  }
}

async function joinRoom(roomId) {
  try {
    const r = await api("POST", `/api/rooms/${roomId}/join`);
    mergeRoom(r.room);
    $("browse-dialog").close();
    openRoom(roomId);
  } catch (error) {
    banner(explain(error), true);
  }
}

// ---------- Hangout (event rooms): shared clicks, scroll and page ----------

function setupHangout(room) {
  const show = room && room.kind === "event";
  $("hangout").hidden = !show;
  if (!show) return;
  state.hangout = { page: 1, selected: null, applying: false };
  renderHangout();
}

function renderHangout() {
  const { page, selected } = state.hangout;
  const pages = Math.ceil(HANGOUT_ITEMS / HANGOUT_PAGE);
  $("hangout-page").textContent = `Page ${page} of ${pages}`;
  $("hangout-prev").disabled = page <= 1;
  $("hangout-next").disabled = page >= pages;
  const list = $("hangout-list");
  list.replaceChildren();
  for (let i = (page - 1) * HANGOUT_PAGE + 1; i <= Math.min(HANGOUT_ITEMS, page * HANGOUT_PAGE); i++) {
    list.append(el("li", {}, el("button", {
      type: "button", "data-item": String(i), "aria-pressed": String(selected === i), text: `Item ${i}`,
      onclick: () => { state.hangout.selected = i; renderHangout(); share("click", { item: i }); },
    })));
  }
}

function share(kind, data) {
  if (state.hangout.applying || typeof state.current !== "string") return;
  request("room:activity", { roomId: state.current, kind, data }).catch((error) => banner(explain(error), true));
}

function changePage(delta) {
  const pages = Math.ceil(HANGOUT_ITEMS / HANGOUT_PAGE);
  state.hangout.page = Math.min(pages, Math.max(1, state.hangout.page + delta));
  renderHangout();
  share("page", { page: state.hangout.page });
}

let scrollTimer = null;
function onHangoutScroll() {
  if (state.hangout.applying) return;
  clearTimeout(scrollTimer);
  scrollTimer = setTimeout(() => share("scroll", { top: Math.round($("hangout-list").scrollTop) }), 120);
}

function activityReceived({ roomId, kind, data }) {
  if (roomId !== state.current || $("hangout").hidden || !data) return;
  state.hangout.applying = true;
  try {
    if (kind === "click" && Number.isInteger(data.item)) {
      state.hangout.selected = data.item;
      state.hangout.page = Math.ceil(data.item / HANGOUT_PAGE);
      renderHangout();
    } else if (kind === "page" && Number.isInteger(data.page)) {
      state.hangout.page = data.page;
      renderHangout();
    } else if (kind === "scroll" && typeof data.top === "number") {
      $("hangout-list").scrollTop = data.top;
    }
  } finally {
    setTimeout(() => { state.hangout.applying = false; }, 50);
  }
}

// ---------- Start ----------

async function startApp() {
  $("auth-view").hidden = true;
  $("app-view").hidden = false;
  // On a phone the room list comes first, until a room is opened.
  if (!state.current) document.querySelector(".app").classList.add("show-sidebar");
  try {
    if (!state.me) state.me = (await api("GET", "/api/auth/profile")).user;
  } catch {
    return;
  }
  $("me").textContent = state.me.displayName;
  connect();
}

function wire() {
  $("tab-login").addEventListener("click", () => setAuthMode(false));
  $("tab-register").addEventListener("click", () => setAuthMode(true));
  $("auth-form").addEventListener("submit", submitAuth);
  $("logout").addEventListener("click", () => signOut());
  $("composer").addEventListener("submit", send);
  $("composer-input").addEventListener("input", onComposerInput);
  $("composer-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("messages").addEventListener("scroll", () => { if ($("messages").scrollTop < 40) loadOlder(); });
  $("new-room").addEventListener("click", openRoomDialog);
  $("room-cancel").addEventListener("click", () => $("room-dialog").close());
  $("room-form").addEventListener("submit", createRoom);
  for (const radio of document.querySelectorAll("input[name=kind]")) {
    radio.addEventListener("change", () => { $("event-times").hidden = radio.value !== "event" || !radio.checked; });
  }
  $("browse").addEventListener("click", openBrowse);
  $("browse-close").addEventListener("click", () => $("browse-dialog").close());
  $("user-search").addEventListener("input", onSearch);
  $("my-status").addEventListener("change", () => request("presence:set", { status: $("my-status").value }).catch((e) => banner(explain(e), true)));
  $("hangout-prev").addEventListener("click", () => changePage(-1));
  $("hangout-next").addEventListener("click", () => changePage(1));
  $("hangout-list").addEventListener("scroll", onHangoutScroll);
  $("show-rooms").addEventListener("click", () => document.querySelector(".app").classList.toggle("show-sidebar"));
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible" && typeof state.current === "string") markRead(state.current); });
}

wire();
if (state.token) startApp();
