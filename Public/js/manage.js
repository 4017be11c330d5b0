// Rooms people can run: the members and settings dialog (roles, mute, ban, remove,
// add, invite, rename, archive, leave, delete), invite links, and what the room
// pushes (room:added, room:removed, room:updated, room:deleted, room:role,
// room:muted, room:unmuted) do to the page. REST for the changes; the pushes keep
// every open page (every device, every node) in step.
import { $, el, banner, explain } from "./dom.js";
import { api } from "./api.js";
import { state, mergeRoom, openRoomId } from "./store.js";

const RANK = { member: 0, moderator: 1, owner: 2 };
let hooks = { openRoom() {}, closeRoom() {}, renderRooms() {} };
export function setManageHooks(h) { hooks = { ...hooks, ...h }; }

const myRank = (room) => (state.me && state.me.role === "admin" ? 3 : RANK[room && room.role] ?? -1);

/// Usernames typed with commas, as user ids: each must be a user (exact name).
export async function resolveUsernames(text) {
  const names = text.split(",").map((n) => n.trim()).filter(Boolean);
  const ids = [];
  for (const name of names) {
    const r = await api("GET", `/api/users/search?q=${encodeURIComponent(name)}&limit=20`);
    const u = r.users.find((x) => x.username.toLowerCase() === name.toLowerCase());
    if (!u) throw new Error(`No user is called “${name}”.`);
    ids.push(u.id);
  }
  return ids;
}

/// The link that lets someone without an account join the open event as a guest.
async function shareGuestLink() {
  const link = `${location.origin}${location.pathname}#event=${openRoomId()}`;
  try {
    await navigator.clipboard.writeText(link);
    banner(`Guest link copied: ${link}`);
  } catch {
    banner(`Guest link: ${link}`);
  }
}

/// The notice above the messages and the composer's state: archived, muted.
export function updateRoomNotice() {
  const room = state.rooms.get(openRoomId());
  const notice = $("room-notice");
  const manage = $("manage-room");
  manage.hidden = !room || room.kind === "direct" || room.readSeq === undefined;
  // An event open to guests can be shared with people who have no account.
  $("guest-link").hidden = !room || room.kind !== "event" || !room.guestAccess || Boolean(state.me && state.me.guest);
  let text = "";
  if (room && room.archived) text = "This room is archived: you can read its history, nobody can post.";
  else if (room && room.mutedUntil && new Date(room.mutedUntil) > new Date()) {
    const until = new Date(room.mutedUntil);
    text = until.getFullYear() >= 9999 ? "You are muted in this room." : `You are muted in this room until ${until.toLocaleString()}.`;
  }
  notice.textContent = text;
  notice.hidden = !text;
  const blocked = Boolean(text) || !state.current;
  $("composer-input").disabled = blocked;
  $("send").disabled = blocked;
}

// ---------- The dialog ----------

let membersAfter = null;

export async function openManage() {
  const room = state.rooms.get(openRoomId());
  if (!room) return;
  $("manage-error").textContent = "";
  $("invite-made").hidden = true;
  const rank = myRank(room);
  $("manage-title").textContent = `${room.name}: members and settings`;
  $("manage-role").textContent = state.me && state.me.role === "admin" && !room.role ? "You manage this room as an administrator."
    : `Your role here: ${room.role || "member"}.`;
  $("add-form").hidden = rank < 1 || room.archived;
  $("invite-section").hidden = rank < 1 || room.archived;
  $("settings-section").hidden = rank < 1;
  for (const n of document.querySelectorAll(".owner-only")) n.hidden = rank < 2;
  $("settings-name").value = room.name;
  $("settings-topic").value = room.topic || "";
  $("settings-private").checked = Boolean(room.private);
  $("settings-archived").checked = Boolean(room.archived);
  $("room-delete").hidden = rank < 2;
  $("member-list").replaceChildren();
  membersAfter = null;
  await loadMembers(room);
  if (!$("manage-dialog").open) $("manage-dialog").showModal();
}

async function loadMembers(room, more = false) {
  try {
    const q = more && membersAfter ? `&after=${membersAfter}` : "";
    const page = await api("GET", `/api/rooms/${room.id}/members?limit=100${q}`);
    if (!more) $("member-list").replaceChildren();
    for (const m of page.members) $("member-list").append(memberRow(room, m));
    membersAfter = page.members.length ? page.members[page.members.length - 1].user.id : null;
    $("members-more").hidden = !page.hasMore;
  } catch (error) {
    $("manage-error").textContent = explain(error);
  }
}

