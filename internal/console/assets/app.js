// The console's shell: who is signed in, the navigation, and the router that maps the path
// under /console/ to a view. Each view module exports render(main, ctx) and may return a
// function that tears it down (stops listening to the event stream) when another view opens.

import {api, ApiError} from './api.js';
import {h, say} from './dom.js';
import * as stream from './stream.js';
import * as signin from './signin.js';
import * as flow from './flow.js';
import * as orders from './orders.js';
import * as order from './order.js';
import * as stock from './stock.js';
import * as deadletters from './deadletters.js';
import * as charts from './charts.js';
import * as functions from './functions.js';

const base = '/console';

// views in navigation order; admin views are shown to admins only.
const views = [
  {path: '/', title: 'Live events', module: flow},
  {path: '/orders', title: 'Orders', module: orders},
  {path: '/stock', title: 'Stock', module: stock},
  {path: '/charts', title: 'Charts', module: charts},
  {path: '/deadletters', title: 'Dead letters', module: deadletters, admin: true},
  {path: '/functions', title: 'Functions', module: functions, admin: true},
];

let me = null;
let teardown = null;

// route finds the view of a path under /console.
function route(path) {
  const rest = path.startsWith(base) ? path.slice(base.length) || '/' : '/';
  const m = rest.match(/^\/orders\/([^/]+)\/?$/);
  if (m) {
    let id;
    try {
      id = decodeURIComponent(m[1]);
    } catch {
      return {view: null, params: {}}; // a malformed link (/orders/%E0) is a page not found
    }
    return {view: {title: 'Order', module: order, parent: '/orders'}, params: {id}};
  }
  const view = views.find((v) => v.path === rest.replace(/\/$/, '') || (v.path === '/' && rest === '/'));
  return {view: view || null, params: {}};
}

export function navigate(path, {replace = false} = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

async function render() {
  if (teardown) teardown();
  teardown = null;
  const main = document.getElementById('main');
  main.replaceChildren();
  say('');
  if (!me) {
    try {
      me = await api('/me');
    } catch (e) {
      if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) say(e.message, 'error');
      me = null;
    }
  }
  shell();
  if (!me) {
    document.title = 'Sign in · ordersaga console';
    signin.render(main, {
      onSignedIn: (who) => {
        me = who;
        navigate(location.pathname === base + '/' || location.pathname === base ? base + '/' : location.pathname, {replace: true});
      },
    });
    return;
  }
  stream.start();
  const {view, params} = route(location.pathname);
  if (!view || (view.admin && me.role !== 'admin')) {
    document.title = 'Not found · ordersaga console';
    main.append(h('h1', {}, 'Not found'), h('p', {}, 'This page does not exist, or it is for admins only. ',
      h('a', {href: base + '/'}, 'Back to the live events')));
    return;
  }
  document.title = `${view.title} · ordersaga console`;
  markCurrent(view.parent || view.path);
  teardown = view.module.render(main, {me, params, navigate}) || null;
}

// shell shows the navigation and the signed-in user (or nothing before sign-in).
function shell() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!me) {
    nav.hidden = true;
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  nav.hidden = false;
  nav.replaceChildren(h('ul', {}, views.filter((v) => !v.admin || me.role === 'admin').map((v) =>
    h('li', {}, h('a', {href: base + (v.path === '/' ? '/' : v.path), 'data-path': v.path}, v.title)))));
  who.replaceChildren(
    h('span', {}, me.email, me.role === 'admin' ? h('span', {class: 'role'}, ' admin') : null),
    h('button', {type: 'button', class: 'link', onclick: signOut}, 'Sign out'));
}

function markCurrent(path) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.path === path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function signOut() {
  try {
    await api('/logout', {method: 'POST'});
  } catch (e) {
    say(e.message, 'error');
  }
  me = null;
  stream.stop();
  navigate(base + '/');
}

// A sign-in that expires while the page is open: back to the sign-in form.
stream.listen((ev) => {
  if (ev === null && stream.connection() === 'expired' && me) {
    me = null;
    stream.stop();
    render().then(() => say('Your sign-in has expired: sign in again.', 'error'));
  }
});

// In-console links change the view without reloading the page.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(base + '/') || a.target) return;
  e.preventDefault();
  navigate(url.pathname);
  document.getElementById('main').focus();
});
window.addEventListener('popstate', render);
render();
