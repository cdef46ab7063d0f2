// Kafka: topics with their partitions' offsets, consumer groups with their
// lag, and a topic's records newest first.
import { api, badge, h, href, link, mono, notice, replace, row, table, td, when } from './dom.js';

export async function render(main, ctx) {
  const [t, g] = await Promise.all([api('/api/topics'), api('/api/groups')]);
  if (!ctx.current()) return;
  const topicRows = [];
  for (const topic of t.topics || []) {
    topicRows.push(row([
      td({ class: 'topic-name' }, link(topic.name, 'records/' + encodeURIComponent(topic.name), {}, { 'data-topic': topic.name })),
      td({ class: 'num' }, mono(topic.partitions.length + ' partitions')),
      '', '',
      td({ class: 'num' }, mono(String(topic.messages))),
    ], { class: 'group-row' }));
    for (const p of topic.partitions) {
      topicRows.push(row([
        '',
        td({ class: 'num' }, mono(String(p.partition))),
        td({ class: 'num' }, mono(String(p.oldest))),
        td({ class: 'num' }, mono(String(p.newest))),
        td({ class: 'num' }, mono(String(p.messages))),
      ]));
    }
  }
  const groupRows = [];
  for (const grp of g.groups || []) {
    groupRows.push(row([
      td({ class: 'topic-name' }, grp.name),
      grp.state ? badge(grp.state === 'Stable' ? 'success' : 'neutral', grp.state) : '',
      td({ class: 'num' }, mono(String(grp.members))),
      '', '', '', '',
      td({ class: 'num' }, lagBadge(grp.lag)),
    ], { class: 'group-row' }));
    for (const o of grp.offsets) {
      groupRows.push(row([
        '', '', '',
        mono(o.topic),
        td({ class: 'num' }, mono(String(o.partition))),
        td({ class: 'num' }, mono(String(o.committed))),
        td({ class: 'num' }, mono(o.newest === null ? '-' : String(o.newest))),
        td({ class: 'num' }, o.lag === null ? mono('-') : lagBadge(o.lag)),
      ]));
    }
  }
  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Topics'),
      h('p', { class: 'muted' }, 'Oldest is the log start offset, newest the high watermark (the next offset); click a topic for its records.'),
      h('button', { type: 'button', class: 'secondary', onclick: () => ctx.refresh() }, 'Refresh')),
    topicRows.length ? table([['Topic'], ['Partition', 'num'], ['Oldest', 'num'], ['Newest', 'num'], ['Messages', 'num']], topicRows, { id: 'topics' })
      : notice('info', 'No topics.'),
    h('h2', {}, 'Consumer groups'),
    groupRows.length ? table([['Group'], ['State'], ['Members', 'num'], ['Topic'], ['Partition', 'num'], ['Committed', 'num'], ['Newest', 'num'], ['Lag', 'num']], groupRows, { id: 'groups' })
      : notice('info', 'No consumer groups.'));
}

function lagBadge(lag) {
  return lag > 0 ? badge('pending', String(lag), 'records not consumed yet') : mono(String(lag));
}

// records is #/records/TOPIC: newest first, paginated, searchable by key or
// by a header's value.
export const records = {
  async render(main, ctx) {
    const topic = ctx.arg;
    const q = ctx.query;
    const key = q.get('key') || '', header = q.get('header') || '', before = q.get('before') || '';
    const params = new URLSearchParams({ limit: '50' });
    for (const [k, v] of [['key', key], ['header', header], ['before', before]]) if (v) params.set(k, v);
    const data = await api('/api/topics/' + encodeURIComponent(topic) + '/records?' + params);
    if (!ctx.current()) return;

    const keyIn = h('input', { name: 'key', id: 'rec-key', placeholder: 'record key', value: key, size: 30, class: 'mono' });
    const headerIn = h('input', { name: 'header', id: 'rec-header', placeholder: 'eventType=… or eventId=…', value: header, size: 36, class: 'mono' });
    const route = 'records/' + encodeURIComponent(topic);
    const form = h('form', {
      class: 'filters', onsubmit: e => {
        e.preventDefault();
        location.hash = href(route, { key: keyIn.value.trim(), header: headerIn.value.trim() });
      },
    }, h('label', {}, 'Key ', keyIn), h('label', {}, 'Header ', headerIn), h('button', { type: 'submit' }, 'Search'),
    (key || header || before) ? link('clear', route, {}, { class: 'button-link' }) : null);

    const recs = data.records || [];
    const rows = recs.map(r => row([
      mono(r.partition + '@' + r.offset),
      when(r.timestamp),
      td({ class: 'mono wrap' }, r.key === null ? h('span', { class: 'muted' }, '<null>') : r.key),
      td({}, headerList(r.headers)),
      td({ class: 'value-cell' }, valueBlock(r)),
    ], { 'data-offset': r.partition + ':' + r.offset }));

    const searching = key || header;
    const info = h('p', { class: 'muted' }, recs.length + ' record' + (recs.length === 1 ? '' : 's') + ', newest first',
      searching ? ', ' + data.scanned + ' scanned' : '', before ? ' (older page)' : '', '.');
    replace(main,
      h('div', { class: 'page-head' }, h('h1', {}, 'Records of ', mono(topic)),
        h('p', {}, link('← topics', 'topics'))),
      form, info,
      data.limited ? notice('warn', 'The search stopped after scanning ' + data.scanned + ' records (the bound is ' + data.scanLimit +
        ', CONSOLE_SCAN_LIMIT): older matches may remain. ', link('Continue searching →', route, { key, header, before: data.next })) : null,
      recs.length ? table([['Position'], ['Timestamp (UTC)'], ['Key'], ['Headers'], ['Value']], rows, { id: 'records' })
        : notice('info', searching ? 'No matching records.' : 'No records.'),
      h('div', { class: 'pager' },
        before ? link('← newest', route, { key, header }) : null,
        data.next && !data.limited ? link('older →', route, { key, header, before: data.next }, { id: 'rec-older' }) : null));
  },
};

export function headerList(headers) {
  if (!headers || !headers.length) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'headers' }, headers.map(x =>
    h('li', {}, h('span', { class: 'hk' }, x.key), '=', h('span', { class: 'hv' }, x.value === null ? '<null>' : x.value))));
}

export function valueBlock(r) {
  if (r.value === null) return h('span', { class: 'muted' }, '<null>');
  return h('div', {},
    h('pre', { class: 'value' + (r.json ? ' json' : '') }, r.value),
    r.truncated ? h('div', { class: 'muted small' }, 'first 64 KB of ' + r.size + ' bytes') : null);
}
