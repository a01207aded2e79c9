"""Subsidiarity: the closest capable level first, the agence's sur-mesure when nothing fits.

For each demande:
1. the territorial graph gives the levels that exist for its territory and the offers whose
   perimeter contains it (the candidates);
2. the engine runs the policy rules (escalations, exclusions, avis du DT, alerts) and the
   candidates' conditions on the demande's facts;
3. the levels are walked from communal to agence; the first level with a serving offer wins,
   ties broken by the most specific perimeter, then cost, then id; the agence's repli offer
   serves whatever reaches it;
4. every examined level is reported with its status, and every rejected offer with the
   conditions that failed, computed from the same condition trees the engine was given;
5. the rules that read the decision (`niveau`, `offre`) annotate it.

The engine is asked once per distinct canonical fact (see `conditions.Canonicalizer`), so a
backlog of many similar demandes costs little more than its distinct cases.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .conditions import AllOf, Canonicalizer, Condition, Test, compile_condition, explain, fmt_number, memberships
from .engine import EngineError, EngineRule, Program
from .files import display_path
from .model import (
    LEVEL_INDEX,
    LEVEL_LABELS,
    LEVELS,
    Alerte,
    Catalogue,
    Decision,
    Demande,
    Examen,
    Offre,
    OffreEcartee,
    Policy,
    Regle,
    Territoire,
)
from .reach import reach
from .rows import (Rows, codes_present, combine, demande_facts, factorize, group, group_ids, positions_by_value,
                   ranges, rows_of_demandes)
from .territory import TerritoryGraph

LEVEL_ADJECTIVES = {
    "communal": "communale",
    "intercommunal": "intercommunale",
    "departemental": "départementale",
    "regional": "régionale",
    "operateur": "d'opérateur partenaire ou de service de l'État",
    "agence": "de l'agence",
}


def offer_condition(offre: Offre) -> Condition:
    """What an offer asks of a demande: one of its thematiques, one of its besoins, its conditions."""
    tests: list[Condition] = [
        Test("thematiques", "contains_any", tuple(offre.thematiques), True, offre.location),
        Test("besoins", "contains_any", tuple(offre.besoins), True, offre.location),
    ]
    if offre.conditions is not None:
        tests.append(offre.conditions)
    return AllOf(tuple(tests), offre.location)


class _CompiledConditions:
    """Conditions compiled into an engine program, asked once per distinct canonical fact."""

    def __init__(self, named: Sequence[tuple[str, Condition | None]]):
        self.canonicalizer = Canonicalizer(cond for _, cond in named)
        rules = [EngineRule(name, compile_condition(cond) if cond is not None else None) for name, cond in named]
        self._rules = rules
        self._program: Program | None = None
        self._answers: dict[tuple, frozenset[str]] = {}

    def evaluate(self, facts_list: Sequence[dict[str, Any]]) -> list[frozenset[str]]:
        keys = [self.canonicalizer.canonical(f) for f in facts_list]
        missing = list(dict.fromkeys(k for k in keys if k not in self._answers))
        if missing:
            if self._program is None:
                self._program = Program(self._rules)
            matched = self._program.matches([self.canonicalizer.as_fact(k) for k in missing])
            self._answers.update(zip(missing, (frozenset(m) for m in matched)))
        return [self._answers[k] for k in keys]


SHARED_SHARD = "conditions-partagees"


@dataclass
class _EnginePlan:
    """Per offer, the program (shard) that asks about it and the rule that stands for its conditions;
    per shard, its rules (a name, the conditions)."""

    shard_of: dict[str, str] = field(default_factory=dict)
    rule_of: dict[str, str] = field(default_factory=dict)
    rules: dict[str, list[tuple[str, Condition]]] = field(default_factory=dict)


@dataclass
class RuleOutcome:
    """What the policy rules that hold for a demande do to its decision."""

    escalade: str | None = None
    escalade_regle: Regle | None = None
    exclues: dict[str, str] = field(default_factory=dict)  # offer id -> why it is set aside
    niveaux_exclus: dict[str, Regle] = field(default_factory=dict)
    avis_dt: bool = False
    alertes: list[Alerte] = field(default_factory=list)
    motifs: list[str] = field(default_factory=list)
    regles: list[str] = field(default_factory=list)


def outcome_of(regles: Iterable[Regle]) -> RuleOutcome:
    out = RuleOutcome()
    for regle in regles:  # highest priority first
        out.regles.append(regle.id)
        a = regle.alors
        if a.escalader and (out.escalade is None or LEVEL_INDEX[a.escalader] > LEVEL_INDEX[out.escalade]):
            out.escalade, out.escalade_regle = a.escalader, regle
        for offre_id in a.exclure_offres:
            out.exclues.setdefault(offre_id, f"exclue par la règle « {regle.id} » : {_rule_motif(regle)}")
        for niveau in a.exclure_niveaux:
            out.niveaux_exclus.setdefault(niveau, regle)
        out.avis_dt = out.avis_dt or a.avis_dt_requis
        if a.alerte:
            out.alertes.append(Alerte(a.alerte, regle.id))
        if a.motif and not (a.escalader or a.exclure_offres or a.exclure_niveaux):
            out.motifs.append(a.motif)
    return out


def _rule_motif(regle: Regle) -> str:
    return regle.alors.motif or regle.description


class Router:
    """Routes demandes against one catalogue and one set of policy rules."""

    def __init__(self, catalogue: Catalogue, policy: Policy, graph: TerritoryGraph | None = None,
                 plan: "_EnginePlan | None" = None):
        self.catalogue = catalogue
        self.policy = policy
        self.graph = graph or TerritoryGraph(perimetres=catalogue.perimetres.values())
        # A decision says which files decided it: their hashes, and the folders they were read from.
        self.version = {"catalogue": catalogue.version, "regles": policy.version,
                        "catalogue_dossier": display_path(Path(catalogue.root)),
                        "regles_dossier": display_path(Path(policy.root))}
        self._by_ref: dict[str, list[Offre]] = defaultdict(list)
        for offre in catalogue.offres:
            if not offre.repli:
                for ref in offre.perimetre:
                    self._by_ref[ref].append(offre)
        self.conditions = {o.id: offer_condition(o) for o in catalogue.offres if not o.repli}
        self.repli = catalogue.repli  # the agence's offer for whatever reaches it (found once: a scan)
        # What an offer asks of a demande on its subject: all but the thematiques test.
        self.on_topic = {oid: AllOf(c.children[1:], c.location) for oid, c in self.conditions.items()}
        self._plan = plan  # made on first use unless the workspace's cache kept it
        self._shards: dict[str, _CompiledConditions] = {}  # compiled on first use
        self._before = _CompiledConditions([(r.id, r.quand) for r in policy.regles if not r.after_decision])
        self._after = _CompiledConditions([(r.id, r.quand) for r in policy.regles if r.after_decision])
        self._specificity: dict[str, int] = {}
        self._rankings: dict[str, tuple[frozenset[str], frozenset[str], tuple]] = {}
        self._offer_canon: dict[str, Canonicalizer] = {}  # per engine rule, built when first explained
        self._on_topic_canon: dict[str, Canonicalizer] = {}  # per engine rule, built when first examined
        self._why_cache: dict[tuple, tuple[str, ...]] = {}
        self._subjects: dict[tuple, str] = {}
        self.perimeter_refs = frozenset(self._by_ref)
        self._candidates: dict[frozenset[str], list[Offre]] = {}  # territories alike share candidates

    def engine_plan(self) -> "_EnginePlan":
        """Which program of the engine asks about each offer, and under which rule.

        Offers are split along their scope (`_scope`), so that a demande is matched only against
        nearby offers; but the offers whose conditions compile alike in several scopes (the same
        kind of offer in every département) are one rule of a program shared by the whole country,
        asked once for all of them. Identical conditions are one rule wherever they are."""
        if self._plan is None:
            by_text: dict[str, list[Offre]] = defaultdict(list)
            for offre in self.catalogue.offres:
                if not offre.repli:
                    expression = compile_condition(self.conditions[offre.id])
                    by_text[json.dumps(expression, sort_keys=True, ensure_ascii=False)].append(offre)
            plan = _EnginePlan()
            for offers in by_text.values():
                scopes = {self._scope(o) for o in offers}
                shard = next(iter(scopes)) if len(scopes) == 1 else SHARED_SHARD
                rule = offers[0].id  # the first offer in the catalogue's order names the rule
                plan.rules.setdefault(shard, []).append((rule, self.conditions[rule]))
                for offre in offers:
                    plan.shard_of[offre.id], plan.rule_of[offre.id] = shard, rule
            self._plan = plan
        return self._plan

    def _scope(self, offre: Offre) -> str:
        """The smallest of département / région / national holding an offer's whole perimeter."""
        extent = reach(offre, self.graph)
        if extent.national:
            return "national"
        if not extent.whole_regions and len(extent.departements) == 1:
            return f"departement:{next(iter(extent.departements))}"
        if len(extent.regions) == 1:
            return f"region:{next(iter(extent.regions))}"
        return "national"

    def specificity(self, offre: Offre) -> int:
        if offre.id not in self._specificity:
            self._specificity[offre.id] = self.graph.communes_count(offre.perimetre)
        return self._specificity[offre.id]

    # ----------------------------------------------------------------- routing

    def route(self, demande: Demande, territoire: Territoire, date: dt.date) -> Decision:
        """One demande's decision: a backlog of one, decided by the one decider (`Walk`)."""
        return self.route_many([(demande, territoire)], date)[0]

    def route_many(self, items: Sequence[tuple[Demande, Territoire]], date: dt.date) -> list[Decision]:
        """Demandes' decisions, each distinct case decided once, as a backlog's rows are."""
        if not items:
            return []
        walk = Walk(self, rows_of_demandes(items, self.catalogue), date)
        return walk.decisions(walk.decide(np.arange(len(items))), [d for d, _ in items])

    @property
    def before_canonicalizer(self) -> Canonicalizer:
        return self._before.canonicalizer

    @property
    def after_canonicalizer(self) -> Canonicalizer:
        return self._after.canonicalizer

    def rules_before(self, facts: Sequence[dict[str, Any]]) -> list[RuleOutcome]:
        """The outcome of the rules that apply before the decision (escalations, exclusions…)."""
        return [outcome_of(r for r in self.policy.regles if r.id in fired) for fired in self._before.evaluate(facts)]

    def rules_after(self, facts: Sequence[dict[str, Any]], decided: Sequence[Offre]) -> list[RuleOutcome]:
        """The outcome of the rules that read the decided level and offer (avis du DT, alertes, motifs)."""
        if not any(r.after_decision for r in self.policy.regles):
            return [RuleOutcome() for _ in facts]
        after_facts = [dict(f, niveau=o.niveau, offre=o.id) for f, o in zip(facts, decided)]
        return [outcome_of(r for r in self.policy.regles if r.id in fired) for fired in self._after.evaluate(after_facts)]

    def on_topic_canonicalizer(self, offre: Offre) -> Canonicalizer:
        """How an offer's conditions beyond its thematiques read a demande's facts; built once and
        kept, for every walk (a long-running process walks demande after demande), and shared by the
        offers whose conditions are one rule of the engine: they read facts alike."""
        rule = self.engine_plan().rule_of[offre.id]
        canon = self._on_topic_canon.get(rule)
        if canon is None:
            canon = self._on_topic_canon[rule] = Canonicalizer([self.on_topic[rule]])
        return canon

    def candidates(self, territoire: Territoire) -> list[Offre]:
        """The offers whose perimeter contains the territory, at every level."""
        refs = territoire.containers & self.perimeter_refs
        found = self._candidates.get(refs)
        if found is None:
            seen: dict[str, Offre] = {}
            for ref in sorted(refs):
                for offre in self._by_ref[ref]:
                    seen.setdefault(offre.id, offre)
            found = self._candidates[refs] = list(seen.values())
        return found

    def shard(self, name: str) -> _CompiledConditions:
        """One program of the engine (`engine_plan`), compiled when first asked."""
        compiled = self._shards.get(name)
        if compiled is None:
            compiled = self._shards[name] = _CompiledConditions(self.engine_plan().rules[name])
        return compiled

    def skipped(self, level: str, territoire: Territoire, out: RuleOutcome) -> Examen | None:
        """Why a level is not examined for a demande, if it is not."""
        if level not in existing_levels(territoire):
            return Examen(level, "sans_objet", _absent_motif(level, territoire))
        if out.escalade and LEVEL_INDEX[level] < LEVEL_INDEX[out.escalade]:
            regle = out.escalade_regle
            return Examen(level, "ignore", _rule_motif(regle), regle=regle.id)
        if level in out.niveaux_exclus:
            regle = out.niveaux_exclus[level]
            return Examen(level, "ignore", _rule_motif(regle), regle=regle.id)
        return None

    @staticmethod
    def on_topic_offers(present: Iterable[Offre], thematiques: Iterable[str]) -> tuple[Offre, ...]:
        """The offers on one of the demande's thematiques (its words and their ancestors). The others
        are counted, not listed: a DT reads why the offers that could have served did not."""
        themes = set(thematiques)
        return tuple(sorted((o for o in present if themes & set(o.thematiques)), key=lambda o: o.id))

    def verdict(
        self,
        offre: Offre,
        facts: dict[str, Any],
        out: RuleOutcome,
        capable: frozenset[str],
        date: dt.date,
        shown: dict[str, str] | None = None,
        explain: bool = True,
    ) -> tuple[bool, tuple[str, ...]]:
        """Whether an offer on the demande's subject serves it, and if not, why."""
        serves = offre.id in capable and offre.id not in out.exclues and offre.validite.covers(date)
        if serves or not explain:
            return serves, ()
        return False, self._reasons(offre, facts, out, capable, date, shown)

    def preference(self, offre: Offre, own: tuple[Sequence[str], Sequence[str]]) -> tuple:
        """How an offer ranks among those that serve at one level: one that names the demande's own
        word (thématique, then besoin) before one that reaches it only through a broader parent
        word, then the most specific perimeter, then cost, then id."""
        themes, needs, rest = self._ranking(offre)
        return (themes.isdisjoint(own[0]), needs.isdisjoint(own[1]), *rest)

    def _ranking(self, offre: Offre) -> tuple[frozenset[str], frozenset[str], tuple]:
        """An offer's words and its tie-breaks, computed once."""
        found = self._rankings.get(offre.id)
        if found is None:
            found = self._rankings[offre.id] = (frozenset(offre.thematiques), frozenset(offre.besoins),
                                                (self.specificity(offre), offre.cout_rank, offre.id))
        return found

    def _reasons(
        self,
        offre: Offre,
        facts: dict,
        out: RuleOutcome,
        capable: frozenset[str],
        date: dt.date,
        shown: dict[str, str] | None = None,
    ) -> tuple[str, ...]:
        reasons: list[str] = []
        if not offre.validite.covers(date):
            v = offre.validite
            span = (f"du {v.debut:%d/%m/%Y} " if v.debut else "") + (f"jusqu'au {v.fin:%d/%m/%Y}" if v.fin else "")
            reasons.append(f"hors de sa période de validité ({span.strip()})")
        if offre.id in out.exclues:
            reasons.append(out.exclues[offre.id])
        why = self._why_not(offre, facts, shown)
        if (offre.id in capable) != (not why):
            raise EngineError(
                f"désaccord entre le moteur et l'explication pour l'offre « {offre.id} » : le moteur "
                + ("la retient, ses conditions ne tiennent pas" if offre.id in capable else
                   "l'écarte, ses conditions tiennent")
            )
        reasons.extend(why)
        return tuple(reasons)

    def _why_not(self, offre: Offre, facts: dict, shown: dict[str, str] | None) -> tuple[str, ...]:
        """The conditions of an offer that a demande fails, remembered per distinct case: with
        `shown`, the values written as placeholders count only up to the thresholds compared."""
        rule = self.engine_plan().rule_of[offre.id]  # offers with one rule read facts alike
        canon = self._offer_canon.get(rule)
        if canon is None:
            canon = self._offer_canon[rule] = Canonicalizer([self.conditions[rule]])
        shown = shown or {}
        key = (offre.id, tuple(shown), canon.canonical(facts)) + tuple(
            _hashable(facts.get(f)) for f in canon.fields if f not in canon.list_fields and f not in shown
        )
        why = self._why_cache.get(key)
        if why is None:
            why = self._why_cache[key] = tuple(explain(self.conditions[offre.id], facts, shown or None))
        return why

    def motif(self, chosen: Offre, thematiques: Sequence[str], besoins: Sequence[str], out: RuleOutcome,
              alternatives: Sequence[Offre] = ()) -> str:
        """Why the chosen offer, in a sentence (the demande's own words in it); when it names the
        demande's own word and other offers of its level reach it only through a broader one, why
        the specialist comes first."""
        parts: list[str] = []
        if out.escalade_regle is not None and out.escalade == chosen.niveau:
            parts.append(_rule_motif(out.escalade_regle))
        if chosen.repli:
            if not parts:
                parts.append(
                    "Aucune offre locale, d'opérateur partenaire ou de programme ne convient : "
                    "appui en ingénierie sur-mesure de l'agence"
                )
            else:
                parts.append(f"{chosen.nom} ({chosen.structure})")
        else:
            parts.append(
                f"Offre {LEVEL_ADJECTIVES[chosen.niveau]} la plus proche pour {self._subject(thematiques, besoins)} : "
                f"{chosen.nom} — {chosen.structure}"
            )
            if alternatives:
                parts.extend(self._specialist(chosen, thematiques, besoins, alternatives))
        parts.extend(out.motifs)
        return ". ".join(p.rstrip(".") for p in parts) + "."


    def _subject(self, thematiques: Sequence[str], besoins: Sequence[str]) -> str:
        """A demande's words as a motif names them (« revitalisation / habitat (conseil) »), once per words."""
        key = (tuple(thematiques), tuple(besoins))
        found = self._subjects.get(key)
        if found is None:
            voc = self.catalogue.vocabularies
            themes = [voc["thematiques"].label(t) for t in thematiques]
            needs = [voc["besoins"].label(b) for b in besoins]
            found = self._subjects[key] = f"{' / '.join(themes).lower()} ({', '.join(needs).lower()})"
        return found

    def _specialist(self, chosen: Offre, thematiques: Sequence[str], besoins: Sequence[str],
                    alternatives: Sequence[Offre]) -> list[str]:
        voc = self.catalogue.vocabularies
        for kind, own in (("thematiques", thematiques), ("besoins", besoins)):
            named = [w for w in own if w in getattr(chosen, kind)]
            broader = [o for o in alternatives if not set(getattr(o, kind)) & set(own)]
            if named and broader:
                word = voc[kind].label(named[0]).lower()
                noun = "la thématique" if kind == "thematiques" else "le besoin"
                others = ", ".join(o.id for o in broader)
                wider = sorted({w for o in broader for w in getattr(o, kind) if w in voc[kind].with_ancestors(tuple(own))})
                return [f"Retenue avant {others} : elle nomme {noun} « {word} » de la demande, que "
                        f"{'celles-ci ne servent' if len(broader) > 1 else 'celle-ci ne sert'} que par un mot plus "
                        f"large ({', '.join(wider)})"]
        return []


