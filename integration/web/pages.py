"""HTML error pages for the blueprints that serve people (the app's default answers JSON)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

# What went wrong and what to do, in words, by status code.
ERROR_TEXT: dict[int, tuple[str, str]] = {
    400: ("Something in that request was not right",
          "Go back, reload the page and try again."),
    403: ("You cannot do that", "Sign in with an account that may, or go back."),
    404: ("Page not found", "Check the address, or go back to the start page."),
    405: ("That does not work here", "Go back and use the buttons on the page."),
    413: ("That is too large", "Send a smaller file or less text."),
    429: ("Too many tries", "Wait a few minutes, then try again."),
}
CSRF_TEXT = ("This form has expired",
             "For your safety forms work for one session only. Reload the page and send it "
             "again.")


def register_html_errors(blueprint: Blueprint, template: str) -> None:
    @blueprint.errorhandler(HTTPException)
    def _html_error(error: HTTPException) -> ResponseReturnValue:
        code = error.code or 500
        title, advice = ERROR_TEXT.get(code, ("Something went wrong",
                                              "Try again in a moment."))
        if code == 400 and error.description == "csrf":
            title, advice = CSRF_TEXT
        response = render_template(template, code=code, title=title, advice=advice)
        return response, code, dict(error.get_headers()) if code == 405 else {}
