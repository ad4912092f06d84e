// Per-function instances and rates, from the local stack's scaler (GET /admin/scale) when the
// gateway offers it; "not available" otherwise (a cluster's Knative autoscaler is read with kn
// or kubectl, not here).

import {api} from './api.js';
import {h, table} from './dom.js';

export function render(main) {
  const body = h('div', {id: 'functions'}, h('p', {}, 'Loading…'));
  main.append(h('h1', {}, 'Functions'), h('p', {}, 'Instances and request rates per function.'), body);
  api('/admin/scale').then((data) => {
    const rows = rowsOf(data);
    if (rows.length === 0) throw new Error('empty');
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    body.replaceChildren(table('Per-function scale', keys, rows.map((r) => keys.map((k) => format(r[k])))));
  }).catch(() => {
    body.replaceChildren(h('p', {class: 'empty', id: 'functions-unavailable'},
      'Not available: this gateway reports no per-function instances or rates.'));
  });
}

// rowsOf accepts a list of objects, {functions: [...]}, or an object keyed by function name.
function rowsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.functions)) return data.functions;
  if (data && typeof data === 'object') {
    return Object.entries(data).filter(([, v]) => v && typeof v === 'object').map(([name, v]) => ({function: name, ...v}));
  }
  return [];
}

function format(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
