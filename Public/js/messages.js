// Messages as people use them: edit and delete your own, reply, threads, reactions,
// pins, mentions, the changes others make (message:updated), and message search
// whose results open in context. REST and /ws as the rest of the page; main.js
// hands in its controllers (openRoom, render).
import { $, el, banner, explain } from "./dom.js";
import { api } from "./api.js";
import * as socket from "./socket.js";
import { state, openRoomId, storePage, mergeRoom } from "./store.js";

let hooks = { openRoom() {}, renderMessages() {}, renderRooms() {} };
export function setMessageHooks(h) { hooks = { ...hooks, ...h }; }

const QUICK = ["👍", "❤️", "😂", "🎉"];
const RANK = { member: 0, moderator: 1, owner: 2 };

/// What the composer is doing besides a plain send: replying, in a thread, editing.
export const context = { replyTo: null, threadRoot: null, editing: null };

export function renderContext() {
  const bar = $("composer-context");
  let text = "";
  if (context.editing) text = "Editing your message";
  else if (context.replyTo) text = `Replying to ${context.replyTo.senderName}: ${context.replyTo.text.slice(0, 80)}`;
  else if (context.threadRoot) text = `In the thread of ${context.threadRoot.senderName}: ${context.threadRoot.text.slice(0, 80)}`;
  $("composer-context-text").textContent = text;
  bar.hidden = !text;
}

export function clearContext() {
  context.replyTo = null;
  context.threadRoot = null;
  context.editing = null;
  renderContext();
}

/// The fields a send adds for the composer's context.
export function sendExtras() {
  const extra = {};
  if (context.replyTo) extra.replyTo = context.replyTo.id;
  if (context.threadRoot) extra.threadId = context.threadRoot.id;
  return extra;
}

/// The composer submitted while editing: the edit instead of a send. True if it was one.
export async function submitEdit(text) {
  if (!context.editing) return false;
  const m = context.editing;
  clearContext();
  try {
    const { message } = await socket.request("message:edit", { roomId: m.roomId, messageId: m.id, text });
    updated(message);
  } catch (error) { banner(explain(error), true); }
  return true;
}

/// A changed message (pushed or answered): it replaces the one we have.
export function updated(message) {
  const map = state.messages.get(message.roomId);
  if (map && map.has(message.seq)) map.set(message.seq, message);
  const room = state.rooms.get(message.roomId);
  if (room && room.lastMessage && room.lastMessage.id === message.id) {
    room.lastMessage = message;
    room.lastText = message.deletedAt ? `${message.senderName}: (deleted)` : `${message.senderName}: ${message.text}`;
    hooks.renderRooms();
  }
  if (message.roomId === state.current) hooks.renderMessages();
  if ($("thread-dialog").open && (message.id === openThread || message.threadId === openThread)) loadThread(openThread);
}

/// A message's text with `@name` marked, as DOM nodes (no HTML from the server).
export function textNodes(text) {
  const parts = text.split(/(@[A-Za-z0-9_.-]{3,32})/);
  return parts.map((p, i) => (i % 2 === 1 ? el("span", { class: "mention", text: p }) : document.createTextNode(p)));
}

/// What a message row shows besides its text: quote, reactions, thread, actions.
export function messageExtras(m) {
  const nodes = [];
  const room = state.rooms.get(m.roomId);
  const mine = state.me && m.senderId === state.me.id;
  const moderator = room && RANK[room.role] >= 1;
  const deleted = Boolean(m.deletedAt);
  if (m.reactions && m.reactions.length) {
    nodes.push(el("div", { class: "reactions" }, ...m.reactions.map((r) => {
      const me = state.me && r.userIds.includes(state.me.id);
      return el("button", {
        type: "button", class: "reaction", "aria-pressed": String(Boolean(me)), "data-emoji": r.emoji, "aria-label": `${r.emoji} ${r.count}`,
        text: `${r.emoji} ${r.count}`, onclick: () => react(m, r.emoji, !me),
      });
    })));
  }
  if (m.replyCount) {
    nodes.push(el("button", { type: "button", class: "thread-link", text: `${m.replyCount} repl${m.replyCount === 1 ? "y" : "ies"}`, onclick: () => showThread(m) }));
  }
  if (deleted || !m.id) return nodes;
  const actions = [
    el("button", { type: "button", "data-action": "reply", text: "Reply", onclick: () => { clearContext(); context.replyTo = m; renderContext(); $("composer-input").focus(); } }),
    el("button", { type: "button", "data-action": "thread", text: "Thread", onclick: () => showThread(m.threadId ? { id: m.threadId } : m) }),
    ...QUICK.map((e) => el("button", { type: "button", "data-action": "react", "data-emoji": e, "aria-label": `React ${e}`, text: e, onclick: () => react(m, e, true) })),
  ];
  if (moderator) actions.push(el("button", { type: "button", "data-action": "pin", text: m.pinned ? "Unpin" : "Pin", onclick: () => pin(m, !m.pinned) }));
  if (mine) {
    actions.push(el("button", { type: "button", "data-action": "edit", text: "Edit", onclick: () => startEdit(m) }));
  }
  if (mine || moderator) actions.push(el("button", { type: "button", "data-action": "delete", text: "Delete", onclick: () => remove(m) }));
  nodes.push(el("div", { class: "actions", role: "group", "aria-label": "Message actions" }, ...actions));
  return nodes;
}

