"""`aiguillage alertes`: the veille et alerte, run by the rules engine.

The alert rules (`alertrules.py`) are compiled into engine programs, one per kind of indicator,
through the same guarded `engine.Program` that routes demandes; the indicators of a decisions
file (`indicators.py`) are the facts. Each alert says what (the rule's text, filled in), where
(the département, région × thématique, offer or demande), since when, and which rule raised it,
with the rows of the decisions file behind it.

Since when: the rule is asked again about earlier days, the file read as it stood then — week by
week back until it no longer holds, then day by day (a binary search) inside that week. An alert
that already held on the first day of the file holds « depuis au moins » that day. Alerts whose
facts read the same on every day (`Indicators.history_keys`) are searched once together, and the
engine is asked once per distinct way the facts read: the cost follows the distinct cases, not the
rows.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from .alertrules import INDICATORS, AlertCase, AlertRule, placeholders
from .conditions import compile_condition, fields_of, fmt_number
from .engine import EngineRule, Program
from .indicators import Fact, Indicators, hashable
from .render import plural

GRAVITY_ORDER = {"urgence": 0, "attention": 1, "information": 2}
STEP_BACK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Alert:
    rule: AlertRule
    fact: Fact
    text: str
    since: dt.date
    at_least: bool  # it already held on the earliest day examined

    @property
    def key(self) -> tuple[str, str]:
        return self.rule.id, self.fact.key


class AlertEngine:
    """The alert rules as engine programs, one per kind of indicator."""

    def __init__(self, rules: list[AlertRule]):
        self.rules = {r.id: r for r in rules}
        self.programs: dict[str, Program] = {}
        self.read: dict[str, tuple[str, ...]] = {}  # per kind, the fields its rules read
        for kind in INDICATORS:
            mine = [r for r in rules if r.indicateur == kind]
            if mine:
                self.programs[kind] = Program([EngineRule(r.id, compile_condition(r.quand)) for r in mine])
                self.read[kind] = tuple(sorted(set().union(*(fields_of(r.quand) for r in mine))))
        # Per kind, the rules that hold for each case already asked: the search for since when asks the
        # same cases again day after day, and a case's verdict does not depend on the day it is read.
        self._holds: dict[str, dict[tuple, list[AlertRule]]] = {kind: {} for kind in self.programs}

    @property
    def kinds(self) -> list[str]:
        return list(self.programs)

    def raised(self, facts: dict[str, list[Fact]]) -> list[tuple[AlertRule, Fact]]:
        """The (rule, fact) pairs that hold. The engine is asked once per distinct way the facts read
        in the fields the rules look at (thousands of demandes awaiting an opinion are a few cases),
        and never twice about the same case."""
        found = []
        for kind, program in self.programs.items():
            batch = facts.get(kind, [])
            read = self.read[kind]
            cases: dict[tuple, dict[str, Any]] = {}
            keys = []
            for f in batch:
                key = tuple([hashable(value) for value in map(f.values.get, read)])
                if key not in cases:
                    cases[key] = {name: f.values[name] for name in read if f.values.get(name) is not None}
                keys.append(key)
            holds = self._holds[kind]
            new = [key for key in cases if key not in holds]
            if new:
                for key, names in zip(new, program.matches([cases[key] for key in new])):
                    holds[key] = [self.rules[name] for name in sorted(names)]
            found += [(rule, fact) for fact, key in zip(batch, keys) for rule in holds[key]]
        return found


@functools.lru_cache(maxsize=4096)
def _french_date(iso: str) -> str:
    """An ISO day as a person reads it; thousands of alerts share a few hundred days."""
    return dt.date.fromisoformat(iso).strftime("%d/%m/%Y")


def _value(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "date":
        return _french_date(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return _quantity(value, unit)
    return _quantity.__wrapped__(value, unit)  # not hashable: written without the cache


@functools.lru_cache(maxsize=65536, typed=True)  # typed: how a value is written depends on its type
def _quantity(value: Any, unit: str) -> str:
    """A number with its unit; tens of thousands of alerts share a few thousand values."""
    if unit in ("%", "points"):  # shares are computed to a tenth; a person reads whole percentages
        value = round(value)
    shown = fmt_number(round(value, 1) if isinstance(value, float) else value).replace(" ", "\u202f")
    if unit == "%":
        return f"{shown}\u00a0%"
    if unit == "points":
        return f"{'+' if value > 0 else ''}{shown}\u00a0point{'s' if abs(value) >= 2 else ''}"
    if unit == "jours":
        return f"{shown}\u00a0jour{'s' if abs(value) >= 2 else ''}"
    if unit == "€":
        return f"{shown}\u00a0€"
    return shown


def message(rule: AlertRule, values: dict[str, Any]) -> str:
    """The rule's text with each {champ} replaced by the field's value, written for a person."""
    fields = INDICATORS[rule.indicateur].fields
    shown = {name: _value(values.get(name), fields[name].unit) for name in _placeholders_of(rule.alerte)}
    return rule.alerte.format_map(shown)  # checked by `placeholders`: plain {champ} only


@functools.lru_cache(maxsize=None)
def _placeholders_of(template: str) -> tuple[str, ...]:
    """A rule's placeholders, parsed once per rule, not once per alert (there are tens of thousands)."""
    return tuple(placeholders(template))


