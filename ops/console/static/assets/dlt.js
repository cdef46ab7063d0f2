// The dead-letter topic: why each record failed, and replay (or a dry run)
// back to its original topic.
import { api, badge, fmtAge, fmtTime, h, mono, notice, problem, replace, row, table, td, when } from './dom.js';
import { valueBlock, headerList } from './topics.js';

const FILTERS = [
  ['originalTopic', 'Original topic', 'any', 20],
  ['eventType', 'Event type', 'any', 20],
  ['error', 'Error contains', 'text', 12],
  ['key', 'Key', 'exact key', 16],
  ['olderThan', 'Older than', 'e.g. 1h', 6],
  ['newerThan', 'Newer than', 'e.g. 24h', 6],
];

export async function render(main, ctx) {
  const q = ctx.query;
  const params = new URLSearchParams();
  for (const [name] of FILTERS) if (q.get(name)) params.set(name, q.get(name));
  const data = await api('/api/dlt?' + params);
  if (!ctx.current()) return;

  const inputs = {};
  const form = h('form', {
    class: 'filters', onsubmit: e => {
      e.preventDefault();
      const p = new URLSearchParams();
      for (const [name] of FILTERS) if (inputs[name].value.trim()) p.set(name, inputs[name].value.trim());
      location.hash = '#/dlt' + (p.toString() ? '?' + p : '');
    },
  }, FILTERS.map(([name, label, placeholder, size]) => {
    inputs[name] = h('input', { name, id: 'dlt-' + name, placeholder, value: q.get(name) || '', size });
    return h('label', {}, label + ' ', inputs[name]);
  }), h('button', { type: 'submit' }, 'Filter'),
  h('button', { type: 'button', class: 'secondary', onclick: () => ctx.refresh() }, 'Refresh'));

  const force = h('input', { type: 'checkbox', id: 'dlt-force' });
  const forceBox = h('label', { class: 'force' }, force,
    ' Force: also replay records older than the consumers\' dedup retention (' + ctx.config.retention +
    '); they may have forgotten them and apply them twice.');

  const recs = data.records || [];
  const rows = [];
  for (const r of recs) rows.push(...recordRows(r, ctx, force));

  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Dead letters'),
      h('p', { class: 'muted' }, 'Records of ', mono(data.topic), ' the consumers gave up on, newest first. ',
        'Replay sends one back to its original topic (same key and headers); the consumers deduplicate on eventId.')),
    form,
    ctx.config.readOnly ? notice('warn', 'The console is read-only: replay is disabled.') : forceBox,
    recs.length ? table([['DLT record'], ['Dead-lettered (UTC)'], ['Original record, group'], ['Event type'], ['Error'], ['Attempts', 'num'], ['']], rows, { id: 'dlt' })
      : notice('info', 'No dead-lettered records', params.toString() ? ' match the filter' : '', '.'),
    data.more ? notice('info', 'Only the newest ' + data.limit + ' matches are shown.') : null);
}

function recordRows(r, ctx, force) {
  const result = h('div', { class: 'result' });
  const details = h('tr', { class: 'details', hidden: true },
    h('td', { colspan: 7 },
      h('dl', { class: 'kv' },
        h('dt', {}, 'key'), h('dd', {}, mono(r.key === null ? '<null>' : r.key)),
        h('dt', {}, 'event id'), h('dd', {}, mono(r.eventId || '-')),
        r.replayedFrom ? [h('dt', {}, 'replay of'), h('dd', {}, mono(r.replayedFrom))] : null,
        r.originalTimestamp ? [h('dt', {}, 'original time'), h('dd', {}, mono(fmtTime(r.originalTimestamp)))] : null,
        h('dt', {}, 'headers'), h('dd', {}, headerList(r.headers)),
        h('dt', {}, 'value'), h('dd', {}, valueBlock(r))),
    ));
  const act = async (dryRun) => {
    replace(result, h('span', { class: 'muted' }, dryRun ? 'checking…' : 'replaying…'));
    try {
      const res = await api('/api/dlt/replay', { method: 'POST', body: { records: [{ partition: r.partition, offset: r.offset }], dryRun, force: force.checked } });
      replace(result, ...(res.results || []).map(showResult));
    } catch (err) {
      replace(result, problem(err));
    }
  };
  const ro = ctx.config.readOnly;
  const actions = td({ class: 'actions' }, h('div', { class: 'buttons' },
    h('button', { type: 'button', class: 'small', disabled: ro, 'data-action': 'replay', onclick: () => act(false),
      title: ro ? 'the console is read-only' : 'produce it again to ' + r.originalTopic }, 'Replay'),
    h('button', { type: 'button', class: 'small secondary', disabled: ro, 'data-action': 'dry-run', onclick: () => act(true),
      title: 'say what a replay would do, without producing' }, 'Dry run'),
    h('button', { type: 'button', class: 'small secondary', 'data-action': 'details', onclick: () => { details.hidden = !details.hidden; } }, 'Details')),
    result);
  const line = row([
    mono(r.partition + '@' + r.offset),
    td({}, when(r.timestamp), h('div', { class: 'muted small' }, fmtAge(r.ageSeconds) + ' ago'),
      r.pastRetention ? badge('pending', 'past retention', 'replaying needs force') : null),
    td({}, r.originalTopic ? mono(r.originalTopic + '/' + r.originalPartition + '@' + r.originalOffset) : h('span', { class: 'muted' }, 'unknown'),
      h('div', { class: 'muted small mono' }, r.group || 'no group')),
    r.eventType ? mono(r.eventType) : h('span', { class: 'muted' }, 'none'),
    td({ class: 'error-text', 'data-col': 'error' }, r.error || ''),
    td({ class: 'num' }, mono(String(r.attempts))),
    actions,
  ], { 'data-dlt': r.partition + ':' + r.offset, 'data-value': r.value === null ? '' : r.value.slice(0, 200) });
  return [line, details];
}

function showResult(res) {
  if (res.refused) return h('div', { class: 'replay-result refused' }, badge('pending', 'refused'), ' ', res.refused);
  if (res.dryRun) {
    return h('div', { class: 'replay-result dry' }, badge('neutral', 'dry run'), ' would go to ',
      mono(res.topic + (res.toPartition >= 0 ? ' partition ' + res.toPartition : '')));
  }
  return h('div', { class: 'replay-result done', 'data-replayed-to': res.topic + '/' + res.toPartition + '@' + res.toOffset },
    badge('success', 'replayed'), ' to ', mono(res.topic + '/' + res.toPartition + '@' + res.toOffset));
}
