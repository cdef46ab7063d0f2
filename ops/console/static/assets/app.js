// saga-console's page: a hash-routed single page over the console's JSON
// API (/api/...). Each page module exports render(main, ctx).
import { api, h, problem, replace } from './dom.js';
import * as registrations from './registrations.js';
import * as timeline from './timeline.js';
import * as dlt from './dlt.js';
import * as topics from './topics.js';
import * as relays from './relays.js';

const pages = {
  registrations, timeline, dlt, topics, relays,
  records: topics.records, // #/records/TOPIC, reached from the topics page
};

const main = document.getElementById('main');
let config = null;
let generation = 0;

// route splits "#/page/arg?query" into its parts.
function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = hash.split('?');
  const [page, ...rest] = path.split('/');
  return { page: page || 'registrations', arg: rest.length ? decodeURIComponent(rest.join('/')) : '', query: new URLSearchParams(query) };
}

async function show() {
  const gen = ++generation;
  const r = route();
  const page = pages[r.page];
  for (const a of document.querySelectorAll('#nav a')) {
    const active = a.dataset.page === r.page || (r.page === 'records' && a.dataset.page === 'topics');
    a.classList.toggle('active', active);
    if (active) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (!page) {
    replace(main, problem({ code: 'NOT_FOUND', message: 'no such page' }));
    return;
  }
  const ctx = {
    ...r, config,
    // current says whether this render is still the one on screen.
    current: () => gen === generation,
    refresh: () => show(),
  };
  delete main.dataset.ready;
  replace(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    await page.render(main, ctx);
  } catch (err) {
    if (ctx.current()) replace(main, problem(err));
  }
  // data-ready says which route is on screen, for scripts that drive the page.
  if (ctx.current()) main.dataset.ready = location.hash || '#/registrations';
}

async function start() {
  try {
    config = await api('/api/config');
  } catch (err) {
    replace(main, problem(err));
    return;
  }
  const mode = document.getElementById('mode');
  mode.textContent = config.readOnly ? 'read-only' : 'read-write';
  mode.className = 'mode ' + (config.readOnly ? 'mode-ro' : 'mode-rw');
  mode.title = config.readOnly
    ? 'The console listens beyond loopback: replay and fail are disabled (CONSOLE_ALLOW_WRITE=true enables them).'
    : 'Replay and fail are enabled.';
  window.addEventListener('hashchange', show);
  show();
}

start();
