// The API client: JSON in and out, the CSRF header on unsafe requests, and
// errors thrown as ApiError carrying the stable code and the field at fault.

let csrfToken = null;
// The superadmin console has its own session and CSRF token.
let adminCsrfToken = null;

export class ApiError extends Error {
  constructor(status, body, requestId = null) {
    const error = (body && body.error) || {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code || (status ? "http_error" : "network_error");
    this.details = error.details || {};
    // The server's X-Request-Id, which its logs carry too.
    this.requestId = requestId;
  }
  get field() {
    return this.details.field;
  }
}

export function setCsrfToken(token) {
  csrfToken = token || null;
}

export function setAdminCsrfToken(token) {
  adminCsrfToken = token || null;
}

export async function api(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  const raw = body instanceof Blob;
  if (body !== undefined && !(body instanceof FormData) && !raw) headers["Content-Type"] = "application/json";
  if (raw && body.type) headers["Content-Type"] = body.type;
  const csrf = path.startsWith("/api/v1/admin/") ? adminCsrfToken : csrfToken;
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  let response;
  try {
    response = await fetch(path.startsWith("/") ? path : `/api/v1/${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : body instanceof FormData || raw ? body : JSON.stringify(body),
      signal: options.signal,
    });
  } catch (e) {
    throw new ApiError(0, { error: { code: "network_error", message: "cannot reach the server" } });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  const data = text ? safeJson(text) : null;
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("x-request-id"));
  return data;
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * POSTs JSON and reads the answer as server-sent events (fetch + ReadableStream),
 * calling `on(event, data)` for each `event:`/`data:` block; `signal` aborts it.
 */
export async function postEvents(path, body, on, signal) {
  const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
  if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, { method: "POST", credentials: "same-origin", signal, headers, body: JSON.stringify(body) });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null), response.headers.get("x-request-id"));
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = null;
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (event) on(event, JSON.parse(data));
    }
  }
}

/** Uploads raw bytes (a File or Blob) with their content type. */
export async function putBytes(path, blob) {
  const headers = { Accept: "application/json", "Content-Type": blob.type || "application/octet-stream" };
  if (csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, { method: "PUT", headers, credentials: "same-origin", body: blob });
  const text = await response.text();
  const data = text ? safeJson(text) : null;
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("x-request-id"));
  return data;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const patch = (path, body) => api("PATCH", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path, body) => api("DELETE", path, body);
/** Uploads a file as the raw request body. */
export const upload = (path, file) => api("PUT", path, file);
