// Stands in for Shopify's App Bridge (https://cdn.shopify.com/shopifycloud/app-bridge.js) in
// the browser tests, doing the three things DropTrack relies on, as Shopify documents them:
// `shopify.idToken()` (asked of the admin page that frames the app, over postMessage, as App
// Bridge does; the test's admin page gets it from the Shopify sandbox, signed with the app's
// secret), the fetch interceptor (same-origin requests get `Authorization: Bearer <token>`),
// and `shopify-reload` (on the bounce page: reload that app URL with a fresh `id_token`).
(function () {
  "use strict";
  const pending = new Map();
  let counter = 0;

  window.addEventListener("message", function (event) {
    const data = event.data;
    if (event.source !== window.parent || !data || data.type !== "app-bridge-stub:id-token") {
      return;
    }
    const resolve = pending.get(data.id);
    if (resolve) {
      pending.delete(data.id);
      resolve(data.token);
    }
  });

  function idToken() {
    return new Promise(function (resolve) {
      counter += 1;
      pending.set(counter, resolve);
      window.parent.postMessage({type: "app-bridge-stub:id-token", id: counter}, "*");
    });
  }

  const appFetch = window.fetch.bind(window);
  window.fetch = async function (input, init) {
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    if (url.origin !== location.origin) {
      return appFetch(input, init);
    }
    const options = Object.assign({}, init || {});
    const headers = new Headers(options.headers || (input instanceof Request ? input.headers : {}));
    headers.set("Authorization", "Bearer " + await idToken());
    options.headers = headers;
    return appFetch(input, options);
  };

  window.shopify = {idToken: idToken};

  const reload = new URLSearchParams(location.search).get("shopify-reload");
  if (reload) {
    const target = new URL(reload, location.href);
    if (target.origin === location.origin) {
      idToken().then(function (token) {
        target.searchParams.set("id_token", token);
        location.replace(target.toString());
      });
    }
  }
})();