def with_motifs(motif: str, motifs: Sequence[str]) -> str:
    """A decision's motif with the motifs of the rules that annotate it."""
    if not motifs:
        return motif
    return motif.rstrip(".") + ". " + ". ".join(m.rstrip(".") for m in motifs) + "."


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def existing_levels(territoire: Territoire) -> set[str]:
    """The levels that exist for a territory (no intercommunal level without an EPCI…)."""
    levels = {"regional", "operateur", "agence"}
    if territoire.kind == "commune":
        levels.add("communal")
    if territoire.epci:
        levels.add("intercommunal")
    if "departemental" in territoire.holders:
        levels.add("departemental")
    return levels


_PORTEUR_KINDS = {"commune": "une commune", "epci": "un EPCI", "departement": "un département", "region": "une région"}


def _absent_motif(level: str, territoire: Territoire) -> str:
    if level == "intercommunal" and territoire.kind == "commune":
        return "la commune n'appartient à aucun EPCI à fiscalité propre"
    return f"le porteur est {_PORTEUR_KINDS[territoire.kind]} : pas de niveau {LEVEL_LABELS[level]} pour lui"


# =========================================================================== the one decider
#
# A row's decision is the first level whose examination finds a serving offer. A level's
# examination depends only on: whether the level exists for the row's territory, the candidates
# there, the outcome of the policy rules, the offers set aside, and the values of the facts that
# those candidates' conditions can tell apart (their canonical projection). Rows are grouped by
# that key, level by level, and each group is examined once on one of its rows; numpy spreads the
# examinations back over the rows. A million rows have a few hundred thousand distinct keys at the
# busiest level, not a million decisions to assemble; one demande is a group of one.
#
# Reasons hold placeholders for the values they show (population, montant, territory codes): the
# rows of a group share an examination but not those values, which each row fills in.

