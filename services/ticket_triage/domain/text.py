"""Text helpers, English and Spanish: folding, tokens mapped to shared concepts, TF-IDF cosine, locale, product.

Spanish words are mapped onto English concept tokens ("llamadas" -> "call", "lento" -> "slow") so a Spanish
ticket can match an English incident title; the map is small and explicit so every match can be explained.
"""

from __future__ import annotations

import functools
import math
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"[a-z0-9]+")

STOPWORDS = frozenset("""
a an the and or but if of to in on at for from by with without is are was were be been being it its this that
these those i we you he she they our your my me us them their there here as not no do does did have has had
can could would should will just so very too also any all some again still now when what which who how why
please hi hello thanks thank regards team since today yesterday get got
el la los las un una unos unas y o de del al en con sin por para que es son fue ser esta este estos estas
eso ese nuestro nuestra nuestros mi mis su sus lo le les se nos ya muy mas pero como cuando hola gracias saludos
desde hoy ayer tenemos hay otra otro
""".split())

#: Spanish (and a few English variants) -> English concept token.
CONCEPTS = {
    "llamada": "call", "llamadas": "call", "calls": "call", "telefono": "phone", "telefonos": "phone",
    "voz": "voice", "buzon": "voicemail", "mensaje": "message", "mensajes": "message", "messages": "message",
    "conversacion": "conversation", "conversaciones": "conversation", "chats": "chat", "widget": "widget",
    "articulo": "article", "articulos": "article", "articles": "article", "centro": "center", "ayuda": "help",
    "busqueda": "search", "buscar": "search", "tickets": "ticket", "vistas": "view", "vista": "view",
    "views": "view", "agentes": "agent", "agente": "agent", "agents": "agent", "correo": "email", "correos": "email",
    "emails": "email", "caido": "down", "caida": "down", "caidos": "down", "outage": "down", "unavailable": "down",
    "disponible": "down", "lento": "slow", "lenta": "slow", "lentos": "slow", "lentitud": "slow", "slowness": "slow",
    "slowly": "slow", "tarda": "slow", "latency": "slow", "errores": "error", "errors": "error", "fallo": "fail",
    "falla": "fail", "fallan": "fail", "failing": "fail", "fails": "fail", "failed": "fail", "failure": "fail",
    "cortan": "drop", "cortada": "drop", "cortadas": "drop", "dropped": "drop", "dropping": "drop", "drops": "drop",
    "cargar": "load", "carga": "load", "loading": "load", "loads": "load", "enviar": "send", "envio": "send",
    "sending": "send", "sent": "send", "entregan": "deliver", "entregados": "deliver", "delivered": "deliver",
    "delivery": "deliver", "iniciar": "login", "sesion": "login", "log": "login", "sign": "login",
    "timeouts": "timeout", "tiempo": "timeout", "espera": "timeout", "pagina": "page", "paginas": "page",
    "pages": "page", "grabaciones": "recording", "grabacion": "recording", "recordings": "recording",
    "transferencia": "transfer", "transfers": "transfer", "adjuntos": "attachment", "attachments": "attachment",
    "salientes": "outbound", "saliente": "outbound", "conectar": "connect", "conecta": "connect",
    "connecting": "connect", "transcripciones": "transcript", "transcripts": "transcript", "historial": "history",
    "subir": "upload", "uploading": "upload", "uploads": "upload", "notificacion": "notification",
    "notifications": "notification", "cortadas": "drop", "disconnected": "drop", "disconnect": "drop",
    "macros": "macro", "disparadores": "trigger", "triggers": "trigger", "informes": "report", "reports": "report",
}


def fold(text: str) -> str:
    """Lower-case and strip accents (so 'caído' and 'caido' are one word)."""
    # One ticket's text is folded by the lexicon, both aspects, the tokens and the product guess: cache the
    # short ones (bounded memory), fold long ones each time.
    return _fold_cached(text) if len(text) <= 4096 else _fold(text)


