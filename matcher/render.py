"""Decisions, territories and issues as JSON objects and as French text for a person."""

from __future__ import annotations

from typing import Any, Sequence

from .conditions import fmt_number
from .errors import Issue, one_line
from .model import COUT_LABELS, LEVEL_LABELS, LEVELS, Decision, Examen, Term, Territoire, Vocabulary

NON_INSTRUISIBLE = "non instruisible, avis du DT requis"
ADHESION_LABELS = {"verifiee": "vérifiée", "non_verifiee": "non vérifiée", "impossible": "impossible"}


def opinion_text(demande) -> str:
    """The DT's opinion as a demande records it: « avis favorable du 12/03/2026 », « avis demandé le … »."""
    day = f"{demande.date_avis_dt:%d/%m/%Y}" if demande.date_avis_dt else None
    if demande.avis_dt == "en_attente":
        return f"avis demandé le {day}, en attente" if day else "avis en attente"
    word = {"favorable": "favorable", "defavorable": "défavorable"}[demande.avis_dt]
    return f"avis {word} du {day}" if day else f"avis {word}"

STATUS_LABELS = {
    "aucune_offre": "aucune offre",
    "offres_ecartees": "offres écartées",
    "ignore": "ignoré",
    "sans_objet": "sans objet",
    "retenu": "retenu",
}


def decision_dict(d: Decision) -> dict[str, Any]:
    t, offre, demande = d.territoire, d.offre, d.demande
    examen = []
    for e in d.examen:
        entry: dict[str, Any] = {"niveau": e.niveau, "statut": e.statut}
        if e.motif:
            entry["motif"] = e.motif
        if e.regle:
            entry["regle"] = e.regle
        if e.retenue:
            entry["offre_retenue"] = e.retenue
        if e.offres:
            entry["offres"] = [{"id": o.id, "raisons": list(o.raisons)} for o in e.offres]
        if e.hors_thematique:
            entry["offres_hors_thematique"] = e.hors_thematique
        examen.append(entry)
    return {
        "demande": {
            "id": demande.id,
            "porteur": demande.porteur,
            "intitule": demande.intitule,
            "thematiques": list(demande.thematiques),
            "besoins": list(demande.besoins),
            "programmes": list(demande.programmes),
            "complexite": demande.complexite,
            "saisine": demande.saisine,
            "avis_dt": demande.avis_dt,
            "date_avis_dt": demande.date_avis_dt.isoformat() if demande.date_avis_dt else None,
        },
        "territoire": {
            **t.as_dict(),
            "nom": t.nom,
            "zone": t.zone,
            "population": t.population,
            "niveaux": t.holders,
        },
        "delegue_territorial": {"departement": t.dt_departement, "libelle": t.dt_libelle},
        "decision": {
            "niveau": d.niveau,
            "offre": {
                "id": offre.id,
                "nom": offre.nom,
                "structure": offre.structure,
                "cout": offre.cout,
                "contact": offre.contact,
                "source": offre.source,
            },
            "motif": d.motif,
        },
        "examen": examen,
        "alternatives": [{"id": o.id, "nom": o.nom, "structure": o.structure, "cout": o.cout, "contact": o.contact,
                          "source": o.source} for o in d.alternatives],
        "programmes": [{"id": c.programme, "adhesion": c.adhesion, "motif": c.motif} for c in d.programmes],
        "adhesions_a_verifier": list(d.adhesions_a_verifier),
        "avis_dt_requis": d.avis_dt_requis,
        "instruisible": d.instruisible,
        "alertes": [{"texte": a.texte, "regle": a.regle} for a in d.alertes],
        "regles_appliquees": list(d.regles),
        "notes": list(t.notes),
        "date_decision": d.date.isoformat(),
        "version": dict(d.version),
    }


def membership_note(structures: Sequence[str]) -> str:
    """What the DT reads when the chosen offer is reserved to members and the demande did not say."""
    return (f"Sous réserve d'adhésion à {' ou '.join(structures)} : l'offre est réservée aux adhérents et la "
            "demande ne déclare pas les adhésions du porteur (adhésion présumée, à vérifier avec lui)")


EXAMEN_SEPARATOR = " | "


