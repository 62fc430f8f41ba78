// Shared by both targets: read the host's `shopify` global, ask DropTrack, render a block.
import '@shopify/ui-extensions/preact';
import {render} from 'preact';
import {useEffect, useState} from 'preact/hooks';

import {fetchStatus} from './view.js';

function current(signal) {
  return signal && typeof signal === 'object' && 'value' in signal ? signal.value : signal;
}

export function Block({block}) {
  if (!block) return null;
  return (
    <s-banner tone={block.tone}>
      <s-stack direction="block" gap="small-200">
        <s-heading>{block.heading}</s-heading>
        {block.lines.map((line) => <s-text>{line}</s-text>)}
      </s-stack>
    </s-banner>
  );
}

function Extension({choose, fulfillmentId}) {
  const [block, setBlock] = useState(null);
  useEffect(() => {
    // `shopify.order` is undefined until Shopify has processed the order: ask once it is there.
    let asked = false;
    const ask = (order) => {
      if (asked || !order || !order.id) return;
      asked = true;
      const settings = current(shopify.settings) || {};
      fetchStatus({
        fetch: globalThis.fetch.bind(globalThis),
        getToken: () => shopify.sessionToken.get(),
        base: settings.droptrack_url,
        orderId: order.id,
        fulfillmentId,
      }).then((result) => setBlock(result.ok ? choose(result.answer) : null));
    };
    ask(current(shopify.order));
    const signal = shopify.order;
    const stop = !asked && signal && typeof signal.subscribe === 'function'
      ? signal.subscribe(ask) : null;
    return () => { if (typeof stop === 'function') stop(); };
  }, []);
  return <Block block={block} />;
}

export function mount(choose, fulfillmentId) {
  render(<Extension choose={choose} fulfillmentId={fulfillmentId} />, document.body);
}
