// Rendering from the state: each view updates its part of the page, keyed, so a
// new message adds one row instead of rebuilding the list. User actions go to the
// controllers given to `setActions`.
import { $, el, reconcile, timeFmt, dayFmt, dayKey, lastSeen } from "./dom.js";
import { state, openRoomId, roomLabel, unreadOf, tickFor, HANGOUT_ITEMS, HANGOUT_PAGE } from "./store.js";
import { messageExtras, textNodes, roomPreview } from "./messages.js";
import { attachmentNodes } from "./uploads.js";

let actions = { openRoom() {}, loadOlder() {}, openDirect() {}, selectHangoutItem() {} };
export function setActions(a) { actions = { ...actions, ...a }; }

export function setConnection(text, cls) {
  const c = $("connection");
  c.textContent = text;
  c.className = `connection ${cls}`;
}

/// The room list: my rooms, most recently active first, with unread badges.
export function renderRooms() {
  const rooms = [...state.rooms.values()].filter((r) => r.readSeq !== undefined)
    .sort((a, b) => (b.lastActivity || b.createdAt).localeCompare(a.lastActivity || a.createdAt));
  reconcile($("room-list"), rooms.map((room) => {
    const unread = unreadOf(room);
    const label = roomLabel(room);
    const preview = roomPreview(room);
    const current = room.id === state.current;
    const mentions = room.unreadMentions || 0;
    return {
      key: room.id,
      signature: JSON.stringify([label, room.kind, unread, preview, current, mentions]),
      create: () => el("li", {}, el("button", {
        type: "button", "data-room": room.id, "aria-current": current ? "true" : "false",
        "aria-label": `${label}${unread ? `, ${unread} unread` : ""}`, onclick: () => actions.openRoom(room.id),
      },
        el("span", { class: "room-name" }, label, room.kind !== "group" ? el("span", { class: "kind-tag", text: room.kind === "event" ? "event" : "direct" }) : null),
        el("span", {},
          mentions ? el("span", { class: "badge mentions", "data-mentions": String(mentions), "aria-label": `${mentions} mention${mentions === 1 ? "" : "s"}`, text: `@${mentions}` }) : null,
          unread ? el("span", { class: "badge", "data-unread": String(unread), text: String(unread) }) : null),
        el("span", { class: "room-preview", text: preview }))),
    };
  }));
}

/// The open room's messages (and my queued ones), with day separators and ticks.
export function renderMessages({ toBottom = false } = {}) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const roomId = openRoomId();
  const stored = roomId ? [...(state.messages.get(roomId) || new Map()).values()].sort((a, b) => a.seq - b.seq) : [];
  const queued = state.pending.filter((p) => (roomId && p.roomId === roomId) || (!roomId && state.current && p.toUserId === state.current.draftTo.id))
    .map((p) => ({ ...p, senderId: state.me.id, senderName: state.me.displayName, state: "queued" }));
  const items = [];
  if (roomId && state.hasMore.get(roomId)) {
    items.push({
      key: "older", signature: "older",
      create: () => el("li", { class: "older" }, el("button", { type: "button", id: "load-older", onclick: () => actions.loadOlder(), text: "Load older messages" })),
    });
  }
  let lastDay = null;
  for (const m of [...stored, ...queued]) {
    const when = new Date(m.createdAt);
    if (dayKey(when) !== lastDay) {
      lastDay = dayKey(when);
      items.push({ key: `day-${lastDay}`, signature: "day", create: () => el("li", { class: "day", role: "separator", text: dayFmt.format(when) }) });
    }
    const mine = state.me && m.senderId === state.me.id;
    const [tickState, tick, tickLabel] = mine ? tickFor(roomId, m) : [null];
    items.push({
      // A queued message keeps its row when it is stored: keyed by clientId.
      key: `m-${m.clientId}-${m.senderId}`,
      signature: JSON.stringify([m.seq, m.text, m.senderName, tickState, m.createdAt, m.rev, state.current && (state.rooms.get(state.current) || {}).role,
        (m.attachments || []).map((a) => a.id || a)]),
      create: () => el("li", {
        class: `message${mine ? " mine" : ""}${state.me && (m.mentions || []).includes(state.me.id) ? " mentions-me" : ""}`,
        "data-seq": m.seq, "data-client-id": m.clientId, "data-state": tickState, "data-id": m.id || "", tabindex: m.id ? "0" : null,
      },
        mine ? null : el("div", { class: "from", text: m.senderName }),
        m.replyTo ? el("div", { class: "quote", text: `${m.replyTo.senderName}: ${m.replyTo.excerpt || "(deleted)"}` }) : null,
        m.deletedAt ? el("div", { class: "text deleted", text: "This message was deleted." }) : m.text ? el("div", { class: "text" }, ...textNodes(m.text)) : null,
        ...(m.state === "queued" ? [] : attachmentNodes(m)),
        ...(m.state === "queued" ? [] : messageExtras(m)),
        el("div", { class: "meta" }, el("time", { datetime: m.createdAt, text: timeFmt.format(when) }),
          m.editedAt && !m.deletedAt ? el("span", { class: "edited", text: "(edited)" }) : null,
          m.pinned ? el("span", { class: "pin-tag", text: "📌 pinned" }) : null,
          m.threadId ? el("span", { class: "thread-tag", text: "in a thread" }) : null,
          mine ? el("span", { class: "tick", "aria-label": tickLabel, title: tickLabel, text: tick }) : null)),
    });
  }
  reconcile(list, items);
  if (toBottom || atBottom) list.scrollTop = list.scrollHeight;
}