def examen_level_text(e: Examen, reasons: bool = True) -> str:
    """One examined level as a backlog writes it: `departemental: retenu (caue-16; atd-16: population
    41 908 > max 20 000)`; without `reasons`, only the offers' ids (the `examen` column)."""
    text = f"{e.niveau}: {e.statut}"
    rejected = [f"{o.id}: {', '.join(o.raisons)}" if reasons and o.raisons else o.id for o in e.offres]
    if e.retenue or rejected:
        text += " (" + "; ".join(([e.retenue] if e.retenue else []) + rejected) + ")"
    elif e.statut == "ignore" and e.regle:
        text += f" (règle {e.regle})"
    return text


def examen_summary(d: Decision, reasons: bool = True) -> str:
    """A decision's examination on one line: with the reasons, as the explanations file of a backlog
    holds it; without, as its `examen` column."""
    return EXAMEN_SEPARATOR.join(examen_level_text(e, reasons) for e in d.examen)


def _folder(d: Decision, kind: str) -> str:
    folder = d.version.get(f"{kind}_dossier")
    return f" ({folder})" if folder else ""


def _short(version: str) -> str:
    return version[:19] + "…" if len(version) > 20 else version


def decision_text(d: Decision) -> str:
    t, offre, demande = d.territoire, d.offre, d.demande
    lines = [
        f"Demande {demande.id}" + (f" — {demande.intitule}" if demande.intitule else ""),
        f"  Porteur : {t.nom} ({demande.porteur})",
        f"  Thématiques : {', '.join(demande.thematiques)} · besoins : {', '.join(demande.besoins)}"
        + (f" · programmes : {', '.join(demande.programmes)}" if demande.programmes else "")
        + (" · projet complexe" if demande.complexite == "complexe" else "")
        + (" · saisine directe de l'agence" if demande.saisine == "directe" else ""),
        f"  Délégué territorial : {t.dt_libelle} ({t.dt_departement})",
    ]
    lines += [f"  Note : {note}" for note in t.notes]
    lines += [
        "",
        f"Décision : niveau {LEVEL_LABELS[d.niveau]} — {offre.nom} ({offre.structure})",
        f"  Motif : {d.motif}",
        f"  Coût : {COUT_LABELS.get(offre.cout, offre.cout)}" + (f" · contact : {offre.contact}" if offre.contact else "") + f" · source : {offre.source}",
    ]
    if d.alternatives:
        lines.append("  Autres offres qui servent à ce niveau, dans l'ordre : "
                     + " ; ".join(f"{o.id} — {o.nom} ({o.structure}, {COUT_LABELS.get(o.cout, o.cout)})" for o in d.alternatives))
    for check in d.programmes:
        lines.append(f"  Programme {check.programme} : adhésion {ADHESION_LABELS[check.adhesion]} — {check.motif}")
    if d.adhesions_a_verifier:
        lines.append(f"  {membership_note(d.adhesions_a_verifier)}")
    lines += [
        f"  Avis du délégué territorial requis : {'oui' if d.avis_dt_requis else 'non'}"
        + ("" if d.instruisible else f" — {NON_INSTRUISIBLE}")
        + (f" ({opinion_text(demande)})" if demande.avis_dt else ""),
    ]
    for alerte in d.alertes:
        lines.append(f"  Alerte : {alerte.texte} (règle {alerte.regle})")
    lines += ["", "Examen, du niveau le plus proche au plus lointain :"]
    width = max(len(LEVEL_LABELS[n]) for n in LEVELS[:4]) + 2
    for e in d.examen:
        label = LEVEL_LABELS[e.niveau] if e.niveau not in ("operateur", "agence") else {
            "operateur": "opérateurs", "agence": "agence"}[e.niveau]
        status = STATUS_LABELS[e.statut]
        if e.retenue:
            status += f" : {e.retenue}"
        if e.motif:
            status += f" — {e.motif}"
        if e.regle:
            status += f" (règle {e.regle})"
        if e.hors_thematique:
            status += f" ({e.hors_thematique} offre{'s' if e.hors_thematique > 1 else ''} sur d'autres thématiques)"
        lines.append(f"  {label:<{width}}{status}")
        for o in e.offres:
            lines.append(f"  {'':<{width}}  × {o.id} : {' ; '.join(o.raisons)}")
    lines += [
        "",
        f"Règles appliquées : {', '.join(d.regles) if d.regles else 'aucune'}",
        f"Décision du {d.date:%d/%m/%Y} · catalogue {_short(d.version['catalogue'])}{_folder(d, 'catalogue')} · "
        f"règles {_short(d.version['regles'])}{_folder(d, 'regles')}",
    ]
    return "\n".join(lines)


