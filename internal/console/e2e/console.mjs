// Drives the web console in a real Chromium, as a person would: sign in with the keyboard,
// place an order, watch it move live (the test holds shipping until this script prints
// "resume shipping", so the order's end happens while its page is open), open its timeline, look at the stock, the charts and
// the functions, replay a dead letter; then as a plain user, who must see only their own
// orders. Run by TestConsole (console_test.go), which starts the stack and passes, in the
// environment: CONSOLE_URL, CHROMIUM, SCREENSHOTS, ADMIN_EMAIL, ADMIN_PASSWORD, USER_EMAIL,
// USER_PASSWORD, SKU, DEAD_LETTER_ORDER. Exits 1 with the failed step on stderr; any page error
// or console error fails the run.

import {chromium} from 'playwright-core';
import {mkdirSync} from 'node:fs';
import {join} from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env('CONSOLE_URL');
const shots = env('SCREENSHOTS');
mkdirSync(shots, {recursive: true});
const timeout = 30_000;

const problems = [];
function watch(page, who) {
  page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
  // The browser logs every 4xx and 5xx response as a console error ("Failed to load
  // resource"); 401 before sign-in and 404 of an optional endpoint are expected, so responses are
  // judged by status below instead, and only other console errors count.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`${who}: console error: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 500) problems.push(`${who}: ${r.status()} from ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    // A request the page itself gave up (ERR_ABORTED: a navigation, or a view's teardown, cancels
    // what it still had in flight, such as the order page's timeline) is not a failure of the
    // page, nor is an EventSource closed by a navigation.
    if (r.url().endsWith('/console/api/events') || r.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`${who}: request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
}

let step = '';
// nav is the console's navigation link named name.
const nav = (page, name) => page.getByRole('navigation', {name: 'Console sections'}).getByRole('link', {name, exact: true});
function expect(cond, what) {
  if (!cond) throw new Error(what);
}

const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  // ---- The admin, at 1280 px.
  const admin = await browser.newContext({viewport: {width: 1280, height: 900}});
  const page = await admin.newPage();
  page.setDefaultTimeout(timeout);
  watch(page, 'admin');

  step = 'sign in with the keyboard';
  await page.goto(`${base}/console/`);
  await page.getByLabel('Email').waitFor();
  await page.screenshot({path: join(shots, 'signin.png')});
  // The email field has focus: type, Tab to the password, Enter submits.
  await page.keyboard.type(env('ADMIN_EMAIL'));
  await page.keyboard.press('Tab');
  await page.keyboard.type(env('ADMIN_PASSWORD'));
  await page.keyboard.press('Enter');
  await nav(page, 'Orders').waitFor();
  expect(await page.getByRole('button', {name: 'Sign out'}).isVisible(), 'no Sign out button after sign-in');

  step = 'place an order';
  await nav(page, 'Orders').click();
  await page.getByLabel('Item').selectOption(env('SKU'));
  await page.getByLabel('Quantity').fill('2');
  // A marker on the window: it is still there at the end only if the page never reloaded.
  await page.evaluate(() => { window.consoleTestMarker = true; });
  await page.getByRole('button', {name: 'Place order'}).click();
  await page.waitForURL(/\/console\/orders\/[0-9a-f-]{36}$/);
  const orderID = page.url().split('/').pop();

  step = 'watch the order move live to its end';
  // Shipping is held by the test: the order is paid for and waits, its timeline up to
  // ORDER_ACCEPTED. Then the test lets shipping go, and the open page must follow.
  await page.locator('#order-status[data-status="APPROVED"]').waitFor();
  await page.locator('table.timeline tr[data-type="ORDER_ACCEPTED"]').waitFor();
  expect(await page.locator('table.timeline tr[data-type="ORDER_SHIPPED"]').count() === 0, 'shipped while shipping was held');
  await page.screenshot({path: join(shots, 'order-approved.png'), fullPage: true});
  console.log('resume shipping');
  await page.locator('#order-status[data-status="COMPLETED"]').waitFor();
  await page.locator('table.timeline tr[data-type="ORDER_COMPLETED"]').waitFor();
  const types = await page.locator('table.timeline tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.type));
  for (const t of ['ORDER_REQUESTED', 'INVENTORY_RESERVED', 'TRANSACTION_COMPLETED', 'ORDER_ACCEPTED', 'ORDER_SHIPPED', 'ORDER_COMPLETED']) {
    expect(types.includes(t), `timeline of ${orderID} lacks ${t}: ${types}`);
  }
  expect(types.indexOf('ORDER_REQUESTED') < types.indexOf('ORDER_COMPLETED'), `timeline out of order: ${types}`);
  expect(await page.evaluate(() => window.consoleTestMarker === true), 'the order page reloaded instead of updating live');
  const hopCells = await page.locator('table.timeline tbody tr[data-type="ORDER_SHIPPED"] td').allTextContents();
  expect(hopCells[2].startsWith('+'), `ORDER_SHIPPED has no hop latency: ${hopCells}`);
  expect(hopCells[5] === 'ORDER_ACCEPTED', `ORDER_SHIPPED answers ${hopCells[5]}, want ORDER_ACCEPTED`);
  // One order is one trace: its events carry its trace id, which the page shows.
  const traceID = await page.locator('#trace-id').textContent();
  expect(/^[0-9a-f]{32}$/.test(traceID), `the order page shows no trace id: ${traceID}`);
  await page.screenshot({path: join(shots, 'order.png'), fullPage: true});

  step = 'open the order timeline from a fresh load (a shared link)';
  await page.goto(`${base}/console/orders/${orderID}`);
  await page.locator('table.timeline tr[data-type="ORDER_COMPLETED"]').waitFor();

  step = 'see the order in the live event flow';
  await nav(page, 'Live events').click();
  await page.locator(`table.events tr[data-order="${orderID}"][data-type="ORDER_COMPLETED"]`).waitFor();
  await page.locator('.conn.live').waitFor();
  await page.screenshot({path: join(shots, 'flow.png')});

  step = 'list orders with a status filter';
  await nav(page, 'Orders').click();
  await page.locator(`table.orders a[href$="${orderID}"]`).waitFor();
  await page.getByLabel('Status').selectOption('CANCELLED');
  await page.locator(`table.orders a[href$="${orderID}"]`).waitFor({state: 'detached'});
  await page.getByLabel('Status').selectOption('COMPLETED');
  await page.locator(`table.orders a[href$="${orderID}"]`).waitFor();

  step = 'stock levels';
  await nav(page, 'Stock').click();
  const stock = page.locator(`table.stock tr[data-sku="${env('SKU')}"] td`);
  await stock.first().waitFor();
  const cells = await stock.allTextContents();
  expect(Number(cells[5]) >= 2, `stock of ${env('SKU')} shows ${cells[5]} sold, want at least 2`);

  step = 'charts';
  await nav(page, 'Charts').click();
  // One order was placed (and ended); its six events and the forged one passed.
  await page.locator('#chart-latency .summary', {hasText: /^1 order ended; placed to end p50 /}).waitFor();
  const passed = Number((await page.locator('#chart-throughput .summary').textContent()).match(/^(\d+) events/)[1]);
  expect(passed >= 7, `the throughput chart counts ${passed} events, want at least 7`);
  await page.locator('#chart-throughput svg rect').first().waitFor({state: 'attached'});
  await page.screenshot({path: join(shots, 'charts.png')});

  step = 'functions';
  await nav(page, 'Functions').click();
  await page.locator('#functions table, #functions-unavailable').first().waitFor();

  step = 'replay a dead letter';
  await nav(page, 'Dead letters').click();
  const dlOrder = env('DEAD_LETTER_ORDER');
  const row = page.locator('table.deadletters tbody tr', {has: page.locator(`a[href$="${dlOrder}"]`)});
  await row.waitFor();
  const replaysBefore = Number((await row.locator('td').nth(6).textContent()).trim());
  await row.getByRole('button', {name: /^Replay/}).click();
  await page.locator('#status', {hasText: 'Replayed'}).waitFor();
  await page.locator('table.deadletters tbody tr', {has: page.locator(`a[href$="${dlOrder}"]`)})
    .locator('td').nth(6).filter({hasText: String(replaysBefore + 1)}).waitFor();
  await page.screenshot({path: join(shots, 'deadletters.png')});

  step = 'phone width';
  await page.setViewportSize({width: 390, height: 844});
  await page.goto(`${base}/console/orders/${orderID}`);
  await page.locator('table.timeline tr[data-type="ORDER_COMPLETED"]').waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow <= 1, `the order page is ${overflow}px wider than a phone's screen`);
  await page.screenshot({path: join(shots, 'order-phone.png'), fullPage: true});
  await admin.close();

  // ---- A plain user: their own orders only, no admin pages.
  step = 'a user sees only their own orders';
  const user = await browser.newContext({viewport: {width: 1280, height: 900}});
  const upage = await user.newPage();
  upage.setDefaultTimeout(timeout);
  watch(upage, 'user');
  await upage.goto(`${base}/console/`);
  await upage.getByLabel('Email').fill(env('USER_EMAIL'));
  await upage.getByLabel('Password').fill(env('USER_PASSWORD'));
  await upage.getByRole('button', {name: 'Sign in'}).click();
  await upage.locator('.conn.live').waitFor();
  await nav(upage, 'Orders').waitFor();
  expect(await nav(upage, 'Dead letters').count() === 0, 'a user is offered the dead letters');
  expect(await upage.locator(`[data-order="${orderID}"]`).count() === 0, "a user's live flow shows the admin's order");
  await upage.goto(`${base}/console/orders/${orderID}`);
  await upage.locator('#timeline .empty').waitFor();
  expect(await upage.locator('table.timeline').count() === 0, "a user sees the admin's order timeline");
  await user.close();

  expect(problems.length === 0, `the pages reported errors:\n${problems.join('\n')}`);
  console.log(JSON.stringify({ok: true, order: orderID}));
} catch (e) {
  console.error(`step "${step}" failed: ${e.message}`);
  if (problems.length) console.error(problems.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
}
