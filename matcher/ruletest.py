"""Test cases of the rules, in YAML beside them, run against the real engine (`aiguillage rules test`).

A test file has a top-level `tests:` list (schema record `test`); each case is a demande, with
the fields of a demande file, and what its decision must say:

    tests:
      - id: ouessant-eau
        description: Ouessant n'a pas d'EPCI ; le niveau intercommunal est sans objet.
        demande: {porteur: "29155", thematiques: [eau], besoins: [amo]}
        attendu:
          niveau: departemental
          offre: finistere-ingenierie-eau
          statuts: {intercommunal: sans_objet}
          avis_dt_requis: false
          alertes: ["avis du délégué territorial"]   # texts the alerts must contain
          regles: [saisine-directe]                  # rules that must apply
          regles_absentes: [projet-complexe]         # rules that must not
          motif: "plus proche"                       # text the motif must contain

Cases are routed together by the `Router`, as `route` would route them one by one. The report
says which rules no case applies and which offers no case retains (the coverage of the tests).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conditions import did_you_mean
from .errors import AiguillageError, IssueCollector, Location, TerritoryError, UnknownReferenceError
from .model import Decision, Demande, Territoire
from .schema import checked_entries
from .workspace import Workspace
from .files import files_with_section, sections_of, yaml_files


@dataclass(frozen=True)
class Expectation:
    niveau: str | None = None
    offre: str | None = None
    statuts: tuple[tuple[str, str], ...] = ()
    avis_dt_requis: bool | None = None
    alertes: tuple[str, ...] = ()
    regles: tuple[str, ...] = ()
    regles_absentes: tuple[str, ...] = ()
    motif: str | None = None


@dataclass(frozen=True)
class RuleCase:
    """One test case, checked and ready to route."""

    id: str
    description: str
    date: dt.date | None
    demande: Demande
    territoire: Territoire
    attendu: Expectation
    location: Location


@dataclass(frozen=True)
class Mismatch:
    what: str
    expected: str
    got: str


@dataclass
class CaseResult:
    case: RuleCase
    decision: Decision
    mismatches: list[Mismatch]

    @property
    def passed(self) -> bool:
        return not self.mismatches


@dataclass
class RuleTestReport:
    results: list[CaseResult]
    rules_not_applied: list[str] = field(default_factory=list)
    offers_not_retained: list[str] = field(default_factory=list)
    rules_total: int = 0
    offers_total: int = 0

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]


def sources(path: Path | None, rules_dir: Path | None) -> tuple[Path, list[Path]]:
    """The rules folder to test and the test files to run: PATH's tests; PATH's rules too when it
    is a rules folder and no --rules is given; by default, the rules in use and their tests."""
    from .paths import default_rules

    rules = Path(rules_dir or default_rules())
    if path is None:
        return rules, files_with_section(rules, "tests")
    path = Path(path)
    if rules_dir is None and path.is_dir() and any("regles" in sections_of(f) for f in yaml_files(path)):
        rules = path
    return rules, files_with_section(path, "tests")


def load_cases(
    files: list[Path], workspace: Workspace, issues: IssueCollector, check_rules: bool = True
) -> list[RuleCase]:
    """Read and check test files; every problem goes to `issues`, located in the test file."""
    cases: list[RuleCase] = []
    offers = {o.id: o for o in workspace.catalogue.offres}
    rules = {r.id for r in workspace.policy.regles}
    for doc, kp, data, label in checked_entries(files, "regles", "tests", "test", "test", issues):
        attendu = _expectation(data["attendu"], doc, kp + ("attendu",), offers, rules, check_rules, issues, label)
        demande_data = dict(data["demande"])
        demande_data.setdefault("id", data["id"])
        demande_kp = kp + ("demande",)

        def place(key: str, fields: dict[str, Any] = demande_data, base: tuple = demande_kp) -> Location:
            return doc.where_key(base + (key,)) if key in fields and key != "id" else doc.where(base)

        try:
            demande, territoire = workspace.prepare(demande_data, place)
        except TerritoryError as exc:
            issues.add_error(TerritoryError(exc.message, exc.location, "territoire-inconnu"))
            continue
        except AiguillageError as exc:
            issues.add_error(exc)
            continue
        if attendu is None:
            continue
        cases.append(RuleCase(data["id"], data.get("description", ""), data.get("date"), demande, territoire,
                              attendu, doc.where(kp)))
    return cases


def _expectation(
    data: dict, doc: Any, kp: tuple, offers: dict, rules: set[str], check_rules: bool, issues: IssueCollector,
    label: str,
) -> Expectation | None:
    if not data:
        issues.error("test-sans-attendu", f"{label} : « attendu » est vide : rien ne serait vérifié", doc.where(kp))
        return None
    ok = True
    offre = data.get("offre")
    if offre is not None and offre not in offers:
        issues.error("offre-inconnue", f"{label} : offre inconnue « {offre} »{did_you_mean(offre, offers)}",
                     doc.where(kp + ("offre",)), kind=UnknownReferenceError)
        ok = False
    elif offre is not None and data.get("niveau") and offers[offre].niveau != data["niveau"]:
        issues.error(
            "test-incoherent",
            f"{label} : l'offre « {offre} » est de niveau {offers[offre].niveau}, pas {data['niveau']}",
            doc.where(kp + ("niveau",)), related=(offers[offre].location,) if offers[offre].location else (),
        )
        ok = False
    for key in ("regles", "regles_absentes"):
        for j, regle in enumerate(data.get(key, ()) if check_rules else ()):
            if regle not in rules:
                issues.error("regle-inconnue", f"{label} : règle inconnue « {regle} »{did_you_mean(regle, rules)}",
                             doc.where(kp + (key, j)), kind=UnknownReferenceError)
                ok = False
    if not ok:
        return None
    return Expectation(
        niveau=data.get("niveau"),
        offre=offre,
        statuts=tuple(data.get("statuts", {}).items()),
        avis_dt_requis=data.get("avis_dt_requis"),
        alertes=tuple(data.get("alertes", ())),
        regles=tuple(data.get("regles", ())),
        regles_absentes=tuple(data.get("regles_absentes", ())),
        motif=data.get("motif"),
    )


def _compare(expected: Expectation, d: Decision) -> list[Mismatch]:
    found: list[Mismatch] = []
    if expected.niveau is not None and expected.niveau != d.niveau:
        found.append(Mismatch("niveau", expected.niveau, d.niveau))
    if expected.offre is not None and expected.offre != d.offre.id:
        found.append(Mismatch("offre", expected.offre, d.offre.id))
    statuts = {e.niveau: e.statut for e in d.examen}
    for niveau, statut in expected.statuts:
        if statuts.get(niveau) != statut:
            found.append(Mismatch(f"statut {niveau}", statut, statuts.get(niveau) or "non examiné"))
    if expected.avis_dt_requis is not None and expected.avis_dt_requis != d.avis_dt_requis:
        found.append(Mismatch("avis_dt_requis", _yes_no(expected.avis_dt_requis), _yes_no(d.avis_dt_requis)))
    alertes = [a.texte for a in d.alertes]
    for text in expected.alertes:
        if not any(text in a for a in alertes):
            found.append(Mismatch("alertes", f"une alerte contenant « {text} »", " | ".join(alertes) or "aucune"))
    for regle in expected.regles:
        if regle not in d.regles:
            found.append(Mismatch("regles", f"la règle « {regle} » appliquée", ", ".join(d.regles) or "aucune"))
    for regle in expected.regles_absentes:
        if regle in d.regles:
            found.append(Mismatch("regles_absentes", f"la règle « {regle} » non appliquée", ", ".join(d.regles)))
    if expected.motif is not None and expected.motif not in d.motif:
        found.append(Mismatch("motif", f"un motif contenant « {expected.motif} »", d.motif))
    return found


def _yes_no(value: bool) -> str:
    return "oui" if value else "non"


def run_cases(cases: list[RuleCase], workspace: Workspace, default_date: dt.date) -> RuleTestReport:
    """Route every case with the real engine and compare; cases of one date are routed together."""
    router = workspace.router()
    by_date: dict[dt.date, list[int]] = defaultdict(list)
    for i, case in enumerate(cases):
        by_date[case.date or default_date].append(i)
    decisions: dict[int, Decision] = {}
    for day, indices in by_date.items():
        routed = router.route_many([(cases[i].demande, cases[i].territoire) for i in indices], day)
        decisions.update(zip(indices, routed))
    results = [CaseResult(case, decisions[i], _compare(case.attendu, decisions[i])) for i, case in enumerate(cases)]
    applied = {r for d in decisions.values() for r in d.regles}
    retained = {d.offre.id for d in decisions.values()}
    return RuleTestReport(
        results,
        rules_not_applied=[r.id for r in workspace.policy.regles if r.id not in applied],
        offers_not_retained=sorted(o.id for o in workspace.catalogue.offres if o.id not in retained),
        rules_total=len(workspace.policy.regles),
        offers_total=len(workspace.catalogue.offres),
    )


def report_text(report: RuleTestReport, explain: bool = True) -> str:
    """The report for a person: failures with expected vs got and the decision's explanation."""
    from .render import decision_text

    lines: list[str] = []
    for r in report.results:
        if r.passed:
            lines.append(f"ok     {r.case.id}")
            continue
        lines.append(f"ÉCHEC  {r.case.id} — {r.case.location}")
        if r.case.description:
            lines.append(f"       {r.case.description}")
        for m in r.mismatches:
            lines.append(f"       {m.what} : attendu {m.expected} ; obtenu {m.got}")
        if explain:
            lines.append("       Décision obtenue :")
            lines.extend(f"         {line}" if line else "" for line in decision_text(r.decision).splitlines())
    failed = len(report.failed)
    lines.append("")
    lines.append(f"{len(report.results)} cas : {len(report.results) - failed} réussi{'s' if len(report.results) - failed > 1 else ''}, "
                 f"{failed} en échec")
    lines.extend(coverage_lines(report))
    return "\n".join(lines)


