"""Two coarse aspects of a problem, read from tickets and incidents alike (English and Spanish):

* the **component** it is about (message delivery, the widget, dropped calls, search, views, ...), and
* the **symptom family**: `broken` (down, errors, stopped working) or `slow`.

Incidents opened from alerts have terse technical titles ("Chat: Chat API 5xx rate above 5%") that share few
words with a customer's description, so matching leans on product + symptom there, and two reports that name
different components ("search fails" vs "pages return 502") are kept apart.
"""

from __future__ import annotations

import functools

from .text import AnyOf, fold

COMPONENTS: dict[str, tuple[str, ...]] = {
    "messages": (r"\bmessag", r"\bmensaj", r"\brepl(y|ies)\b", r"\brespuestas?\b"),
    "widget": (r"\bwidget",),
    "history": (r"\btranscript", r"\btranscripcion", r"\bhistor(y|ial)\b", r"\barchive\b"),
    "chatbot": (r"\bchat ?bot", r"\bbot\b"),
    "call_drops": (r"\bdrop", r"\bcut off\b", r"\bdisconnect", r"\bse cortan\b", r"\bcortad", r"\bse caen\b"),
    "outbound": (r"\boutbound\b", r"\bdial", r"\bsalientes?\b"),
    "voicemail": (r"\bvoicemail", r"\bbuzon\b", r"\bgrabacion", r"\brecording"),
    "ivr": (r"\bivr\b",),
    "pages": (r"\bpages?\b", r"\bpaginas?\b", r"\bfrontend\b", r"\b502\b"),
    "search": (r"\bsearch", r"\bbusqueda\b", r"\bbuscar\b"),
    "community": (r"\bcommunity\b", r"\bcomunidad\b", r"\bposts?\b"),
    "publishing": (r"\bpublish", r"\bpublicar\b", r"\beditor\b"),
    "views": (r"\bviews?\b", r"\bvistas?\b", r"\bqueue\b"),
    "attachments": (r"\battach", r"\badjunt", r"\bupload", r"\bsubir\b"),
    "email": (r"\bemails?\b", r"\bcorreos?\b", r"\bnotification", r"\bnotificacion"),
    "macros": (r"\bmacros?\b",),
    "sla": (r"\bsla\b",),
    "reports": (r"\breports?\b", r"\binformes?\b", r"\bexplore\b"),
    "login": (r"\blog ?in\b", r"\bsign ?in\b", r"\bsso\b", r"\biniciar sesion\b"),
}
SYMPTOMS: dict[str, tuple[str, ...]] = {
    "broken": (r"\bdown\b", r"\boutage", r"\bunavailab", r"\bavailability\b", r"\berrors?\b", r"\berror_rate\b",
               r"\b5xx\b", r"\b50[0234]\b", r"\bfail", r"\bfalla", r"\bfallo", r"\bnot working\b", r"\bno funciona",
               r"\bstopped\b", r"\bdejo de\b", r"\bcaid[oa]", r"\bbroken\b", r"\bnot (being )?delivered\b",
               r"\bno llegan\b", r"\bcrash", r"\bdrop", r"\bdisconnect", r"\bse cortan\b", r"\bno carga"),
    "slow": (r"\bslow", r"\blent[oa]", r"\blentitud\b", r"\blatency\b", r"\bp9[59]\b", r"\btime ?outs?\b",
             r"\btiming out\b", r"\btimed out\b", r"\btarda", r"\bforever\b", r"\bspinning\b", r"\blag",
             r"\bsaturation\b", r"\btiempo de espera\b"),
}
_C = {k: AnyOf(v) for k, v in COMPONENTS.items()}
_S = {k: AnyOf(v) for k, v in SYMPTOMS.items()}


@functools.lru_cache(maxsize=8192)
def components(text: str) -> frozenset[str]:
    folded = fold(text)
    return frozenset(k for k, pattern in _C.items() if pattern.search(folded))


@functools.lru_cache(maxsize=8192)
def symptoms(text: str) -> frozenset[str]:
    folded = fold(text)
    return frozenset(k for k, pattern in _S.items() if pattern.search(folded))


def agreement(a: frozenset[str], b: frozenset[str], *, disjoint: float) -> float:
    """1 when the two sets share an element, 0.5 when either is empty (unknown), `disjoint` otherwise."""
    if not a or not b:
        return 0.5
    return 1.0 if a & b else disjoint
