// Dead letters (admins only): what a Trigger gave up on, and a replay of each. The dead-letter
// function's admin API does the work; this page only lists and asks.

import {api} from './api.js';
import {h, table, clock, badge, link, say} from './dom.js';

const statuses = ['pending', 'redriving', 'failed_permanently', 'delivered'];

export function render(main) {
  const filter = h('select', {id: 'dl-status'},
    h('option', {value: ''}, 'Any status'), statuses.map((s) => h('option', {value: s}, s)));
  const list = h('div', {id: 'deadletters'});
  main.append(h('h1', {}, 'Dead letters'),
    h('p', {}, 'Events a Trigger gave up on. Transient ones are redriven automatically; replay sends one to its destination again now.'),
    h('div', {class: 'controls'}, h('label', {for: 'dl-status'}, 'Status'), filter,
      h('button', {type: 'button', onclick: load}, 'Refresh')),
    list);

  async function load() {
    try {
      const q = filter.value ? `&status=${encodeURIComponent(filter.value)}` : '';
      const res = await api(`/deadletters?limit=200${q}`);
      const rows = res.dead_letters || [];
      list.replaceChildren(rows.length === 0 ? h('p', {class: 'empty'}, 'No dead letters.') :
        table(`${rows.length} dead letters, newest first`, ['Last seen', 'Type', 'Order', 'Status', 'Error', 'Attempts', 'Replays', ''],
          rows.map((d) => ({attrs: {'data-id': d.id, 'data-status': d.status}, cells: [
            clock(d.last_seen), badge(d.type),
            d.order_id ? link(`/console/orders/${encodeURIComponent(d.order_id)}`, d.order_id, {class: 'mono'}) : '',
            h('span', {class: 'dl-status'}, d.status),
            d.last_error || (d.error_code ? `HTTP ${d.error_code}` : ''),
            String(d.attempts), String(d.replays),
            h('button', {type: 'button', class: 'replay', 'aria-label': `Replay ${d.type} of order ${d.order_id || d.id}`,
              onclick: (e) => replay(d, e.currentTarget)}, 'Replay')]})),
          {class: 'deadletters'}));
    } catch (e) {
      say(`Dead letters: ${e.message}`, 'error');
    }
  }

  async function replay(d, button) {
    button.disabled = true;
    const force = d.status === 'delivered' ? '?force=true' : '';
    try {
      const res = await api(`/deadletters/${encodeURIComponent(d.id)}/replay${force}`, {method: 'POST'});
      say(`Replayed ${d.type} of order ${d.order_id}: ${res.status}${res.last_error ? ' (' + res.last_error + ')' : ''}.`,
        res.status === 'delivered' ? 'ok' : 'error');
    } catch (e) {
      say(`Replay failed: ${e.message}`, 'error');
    }
    await load();
  }
  filter.addEventListener('change', load);
  load();
}