function memberRow(room, m) {
  const rank = myRank(room);
  const isMe = state.me && m.user.id === state.me.id;
  const above = rank > RANK[m.role] && !isMe;
  const muted = m.mutedUntil && new Date(m.mutedUntil) > new Date();
  const row = el("li", { "data-member": m.user.id, "data-role": m.role },
    el("span", { class: "member-name", text: isMe ? `${m.user.displayName} (you)` : m.user.displayName }),
    el("span", { class: "role-tag", "data-role": m.role, text: m.role }),
    muted ? el("span", { class: "muted-tag", text: "muted" }) : null);
  if (rank >= 2 && !isMe) {
    const select = el("select", { "aria-label": `Role of ${m.user.displayName}`, onchange: () => act(room, "PUT", `/members/${m.user.id}/role`, { role: select.value }) });
    for (const r of ["member", "moderator", "owner"]) select.append(el("option", { value: r, text: r }));
    select.value = m.role;
    row.append(select);
  }
  if (above && rank >= 1) {
    row.append(
      muted
        ? el("button", { type: "button", "data-action": "unmute", text: "Unmute", onclick: () => act(room, "DELETE", `/mutes/${m.user.id}`) })
        : el("button", { type: "button", "data-action": "mute", text: "Mute 1 h", onclick: () => act(room, "POST", "/mutes", { userId: m.user.id, until: new Date(Date.now() + 3600e3).toISOString() }) }),
      el("button", { type: "button", "data-action": "remove", text: "Remove", onclick: () => confirmThen(`Remove ${m.user.displayName}?`, (reason) => act(room, "DELETE", `/members/${m.user.id}`, reason ? { reason } : {})) }),
      el("button", { type: "button", "data-action": "ban", class: "danger", text: "Ban", onclick: () => confirmThen(`Ban ${m.user.displayName}?`, (reason) => act(room, "POST", "/bans", reason ? { userId: m.user.id, reason } : { userId: m.user.id })) }),
    );
  }
  return row;
}

/// Asks for a reason (optional); cancelling does nothing.
function confirmThen(question, then) {
  const reason = window.prompt(`${question}\nA reason, shown to them and the room (optional):`, "");
  if (reason === null) return;
  then(reason.trim());
}

async function act(room, method, path, body) {
  $("manage-error").textContent = "";
  try {
    await api(method, `/api/rooms/${room.id}${path}`, body);
    await refreshRoom(room.id);
    await openManage();
  } catch (error) {
    $("manage-error").textContent = explain(error);
    await openManage();
  }
}

async function refreshRoom(roomId) {
  try { mergeRoom((await api("GET", `/api/rooms/${roomId}`)).room); } catch { /* gone: the push says so */ }
  hooks.renderRooms();
  updateRoomNotice();
}

async function addMembers(event) {
  event.preventDefault();
  const room = state.rooms.get(openRoomId());
  try {
    const userIds = await resolveUsernames($("add-usernames").value);
    if (!userIds.length) return;
    await api("POST", `/api/rooms/${room.id}/members`, { userIds });
    $("add-usernames").value = "";
    await refreshRoom(room.id);
    await openManage();
  } catch (error) {
    $("manage-error").textContent = explain(error);
  }
}

async function createInvite() {
  const room = state.rooms.get(openRoomId());
  const body = { expiresInSeconds: Number($("invite-lifetime").value) };
  if ($("invite-uses").value) body.maxUses = Number($("invite-uses").value);
  try {
    const { invite } = await api("POST", `/api/rooms/${room.id}/invites`, body);
    $("invite-link").value = `${location.origin}/#invite=${invite.code}`;
    $("invite-made").hidden = false;
    $("invite-link").select();
  } catch (error) {
    $("manage-error").textContent = explain(error);
  }
}

async function saveSettings(event) {
  event.preventDefault();
  const room = state.rooms.get(openRoomId());
  const patch = {};
  if ($("settings-name").value.trim() !== room.name) patch.name = $("settings-name").value.trim();
  const topic = $("settings-topic").value.trim();
  if (topic !== (room.topic || "")) patch.topic = topic || null;
  if (myRank(room) >= 2) {
    if ($("settings-private").checked !== Boolean(room.private)) patch.private = $("settings-private").checked;
    if ($("settings-archived").checked !== Boolean(room.archived)) patch.archived = $("settings-archived").checked;
  }
  if (!Object.keys(patch).length) return;
  try {
    const r = await api("PATCH", `/api/rooms/${room.id}`, patch);
    mergeRoom(r.room);
    roomChanged(r.room.id);
    await openManage();
  } catch (error) {
    $("manage-error").textContent = explain(error);
  }
}

async function leave() {
  const room = state.rooms.get(openRoomId());
  try {
    await api("POST", `/api/rooms/${room.id}/leave`);
    $("manage-dialog").close();
    forget(room.id, `You left ${room.name}.`);
  } catch (error) {
    $("manage-error").textContent = explain(error);
  }
}

