"""The CJ sandbox keeps CJ's contract (FACTS.md): the envelope on every answer (errors in
HTTP 200), token codes, the token call limits, parameter errors and webhook registration."""

from __future__ import annotations

from typing import Any

import requests

from tests.helpers.sandbox_cj import MUG_WHITE, CJSandbox


def call(sandbox: CJSandbox, method: str, path: str, token: str | None = None,
         **kwargs: Any) -> dict[str, Any]:
    headers = {"CJ-Access-Token": token} if token else {}
    headers.update(kwargs.pop("headers", {}))
    response = requests.request(method, sandbox.url + path, headers=headers, timeout=5,
                                **kwargs)
    assert response.status_code == 200, response.text  # business errors are inside
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "result", "message", "data", "requestId"}
    assert len(body["requestId"]) == 36
    return body


def test_tokens_codes_and_limits(cj_sandbox: CJSandbox) -> None:
    assert call(cj_sandbox, "GET", "/shopping/pay/getBalance")["code"] == 1600002
    assert call(cj_sandbox, "GET", "/shopping/pay/getBalance", "nope")["code"] == 1600001
    assert call(cj_sandbox, "POST", "/authentication/getAccessToken",
                json={"apiKey": "CJ1@api@x"})["code"] == 1600005
    bad_json = call(cj_sandbox, "POST", "/authentication/getAccessToken", data="{",
                    headers={"Content-Type": "application/json"})
    assert bad_json["message"] == "The request parameter is not in a correct JSON format"
    issued = call(cj_sandbox, "POST", "/authentication/getAccessToken",
                  json={"apiKey": cj_sandbox.api_key})
    assert issued["result"] is True and issued["data"]["accessTokenExpiryDate"]
    again = call(cj_sandbox, "POST", "/authentication/getAccessToken",
                 json={"apiKey": cj_sandbox.api_key})
    assert (again["code"], again["result"]) == (1600200, False)  # once every 5 minutes
    refresh = issued["data"]["refreshToken"]
    for _ in range(5):
        refreshed = call(cj_sandbox, "POST", "/authentication/refreshAccessToken",
                         json={"refreshToken": refresh})
        assert refreshed["result"] is True
        refresh = refreshed["data"]["refreshToken"]
    assert call(cj_sandbox, "POST", "/authentication/refreshAccessToken",
                json={"refreshToken": refresh})["code"] == 1600200  # 5 a minute
    assert call(cj_sandbox, "POST", "/authentication/refreshAccessToken",
                json={"refreshToken": "used-or-unknown"})["code"] == 1600003
    token = refreshed["data"]["accessToken"]
    assert call(cj_sandbox, "GET", "/shopping/pay/getBalance", token)["data"]["amount"] == 500
    assert call(cj_sandbox, "GET", "/product/variant/queryByVid", token,
                params={"vid": "nope"})["code"] == 1600100
    assert call(cj_sandbox, "GET", "/product/variant/queryByVid", token,
                params={"vid": MUG_WHITE})["data"]["variantSku"] == "CJMUG001-WHITE"
    assert call(cj_sandbox, "GET", "/shopping/order/list", token,
                params={"pageSize": 51})["code"] == 1600100
    missing = call(cj_sandbox, "POST", "/shopping/order/createOrderV2", token,
                   json={"orderNumber": "1"})
    assert missing["code"] == 1600100 and "shippingCountryCode" in missing["message"]
    local = call(cj_sandbox, "POST", "/webhook/set", token, json={
        "order": {"type": "ENABLE", "callbackUrls": ["http://localhost:8080/api2.0/"]}})
    assert local["code"] == 1600100  # public https only
    assert call(cj_sandbox, "POST", "/webhook/set", token, json={
        "order": {"type": "ENABLE", "callbackUrls": ["https://shop.example/cj"]}})["result"]
