"""The veille et alerte's rules, written in YAML beside the policy rules (`alertes:` sections), and
their test cases (`tests_alertes:`).

An alert rule reads one kind of indicator (`indicateur`), computed from a decisions file by
`indicators.py`: a département, a région × thématique, an offer, or a demande whose DT's opinion
is required. Its `quand` is written in the condition language of offers and rules, on the fields
listed in `INDICATORS` below (`aiguillage alertes --indicateurs` prints them); its `alerte` is the
text of the alert, where `{champ}` is replaced by the field's value:

    alertes:
      - id: part-agence-en-hausse
        description: La part des demandes d'un département orientées vers l'agence bondit.
        indicateur: departement
        quand: {evolution_part_agence: {min: 15}, demandes: {min: 10}}
        alerte: "Part vers l'agence : {part_agence_precedente} → {part_agence} ({evolution_part_agence})"
        gravite: attention

    tests_alertes:
      - id: hausse-nette
        indicateur: departement
        faits: {demandes: 40, evolution_part_agence: 22}
        attendu: {alertes: [part-agence-en-hausse]}

Alert rules are no part of the routing: the policy loader skips their sections, and editing them
leaves the rules' version, hence every decision's, unchanged.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conditions import Condition, FieldSpec, ParseContext, did_you_mean, parse_condition
from .errors import AiguillageError, IssueCollector, Location, UnknownReferenceError
from .files import display_path, yaml_files
from .model import AVIS_DT, COMPLEXITES, LEVELS, SAISINES
from .schema import check_record, check_top_level, checked_entries
from .territory import TerritoryIndex, default_index
from .yamlsource import load


@dataclass(frozen=True)
class IndicatorField:
    spec: FieldSpec
    unit: str  # how a value is written in an alert: "" | "%" | "points" | "jours" | "€" | "date"
    help: str


@dataclass(frozen=True)
class Indicator:
    kind: str
    label: str
    help: str
    fields: dict[str, IndicatorField]

    @property
    def specs(self) -> dict[str, FieldSpec]:
        return {name: f.spec for name, f in self.fields.items()}


def _fields(*items: tuple[str, str, str, str, tuple[str, ...]]) -> dict[str, IndicatorField]:
    """(name, kind, unit, help, choices) → the indicator's fields."""
    return {name: IndicatorField(FieldSpec(name, kind, name, choices), unit, text)
            for name, kind, unit, text, choices in items}


N, T, C, E = "number", "text", "code", "enum"
AVIS_AT_DATE = (*AVIS_DT, "absent")

