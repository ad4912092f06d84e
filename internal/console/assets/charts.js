// Throughput and latency over the last minutes, computed from the live event stream itself:
// events per second, and for each order that ended, the time from ORDER_REQUESTED to its
// ORDER_COMPLETED or ORDER_CANCELLED (running totals in metrics.js). The stream starts ten
// minutes back (or its last 5000 events, if fewer), so the charts fill at once.

import {h, ms} from './dom.js';
import * as metrics from './metrics.js';

const svgNS = 'http://www.w3.org/2000/svg';

export function render(main) {
  const throughput = h('figure', {class: 'chart', id: 'chart-throughput'});
  const latency = h('figure', {class: 'chart', id: 'chart-latency'});
  main.append(h('h1', {}, 'Charts'),
    h('p', {}, 'The last ten minutes, from the live event stream.'),
    throughput, latency);
  const draw = () => {
    const starts = metrics.buckets(Date.now());
    drawThroughput(throughput, starts);
    drawLatency(latency, starts);
  };
  draw();
  const timer = setInterval(draw, 2000);
  return () => clearInterval(timer);
}

function drawThroughput(fig, starts) {
  const counts = metrics.eventsPer(starts);
  const rates = counts.map((c) => c / (metrics.bucket / 1000));
  const total = counts.reduce((a, b) => a + b, 0);
  const peak = Math.max(...rates);
  const summary = `${total} events in the last ten minutes; peak ${peak.toFixed(1)} events/s over 10 s.`;
  fig.replaceChildren(h('figcaption', {}, 'Events per second (10 s buckets)'),
    bars(rates, (v) => `${v.toFixed(1)}/s`, summary), h('p', {class: 'summary'}, summary));
}

function drawLatency(fig, starts) {
  const per = metrics.latencies(starts);
  const p50 = per.map((l) => quantile(l, 0.5));
  const all = per.flat();
  const summary = all.length === 0 ? 'No order reached its end in the last ten minutes.' :
    `${all.length} ${all.length === 1 ? 'order' : 'orders'} ended; placed to end p50 ${ms(quantile(all, 0.5))}, p95 ${ms(quantile(all, 0.95))}.`;
  fig.replaceChildren(h('figcaption', {}, 'Order latency, placed to completed or cancelled (p50 per 10 s)'),
    bars(p50, (v) => ms(v), summary), h('p', {class: 'summary'}, summary));
}

function quantile(list, q) {
  if (list.length === 0) return 0;
  const s = [...list].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

// bars draws values as an SVG bar chart that stretches to its box, with its scale and time
// axis in HTML beside it (SVG text would stretch too); the summary is its text alternative,
// each bar's title its value.
function bars(values, label, summary) {
  const max = Math.max(...values, 0);
  return h('div', {class: 'plot'},
    h('div', {class: 'axis'}, h('span', {}, max > 0 ? `max ${label(max)}` : 'no data')),
    svgBars(values, label, summary),
    h('div', {class: 'axis time'}, h('span', {}, '−10 min'), h('span', {}, 'now')));
}

function svgBars(values, label, summary) {
  const w = 600;
  const hgt = 160;
  const max = Math.max(...values, 0) || 1;
  const svg = document.createElementNS(svgNS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', summary);
  svg.setAttribute('preserveAspectRatio', 'none');
  const bw = w / values.length;
  values.forEach((v, i) => {
    const bh = Math.round((v / max) * hgt);
    const r = document.createElementNS(svgNS, 'rect');
    r.setAttribute('x', String(i * bw + 1));
    r.setAttribute('y', String(hgt - bh));
    r.setAttribute('width', String(Math.max(1, bw - 2)));
    r.setAttribute('height', String(bh));
    r.setAttribute('class', 'bar');
    const t = document.createElementNS(svgNS, 'title');
    t.textContent = label(v);
    r.append(t);
    svg.append(r);
  });
  return svg;
}
