"""Checks on the offers of the catalogue: impossible conditions, masked and unreachable offers,
perimeters wider than their level."""

from __future__ import annotations

from typing import Iterable

from ..conditions import AllOf, Condition, Test, negate
from ..decide import offer_condition
from ..errors import Issue, Location
from ..model import COUTS, LEVEL_INDEX, LEVEL_LABELS, Offre, Regle, Validite, Vocabulary
from ..territory import parse_ref
from . import Check, LintContext, where
from .logic import Contradiction

# The kinds of territory a perimeter may name at each level; operators and the agence: any.
LEVEL_REF_KINDS = {
    "communal": ("commune",),
    "intercommunal": ("commune", "epci"),
    "departemental": ("commune", "epci", "departement"),
    "regional": ("commune", "epci", "departement", "region"),
}
LEVEL_REF_HINTS = {"commune": "communal", "epci": "intercommunal", "departement": "departemental",
                   "region": "regional", "national": "operateur"}


def with_places(message: str, location: Location | None, related: Iterable[Location]) -> str:
    """The message, naming the other places involved when they are not where it is reported."""
    others = [str(r) for r in dict.fromkeys(related) if r != location]
    return message + (f" (voir {', '.join(others)})" if others else "")


def contradiction_text(contradictions: list[Contradiction]) -> str:
    if len(contradictions) == 1:
        return contradictions[0].reason
    return "aucune des alternatives ne peut tenir : " + " | ".join(f"({c.reason})" for c in contradictions)


class _Offers:
    """What the offer checks share, computed once per context."""

    def __init__(self, ctx: LintContext):
        self.ctx = ctx
        self.expanded = {o.id: frozenset(ctx.graph.expand(o.perimetre)) for o in ctx.offres}
        self.conditions = {o.id: offer_condition(o) for o in ctx.offres}
        self.perimeters = {o.id: self._perimeter_condition(o) for o in ctx.offres}

    def _perimeter_condition(self, offre: Offre) -> Condition | None:
        """What the perimeter implies of a demande's département, région and zone (None: nothing)."""
        idx = self.ctx.graph.index
        refs = self.expanded[offre.id]
        if "national" in refs:
            return None
        departements: set[str] = set()
        for ref in refs:
            kind, code = parse_ref(ref)
            if kind == "commune":
                commune = idx.commune(code)
                departements.add(commune.departement)  # type: ignore[union-attr]
            elif kind == "epci":
                departements.update(idx.epcis[code].departements)
            elif kind == "departement":
                departements.add(code)
            elif kind == "region":
                departements.update(d.code for d in idx.departements.values() if d.region == code)
        if not departements:
            return None
        at = self.ctx.places.of(offre.location, "perimetre")
        regions = {idx.departements[d].region for d in departements}
        zones = {idx.departements[d].zone for d in departements}
        tests = [Test("departement", "in", tuple(sorted(departements)), False, at),
                 Test("region", "in", tuple(sorted(regions)), False, at),
                 Test("zone", "in", tuple(sorted(zones)), False, at)]
        return AllOf(tuple(tests), at)

    def serving(self, offre: Offre) -> Condition:
        """Everything a demande must satisfy to be served by the offer: subject, conditions, perimeter."""
        parts = [self.conditions[offre.id]]
        if self.perimeters[offre.id] is not None:
            parts.append(self.perimeters[offre.id])
        return AllOf(tuple(parts), offre.location)


def _offers(ctx: LintContext) -> _Offers:
    if "offers" not in ctx.memo:
        ctx.memo["offers"] = _Offers(ctx)
    return ctx.memo["offers"]


class ImpossibleOfferConditionCheck(Check):
    """Conditions that no demande can meet: the offer is never retained. Certain, hence an error."""

    code = "condition-impossible"
    description = "offre dont les conditions ne peuvent jamais tenir (seules, ou avec son périmètre)"

    def run(self, ctx: LintContext) -> Iterable[Issue]:
        shared = _offers(ctx)
        for offre in ctx.offres:
            if offre.conditions is None:
                continue
            alone = ctx.solver.solve(shared.conditions[offre.id])
            answer = alone if alone.impossible else ctx.solver.solve(shared.serving(offre))
            if not answer.impossible:
                continue
            first = answer.contradictions[0]
            at = first.locations[0] if first.locations else offre.location
            related = tuple(loc for c in answer.contradictions for loc in c.locations if loc != at)
            what = "ses conditions ne peuvent jamais tenir" if alone.impossible else \
                "ses conditions contredisent son périmètre"
            message = f"offre « {offre.id} » jamais retenue : {what} — {contradiction_text(answer.contradictions)}"
            yield Issue(self.code, "erreur", with_places(message, at, related), at, related)