function startEdit(m) {
  clearContext();
  context.editing = m;
  $("composer-input").value = m.text;
  renderContext();
  $("composer-input").focus();
}

async function react(m, emoji, add) {
  try {
    const { message } = await socket.request(add ? "reaction:add" : "reaction:remove", { roomId: m.roomId, messageId: m.id, emoji });
    updated(message);
  } catch (error) { banner(explain(error), true); }
}

async function pin(m, pinned) {
  try {
    const { message } = await socket.request("message:pin", { roomId: m.roomId, messageId: m.id, pinned });
    updated(message);
  } catch (error) { banner(explain(error), true); }
}

async function remove(m) {
  if (!window.confirm("Delete this message for everyone?")) return;
  try {
    await socket.request("message:delete", { roomId: m.roomId, messageId: m.id });
  } catch (error) { banner(explain(error), true); }
}

// ---------- Threads ----------

let openThread = null;

async function showThread(root) {
  openThread = root.id;
  await loadThread(root.id);
  if (!$("thread-dialog").open) $("thread-dialog").showModal();
}

async function loadThread(rootId) {
  try {
    const t = await api("GET", `/api/messages/${rootId}/thread?limit=200`);
    $("thread-root").replaceChildren(el("strong", { text: `${t.root.senderName}: ` }), ...textNodes(t.root.deletedAt ? "(deleted)" : t.root.text));
    $("thread-list").replaceChildren(...t.messages.map((m) => el("li", { "data-seq": m.seq },
      el("strong", { text: `${m.senderName}: ` }), ...textNodes(m.deletedAt ? "(deleted)" : m.text))));
    if (!t.messages.length) $("thread-list").append(el("li", { class: "hint", text: "No replies yet." }));
    $("thread-reply").onclick = () => {
      $("thread-dialog").close();
      clearContext();
      context.threadRoot = t.root;
      renderContext();
      $("composer-input").focus();
    };
  } catch (error) { banner(explain(error), true); }
}

// ---------- Pins ----------

async function showPins() {
  const roomId = openRoomId();
  if (!roomId) return;
  try {
    const { messages } = await api("GET", `/api/rooms/${roomId}/pins`);
    $("pins-list").replaceChildren(...messages.map((m) => el("li", {}, el("button", {
      type: "button", "data-seq": m.seq, onclick: () => { $("pins-dialog").close(); openInContext(m); },
    }, el("strong", { text: `${m.senderName}: ` }), ...textNodes(m.text)))));
    if (!messages.length) $("pins-list").append(el("li", { class: "hint", text: "Nothing is pinned here." }));
    $("pins-dialog").showModal();
  } catch (error) { banner(explain(error), true); }
}

// ---------- Search ----------

async function search(event) {
  event.preventDefault();
  const q = $("message-search").value.trim();
  if (!q) return;
  const list = $("search-list");
  list.replaceChildren(el("li", { text: "Searching…" }));
  if (!$("search-dialog").open) $("search-dialog").showModal();
  try {
    const r = await api("GET", `/api/messages/search?q=${encodeURIComponent(q)}&limit=30`);
    list.replaceChildren(...r.messages.map((m) => {
      const room = state.rooms.get(m.roomId);
      return el("li", {}, el("button", { type: "button", "data-message": m.id, onclick: () => { $("search-dialog").close(); openInContext(m); } },
        el("span", { class: "hint", text: `${room ? room.name : "a room"} · ${new Date(m.createdAt).toLocaleString()}` }),
        el("span", {}, el("strong", { text: `${m.senderName}: ` }), ...textNodes(m.text))));
    }));
    if (!r.messages.length) list.append(el("li", { class: "hint", text: "No message matches." }));
  } catch (error) {
    list.replaceChildren(el("li", { class: "error", text: explain(error) }));
  }
}

/// Opens a message's room with the messages around it and shows it.
export async function openInContext(m) {
  await hooks.openRoom(m.roomId);
  try {
    const page = await api("GET", `/api/messages/room/${m.roomId}?after=${Math.max(0, m.seq - 25)}&limit=50`);
    storePage(m.roomId, page.messages);
    state.hasMore.set(m.roomId, m.seq > 26);
    hooks.renderMessages();
  } catch { /* the room is open either way */ }
  const row = document.querySelector(`#messages .message[data-seq="${m.seq}"]`);
  if (row) {
    row.scrollIntoView({ block: "center" });
    row.classList.add("found");
    setTimeout(() => row.classList.remove("found"), 3000);
  }
}

export function wireMessages() {
  $("composer-context-cancel").addEventListener("click", () => {
    if (context.editing) $("composer-input").value = "";
    clearContext();
  });
  $("show-pins").addEventListener("click", showPins);
  $("pins-close").addEventListener("click", () => $("pins-dialog").close());
  $("thread-close").addEventListener("click", () => $("thread-dialog").close());
  $("search-form").addEventListener("submit", search);
  $("search-close").addEventListener("click", () => $("search-dialog").close());
}

/// The room list's preview and mention count from the room's `lastMessage`.
export function roomPreview(room) {
  if (room.lastText) return room.lastText;
  const m = room.lastMessage;
  if (!m) return room.topic || "";
  if (m.deletedAt) return `${m.senderName}: (deleted)`;
  const files = (m.attachments || []).length;
  return `${m.senderName}: ${m.text || (files ? `📎 ${files} file${files === 1 ? "" : "s"}` : "")}`;
}

export { mergeRoom };
