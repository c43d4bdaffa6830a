"""The explainable classifier: weighted lexicon features say whether a ticket reports a service problem, and a
weighted match score says which open incident it belongs to. Every feature and weight is listed here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .aspects import agreement, components, symptoms
from .text import AnyOf, Corpus, FixedCorpus, cosine, fold, tokens
from .tickets import Ticket

#: feature name -> (weight, patterns on the folded text, English and Spanish)
PROBLEM_LEXICON: dict[str, tuple[float, tuple[str, ...]]] = {
    "outage": (1.2, (r"\bdown\b", r"\boutage", r"\bunavailable\b", r"\bunreachable\b", r"\bcaid[oa]s?\b",
                     r"\bno (esta|estan) disponibles?\b", r"\bfuera de servicio\b", r"\bsin servicio\b",
                     r"\bwon'?t (load|open)\b", r"\bno carga\b", r"\bno (abre|cargan|responde)\b",
                     r"\bblank (page|screen)\b", r"\bpantalla en blanco\b", r"\bcan'?t (access|reach|connect)\b",
                     r"\bno (podemos|puedo|pueden) (acceder|conectar|entrar)\b")),
    "errors": (1.0, (r"\berrors?\b", r"\berrores\b", r"\b50[0234]\b", r"\bfail(s|ed|ing|ure)?\b",
                     r"\bfall(a|an|o|ando)\b", r"\bexception\b", r"\bcrash(es|ed|ing)?\b", r"\bse cuelga\b",
                     r"\bbroken\b", r"\broto\b")),
    "stopped_working": (1.2, (r"\bnot working\b", r"\bstopped (working|loading|sending|ringing|arriving)\b",
                              r"\bno funciona", r"\bdejo de funcionar\b", r"\bdejaron de\b", r"\bya no\b",
                              r"\bisn'?t working\b", r"\bdoesn'?t work\b", r"\bnot (being )?(delivered|sent)\b",
                              r"\bno (llegan|se envian|se entregan|suenan)\b", r"\bdisappeared\b", r"\bdisconnect(s|ed)?\b",
                              r"\bcut off\b", r"\bstuck\b", r"\bnever (receive|arrive|get)", r"\bnot receiving\b",
                              r"\bstopped receiving\b", r"\bnothing (is )?sent\b", r"\bno (se )?conectan?\b",
                              r"\bda error\b",
                              r"\bdesaparecieron\b", r"\bdropp(ed|ing)\b", r"\bse cortan\b")),
    "slowness": (0.9, (r"\bslow(ly|ness)?\b", r"\blent(o|a|os|as|itud)\b", r"\btime ?outs?\b", r"\btimed out\b",
                       r"\blatency\b", r"\btakes? (forever|minutes)\b", r"\btarda(n)? (mucho|minutos)\b",
                       r"\bspinning\b", r"\blag(gy|ging)?\b", r"\bdelay(ed|s)?\b", r"\bretras")),
    "breadth": (0.6, (r"\ball (of )?(our|my) (agents|users|customers|team)\b", r"\beveryone\b", r"\bnobody\b",
                      r"\btodos (nuestros|los) (agentes|usuarios|clientes)\b", r"\bnadie\b", r"\bwhole team\b",
                      r"\bsince (this morning|\d)", r"\bdesde (esta manana|las \d|hace)\b", r"\bacross\b")),
    "how_to": (-1.2, (r"\bhow (do|can|should) (i|we)\b", r"\bhow to\b", r"\bis it possible\b", r"\bwhere (can|do) i\b",
                      r"\bcomo (puedo|podemos|se puede|configuro|hago|cambio|agrego)\b", r"\bes posible\b",
                      r"\bdonde (puedo|encuentro)\b", r"\bbest practice", r"\bdocumentation\b", r"\btutorial\b")),
    "billing": (-1.5, (r"\binvoice", r"\bbilling\b", r"\bcharged?\b", r"\brefund", r"\bsubscription\b",
                       r"\bpayment\b", r"\bfactura", r"\bcobr(o|aron|ado)\b", r"\breembolso\b", r"\bsuscripcion\b",
                       r"\bpago\b", r"\bplan (upgrade|downgrade)\b", r"\bseats?\b", r"\blicencias?\b")),
    "feature_request": (-1.5, (r"\bfeature request\b", r"\bwould be (great|nice|useful)\b", r"\bcould you add\b",
                               r"\bplease add\b", r"\bsuggestion\b", r"\bwish\b", r"\bseria (genial|util)\b",
                               r"\bsugerencia\b", r"\bpodrian (agregar|anadir)\b", r"\bfuncionalidad nueva\b",
                               r"\broadmap\b")),
    "own_config": (-1.1, (r"\bwe (changed|updated|modified|edited)\b", r"\bafter (we|i) (changed|updated|edited)\b",
                          r"\bour (own )?(configuration|settings|trigger|sso|domain|dns|certificate)\b",
                          r"\bmy (own )?(settings|configuration|account)\b", r"\bcambiamos\b", r"\bmodificamos\b",
                          r"\bnuestra configuracion\b", r"\bmi configuracion\b", r"\bmi cuenta\b",
                          r"\bone (user|agent)\b", r"\bun (usuario|agente)\b", r"\bonly (for )?me\b", r"\bsolo a mi\b")),
}
PRIORITY_WEIGHTS = {"urgent": 0.6, "high": 0.3, "normal": 0.0, "low": -0.3}
_COMPILED = {name: (w, AnyOf(pats)) for name, (w, pats) in PROBLEM_LEXICON.items()}

#: match score = sum of weight * feature (each feature in 0..1); a component conflict (both name components,
#: none shared) scores the incident 0: the ticket is about another part of the product.
MATCH_WEIGHTS = {"text_similarity": 0.35, "product": 0.15, "time": 0.10, "symptom": 0.25, "component": 0.15}


@dataclass(frozen=True)
class ProblemAssessment:
    score: float
    features: dict[str, float]


def problem_features(ticket: Ticket) -> ProblemAssessment:
    """Weighted lexicon features (a feature counts once however often it matches) plus priority."""
    text = fold(ticket.text)
    feats: dict[str, float] = {}
    for name, (weight, pattern) in _COMPILED.items():
        if pattern.search(text):
            feats[name] = weight
    if ticket.priority in PRIORITY_WEIGHTS and PRIORITY_WEIGHTS[ticket.priority]:
        feats[f"priority_{ticket.priority}"] = PRIORITY_WEIGHTS[ticket.priority]
    return ProblemAssessment(round(sum(feats.values()), 3), feats)


@dataclass(frozen=True)
class IncidentView:
    """What triage knows about an open incident: enough text to match tickets against it."""

    incident_id: str
    product: str
    title: str
    opened_at: datetime
    text: str = ""  # its own words: summary, signal, alert summaries
    ticket_text: str = ""  # subjects of the tickets linked to it (similarity only)


@dataclass(frozen=True)
class Match:
    incident_id: str
    score: float
    features: dict[str, float]


class _Candidates:
    """The incidents one product's tickets are matched against, prepared once (see IncidentIndex)."""

    def __init__(self, candidates: list[IncidentView]) -> None:
        self.candidates = candidates
        last = {i.incident_id: i for i in candidates}  # one document per incident id (the last view of it)
        slot = {incident_id: k for k, incident_id in enumerate(last)}
        own = {i.incident_id: f"{i.title} {i.text}" for i in last.values()}  # components, symptoms: its own words
        # Few distinct aspect sets: a ticket's agreement with each is computed once, not once per incident.
        self.symptom_sets = list(dict.fromkeys(symptoms(t) for t in own.values()))
        self.component_sets = list(dict.fromkeys(components(t) for t in own.values()))
        s_index = {s: k for k, s in enumerate(self.symptom_sets)}
        c_index = {c: k for k, c in enumerate(self.component_sets)}
        self.rows = [(i, slot[i.incident_id], s_index[symptoms(own[i.incident_id])],
                      c_index[components(own[i.incident_id])]) for i in candidates]
        self.corpus = FixedCorpus([tokens(f"{i.title} {i.title} {i.text} {i.ticket_text}") for i in last.values()])


