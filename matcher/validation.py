"""`aiguillage rules check`: every problem of a catalogue, its rules and their tests, in one run.

The loaders already check what they read; here they collect instead of stopping, a catalogue
with errors is still used to check the rules and tests against it, every offer's and rule's
condition goes through the engine's guards one by one (so that a refusal names its offer), and
each problem is reported once, in file order.

What PATH designates:
- nothing: the catalogue and rules in use (`--catalogue`, `--rules`, the clone the command is run
  in, or the shipped ones);
- a folder holding `catalogues/` and `rules/`: both;
- a catalogue folder or a rules folder: it replaces the one in use (a catalogue folder alone is
  checked with the rules in use, but not with their test cases, written for another catalogue);
  a folder of offers without vocabularies (a draft) is read as files added to the catalogue in use;
- a file or a sub-folder of the catalogue or rules in use: they are checked as a whole, and
  only the problems in that file or folder are reported;
- a file elsewhere: a catalogue file is read as part of the catalogue in use, a rules file
  against it, a test file against the rules in use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from .alertrules import load_alert_cases, load_alert_rules
from .catalogue import load_catalogue
from .conditions import compile_condition, suggest
from .decide import offer_condition
from .engine import EngineRule, Program, check_rule
from .errors import AiguillageError, CompileError, Issue, IssueCollector, IssueList, Location
from .model import Catalogue, Policy
from .paths import default_catalogue, default_rules
from .policy import load_policy
from .ruletest import load_cases
from .territory import TerritoryGraph, TerritoryIndex, default_index
from .workspace import Workspace
from .files import files_with_section, input_problem, sections_of, yaml_files

CATALOGUE_SECTIONS = ("offres", "perimetres", "thematiques", "besoins", "programmes")
RULES_SECTIONS = ("regles", "tests", "alertes", "tests_alertes")


def kind_of(path: Path) -> str | None:
    """« catalogue » or « regles » for a file or folder, from the sections its files have."""
    found: set[str] = set()
    known = CATALOGUE_SECTIONS + RULES_SECTIONS
    for file in yaml_files(path) if path.exists() else []:
        for name in sections_of(file):  # a misspelt section counts as the one it was meant to be
            found.update([name] if name in known else suggest(name, known)[:1])
    catalogue, rules = bool(found & set(CATALOGUE_SECTIONS)), bool(found & set(RULES_SECTIONS))
    if catalogue and not rules:
        return "catalogue"
    if rules and not catalogue:
        return "regles"
    return None


@dataclass(frozen=True)
class CheckTarget:
    """What is loaded, and which of the problems found are reported."""

    catalogue: Path
    rules: Path
    extra_catalogue_files: tuple[Path, ...] = ()
    rules_file: Path | None = None  # a rules file outside the rules folder, checked alone
    extra_test_files: tuple[Path, ...] = ()
    only: Path | None = None  # report the problems of this file or folder only
    with_tests: bool = True  # the test cases of the rules folder (not when only a catalogue is given)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def target_for(path: Path | None, catalogue_dir: Path | None = None, rules_dir: Path | None = None) -> CheckTarget:
    """Read PATH the way the module docstring says."""
    catalogue = Path(catalogue_dir or default_catalogue()).absolute()
    rules = Path(rules_dir or default_rules()).absolute()
    if path is None:
        return CheckTarget(catalogue, rules)
    path = Path(path).absolute()
    problem = None if path.is_dir() else input_problem(path)
    if problem:
        raise AiguillageError(problem, Location(str(path)))
    if path.is_dir() and (path / "catalogues").is_dir() and (path / "rules").is_dir():
        return CheckTarget(path / "catalogues", path / "rules")
    if _inside(path, catalogue) or _inside(path, rules):
        return CheckTarget(catalogue, rules, only=None if path in (catalogue, rules) else path)
    kind = kind_of(path)
    if path.is_dir():
        if kind == "catalogue" and not _has_vocabularies(path):
            # Offers without vocabularies (a draft from `catalogue import`, a region being written) cannot be a
            # catalogue of their own: they are checked as files added to the catalogue in use.
            return CheckTarget(catalogue, rules, extra_catalogue_files=tuple(yaml_files(path)), only=path)
        if kind == "catalogue":  # the rules' test cases are about the catalogue they came with
            return CheckTarget(path, rules, with_tests=rules_dir is not None)
        if kind == "regles":
            return CheckTarget(catalogue, path)
        raise AiguillageError(
            f"{path} : ni un dossier de catalogue (offres, perimetres, vocabulaires) ni un dossier de règles "
            "(regles, tests) — ou les deux mêlés : donnez --catalogue et --rules"
        )
    if kind == "regles":
        if sections_of(path) & {"regles", "alertes"}:
            return CheckTarget(catalogue, rules, rules_file=path, only=path)
        return CheckTarget(catalogue, rules, extra_test_files=(path,), only=path)
    return CheckTarget(catalogue, rules, extra_catalogue_files=(path,), only=path)


def _has_vocabularies(folder: Path) -> bool:
    return any(sections_of(f) & {"thematiques", "besoins"} for f in yaml_files(folder))


@dataclass
class CheckReport(IssueList):
    issues: list[Issue]
    hidden: int = 0  # problems found elsewhere than in the file asked about
    counts: dict[str, int] = field(default_factory=dict)


# What the engine's own error codes mean for an author (durable_rules' rules.h).
ENGINE_CODES = {
    "113": "trop de tests dans une même branche de la condition pour le moteur (31 au plus) : scindez-la ou "
           "regroupez les valeurs en listes",
}


def _engine_guards(catalogue: Catalogue | None, policy: Policy | None, issues: IssueCollector) -> None:
    """Every offer's and rule's condition through the engine's guards, one at a time, located;
    then all of them given to the engine as one program, and, if it refuses, one at a time again
    so that the refusal names its offer or rule."""
    named: list[tuple[str, str, EngineRule, Location | None]] = []
    for offre in catalogue.offres if catalogue else ():
        if not offre.repli:
            where = (offre.conditions.location if offre.conditions is not None else None) or offre.location
            named.append(("offre", offre.id, EngineRule(offre.id, compile_condition(offer_condition(offre))), where))
    for regle in policy.regles if policy else ():
        named.append(("règle", regle.id, EngineRule(regle.id, compile_condition(regle.quand)),
                      regle.quand.location or regle.location))
    accepted = []
    for what, name, rule, where in named:
        try:
            check_rule(rule)
            accepted.append((what, name, rule, where))
        except CompileError as exc:
            issues.error("moteur", f"{what} « {name} » refusée par le moteur de règles : {_reason(exc, name)}",
                         where, kind=CompileError)
    try:
        Program([rule for _, _, rule, _ in accepted])
    except CompileError:
        for what, name, rule, where in accepted:
            try:
                Program([rule])
            except CompileError as exc:
                issues.error("moteur", f"{what} « {name} » refusée par le moteur de règles : {_reason(exc, name)}",
                             where, kind=CompileError)


def _reason(exc: CompileError, name: str) -> str:
    """The engine's message without the rule name it starts with, and with its error code explained."""
    message = exc.message.removeprefix(f"règle « {name} » ").removeprefix(": ")
    code = message.rsplit("error code: ", 1)[-1].rstrip(")") if "error code: " in message else ""
    return f"{ENGINE_CODES[code]} ({message})" if code in ENGINE_CODES else message


