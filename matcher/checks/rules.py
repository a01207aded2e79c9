"""Checks on the policy rules: impossible conditions, conflicting rules, unreachable levels."""

from __future__ import annotations

from itertools import combinations
from typing import Iterable

from ..conditions import AllOf, fields_of, negate
from ..errors import Issue
from ..model import LEVEL_INDEX, LEVEL_LABELS, LEVELS, Regle
from . import Check, LintContext, where
from .logic import describe_facts
from .offers import contradiction_text, with_places


class ImpossibleRuleConditionCheck(Check):
    """A `quand` that no demande can meet: the rule never applies. Certain, hence an error."""

    code = "condition-impossible"
    description = "règle dont la condition « quand » ne peut jamais tenir"

    def run(self, ctx: LintContext) -> Iterable[Issue]:
        for regle in ctx.policy.regles:
            answer = ctx.solver.solve(regle.quand)
            if not answer.impossible:
                continue
            first = answer.contradictions[0]
            at = first.locations[0] if first.locations else regle.location
            related = tuple(loc for c in answer.contradictions for loc in c.locations if loc != at)
            message = f"règle « {regle.id} » jamais appliquée : {contradiction_text(answer.contradictions)}"
            yield Issue(self.code, "erreur", with_places(message, at, related), at, related)


class RuleConflictCheck(Check):
    """Two rules that can apply to one demande and whose actions work against each other: two
    escalations to different levels (the farthest wins, the other does nothing), or an escalation
    to a level that the other rule excludes. An example of such a demande is given."""

    code = "regles-en-conflit"
    description = "règles qui s'appliquent ensemble avec des actions contraires"

    def run(self, ctx: LintContext) -> Iterable[Issue]:
        for r1, r2 in combinations(ctx.before_rules, 2):
            for first, second in ((r1, r2), (r2, r1)):
                conflict = _conflict(first, second)
                if conflict is None:
                    continue
                answer = ctx.solver.both(first.quand, second.quand)
                if not answer.possible:
                    continue
                fields = fields_of(first.quand) | fields_of(second.quand)
                example = describe_facts(answer.witness, fields) or "toute demande"
                message = (f"règles « {first.id} » et « {second.id} » ({where(second)}) applicables ensemble, "
                           f"par exemple pour une demande avec {example} : {conflict}")
                yield Issue(self.code, "avertissement", message, first.location,
                            (second.location,) if second.location else ())
                break


def _conflict(a: Regle, b: Regle) -> str | None:
    ea, eb = a.alors.escalader, b.alors.escalader
    if ea and eb and ea != eb and LEVEL_INDEX[ea] < LEVEL_INDEX[eb]:
        return (f"l'une escalade vers le niveau {LEVEL_LABELS[ea]}, l'autre vers le niveau {LEVEL_LABELS[eb]} ; "
                f"le plus lointain l'emporte et « {a.id} » reste alors sans effet")
    if ea and ea in b.alors.exclure_niveaux:
        return (f"« {a.id} » fait commencer la recherche au niveau {LEVEL_LABELS[ea]}, que « {b.id} » exclut : "
                "la demande va plus loin que ce que chacune prévoit")
    return None


class UnreachableLevelCheck(Check):
    """A level that no demande reaches: for every demande, some rule escalates beyond it or
    excludes it. Each offer of that level is then never retained."""

    code = "niveau-inatteignable"
    description = "niveau jamais examiné : pour toute demande, une règle escalade au-delà ou l'exclut"

    def run(self, ctx: LintContext) -> Iterable[Issue]:
        for level in LEVELS[:-1]:
            blockers = [r for r in ctx.before_rules
                        if (r.alors.escalader and LEVEL_INDEX[r.alors.escalader] > LEVEL_INDEX[level])
                        or level in r.alors.exclure_niveaux]
            if not blockers:
                continue
            if not ctx.solver.solve(AllOf(tuple(negate(r.quand) for r in blockers))).impossible:
                continue
            blockers = ctx.solver.minimal_cover(None, blockers, lambda r: r.quand)
            offers = sorted(o.id for o in ctx.offres if o.niveau == level)
            named = " ou de ".join(f"« {r.id} »" + (f" ({where(r)})" if i else "") for i, r in enumerate(blockers))
            lost = ""
            if offers:
                shown = ", ".join(offers[:5]) + ("…" if len(offers) > 5 else "")
                lost = f" ; {len(offers)} offre{'s' if len(offers) > 1 else ''} de ce niveau jamais retenue" \
                       f"{'s' if len(offers) > 1 else ''} : {shown}"
            message = (f"niveau {LEVEL_LABELS[level]} jamais examiné : toute demande relève de {named}, "
                       f"qui escalade{'nt' if len(blockers) > 1 else ''} au-delà ou l'exclu{'ent' if len(blockers) > 1 else 't'}"
                       f"{lost}")
            yield Issue(self.code, "avertissement", message, blockers[0].location,
                        tuple(r.location for r in blockers[1:] if r.location))


__all__ = ["ImpossibleRuleConditionCheck", "RuleConflictCheck", "UnreachableLevelCheck"]
