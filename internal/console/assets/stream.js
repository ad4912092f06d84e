// The live event flow: one EventSource on /console/api/events for the whole page, shared by
// every view; the latest events are kept for the flow, running totals for the charts
// (metrics.js). The gateway sends the last minutes first, then each event as it passes on the
// broker topic (only the caller's own orders unless the caller is an admin).

import * as metrics from './metrics.js';

const keep = 5000;
const events = [];
const listeners = new Set();
let source = null;
let state = 'closed';
let seen = new Set();

// start opens the stream (once).
export function start() {
  if (source) return;
  state = 'connecting';
  notify(null);
  source = new EventSource('/console/api/events');
  source.addEventListener('saga', (m) => {
    const ev = JSON.parse(m.data);
    const key = ev.source + '\u0000' + ev.id;
    if (seen.has(key)) return; // a reconnect sends the last minutes again
    seen.add(key);
    metrics.add(ev);
    events.push(ev);
    if (events.length > keep) {
      for (const old of events.splice(0, events.length - keep)) seen.delete(old.source + '\u0000' + old.id);
    }
    notify(ev);
  });
  source.addEventListener('live', () => {
    state = 'live';
    notify(null);
  });
  // The gateway cannot read the broker topic right now: the flow is not quiet, it is cut off.
  source.addEventListener('unavailable', () => {
    state = 'unavailable';
    notify(null);
  });
  // The gateway ends the stream when the sign-in has expired: no reconnecting then.
  source.addEventListener('expired', () => {
    source.close();
    state = 'expired';
    notify(null);
  });
  source.addEventListener('error', () => {
    if (state === 'expired') return;
    state = source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting';
    notify(null);
  });
}

// stop closes the stream and forgets its events (on sign-out).
export function stop() {
  if (source) source.close();
  source = null;
  state = 'closed';
  events.length = 0;
  seen = new Set();
  metrics.reset();
  notify(null);
}

// all is every event kept, oldest first.
export function all() {
  return events;
}

export function connection() {
  return state;
}

// listen calls fn(event) for each new event and fn(null) when the connection changes; it
// returns the function that stops listening.
export function listen(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(ev) {
  for (const fn of listeners) fn(ev);
}
