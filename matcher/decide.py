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
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .conditions import AllOf, Canonicalizer, Condition, Test, compile_condition, explain
from .engine import EngineError, EngineRule, Program
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


def demande_facts(demande: Demande, territoire: Territoire, catalogue: Catalogue) -> dict[str, Any]:
    """The demande as the conditions read it; a word implies its ancestors (friches → urbanisme)."""
    voc = catalogue.vocabularies
    facts: dict[str, Any] = {
        "thematiques": voc["thematiques"].with_ancestors(demande.thematiques),
        "besoins": voc["besoins"].with_ancestors(demande.besoins),
        "programmes": voc["programmes"].with_ancestors(demande.programmes),
        "complexite": demande.complexite,
        "saisine": demande.saisine,
        "porteur": demande.type_porteur or territoire.kind,
        "departement": territoire.departement,
        "region": territoire.region,
        "zone": territoire.zone,
    }
    population = demande.population if demande.population is not None else territoire.population
    optional = {
        "population": population,
        "montant": demande.montant,
        "commune": territoire.commune,
        "epci": territoire.epci,
        "avis_dt": demande.avis_dt,
    }
    facts.update({k: v for k, v in optional.items() if v is not None})
    for name, value in demande.attributs.items():
        facts[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return facts


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

    def __init__(self, catalogue: Catalogue, policy: Policy, graph: TerritoryGraph | None = None):
        self.catalogue = catalogue
        self.policy = policy
        self.graph = graph or TerritoryGraph(perimetres=catalogue.perimetres.values())
        self.version = {"catalogue": catalogue.version, "regles": policy.version}
        self._by_ref: dict[str, list[Offre]] = defaultdict(list)
        for offre in catalogue.offres:
            if not offre.repli:
                for ref in offre.perimetre:
                    self._by_ref[ref].append(offre)
        self.conditions = {o.id: offer_condition(o) for o in catalogue.offres if not o.repli}
        # What an offer asks of a demande on its subject: all but the thematiques test.
        self.on_topic = {oid: AllOf(c.children[1:], c.location) for oid, c in self.conditions.items()}
        self._shard_of = {o.id: self._scope(o) for o in catalogue.offres if not o.repli}
        self._shard_offers: dict[str, list[Offre]] = defaultdict(list)
        for offre in catalogue.offres:
            if not offre.repli:
                self._shard_offers[self._shard_of[offre.id]].append(offre)
        self._shards: dict[str, _CompiledConditions] = {}  # compiled on first use
        self._before = _CompiledConditions([(r.id, r.quand) for r in policy.regles if not r.after_decision])
        self._after = _CompiledConditions([(r.id, r.quand) for r in policy.regles if r.after_decision])
        self._specificity: dict[str, int] = {}
        self._offer_canon: dict[str, Canonicalizer] = {}  # built when an offer is first explained
        self._why_cache: dict[tuple, tuple[str, ...]] = {}
        self.perimeter_refs = frozenset(self._by_ref)
        self._candidates: dict[frozenset[str], list[Offre]] = {}  # territories alike share candidates

    def _scope(self, offre: Offre) -> str:
        """The smallest of département / région / national holding an offer's whole perimeter:
        engine rulesets are split along it, so a demande is matched only against nearby offers."""
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
        return self.route_many([(demande, territoire)], date)[0]

    def route_many(
        self,
        items: Sequence[tuple[Demande, Territoire]],
        date: dt.date,
        shown: dict[str, str] | None = None,
        excluded: Sequence[dict[str, str]] | None = None,
    ) -> list[Decision]:
        """Route demandes together (the engine is asked once per distinct case).

        With `shown`, the values of those fields are written that way in the reasons (see
        `conditions.explain`); `excluded` gives, per demande, offers to set aside and why (an
        offer whose annual capacity is reached)."""
        prepared = self._prepare(items, excluded)
        decisions = [self._decide(d, t, f, out, cands, ok, date, shown) for (d, t), f, out, cands, ok in prepared]
        return self._annotate(decisions, [facts for _, facts, *_ in prepared])

    def ranked(
        self, items: Sequence[tuple[Demande, Territoire]], date: dt.date
    ) -> list[list[Offre]]:
        """Per demande, every offer that serves it, in the order the decision prefers them:
        level by level from the closest, and within a level by the tie-breaks; the repli last."""
        result = []
        for (_, territoire), facts, out, candidates, capable in self._prepare(items, None):
            order: list[Offre] = []
            for level in LEVELS:
                _, serving = self.level(level, territoire, facts, out, candidates, capable, date, explain=False)
                order.extend(o for o in serving if not o.repli)
            result.append(order + [self.catalogue.repli])
        return result

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

    def _prepare(
        self, items: Sequence[tuple[Demande, Territoire]], excluded: Sequence[dict[str, str]] | None
    ) -> list[tuple[tuple[Demande, Territoire], dict[str, Any], RuleOutcome, list[Offre], frozenset[str]]]:
        """Each demande's facts, the policy rules' outcome, its candidate offers, those that serve."""
        facts = [demande_facts(d, t, self.catalogue) for d, t in items]
        before = self.rules_before(facts)
        candidates = [self.candidates(t) for _, t in items]
        capable = self.capable(facts, candidates)
        prepared = []
        for i, (item, f, out, cands, ok) in enumerate(zip(items, facts, before, candidates, capable)):
            for offre_id, reason in (excluded[i] if excluded else {}).items():
                out.exclues.setdefault(offre_id, reason)
            prepared.append((item, f, out, cands, ok))
        return prepared

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

    def capable(self, facts: Sequence[dict], candidates: Sequence[Iterable[Offre]]) -> list[frozenset[str]]:
        """The ids of the offers whose conditions hold, asking each shard of the engine about the
        demandes that have candidates in it."""
        per_shard: dict[str, list[int]] = defaultdict(list)
        for i, cands in enumerate(candidates):
            for shard in {self._shard_of[o.id] for o in cands}:
                per_shard[shard].append(i)
        answers: list[set[str]] = [set() for _ in facts]
        for shard, rows in per_shard.items():
            compiled = self._shards.get(shard)
            if compiled is None:
                offers = self._shard_offers[shard]
                compiled = self._shards[shard] = _CompiledConditions([(o.id, self.conditions[o.id]) for o in offers])
            for i, matched in zip(rows, compiled.evaluate([facts[i] for i in rows])):
                answers[i] |= matched
        return [frozenset(a) for a in answers]

    def level(
        self,
        level: str,
        territoire: Territoire,
        facts: dict[str, Any],
        out: RuleOutcome,
        candidates: Iterable[Offre],
        capable: frozenset[str],
        date: dt.date,
        shown: dict[str, str] | None = None,
        explain: bool = True,
    ) -> tuple[Examen, list[Offre]]:
        """One level's examination for a demande, and the offers that serve it there, in order of
        preference (empty when the level is skipped or none serves)."""
        skipped = self.skipped(level, territoire, out)
        if skipped is not None:
            return skipped, []
        present = [o for o in candidates if o.niveau == level]
        offers = self.on_topic_offers(present, facts)
        verdicts = {o.id: self.verdict(o, facts, out, capable, date, shown, explain) for o in offers}
        return self.assemble(level, offers, verdicts, len(present) - len(offers))

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
    def on_topic_offers(present: Iterable[Offre], facts: dict[str, Any]) -> list[Offre]:
        """The offers on one of the demande's thematiques. The others are counted, not listed: a DT
        reads why the offers that could have served did not."""
        themes = set(facts["thematiques"])
        return sorted((o for o in present if themes & set(o.thematiques)), key=lambda o: o.id)

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

    def assemble(
        self, level: str, offers: Sequence[Offre], verdicts: dict[str, tuple[bool, tuple[str, ...]]], off_topic: int
    ) -> tuple[Examen, list[Offre]]:
        """A level's examination from the verdicts on the offers on the demande's subject."""
        serving = sorted((o for o in offers if verdicts[o.id][0]), key=lambda o: (self.specificity(o), o.cout_rank, o.id))
        if level == "agence" and not serving:
            serving = [self.catalogue.repli]
        serving_ids = {o.id for o in serving}
        rejected = tuple(OffreEcartee(o.id, verdicts[o.id][1]) for o in offers if o.id not in serving_ids)
        if serving:
            return Examen(level, "retenu", offres=rejected, retenue=serving[0].id, hors_thematique=off_topic), serving
        status = "offres_ecartees" if offers else "aucune_offre"
        return Examen(level, status, offres=rejected, hors_thematique=off_topic), []

    def _decide(
        self,
        demande: Demande,
        territoire: Territoire,
        facts: dict[str, Any],
        out: RuleOutcome,
        candidates: list[Offre],
        capable: frozenset[str],
        date: dt.date,
        shown: dict[str, str] | None = None,
    ) -> Decision:
        examen: list[Examen] = []
        for level in LEVELS:
            examined, serving = self.level(level, territoire, facts, out, candidates, capable, date, shown)
            examen.append(examined)
            if serving:
                break
        chosen = serving[0]  # the agence level always exists and the repli always serves
        return Decision(
            demande=demande,
            territoire=territoire,
            niveau=chosen.niveau,
            offre=chosen,
            motif=self.motif(chosen, demande.thematiques, demande.besoins, out),
            examen=tuple(examen),
            avis_dt_requis=out.avis_dt,
            alertes=tuple(out.alertes),
            regles=tuple(out.regles),
            version=self.version,
            date=date,
        )

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
        canon = self._offer_canon.get(offre.id)
        if canon is None:
            canon = self._offer_canon[offre.id] = Canonicalizer([self.conditions[offre.id]])
        shown = shown or {}
        key = (offre.id, tuple(shown), canon.canonical(facts)) + tuple(
            _hashable(facts.get(f)) for f in canon.fields if f not in canon.list_fields and f not in shown
        )
        why = self._why_cache.get(key)
        if why is None:
            why = self._why_cache[key] = tuple(explain(self.conditions[offre.id], facts, shown or None))
        return why

    def motif(self, chosen: Offre, thematiques: Sequence[str], besoins: Sequence[str], out: RuleOutcome) -> str:
        """Why the chosen offer, in a sentence (the demande's own words in it)."""
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
            voc = self.catalogue.vocabularies
            themes = [voc["thematiques"].label(t) for t in thematiques]
            needs = [voc["besoins"].label(b) for b in besoins]
            parts.append(
                f"Offre {LEVEL_ADJECTIVES[chosen.niveau]} la plus proche pour {' / '.join(themes).lower()} "
                f"({', '.join(needs).lower()}) : {chosen.nom} — {chosen.structure}"
            )
        parts.extend(out.motifs)
        return ". ".join(p.rstrip(".") for p in parts) + "."

    def _annotate(self, decisions: list[Decision], facts: list[dict]) -> list[Decision]:
        """Apply the rules that read the decision (avis du DT, alertes, motifs)."""
        result = []
        for decision, out in zip(decisions, self.rules_after(facts, [d.offre for d in decisions])):
            if not out.regles:
                result.append(decision)
                continue
            result.append(
                Decision(
                    **{
                        **decision.__dict__,
                        "motif": with_motifs(decision.motif, out.motifs),
                        "avis_dt_requis": decision.avis_dt_requis or out.avis_dt,
                        "alertes": decision.alertes + tuple(out.alertes),
                        "regles": decision.regles + tuple(out.regles),
                    }
                )
            )
        return result


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


__all__ = ["Router", "offer_condition", "demande_facts"]