PLACEHOLDER = "\x1f{}\x1f"
VALUE_FIELDS = ("population", "montant", "commune", "epci", "departement", "region", "zone")
SHOWN = {f: PLACEHOLDER.format(f) for f in VALUE_FIELDS}


def shown_value(value: Any) -> str:
    """A value as a reason shows it."""
    if value is None:
        return "non renseigné"
    if isinstance(value, (int, float)):
        return fmt_number(value)
    return str(value)


def fill(text: str, values: dict[str, str]) -> str:
    """A text with the placeholders of the values it shows filled in."""
    if "\x1f" not in text:
        return text
    for name, value in values.items():
        text = text.replace(SHOWN[name], value)
    return text


@dataclass
class Decided:
    """The decisions of some rows: per row a level and an offer, and codes into small lists of what
    the decisions say (a million rows share a few thousand motifs and explanations)."""

    rows: np.ndarray  # the rows decided, in order
    level: np.ndarray  # index in LEVELS
    offre: list[Offre]  # per row
    motif: np.ndarray
    motifs: list[str]
    examen: np.ndarray  # (levels × rows): per level examined, the id of its examination (-1: not examined)
    examens: list[Examen]  # reasons hold placeholders (SHOWN) for the row's values
    avis_dt_requis: np.ndarray  # bool
    instruisible: np.ndarray  # bool
    alertes: np.ndarray
    alertes_lists: list[tuple[Alerte, ...]]
    regles: np.ndarray
    regles_lists: list[tuple[str, ...]]
    alternatives: np.ndarray | None = None  # per row: its other serving offers at the chosen level, in order
    alternatives_lists: list[tuple[Offre, ...]] = field(default_factory=list)
    serving: list[list[Offre]] | None = None  # with `ranked`: every serving offer, in order of preference
    offre_code: np.ndarray | None = None  # per row: its offer's index in `offres` (distinct, in order of appearance)
    offres: list[Offre] = field(default_factory=list)

    def offer_codes(self) -> tuple[np.ndarray, list[Offre]]:
        """Per row the index of its offer among the distinct offers, which come in order of first appearance."""
        if self.offre_code is None:
            codes, ids = factorize([o.id for o in self.offre])
            by_id = {o.id: o for o in self.offre}
            self.offre_code, self.offres = codes, [by_id[i] for i in ids]
        return self.offre_code, self.offres

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

        def merged(ids: np.ndarray, items: list, new_ids: np.ndarray, new_items: list) -> tuple[np.ndarray, list]:
            ids = ids.copy()
            ids[..., at] = np.where(new_ids >= 0, len(items) + new_ids, -1)
            return ids, list(items) + list(new_items)

        motif, motifs = merged(self.motif, self.motifs, again.motif, again.motifs)
        examen, examens = merged(self.examen, self.examens, again.examen, again.examens)
        alertes, alertes_lists = merged(self.alertes, self.alertes_lists, again.alertes, again.alertes_lists)
        regles, regles_lists = merged(self.regles, self.regles_lists, again.regles, again.regles_lists)
        alternatives, alternatives_lists = merged(self.alternatives, self.alternatives_lists, again.alternatives,
                                                  again.alternatives_lists)
        return Decided(self.rows, level, offre, motif, motifs, examen, examens, avis, instruisible, alertes,
                       alertes_lists, regles, regles_lists, alternatives, alternatives_lists)


