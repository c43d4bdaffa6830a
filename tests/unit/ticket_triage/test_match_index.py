"""IncidentIndex (incidents prepared once per batch) scores exactly as the plain per-ticket computation.

`reference_match` is match_incidents as it was before the index existed: Corpus and cosine rebuilt for every
ticket. The index must give the same matches, the same floats (compared with ==), the same order."""

from __future__ import annotations

import dataclasses
import random
import re
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ticket_triage.domain.aspects import COMPONENTS, SYMPTOMS, agreement, components, symptoms
from services.ticket_triage.domain.classify import (
    MATCH_WEIGHTS, PROBLEM_LEXICON, PRIORITY_WEIGHTS, IncidentIndex, IncidentView, Match, match_incidents,
    problem_features,
)
from services.ticket_triage.domain.text import Corpus, FixedCorpus, cosine, fold, tokens
from services.ticket_triage.domain.tickets import Ticket, parse_ticket

from .labelled import HOLDOUT, POLICY, load


def reference_match(ticket: Ticket, incidents: list[IncidentView], *, lookback_s: int) -> list[Match]:
    candidates = [i for i in incidents if ticket.product is None or i.product == ticket.product]
    if not candidates:
        return []
    texts = {i.incident_id: f"{i.title} {i.text}" for i in candidates}
    docs = {i.incident_id: tokens(f"{i.title} {i.title} {i.text} {i.ticket_text}") for i in candidates}
    ticket_toks = tokens(ticket.text)
    t_comp, t_symp = components(ticket.text), symptoms(ticket.text)
    corpus = Corpus([*docs.values(), ticket_toks])
    tvec = corpus.vector(ticket_toks)
    out = []
    for inc in candidates:
        sim = cosine(tvec, corpus.vector(docs[inc.incident_id]))
        age = (inc.opened_at - ticket.created_at).total_seconds()
        feats = {"text_similarity": round(min(1.0, sim * 2.0), 3),
                 "product": 1.0 if ticket.product == inc.product else 0.0,
                 "time": 1.0 if age <= lookback_s else 0.0,
                 "symptom": agreement(t_symp, symptoms(texts[inc.incident_id]), disjoint=0.25),
                 "component": agreement(t_comp, components(texts[inc.incident_id]), disjoint=0.0)}
        score = 0.0 if feats["component"] == 0.0 else sum(MATCH_WEIGHTS[k] * v for k, v in feats.items())
        out.append(Match(inc.incident_id, round(score, 3), feats))
    return sorted(out, key=lambda m: (-m.score, m.incident_id))


def _tickets() -> list[Ticket]:
    _, rows = load()
    _, holdout = load(HOLDOUT)
    return [parse_ticket(r["payload"], POLICY) for r in rows + holdout]


def _incidents_with_linked_text(seed: int = 7) -> list[IncidentView]:
    """The labelled incidents, as after a busy hour: many linked tickets' subjects (capped like the table)."""
    incidents, _ = load()
    subjects = [t.subject for t in _tickets()]
    rng = random.Random(seed)
    out = []
    for inc in incidents:
        text = ""
        for _ in range(rng.randint(0, 250)):
            text = (text + " " + rng.choice(subjects))[-8000:]
        out.append(dataclasses.replace(inc, ticket_text=text))
    return out


def test_index_matches_the_reference_on_every_labelled_and_held_out_ticket():
    for incidents in (load()[0], _incidents_with_linked_text()):
        index = IncidentIndex(incidents)
        for t in _tickets():
            for unknown in (False, True):  # unknown product: scored against all incidents
                ticket = dataclasses.replace(t, product=None) if unknown else t
                assert index.match(ticket, lookback_s=86400) == reference_match(ticket, incidents,
                                                                                lookback_s=86400)


def test_match_incidents_accepts_a_list_or_an_index():
    incidents = _incidents_with_linked_text(seed=3)
    t = _tickets()[0]
    late = dataclasses.replace(t, created_at=incidents[0].opened_at - timedelta(days=3))
    for ticket in (t, late):
        expected = reference_match(ticket, incidents, lookback_s=3600)
        assert match_incidents(ticket, incidents, lookback_s=3600) == expected
        assert match_incidents(ticket, IncidentIndex(incidents), lookback_s=3600) == expected


