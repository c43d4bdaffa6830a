"""Customer comments from Jinja2 templates, in the ticket's language, falling back to English."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
KINDS = ("link", "update", "status", "resolved", "periodic")
STATUS_LABELS = {
    "en": {"investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
           "resolved": "Resolved"},
    "es": {"investigating": "En investigación", "identified": "Identificado", "monitoring": "En observación",
           "resolved": "Resuelto"},
}

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, autoescape=False,
                   keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True)


def language(locale: str | None, default: str = "en") -> str:
    """'es-419' -> 'es'; unknown or missing -> default."""
    if not locale:
        return default
    return locale.replace("_", "-").split("-", 1)[0].lower() or default


def render(kind: str, locale: str | None, *, title: str, status: str, message: str = "",
           next_update_at: datetime | None = None, product: str | None = None, default: str = "en") -> str:
    """Render the comment for `kind` in the ticket's language (English when there is no such template)."""
    lang = language(locale, default)
    try:
        tpl = _env.get_template(f"{lang}/{kind}.txt.j2")
    except TemplateNotFound:
        lang, tpl = "en", _env.get_template(f"en/{kind}.txt.j2")
    label = STATUS_LABELS.get(lang, STATUS_LABELS["en"]).get(status, status)
    return tpl.render(title=title, status=status, status_label=label, message=message, product=product or "",
                      next_update_at=next_update_at.strftime("%H:%M UTC") if next_update_at else None).strip()