class MaskedOfferCheck(Check):
    """An offer that a closer (or preferred) offer always beats: whenever it could serve a demande,
    the other one serves it too and comes first. Shown only when it is certain; each step of the
    reasoning is in the message."""

    code = "offre-masquee"
    description = "offre jamais retenue : une offre plus proche sert toujours les mêmes demandes"

    def run(self, ctx: LintContext) -> Iterable[Issue]:
        shared = _offers(ctx)
        voc = ctx.catalogue.vocabularies
        specificity = {o.id: ctx.graph.communes_count(o.perimetre) for o in ctx.offres}
        no_epci = _communes_without_epci(ctx)
        for b in ctx.offres:
            for a in sorted(ctx.offres, key=lambda o: (LEVEL_INDEX[o.niveau], o.id)):
                if a is b or not _comes_first(a, b, specificity):
                    continue
                if not (_words_cover(a.thematiques, b.thematiques, voc["thematiques"])
                        and _words_cover(a.besoins, b.besoins, voc["besoins"])):
                    continue
                if not _validity_covers(a.validite, b.validite):
                    continue
                if not all(_within(ref, shared.expanded[a.id], ctx) for ref in shared.expanded[b.id]):
                    continue
                if not _level_exists(a.niveau, shared.expanded[b.id], no_epci, ctx):
                    continue
                if not ctx.solver.both(shared.serving(b), negate(shared.conditions[a.id])).impossible:
                    continue
                if any(not ctx.solver.both(shared.serving(b), r.quand).impossible for r in _skipping(a, b, ctx)):
                    continue
                yield self._finding(a, b, specificity)
                break

    def _finding(self, a: Offre, b: Offre, specificity: dict[str, int]) -> Issue:
        if a.niveau != b.niveau:
            order = (f"l'offre « {a.id} » ({where(a)}), de niveau {LEVEL_LABELS[a.niveau]}, plus proche que "
                     f"{LEVEL_LABELS[b.niveau]}")
        else:
            tie = (f"coût {a.cout} avant {b.cout}" if a.cout != b.cout else "identifiant avant le sien")
            order = (f"l'offre « {a.id} » ({where(a)}), de même niveau et de même périmètre "
                     f"({specificity[a.id]} communes), qui passe avant elle ({tie})")
        conditions = "sans conditions" if a.conditions is None else "des conditions que toutes les siennes impliquent"
        reasons = [f"son périmètre contient le sien", "ses thématiques et besoins couvrent les siens", conditions]
        if a.validite != Validite():
            reasons.append("valable au moins aussi longtemps")
        message = (f"offre « {b.id} » jamais retenue : {order}, sert toute demande qu'elle sert — "
                   f"{', '.join(reasons)} ; aucune règle n'écarte l'une sans l'autre")
        return Issue(self.code, "avertissement", message, b.location, (a.location,) if a.location else ())


def _comes_first(a: Offre, b: Offre, specificity: dict[str, int]) -> bool:
    """Whether `a` wins over `b` whenever both serve (the decision's order). Within a level, the offer
    naming the demande's own word comes first: `a` is sure to come first only if it names every word
    `b` names (then it names the demande's own word whenever `b` does), and wins the tie-breaks."""
    if LEVEL_INDEX[a.niveau] != LEVEL_INDEX[b.niveau]:
        return LEVEL_INDEX[a.niveau] < LEVEL_INDEX[b.niveau]
    if not (set(b.thematiques) <= set(a.thematiques) and set(b.besoins) <= set(a.besoins)):
        return False
    return specificity[a.id] == specificity[b.id] and (COUTS.index(a.cout), a.id) < (COUTS.index(b.cout), b.id)


def _words_cover(outer: tuple[str, ...], inner: tuple[str, ...], vocabulary: Vocabulary) -> bool:
    """Every word of `inner` is in `outer`, or one of its ancestors is (a demande's words imply them)."""
    wanted = set(outer)
    return all(w in wanted or wanted & set(vocabulary.ancestors(w)) for w in inner)


def _validity_covers(a: Validite, b: Validite) -> bool:
    starts = a.debut is None or (b.debut is not None and a.debut <= b.debut)
    ends = a.fin is None or (b.fin is not None and a.fin >= b.fin)
    return starts and ends


def _within(ref: str, outer: frozenset[str], ctx: LintContext) -> bool:
    """Every territory lying in `ref` lies in one of `outer` (named perimeters already expanded)."""
    if "national" in outer or ref in outer:
        return True
    idx = ctx.graph.index
    kind, code = parse_ref(ref)
    if kind == "commune":
        return bool(ctx.graph.lies_in(ref) & outer)
    if kind == "epci":  # its communes may lie in several départements
        return all(f"departement:{d}" in outer or f"region:{idx.departements[d].region}" in outer
                   for d in idx.epcis[code].departements)
    if kind == "departement":
        return f"region:{idx.departements[code].region}" in outer
    return False