async function deleteRoom() {
  const room = state.rooms.get(openRoomId());
  if (!window.confirm(`Delete ${room.name} with all its messages, for everyone?`)) return;
  try {
    await api("DELETE", `/api/rooms/${room.id}`);
    $("manage-dialog").close();
    forget(room.id, `${room.name} was deleted.`);
  } catch (error) {
    $("manage-error").textContent = explain(error);
  }
}

// ---------- Invites ----------

/// An invite code from a pasted link or code.
export function inviteCode(text) {
  const m = /(?:invite=)?([A-Za-z0-9]{12})\s*$/.exec(text.trim());
  return m ? m[1] : null;
}

export async function acceptInvite(code) {
  const { room } = await api("POST", `/api/invites/${code}/accept`);
  mergeRoom(room);
  state.messages.set(room.id, state.messages.get(room.id) || new Map());
  hooks.renderRooms();
  hooks.openRoom(room.id);
  return room;
}

async function submitInvite(event) {
  event.preventDefault();
  $("invite-error").textContent = "";
  const code = inviteCode($("invite-code").value);
  if (!code) { $("invite-error").textContent = "That is not an invite code."; return; }
  try {
    await acceptInvite(code);
    $("invite-code").value = "";
    $("browse-dialog").close();
  } catch (error) {
    $("invite-error").textContent = error.code === "not_found" ? "That invite has expired or been used up." : explain(error);
  }
}

/// An invite link opened this page (`/#invite=CODE`): join once signed in.
export async function acceptInviteFromLocation() {
  const code = inviteCode(location.hash.startsWith("#invite=") ? location.hash.slice(1) : "");
  if (!code) return;
  history.replaceState(null, "", location.pathname);
  try {
    const room = await acceptInvite(code);
    banner(`You joined ${room.name}.`);
  } catch (error) {
    banner(error.code === "not_found" ? "That invite has expired or been used up." : explain(error), true);
  }
}

// ---------- Pushes ----------

function forget(roomId, message) {
  const room = state.rooms.get(roomId);
  state.rooms.delete(roomId);
  state.messages.delete(roomId);
  if (state.current === roomId) {
    if ($("manage-dialog").open) $("manage-dialog").close();
    hooks.closeRoom();
  }
  hooks.renderRooms();
  if (message && room) banner(message, true);
}

function roomChanged(roomId) {
  hooks.renderRooms();
  if (roomId === openRoomId()) {
    const room = state.rooms.get(roomId);
    $("chat-title").textContent = room.name;
    $("chat-topic").textContent = room.topic || "";
    updateRoomNotice();
  }
}

/// The room pushes; true when `frame` was one of them.
export function handleRoomPush(frame) {
  const d = frame.data || {};
  const room = state.rooms.get(d.roomId || (d.room && d.room.id));
  switch (frame.type) {
    case "room:added":
      mergeRoom(d.room);
      state.messages.set(d.room.id, state.messages.get(d.room.id) || new Map());
      hooks.renderRooms();
      // A new direct conversation appears in the list; its first message follows.
      if (d.room.kind !== "direct") banner(`You were added to ${d.room.name}.`);
      return true;
    case "room:removed": {
      const name = room ? room.name : "a room";
      forget(d.roomId, `You were ${d.banned ? "banned from" : "removed from"} ${name}${d.reason ? `: ${d.reason}` : "."}`);
      return true;
    }
    case "room:deleted":
      forget(d.roomId, room ? `${room.name} was deleted.` : null);
      return true;
    case "room:updated":
      if (!room) return true;
      // Keep my own fields (role, cursors): the push carries the room's shared ones.
      mergeRoom({ ...d.room, role: room.role, readSeq: room.readSeq, deliveredSeq: room.deliveredSeq, unread: room.unread, mutedUntil: room.mutedUntil });
      roomChanged(d.room.id);
      return true;
    case "room:role":
      if (room && state.me && d.userId === state.me.id) { room.role = d.role; updateRoomNotice(); }
      if ($("manage-dialog").open && d.roomId === openRoomId()) openManage();
      return true;
    case "room:muted":
    case "room:unmuted":
      if (room && state.me && d.userId === state.me.id) { room.mutedUntil = d.mutedUntil; updateRoomNotice(); }
      if ($("manage-dialog").open && d.roomId === openRoomId()) openManage();
      return true;
    default:
      return false;
  }
}

export function wireManage() {
  $("manage-room").addEventListener("click", openManage);
  $("guest-link").addEventListener("click", shareGuestLink);
  $("manage-close").addEventListener("click", () => $("manage-dialog").close());
  $("members-more").addEventListener("click", () => loadMembers(state.rooms.get(openRoomId()), true));
  $("add-form").addEventListener("submit", addMembers);
  $("invite-create").addEventListener("click", createInvite);
  $("settings-form").addEventListener("submit", saveSettings);
  $("room-leave").addEventListener("click", leave);
  $("room-delete").addEventListener("click", deleteRoom);
  $("invite-form").addEventListener("submit", submitInvite);
}