def _by_rule(raised: list[tuple[AlertRule, Fact]]) -> dict[str, list[tuple[AlertRule, Fact]]]:
    groups: dict[str, list[tuple[AlertRule, Fact]]] = {}
    for rule, fact in raised:
        groups.setdefault(rule.id, []).append((rule, fact))
    return groups


def run_alerts(indicators: Indicators, engine: AlertEngine, day: dt.date) -> list[Alert]:
    """Every alert raised as of `day`, with since when it holds."""
    kind_of = {r.id: r.indicateur for r in engine.rules.values()}

    def holding(when: dt.date, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these alerts hold on `when` (only their facts are computed)."""
        kinds = {kind_of[rule] for rule, _ in keys}
        facts = indicators.facts(when, kinds, {fact for _, fact in keys}, with_rows=False)
        return {(r.id, f.key) for r, f in engine.raised(facts)} & keys

    now = engine.raised(indicators.facts(day, engine.kinds))
    dates = indicators.rows["date_depot"].dropna()
    earliest = min(dates.min().date(), day) if len(dates) else day - dt.timedelta(days=366)
    # Facts whose values are the same on every day (thousands of demandes filed the same day and awaiting
    # an opinion alike) share their history: the search is made once, for the first of them.
    represented_by: dict[tuple[str, str], tuple[str, str]] = {}
    for rule_id, group in _by_rule(now).items():
        history = indicators.history_keys(kind_of[rule_id], [f for _, f in group], engine.read[kind_of[rule_id]])
        first: dict[Any, tuple[str, str]] = {}
        for (_, fact), signature in zip(group, history):
            represented_by[(rule_id, fact.key)] = first.setdefault(signature, (rule_id, fact.key))
    since = {key: day for key in set(represented_by.values())}
    open_keys = set(since)
    at_least: set[tuple[str, str]] = set()
    bounds: dict[tuple[str, str], list[dt.date]] = {}  # [failed on, held on]
    when = day
    while open_keys:  # week by week back, while they hold
        if when <= earliest:
            at_least |= open_keys
            break
        before = max(when - STEP_BACK, earliest)
        held = holding(before, open_keys)
        for key in open_keys - held:
            bounds[key] = [before, since[key]]
        for key in held:
            since[key] = before
        open_keys = held
        when = before
    while True:  # then day by day, by halves, all alerts whose bounds share a day together
        asked: dict[dt.date, set[tuple[str, str]]] = {}
        for key, (failed, held_on) in bounds.items():
            if (held_on - failed).days > 1:
                asked.setdefault(failed + dt.timedelta(days=(held_on - failed).days // 2), set()).add(key)
        if not asked:
            break
        for middle, keys in asked.items():
            held = holding(middle, keys)
            for key in keys:
                bounds[key][1 if key in held else 0] = middle
    for key, (_, held_on) in bounds.items():
        since[key] = held_on
    alerts = []
    for rule, fact in now:
        first = represented_by[(rule.id, fact.key)]
        alerts.append(Alert(rule, fact, message(rule, fact.values), since[first], first in at_least))
    return sorted(alerts, key=lambda a: (GRAVITY_ORDER.get(a.rule.gravite, 9), a.rule.id, a.fact.key))


# --------------------------------------------------------------------------- output


def _since_text(alert: Alert) -> str:
    return ("depuis au moins le " if alert.at_least else "depuis le ") + _french_date(alert.since.isoformat())


def render_text(alerts: list[Alert], rules: list[AlertRule], source: str, rows: int, day: dt.date,
                limit: int = 12) -> str:
    counts = Counter(a.rule.id for a in alerts)
    lines = [f"Veille et alerte au {day:%d/%m/%Y} — {source} ({plural(rows, 'demande')}), {len(rules)} règle"
             f"{'s' if len(rules) > 1 else ''} d'alerte",
             f"{len(alerts)} alerte{'s' if len(alerts) > 1 else ''}"
             + (" : " + ", ".join(f"{n} {rule}" for rule, n in counts.items()) if alerts else "")]
    for a in alerts:
        refs = list(a.fact.rows)
        shown = ", ".join(refs[:limit]) + (f", … ({len(refs)})" if len(refs) > limit else "")
        lines += ["", f"[{a.rule.gravite}] {a.fact.label}",
                  f"  {a.text}",
                  f"  {_since_text(a).capitalize()} — règle {a.rule.id} ({a.rule.location})"
                  + (f" — demandes : {shown}" if refs else "")]
    return "\n".join(lines).replace("\u202f", " ").replace("\u00a0", " ")


def as_json(alerts: list[Alert], rules: list[AlertRule], source: str, rows: int, day: dt.date) -> dict[str, Any]:
    return {
        "date": day.isoformat(),
        "fichier": source,
        "demandes": rows,
        "regles": [{"id": r.id, "indicateur": r.indicateur, "gravite": r.gravite, "description": r.description,
                    "fichier": r.location.path, "ligne": r.location.line} for r in rules],
        "resume": dict(Counter(a.rule.id for a in alerts)),
        "alertes": [{
            "regle": a.rule.id,
            "fichier_regle": a.rule.location.path,
            "ligne_regle": a.rule.location.line,
            "gravite": a.rule.gravite,
            "indicateur": a.rule.indicateur,
            "quoi": a.text,
            "ou": {"reference": a.fact.reference, "libelle": a.fact.label},
            "depuis": a.since.isoformat(),
            "depuis_au_moins": a.at_least,
            "valeurs": a.fact.values,
            "ids": list(a.fact.rows),
        } for a in alerts],
    }


# --------------------------------------------------------------------------- test cases


@dataclass
class AlertCaseResult:
    case: AlertCase
    raised: list[str]
    texts: dict[str, str]
    mismatches: list[str]

    @property
    def passed(self) -> bool:
        return not self.mismatches


def run_cases(cases: list[AlertCase], rules: list[AlertRule]) -> list[AlertCaseResult]:
    """Each case's values as one fact of its indicator, through the real engine."""
    engine = AlertEngine(rules)
    facts: dict[str, list[Fact]] = {}
    for case in cases:
        facts.setdefault(case.indicateur, []).append(
            Fact(case.indicateur, case.id, case.faits, case.id, case.id, ()))
    raised: dict[str, list[AlertRule]] = {}
    for rule, fact in engine.raised(facts):
        raised.setdefault(fact.key, []).append(rule)
    results = []
    for case in cases:
        fired = raised.get(case.id, [])
        names = [r.id for r in fired]
        texts = {r.id: message(r, case.faits) for r in fired}
        wrong = [f"alerte attendue « {n} » : non déclenchée" for n in case.alertes if n not in names]
        wrong += [f"alerte « {n} » déclenchée alors qu'elle ne doit pas l'être" for n in case.absentes if n in names]
        if case.texte is not None and not any(case.texte in t.replace("\u202f", " ").replace("\u00a0", " ")
                                              for t in texts.values()):
            wrong.append(f"texte attendu « {case.texte} » ; obtenu : {' | '.join(texts.values()) or 'aucune alerte'}")
        results.append(AlertCaseResult(case, names, texts, wrong))
    return results


def cases_text(results: list[AlertCaseResult], rules: Iterable[AlertRule]) -> list[str]:
    lines = []
    for r in results:
        if r.passed:
            lines.append(f"ok     {r.case.id}")
            continue
        lines.append(f"ÉCHEC  {r.case.id} — {r.case.location}")
        lines += [f"       {m}" for m in r.mismatches]
    rules = list(rules)
    fired = {n for r in results for n in r.raised}
    missing = [r.id for r in rules if r.id not in fired]
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results)} cas d'alerte : {len(results) - failed} réussi{'s' if len(results) - failed > 1 else ''}, "
                 f"{failed} en échec ; {len(rules) - len(missing)}/{len(rules)} règles d'alerte déclenchées par au "
                 "moins un cas")
    if missing:
        lines.append(f"  Règles d'alerte qu'aucun cas ne déclenche : {', '.join(missing)}")
    return lines


def cases_dict(results: list[AlertCaseResult], rules: Iterable[AlertRule]) -> dict[str, Any]:
    rules = list(rules)
    fired = {n for r in results for n in r.raised}
    return {
        "cas": [{"id": r.case.id, "fichier": r.case.location.path, "ligne": r.case.location.line,
                 "resultat": "reussi" if r.passed else "echec", "alertes": r.raised,
                 **({"ecarts": r.mismatches} if r.mismatches else {})} for r in results],
        "resume": {"total": len(results), "reussis": sum(r.passed for r in results),
                   "echecs": sum(not r.passed for r in results)},
        "couverture": {"regles": len(rules), "regles_non_declenchees": [r.id for r in rules if r.id not in fired]},
    }


__all__ = ["Alert", "AlertEngine", "run_alerts", "message", "render_text", "as_json", "run_cases", "cases_text",
           "cases_dict", "AlertCaseResult"]