def _level_exists(level: str, refs: frozenset[str], no_epci: frozenset[str], ctx: LintContext) -> bool:
    """Whether `level` exists for every porteur whose territory lies in `refs` (else it is sans objet)."""
    kinds = {parse_ref(r)[0] for r in refs}
    if level == "communal":
        return kinds == {"commune"}
    if level == "intercommunal":
        return kinds <= {"commune", "epci"} and not any(f"commune:{c}" in refs for c in no_epci)
    if level == "departemental":
        return not kinds & {"region", "national"}
    return True


def _communes_without_epci(ctx: LintContext) -> frozenset[str]:
    return frozenset(code for code, c in ctx.graph.index.all_communes().items() if not c.epci)


def _skipping(a: Offre, b: Offre, ctx: LintContext) -> list[Regle]:
    """Rules that may set `a` aside while leaving `b` in play."""
    found = []
    for regle in ctx.before_rules:
        act = regle.alors
        escalates_between = act.escalader is not None and (
            LEVEL_INDEX[a.niveau] < LEVEL_INDEX[act.escalader] <= LEVEL_INDEX[b.niveau])
        if escalates_between or a.id in act.exclure_offres or a.niveau in act.exclure_niveaux:
            found.append(regle)
    return found


def blocking_rules(offre: Offre, ctx: LintContext, include_offer: bool = True) -> list[Regle]:
    """Rules that set an offer aside: escalate beyond its level, exclude its level (or it)."""
    found = []
    for regle in ctx.before_rules:
        act = regle.alors
        if (act.escalader is not None and LEVEL_INDEX[act.escalader] > LEVEL_INDEX[offre.niveau]) or \
                offre.niveau in act.exclure_niveaux or (include_offer and offre.id in act.exclure_offres):
            found.append(regle)
    return found


class UnreachableOfferCheck(Check):
    """An offer that can serve some demandes, but for each of them a rule sets it aside."""

    code = "offre-inatteignable"
    description = "offre jamais retenue : pour toute demande qu'elle sert, une règle l'écarte ou escalade plus loin"

    def run(self, ctx: LintContext) -> Iterable[Issue]:
        shared = _offers(ctx)
        for offre in ctx.offres:
            blockers = blocking_rules(offre, ctx)
            if not blockers:
                continue
            level_blockers = blocking_rules(offre, ctx, include_offer=False)
            if level_blockers and ctx.solver.solve(AllOf(tuple(negate(r.quand) for r in level_blockers))).impossible:
                continue  # the whole level is unreachable: UnreachableLevelCheck says it once
            serving = shared.serving(offre)
            if not ctx.solver.solve(serving).possible:
                continue
            kept = AllOf((serving, *(negate(r.quand) for r in blockers)))
            if not ctx.solver.solve(kept).impossible:
                continue
            blockers = ctx.solver.minimal_cover(serving, blockers, lambda r: r.quand)
            named = ", ".join(f"« {r.id} » ({where(r)})" for r in blockers)
            message = (f"offre « {offre.id} » ({LEVEL_LABELS[offre.niveau]}) jamais retenue : toute demande qu'elle "
                       f"pourrait servir est écartée de son niveau par {'la règle' if len(blockers) == 1 else 'les règles'} "
                       f"{named}")
            yield Issue(self.code, "avertissement", message, offre.location,
                        tuple(r.location for r in blockers if r.location))


class PerimeterLevelCheck(Check):
    """A perimeter that names a territory wider than the offer's level (a « départemental » offer
    over a région, a « communal » one over an EPCI)."""

    code = "perimetre-hors-niveau"
    description = "offre dont le périmètre dépasse son niveau déclaré"

    def run(self, ctx: LintContext) -> Iterable[Issue]:
        shared = _offers(ctx)
        for offre in ctx.offres:
            allowed = LEVEL_REF_KINDS.get(offre.niveau)
            if allowed is None:
                continue
            wider = sorted(r for r in shared.expanded[offre.id] if parse_ref(r)[0] not in allowed)
            if not wider:
                continue
            kinds = {parse_ref(r)[0] for r in wider}
            hint = LEVEL_LABELS[max((LEVEL_REF_HINTS[k] for k in kinds), key=LEVEL_INDEX.__getitem__)]
            at = ctx.places.of(offre.location, "perimetre")
            level_at = ctx.places.of(offre.location, "niveau")
            shown = ", ".join(wider[:5]) + ("…" if len(wider) > 5 else "")
            via = "" if set(wider) <= set(offre.perimetre) else " (par un périmètre nommé)"
            message = (f"offre « {offre.id} » de niveau {LEVEL_LABELS[offre.niveau]}, mais son périmètre va "
                       f"au-delà{via} : {shown} — niveau {hint} ?")
            related = (level_at,) if level_at else ()
            yield Issue(self.code, "avertissement", with_places(message, at, related), at, related)


__all__ = ["ImpossibleOfferConditionCheck", "MaskedOfferCheck", "UnreachableOfferCheck", "PerimeterLevelCheck",
           "with_places", "contradiction_text", "blocking_rules"]