def territoire_dict(t: Territoire) -> dict[str, Any]:
    return {
        "reference": t.ref,
        "nom": t.nom,
        **t.as_dict(),
        "zone": t.zone,
        "population": t.population,
        "niveaux": {level: t.holders.get(level) for level in LEVELS[:4]},
        "delegue_territorial": {"departement": t.dt_departement, "libelle": t.dt_libelle},
        "appartient_a": sorted(t.containers),
        "notes": list(t.notes),
    }


def territoire_text(t: Territoire) -> str:
    population = fmt_number(t.population) if t.population is not None else "inconnue"
    lines = [f"{t.nom} ({t.ref}) — population {population}"]
    lines += [f"  Note : {note}" for note in t.notes]
    lines.append("Chaîne des niveaux :")
    for level in LEVELS[:4]:
        holder = t.holders.get(level)
        lines.append(f"  {LEVEL_LABELS[level]:<15}{holder if holder else 'sans objet'}")
    lines.append(f"Délégué territorial : {t.dt_libelle} ({t.dt_departement})")
    perimetres = sorted(c for c in t.containers if c.startswith("perimetre:"))
    if perimetres:
        lines.append(f"Périmètres nommés : {', '.join(perimetres)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- authoring findings


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n < 2 else plural or word + 's'}"


def issues_summary(issues: list[Issue], counts: dict[str, int] | None = None, hidden: int = 0,
                   using: str | None = None) -> str:
    """One French line: how many errors and warnings, over what was checked, in which folders (`using`)."""
    errors = sum(i.severity == "erreur" for i in issues)
    warnings = len(issues) - errors
    line = f"{_plural(errors, 'erreur')}, {_plural(warnings, 'avertissement')}"
    names = {"offres": ("offre", None), "regles": ("règle", None), "alertes": ("règle d'alerte", "règles d'alerte"),
             "cas_de_test": ("cas de test", "cas de test"),
             "paires": ("paire d'offres examinée", "paires d'offres examinées"),
             "sans_relecture": ("offre sans date de relecture (verifie_le)", "offres sans date de relecture (verifie_le)")}
    parts = [_plural(n, *names[k]) for k, n in (counts or {}).items() if k in names]
    if parts:
        line += f" ({', '.join(parts)})"
    if using:
        line += f" — {using}"
    if hidden:
        line += f" ; {_plural(hidden, 'autre problème', 'autres problèmes')} ailleurs que dans le chemin demandé"
    return line


def issues_dict(issues: list[Issue], counts: dict[str, int] | None = None, hidden: int = 0) -> dict[str, Any]:
    errors = sum(i.severity == "erreur" for i in issues)
    return {
        "problemes": [i.as_dict() for i in issues],
        "resume": {"erreurs": errors, "avertissements": len(issues) - errors, "ailleurs": hidden, **(counts or {})},
    }


def plural(count: int, word: str) -> str:
    """« 1 demande », « 2 demandes » (French puts 0 and 1 in the singular)."""
    return f"{fmt_number(count)} {word}{'s' if count > 1 else ''}"


def _share(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.1f} %)".replace(".", ",") if total else str(count)


