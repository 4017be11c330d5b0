// Parley web client: plain JavaScript modules, no build step, no external resources.
// REST for accounts, rooms and history (api.js), the native /ws protocol for
// everything live (socket.js), one state object (store.js), keyed views (views.js).
// This module holds the controllers: what each user action and server frame does.
// See docs/PROTOCOL.md.
import { $, el, banner, clearBanner, explain } from "./dom.js";
import { api, onUnauthorized } from "./api.js";
import * as socket from "./socket.js";
import {
  state, HANGOUT_ITEMS, HANGOUT_PAGE, openRoomId, setToken, mergeRoom, roomLabel, storePage, messageArrived, cursorsMoved, dropPending,
  presenceOf,
} from "./store.js";
import { setActions, setConnection, renderRooms, renderMessages, renderTyping, renderPeople, renderHangout } from "./views.js";
import { wireManage, setManageHooks, handleRoomPush, updateRoomNotice, resolveUsernames, acceptInviteFromLocation } from "./manage.js";
import { wireMessages, setMessageHooks, updated, sendExtras, submitEdit, clearContext } from "./messages.js";
import { initUploads, readyAttachments, hasAttachments, clearTray } from "./uploads.js";

// For the browser tests and the console: the state, read-only by convention.
window.parley = { state };

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
    setToken(result.token);
    state.me = result.user;
    startApp();
  } catch (error) {
    $("auth-error").textContent = explain(error);
  } finally {
    $("auth-submit").disabled = false;
  }
}

/// Guests (`POST /api/auth/guest`): a name, no password, public events only.
async function submitGuest(event) {
  event.preventDefault();
  $("guest-submit").disabled = true;
  $("guest-error").textContent = "";
  try {
    const result = await api("POST", "/api/auth/guest", { displayName: $("guest-name").value.trim() });
    setToken(result.token);
    state.me = result.user;
    startApp();
  } catch (error) {
    $("guest-error").textContent = error.code === "forbidden" ? "This server does not take guests." : explain(error);
  } finally {
    $("guest-submit").disabled = false;
  }
}

/// `#event=ID`: a link to a live event, joined once signed in (as a guest or not).
async function joinEventFromLocation() {
  const match = /^#event=([0-9a-f]{24})$/.exec(location.hash);
  if (!match) return;
  history.replaceState(null, "", location.pathname);
  await joinRoom(match[1]);
}

/// Who is signed in, in the top bar; a guest's page offers only what guests may do.
function showMe(user) {
  $("me").textContent = user.guest ? `${user.displayName} (guest)` : user.displayName;
  document.body.classList.toggle("guest", Boolean(user.guest));
}

function signOut(message) {
  document.body.classList.remove("guest");
  setToken(null);
  state.me = null;
  socket.disconnect();
  $("app-view").hidden = true;
  $("auth-view").hidden = false;
  if (message) $("auth-error").textContent = message;
}

// ---------- The connection ----------

socket.on({
  connecting: () => setConnection("Connecting…", ""),
  closed: (event) => {
    if (event.code === 4401) { signOut("Your session ended. Please sign in again."); return; }
    const delay = Math.min(30000, 1000 * 2 ** state.retry) * (0.75 + Math.random() / 2);
    state.retry += 1;
    setConnection(`Offline, retrying in ${Math.round(delay / 1000)} s`, "offline");
    banner(`Connection lost. Retrying in ${Math.round(delay / 1000)} s; your messages wait and will be sent.`, true, true);
    socket.reconnectIn(delay);
  },
  frame: handleFrame,
});

function handleFrame(frame) {
  const d = frame.data || {};
  switch (frame.type) {
    case "ready":
      state.me = d.user;
      showMe(d.user);
      $("my-status").value = d.user.status === "offline" ? "online" : d.user.status;
      for (const room of d.rooms) mergeRoom(room);
      renderRooms();
      return;
    case "message:new": received(d.message); return;
    case "message:updated":
      updated(d.message);
      // What we saw of the room's changes, acknowledged with the delivery cursor.
      socket.fire("message:delivered", { roomId: d.message.roomId, seq: (state.rooms.get(d.message.roomId) || {}).deliveredSeq || d.message.seq, updateSeq: d.updateSeq });
      return;
    case "sync:done":
      for (const [roomId, updateSeq] of Object.entries(d.updateSeqs || {})) {
        const room = state.rooms.get(roomId);
        socket.fire("message:delivered", { roomId, seq: room ? room.deliveredSeq || 0 : 0, updateSeq });
      }
      state.ready = true;
      state.retry = 0;
      setConnection("Online", "online");
      clearBanner();
      flushPending();
      if (openRoomId()) openRoom(state.current, { keepScroll: true });
      return;
    case "message:status": statusChanged(d); return;
    case "typing": typingChanged(d); return;
    case "presence": presenceOf(d); renderPeople($("participants"), state.participants); return;
    case "room:user:joined":
    case "room:user:left":
      if (d.roomId === state.current) loadParticipants(d.roomId);
      return;
    case "room:activity": activityReceived(d); return;
    case "error": banner(explain(frame.error), true); return;
    default:
      handleRoomPush(frame);
  }
}

