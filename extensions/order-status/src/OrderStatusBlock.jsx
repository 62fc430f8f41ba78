// customer-account.order-status.block.render: DropTrack's status, reason, what to do and the
// estimated delivery window, before a fulfillment exists and after.
import {mount} from './extension.jsx';
import {orderBlock} from './view.js';

export default async () => {
  mount(orderBlock);
};
