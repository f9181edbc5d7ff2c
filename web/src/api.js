// The dashboard's one API client. It holds the only state the page has:
// the management key, in this module's memory, and in sessionStorage only
// when the person asks to stay signed in for this tab. Never localStorage,
// a cookie or the URL: the key goes out only in the Authorization header.

const storageName = 'aistats.management_key';
let key = sessionStorage.getItem(storageName) || '';

// The API is the stage the page is served from: /v1/dashboard calls /v1/….
const base = new URL('./', location.href);

export const signedIn = () => key !== '';

export function signIn(text, keepForTab) {
  key = text.trim();
  if (keepForTab) sessionStorage.setItem(storageName, key);
}

export function signOut() {
  key = '';
  sessionStorage.removeItem(storageName);
}

// ApiError is a refused call, with the API's own message. A missing scope
// is named, so the page can say which one the key lacks.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
    const m = code === 'insufficient_scope' && /scope ([\w:]+)/.exec(message);
    this.scope = m ? m[1] : '';
  }
  get text() {
    return this.scope ? `Missing scope ${this.scope}: ${this.message}` : this.message;
  }
}

export async function call(method, path, { query, body } = {}) {
  const url = new URL(path.replace(/^\//, ''), base);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, 'network', `The gateway did not answer (${e.message}).`);
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* a body that is not JSON */ }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || '', e.message || (data && data.message) || `HTTP ${res.status}`);
  }
  return data;
}

export const get = (path, query) => call('GET', path, { query });
