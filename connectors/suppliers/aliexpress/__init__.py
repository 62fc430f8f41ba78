"""AliExpress Open Platform, dropshipping (DS) APIs, as a supplier kind.

Contract: ../shared/contracts/suppliers/aliexpress/FACTS.md. `settings` (one owner's account),
`client` (the only HTTP: signing, the envelope, `error_response`, the QPS ban), `mapper`
(pure build_/parse_ functions), `units` (statuses and codes in DropTrack's terms),
`connector` (the supplier connector the engine sees).
"""

NAME = "aliexpress"