export function renderTyping() {
  const who = [...((state.typing.get(state.current) || new Map()).values())].map((w) => w.name);
  $("typing").textContent = who.length === 0 ? "" : who.length === 1 ? `${who[0]} is typing…` : `${who.join(", ")} are typing…`;
}

/// A list of people (participants, search results); mine is not a button.
export function renderPeople(list, users) {
  reconcile(list, users.map((u) => {
    const status = u.online ? u.status : "offline";
    const isMe = state.me && u.id === state.me.id;
    const seen = u.online ? (status === "online" ? "" : status) : lastSeen(u.lastSeenAt);
    const parts = () => [el("span", { class: `dot ${status}`, "aria-hidden": "true" }), el("span", { text: isMe ? `${u.displayName} (you)` : u.displayName }),
      el("span", { class: "seen", text: seen })];
    return {
      key: u.id,
      signature: JSON.stringify([status, u.displayName, seen, isMe]),
      create: () => isMe
        ? el("li", { class: "self", "data-user": u.id }, ...parts())
        : el("li", {}, el("button", {
          type: "button", "data-user": u.id, "data-status": status,
          "aria-label": `${u.displayName} (${status}${!u.online && u.lastSeenAt ? `, ${lastSeen(u.lastSeenAt)}` : ""}), open a direct conversation`,
          onclick: () => actions.openDirect(u),
        }, ...parts())),
    };
  }));
}

/// The hangout panel of an event room: a page of items, the selected one pressed.
export function renderHangout() {
  const { page, selected } = state.hangout;
  const pages = Math.ceil(HANGOUT_ITEMS / HANGOUT_PAGE);
  $("hangout-page").textContent = `Page ${page} of ${pages}`;
  $("hangout-prev").disabled = page <= 1;
  $("hangout-next").disabled = page >= pages;
  const items = [];
  for (let i = (page - 1) * HANGOUT_PAGE + 1; i <= Math.min(HANGOUT_ITEMS, page * HANGOUT_PAGE); i++) {
    items.push({
      key: `item-${i}`, signature: String(selected === i),
      create: () => el("li", {}, el("button", {
        type: "button", "data-item": String(i), "aria-pressed": String(selected === i), text: `Item ${i}`,
        onclick: () => actions.selectHangoutItem(i),
      })),
    });
  }
  reconcile($("hangout-list"), items);
}
