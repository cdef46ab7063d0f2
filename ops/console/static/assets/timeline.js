// One customer's timeline: both services' steps, where each event is on
// Kafka, and what was dead-lettered, oldest first.
import { api, badge, h, href, link, mono, notice, replace, row, statusBadge, table, td, when } from './dom.js';
import { failButton } from './registrations.js';

const SERVICE_CLASS = { 'customer-service': 'svc-customer', 'payment-service': 'svc-payment', kafka: 'svc-kafka' };

export async function render(main, ctx) {
  const id = ctx.arg;
  const input = h('input', { name: 'customer', id: 'tl-customer', placeholder: 'customer id', value: id, size: 40, class: 'mono' });
  const form = h('form', {
    class: 'filters', onsubmit: e => {
      e.preventDefault();
      const v = input.value.trim();
      if (v) location.hash = '#/timeline/' + encodeURIComponent(v);
    },
  }, h('label', {}, 'Customer ', input), h('button', { type: 'submit' }, 'Show'),
  id ? h('button', { type: 'button', class: 'secondary', onclick: () => ctx.refresh() }, 'Refresh') : null);

  const head = h('div', { class: 'page-head' }, h('h1', {}, 'Timeline'),
    h('p', { class: 'muted' }, 'customer-service and payment-service steps, the Kafka record of each event they wrote, and dead-lettered records, in causal order (then by time).'));
  if (!id) {
    replace(main, head, form, notice('info', 'Enter a customer id, or pick one on ', link('Registrations', 'registrations'), '.'));
    return;
  }

  const [tl, cust] = await Promise.all([
    api('/api/customers/' + encodeURIComponent(id) + '/timeline'),
    api('/api/customers/' + encodeURIComponent(id)).catch(() => null),
  ]);
  if (!ctx.current()) return;

  const summary = h('div', { class: 'summary' },
    cust ? [
      h('span', { class: 'summary-name' }, [cust.firstName, cust.lastName].filter(Boolean).join(' ')),
      h('span', { id: 'tl-status' }, statusBadge(cust.status)),
      cust.failureReason ? mono(cust.failureReason) : null,
      cust.status === 'REGISTRATION_PENDING' ? failButton(id, ctx, () => ctx.refresh()) : null,
    ] : null,
    mono(id, { class: 'mono muted' }));

  const notes = (tl.notes || []).map(n => h('li', {}, n));
  const steps = tl.steps || [];
  const start = steps.length ? new Date(steps[0].time).getTime() : 0;
  const rows = steps.map((s, i) => row([
    td({ class: 'num' }, mono(String(i + 1))),
    when(s.time),
    td({ class: 'num' }, mono('+' + (new Date(s.time).getTime() - start) + ' ms')),
    h('span', { class: 'badge ' + (SERVICE_CLASS[s.service] || 'svc-other') }, s.service),
    h('span', { class: 'kind kind-' + s.kind }, s.kind),
    recordCell(s),
    h('span', {}, s.summary, s.count > 1 ? h('span', { class: 'muted' }, ' ×' + s.count) : null),
  ], {
    'data-service': s.service, 'data-kind': s.kind, 'data-event-type': s.eventType || '',
    'data-record': s.topic && s.partition !== undefined && s.offset !== undefined ? s.topic + '/' + s.partition + '@' + s.offset : '',
  }));

  replace(main, head, form, summary,
    tl.partial ? notice('warn', h('strong', {}, 'Partial timeline. '), h('ul', { id: 'tl-notes' }, notes))
      : (notes.length ? notice('info', h('ul', { id: 'tl-notes' }, notes)) : null),
    steps.length ? table([['#', 'num'], ['Time (UTC)'], ['Δ', 'num'], ['Service'], ['Step'], ['Record'], ['What happened']], rows, { id: 'timeline' })
      : notice('info', 'No steps.'),
    (tl.retention || []).length ? h('p', { class: 'muted small' }, 'May be missing after their retention: ', tl.retention.join('; ')) : null);
}

// recordCell is the step's record position, linked to the topic's records
// from that record on.
function recordCell(s) {
  if (s.kind === 'event-published' && s.partition === undefined) return badge('pending', 'not on Kafka yet');
  if (!s.topic || s.partition === undefined || s.offset === undefined) return s.topic ? mono(s.topic, { class: 'mono muted' }) : '';
  const before = s.partition + ':' + (s.offset + 1);
  return h('a', { href: href('records/' + encodeURIComponent(s.topic), { before }), class: 'mono' }, s.topic + '/' + s.partition + '@' + s.offset);
}
