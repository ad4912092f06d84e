// Stock levels: every item's available, reserved and sold units.

import {api} from './api.js';
import {h, table, money, say} from './dom.js';

export function render(main) {
  const list = h('div', {id: 'stock'});
  main.append(h('h1', {}, 'Stock'),
    h('p', {}, 'Available units can be ordered; reserved ones are held by orders in flight; sold ones shipped.'),
    h('div', {class: 'controls'}, h('button', {type: 'button', onclick: load}, 'Refresh')),
    list);
  async function load() {
    try {
      const items = await api('/items') || [];
      list.replaceChildren(items.length === 0 ? h('p', {class: 'empty'}, 'No items.') :
        table(`${items.length} items`, ['SKU', 'Name', 'Price', 'Available', 'Reserved', 'Sold'],
          items.map((it) => ({attrs: {'data-sku': it.sku}, cells: [
            h('span', {class: 'mono'}, it.sku), it.name, money(it.price_cents),
            num(it.available), num(it.reserved), num(it.sold)]})),
          {class: 'stock'}));
    } catch (e) {
      say(`Stock: ${e.message}`, 'error');
    }
  }
  load();
}

function num(n) {
  return h('span', {class: 'num'}, String(n));
}
