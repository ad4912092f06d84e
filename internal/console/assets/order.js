// One order: its status and the saga's timeline (each event, its source, the hop latency after
// the event it answers, as `ordersctl events trace` shows it), with the trace id its events
// carry. It follows the live stream: each event of this order redraws the page.

import {api, ApiError} from './api.js';
import {h, table, clock, ms, badge, money, say} from './dom.js';
import * as stream from './stream.js';

const terminal = new Set(['COMPLETED', 'CANCELLED']);

export function render(main, {params}) {
  const id = params.id;
  const summary = h('section', {id: 'order-summary', 'aria-labelledby': 'order-title'});
  const timeline = h('section', {id: 'timeline', 'aria-label': 'Saga timeline'});
  main.append(
    h('h1', {id: 'order-title'}, 'Order ', h('span', {class: 'mono'}, id)),
    summary, timeline);

  let alive = true;
  let loading = null;
  let again = false;
  async function load() {
    if (loading) {
      again = true; // one more load after this one: an event arrived meanwhile
      return;
    }
    // The order first: its creation time bounds how much of the topic the timeline reads.
    loading = drawOrder().then((o) => drawTimeline(o ? new Date(Date.parse(o.created_at) - 60_000).toISOString() : ''));
    await loading;
    loading = null;
    if (again && alive) {
      again = false;
      load();
    }
  }

  // drawOrder shows the order and returns it (null when it cannot be read).
  async function drawOrder() {
    try {
      const o = await api(`/orders/${encodeURIComponent(id)}`);
      if (!alive) return o;
      summary.replaceChildren(h('dl', {class: 'facts'},
        h('dt', {}, 'Status'), h('dd', {id: 'order-status', 'data-status': o.status}, badge(o.status),
          terminal.has(o.status) ? '' : h('span', {class: 'pulse', 'aria-hidden': 'true'}, ' ●')),
        h('dt', {}, 'Items'), h('dd', {}, o.items.map((l) => `${l.quantity} × ${l.sku}`).join(', ')),
        h('dt', {}, 'Total'), h('dd', {}, money(o.total_cents)),
        h('dt', {}, 'Placed'), h('dd', {}, new Date(o.created_at).toLocaleString()),
        o.cancel_reason ? [h('dt', {}, 'Reason'), h('dd', {}, o.cancel_reason)] : null,
        o.tracking_id ? [h('dt', {}, 'Tracking'), h('dd', {}, o.tracking_id)] : null));
      return o;
    } catch (e) {
      if (alive) {
        summary.replaceChildren(h('p', {class: 'empty'},
          e instanceof ApiError && e.status === 404 ? 'No such order (or not yours).' : `Order: ${e.message}`));
      }
      return null;
    }
  }

  async function drawTimeline(since) {
    try {
      const q = since ? `?since=${encodeURIComponent(since)}` : '';
      const tr = await api(`/console/api/orders/${encodeURIComponent(id)}/timeline${q}`);
      if (!alive) return;
      timeline.replaceChildren(
        h('h2', {}, 'Timeline'),
        h('p', {}, `${tr.events.length} events in ${ms(tr.total_ms)}, `, badge(tr.events[0].type), ' → ',
          badge(tr.events[tr.events.length - 1].type), '.'),
        h('p', {}, 'Trace ', tr.trace_id ?
          h('code', {id: 'trace-id'}, tr.trace_id) :
          h('span', {id: 'trace-id'}, 'not available (the events carry no traceparent)')),
        table('Each event of the saga, with the time since the event it answers', ['Time', 'Elapsed', 'Hop', 'Type', 'Source', 'After'],
          tr.events.map((s) => ({attrs: {'data-type': s.type}, cells: [
            clock(s.time), ms(s.elapsed_ms), s.hop_ms === undefined ? '–' : '+' + ms(s.hop_ms), badge(s.type), s.source, s.after || '']})),
          {class: 'timeline'}),
        hops(tr));
    } catch (e) {
      if (!alive) return;
      timeline.replaceChildren(h('h2', {}, 'Timeline'), h('p', {class: 'empty'},
        e instanceof ApiError && e.status === 404 ? 'No events on the broker topic yet.' : `Timeline: ${e.message}`));
    }
  }

  load();
  const stop = stream.listen((ev) => {
    if (ev && ev.order === id) load();
  });
  return () => {
    alive = false;
    stop();
    say('');
  };
}

// hops draws each hop's latency as a bar, so the slow step stands out.
function hops(tr) {
  const steps = tr.events.filter((s) => s.hop_ms !== undefined);
  if (steps.length === 0) return null;
  const max = Math.max(...steps.map((s) => s.hop_ms), 0.001);
  return h('figure', {class: 'hops'},
    h('figcaption', {}, 'Hop latency'),
    h('ul', {}, steps.map((s) => {
      const bar = h('span', {class: 'bar', 'aria-hidden': 'true'});
      bar.style.width = `${Math.max(1, Math.round(100 * s.hop_ms / max))}%`; // CSSOM: allowed by the CSP
      return h('li', {},
        h('span', {class: 'hop-name'}, `${s.after} → ${s.type}`),
        h('span', {class: 'track'}, bar),
        h('span', {class: 'hop-ms'}, ms(s.hop_ms)));
    })));
}
