// DropTrack inside Shopify admin: forms go out with fetch, so App Bridge's fetch interceptor
// adds `Authorization: Bearer <fresh session token>` (the only proof an action accepts); the
// answer (the page after the action, or the form again with its error) replaces <main>.
// Downloads (the mappings' CSV) are fetched the same way. Links and GET forms are plain
// navigations: the server bounces them through App Bridge for a fresh token.
(function () {
  "use strict";

  async function authorized(url, init) {
    const options = Object.assign({}, init || {});
    const headers = new Headers(options.headers || {});
    if (window.shopify && typeof window.shopify.idToken === "function") {
      headers.set("Authorization", "Bearer " + await window.shopify.idToken());
    }
    options.headers = headers;
    return fetch(url, options);
  }

  function show(html, response) {
    const next = new DOMParser().parseFromString(html, "text/html");
    const main = next.querySelector("main");
    const current = document.querySelector("main");
    if (!main || !current) {
      return;
    }
    current.replaceWith(document.adoptNode(main));
    if (next.title) {
      document.title = next.title;
    }
    if (response.redirected) {
      history.replaceState(null, "", response.url);
    }
    const focus = main.querySelector("[role=alert], [role=status], h1");
    if (focus) {
      focus.setAttribute("tabindex", "-1");
      focus.focus();
    }
  }

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
      return;
    }
    event.preventDefault();
    const buttons = form.querySelectorAll("button");
    buttons.forEach(function (button) { button.disabled = true; });
    try {
      const response = await authorized(form.action, {method: "POST", body: new FormData(form)});
      show(await response.text(), response);
    } finally {
      buttons.forEach(function (button) { button.disabled = false; });
    }
  });

  document.addEventListener("click", async function (event) {
    const anchor = event.target instanceof Element ? event.target.closest("a[data-fetch-download]") : null;
    if (!anchor) {
      return;
    }
    event.preventDefault();
    const response = await authorized(anchor.href);
    if (!response.ok) {
      show(await response.text(), response);
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const save = document.createElement("a");
    save.href = url;
    save.download = anchor.getAttribute("data-fetch-download") || "download";
    document.body.appendChild(save);
    save.click();
    save.remove();
    URL.revokeObjectURL(url);
  });
})();