WORDS = st.sampled_from("chat widget error errors slow llamadas calls drop search views macro help center the de "
                        "outage caido lento fail failed 502 voicemail email emails agent agents".split())


@settings(max_examples=200, deadline=None)
@given(docs=st.lists(st.lists(WORDS, max_size=40), max_size=6), query=st.lists(WORDS, max_size=20))
def test_fixed_corpus_cosines_are_the_corpus_cosines_to_the_bit(docs, query):
    corpus = Corpus([*docs, query])
    expected = [cosine(corpus.vector(query), corpus.vector(d)) for d in docs]
    assert FixedCorpus(docs).cosines(query) == expected


def _reference_problem_features(ticket: Ticket) -> dict[str, float]:
    text = fold(ticket.text)
    feats = {name: w for name, (w, pats) in PROBLEM_LEXICON.items() if any(re.search(p, text) for p in pats)}
    if ticket.priority in PRIORITY_WEIGHTS and PRIORITY_WEIGHTS[ticket.priority]:
        feats[f"priority_{ticket.priority}"] = PRIORITY_WEIGHTS[ticket.priority]
    return feats


def test_one_alternation_per_feature_finds_what_the_separate_patterns_find():
    for t in _tickets():
        assert problem_features(t).features == _reference_problem_features(t)
        folded = fold(t.text)
        assert components(t.text) == {k for k, pats in COMPONENTS.items() if any(re.search(p, folded) for p in pats)}
        assert symptoms(t.text) == {k for k, pats in SYMPTOMS.items() if any(re.search(p, folded) for p in pats)}


def test_fold_ascii_shortcut_and_accents():
    assert fold("Chat CAÍDO, está lento") == "chat caido, esta lento"
    assert fold("All Agents SEE Errors") == "all agents see errors"
    assert fold("\u212a") == "k"  # Kelvin sign: lower-cases to ASCII
    assert fold("x" * 5000 + "É") == "x" * 5000 + "e"  # long texts are folded without the cache


def test_leading_literal_only_when_every_match_starts_with_it():
    from services.ticket_triage.domain.text import _leading_literal

    assert _leading_literal(r"\bdown\b") == "down"
    assert _leading_literal(r"\bwon'?t (load|open)\b") == "won"
    assert _leading_literal(r"\bno (esta|estan) disponibles?\b") == "no "
    assert _leading_literal(r"\btime ?outs?\b") == "time"
    assert _leading_literal(r"\bcharged?\b") == "charge"
    assert _leading_literal(r"\bfoo+bar") == "foo"
    assert _leading_literal(r"\bdown|up") == ""  # a top-level alternative
    assert _leading_literal(r"down") == "" and _leading_literal(r"\b\d+") == ""


LEXICON_WORDS = sorted({w for pats in [p for _, ps in PROBLEM_LEXICON.values() for p in ps]
                        + [p for ps in COMPONENTS.values() for p in ps] + [p for ps in SYMPTOMS.values() for p in ps]
                        for w in re.findall(r"[a-z0-9' ]+", pats)} | {"x", "-", ".", "5", "0", "no", "not"})


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(LEXICON_WORDS), max_size=30), st.sampled_from(["", " ", "-", "x"]))
def test_any_of_agrees_with_every_pattern_searched(words, sep):
    from services.ticket_triage.domain.text import AnyOf

    text = sep.join(words)
    for pats in [*(p for _, p in PROBLEM_LEXICON.values()), *COMPONENTS.values(), *SYMPTOMS.values()]:
        assert AnyOf(pats).search(text) == any(re.search(p, text) for p in pats), (pats, text)


def test_best_match_is_the_first_of_the_sorted_matches():
    incidents = _incidents_with_linked_text(seed=11)
    index = IncidentIndex(incidents + incidents[:2])  # a repeated incident too: the first of equals wins
    for t in _tickets():
        matches = index.match(t, lookback_s=86400)
        assert index.best_match(t, lookback_s=86400) == (matches[0] if matches else None)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fold_is_lower_nfkd_without_combining_marks(text):
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.lower())
    assert fold(text) == "".join(c for c in decomposed if not unicodedata.combining(c))
