// Files in the composer: attach by button, drag and drop or paste; each uploads at
// once with a progress bar, can be retried when it fails, and goes out with the next
// send as `attachments`. In messages, images show inline at their size and other
// files as a named link with their size; the bytes are fetched with the session's
// token (a URL alone never opens a file).
import { $, el, banner, explain } from "./dom.js";
import { ApiError } from "./errors.js";
import { state } from "./store.js";

/// Files of the composer: {key, file, status: "uploading"|"done"|"failed", progress, upload, error}.
const tray = [];
let nextKey = 1;
/// Object URLs of fetched files, by upload id.
const blobs = new Map();

export function sizeLabel(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/// The ids a send carries, or null while a file is still uploading.
export function readyAttachments() {
  if (tray.some((t) => t.status === "uploading")) return null;
  return tray.filter((t) => t.status === "done").map((t) => t.upload.id);
}

export function hasAttachments() { return tray.some((t) => t.status === "done"); }

/// Empties the tray after a send took its files.
export function clearTray() {
  tray.length = 0;
  renderTray();
}

function add(files) {
  if (!state.current) return;
  for (const file of files) {
    if (tray.length >= 10) { banner("At most 10 files per message.", true); break; }
    const item = { key: nextKey++, file, status: "uploading", progress: 0 };
    tray.push(item);
    upload(item);
  }
  renderTray();
}

function upload(item) {
  item.status = "uploading";
  item.progress = 0;
  item.error = null;
  renderTray();
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/api/uploads?name=${encodeURIComponent(item.file.name || "pasted")}`);
  xhr.setRequestHeader("Authorization", `Bearer ${state.token}`);
  xhr.setRequestHeader("Content-Type", item.file.type || "application/octet-stream");
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) { item.progress = e.loaded / e.total; renderTray(); }
  };
  xhr.onload = () => {
    let data = {};
    try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
    if (xhr.status === 201) {
      item.status = "done";
      item.upload = data.upload;
    } else {
      item.status = "failed";
      item.error = ApiError.from(data.error || { code: "internal", message: xhr.statusText }, xhr.status);
    }
    renderTray();
  };
  xhr.onerror = () => {
    item.status = "failed";
    item.error = new ApiError("unavailable", "the server cannot be reached");
    renderTray();
  };
  xhr.send(item.file);
}

function renderTray() {
  const list = $("attachment-tray");
  list.replaceChildren(...tray.map((t) => el("li", { class: `tray-item ${t.status}`, "data-status": t.status, "data-name": t.file.name },
    el("span", { class: "tray-name", text: `${t.file.name || "pasted"} (${sizeLabel(t.file.size)})` }),
    t.status === "uploading" ? el("progress", { max: "1", value: String(t.progress), "aria-label": `Uploading ${t.file.name}` }) : null,
    t.status === "done" ? el("span", { class: "tray-done", text: "ready" }) : null,
    t.status === "failed" ? el("span", { class: "tray-error", role: "alert", text: explain(t.error) }) : null,
    t.status === "failed" ? el("button", { type: "button", "data-action": "retry", text: "Retry", onclick: () => upload(t) }) : null,
    el("button", { type: "button", "data-action": "remove", "aria-label": `Remove ${t.file.name}`, text: "✕",
      onclick: () => { tray.splice(tray.indexOf(t), 1); renderTray(); } }))));
  list.hidden = tray.length === 0;
}

/// The bytes of an upload as an object URL (fetched once, with the token).
async function blobURL(upload) {
  if (blobs.has(upload.id)) return blobs.get(upload.id);
  const res = await fetch(upload.url, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!res.ok) throw new ApiError(res.status === 404 ? "not_found" : "unavailable", "the file cannot be read");
  const url = URL.createObjectURL(await res.blob());
  blobs.set(upload.id, url);
  return url;
}

/// What a message row shows of its attachments.
export function attachmentNodes(m) {
  if (m.deletedAt || !m.attachments || m.attachments.length === 0) return [];
  return [el("div", { class: "attachments" }, ...m.attachments.map((a) => {
    if (a.contentType.startsWith("image/") && a.width && a.height) {
      const img = el("img", { class: "attachment-image", alt: a.name, width: String(a.width), height: String(a.height), "data-upload": a.id });
      blobURL(a).then((u) => { img.src = u; }).catch(() => img.replaceWith(el("span", { class: "attachment-missing", text: `${a.name} (unavailable)` })));
      return img;
    }
    return el("a", { class: "attachment-file", href: "#", "data-upload": a.id, text: `📎 ${a.name} (${sizeLabel(a.size)})`,
      onclick: async (e) => {
        e.preventDefault();
        try {
          const link = el("a", { href: await blobURL(a), download: a.name });
          document.body.append(link);
          link.click();
          link.remove();
        } catch (error) { banner(explain(error), true); }
      } });
  }))];
}

export function initUploads() {
  $("attach-input").addEventListener("change", (e) => { add([...e.target.files]); e.target.value = ""; });
  const zone = $("chat");
  zone.addEventListener("dragover", (e) => { if (e.dataTransfer && [...e.dataTransfer.types].includes("Files")) { e.preventDefault(); zone.classList.add("dropping"); } });
  zone.addEventListener("dragleave", () => zone.classList.remove("dropping"));
  zone.addEventListener("drop", (e) => {
    zone.classList.remove("dropping");
    if (e.dataTransfer && e.dataTransfer.files.length) { e.preventDefault(); add([...e.dataTransfer.files]); }
  });
  $("composer-input").addEventListener("paste", (e) => {
    const files = [...(e.clipboardData ? e.clipboardData.files : [])];
    if (files.length) { e.preventDefault(); add(files); }
  });
}