INDICATORS: dict[str, Indicator] = {
    "departement": Indicator("departement", "département", (
        "Un département du fichier de décisions, sur deux fenêtres de temps qui se suivent : les « fenetre » "
        "derniers jours (demandes déposées pendant ces jours) et les « fenetre » jours d'avant."), _fields(
        ("departement", C, "", "code du département", ()),
        ("region", C, "", "code de sa région", ()),
        ("nom", T, "", "nom du département", ()),
        ("fenetre", N, "", "longueur de chaque fenêtre, en jours (aiguillage alertes --fenetre)", ()),
        ("demandes", N, "", "demandes déposées pendant la fenêtre", ()),
        ("vers_agence", N, "", "dont orientées vers l'agence", ()),
        ("part_agence", N, "%", "part orientée vers l'agence, en % (absente sans demande)", ()),
        ("part_locale", N, "%", "part servie localement (communal à régional), en %", ()),
        ("demandes_precedentes", N, "", "demandes déposées pendant la fenêtre précédente", ()),
        ("vers_agence_precedentes", N, "", "dont orientées vers l'agence", ()),
        ("part_agence_precedente", N, "%", "part orientée vers l'agence pendant la fenêtre précédente, en %", ()),
        ("part_locale_precedente", N, "%", "part servie localement pendant la fenêtre précédente, en %", ()),
        ("evolution_part_agence", N, "points", "part_agence − part_agence_precedente, en points", ()),
        ("evolution_part_locale", N, "points", "part_locale − part_locale_precedente, en points", ()),
        ("avis_attendus", N, "", "demandes déposées à ce jour dont l'avis requis du DT est attendu", ()),
        ("non_instruisibles", N, "", "demandes déposées à ce jour sans l'avis favorable requis du DT", ()),
    )),
    "region_thematique": Indicator("region_thematique", "région × thématique", (
        "Une région du fichier de décisions et une thématique du vocabulaire : les offres locales qui la servent "
        "quelque part dans la région, et les demandes de la région qui la portent."), _fields(
        ("region", C, "", "code de la région", ()),
        ("nom", T, "", "nom de la région", ()),
        ("thematique", T, "", "la thématique (mot du vocabulaire)", ()),
        ("libelle", T, "", "son libellé", ()),
        ("offres_locales", N, "", "offres des niveaux communal à régional, valides ce jour, dont le périmètre touche "
                                  "la région et qui servent la thématique", ()),
        ("demandes", N, "", "demandes de la région déposées à ce jour qui portent la thématique", ()),
        ("demandes_hors_local", N, "", "dont servies au-delà des niveaux locaux (opérateurs, agence)", ()),
        ("demandes_agence", N, "", "dont orientées vers l'agence", ()),
    )),
    "offre": Indicator("offre", "offre", (
        "Une offre du catalogue dont le périmètre touche un département du fichier, ou qui y est retenue ; la "
        "charge compte l'année civile du jour d'observation."), _fields(
        ("offre", T, "", "identifiant de l'offre", ()),
        ("nom", T, "", "nom de l'offre", ()),
        ("structure", T, "", "structure qui la porte", ()),
        ("niveau", E, "", "son niveau", LEVELS),
        ("capacite", N, "", "demandes qu'elle peut prendre par an (absente si non déclarée)", ()),
        ("charge", N, "", "demandes de l'année orientées vers elle", ()),
        ("refusees_capacite", N, "", "demandes de l'année envoyées plus loin parce qu'elle était complète "
                                     "(batch --capacite)", ()),
        ("demande_totale", N, "", "charge + refusees_capacite", ()),
        ("depassement", N, "", "demande_totale − capacite (absent sans capacité)", ()),
        ("taux_charge", N, "%", "demande_totale / capacite, en %", ()),
        ("fin_validite", T, "date", "dernier jour de validité (AAAA-MM-JJ ; absent sans fin)", ()),
        ("jours_restants", N, "jours", "jours jusqu'à la fin de validité (négatif : échue)", ()),
    )),
    "demande": Indicator("demande", "demande", (
        "Une demande du fichier dont l'avis du délégué territorial est requis (avis_dt_requis = oui), déposée à "
        "ce jour ; son avis tel qu'il était ce jour-là (date_avis_dt)."), _fields(
        ("id", T, "", "identifiant de la demande (sinon « ligne N »)", ()),
        ("intitule", T, "", "intitulé du projet", ()),
        ("departement", C, "", "département du porteur", ()),
        ("region", C, "", "région du porteur", ()),
        ("epci", C, "", "EPCI du porteur", ()),
        ("niveau", E, "", "niveau retenu", LEVELS),
        ("offre", T, "", "offre retenue", ()),
        ("saisine", E, "", "qui a saisi : dt ou directe", SAISINES),
        ("complexite", E, "", "complexité du projet", COMPLEXITES),
        ("montant", N, "€", "montant du projet", ()),
        ("avis_dt", E, "", "avis du DT ce jour-là : favorable, defavorable, en_attente, absent (non demandé)",
         AVIS_AT_DATE),
        ("attente_depuis", T, "date", "depuis quand l'avis est attendu (date de la demande d'avis, sinon du dépôt)", ()),
        ("jours_attente", N, "jours", "jours d'attente de l'avis (absent quand il est donné)", ()),
        ("jours_depuis_depot", N, "jours", "jours depuis le dépôt", ()),
    )),
}


@dataclass(frozen=True)
class AlertRule:
    id: str
    description: str
    reference: str | None
    indicateur: str
    quand: Condition
    alerte: str  # the text, with {champ} placeholders
    gravite: str
    location: Location


