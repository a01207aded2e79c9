"""Decide a whole backlog level by level, each distinct case once.

A row's decision is the first level whose examination finds a serving offer. A level's
examination depends only on: whether the level exists for the row's territory, the candidates
there, the outcome of the policy rules, the offers set aside, and the values of the facts that
those candidates' conditions can tell apart (their canonical projection). Rows are grouped by
that key, level by level, and each group is examined once by `Router.level` — the code that
routes a single demande — on one of its rows; numpy spreads the examinations back over the rows.
A million rows have a few hundred thousand distinct keys at the busiest level, not a million
decisions to assemble.

Reasons hold placeholders for the values they show (population, montant, territory codes): the
rows of a group share an examination but not those values, which are filled row by row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from .conditions import Canonicalizer, fmt_number
from .decide import RuleOutcome, Router, demande_facts, existing_levels, with_motifs
from .model import LEVELS, Alerte, Demande, Offre, Territoire
from .render import EXAMEN_SEPARATOR, NON_INSTRUISIBLE, examen_level_text

PLACEHOLDER = "\x1f{}\x1f"
VALUE_FIELDS = ("population", "montant", "commune", "epci", "departement", "region", "zone")
SHOWN = {f: PLACEHOLDER.format(f) for f in VALUE_FIELDS}


@dataclass
class FactColumns:
    """Every fact of every row, as a code per row into a list of distinct values."""

    codes: dict[str, np.ndarray]
    values: dict[str, list[Any]]


@dataclass
class Rows:
    """What the walk needs of a backlog."""

    territory: np.ndarray  # per row: index into `territoires` (-1: the row is in error)
    territoires: list[Territoire | None]
    facts: FactColumns
    demande_of: Callable[[int], Demande]  # a row's demande (for the groups it stands for)
    words: dict[str, list[tuple[str, ...]]]  # thematiques/besoins as written, per code of `facts`
    avis_dt: np.ndarray  # per row: the DT's opinion ('' when none)


@dataclass
class Decided:
    """The decisions of the routed rows, as codes into small lists of texts."""

    rows: np.ndarray  # the rows decided, in order
    level: np.ndarray  # index in LEVELS
    offre: list[Offre]  # per row (object list)
    motif: np.ndarray
    motifs: list[str]
    examen: np.ndarray
    examens: list[str] | pa.Array
    avis_dt_requis: np.ndarray  # bool
    instruisible: np.ndarray  # bool
    alertes: np.ndarray
    alertes_texts: list[str]
    regles: np.ndarray
    regles_texts: list[str]
    serving: list[list[Offre]] | None = None  # with `ranked`: every serving offer, in order of preference

    def updated(self, again: "Decided") -> "Decided":
        """These decisions, with those of `again` for its rows."""
        position = np.full(int(self.rows.max()) + 1 if len(self.rows) else 0, -1, dtype=np.int64)
        position[self.rows] = np.arange(len(self.rows))
        at = position[again.rows]
        level, offre = self.level.copy(), list(self.offre)
        level[at] = again.level
        for p, o in zip(at, again.offre):
            offre[p] = o
        avis, instruisible = self.avis_dt_requis.copy(), self.instruisible.copy()
        avis[at], instruisible[at] = again.avis_dt_requis, again.instruisible

        def merged(ids: np.ndarray, texts, new_ids: np.ndarray, new_texts):
            ids = ids.copy()
            ids[at] = len(texts) + new_ids
            if isinstance(texts, pa.Array) or isinstance(new_texts, pa.Array):
                return ids, pa.concat_arrays([pa.array(texts, pa.string()), pa.array(new_texts, pa.string())])
            return ids, list(texts) + list(new_texts)

        motif, motifs = merged(self.motif, self.motifs, again.motif, again.motifs)
        examen, examens = merged(self.examen, self.examens, again.examen, again.examens)
        alertes, alertes_texts = merged(self.alertes, self.alertes_texts, again.alertes, again.alertes_texts)
        regles, regles_texts = merged(self.regles, self.regles_texts, again.regles, again.regles_texts)
        return Decided(self.rows, level, offre, motif, motifs, examen, examens, avis, instruisible, alertes,
                       alertes_texts, regles, regles_texts)


def _combine(keys: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Fold one more column of codes into a row key (refactorizing keeps it small)."""
    size = int(column.max()) + 1 if column.size else 1
    if keys.size and (int(keys.max()) + 1) * size >= 2**62:
        keys = pd.factorize(keys)[0].astype(np.int64)
    return keys * size + column.astype(np.int64)


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row the id of its key, and per id the first row (its representative)."""
    ids, uniques = pd.factorize(keys)
    first = np.full(len(uniques), -1, dtype=np.int64)
    order = np.arange(len(ids))[::-1]
    first[ids[order]] = order
    return ids.astype(np.int64), first


@dataclass
class _Cache:
    facts: dict[int, dict[str, Any]] = field(default_factory=dict)
    canonicalizers: dict[tuple, Canonicalizer] = field(default_factory=dict)


class Walk:
    def __init__(self, router: Router, rows: Rows, day: dt.date):
        self.router = router
        self.rows = rows
        self.day = day
        self._cache = _Cache()
        # Per level, per territory: the id of its set of candidates there.
        self._sets: dict[str, tuple[np.ndarray, list[tuple[Offre, ...]]]] = {}
        # Territories alike share one list of candidates (the router remembers it): work per list.
        lists: dict[int, int] = {}
        distinct: list[list[Offre]] = []
        list_of = np.zeros(len(rows.territoires), dtype=np.int64)
        for i, t in enumerate(rows.territoires):
            candidates = router.candidates(t) if t is not None else []
            list_of[i] = lists.setdefault(id(candidates), len(lists))
            if list_of[i] == len(distinct):
                distinct.append(candidates)
        for level in LEVELS:
            by_ids: dict[tuple[str, ...], int] = {}
            sets: list[tuple[Offre, ...]] = []
            per_list = np.zeros(len(distinct), dtype=np.int64)
            for j, candidates in enumerate(distinct):
                offers = tuple(sorted((o for o in candidates if o.niveau == level), key=lambda o: o.id))
                key = tuple(o.id for o in offers)  # hashing ids, not offers (their conditions are trees)
                if key not in by_ids:
                    by_ids[key] = len(sets)
                    sets.append(offers)
                per_list[j] = by_ids[key]
            self._sets[level] = (per_list[list_of], sets)
        kinds = ["commune", "epci", "departement", "region"]
        self._kind = np.array([kinds.index(t.kind) if t is not None else 0 for t in rows.territoires] or [0])
        levels = [existing_levels(t) if t is not None else set() for t in rows.territoires]
        self._exists = {level: np.array([level in ls for ls in levels] or [False]) for level in LEVELS}

    # ----------------------------------------------------------------- facts

    def _facts(self, row: int) -> dict[str, Any]:
        facts = self._cache.facts.get(row)
        if facts is None:
            t = self.rows.territoires[self.rows.territory[row]]
            facts = self._cache.facts[row] = demande_facts(self.rows.demande_of(row), t, self.router.catalogue)
        return facts

    def _project(self, canon: Canonicalizer, rows: np.ndarray, exact: Sequence[str] = ()) -> np.ndarray:
        """Per row, a code of its facts as `canon` sees them; `exact` fields count by their value."""
        key = np.zeros(len(rows), dtype=np.int64)
        for name in sorted(set(canon.fields) | set(exact)):
            codes = self.rows.facts.codes.get(name)
            if codes is None:
                continue
            values = self.rows.facts.values[name]
            row_codes = codes[rows]
            if name in exact:
                key = _combine(key, row_codes)
                continue
            mapped: dict[Any, int] = {}
            table = np.zeros(len(values), dtype=np.int64)
            for code in np.unique(row_codes):
                table[code] = mapped.setdefault(canon.value(name, values[code]), len(mapped))
            key = _combine(key, table[row_codes])
        return key

    # ----------------------------------------------------------------- rules

    def _rules_before(self, rows: np.ndarray) -> tuple[np.ndarray, list[RuleOutcome]]:
        ids, first = _factorize(self._project(self.router.before_canonicalizer, rows))
        outcomes = self.router.rules_before([self._facts(int(rows[r])) for r in first])
        return ids, outcomes

    # ----------------------------------------------------------------- levels

    def _offer_canonicalizer(self, offre: Offre) -> Canonicalizer:
        canon = self._cache.canonicalizers.get(("offre", offre.id))
        if canon is None:
            canon = self._cache.canonicalizers[("offre", offre.id)] = Canonicalizer([self.router.on_topic[offre.id]])
        return canon

    def _on_topic(self, level: str, rows: np.ndarray) -> tuple[np.ndarray, list[tuple[Offre, ...]]]:
        """Per row the id of its candidates at this level that are on its thematiques."""
        set_ids, sets = self._sets[level]
        row_sets = set_ids[self.rows.territory[rows]]
        themes = self.rows.facts.codes["thematiques"][rows]
        pair_ids, first = _factorize(_combine(row_sets, themes))
        by_ids: dict[tuple[str, ...], int] = {}
        subsets: list[tuple[Offre, ...]] = []
        pair_subset = np.zeros(len(first), dtype=np.int64)
        for pair, r in enumerate(first):
            wanted = set(self.rows.facts.values["thematiques"][themes[r]])
            offers = tuple(o for o in sets[row_sets[r]] if wanted & set(o.thematiques))
            key = tuple(o.id for o in offers)
            if key not in by_ids:
                by_ids[key] = len(subsets)
                subsets.append(offers)
            pair_subset[pair] = by_ids[key]
        return pair_subset[pair_ids], subsets

    def _level(
        self, level: str, rows: np.ndarray, rule_ids: np.ndarray, outcomes: list[RuleOutcome],
    ) -> tuple[np.ndarray, list[str], list[list[Offre]]]:
        """Examine one level for these rows: per row a group id, per group its text and serving offers.

        Each offer on a row's thematiques gets a verdict (serves, or why not) per distinct way its
        own conditions read the row; rows share a group when the level exists alike for them, the
        rules did the same, and every offer on their subject gave the same verdict."""
        t = self.rows.territory[rows]
        exists = self._exists[level][t]
        subset_of_row, subsets = self._on_topic(level, rows)
        key = _combine(_combine(np.where(exists, 0, 1 + self._kind[t]), rule_ids), subset_of_row)
        # The rows of each subset of offers on their subject (rows where the level exists).
        order = np.argsort(subset_of_row, kind="stable")
        order = order[exists[order]]
        positions = {int(subset_of_row[g[0]]): np.sort(g)
                     for g in np.split(order, np.flatnonzero(np.diff(subset_of_row[order])) + 1) if len(g)}
        by_offer: dict[str, list[np.ndarray]] = {}
        offers: dict[str, Offre] = {}
        for index, pos in positions.items():
            for offre in subsets[index]:
                offers[offre.id] = offre
                by_offer.setdefault(offre.id, []).append(pos)
        # Each offer's verdicts over the rows that have it on their subject (the engine asked
        # once for all the offers of the level).
        verdict_of: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # offer -> (positions, verdict ids)
        cases: list[tuple[Offre, int, int]] = []  # an offer, a row standing for a case, its rule outcome
        for oid in sorted(by_offer):
            where = np.sort(np.concatenate(by_offer[oid]))
            ids, first = self._verdict_cases(offers[oid], rows[where], rule_ids[where], outcomes)
            verdict_of[oid] = (where, ids)
            cases.extend((offers[oid], int(rows[where[r]]), int(rule_ids[where[r]])) for r in first)
        facts = [self._facts(row) for _, row, _ in cases]
        capable = self.router.capable(facts, [[offre] for offre, _, _ in cases])
        verdicts: dict[str, list[tuple[bool, tuple[str, ...]]]] = {}
        for (offre, _, rule_id), f, ok in zip(cases, facts, capable):
            verdicts.setdefault(offre.id, []).append(
                self.router.verdict(offre, f, outcomes[rule_id], ok, self.day, SHOWN))

        def verdict_ids(oid: str, pos: np.ndarray) -> np.ndarray:
            where, ids = verdict_of[oid]
            return ids[np.searchsorted(where, pos)]

        local = np.zeros(len(rows), dtype=np.int64)
        columns: dict[int, np.ndarray] = {}  # subset -> per row of the subset, each offer's verdict id
        slot = np.zeros(len(rows), dtype=np.int64)  # a row's index among its subset's rows
        for index, pos in positions.items():
            if not subsets[index]:
                continue  # nothing on their subject: one group per rule outcome
            matrix = np.stack([verdict_ids(o.id, pos) for o in subsets[index]], axis=1)
            k = np.zeros(len(pos), dtype=np.int64)
            for column in matrix.T:
                k = _combine(k, column)
            local[pos] = k
            columns[index] = matrix
            slot[pos] = np.arange(len(pos))
        ids, first = _factorize(_combine(key, pd.factorize(local)[0]))
        texts, serving = [], []
        for r, rule_id in zip(first, rule_ids[first]):
            row = int(rows[r])
            skipped = self.router.skipped(level, self.rows.territoires[self.rows.territory[row]], outcomes[rule_id])
            if skipped is not None:
                texts.append(examen_level_text(skipped))
                serving.append([])
                continue
            index = int(subset_of_row[r])
            on_topic = list(subsets[index])
            chosen = {o.id: verdicts[o.id][v] for o, v in zip(on_topic, columns[index][slot[r]])} if on_topic else {}
            examined, offers_serving = self.router.assemble(level, on_topic, chosen, 0)
            texts.append(examen_level_text(examined))
            serving.append(offers_serving)
        return ids, texts, serving

    def _verdict_cases(self, offre: Offre, rows: np.ndarray, rule_ids: np.ndarray, outcomes: list[RuleOutcome]
                       ) -> tuple[np.ndarray, np.ndarray]:
        """The rows that have an offer on their subject, grouped by the way its conditions read them:
        per row a case id, per case its first row."""
        canon = self._offer_canonicalizer(offre)
        exact = [f for f in canon.fields if f not in canon.list_fields and f not in SHOWN]
        key = self._project(canon, rows, exact)
        excluding = np.array([offre.id in out.exclues for out in outcomes] or [False])
        key = _combine(key, np.where(excluding[rule_ids], rule_ids + 1, 0))  # the reason names the rule
        return _factorize(key)

    def decide(self, rows: np.ndarray, excluded: dict[int, dict[str, str]] | None = None,
               ranked: bool = False, progress: Callable[[int], None] | None = None) -> Decided:
        """Decide these rows; `excluded` sets offers aside for some rows (row -> offer -> why);
        with `ranked`, every level is examined and every serving offer kept, in order."""
        rows = np.asarray(rows, dtype=np.int64)
        rule_ids, outcomes = self._rules_before(rows)
        if excluded:
            rule_ids, outcomes = _with_exclusions(rows, rule_ids, outcomes, excluded)
        n = len(rows)
        level_of = np.full(n, -1, dtype=np.int8)
        fragment_ids = np.full((len(LEVELS), n), -1, dtype=np.int64)
        fragments = _Texts()  # one id per distinct text: explanations are then distinct by their ids
        chosen: list[Offre | None] = [None] * n
        serving_all: list[list[Offre]] = [[] for _ in range(n)] if ranked else []
        pending = np.arange(n)
        for index, level in enumerate(LEVELS):
            if not len(pending):
                break
            ids, texts, serving = self._level(level, rows[pending], rule_ids[pending], outcomes)
            text_ids = np.array([fragments.id(text) for text in texts], dtype=np.int64)
            serves = np.array([bool(s) for s in serving])
            hit = serves[ids]
            if ranked:
                for position, group in zip(pending, ids):
                    serving_all[position].extend(serving[group])
            undecided = level_of[pending] < 0
            fragment_ids[index, pending[undecided]] = text_ids[ids[undecided]]
            newly = pending[hit & undecided]
            level_of[newly] = index
            for position, group in zip(newly, ids[hit & undecided]):
                chosen[position] = serving[group][0]
            if progress:
                progress(len(newly))
            if not ranked:
                pending = pending[~hit]
        decided = self._finish(rows, level_of, chosen, rule_ids, outcomes, fragment_ids, fragments.texts)
        self._cache.facts.clear()  # a fact dict per group: let a million-row run give them back
        if ranked:
            decided.serving = [[o for o in s if not o.repli] + [self.router.catalogue.repli] for s in serving_all]
        return decided

    # ----------------------------------------------------------------- what the decision says

    def _finish(self, rows, level_of, chosen, rule_ids, outcomes, fragment_ids, fragments) -> Decided:
        offer_ids = pd.factorize(np.array([o.id for o in chosen], dtype=object))[0]
        offers = list(chosen)
        # The motif: the chosen offer, the demande's words, the rules before the decision.
        theme_codes = self.rows.facts.codes["thematiques"][rows]
        need_codes = self.rows.facts.codes["besoins"][rows]
        motif_ids, first = _factorize(_combine(_combine(_combine(offer_ids, rule_ids), theme_codes), need_codes))
        words = self.rows.words
        motifs = [
            self.router.motif(offers[r], words["thematiques"][theme_codes[r]], words["besoins"][need_codes[r]],
                              outcomes[rule_ids[r]])
            for r in first
        ]
        # The rules that read the decision.
        after_canon = self.router.after_canonicalizer
        after_ids, after_first = _factorize(_combine(self._project(after_canon, rows), offer_ids))
        after = self.router.rules_after([self._facts(int(rows[r])) for r in after_first],
                                        [offers[r] for r in after_first])
        final_ids, final_first = _factorize(_combine(_combine(motif_ids, after_ids), rule_ids))
        texts, alertes, regles = _Texts(), _Texts(), _Texts()
        motif_of, alert_of, rules_of, avis = [], [], [], []
        for r in final_first:
            before, post = outcomes[rule_ids[r]], after[after_ids[r]]
            motif_of.append(texts.id(with_motifs(motifs[motif_ids[r]], post.motifs)))
            alert_of.append(alertes.id(" | ".join(f"{a.texte} ({a.regle})" for a in (*before.alertes, *post.alertes))))
            rules_of.append(regles.id("|".join((*before.regles, *post.regles))))
            avis.append(before.avis_dt or post.avis_dt)
        avis_row = np.array(avis, dtype=bool)[final_ids]  # typed: no row to decide is a run like another
        instruisible = ~(avis_row & (self.rows.avis_dt[rows] != "favorable"))
        examen_ids, examens = self._examens(rows, fragment_ids, fragments)
        return Decided(rows, level_of, offers, np.array(motif_of, dtype=np.int64)[final_ids], texts.texts, examen_ids,
                       examens, avis_row, instruisible, np.array(alert_of, dtype=np.int64)[final_ids], alertes.texts,
                       np.array(rules_of, dtype=np.int64)[final_ids], regles.texts)

    def _examens(self, rows: np.ndarray, fragment_ids: np.ndarray, fragments: list[str]
                 ) -> tuple[np.ndarray, pa.Array]:
        """Per row its explanation: the examined levels' texts, with its own values in them.

        The level texts are distinct, so are their sequences once joined (" | " appears in no
        level text); filled with distinct shown values, every explanation comes out once."""
        key = np.zeros(len(rows), dtype=np.int64)
        for level_ids in fragment_ids:
            key = _combine(key, level_ids + 1)
        ids, first = _factorize(key)
        fragment_needs = [frozenset(f for f in VALUE_FIELDS if SHOWN[f] in text) for text in fragments]
        needs = [frozenset().union(*(fragment_needs[i] for i in fragment_ids[:, r] if i >= 0)) for r in first]
        shown: dict[str, list[str]] = {}  # per field, per shown text's id: the text
        shown_of_row: dict[str, np.ndarray] = {}  # per field, per row: its shown text's id
        fill_key = ids.copy()
        for name in VALUE_FIELDS:
            uses = np.array([name in n for n in needs])[ids]
            if not uses.any():
                continue
            display_ids, distinct = pd.factorize(np.array([_shown(v) for v in self.rows.facts.values[name]], dtype=object))
            shown[name] = list(distinct)
            shown_of_row[name] = display_ids[self.rows.facts.codes[name][rows]]
            fill_key = _combine(fill_key, np.where(uses, shown_of_row[name] + 1, 0))
        fill_ids, fill_first = _factorize(fill_key)
        order = np.argsort(ids[fill_first], kind="stable")
        first_list, ids_list = fill_first.tolist(), ids.tolist()
        columns = {name: codes.tolist() for name, codes in shown_of_row.items()}
        texts: list[str] = []
        chunks: list[pa.Array] = []
        text_of = np.zeros(len(fill_first), dtype=np.int64)
        combo, template = -1, ""
        for position, fill in enumerate(order.tolist()):  # each explanation joined once, then filled
            r = first_list[fill]
            if ids_list[r] != combo:
                combo = ids_list[r]
                template = EXAMEN_SEPARATOR.join(fragments[i] for i in fragment_ids[:, r].tolist() if i >= 0)
            text = template
            for name in needs[combo]:
                text = text.replace(SHOWN[name], shown[name][columns[name][r]])
            texts.append(text)
            text_of[fill] = position
            if len(texts) >= 20_000:  # as Arrow strings: half the weight of Python's for these texts
                chunks.append(pa.array(texts, pa.string()))
                texts = []
        chunks.append(pa.array(texts, pa.string()))
        return text_of[fill_ids], pa.concat_arrays(chunks) if len(chunks) > 1 else chunks[0]


class _Texts:
    """Distinct texts and their ids (a column's dictionary must not repeat a text)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._ids: dict[str, int] = {}

    def id(self, text: str) -> int:
        found = self._ids.get(text)
        if found is None:
            found = self._ids[text] = len(self.texts)
            self.texts.append(text)
        return found


def _shown(value: Any) -> str:
    if value is None:
        return "non renseigné"
    if isinstance(value, (int, float)):
        return fmt_number(value)
    return str(value)


def _with_exclusions(rows: np.ndarray, rule_ids: np.ndarray, outcomes: list[RuleOutcome],
                     excluded: dict[int, dict[str, str]]) -> tuple[np.ndarray, list[RuleOutcome]]:
    """Rule outcomes with, for some rows, more offers set aside."""
    keys = [(int(rule_ids[i]), tuple(sorted(excluded.get(int(r), {}).items()))) for i, r in enumerate(rows)]
    ids, uniques = pd.factorize(pd.Series(keys, dtype=object))
    merged = []
    for rule_id, extra in uniques:
        base = outcomes[rule_id]
        out = RuleOutcome(**{**base.__dict__, "exclues": {**base.exclues}})
        for offre_id, reason in extra:
            out.exclues.setdefault(offre_id, reason)
        merged.append(out)
    return ids.astype(np.int64), merged


__all__ = ["Walk", "Rows", "FactColumns", "Decided", "PLACEHOLDER", "VALUE_FIELDS", "NON_INSTRUISIBLE", "Alerte"]
