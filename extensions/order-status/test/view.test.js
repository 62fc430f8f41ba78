// The extension's view logic, table-driven: what each DropTrack answer shows, and how the
// endpoint is asked. Run with `npm test` (node's built-in test runner).
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {fetchStatus, fulfillmentBlock, orderBlock, statusUrl} from '../src/view.js';

const WINDOW = 'Estimated delivery: Wed 9 Dec 2026 \u2013 Thu 17 Dec 2026';

function answer(fields) {
  return {title: 'Delivery update', status: 'processing', label: 'Processing',
          note: '', action_needed: false, window: '', parcels: [], fulfillment: null,
          ...fields};
}

test('the order block says status, reason and action, and the window', () => {
  const cases = [
    [answer({status: 'pending', label: 'Pending', action_needed: true,
             note: 'An item in your order is temporarily out of stock.'}),
     {heading: 'Delivery update: Pending', tone: 'warning',
      lines: ['An item in your order is temporarily out of stock.']}],
    [answer({note: 'Your order is being prepared for shipping.', window: WINDOW}),
     {heading: 'Delivery update: Processing', tone: 'info',
      lines: ['Your order is being prepared for shipping.', WINDOW]}],
    [answer({status: 'undelivered', label: 'Action needed', action_needed: true,
             note: 'please confirm your delivery address.'}),
     {heading: 'Delivery update: Action needed', tone: 'warning',
      lines: ['please confirm your delivery address.']}],
    [answer({status: 'in_transit', label: 'In transit', note: '  ', window: WINDOW}),
     {heading: 'Delivery update: In transit', tone: 'info', lines: [WINDOW]}],
  ];
  for (const [given, expected] of cases) assert.deepEqual(orderBlock(given), expected);
});

test('nothing to show: no answer, no label, a finished order', () => {
  for (const given of [null, undefined, 'text', {}, answer({label: ''}),
                       answer({status: 'delivered', label: 'Delivered'}),
                       answer({status: 'cancelled', label: 'Cancelled'})]) {
    assert.equal(orderBlock(given), null);
  }
});

test('a fulfillment block only for a parcel DropTrack knows, with something to add', () => {
  const parcel = {status: 'in_transit', label: 'In transit', note: 'Your parcel is on its way.',
                  action_needed: false, window: WINDOW};
  assert.deepEqual(fulfillmentBlock(answer({fulfillment: parcel})), {
    heading: 'In transit', tone: 'info', lines: ['Your parcel is on its way.', WINDOW]});
  assert.equal(fulfillmentBlock(answer({fulfillment: {...parcel, status: 'delivered',
    note: 'Delivered.', window: ''}})).tone, 'success');
  assert.equal(fulfillmentBlock(answer({fulfillment: null})), null);
  assert.equal(fulfillmentBlock(answer({fulfillment: {...parcel, note: '', window: ''}})), null);
  assert.equal(fulfillmentBlock(null), null);
});

test('the endpoint URL: https, or http only on loopback; no credentials in it', () => {
  const order = 'gid://shopify/Order/5001';
  assert.equal(statusUrl('https://track.example.com/', order),
               'https://track.example.com/shopify/extension/order-status?order=gid%3A%2F%2Fshopify%2FOrder%2F5001');
  assert.equal(statusUrl('https://track.example.com', order, 'gid://shopify/Fulfillment/7'),
               'https://track.example.com/shopify/extension/order-status?order=gid%3A%2F%2Fshopify%2FOrder%2F5001&fulfillment=gid%3A%2F%2Fshopify%2FFulfillment%2F7');
  assert.match(statusUrl('http://127.0.0.1:8080', order), /^http:\/\/127\.0\.0\.1:8080\//);
  for (const base of ['http://track.example.com', 'ftp://x.example', 'not a url', '', null,
                      'https://user:pw@track.example.com', 'javascript:alert(1)']) {
    assert.equal(statusUrl(base, order), null, String(base));
  }
  assert.equal(statusUrl('https://track.example.com', ''), null);
});

test('fetchStatus sends a fresh bearer token and reads the answer or the refusal', async () => {
  const seen = [];
  const reply = (status, body) => async (url, init) => {
    seen.push([url, init.headers.Authorization]);
    return {ok: status < 400, status, json: async () => body};
  };
  const ask = (fetch, getToken = async () => 'tok-1') => fetchStatus({
    fetch, getToken, base: 'https://track.example.com', orderId: 'gid://shopify/Order/1'});

  assert.deepEqual(await ask(reply(200, {label: 'Pending'})), {ok: true, answer: {label: 'Pending'}});
  assert.equal(seen[0][1], 'Bearer tok-1');
  assert.deepEqual(await ask(reply(401, {error: 'invalid_session_token'})), {ok: false, status: 401});
  assert.deepEqual(await ask(reply(404, {})), {ok: false, status: 404});
  assert.deepEqual(await ask(async () => { throw new TypeError('network'); }), {ok: false, status: 0});
  assert.deepEqual(await ask(reply(200, {}), async () => { throw new Error('no token'); }),
                   {ok: false, status: 0});
  const broken = async () => ({ok: true, status: 200, json: async () => { throw new SyntaxError('x'); }});
  assert.deepEqual(await ask(broken), {ok: false, status: 200});
  assert.deepEqual(await fetchStatus({fetch: reply(200, {}), getToken: async () => 't',
                                      base: 'http://evil.example', orderId: 'x'}),
                   {ok: false, status: 0});
});
