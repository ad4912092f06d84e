// Running totals of the event stream for the charts, kept apart from the raw events (the flow
// keeps only the latest few thousand): events per 10-second bucket, and for each order that
// ended, the time from its ORDER_REQUESTED to its ORDER_COMPLETED or ORDER_CANCELLED. Everything
// older than the charts' span is forgotten.

export const span = 10 * 60 * 1000;
export const bucket = 10 * 1000;
const maxOrders = 100_000;

const counts = new Map(); // bucket start → events
const requested = new Map(); // order → ORDER_REQUESTED time
const ended = []; // {at, latency}, in arrival order

// add counts one event of the stream.
export function add(ev) {
  const t = Date.parse(ev.time);
  if (isNaN(t)) return;
  const b = Math.floor(t / bucket) * bucket;
  counts.set(b, (counts.get(b) || 0) + 1);
  if (ev.type === 'ORDER_REQUESTED') {
    requested.set(ev.order, t);
    if (requested.size > maxOrders) requested.delete(requested.keys().next().value);
  } else if ((ev.type === 'ORDER_COMPLETED' || ev.type === 'ORDER_CANCELLED') && requested.has(ev.order)) {
    ended.push({at: t, latency: t - requested.get(ev.order)});
    requested.delete(ev.order);
  }
  prune(Date.now());
}

export function reset() {
  counts.clear();
  requested.clear();
  ended.length = 0;
}

function prune(now) {
  const oldest = now - span - bucket;
  for (const b of counts.keys()) if (b < oldest) counts.delete(b);
  while (ended.length > 0 && ended[0].at < oldest) ended.shift();
}

// buckets are the start times of the span's 10-second buckets, oldest first.
export function buckets(now) {
  const end = Math.floor(now / bucket) * bucket;
  const out = [];
  for (let t = end - span + bucket; t <= end; t += bucket) out.push(t);
  return out;
}

// eventsPer is the number of events in each bucket.
export function eventsPer(starts) {
  return starts.map((b) => counts.get(b) || 0);
}

// latencies are the ended orders' latencies in each bucket (by the time they ended).
export function latencies(starts) {
  const per = starts.map(() => []);
  for (const x of ended) {
    const i = Math.floor((x.at - starts[0]) / bucket);
    if (i >= 0 && i < per.length) per[i].push(x.latency);
  }
  return per;
}