def _fold(text: str) -> str:
    lowered = text.lower()
    if lowered.isascii():
        return lowered  # NFKD leaves ASCII unchanged and has no combining marks to strip
    return unicodedata.normalize("NFKD", lowered).translate(_combining_marks())


@functools.cache
def _combining_marks() -> dict[int, None]:
    """A str.translate table deleting every combining mark (built once, on the first non-ASCII text)."""
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp))}


_fold_cached = functools.lru_cache(maxsize=2048)(_fold)


@functools.lru_cache(maxsize=8192)  # incident texts are tokenised again for every ticket
def tokens(text: str) -> tuple[str, ...]:
    """Content tokens of a text, mapped to shared concepts, stop words removed."""
    out = []
    for w in _WORD.findall(fold(text)):
        if w in STOPWORDS or len(w) < 2:
            continue
        out.append(CONCEPTS.get(w, w))
    return tuple(out)


_ES_HINTS = frozenset("el la los las de que y en no por para con una es nuestro nuestra funciona desde hola".split())
_EN_HINTS = frozenset("the and is are to of in not our we it with from for this hi".split())


def detect_locale(text: str) -> str:
    """'es' or 'en' by counting common function words (enough for routing and metrics)."""
    words = _WORD.findall(fold(text))
    es = sum(w in _ES_HINTS for w in words)
    en = sum(w in _EN_HINTS for w in words)
    return "es" if es > en else "en"


_PRODUCT_WORDS = {
    "Chat": ("chat", "widget", "conversation", "messaging", "live chat", "chatbot", "mensajeria"),
    "Talk": ("talk", "call", "phone", "voice", "voicemail", "ivr", "telefonia", "recording"),
    "Guide": ("guide", "help center", "article", "knowledge base", "base de conocimiento", "community"),
    "Support": ("support", "ticket", "view", "macro", "trigger", "agent workspace", "sla", "email"),
}


def product_from_text(text: str) -> str | None:
    """The product a text talks about most, by keyword counts; None when no product word appears."""
    toks = " " + " ".join(tokens(text)) + " "
    folded = " " + fold(text) + " "
    counts = {p: sum(toks.count(f" {w} ") + (folded.count(w) if " " in w else 0) for w in words)
              for p, words in _PRODUCT_WORDS.items()}
    # "ticket" and "email" appear in every product's tickets: Support wins only without another product word.
    best = max(counts, key=lambda p: (counts[p] if p != "Support" else counts[p] * 0.5, p))
    return best if counts[best] > 0 else None


#: Symptom and product words say little about *which* problem it is; they count less in similarity.
TERM_WEIGHTS = {**{t: 0.35 for t in ("error", "fail", "down", "slow", "load", "broken", "timeout", "working",
                                      "stopped", "issue", "problem", "urgent", "agent", "customer", "help")},
                **{t: 0.5 for t in ("chat", "talk", "guide", "support", "ticket", "center")}}