/// The open room is gone (removed, deleted, left): back to "pick a room".
function closeRoom() {
  state.current = null;
  $("chat-title").textContent = "Pick a room";
  $("chat-topic").textContent = "";
  $("hangout").hidden = true;
  state.participants = [];
  renderPeople($("participants"), []);
  renderMessages();
  renderTyping();
  updateRoomNotice();
}

// ---------- Rooms and messages ----------

async function openRoom(roomId, { keepScroll = false } = {}) {
  state.current = roomId;
  document.querySelector(".app").classList.remove("show-sidebar");
  const room = state.rooms.get(roomId);
  $("chat-title").textContent = room ? roomLabel(room) : "Room";
  $("chat-topic").textContent = room && room.topic ? room.topic : "";
  $("composer-input").disabled = false;
  $("send").disabled = false;
  updateRoomNotice();
  setupHangout(room);
  renderRooms();
  renderTyping();
  try {
    const page = await api("GET", `/api/messages/room/${roomId}?limit=50`);
    if (state.current !== roomId) return;
    storePage(roomId, page.messages);
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
    renderMessages();
  } catch { /* ticks start from the pushes instead */ }
}

async function loadOlder() {
  const roomId = openRoomId();
  if (!roomId || !state.hasMore.get(roomId)) return;
  const map = state.messages.get(roomId);
  const first = Math.min(...map.keys());
  const list = $("messages");
  const before = list.scrollHeight - list.scrollTop;
  state.hasMore.set(roomId, false);
  try {
    const page = await api("GET", `/api/messages/room/${roomId}?before=${first}&limit=50`);
    storePage(roomId, page.messages);
    state.hasMore.set(roomId, page.hasMore);
    renderMessages();
    list.scrollTop = list.scrollHeight - before;
  } catch (error) {
    state.hasMore.set(roomId, true);
    banner(explain(error), true);
  }
}

function received(message) {
  if (!messageArrived(message)) {
    // A room we did not know: a new direct conversation or a room joined elsewhere.
    api("GET", `/api/rooms/${message.roomId}`).then((r) => { mergeRoom({ ...r.room, lastText: message.text }); renderRooms(); }).catch(() => {});
  }
  acknowledgeDelivery(message.roomId, message.seq);
  if (message.roomId === state.current) {
    renderMessages();
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
  deliveredTimers.set(roomId, setTimeout(() => socket.fire("message:delivered", { roomId, seq: (state.rooms.get(roomId) || { deliveredSeq: seq }).deliveredSeq }), 200));
}

function markRead(roomId) {
  const room = state.rooms.get(roomId);
  if (!room || !room.lastSeq || (room.readSeq || 0) >= room.lastSeq) return;
  room.readSeq = room.lastSeq;
  room.unreadMentions = 0;
  room.deliveredSeq = Math.max(room.deliveredSeq || 0, room.lastSeq);
  socket.request("message:read", { roomId, seq: room.lastSeq }).catch(() => {});
  renderRooms();
}

function statusChanged(status) {
  if (cursorsMoved(status) === "mine") renderRooms();
  else if (status.roomId === state.current) renderMessages();
}

// ---------- Sending ----------

function newClientId() {
  return (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);
}

async function send(event) {
  event.preventDefault();
  const input = $("composer-input");
  const text = input.value;
  if ((!text.trim() && !hasAttachments()) || !state.current) return;
  if (text.trim() && await submitEdit(text)) { input.value = ""; return; }
  const attachments = readyAttachments();
  if (attachments === null) { banner("Wait for the files to finish uploading, then send.", true); return; }
  const item = { text: text.trim() ? text : "", clientId: newClientId(), createdAt: new Date().toISOString(), ...sendExtras() };
  if (attachments.length) item.attachments = attachments;
  clearTray();
  clearContext();
  if (openRoomId()) item.roomId = state.current; else item.toUserId = state.current.draftTo.id;
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
      ? await socket.request("message:send", {
        roomId: item.roomId, text: item.text, clientId: item.clientId, replyTo: item.replyTo, threadId: item.threadId, attachments: item.attachments,
      })
      : await socket.request("message:private", { toUserId: item.toUserId, text: item.text, clientId: item.clientId, attachments: item.attachments });
    dropPending(item.clientId);
    const m = ack.message;
    // A new conversation: the room (with this member's cursors, which the
    // `room:added` push lacks) becomes the open one if its draft still is.
    const known = state.rooms.get(m.roomId);
    if (!known || known.readSeq === undefined) {
      const r = await api("GET", `/api/rooms/${m.roomId}`);
      mergeRoom(r.room);
      if (!state.messages.has(m.roomId)) state.messages.set(m.roomId, new Map());
    }
    if (item.toUserId && state.current && state.current.draftTo && state.current.draftTo.id === item.toUserId) state.current = m.roomId;
    received(m);
  } catch (error) {
    if (error.code === "unavailable") {
      // Stays queued. A lost connection flushes it on reconnect; an ack that did not
      // come in time (a slow database) is asked for again with the same clientId,
      // which the server answers with the stored message, never a second copy.
      if (error.message === "no answer") setTimeout(() => { if (state.pending.includes(item)) deliver(item); }, 1000);
      return;
    }
    dropPending(item.clientId);
    renderMessages();
    banner(explain(error), true);
  }
}

