// Registrations by status, with their age; a pending one can be failed.
import { api, badge, fmtAge, fmtTime, h, link, mono, notice, problem, replace, row, statusBadge, table, td, when } from './dom.js';

const STATUSES = [['', 'All'], ['REGISTRATION_PENDING', 'Pending'], ['REGISTRATION_SUCCESS', 'Success'], ['REGISTRATION_FAILED', 'Failed']];

export async function render(main, ctx) {
  const q = ctx.query;
  const status = q.get('status') || '';
  const olderThan = q.get('olderThan') || '';
  const after = q.get('after') || '';
  const params = new URLSearchParams();
  for (const [k, v] of [['status', status], ['olderThan', olderThan], ['after', after], ['limit', '50']]) if (v) params.set(k, v);
  const page = await api('/api/registrations?' + params);
  if (!ctx.current()) return;

  const statusSel = h('select', { name: 'status', id: 'reg-status' },
    STATUSES.map(([v, label]) => h('option', { value: v, selected: v === status }, label)));
  const older = h('input', { name: 'olderThan', id: 'reg-older', placeholder: 'e.g. 5m', value: olderThan, size: 8 });
  const form = h('form', {
    class: 'filters', onsubmit: e => {
      e.preventDefault();
      location.hash = hrefFor({ status: statusSel.value, olderThan: older.value.trim() });
    },
  },
  h('label', {}, 'Status ', statusSel),
  h('label', {}, 'Older than ', older),
  h('button', { type: 'submit' }, 'Apply'),
  h('button', { type: 'button', class: 'secondary', onclick: () => ctx.refresh() }, 'Refresh'));

  const regs = page.registrations || [];
  const rows = regs.map(r => registrationRow(r, ctx));
  const pager = h('div', { class: 'pager' },
    after ? link('← newest', 'registrations', { status, olderThan }) : null,
    page.next ? link('older →', 'registrations', { status, olderThan, after: page.next }, { id: 'reg-older-page' }) : null);

  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Registrations'),
      h('p', { class: 'muted' }, 'Newest first, from customer-service. Click a customer for its timeline across both services and Kafka.')),
    form,
    regs.length ? table([['Customer'], ['Name'], ['Status'], ['Reason'], ['Created (UTC)'], ['Age', 'num'], ['Waiting for'], ['']], rows, { id: 'registrations' })
      : notice('info', 'No registrations', status ? ' with this status' : '', olderThan ? ' older than ' + olderThan : '', '.'),
    pager);
}

function hrefFor(q) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v) p.set(k, v);
  const s = p.toString();
  return '#/registrations' + (s ? '?' + s : '');
}

function registrationRow(r, ctx) {
  const action = td({ class: 'actions' });
  if (r.status === 'REGISTRATION_PENDING') action.append(failButton(r.id, ctx));
  let waiting = '';
  if (r.status === 'REGISTRATION_PENDING') {
    waiting = h('span', {}, (r.awaiting || '').split('|').join(' or '), r.deadLockAt ? h('br') : null,
      r.deadLockAt ? h('span', { class: 'muted small' }, 'dead-lock detection from ' + fmtTime(r.deadLockAt)) : null);
  }
  return row([
    td({}, link(r.id, 'timeline/' + encodeURIComponent(r.id), {}, { class: 'mono nowrap', 'data-customer': r.id })),
    td({ class: 'nowrap' }, r.name),
    td({ 'data-col': 'status' }, statusBadge(r.status)),
    r.reason ? mono(r.reason) : '',
    when(r.createdAt),
    td({ class: 'num' }, mono(fmtAge(r.ageSeconds))),
    waiting,
    action,
  ], { 'data-id': r.id });
}

// failButton ends a pending registration, after a second click to confirm.
export function failButton(id, ctx, onDone) {
  const out = h('span', { class: 'result' });
  const btn = h('button', { type: 'button', class: 'danger small', disabled: ctx.config.readOnly,
    title: ctx.config.readOnly ? 'the console is read-only' : 'fail this pending registration now (customer-service publishes the dead-lock event)' }, 'Fail…');
  let armed = false;
  btn.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      btn.textContent = 'Confirm fail';
      setTimeout(() => { if (armed) { armed = false; btn.textContent = 'Fail…'; } }, 5000);
      return;
    }
    armed = false;
    btn.disabled = true;
    try {
      const c = await api('/api/customers/' + encodeURIComponent(id) + '/fail', { method: 'POST', body: {} });
      replace(out, badge('failed', 'failed'), ' ', c.failureReason || '');
      if (onDone) onDone(c);
    } catch (err) {
      replace(out, problem(err));
      btn.disabled = false;
      btn.textContent = 'Fail…';
    }
  });
  return h('span', {}, btn, out);
}
