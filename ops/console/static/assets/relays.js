// The services' outbox relays and health.
import { api, badge, fmtAge, fmtTime, h, mono, notice, replace, sinceSeconds } from './dom.js';

export async function render(main, ctx) {
  const data = await api('/api/relays');
  if (!ctx.current()) return;
  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Relays'),
      h('p', { class: 'muted' }, 'Each service\'s outbox relay (GET …/outbox), its backlog (GET /metrics) and its health (GET …/health).'),
      h('button', { type: 'button', class: 'secondary', onclick: () => ctx.refresh() }, 'Refresh')),
    h('div', { class: 'cards' }, (data.services || []).map(card)));
}

function card(s) {
  const health = s.health
    ? badge(s.health.status === 'UP' ? 'success' : 'failed', s.health.status)
    : badge('failed', 'unreachable');
  const checks = s.health && s.health.checks
    ? h('ul', { class: 'checks' }, Object.entries(s.health.checks).sort().map(([name, state]) =>
      h('li', {}, badge(state === 'UP' ? 'success' : 'failed', state), ' ', name)))
    : null;
  const o = s.outbox;
  const b = s.backlog;
  const kv = [];
  const add = (k, v, cls) => kv.push(h('dt', {}, k), h('dd', { class: cls }, v));
  if (o) {
    add('relay', mono(o.relay));
    if (o.leader !== undefined) add('leader', o.leader ? badge('success', 'yes') : badge('neutral', 'no'), null);
    if (o.holder) add('lease holder', mono(o.holder));
    add('backlog', b && b.events !== null && b.events !== undefined
      ? h('span', {}, backlogBadge(b.events), b.lagSeconds ? h('span', { class: 'muted' }, ' oldest ' + fmtAge(b.lagSeconds)) : null)
      : h('span', { class: 'muted' }, s.backlogError ? 'unknown (' + s.backlogError + ')' : 'not exported'));
    add('events in outbox', mono(String(o.events)));
    add('published', mono(String(o.published)));
    add('published through', o.publishedThrough ? h('span', {}, mono(fmtTime(o.publishedThrough)), h('span', { class: 'muted' }, ' (' + fmtAge(sinceSeconds(o.publishedThrough)) + ' ago)')) : '-');
    add('parked', o.parked > 0 ? badge('failed', String(o.parked)) : mono('0'));
    add('dropped', mono(String(o.dropped)));
    add('sweeps', mono(String(o.sweeps)));
    add('history lost', mono(String(o.historyLost)));
    add('kafka retries', mono(String(o.kafkaRetries)));
    if (o.lastError) add('last error', h('span', { class: 'error-text' }, o.lastError, o.lastErrorAt ? ' at ' + fmtTime(o.lastErrorAt) : ''));
    if (o.failingSince) add('failing since', badge('failed', fmtTime(o.failingSince)));
  }
  return h('section', { class: 'card', 'data-service': s.service },
    h('header', {}, h('h2', {}, s.service), ' ', health),
    h('p', { class: 'muted small mono' }, s.url),
    s.healthError ? notice('error', s.healthError) : checks,
    o ? h('dl', { class: 'kv' }, kv) : notice('error', 'outbox: ' + (s.outboxError || 'no answer')));
}

function backlogBadge(n) {
  return n > 0 ? badge('pending', String(n) + ' events') : badge('success', '0 events');
}
