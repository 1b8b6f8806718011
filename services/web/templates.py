"""The owner's page templates: one Jinja environment per app, kept under PAGE_TEMPLATES.

A leaf of services/web: the app, the login, the calculator and the ops pages all render
through it, and it imports none of them back (only the catalog, for the navigation's words).
"""

from __future__ import annotations

import jinja2
from aiohttp import web

from services.web import i18n

PAGE_TEMPLATES = web.AppKey("page_templates", jinja2.Environment)


def page_templates() -> jinja2.Environment:
    """The page templates (autoescaped: nothing a user typed is rendered raw)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("services.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["tr"] = i18n.translate  # the navigation's words, in any page's language
    return env


def render(request: web.Request, name: str, **values: object) -> str:
    """Render one page template of this request's app."""
    return request.app[PAGE_TEMPLATES].get_template(name).render(**values)