function flushPending() {
  for (const item of [...state.pending]) deliver(item);
}

// ---------- Typing ----------

let typingSent = 0, typingIdle = null;
function onComposerInput() {
  if (!openRoomId()) return;
  const now = Date.now();
  if (now - typingSent > 3000) {
    typingSent = now;
    socket.fire("typing", { roomId: state.current, isTyping: true });
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, 4000);
}

function stopTyping() {
  clearTimeout(typingIdle);
  if (typingSent && openRoomId()) socket.fire("typing", { roomId: state.current, isTyping: false });
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

// ---------- People ----------

async function loadParticipants(roomId) {
  try {
    const r = await api("GET", `/api/rooms/${roomId}`);
    if (state.current !== roomId) return;
    mergeRoom(r.room);
    state.participants = r.participants;
    renderPeople($("participants"), r.participants);
  } catch { /* the room header still works without the list */ }
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
  try {
    const memberIds = await resolveUsernames($("room-members").value);
    if (memberIds.length) body.memberIds = memberIds;
  } catch (error) {
    $("room-error").textContent = explain(error);
    return;
  }
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
    const guest = Boolean(state.me && state.me.guest);
    // A guest sees only the events that let guests in.
    const rooms = r.rooms.filter((room) => room.kind !== "direct" && (!guest || (room.kind === "event" && room.guestAccess)));
    if (!rooms.length) list.append(el("li", { text: guest ? "No events open to guests right now." : "No public rooms yet: create one." }));
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

// What the user did goes out at once, also right after a remote change arrived
// (a click within `applying`'s 50 ms used to be dropped); only the scroll events
// that applying a remote scroll fires are kept from echoing (onHangoutScroll).
function share(kind, data) {
  if (!openRoomId()) return;
  socket.request("room:activity", { roomId: state.current, kind, data }).catch((error) => banner(explain(error), true));
}

function selectHangoutItem(i) {
  state.hangout.selected = i;
  renderHangout();
  share("click", { item: i });
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
  scrollTimer = setTimeout(() => {
    if (!state.hangout.applying) share("scroll", { top: Math.round($("hangout-list").scrollTop) });
  }, 120);
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
  showMe(state.me);
  socket.connect();
  acceptInviteFromLocation();
  joinEventFromLocation();
}

function wire() {
  setActions({ openRoom, loadOlder, openDirect, selectHangoutItem });
  setManageHooks({ openRoom, closeRoom, renderRooms });
  wireManage();
  setMessageHooks({ openRoom, renderMessages: () => renderMessages(), renderRooms });
  wireMessages();
  onUnauthorized(() => signOut("Your session ended. Please sign in again."));
  $("tab-login").addEventListener("click", () => setAuthMode(false));
  $("tab-register").addEventListener("click", () => setAuthMode(true));
  $("auth-form").addEventListener("submit", submitAuth);
  $("guest-form").addEventListener("submit", submitGuest);
  // A guest or invite link followed while the page is open.
  window.addEventListener("hashchange", () => { if (state.me) { joinEventFromLocation(); acceptInviteFromLocation(); } });
  $("logout").addEventListener("click", () => signOut());
  $("composer").addEventListener("submit", send);
  initUploads();
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
  $("my-status").addEventListener("change", () => socket.request("presence:set", { status: $("my-status").value }).catch((e) => banner(explain(e), true)));
  $("hangout-prev").addEventListener("click", () => changePage(-1));
  $("hangout-next").addEventListener("click", () => changePage(1));
  $("hangout-list").addEventListener("scroll", onHangoutScroll);
  $("show-rooms").addEventListener("click", () => document.querySelector(".app").classList.toggle("show-sidebar"));
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible" && openRoomId()) markRead(state.current); });
}

wire();
if (state.token) startApp();
