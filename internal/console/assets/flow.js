// The live event flow: every saga event on the broker topic as it passes, newest first.

import {h, table, clock, badge, link} from './dom.js';
import * as stream from './stream.js';

const shown = 200;

export function render(main) {
  const state = h('p', {class: 'conn'});
  const typeFilter = h('input', {id: 'flow-type', type: 'search', placeholder: 'e.g. ORDER_CANCELLED', autocomplete: 'off'});
  const body = h('div', {id: 'flow'});
  main.append(
    h('h1', {}, 'Live events'),
    h('p', {}, 'The saga’s events as they pass on the broker topic, read without a consumer group, newest first. ' +
      'The last minutes are shown at once.'),
    h('div', {class: 'controls'}, h('label', {for: 'flow-type'}, 'Filter by type'), typeFilter),
    state, body);

  let pending = false;
  const draw = () => {
    pending = false;
    const c = stream.connection();
    state.textContent = {live: '● live', connecting: 'connecting…', reconnecting: 'reconnecting…', closed: 'disconnected', expired: 'sign-in expired', unavailable: 'broker topic unreachable'}[c] || c;
    state.className = `conn ${c}`;
    const want = typeFilter.value.trim().toUpperCase();
    // Newest first by the events' own time: the topic's partitions arrive interleaved.
    const list = stream.all().filter((e) => !want || e.type.includes(want))
      .map((e) => ({e, t: Date.parse(e.time)})).sort((a, b) => b.t - a.t).slice(0, shown).map((x) => x.e);
    body.replaceChildren(list.length === 0 ?
      h('p', {class: 'empty'}, c === 'live' ? 'No events yet: place an order.' : 'Waiting for the stream…') :
      table(`The ${list.length} most recent events`, ['Time', 'Type', 'Order', 'Source'],
        list.map((e) => ({attrs: {'data-type': e.type, 'data-order': e.order},
          cells: [clock(e.time), badge(e.type), link(`/console/orders/${encodeURIComponent(e.order)}`, e.order, {class: 'mono'}), e.source]})),
        {class: 'events'}));
  };
  // Events can arrive by the hundred a second: draw at most once a frame.
  const schedule = () => {
    if (!pending) {
      pending = true;
      requestAnimationFrame(draw);
    }
  };
  typeFilter.addEventListener('input', schedule);
  draw();
  return stream.listen(schedule);
}
