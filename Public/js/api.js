// REST: accounts, rooms, history. Failures are `ApiError`s with the contract's code.
import { ApiError } from "./errors.js";
import { state } from "./store.js";

let unauthorized = () => {};
/// Called when the server says the session is over (401 on an authenticated call).
export function onUnauthorized(handler) { unauthorized = handler; }

export async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError("unavailable", "the server cannot be reached");
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401 && state.token && path !== "/api/auth/login") unauthorized();
    throw ApiError.from(data.error || { code: "internal", message: res.statusText }, res.status);
  }
  return data;
}
