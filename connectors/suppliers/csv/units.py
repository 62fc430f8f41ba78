"""A spreadsheet supplier's rows in DropTrack's terms.

A tracking file says only that a parcel left with a tracking number (and maybe when): that is
`info_received`. Everything after it comes from the carrier or a tracking service.
"""

from __future__ import annotations

from core.status import Status

SHIPPED = Status.INFO_RECEIVED
"""The status a row with a tracking number and a ship date gives its parcel."""