class _Interned:
    """Distinct items and their ids."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._ids: dict[Any, int] = {}

    def id(self, item: Any) -> int:
        found = self._ids.get(item)
        if found is None:
            found = self._ids[item] = len(self.items)
            self.items.append(item)
        return found


class _Examinations:
    """The distinct examinations of one decision run, numbered. An examined level is known by its
    level, status, chosen offer and the numbers of the offers it set aside (each offer set aside is
    numbered by its id and reasons): equal examinations get one number without their reasons being
    hashed again for every group of rows."""

    def __init__(self) -> None:
        self.items: list[Examen] = []
        self._ids: dict[Any, int] = {}
        self.set_aside = _Interned()  # OffreEcartee, by value

    def id(self, key: Any, make: Callable[[], Examen]) -> int:
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.items)
            self.items.append(make())
        return found

    def set_aside_items(self, numbers: Sequence[int]) -> tuple[OffreEcartee, ...]:
        return tuple(self.set_aside.items[i] for i in numbers)


class Walk:
    """The one decider: rows (a backlog, or demandes as a backlog of one) decided level by level."""

    def __init__(self, router: Router, rows: Rows, day: dt.date):
        self.router = router
        self.rows = rows
        self.day = day
        self._facts_cache: dict[int, dict[str, Any]] = {}
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
        by_ids: dict[str, dict[tuple[str, ...], int]] = {level: {} for level in LEVELS}
        sets: dict[str, list[tuple[Offre, ...]]] = {level: [] for level in LEVELS}
        per_list = {level: np.zeros(len(distinct), dtype=np.int64) for level in LEVELS}
        for j, candidates in enumerate(distinct):
            at_level: dict[str, list[Offre]] = {}  # each level's candidates, in order of id
            for offre in sorted(candidates, key=lambda o: o.id):
                at_level.setdefault(offre.niveau, []).append(offre)
            for level in LEVELS:
                offers = tuple(at_level.get(level, ()))
                key = tuple(o.id for o in offers)  # hashing ids, not offers (their conditions are trees)
                if key not in by_ids[level]:
                    by_ids[level][key] = len(sets[level])
                    sets[level].append(offers)
                per_list[level][j] = by_ids[level][key]
        for level in LEVELS:
            self._sets[level] = (per_list[level][list_of], sets[level])
        kinds = ["commune", "epci", "departement", "region"]
        self._kind = np.array([kinds.index(t.kind) if t is not None else 0 for t in rows.territoires] or [0])
        alike: dict[tuple, set[str]] = {}  # per what `existing_levels` reads of a territory
        levels: list[set[str]] = []
        for t in rows.territoires:
            read = (t.kind, bool(t.epci), "departemental" in t.holders) if t is not None else None
            if read not in alike:
                alike[read] = existing_levels(t) if t is not None else set()
            levels.append(alike[read])
        self._exists = {level: np.array([level in ls for ls in levels] or [False]) for level in LEVELS}
        # The offers met so far, numbered, with what is read of each (see `_offer_index`).
        self._offers: list[Offre] = []
        self._offer_at: dict[str, int] = {}
        self._reading_of: list[int] = []
        self._readings: dict[tuple, int] = {}
        self._tables: dict[tuple, tuple[np.ndarray, dict[Any, int]]] = {}
        self._bits: dict[str, int] = {}
        self._theme_masks: dict[int, int] = {}
        self._written_masks: dict[tuple[str, int], int] = {}
        self._offer_masks: list[tuple[int, int]] = []  # per offer met: its thematiques' and besoins' masks
        self._reader_of: dict[tuple, Canonicalizer] = {}

    # ----------------------------------------------------------------- facts

    def _facts(self, row: int) -> dict[str, Any]:
        facts = self._facts_cache.get(row)
        if facts is None:
            facts = self._facts_cache[row] = self.rows.facts.row(row)
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
                key = combine(key, row_codes)
                continue
            mapped: dict[Any, int] = {}
            table = np.zeros(len(values), dtype=np.int64)
            for code in codes_present(row_codes, len(values)):
                table[code] = mapped.setdefault(canon.value(name, values[code]), len(mapped))
            key = combine(key, table[row_codes])
        return key

    def _rules_before(self, rows: np.ndarray) -> tuple[np.ndarray, list[RuleOutcome]]:
        ids, first = group(self._project(self.router.before_canonicalizer, rows))
        outcomes = self.router.rules_before([self._facts(int(rows[r])) for r in first])
        return ids, outcomes

    # ----------------------------------------------------------------- levels

    def _offer_canonicalizer(self, offre: Offre) -> Canonicalizer:
        return self.router.on_topic_canonicalizer(offre)

    def _offer_index(self, offre: Offre) -> int:
        """An offer's number in this walk, and what is read of it per row, computed once: how its
        conditions tell rows apart (its reading, shared by offers whose conditions read alike)."""
        index = self._offer_at.get(offre.id)
        if index is None:
            index = self._offer_at[offre.id] = len(self._offers)
            self._offers.append(offre)
            canon = self._offer_canonicalizer(offre)
            # Values a reason shows are written as placeholders: the reasons differ only by the
            # thresholds those values meet. The others are shown as they are: each value apart.
            fields = tuple((name, name not in canon.list_fields and name not in SHOWN, canon.reading(name))
                           for name in canon.fields)
            self._reading_of.append(self._readings.setdefault(fields, len(self._readings)))
            for name, _, how in fields:
                self._reader_of.setdefault((name, how), canon)
            self._offer_masks.append((self._mask(offre.thematiques), self._mask(offre.besoins)))
        return index

    def _mask(self, words: Iterable[str]) -> int:
        """Words as a bit mask (one bit per word met), for fast intersections."""
        mask = 0
        for word in words:
            bit = self._bits.get(word)
            if bit is None:
                bit = self._bits[word] = 1 << len(self._bits)
            mask |= bit
        return mask

    def _word_mask(self, name: str, code: int) -> int:
        """The mask of a row's words as written (thematiques or besoins), per code of the cell."""
        found = self._written_masks.get((name, code))
        if found is None:
            found = self._written_masks[(name, code)] = self._mask(self.rows.words[name][code])
        return found

    def _as_words(self, masks: Sequence[int]) -> np.ndarray:
        """Bit masks (Python integers over the words met so far) as rows of 64-bit words: numpy then
        intersects a row's words with its offers' for every row at once."""
        width = max(1, (len(self._bits) + 63) // 64)
        words = np.zeros((len(masks), width), dtype=np.uint64)
        for j in range(width):
            words[:, j] = [(mask >> (64 * j)) & 0xFFFFFFFFFFFFFFFF for mask in masks]
        return words

    def _on_topic(self, level: str, rows: np.ndarray) -> tuple[np.ndarray, list[tuple[Offre, ...]]]:
        """Per row the id of its candidates at this level that are on its thematiques."""
        set_ids, sets = self._sets[level]
        row_sets = set_ids[self.rows.territory[rows]]
        themes = self.rows.facts.codes["thematiques"][rows]
        pair_ids, first = group(combine(row_sets, themes))
        pair_sets, pair_themes = row_sets[first], themes[first]
        theme_values = self.rows.facts.values["thematiques"]
        masked: dict[int, list[tuple[int, int]]] = {}  # per set: its offers' numbers and theme masks
        union = [0] * len(sets)  # per set: every theme its offers name
        for s in pair_sets[group(pair_sets)[1]].tolist():
            masked[s] = [(i, self._offer_masks[i][0]) for i in map(self._offer_index, sets[s])]
            for _, mask in masked[s]:
                union[s] |= mask
        for code in pair_themes[group(pair_themes)[1]].tolist():
            if code not in self._theme_masks:
                self._theme_masks[code] = self._mask(theme_values[code])
        # The offers a row keeps are those naming one of its themes: a pair (set, the row's themes)
        # depends only on the themes that the set's offers name. Per distinct such pair, its subset.
        theme_words = self._as_words([self._theme_masks.get(code, 0) for code in range(len(theme_values))])
        named = theme_words[pair_themes] & self._as_words(union)[pair_sets]
        seen_ids, seen_first = group(combine(pair_sets, _words_key(named)))
        by_ids: dict[tuple[int, ...], int] = {}
        subsets: list[tuple[Offre, ...]] = []
        subset_of_seen = np.zeros(len(seen_first), dtype=np.int64)
        for j, (s, code) in enumerate(zip(pair_sets[seen_first].tolist(), pair_themes[seen_first].tolist())):
            words = self._theme_masks[code]
            # The sets are in order of id: so are the offers kept from them.
            key = tuple(i for i, m in masked[s] if m & words)
            found = by_ids.get(key)
            if found is None:
                found = by_ids[key] = len(subsets)
                subsets.append(tuple(self._offers[i] for i in key))
            subset_of_seen[j] = found
        return subset_of_seen[seen_ids][pair_ids], subsets

    def _level(
        self, level: str, rows: np.ndarray, rule_ids: np.ndarray, outcomes: list[RuleOutcome], explain: bool,
        examinations: "_Examinations",
    ) -> tuple[np.ndarray, np.ndarray, list[list[Offre]]]:
        """Examine one level for these rows: per row a group id, per group the number of its examination
        (among `examinations`) and its serving offers.

        Each offer on a row's thematiques gets a verdict (serves, or why not) per distinct way its
        own conditions read the row (a case); rows share a group when the level exists alike for
        them, the rules did the same, and every offer on their subject gave the same verdict. Rows
        and offers are joined as arrays (one pair per row and offer on its subject); the engine and
        the reasons are asked once per case, each examination assembled once per distinct group."""
        t = self.rows.territory[rows]
        exists = self._exists[level][t]
        kind = self._kind[t]
        subset_of_row, subsets = self._on_topic(level, rows)
        own = self._own_words(rows, subset_of_row, subsets)
        # Rows the rules keep away from this level are not examined: no verdict is asked for them.
        ruled_out = np.array([self._ruled_out(level, out) for out in outcomes] or [False])[rule_ids] & exists
        # What the examination depends on: why the level is skipped (its absence for this kind of
        # territory, or the rule that keeps the row away), else the offers on the row's subject and
        # which of them name its own words; then below, their verdicts.
        away = ~exists | ruled_out
        key = combine(np.where(exists, 0, 1 + kind), np.where(ruled_out, rule_ids + 1, 0))
        key = combine(combine(key, np.where(away, 0, subset_of_row + 1)), np.where(away, 0, own))
        sizes = np.array([len(s) for s in subsets] or [0], dtype=np.int64)
        examined = ~away & (sizes[subset_of_row] > 0)
        pos = np.flatnonzero(examined)
        # One pair per examined row and offer on its subject, in order of row then offer.
        counts = sizes[subset_of_row[pos]]
        pair_pos = np.repeat(pos, counts)
        starts = np.cumsum(counts) - counts
        pair_slot = np.arange(len(pair_pos), dtype=np.int64) - np.repeat(starts, counts)
        subset_starts = np.cumsum(sizes) - sizes
        flat = np.array([self._offer_at[o.id] for s in subsets for o in s] or [0], dtype=np.int64)
        pair_offer = flat[subset_starts[subset_of_row[pair_pos]] + pair_slot]
        first_pair = np.full(len(rows), -1, dtype=np.int64)
        first_pair[pos] = starts
        # Each pair's case: its offer, how the offer's conditions read the row, the rule that excludes it.
        case_ids, case_first = group(combine(pair_offer, self._case_keys(pair_offer, rows[pair_pos],
                                                                         rule_ids[pair_pos], outcomes)))
        cases = [(self._offers[o], int(rows[p]), int(rule_ids[p]))
                 for o, p in zip(pair_offer[case_first].tolist(), pair_pos[case_first].tolist())]
        capable = self.capable([offre for offre, _, _ in cases], rows[pair_pos[case_first]])
        facts = [self._facts(row) for _, row, _ in cases] if explain else [{}] * len(cases)
        verdicts = [self.router.verdict(offre, f, outcomes[rule_id], ok, self.day, SHOWN, explain)
                    for (offre, _, rule_id), f, ok in zip(cases, facts, capable)]
        serves = np.array([v[0] for v in verdicts] or [False])
        set_aside = np.array([examinations.set_aside.id(OffreEcartee(offre.id, v[1]))
                              for (offre, _, _), v in zip(cases, verdicts)] or [0], dtype=np.int64)
        offer_of = [offre for offre, _, _ in cases]
        # Per row, the cases of its offers, slot by slot (rows of one subset have the same offers).
        local = np.zeros(len(rows), dtype=np.int64)
        for at in positions_by_value(pair_slot, int(sizes.max())):
            column = np.zeros(len(rows), dtype=np.int64)
            column[pair_pos[at]] = case_ids[at] + 1
            local = combine(local, column)
        ids, first = group(combine(key, group_ids(local)))
        # Per group, the cases of its offers in a row (none for a group whose level is skipped), split
        # into those that serve and the numbers of the offers set aside: arrays over every group at
        # once, each group then a slice of them.
        starts = first_pair[first]
        lengths = np.where(starts >= 0, sizes[subset_of_row[first]], 0)
        ends = np.cumsum(lengths)
        group_cases = case_ids[ranges(starts, lengths)]
        serving_cases = group_cases[serves[group_cases]].tolist()
        rejected = set_aside[group_cases[~serves[group_cases]]].tolist()
        served_before = np.concatenate([[0], np.cumsum(serves[group_cases])])
        served_upto = served_before[ends].tolist()
        rejected_upto = (ends - served_before[ends]).tolist()
        examen_ids: list[int] = []
        serving: list[list[Offre]] = []
        skips: dict[tuple, int | None] = {}  # per what `skipped` reads of a row: the number of its examination
        served_to = rejected_to = 0
        for r, here, rule_id, ti, k, count, served_upto_here, rejected_upto_here in zip(
                first.tolist(), exists[first].tolist(), rule_ids[first].tolist(), t[first].tolist(),
                kind[first].tolist(), lengths.tolist(), served_upto, rejected_upto):
            served_from, served_to = served_to, served_upto_here
            rejected_from, rejected_to = rejected_to, rejected_upto_here
            skip_key = (here, k, rule_id)
            if skip_key not in skips:
                skipped = self.router.skipped(level, self.rows.territoires[ti], outcomes[rule_id])
                skips[skip_key] = None if skipped is None else examinations.id(skipped, lambda: skipped)
            skip_id = skips[skip_key]
            if skip_id is not None:
                examen_ids.append(skip_id)
                serving.append([])
                continue
            offers = [offer_of[c] for c in serving_cases[served_from:served_to]]
            if len(offers) > 1:
                own_words = self._words(int(rows[r]))
                offers.sort(key=lambda o: self.router.preference(o, own_words))
            if level == "agence" and not offers:
                offers = [self.router.repli]
            statut = "retenu" if offers else "offres_ecartees" if count else "aucune_offre"
            retenue = offers[0].id if offers else None
            set_aside_here = tuple(rejected[rejected_from:rejected_to])
            examen_ids.append(examinations.id(
                (level, statut, retenue, set_aside_here),
                lambda: Examen(level, statut, offres=examinations.set_aside_items(set_aside_here), retenue=retenue)))
            serving.append(offers)
        return ids, np.array(examen_ids, dtype=np.int64), serving

    @staticmethod
    def _ruled_out(level: str, out: RuleOutcome) -> bool:
        """Whether the rules keep a demande away from a level (escalated above it, or excluded)."""
        return bool(out.escalade and LEVEL_INDEX[level] < LEVEL_INDEX[out.escalade]) or level in out.niveaux_exclus

    def capable(self, offers: Sequence[Offre], rows: np.ndarray) -> list[frozenset[str]]:
        """Per case (an offer, a row of this walk), the offer's id if its conditions hold for the row,
        as the engine says: each program of the engine asked once per distinct way it reads the
        rows, found over the rows' codes (`_project`) rather than fact by fact."""
        plan = self.router.engine_plan()
        per_shard: dict[str, list[int]] = defaultdict(list)
        for i, offre in enumerate(offers):
            per_shard[plan.shard_of[offre.id]].append(i)
        found: list[frozenset[str]] = [frozenset()] * len(offers)
        for shard, cases in per_shard.items():
            compiled = self.router.shard(shard)
            case_rows = rows[cases]
            ids, first = group(self._project(compiled.canonicalizer, case_rows))
            rules = compiled.evaluate([self._facts(int(case_rows[f])) for f in first.tolist()])
            for i, g in zip(cases, ids.tolist()):
                if plan.rule_of[offers[i].id] in rules[g]:
                    found[i] = frozenset((offers[i].id,))
        return found

    def _case_keys(self, pair_offer: np.ndarray, pair_rows: np.ndarray, pair_rules: np.ndarray,
                   outcomes: list[RuleOutcome]) -> np.ndarray:
        """Per pair (an offer, a row), a code of the way the offer's conditions read the row, and of
        the rule that sets it aside there (the reason names the rule): equal codes, equal verdicts
        for one offer."""
        key = np.zeros(len(pair_offer), dtype=np.int64)
        reading = np.array(self._reading_of or [0], dtype=np.int64)[pair_offer]
        fields_of = list(self._readings)
        for read, part in enumerate(positions_by_value(reading, len(fields_of))):
            if not len(part):
                continue
            part_key = np.zeros(len(part), dtype=np.int64)
            for name, exact, how in fields_of[read]:
                codes = self.rows.facts.codes.get(name)
                if codes is not None:
                    part_key = combine(part_key, self._read(name, exact, how, codes[pair_rows[part]]))
            key[part] = part_key
        excluded = {(rule_id, self._offer_at[oid]) for rule_id, out in enumerate(outcomes)
                    for oid in out.exclues if oid in self._offer_at}
        if excluded:
            width = len(self._offers)
            marks = np.array(sorted(r * width + o for r, o in excluded), dtype=np.int64)
            hit = np.isin(pair_rules * width + pair_offer, marks)
            key = combine(key, np.where(hit, pair_rules + 1, 0))
        return key

    def _read(self, name: str, exact: bool, how: tuple, codes: np.ndarray) -> np.ndarray:
        """Per row code of a field, a code of its value as a reading tells them apart (each code's
        value reduced once per reading)."""
        if exact:
            return codes
        found = self._tables.get((name, how))
        if found is None:
            found = self._tables[(name, how)] = (np.full(len(self.rows.facts.values[name]), -1, dtype=np.int64), {})
        table, reduced = found
        read = table[codes]
        unread = read < 0
        if unread.any():
            canon = self._reader_of[(name, how)]
            values = self.rows.facts.values[name]
            for code in codes_present(codes[unread], len(values)):
                table[code] = reduced.setdefault(canon.value(name, values[code]), len(reduced))
            read = table[codes]
        return read

    def _words(self, row: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """A row's thematiques and besoins as it wrote them (not their ancestors)."""
        codes, words = self.rows.facts.codes, self.rows.words
        return words["thematiques"][codes["thematiques"][row]], words["besoins"][codes["besoins"][row]]

    def _own_words(self, rows: np.ndarray, subset_of_row: np.ndarray, subsets: list[tuple[Offre, ...]]) -> np.ndarray:
        """Per row, a code of the demande's own words (as it wrote them) that the offers on its
        subject name: rows that differ there may rank the same serving offers differently
        (`Router.preference`); the other words cannot change the order."""
        codes = self.rows.facts.codes
        several = np.array([len(s) > 1 for s in subsets] or [False])[subset_of_row]
        if not several.any():  # one offer at most on their subject: no ranking to tell apart
            return np.zeros(len(rows), dtype=np.int64)
        theme_codes, need_codes = codes["thematiques"][rows], codes["besoins"][rows]
        ids, first = group(np.where(several, combine(combine(subset_of_row, theme_codes), need_codes), -1))
        told_apart = several[first]  # the rows with one offer at most on their subject are all alike
        subset, themes, needs = (subset_of_row[first[told_apart]], theme_codes[first[told_apart]],
                                 need_codes[first[told_apart]])
        named_themes, named_needs = [0] * len(subsets), [0] * len(subsets)  # per subset, the words its offers name
        for s in subset[group(subset)[1]].tolist():
            for i in map(self._offer_index, subsets[s]):
                named_themes[s] |= self._offer_masks[i][0]
                named_needs[s] |= self._offer_masks[i][1]
        written = self.rows.words
        for name, used in (("thematiques", themes), ("besoins", needs)):
            for code in used[group(used)[1]].tolist():
                self._word_mask(name, code)
        own_themes = self._as_words([self._written_masks.get(("thematiques", c), 0)
                                     for c in range(len(written["thematiques"]))])[themes]
        own_needs = self._as_words([self._written_masks.get(("besoins", c), 0)
                                    for c in range(len(written["besoins"]))])[needs]
        key = combine(combine(subset, _words_key(own_themes & self._as_words(named_themes)[subset])),
                      _words_key(own_needs & self._as_words(named_needs)[subset]))
        code_of_group = np.full(len(first), -1, dtype=np.int64)
        code_of_group[told_apart] = key
        return group_ids(code_of_group)[ids]

    def decide(self, rows: np.ndarray, excluded: dict[int, dict[str, str]] | None = None,
               ranked: bool = False, explain: bool = True, progress: Callable[[int], None] | None = None) -> Decided:
        """Decide these rows; `excluded` sets offers aside for some rows (row -> offer -> why);
        with `ranked`, every level is examined and every serving offer kept, in order; without
        `explain`, the offers set aside are listed without their reasons (coverage needs none)."""
        rows = np.asarray(rows, dtype=np.int64)
        rule_ids, outcomes = self._rules_before(rows)
        if excluded:
            rule_ids, outcomes = _with_exclusions(rows, rule_ids, outcomes, excluded)
        n = len(rows)
        level_of = np.full(n, -1, dtype=np.int8)
        examen_ids = np.full((len(LEVELS), n), -1, dtype=np.int64)
        examinations = _Examinations()  # one id per distinct examination: explanations are then distinct by their ids
        served: list[list[Offre]] = []  # the serving offers of every group examined, level after level
        served_of = np.zeros(n, dtype=np.int64)  # per row: the group in `served` that decided it
        serving_all: list[list[Offre]] = [[] for _ in range(n)] if ranked else []
        pending = np.arange(n)
        for index, level in enumerate(LEVELS):
            if not len(pending):
                break
            ids, examined_ids, serving = self._level(level, rows[pending], rule_ids[pending], outcomes, explain,
                                                     examinations)
            serves = np.array([bool(s) for s in serving])
            hit = serves[ids]
            if ranked:
                for position, g in zip(pending.tolist(), ids.tolist()):
                    serving_all[position].extend(serving[g])
            undecided = level_of[pending] < 0
            examen_ids[index, pending[undecided]] = examined_ids[ids[undecided]]
            newly = pending[hit & undecided]
            level_of[newly] = index
            served_of[newly] = len(served) + ids[hit & undecided]
            served.extend(serving)
            if progress:
                progress(len(newly))
            if not ranked:
                pending = pending[~hit]
        decided = self._finish(rows, level_of, served_of, served, rule_ids, outcomes, examen_ids, examinations.items)
        self._facts_cache.clear()  # a fact dict per group: let a million-row run give them back
        if ranked:
            decided.serving = [[o for o in s if not o.repli] + [self.router.repli] for s in serving_all]
        return decided

    # ----------------------------------------------------------------- what the decision says

    def _finish(self, rows, level_of, served_of, served, rule_ids, outcomes, examen_ids, examens) -> Decided:
        # Per group that decided rows, its chosen offer and the others that serve there (their ids
        # hash fast); rows take theirs by their group, numbered in order of first appearance.
        # Only the groups that decided rows are read: the others served at no level reached.
        deciding, deciding_first = group(served_of)
        deciding_served = [served[g] for g in served_of[deciding_first].tolist()]
        offer_key = factorize([s[0].id if s else "" for s in deciding_served])[0]
        alternative_key = factorize([tuple(o.id for o in s[1:]) for s in deciding_served])[0]
        offer_ids, offer_first = group(offer_key[deciding])
        alternative_ids, alternative_first = group(alternative_key[deciding])
        firsts = np.empty(len(deciding_served) or 1, dtype=object)
        firsts[: len(deciding_served)] = [s[0] if s else None for s in deciding_served]
        chosen: list[Offre] = firsts[deciding].tolist()
        alternatives_lists = [tuple(served[served_of[r]][1:]) for r in alternative_first.tolist()]
        # The motif: the chosen offer, the demande's words, the rules before the decision.
        theme_codes = self.rows.facts.codes["thematiques"][rows]
        need_codes = self.rows.facts.codes["besoins"][rows]
        motif_ids, first = group(combine(combine(combine(combine(offer_ids, rule_ids), theme_codes), need_codes),
                                         alternative_ids))
        words = self.rows.words
        motifs = [
            self.router.motif(chosen[r], words["thematiques"][t], words["besoins"][b], outcomes[rule],
                              alternatives_lists[a])
            for r, t, b, rule, a in zip(first.tolist(), theme_codes[first].tolist(), need_codes[first].tolist(),
                                        rule_ids[first].tolist(), alternative_ids[first].tolist())
        ]
        # The rules that read the decision.
        after_ids, after_first = group(combine(self._project(self.router.after_canonicalizer, rows), offer_ids))
        after = self.router.rules_after([self._facts(int(rows[r])) for r in after_first.tolist()],
                                        [chosen[r] for r in after_first.tolist()])
        # The alerts, the rules applied and the DT's opinion depend on the rules alone, before and after
        # the decision: once per pair of outcomes. The motif, once per motif and rules after the decision.
        pair_ids, pair_first = group(combine(after_ids, rule_ids))
        alertes, regles = _Interned(), _Interned()
        alert_of, rules_of, avis = [], [], []
        for rule, post_id in zip(rule_ids[pair_first].tolist(), after_ids[pair_first].tolist()):
            before, post = outcomes[rule], after[post_id]
            alert_of.append(alertes.id((*before.alertes, *post.alertes)))
            rules_of.append(regles.id((*before.regles, *post.regles)))
            avis.append(before.avis_dt or post.avis_dt)
        text_ids, text_first = group(combine(motif_ids, after_ids))
        texts = _Interned()
        motif_of = [texts.id(with_motifs(motifs[motif], after[post_id].motifs))
                    for motif, post_id in zip(motif_ids[text_first].tolist(), after_ids[text_first].tolist())]
        avis_row = np.array(avis, dtype=bool)[pair_ids]
        instruisible = ~(avis_row & (self.rows.avis_dt[rows] != "favorable"))
        return Decided(rows, level_of, chosen, np.array(motif_of, dtype=np.int64)[text_ids], texts.items,
                       examen_ids, examens, avis_row, instruisible, np.array(alert_of, dtype=np.int64)[pair_ids],
                       alertes.items, np.array(rules_of, dtype=np.int64)[pair_ids], regles.items,
                       alternative_ids, alternatives_lists, offre_code=offer_ids,
                       offres=[chosen[r] for r in offer_first.tolist()])

    def shown(self, row: int) -> dict[str, str]:
        """The values a row's reasons show, as they show them."""
        facts = self.rows.facts
        return {name: shown_value(facts.values[name][facts.codes[name][row]]) for name in VALUE_FIELDS}

    def decisions(self, decided: Decided, demandes: Sequence[Demande]) -> list[Decision]:
        """The decided rows as `Decision` objects (for `route`, `rules test`, coverage)."""
        result = []
        for i, (row, demande) in enumerate(zip(decided.rows.tolist(), demandes)):
            values = self.shown(row)
            territoire = self.rows.territoires[self.rows.territory[row]]
            themes = self.rows.facts.values["thematiques"][self.rows.facts.codes["thematiques"][row]]
            examen = tuple(self._off_topic(_filled(decided.examens[e], values), territoire, themes)
                           for e in decided.examen[:, i].tolist() if e >= 0)
            offre = decided.offre[i]
            result.append(Decision(
                demande=demande,
                territoire=territoire,
                niveau=offre.niveau,
                offre=offre,
                motif=fill(decided.motifs[decided.motif[i]], values),
                examen=examen,
                avis_dt_requis=bool(decided.avis_dt_requis[i]),
                alertes=decided.alertes_lists[decided.alertes[i]],
                regles=decided.regles_lists[decided.regles[i]],
                alternatives=decided.alternatives_lists[decided.alternatives[i]],
                programmes=self.rows.programme_checks[self.rows.programme_check[row]],
                adhesions_a_verifier=self.memberships_to_check(offre, row),
                version=self.router.version,
                date=self.day,
            ))
        return result

    def memberships_to_check(self, offre: Offre, row: int) -> tuple[str, ...]:
        """The memberships the chosen offer asks for that the row did not declare but was presumed to have."""
        presumed = self.rows.memberships_presumed
        return memberships(offre.conditions) if presumed is not None and presumed[row] else ()

    def _off_topic(self, examen: Examen, territoire: Territoire, thematiques: Sequence[str]) -> Examen:
        """An examined level with the count of its offers on other thematiques (a DT reads that the
        level has offers, none on this subject)."""
        if examen.statut in ("sans_objet", "ignore"):
            return examen
        present = [o for o in self.router.candidates(territoire) if o.niveau == examen.niveau]
        off = len(present) - len(self.router.on_topic_offers(present, thematiques))
        return replace(examen, hors_thematique=off) if off else examen


def _words_key(words: np.ndarray) -> np.ndarray:
    """Per row of 64-bit words (`Walk._as_words`), a code: equal rows, equal codes."""
    key = np.zeros(len(words), dtype=np.int64)
    for j in range(words.shape[1]):
        key = combine(key, group_ids(words[:, j]))
    return key


def _filled(examen: Examen, values: dict[str, str]) -> Examen:
    if not examen.offres:
        return examen
    offres = tuple(OffreEcartee(o.id, tuple(fill(r, values) for r in o.raisons)) for o in examen.offres)
    return replace(examen, offres=offres)


def _with_exclusions(rows: np.ndarray, rule_ids: np.ndarray, outcomes: list[RuleOutcome],
                     excluded: dict[int, dict[str, str]]) -> tuple[np.ndarray, list[RuleOutcome]]:
    """Rule outcomes with, for some rows, more offers set aside."""
    keys = [(rule_id, tuple(sorted(excluded.get(r, {}).items()))) for rule_id, r in zip(rule_ids.tolist(), rows.tolist())]
    ids, uniques = factorize(keys)
    merged = []
    for rule_id, extra in uniques:
        base = outcomes[rule_id]
        out = RuleOutcome(**{**base.__dict__, "exclues": {**base.exclues}})
        for offre_id, reason in extra:
            out.exclues.setdefault(offre_id, reason)
        merged.append(out)
    return ids, merged


__all__ = ["Router", "Walk", "Decided", "offer_condition", "demande_facts", "existing_levels", "VALUE_FIELDS",
           "SHOWN", "fill", "shown_value"]
