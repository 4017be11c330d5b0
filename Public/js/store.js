// The client's state, in one object, and the changes the server's frames make to it.
// Views read it; controllers (main.js) change it and then ask the views to render.

export const state = {
  token: sessionStorage.getItem("parley.token"),
  me: null,
  rooms: new Map(),          // id -> room (wire shape, plus lastText, lastActivity)
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

export const HANGOUT_ITEMS = 60, HANGOUT_PAGE = 20;

/// The id of the open room, or null (none, or a draft direct conversation).
export const openRoomId = () => (typeof state.current === "string" ? state.current : null);

export function setToken(token) {
  state.token = token;
  if (token) sessionStorage.setItem("parley.token", token); else sessionStorage.removeItem("parley.token");
}

export function mergeRoom(room) {
  const known = state.rooms.get(room.id) || {};
  state.rooms.set(room.id, { ...known, ...room });
}

/// A room's name as this user sees it: a direct room is named after the other person.
export function roomLabel(room) {
  if (room.kind !== "direct" || !state.me) return room.name;
  const others = room.name.split(", ").filter((n) => n !== state.me.username);
  return others[0] || room.name;
}

export const unreadOf = (room) => Math.max(0, (room.lastSeq || 0) - (room.readSeq || 0));

/// Messages of a room in seq order, and the page of older ones.
export function storePage(roomId, messages) {
  const map = state.messages.get(roomId) || new Map();
  for (const m of messages) map.set(m.seq, m);
  state.messages.set(roomId, map);
  return map;
}

/// A stored message arrived (pushed, or acked to us). Returns false for a room we
/// do not know yet (the caller loads it).
export function messageArrived(message) {
  // The open room keeps it even before its history has loaded (a message arriving
  // while the first page is in flight): the page merges into this same map.
  let map = state.messages.get(message.roomId);
  if (!map && message.roomId === state.current) state.messages.set(message.roomId, map = new Map());
  if (map) map.set(message.seq, message);
  const room = state.rooms.get(message.roomId);
  if (!room) return false;
  room.lastSeq = Math.max(room.lastSeq || 0, message.seq);
  room.lastText = `${message.senderName}: ${message.text}`;
  room.lastMessage = message;
  room.lastActivity = message.createdAt;
  if (state.me && (message.mentions || []).includes(state.me.id) && message.roomId !== state.current) room.unreadMentions = (room.unreadMentions || 0) + 1;
  if (state.me && message.senderId === state.me.id) room.readSeq = Math.max(room.readSeq || 0, message.seq);
  return true;
}

/// Another member's cursors moved (or ours, from another device).
export function cursorsMoved({ roomId, userId, deliveredSeq, readSeq }) {
  if (state.me && userId === state.me.id) {
    const room = state.rooms.get(roomId);
    if (room) room.readSeq = Math.max(room.readSeq || 0, readSeq);
    return "mine";
  }
  const others = state.others.get(roomId) || { delivered: 0, read: 0 };
  others.delivered = Math.max(others.delivered, deliveredSeq);
  others.read = Math.max(others.read, readSeq);
  state.others.set(roomId, others);
  return "theirs";
}

/// The tick of one of my messages: queued, sent, delivered or read.
export function tickFor(roomId, m) {
  if (m.state === "queued") return ["queued", "⏳", "Waiting to send"];
  const others = state.others.get(roomId) || { delivered: 0, read: 0 };
  if (others.read >= m.seq) return ["read", "✓✓", "Read"];
  if (others.delivered >= m.seq) return ["delivered", "✓✓", "Delivered"];
  return ["sent", "✓", "Sent"];
}

export function dropPending(clientId) { state.pending = state.pending.filter((p) => p.clientId !== clientId); }

export function presenceOf({ userId, status, lastSeenAt }) {
  for (const u of state.participants) {
    if (u.id === userId) { u.online = status !== "offline"; u.status = status; u.lastSeenAt = lastSeenAt || u.lastSeenAt; }
  }
}
