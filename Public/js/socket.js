// The native /ws connection: auth frame, requests with acks, fire-and-forget events,
// reconnection with backoff. Frames go to the handler main.js registers.
import { ApiError } from "./errors.js";
import { state } from "./store.js";

const handlers = { frame: () => {}, closed: () => {}, connecting: () => {} };
/// `frame(frame)` for each server frame; `closed(event)` when the socket ends;
/// `connecting()` when a connection attempt starts.
export function on(events) { Object.assign(handlers, events); }

export function connect() {
  clearTimeout(state.retryTimer);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws`);
  state.ws = ws;
  state.ready = false;
  handlers.connecting();
  ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: state.token }));
  ws.onmessage = (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch (e) { console.error(e); return; }
    if (frame.type === "ack") { answer(frame); return; }
    try { handlers.frame(frame); } catch (e) { console.error(e); }
  };
  ws.onclose = (event) => {
    state.ready = false;
    for (const { reject } of state.acks.values()) reject(new ApiError("unavailable", "connection lost"));
    state.acks.clear();
    handlers.closed(event);
  };
}

/// Reconnects after `delay` ms.
export function reconnectIn(delay) { state.retryTimer = setTimeout(connect, delay); }

export function disconnect() {
  clearTimeout(state.retryTimer);
  if (state.ws) { state.ws.onclose = null; state.ws.close(); }
  state.ws = null;
}

function answer(frame) {
  const waiter = state.acks.get(String(frame.id));
  if (!waiter) return;
  state.acks.delete(String(frame.id));
  frame.ok ? waiter.resolve(frame.data) : waiter.reject(ApiError.from(frame.error));
}

const isOpen = () => state.ws && state.ws.readyState === WebSocket.OPEN && state.ready;

/// Sends an event and resolves with its ack's data; `ApiError` on refusal, on no
/// answer within 15 s ("no answer") or when offline.
export function request(type, data = {}) {
  return new Promise((resolve, reject) => {
    if (!isOpen()) {
      reject(new ApiError("unavailable", "offline"));
      return;
    }
    const id = String(state.nextId++);
    const timer = setTimeout(() => { state.acks.delete(id); reject(new ApiError("unavailable", "no answer")); }, 15000);
    state.acks.set(id, { resolve: (v) => { clearTimeout(timer); resolve(v); }, reject: (e) => { clearTimeout(timer); reject(e); } });
    state.ws.send(JSON.stringify({ type, id, data }));
  });
}

/// Sends an event without waiting for an answer (typing, delivery receipts).
export function fire(type, data) {
  if (isOpen()) state.ws.send(JSON.stringify({ type, data }));
}
