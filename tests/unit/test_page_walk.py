"""The demo walk's page checks catch what they claim to (a crafted page in Chromium)."""

from __future__ import annotations

from playwright.sync_api import Page

from demo.walk import HEIGHT, WIDTH, Stop, check

GOOD = """<body><span class="pill" data-status="info_received">Shipped</span>
<span class="pill" data-status="pending">Pending: payment issue</span>
<p>Mail ann_lee@example.com at https://x.test/a_b</p>
<figure class="chart"><svg viewBox="0 0 540 40" style="width:540px"><text font-size="14"
style="font-size:14px" y="20">Reference Supplier (REST)</text></svg></figure></body>"""
BAD = """<body><div style="width:2000px">wide</div>
<span class="pill" data-status="exception">exception: delayed</span>
<p>Customer message sent: owner_alert:payment_issue (email), job notify.owner_alert</p>
<div class="table-wrap" style="overflow-x:auto;width:200px"><table style="width:900px">
<tr><td>x</td></tr></table></div>
<figure class="chart"><svg viewBox="0 0 540 40" style="width:270px"><text style="font-size:14px"
y="20" x="20" text-anchor="end">A supplier with a long name</text></svg></figure></body>"""


def test_a_good_page_passes_and_a_bad_one_shows_every_problem(page: Page) -> None:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.set_content(GOOD)
    assert check(page, Stop("good", "about:blank")) == []
    page.set_content(BAD)
    findings = "\n".join(check(page, Stop("bad", "about:blank")))
    assert "scrolls sideways" in findings
    assert "1 table(s) scroll sideways" in findings
    assert "owner_alert" in findings and "payment_issue" in findings
    assert "outside the owner's vocabulary: exception: delayed" in findings
    assert "chart labels drawn at 7.0 px" in findings
    assert "chart labels cut off: A supplier with a long name" in findings
