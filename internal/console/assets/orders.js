// Orders, with a status filter, and a form to place one.

import {api} from './api.js';
import {h, table, clock, badge, link, money, say} from './dom.js';

const statuses = ['REQUESTED', 'APPROVED', 'COMPLETED', 'CANCELLED'];

export function render(main, {me, navigate}) {
  const filter = h('select', {id: 'status-filter'},
    h('option', {value: ''}, 'All statuses'), statuses.map((s) => h('option', {value: s}, s)));
  const list = h('div', {id: 'orders'});
  const form = placeForm(navigate);
  main.append(
    h('h1', {}, 'Orders'),
    h('p', {}, me.role === 'admin' ? 'Every user’s most recent orders.' : 'Your most recent orders.'),
    form,
    h('div', {class: 'controls'}, h('label', {for: 'status-filter'}, 'Status'), filter,
      h('button', {type: 'button', onclick: load}, 'Refresh')),
    list);

  let orders = [];
  function draw() {
    const want = filter.value;
    const shown = orders.filter((o) => !want || o.status === want);
    list.replaceChildren(shown.length === 0 ? h('p', {class: 'empty'}, 'No orders.') :
      table(`${shown.length} orders${want ? ' ' + want : ''}`, ['Order', 'Status', 'Items', 'Total', 'Placed', 'Updated'],
        shown.map((o) => ({attrs: {'data-status': o.status}, cells: [
          link(`/console/orders/${encodeURIComponent(o.id)}`, o.id, {class: 'mono'}), badge(o.status),
          o.items.map((l) => `${l.quantity} × ${l.sku}`).join(', '), money(o.total_cents), clock(o.created_at), clock(o.updated_at)]})),
        {class: 'orders'}));
  }
  async function load() {
    try {
      orders = await api('/orders?limit=500') || [];
      draw();
    } catch (e) {
      say(`Orders: ${e.message}`, 'error');
    }
  }
  filter.addEventListener('change', draw);
  load();
}

// placeForm places an order of one item (POST /orders) and opens its page.
function placeForm(navigate) {
  const sku = h('select', {id: 'order-sku', required: true});
  const quantity = h('input', {id: 'order-quantity', type: 'number', min: '1', max: '1000', value: '1', required: true});
  const submit = h('button', {type: 'submit'}, 'Place order');
  const form = h('form', {class: 'place', 'aria-labelledby': 'place-title'},
    h('h2', {id: 'place-title'}, 'Place an order'),
    h('div', {class: 'row'},
      h('label', {for: 'order-sku'}, 'Item'), sku,
      h('label', {for: 'order-quantity'}, 'Quantity'), quantity,
      submit));
  api('/items').then((items) => {
    sku.replaceChildren(...(items || []).map((it) =>
      h('option', {value: it.sku}, `${it.sku} · ${it.name} · ${money(it.price_cents)} (${it.available} available)`)));
    if (!items || items.length === 0) {
      sku.append(h('option', {value: ''}, 'No items in stock yet'));
      submit.disabled = true;
    }
  }).catch((e) => say(`Items: ${e.message}`, 'error'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      const o = await api('/orders', {method: 'POST', body: {items: [{sku: sku.value, quantity: Number(quantity.value)}]}});
      say(`Order ${o.id} placed: ${o.status}.`);
      navigate(`/console/orders/${encodeURIComponent(o.id)}`);
    } catch (err) {
      say(`Order not placed: ${err.message}`, 'error');
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