def coverage_lines(report: RuleTestReport) -> list[str]:
    rules_ok = report.rules_total - len(report.rules_not_applied)
    offers_ok = report.offers_total - len(report.offers_not_retained)
    lines = [f"Couverture : {rules_ok}/{report.rules_total} règles appliquées par au moins un cas, "
             f"{offers_ok}/{report.offers_total} offres retenues par au moins un cas"]
    if report.rules_not_applied:
        lines.append(f"  Règles qu'aucun cas n'applique : {', '.join(report.rules_not_applied)}")
    if report.offers_not_retained:
        lines.append(f"  Offres qu'aucun cas ne retient ({len(report.offers_not_retained)}) : "
                     f"{', '.join(report.offers_not_retained)}")
    return lines


def report_dict(report: RuleTestReport) -> dict[str, Any]:
    from .render import decision_dict

    cases = []
    for r in report.results:
        entry: dict[str, Any] = {
            "id": r.case.id,
            "fichier": r.case.location.path,
            "ligne": r.case.location.line,
            "resultat": "reussi" if r.passed else "echec",
            "niveau": r.decision.niveau,
            "offre": r.decision.offre.id,
        }
        if not r.passed:
            entry["ecarts"] = [{"champ": m.what, "attendu": m.expected, "obtenu": m.got} for m in r.mismatches]
            entry["decision"] = decision_dict(r.decision)
        cases.append(entry)
    return {
        "cas": cases,
        "resume": {"total": len(report.results), "reussis": len(report.results) - len(report.failed),
                   "echecs": len(report.failed)},
        "couverture": {
            "regles": report.rules_total,
            "regles_non_appliquees": report.rules_not_applied,
            "offres": report.offers_total,
            "offres_non_retenues": report.offers_not_retained,
        },
    }