@dataclass(frozen=True)
class AlertCase:
    id: str
    description: str
    indicateur: str
    faits: dict[str, Any]
    alertes: tuple[str, ...]
    absentes: tuple[str, ...]
    texte: str | None
    location: Location


@dataclass
class AlertRules:
    rules: list[AlertRule] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def placeholders(template: str) -> list[str]:
    """The field names a message uses; ValueError for a malformed one ({ not closed, {0}, {x:y})."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name or name.isdigit() or spec or conversion:
            raise ValueError("{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
        names.append(name)
    return names


def load_alert_rules(root: Path, issues: IssueCollector, index: TerritoryIndex | None = None) -> AlertRules:
    """Every `alertes:` section under a rules folder (or in one file), checked; problems go to `issues`."""
    index = index or default_index()
    root = Path(root)
    found = AlertRules()
    if not root.exists():
        return found
    seen: dict[str, Location] = {}
    for path in yaml_files(root):
        try:
            doc = load(path, display_path(path), keep_going=True)  # its duplicate keys: reported by the policy
        except AiguillageError:
            continue  # the policy loader reports an unreadable file once
        if not isinstance(doc.data, dict) or "alertes" not in doc.data:
            continue
        found.files.append(path)
        sections = check_top_level(doc, "regles", IssueCollector()).get("alertes", [])  # section errors: policy's
        for i, data in enumerate(sections):
            kp = ("alertes", i)
            label = f"alerte « {data['id']} »" if isinstance(data, dict) and data.get("id") else f"alertes[{i}]"
            if not check_record(doc, kp, data, "alerte", issues, label):
                continue
            where = doc.where(kp)
            indicator = INDICATORS[data["indicateur"]]
            ctx = ParseContext(doc, issues, {}, index.exists, index.suggest, fields=indicator.specs)
            quand = parse_condition(data["quand"], kp + ("quand",), ctx)
            ok = quand is not None and _check_template(data["alerte"], indicator, doc.where(kp + ("alerte",)), issues,
                                                       label)
            if data["id"] in seen:
                issues.error("id-duplique", f"{label} : déjà définie en {seen[data['id']]}", where,
                             related=(seen[data["id"]],))
                continue
            seen[data["id"]] = where
            if ok:
                found.rules.append(AlertRule(data["id"], data["description"], data.get("reference"),
                                             data["indicateur"], quand, data["alerte"],
                                             data.get("gravite", "attention"), where))
    return found


def _check_template(template: str, indicator: Indicator, where: Location, issues: IssueCollector, label: str) -> bool:
    try:
        names = placeholders(template)
    except ValueError as exc:
        issues.error("alerte-texte", f"{label} : « {exc} » dans le texte : écrivez {{champ}} (un champ de l'indicateur "
                     f"{indicator.kind}), ou {{{{ et }}}} pour des accolades", where)
        return False
    ok = True
    for name in names:
        if name not in indicator.fields:
            issues.error("champ-inconnu", f"{label} : champ inconnu « {{{name}}} » dans le texte"
                         f"{did_you_mean(name, indicator.fields)} (champs de l'indicateur {indicator.kind} : "
                         f"{', '.join(indicator.fields)})", where)
            ok = False
    return ok


def load_alert_cases(files: list[Path], rules: list[AlertRule], issues: IssueCollector) -> list[AlertCase]:
    """Read and check the alert rules' test cases against the rules."""
    known = {r.id: r for r in rules}
    cases: list[AlertCase] = []
    # The rules' own top-level problems are reported by the rules loader, not again here.
    entries = checked_entries(files, "regles", "tests_alertes", "test_alerte", "test d'alerte", issues,
                              top_level_issues=IssueCollector())
    for doc, kp, data, label in entries:
        where = doc.where(kp)
        indicator = INDICATORS[data["indicateur"]]
        ok = _check_facts(data["faits"], indicator, doc, kp + ("faits",), issues, label)
        attendu = data["attendu"]
        if not attendu:
            issues.error("test-sans-attendu", f"{label} : « attendu » est vide : rien ne serait vérifié",
                         doc.where(kp + ("attendu",)))
            ok = False
        for key in ("alertes", "absentes"):
            for j, rule_id in enumerate(attendu.get(key, ())):
                rule = known.get(rule_id)
                if rule is None:
                    issues.error("regle-inconnue", f"{label} : règle d'alerte inconnue « {rule_id} »"
                                 f"{did_you_mean(rule_id, known)}", doc.where(kp + ("attendu", key, j)),
                                 kind=UnknownReferenceError)
                    ok = False
                elif rule.indicateur != indicator.kind:
                    issues.error("test-incoherent", f"{label} : la règle « {rule_id} » lit l'indicateur "
                                 f"{rule.indicateur}, pas {indicator.kind}", doc.where(kp + ("attendu", key, j)),
                                 related=(rule.location,))
                    ok = False
        if ok:
            cases.append(AlertCase(data["id"], data.get("description", ""), indicator.kind, dict(data["faits"]),
                                   tuple(attendu.get("alertes", ())), tuple(attendu.get("absentes", ())),
                                   attendu.get("texte"), where))
    return cases