def _usable(catalogue: Catalogue | None) -> Catalogue | None:
    """A catalogue that rules can be checked against: it has its one repli offer."""
    if catalogue is None or sum(o.repli for o in catalogue.offres) != 1:
        return None
    return catalogue


def check(target: CheckTarget, today: dt.date, index: TerritoryIndex | None = None) -> CheckReport:
    """Load everything the target designates, collecting every problem; report each once."""
    index = index or default_index()
    # One collector per stage: a loader returns nothing when its collector holds an error.
    catalogue_issues, policy_issues, issues = IssueCollector(), IssueCollector(), IssueCollector()
    catalogue = load_catalogue(target.catalogue, catalogue_issues, index, today, target.extra_catalogue_files,
                               partial=True)
    catalogue = _usable(catalogue)
    policy = load_policy(target.rules_file or target.rules, catalogue, policy_issues, index)
    issues.issues += catalogue_issues.issues + policy_issues.issues
    _engine_guards(catalogue, policy, issues)
    alert_rules = _alert_rules(target, index, issues)
    files = files_with_section(target.rules, "tests") if target.with_tests else []
    files += [f for f in target.extra_test_files if f not in files]
    cases = []
    if catalogue is not None:
        workspace = Workspace(catalogue, policy or Policy((), "", str(target.rules)),
                              TerritoryGraph(index, catalogue.perimetres.values()))
        cases = load_cases(files, workspace, issues, check_rules=policy is not None)

    alert_files = files_with_section(target.rules_file or target.rules, "tests_alertes") if target.with_tests else []
    alert_files += [f for f in target.extra_test_files if "tests_alertes" in sections_of(f) and f not in alert_files]
    cases += load_alert_cases(alert_files, alert_rules, issues)
    reported, hidden = _select(issues.issues, target.only)
    counts = {
        "offres": len(catalogue.offres) if catalogue else 0,
        "regles": len(policy.regles) if policy else 0,
        "alertes": len(alert_rules),
        "cas_de_test": len(cases),
        # Offers never re-read since written (no verifie_le): counted, not warned one by one.
        "sans_relecture": sum(o.verifie_le is None for o in catalogue.offres) if catalogue else 0,
    }
    return CheckReport(reported, hidden, counts)


def _alert_rules(target: CheckTarget, index: TerritoryIndex, issues: IssueCollector) -> list:
    """The veille's alert rules (`alertes:` sections), checked, and each through the engine's guards."""

    rules = load_alert_rules(target.rules_file or target.rules, issues, index).rules
    for rule in rules:
        try:
            check_rule(EngineRule(rule.id, compile_condition(rule.quand)))
        except CompileError as exc:
            issues.error("moteur", f"alerte « {rule.id} » refusée par le moteur de règles : {_reason(exc, rule.id)}",
                         rule.quand.location or rule.location, kind=CompileError)
    return rules


def _select(found: list[Issue], only: Path | None) -> tuple[list[Issue], int]:
    """Each problem once, in file order; with `only`, those of that file or folder."""
    unique = list(dict.fromkeys(found))
    if only is not None:
        def concerns(issue: Issue) -> bool:
            places = [issue.location, *issue.related]
            return any(p is not None and _inside(Path(p.path).absolute(), only) for p in places)

        kept = [i for i in unique if concerns(i)]
        hidden = len(unique) - len(kept)
    else:
        kept, hidden = unique, 0
    kept.sort(key=lambda i: (i.location or Location(""), i.severity != "erreur"))
    return kept, hidden


__all__ = ["CheckTarget", "CheckReport", "target_for", "check", "kind_of"]