# --------------------------------------------------------------------------- `aiguillage rules test`


@dataclass
class TestRun:
    """Everything `rules test` ran: the routing cases and the alert rules' cases, and the problems
    found in the test files (then nothing was run)."""

    issues: list
    cases: int
    report: RuleTestReport | None = None
    alert_rules: list = field(default_factory=list)
    alert_results: list = field(default_factory=list)
    with_alert_cases: bool = False
    invalid: bool = False  # a test file has an error: nothing was run
    in_use: Any = None  # paths.InUse: the catalogue and rules the cases ran against

    @property
    def failed(self) -> bool:
        return bool(self.report and self.report.failed) or any(not r.passed for r in self.alert_results)


def run_tests(path: Path | None, catalogue_dir: Path | None, rules_dir: Path | None, day: dt.date) -> TestRun:
    """Read the test files that PATH designates (see `sources`), the routing cases and the alert
    rules' cases, and run them with the real engine (nothing runs when a test file is invalid)."""
    from .alertrules import load_alert_cases, load_alert_rules
    from .alerts import run_cases as run_alert_cases
    from .workspace import load_workspace

    rules_root, files = sources(path, rules_dir)
    alert_files = files_with_section(Path(path) if path is not None else rules_root, "tests_alertes")
    if not files and not alert_files:
        raise AiguillageError(f"aucun cas de test (fichier YAML à section « tests: » ou « tests_alertes: ») sous "
                              f"{path or rules_root}")
    workspace = load_workspace(catalogue_dir, rules_root, today=day)
    issues = IssueCollector(stop_at_first=False)
    cases = load_cases(files, workspace, issues)
    alert_rules = load_alert_rules(rules_root, issues).rules
    alert_cases = load_alert_cases(alert_files, alert_rules, issues)
    from .paths import in_use

    run = TestRun(issues.issues, len(cases) + len(alert_cases), alert_rules=alert_rules,
                  with_alert_cases=bool(alert_files),
                  in_use=in_use(catalogue_dir, rules_dir).replaced(Path(workspace.catalogue.root), rules_root, "PATH"))
    if issues.errors:
        run.invalid = True
        return run
    run.report = run_cases(cases, workspace, day) if files else None
    run.alert_results = run_alert_cases(alert_cases, alert_rules) if alert_files else []
    return run


def run_text(run: TestRun, explain: bool = True) -> str:
    from .alerts import cases_text

    text = [report_text(run.report, explain=explain)] if run.report else []
    if run.with_alert_cases:
        text.append("\n".join(cases_text(run.alert_results, run.alert_rules)))
    if run.in_use is not None:
        text.append(f"Selon le {run.in_use.phrase()}")
    return "\n\n".join(text)


def run_dict(run: TestRun) -> dict[str, Any]:
    from .alerts import cases_dict

    return {**(report_dict(run.report) if run.report else {}),
            **({"alertes": cases_dict(run.alert_results, run.alert_rules)} if run.with_alert_cases else {}),
            **(run.in_use.as_dict() if run.in_use is not None else {})}


__all__ = ["TestRun", "run_tests", "run_text", "run_dict", "RuleCase", "RuleTestReport", "sources", "load_cases", "run_cases", "report_text", "report_dict"]