def _check_facts(facts: dict, indicator: Indicator, doc, kp: tuple, issues: IssueCollector, label: str) -> bool:
    ok = True
    for name, value in facts.items():
        spec = indicator.fields.get(str(name))
        where = doc.where_key(kp + (name,))
        if spec is None:
            issues.error("champ-inconnu", f"{label} : champ inconnu « {name} »{did_you_mean(str(name), indicator.fields)}"
                         f" (champs de l'indicateur {indicator.kind} : {', '.join(indicator.fields)})", where)
            ok = False
            continue
        kind = spec.spec.kind
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if (kind == "number") != number or (kind != "number" and not isinstance(value, str)):
            expected = ("un nombre fini" if isinstance(value, float) else "un nombre") if kind == "number" else "un texte"
            issues.error("type", f"{label} : « {name} » doit être {expected}, pas « {value} »", where)
            ok = False
        elif kind == "enum" and value not in spec.spec.choices:
            issues.error("valeur-inconnue", f"{label} : « {name} » vaut « {value} »"
                         f"{did_you_mean(str(value), spec.spec.choices)} (valeurs possibles : "
                         f"{', '.join(spec.spec.choices)})", where)
            ok = False
    return ok


def describe_indicators() -> str:
    """The indicators and their fields, for rule authors (`aiguillage alertes --indicateurs`)."""
    lines = ["Indicateurs lus par les règles d'alerte (section « alertes: » des fichiers de rules/) :"]
    for indicator in INDICATORS.values():
        lines += ["", f"indicateur: {indicator.kind} — {indicator.help}"]
        for name, f in indicator.fields.items():
            kind = {"number": "nombre", "text": "texte", "code": "code", "enum": "valeur"}[f.spec.kind]
            choices = f" ({', '.join(f.spec.choices)})" if f.spec.choices else ""
            unit = f" [{f.unit}]" if f.unit and f.unit != "date" else ""
            lines.append(f"  {name:<26}{kind}{unit}{choices} : {f.help}")
    lines += ["", "Conditions : le langage des offres et des règles (min, max, pas, hors, existe, tous, un_de, aucun). "
              "Texte de l'alerte : {champ} remplacé par sa valeur."]
    return "\n".join(lines)


def selected_rules(rules_root: Path, only: tuple[str, ...] = ()) -> list[AlertRule]:
    """The alert rules of a rules folder, or only those named (`--regle`); none at all is an error."""
    from .errors import OptionValueError

    rules = load_alert_rules(Path(rules_root), IssueCollector(stop_at_first=True)).rules
    known = {r.id for r in rules}
    for rule_id in only:
        if rule_id not in known:
            raise OptionValueError(f"« {rule_id} » inconnue{did_you_mean(rule_id, known)}", "--regle")
    if only:
        rules = [r for r in rules if r.id in only]
    if not rules:
        raise AiguillageError(f"aucune règle d'alerte (section « alertes: ») sous {rules_root}")
    return rules


__all__ = ["selected_rules", "INDICATORS", "Indicator", "IndicatorField", "AlertRule", "AlertCase", "AlertRules", "load_alert_rules",
           "load_alert_cases", "placeholders", "describe_indicators"]
