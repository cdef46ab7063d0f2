// DOM helpers. Everything shown comes from Kafka or the services, so text
// is only ever set as text (text nodes, textContent), never parsed as HTML.

// h builds an element: props sets attributes (class, href, title, …),
// "on…" props add listeners, and children are nodes or strings (text).
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace empties el and fills it with children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// link is an in-page link to route with query parameters.
export function link(text, route, query = {}, props = {}) {
  return h('a', { href: href(route, query), ...props }, text);
}

export function href(route, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return '#/' + route + (s ? '?' + s : '');
}

// api calls the console's JSON API; errors carry the answer's code and message.
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json', 'X-Saga-Console': '1' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch (e) {
    throw Object.assign(new Error('the console did not answer'), { code: 'NETWORK' });
  }
  let data = null;
  try { data = await resp.json(); } catch (e) { /* not JSON */ }
  if (!resp.ok) {
    const err = new Error((data && data.message) || resp.statusText || 'request failed');
    err.code = (data && data.code) || String(resp.status);
    err.status = resp.status;
    err.fields = (data && data.fields) || [];
    throw err;
  }
  return data;
}

// problem renders an error for the page.
export function problem(err) {
  const fields = (err.fields || []).map(f => h('li', {}, h('code', {}, f.field), ' ', f.message));
  return h('div', { class: 'alert alert-error', role: 'alert' },
    h('strong', {}, err.code ? err.code + ': ' : ''), err.message,
    fields.length ? h('ul', {}, fields) : null);
}

export function notice(kind, ...children) {
  return h('div', { class: 'alert alert-' + kind }, ...children);
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// time renders an RFC 3339 time as UTC with milliseconds.
export function fmtTime(s) {
  if (!s) return '-';
  const d = new Date(s);
  if (isNaN(d)) return String(s);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

// age renders seconds as "850ms", "42s", "5m 10s", "3h 2m", "4d 1h".
export function fmtAge(seconds) {
  if (seconds === undefined || seconds === null || isNaN(seconds)) return '-';
  if (seconds < 1) return Math.round(seconds * 1000) + 'ms';
  const s = Math.floor(seconds);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

export function sinceSeconds(s) {
  return (Date.now() - new Date(s).getTime()) / 1000;
}

// statusBadge shows a registration status: pending amber, success green,
// failed red.
export function statusBadge(status) {
  const cls = { REGISTRATION_PENDING: 'pending', REGISTRATION_SUCCESS: 'success', REGISTRATION_FAILED: 'failed' }[status] || 'neutral';
  const label = String(status || '?').replace(/^REGISTRATION_/, '').toLowerCase();
  return h('span', { class: 'badge badge-' + cls, 'data-status': status, title: status }, label);
}

export function badge(kind, text, title) {
  return h('span', { class: 'badge badge-' + kind, title }, text);
}

// when shows a time as fmtTime does, on one line, the raw value as its title.
export function when(s) {
  return h('span', { class: 'mono nowrap', title: s || '' }, fmtTime(s));
}

export function mono(text, props = {}) {
  return h('span', { class: 'mono', ...props }, text);
}

// pos is a record's place: topic/partition@offset.
export function pos(topic, partition, offset) {
  return (topic ? topic + '/' : '') + partition + '@' + offset;
}

// table builds a table: columns are [label, class?] pairs, rows arrays of cells.
export function table(columns, rows, props = {}) {
  return h('table', { class: 'grid', ...props },
    h('thead', {}, h('tr', {}, columns.map(([label, cls]) => h('th', { class: cls }, label)))),
    h('tbody', {}, rows));
}

export function row(cells, props = {}) {
  return h('tr', props, cells.map(c => (c instanceof Node && c.tagName === 'TD') ? c : h('td', {}, c)));
}

export function td(props, ...children) {
  return h('td', props, ...children);
}
