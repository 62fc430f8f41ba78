// What the order status page shows of DropTrack's answer: pure functions, no Shopify globals,
// so `node --test` checks them (test/view.test.js). Every word the customer reads comes from
// DropTrack (core/wording.py): the status label, the note saying the reason and what to do,
// the estimated delivery window. This module only chooses what to show and how prominent.

export const ENDPOINT_PATH = '/shopify/extension/order-status';

/** The endpoint's URL for an order (and one fulfillment), or null for a base that is not an
 * https address (plain http only for loopback, for local development and the tests). */
export function statusUrl(base, orderId, fulfillmentId) {
  if (typeof base !== 'string' || !orderId) return null;
  let url;
  try {
    url = new URL(ENDPOINT_PATH, base.trim().replace(/\/+$/, '') + '/');
  } catch {
    return null;
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) return null;
  if (url.username || url.password) return null;
  url.searchParams.set('order', orderId);
  if (fulfillmentId) url.searchParams.set('fulfillment', fulfillmentId);
  return url.toString();
}

/** Asks DropTrack with a fresh session token. `{ok: true, answer}` or `{ok: false, status}`
 * (401: token refused, 404: DropTrack has nothing for this order yet, 0: network). */
export async function fetchStatus({fetch, getToken, base, orderId, fulfillmentId}) {
  const url = statusUrl(base, orderId, fulfillmentId);
  if (!url) return {ok: false, status: 0};
  let response;
  try {
    const token = await getToken();
    response = await fetch(url, {headers: {Authorization: `Bearer ${token}`}});
  } catch {
    return {ok: false, status: 0};
  }
  if (!response.ok) return {ok: false, status: response.status};
  try {
    return {ok: true, answer: await response.json()};
  } catch {
    return {ok: false, status: response.status};
  }
}

const QUIET = new Set(['delivered', 'cancelled', 'refunded']);

function tone(part) {
  if (part.action_needed) return 'warning';
  if (part.status === 'delivered') return 'success';
  return 'info';
}

function text(value) {
  return typeof value === 'string' ? value.trim() : '';
}

/** The order block (`customer-account.order-status.block.render`): before a fulfillment
 * exists too. null when there is nothing worth a block (no answer, or a finished order the
 * page already tells about). */
export function orderBlock(answer) {
  if (!answer || typeof answer !== 'object' || !text(answer.label)) return null;
  if (QUIET.has(answer.status) && !answer.action_needed) return null;
  const lines = [text(answer.note), text(answer.window)].filter(Boolean);
  return {heading: `${text(answer.title)}: ${text(answer.label)}`.replace(/^: /, ''),
          lines, tone: tone(answer)};
}

/** One fulfillment's block (`customer-account.order-status.fulfillment-details.render-after`):
 * only for a parcel DropTrack wrote and with something to add (a note or a window). */
export function fulfillmentBlock(answer) {
  const parcel = answer && typeof answer === 'object' ? answer.fulfillment : null;
  if (!parcel || !text(parcel.label)) return null;
  const lines = [text(parcel.note), text(parcel.window)].filter(Boolean);
  if (lines.length === 0) return null;
  return {heading: text(parcel.label), lines, tone: tone(parcel)};
}