def batch_summary_text(summary: dict[str, Any]) -> str:
    """The summary of a batch run, for stderr."""
    total, errors = summary["lignes"], summary["erreurs"]
    routed = total - errors
    lines = [f"{plural(total, 'demande')} : {plural(routed, 'orientée')}, {errors} en erreur → {summary['fichier']}"]
    if not total:
        lines.append("Le carnet ne contient aucune demande : rien qu'une ligne d'en-tête.")
    for note in summary.get("lecture", []):
        lines.append(f"Lecture : {note}")
    empty = summary.get("lignes_vides", [])
    if empty:
        shown = ", ".join(map(str, empty[:10])) + (f"… ({len(empty)} en tout)" if len(empty) > 10 else "")
        lines.append(f"Ligne{'s' if len(empty) > 1 else ''} vide{'s' if len(empty) > 1 else ''} ignorée"
                     f"{'s' if len(empty) > 1 else ''} (aucune demande) : {shown}")
    if "catalogue_et_regles" in summary:
        lines.append(f"Selon le {summary['catalogue_et_regles']}")
    lines.append("Par niveau : " + ", ".join(
        f"{LEVEL_LABELS[level].split(' ')[0]} {_share(count, routed)}"
        for level, count in summary["par_niveau"].items()))
    departements = summary.get("par_departement", {})
    if departements:
        lines.append(f"Par département ({len(departements)}) :")
        width = max(len(d) for d in departements)
        for dep, levels in sorted(departements.items(), key=lambda kv: -sum(kv[1].values()))[:15]:
            n = sum(levels.values())
            agence = levels.get("agence", 0)
            lines.append(f"  {dep:<{width}}  {n:>7} demande{'s' if n > 1 else ''}, {_share(agence, n)} vers l'agence")
        if len(departements) > 15:
            lines.append(f"  … et {len(departements) - 15} autres (--format json pour tout)")
    if "changements" in summary:
        c = summary["changements"]
        parts = [plural(c["inchange"], "inchangée"), plural(c["nouveau"], "nouvelle"), plural(c["modifie"], "modifiée")]
        if c.get("non_compare"):
            parts.append(plural(c["non_compare"], "non comparée") + " (sans identifiant propre)")
        lines.append("Changements : " + ", ".join(parts))
        for cause, count in list(summary.get("causes", {}).items())[:10]:
            lines.append(f"  {count:>7}  {cause}")
    if "capacite" in summary:
        lines.append(f"Capacité : {summary['capacite']['escaladees']} demandes orientées au-delà d'une offre complète")
    for sample in summary.get("exemples_erreurs", []):
        lines.append(f"  erreur : {one_line(sample)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the vocabulary

VOCABULARY_TITLES = {"thematiques": "Thématiques", "besoins": "Besoins", "programmes": "Programmes"}


def _terms_in_tree(vocabulary: Vocabulary) -> list[tuple[int, Term]]:
    """Each word after its parent, with its depth: the way an author reads a vocabulary."""
    children: dict[str | None, list[Term]] = {}
    for term in vocabulary.terms.values():
        parent = term.parent if term.parent in vocabulary.terms else None
        children.setdefault(parent, []).append(term)
    out: list[tuple[int, Term]] = []

    def walk(parent: str | None, depth: int) -> None:
        for term in children.get(parent, []):
            out.append((depth, term))
            walk(term.id, depth + 1)

    walk(None, 0)
    return out


def vocabulary_dict(vocabularies: dict[str, Vocabulary]) -> dict[str, Any]:
    return {kind: [{"id": t.id, "libelle": t.libelle, "parent": t.parent} for _, t in _terms_in_tree(vocabularies[kind])]
            for kind in VOCABULARY_TITLES if kind in vocabularies}


def vocabulary_text(vocabularies: dict[str, Vocabulary]) -> str:
    """Each vocabulary with its words, a word indented under its parent (which serves it too)."""
    blocks = []
    for kind, title in VOCABULARY_TITLES.items():
        tree = _terms_in_tree(vocabularies[kind])
        width = max((len(t.id) + 2 * depth for depth, t in tree), default=0) + 2
        lines = [f"{title} ({len(tree)})"]
        lines += [f"  {'  ' * depth}{term.id:<{width - 2 * depth}}{term.libelle}" for depth, term in tree]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def vocabulary_markdown(vocabularies: dict[str, Vocabulary]) -> str:
    """The vocabulary as the README lists it: a word under its parent serves it too."""
    lines: list[str] = []
    for kind, title in VOCABULARY_TITLES.items():
        lines += [f"**{title}**", ""] if not lines else ["", f"**{title}**", ""]
        for depth, term in _terms_in_tree(vocabularies[kind]):
            lines.append(f"{'  ' * depth}- `{term.id}` — {term.libelle}")
    return "\n".join(lines)
