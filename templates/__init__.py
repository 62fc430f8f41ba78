"""The Jinja templates of DropTrack's pages and e-mails, shipped with the package.

A package of its own only so that a wheel carries the files and every reader finds them in one
place: the admin and tracking pages, the e-mails, and the sandboxes' store pages.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent
"""The folder holding every template (``admin/``, ``emails/``, ``sandbox/``, ...)."""
