// DOM helpers and formatting shared by the views: no state of the app here.

export const $ = (id) => document.getElementById(id);

/// An element with properties (`class`, `text`, `on*` listeners, attributes) and children.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

/// Keyed update of `parent`'s children to `items` ({key, signature, create}): a child
/// whose key and signature are unchanged is kept as it is (focus, scroll and
/// selection stay), a changed one is rebuilt, missing ones are added in place and
/// the rest removed. Nothing else in the list is touched.
export function reconcile(parent, items) {
  const existing = new Map();
  for (const child of parent.children) if (child.dataset.key) existing.set(child.dataset.key, child);
  const keep = new Set();
  let cursor = parent.firstElementChild;
  for (const item of items) {
    let node = existing.get(item.key);
    if (!node || node.dataset.sig !== item.signature) {
      node = item.create();
      node.dataset.key = item.key;
      node.dataset.sig = item.signature;
    }
    keep.add(node);
    if (node === cursor) cursor = cursor.nextElementSibling;
    else parent.insertBefore(node, cursor);
  }
  for (const child of [...parent.children]) if (!keep.has(child)) child.remove();
}

let bannerTimer = null;
/// A message across the top; errors stay 5 s unless `sticky`.
export function banner(text, isError = false, sticky = false) {
  const b = $("banner");
  b.textContent = text;
  b.classList.toggle("error-banner", isError);
  b.hidden = false;
  clearTimeout(bannerTimer);
  if (!sticky) bannerTimer = setTimeout(() => { b.hidden = true; }, 5000);
}

export function clearBanner() { $("banner").hidden = true; }

/// What an error from the server means to a person.
export function explain(error) {
  const code = error && error.code;
  if (code === "rate_limited") return `You are sending too fast. Try again in ${Math.ceil((error.retryAfterMs || 1000) / 1000)} s.`;
  if (code === "forbidden") return error.message && error.message !== "forbidden" ? capitalize(error.message) + "." : "You are not allowed to do that here.";
  if (code === "not_found") return "That room or person no longer exists.";
  if (code === "unavailable") return "The server cannot reach its database right now. Retrying helps.";
  if (code === "too_large") return "That is too large to send.";
  return (error && error.message) || "Something went wrong.";
}

const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

export const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
export const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
export const dayKey = (d) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;

export function lastSeen(iso) {
  if (!iso) return "";
  const minutes = Math.round((Date.now() - new Date(iso)) / 60000);
  if (minutes < 1) return "seen just now";
  if (minutes < 60) return `seen ${minutes} min ago`;
  if (minutes < 1440) return `seen ${Math.round(minutes / 60)} h ago`;
  return `seen ${new Date(iso).toLocaleDateString()}`;
}