class IncidentIndex:
    """Open incidents prepared for scoring many tickets (one batch): per product, each incident's tokens,
    term weights and aspects are computed once instead of once per ticket. Scores are the same, bit for bit."""

    def __init__(self, incidents: Sequence[IncidentView]) -> None:
        self.incidents = list(incidents)
        self._by_product: dict[str | None, _Candidates] = {}

    def candidates(self, product: str | None) -> _Candidates:
        """The open incidents of a product (all of them when the product is unknown)."""
        if product not in self._by_product:
            self._by_product[product] = _Candidates(
                [i for i in self.incidents if product is None or i.product == product])
        return self._by_product[product]

    def match(self, ticket: Ticket, *, lookback_s: int) -> list[Match]:
        """Score the ticket against each open incident of its product (or all, when its product is unknown)."""
        scored = self._score(ticket, lookback_s)
        out = [Match(inc.incident_id, score, self._features(feats)) for inc, feats, score in scored]
        return sorted(out, key=lambda m: (-m.score, m.incident_id))

    def best_match(self, ticket: Ticket, *, lookback_s: int) -> Match | None:
        """`match(...)[0]`, without building the features of every other incident."""
        best = None
        for row in self._score(ticket, lookback_s):
            if best is None or row[2] > best[2] or (row[2] == best[2] and row[0].incident_id < best[0].incident_id):
                best = row  # strictly better only: the first of equals wins, as in the stable sort
        return None if best is None else Match(best[0].incident_id, best[2], self._features(best[1]))

    @staticmethod
    def _features(values: tuple[float, ...]) -> dict[str, float]:
        return dict(zip(MATCH_WEIGHTS, values, strict=True))

    def _score(self, ticket: Ticket, lookback_s: int) -> list[tuple[IncidentView, tuple[float, ...], float]]:
        """(incident, feature values in MATCH_WEIGHTS order, rounded score) per candidate, in candidate order."""
        group = self.candidates(ticket.product)
        if not group.candidates:
            return []
        t_comp, t_symp = components(ticket.text), symptoms(ticket.text)
        symptom = [agreement(t_symp, s, disjoint=0.25) for s in group.symptom_sets]
        component = [agreement(t_comp, c, disjoint=0.0) for c in group.component_sets]
        sims = group.corpus.cosines(tokens(ticket.text))
        w_text, w_product, w_time, w_symptom, w_component = MATCH_WEIGHTS.values()
        created, product = ticket.created_at, ticket.product
        out = []
        for inc, slot, s, c in group.rows:
            sim = sims[slot]
            # text similarity (doubled: short texts rarely exceed 0.5), product, time, symptom, component
            feats = (round(min(1.0, sim * 2.0), 3) if sim else 0.0,
                     1.0 if product == inc.product else 0.0,
                     1.0 if (inc.opened_at - created).total_seconds() <= lookback_s else 0.0,
                     symptom[s], component[c])
            # the weighted sum in MATCH_WEIGHTS order, as sum() over the features dict gave it
            score = 0.0 if feats[4] == 0.0 else sum((w_text * feats[0], w_product * feats[1], w_time * feats[2],
                                                     w_symptom * feats[3], w_component * feats[4]))
            out.append((inc, feats, round(score, 3)))
        return out


def match_incidents(ticket: Ticket, incidents: Sequence[IncidentView] | IncidentIndex, *,
                    lookback_s: int) -> list[Match]:
    """Score the ticket against each open incident of its product (or all, when its product is unknown)."""
    index = incidents if isinstance(incidents, IncidentIndex) else IncidentIndex(incidents)
    return index.match(ticket, lookback_s=lookback_s)


def similarity(a: Ticket, b: Ticket) -> float:
    """TF-IDF cosine between two tickets (for clustering reports of one problem)."""
    ta, tb = tokens(a.text), tokens(b.text)
    corpus = Corpus([ta, tb])
    return cosine(corpus.vector(ta), corpus.vector(tb))
