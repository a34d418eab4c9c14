"""Per-query measures by the field's reference implementations: ir-measures over pytrec_eval (trec_eval's own
code), and ir-measures' Judged. A judged query the retriever returned nothing for scores 0 (trec_eval -c)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .rankings import Ranking

# Decimals a measure is kept to, here and in the baseline: an unchanged ranking compares equal to the digit.
PRECISION = 9


def _run(rankings: Mapping[str, Ranking]) -> dict[str, dict[str, float]]:
    """The rankings as a run: a score that falls with the rank, so every evaluator reads the order as given."""
    longest = max((len(docs) for docs in rankings.values()), default=0)
    scores = [float(n) for n in range(longest, 0, -1)]  # a ranking of length L takes the last L: L .. 1
    return {qid: dict(zip(docs, scores[longest - len(docs):], strict=True)) for qid, docs in rankings.items() if docs}


def compute(measures: Sequence[str], qrels: Mapping[str, Mapping[str, int]], rankings: Mapping[str, Ranking],
            queries: Iterable[str]) -> dict[str, dict[str, float]]:
    """{query: {measure name as configured: value}} for every query of `queries` that has judgements."""
    import ir_measures

    wanted = [q for q in queries if q in qrels]
    parsed = {name: ir_measures.parse_measure(name) for name in measures}
    # ir-measures hands back the very measure objects it was given: found by identity, not by their text (a
    # measure's str() and hash() format it anew on every call, 50,000 calls at 10,000 queries).
    by_measure = {id(m): name for name, m in parsed.items()}
    names = {str(m): name for name, m in parsed.items()}  # should another version hand back copies
    out: dict[str, dict[str, float]] = {q: dict.fromkeys(measures, 0.0) for q in wanted}
    if not wanted:
        return out
    qrels_in = {q: dict(qrels[q]) for q in wanted}
    run = _run({q: rankings[q] for q in wanted if q in rankings})
    if not run:
        return out
    trec = [m for m in parsed.values() if m.NAME != "Judged"]
    if trec:
        for metric in ir_measures.pytrec_eval.iter_calc(trec, qrels_in, run):
            row = out.get(metric.query_id)
            if row is not None:
                name = by_measure.get(id(metric.measure)) or names[str(metric.measure)]
                row[name] = round(float(metric.value), PRECISION)
    # Judged@k by ir-measures' own definition, on the rankings as they are (its provider re-sorts the whole run
    # first: most of the time of 10,000 queries); tests/unit/test_retrieval_measures.py holds the two equal.
    for name, measure in parsed.items():
        if measure.NAME != "Judged":
            continue
        cutoff = measure["cutoff"]
        depth = cutoff if isinstance(cutoff, int) else None
        for q in wanted:
            if q in run:
                ranking = rankings[q]
                out[q][name] = round(judged_share(ranking, qrels_in[q], depth or len(ranking)), PRECISION)
    return out


def judged_share(ranking: Ranking, judged: Mapping[str, int], depth: int) -> float:
    """Judged@depth as ir-measures defines it (judged documents over those returned, up to depth), for queries
    that have no judgements and so no measures: 0."""
    top = ranking[:depth]
    return sum(doc in judged for doc in top) / len(top) if top else 0.0


def unjudged_ids(rankings: Mapping[str, Ranking], qrels: Mapping[str, Mapping[str, int]], depth: int,
                 queries: Iterable[str], limit: int = 10) -> list[tuple[str, int]]:
    """The documents most often in the top `depth` of judged queries without a judgement for that query."""
    counts: dict[str, int] = {}
    for q in queries:
        judged = qrels.get(q)
        if not judged:
            continue
        for doc in rankings.get(q, ())[:depth]:
            if doc not in judged:
                counts[doc] = counts.get(doc, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
