// The dashboard's shared parts: the API client (token from this page's ?token=), the page's fixed elements,
// value formatting and the DOM builders every view uses.
export const token = new URLSearchParams(location.search).get('token');
export const view = document.getElementById('view');
export const alertsBox = document.getElementById('alerts');
export const storeState = document.getElementById('store-state');

export async function api(path) {
  const response = await fetch(`/api/dashboard/${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  return body;
}

export const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
export const ms = (v) => (typeof v === 'number' ? `${Math.round(v)} ms` : '–');
export const pct = (v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '–');
export const when = (t) => (t ? new Date(t).toLocaleString() : '–');

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}
