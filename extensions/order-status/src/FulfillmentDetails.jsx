// customer-account.order-status.fulfillment-details.render-after: once per fulfillment, that
// parcel's status note and window as DropTrack knows them.
import {mount} from './extension.jsx';
import {fulfillmentBlock} from './view.js';

export default async () => {
  mount(fulfillmentBlock, shopify.fulfillmentId);
};