class Corpus:
    """Document frequencies for TF-IDF (smoothed idf, as scikit-learn does)."""

    def __init__(self, docs: Iterable[Sequence[str]]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for d in docs:
            self.n += 1
            self.df.update(set(d))

    def idf(self, term: str) -> float:
        return math.log((1 + self.n) / (1 + self.df.get(term, 0))) + 1.0

    def vector(self, toks: Sequence[str]) -> dict[str, float]:
        tf = Counter(toks)
        return {t: (1 + math.log(c)) * self.idf(t) * TERM_WEIGHTS.get(t, 1.0) for t, c in tf.items()}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine similarity of two sparse vectors (0 when either is empty)."""
    if not a or not b:
        return 0.0
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb) if na and nb else 0.0


class _Prepared:
    """One document of a FixedCorpus: each distinct term's position and weight, with and without the query."""

    def __init__(self, toks: Sequence[str], corpus: FixedCorpus) -> None:
        tf = Counter(toks)
        self.position = {t: i for i, t in enumerate(tf)}
        base = [corpus.weight(t, c, with_query=False) for t, c in tf.items()]
        self.shared = [corpus.weight(t, c, with_query=True) for t, c in tf.items()]
        self.base_squares = [w * w for w in base]
        self.shared_squares = [w * w for w in self.shared]


class FixedCorpus:
    """TF-IDF of fixed documents against one query at a time: `cosines(q)[k]` equals
    `cosine(c.vector(q), c.vector(docs[k]))` with `c = Corpus([*docs, q])`, to the last bit.

    The query only changes the document frequency (and so the idf) of its own terms, so each document's weights
    and squared weights are prepared once with and without the query counted; a document sharing no term with
    the query scores 0 without being looked at. Sums run over the same values in the same order as `cosine`."""

    def __init__(self, docs: Sequence[Sequence[str]]) -> None:
        self.n = len(docs) + 1  # the query is a document of the corpus too
        self.df: Counter[str] = Counter()
        for d in docs:
            self.df.update(set(d))
        self._idf_with_query: dict[str, float] = {}
        self.docs = [_Prepared(d, self) for d in docs]
        self.postings: dict[str, list[tuple[int, int]]] = {}  # term -> (document, position of the term in it)
        for k, d in enumerate(self.docs):
            for t, i in d.position.items():
                self.postings.setdefault(t, []).append((k, i))

    def weight(self, term: str, count: int, *, with_query: bool) -> float:
        """Corpus.vector's weight of a term seen `count` times, its df counting the query when it has the term."""
        idf = self._idf_with_query.get(term) if with_query else None
        if idf is None:
            idf = math.log((1 + self.n) / (1 + self.df.get(term, 0) + with_query)) + 1.0
            if with_query and len(self._idf_with_query) < 50_000:  # query terms recur from ticket to ticket
                self._idf_with_query[term] = idf
        return (1 + math.log(count)) * idf * TERM_WEIGHTS.get(term, 1.0)

    def cosines(self, query: Sequence[str]) -> list[float]:
        """Cosine similarity of the query with each document, in document order."""
        out = [0.0] * len(self.docs)
        q = {t: self.weight(t, c, with_query=True) for t, c in Counter(query).items()}
        if not q:
            return out
        nq = math.sqrt(sum([w * w for w in q.values()]))
        shared: dict[int, list[tuple[float, int]]] = {}  # document -> (query weight, position), in query order
        for t, w in q.items():
            for k, i in self.postings.get(t, ()):
                shared.setdefault(k, []).append((w, i))
        # A document sharing no term keeps 0: every product of its dot is 0 (weights are positive).
        for k, pairs in shared.items():
            d = self.docs[k]
            dot = sum([w * d.shared[i] for w, i in pairs])  # the zero products add nothing, even to a float sum
            squares = d.base_squares.copy()
            for _, i in pairs:
                squares[i] = d.shared_squares[i]
            nd = math.sqrt(sum(squares))
            out[k] = dot / (nq * nd) if nq and nd else 0.0
        return out


def _leading_literal(pattern: str) -> str:
    r"""The fixed text every match of `pattern` starts with after a leading \b ('' when there is none)."""
    if not pattern.startswith(r"\b"):
        return ""
    depth = 0
    for c in pattern:  # a top-level alternative would match without the literal
        depth += c == "("
        depth -= c == ")"
        if c == "|" and depth == 0:
            return ""
    body, out = pattern[2:], []
    for i, c in enumerate(body):
        if not (c.isalnum() or c in " '_-") or body[i + 1:i + 2] in ("?", "*", "{"):
            break  # a special character, or a character that may be absent
        out.append(c)
    return "".join(out)


class AnyOf:
    """Whether any of several regular expressions matches a text, without running those whose leading literal
    is not in the text at all (a substring test is far cheaper than the regex engine's scan)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = [(_leading_literal(p), re.compile(p)) for p in patterns]

    def search(self, text: str) -> bool:
        return any(p.search(text) for literal, p in self._patterns if literal in text)
