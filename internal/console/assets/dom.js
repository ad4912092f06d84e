// Small DOM helpers. Pages are built with h() from text nodes only, never innerHTML, so no
// event data can become markup.

// h builds an element: h('a', {href: '/x', class: 'y'}, 'text', child...). Attributes named
// on* take a function (an event listener); null and false attributes are left out.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// table builds a captioned table: headers, then rows of cells (text or nodes).
export function table(caption, headers, rows, attrs = {}) {
  return h('div', {class: 'scroll'},
    h('table', attrs,
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, rows.map((r) => h('tr', r.attrs || {}, (r.cells || r).map((c) => h('td', {}, c)))))));
}

// clock is a time as HH:MM:SS.mmm in the browser's zone.
export function clock(t) {
  const d = new Date(t);
  if (isNaN(d)) return '';
  return d.toLocaleTimeString([], {hour12: false}) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

// ms is a duration in milliseconds, to one decimal below a second.
export function ms(v) {
  if (v === null || v === undefined) return '–';
  return v < 1000 ? `${v.toFixed(1)} ms` : `${(v / 1000).toFixed(2)} s`;
}

export function money(cents) {
  return (cents / 100).toFixed(2);
}

// badge shows an order status or an event type in its colour class.
export function badge(text) {
  return h('span', {class: `badge b-${String(text).toLowerCase()}`}, text);
}

// link is an in-console link (the router takes the click).
export function link(path, text, attrs = {}) {
  return h('a', {...attrs, href: path}, text);
}

// say announces a message in the status line (a live region).
export function say(text, kind = 'info') {
  const el = document.getElementById('status');
  el.textContent = text;
  el.className = `status ${kind}`;
}
