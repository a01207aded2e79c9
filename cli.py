"""The `aiguillage` command line: parse options, call the matcher, render. No business logic here.

Exit codes: 0 done; 1 invalid input, catalogue or rules (one line per problem on stderr,
`file:line:column: message`); 2 usage error; 3 internal error (the traceback is written to a
file whose name is given); 130 interrupted. A file that is missing, a folder, or cannot be written
is the user's environment, said by the reader or writer of that file (exit 1), not a usage error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable

import click

from matcher import __version__, clickfr
from matcher.errors import AiguillageError, OptionValueError

clickfr.install()  # click's usage errors and help words in French, before any command is declared

EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 2, 3, 130


def format_option(*choices: str, default: str = "text") -> Callable:
    """The one `--format` option, with the choices a command supports."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Format de sortie (stdout).",
    )


def workspace_options(func: Callable) -> Callable:
    """`--catalogue DIR` and `--rules DIR`, on every command that reads them."""
    func = click.option(
        "--rules",
        "rules_dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="Dossier de règles à utiliser à la place des règles livrées.",
    )(func)
    return click.option(
        "--catalogue",
        "catalogue_dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="Dossier de catalogue à utiliser à la place du catalogue livré.",
    )(func)


def date_option(func: Callable) -> Callable:
    return click.option(
        "--date",
        "decision_date",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        help="Date de la décision (AAAA-MM-JJ) ; par défaut aujourd'hui.",
    )(func)


def dsfr_option(func: Callable) -> Callable:
    """`--dsfr DIR`, on every command that writes HTML: the Système de design de l'État installed locally."""
    return click.option(
        "--dsfr",
        "dsfr_dir",
        type=click.Path(path_type=Path, file_okay=False, exists=True),
        help="Dossier du Système de design de l'État installé localement (npm @gouvfr/dsfr) : ses styles "
             "s'ajoutent aux styles neutres des pages HTML.",
    )(func)


def _dsfr_css(dsfr_dir: Path | None) -> str | None:
    """The DSFR's stylesheet that `--dsfr` names, read once (a folder without it: exit 1, said in French)."""
    from matcher.templating import dsfr_stylesheet

    return dsfr_stylesheet(dsfr_dir) if dsfr_dir is not None else None


_OPTIONS = {"thematiques": "--thematique", "besoins": "--besoin", "programmes": "--programme"}


def _option_name(field: str) -> str:
    """Where a demande field came from when it was given as options."""
    return _OPTIONS.get(field, f"--{field.replace('_', '-')}")


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="aiguillage")
def main_group() -> None:
    """Aiguillage : oriente une demande d'appui en ingénierie vers le niveau le plus proche qui
    peut y répondre (instruction ANCT du 15 mai 2020 : subsidiarité).

    Exemple : aiguillage route --porteur 16015 --thematique revitalisation --besoin diagnostic
    """


@main_group.command()
@click.argument("demande_file", required=False, type=click.Path(path_type=Path))
@click.option("--porteur", help="Commune (code INSEE), EPCI (SIREN), departement:NN ou region:NN.")
@click.option("--thematique", "thematiques", multiple=True, help="Thématique (répétable).")
@click.option("--besoin", "besoins", multiple=True, help="Besoin (répétable).")
@click.option("--programme", "programmes", multiple=True, help="Programme de l'ANCT dont relève le projet (répétable).")
@click.option("--complexe", is_flag=True, help="Projet complexe.")
@click.option("--saisine", type=click.Choice(["dt", "directe"]), default="dt", show_default=True,
              help="dt : par le délégué territorial ; directe : l'agence saisie directement.")
@click.option("--type-porteur", type=click.Choice(["commune", "epci", "departement", "region", "autre"]),
              help="Nature du porteur, si elle diffère du territoire (syndicat, association : autre).")
@click.option("--population", help="Population (par défaut : le chiffre officiel du territoire) : 12500, « 12 500 ».")
@click.option("--montant", help="Montant du projet en euros : 250000, « 250 000 € », « 1,5 M€ », « 300 k€ ».")
@click.option("--id", "demande_id", default="demande", show_default=True, help="Identifiant de la demande.")
@click.option("--intitule", default="", help="Intitulé du projet.")
@date_option
@format_option("text", "json")
@workspace_options
def route(
    demande_file: Path | None,
    porteur: str | None,
    thematiques: tuple[str, ...],
    besoins: tuple[str, ...],
    programmes: tuple[str, ...],
    complexe: bool,
    saisine: str,
    type_porteur: str | None,
    population: str | None,
    montant: str | None,
    demande_id: str,
    intitule: str,
    decision_date: dt.datetime | None,
    output_format: str,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """Oriente une demande et explique pourquoi.

    \b
    Exemples :
      aiguillage route --porteur 16015 --thematique revitalisation --besoin diagnostic
      aiguillage route --porteur 29155 --thematique eau --besoin amo --format json
      aiguillage route demande.yaml
    """
    from matcher.demande import read_demande_file
    from matcher.render import decision_dict, decision_text
    from matcher.workspace import load_workspace

    if demande_file is not None and porteur:
        raise click.UsageError("donnez soit un fichier de demande, soit --porteur, pas les deux")
    if demande_file is None and not porteur:
        raise click.UsageError("indiquez --porteur (et --thematique, --besoin) ou un fichier de demande")
    day = _day(decision_date)
    workspace = load_workspace(catalogue_dir, rules_dir, today=day)
    if demande_file is not None:
        data, where = read_demande_file(demande_file)
    else:
        data = {
            "id": demande_id,
            "intitule": intitule,
            "porteur": porteur,
            "thematiques": list(thematiques),
            "besoins": list(besoins),
            "programmes": list(programmes),
            "complexite": "complexe" if complexe else "simple",
            "saisine": saisine,
            "type_porteur": type_porteur,
            "population": population,
            "montant": montant,
        }
        where = _option_name
    decision = workspace.route(data, day, where)
    if output_format == "json":
        emit_json(decision_dict(decision))
    else:
        click.echo(decision_text(decision))


@main_group.command()
@click.argument("code")
@format_option("text", "json")
@workspace_options
def territoire(code: str, output_format: str, catalogue_dir: Path | None, rules_dir: Path | None) -> None:
    """Montre la chaîne des niveaux d'un territoire et son délégué territorial.

    \b
    Exemples :
      aiguillage territoire 69381        (un arrondissement de Lyon)
      aiguillage territoire 200046977    (la Métropole de Lyon)
      aiguillage territoire departement:2A --format json
    """
    from matcher.render import territoire_dict, territoire_text
    from matcher.territory import resolve
    from matcher.workspace import load_workspace

    ref, notes = resolve(code)
    t = load_workspace(catalogue_dir, rules_dir).graph.territoire(ref, notes)
    if output_format == "json":
        emit_json(territoire_dict(t))
    else:
        click.echo(territoire_text(t))


# --------------------------------------------------------------------------- backlogs


@main_group.command()
@click.argument("backlog", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Fichier des décisions : .csv, .xlsx ou .parquet (le format suit l'extension).")
@click.option("--previous", type=click.Path(path_type=Path),
              help="Décisions d'un passage précédent : chaque ligne est dite inchangée, nouvelle ou modifiée, avec la cause.")
@click.option("--capacite", "capacity", is_flag=True,
              help="Respecter la capacité annuelle des offres (affectation optimale, au-delà : niveau suivant).")
@click.option("--encoding", type=click.Choice(["utf-8", "utf-8-sig", "cp1252", "latin-1"]),
              help="Encodage du CSV d'entrée (détecté sinon).")
@click.option("--separateur", "separator", type=click.Choice([";", ",", "tab"]),
              help="Séparateur du CSV d'entrée (détecté sinon) ; la sortie CSV reprend celui de l'entrée.")
@click.option("--strict", is_flag=True,
              help="Une ligne en erreur, ou un carnet sans aucune demande, fait échouer la commande (code 1) ; le "
                   "fichier des décisions est écrit quand même.")
@date_option
@format_option("text", "json")
@workspace_options
def batch(
    backlog: Path,
    output: Path,
    previous: Path | None,
    capacity: bool,
    encoding: str | None,
    separator: str | None,
    strict: bool,
    decision_date: dt.datetime | None,
    output_format: str,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """Réoriente un carnet de demandes : une décision par ligne, rien de perdu.

    Lit un CSV (« ; » ou « , », UTF-8 ou Windows-1252), un classeur Excel, un Parquet ou le
    schéma « projets-territoire » ; écrit chaque colonne d'entrée et les colonnes de décision.
    Une ligne qui ne peut pas être orientée reçoit son erreur (ligne, colonne, raison) et le
    fichier est écrit, une ligne de décision par ligne de demande, même si aucune ne peut être
    orientée (code 0 ; code 1 avec --strict). Le résumé va sur stderr (ou en JSON sur stdout avec
    --format json).

    \b
    Exemples :
      aiguillage batch demandes.csv -o decisions.csv
      aiguillage batch demandes.xlsx -o decisions.xlsx --previous decisions-2025.xlsx
      aiguillage batch demandes.parquet -o decisions.parquet --capacite --format json
    """
    from matcher.pipeline import run_batch
    from matcher.errors import BatchInputError, Location
    from matcher.files import input_problem, output_folder
    from matcher.render import batch_summary_text
    from matcher.workspace import load_workspace

    output_folder(output)  # a folder that cannot take the file, or a missing previous file, before the work
    if previous is not None and input_problem(previous):
        raise BatchInputError(input_problem(previous) or "", Location(str(previous)))
    workspace = load_workspace(catalogue_dir, rules_dir, today=_day(decision_date))
    with _progress_bar() as progress:
        summary = run_batch(
            workspace, backlog, output, _day(decision_date), previous=previous, capacity=capacity,
            encoding=encoding, separator="\t" if separator == "tab" else separator, progress=progress,
        )
    if output_format == "json":
        emit_json(summary)
    else:
        click.echo(batch_summary_text(summary), err=True)
    if strict and (summary["erreurs"] or not summary["lignes"]):
        raise click.exceptions.Exit(EXIT_INVALID)


class _progress_bar:
    """A progress bar on stderr for long runs, only when stderr is a terminal."""

    def __enter__(self) -> Callable[[int, int], None] | None:
        self.bar = None
        if not sys.stderr.isatty():
            return None

        def update(done: int, total: int) -> None:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit=" demandes", file=sys.stderr, leave=False, mininterval=0.5)
            self.bar.update(done)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- rule authors' toolkit


@main_group.group()
def rules() -> None:
    """Outils des auteurs du catalogue et des règles : vérifier, analyser, tester, comparer.

    \b
    Exemples :
      aiguillage rules check
      aiguillage rules lint
      aiguillage rules test
      aiguillage rules diff catalogues/ mon-catalogue/ --backlog demandes.csv
    """


def strict_option(func: Callable) -> Callable:
    return click.option("--strict", is_flag=True, help="Les avertissements font aussi échouer (code 1).")(func)


def _report_issues(issues: list, counts: dict[str, int], hidden: int, output_format: str, strict: bool,
                   used: Any = None) -> None:
    """Findings on stderr (`file:line:col: severity: message [code]`) or as JSON on stdout; exit 1 when
    there is an error, or a warning with --strict. The summary says which catalogue and rules were read."""
    from matcher.render import issues_dict, issues_summary

    if output_format == "json":
        data = issues_dict(issues, counts, hidden)
        if used is not None:
            data["resume"].update(used.as_dict())
        emit_json(data)
    else:
        for issue in issues:
            click.echo(str(issue), err=True)
        click.echo(issues_summary(issues, counts, hidden, used.phrase() if used is not None else None), err=True)
    if any(i.severity == "erreur" for i in issues) or (strict and issues):
        raise click.exceptions.Exit(EXIT_INVALID)


@rules.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@strict_option
@date_option
@format_option("text", "json")
@workspace_options
def rules_check(
    path: Path | None,
    strict: bool,
    decision_date: dt.datetime | None,
    output_format: str,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """Vérifie le catalogue, les règles et leurs tests : tous les problèmes en une fois, chacun situé.

    PATH : un dossier de catalogue ou de règles (il remplace celui en usage), un fichier ou un
    sous-dossier (seuls ses problèmes sont montrés) ; par défaut, le catalogue et les règles en usage.
    Un chemin catalogues/… ou rules/… absent du dossier courant désigne un fichier du catalogue ou
    des règles en usage (ceux livrés, après une simple installation).

    \b
    Exemples :
      aiguillage rules check
      aiguillage rules check catalogues/territoires/16-charente.yaml
      aiguillage rules check mon-catalogue/ --strict --format json
    """
    from matcher.paths import in_use
    from matcher.validation import check, target_for

    used = in_use(catalogue_dir, rules_dir)
    if path is not None:
        path = used.locate(path)
    target = target_for(path, catalogue_dir, rules_dir)
    used = used.replaced(target.catalogue, target.rules, "PATH")
    report = check(target, _day(decision_date))
    _report_issues(report.issues, report.counts, report.hidden, output_format, strict, used)


@rules.command("lint")
@click.option("--check", "only", multiple=True, metavar="NOM",
              help="N'exécuter que cette vérification (répétable) ; --list les énumère.")
@click.option("--list", "list_checks", is_flag=True, help="Énumérer les vérifications et s'arrêter.")
@strict_option
@date_option
@format_option("text", "json")
@workspace_options
def rules_lint(
    only: tuple[str, ...],
    list_checks: bool,
    strict: bool,
    decision_date: dt.datetime | None,
    output_format: str,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """Analyse le catalogue et les règles ensemble : offres masquées ou jamais retenues, conditions
    impossibles, règles en conflit, niveaux jamais examinés, périmètres qui dépassent leur niveau.

    Chaque trouvaille nomme les deux endroits en cause. Ce sont des avertissements, sauf quand
    l'erreur est certaine (une condition qui ne peut jamais tenir).

    \b
    Exemples :
      aiguillage rules lint
      aiguillage rules lint --check MaskedOfferCheck --format json
      aiguillage rules lint --list
    """
    from matcher.checks import lint, registered
    from matcher.workspace import load_workspace

    checks = registered()
    if list_checks:
        for name, check_class in checks.items():
            click.echo(f"{name:<32}{check_class.code:<24}{check_class.description}")
        return
    for name in only:
        if name not in checks:
            raise click.BadParameter(f"« {name} » inconnue (aiguillage rules lint --list)", param_hint="--check")
    workspace = load_workspace(catalogue_dir, rules_dir, today=_day(decision_date))
    counts = {"offres": len(workspace.catalogue.offres), "regles": len(workspace.policy.regles)}
    _report_issues(lint(workspace, only), counts, 0, output_format, strict, workspace.in_use())


@rules.command("test")
@click.argument("path", required=False, type=click.Path(path_type=Path, exists=True))
@click.option("--court", "short", is_flag=True, help="Sans l'explication complète des cas en échec.")
@date_option
@format_option("text", "json")
@workspace_options
def rules_test(
    path: Path | None,
    short: bool,
    decision_date: dt.datetime | None,
    output_format: str,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """Exécute les cas de test écrits à côté des règles (fichiers YAML à section « tests: »), avec
    le vrai moteur : chaque échec montre l'attendu, l'obtenu et l'explication de la décision ; une
    ligne de couverture dit quelles règles et quelles offres aucun cas n'exerce.

    PATH : un dossier de règles (ses règles et ses tests), un dossier ou un fichier de tests ; par
    défaut, les règles en usage et leurs tests (rules/tests/).

    \b
    Exemples :
      aiguillage rules test
      aiguillage rules test rules/tests/pilotes.yaml --date 2026-11-26
      aiguillage rules test mes-regles/ --format json
    """
    from matcher.ruletest import run_dict, run_tests, run_text

    run = run_tests(path, catalogue_dir, rules_dir, _day(decision_date))
    if run.invalid:
        _report_issues(run.issues, {"cas_de_test": run.cases}, 0, "text", strict=False)
    if output_format == "json":
        emit_json(run_dict(run))
    else:
        click.echo(run_text(run, explain=not short))
    if run.failed:
        raise click.exceptions.Exit(EXIT_INVALID)


@rules.command("diff")
@click.argument("old", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("new", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--backlog", type=click.Path(path_type=Path),
              help="Carnet de demandes (CSV, Excel, Parquet) routé des deux côtés : les lignes qui changeraient.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Avec --backlog : écrire les lignes qui changeraient (.csv, .xlsx ou .parquet).")
@date_option
@format_option("text", "json")
@workspace_options
def rules_diff(
    old: Path,
    new: Path,
    backlog: Path | None,
    output: Path | None,
    decision_date: dt.datetime | None,
    output_format: str,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """Ce que change une modification du catalogue ou des règles, avant de la livrer : offres,
    périmètres, vocabulaires et règles ajoutés, retirés, modifiés (champ par champ) ; avec
    --backlog, les demandes du carnet qui changeraient d'orientation, comptées par cause.

    OLD et NEW : chacun un dossier qui contient catalogues/ et rules/, un dossier de catalogue ou un
    dossier de règles (l'autre moitié est alors celle en usage).

    \b
    Exemples :
      aiguillage rules diff catalogues/ ../brouillon/catalogues/
      aiguillage rules diff rules/ nouvelles-regles/ --backlog demandes.csv -o changements.csv
      aiguillage rules diff ancien/ nouveau/ --format json
    """
    from matcher.diff import backlog_impact, compare, load_sides, report_dict, report_text, write_changes

    if output is not None and backlog is None:
        raise click.UsageError("-o/--output écrit les lignes d'un carnet : donnez aussi --backlog")
    if output is not None:
        from matcher.files import output_folder

        output_folder(output)
    day = _day(decision_date)
    before, after = load_sides(old, new, catalogue_dir, rules_dir, day)
    diff = compare(before, after)
    impact = backlog_impact(before, after, diff, backlog, day) if backlog is not None else None
    labels = (str(old), str(new))
    if output is not None and impact is not None:
        write_changes(impact, output)
    if output_format == "json":
        emit_json(report_dict(diff, labels, impact))
    else:
        click.echo(report_text(diff, labels, impact))


@rules.command("schema")
@click.option("--kind", type=click.Choice(["catalogue", "regles"]), default="catalogue", show_default=True,
              help="Format décrit : fichiers de catalogue ou fichiers de règles (et leurs tests).")
@workspace_options
def rules_schema(kind: str, catalogue_dir: Path | None, rules_dir: Path | None) -> None:
    """Écrit le schéma JSON (draft-07) des fichiers YAML, pour qu'un éditeur complète et vérifie la
    saisie : les mots du vocabulaire du catalogue en usage y sont des listes de valeurs.

    \b
    Exemples :
      aiguillage rules schema > catalogue.schema.json
      aiguillage rules schema --kind regles > regles.schema.json
      (VS Code, extension YAML : « yaml.schemas »: {"catalogue.schema.json": "catalogues/**/*.yaml"})
    """
    from matcher.schema import json_schema
    from matcher.workspace import load_workspace

    vocabularies = load_workspace(catalogue_dir, rules_dir).catalogue.vocabularies
    emit_json(json_schema(kind, vocabularies))


@main_group.group()
def catalogue() -> None:
    """Outils des auteurs du catalogue : importer des offres d'autres plateformes en brouillon.

    \b
    Exemples :
      aiguillage catalogue import aides.csv -o brouillon/
      aiguillage catalogue import aides.json -o brouillon/ --correspondances mes-correspondances.yaml
    """


@catalogue.command("import")
@click.argument("export", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Dossier où écrire les brouillons (un fichier YAML par département, région ou « national »).")
@click.option("--correspondances", type=click.Path(path_type=Path, dir_okay=False),
              help="Correspondances catégories, types et porteurs → vocabulaire (par défaut : celles livrées, "
                   "matcher/data/correspondances-aides-territoires.yaml, à copier pour les modifier).")
@date_option
@format_option("text", "json")
@workspace_options
def catalogue_import(
    export: Path,
    output: Path,
    correspondances: Path | None,
    decision_date: dt.datetime | None,
    output_format: str,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """Fait d'un export d'Aides-territoires (CSV ou JSON de son API) des offres en brouillon, un
    fichier par département : périmètre déduit du porteur, catégories traduites dans le
    vocabulaire, page de l'aide comme source, et chaque devinette notée dans « a_verifier ».
    Une aide qui n'est pas de l'ingénierie, dont le territoire ou les thématiques ne se
    déduisent pas, ou déjà au catalogue, n'est pas importée : la liste dit pourquoi. Le
    brouillon est ensuite vérifié comme « rules check » le ferait.

    \b
    Exemples :
      aiguillage catalogue import aides-ingenierie.csv -o brouillon/
      aiguillage catalogue import aides.json -o brouillon/ --correspondances correspondances.yaml
      aiguillage rules check brouillon/
    """
    from matcher.aides_territoires import import_export
    from matcher.paths import in_use
    from matcher.territory import default_index
    from matcher.validation import check, target_for
    from matcher.workspace import load_workspace

    day = _day(decision_date)
    workspace = load_workspace(catalogue_dir, rules_dir, today=day)
    draft, files, kind = import_export(export, output, workspace.catalogue, default_index(), correspondances, day)
    report = check(target_for(output, catalogue_dir, rules_dir), day) if files else None
    errors = len(report.errors) if report else 0
    summary = {
        "export": str(export), "format": kind, "dossier": str(output),
        "offres": draft.count, "fichiers": [str(f) for f in files],
        "non_importees": draft.skipped,
        "verification": {"erreurs": errors, "avertissements": len(report.warnings) if report else 0},
        "catalogue_et_regles": in_use(catalogue_dir, rules_dir).phrase(),
    }
    if output_format == "json":
        emit_json(summary)
    else:
        for line in draft.skipped:
            click.echo(f"non importée : {line}", err=True)
        if report:
            for issue in report.errors:
                click.echo(str(issue), err=True)
        click.echo(f"{draft.count} offre{'s' if draft.count > 1 else ''} en brouillon dans {len(files)} "
                   f"fichier{'s' if len(files) > 1 else ''} sous {output}, {len(draft.skipped)} aide"
                   f"{'s' if len(draft.skipped) > 1 else ''} non importée{'s' if len(draft.skipped) > 1 else ''} ; "
                   f"vérification : {errors} erreur{'s' if errors > 1 else ''}, "
                   f"{summary['verification']['avertissements']} avertissements (dont chaque offre à vérifier : "
                   f"aiguillage rules check {output})", err=True)
    if errors:
        raise click.exceptions.Exit(EXIT_INVALID)


@main_group.command()
@format_option("text", "json", "markdown")
@workspace_options
def vocabulaire(output_format: str, catalogue_dir: Path | None, rules_dir: Path | None) -> None:
    """Liste le vocabulaire du catalogue en usage : thématiques (chacune sous son parent, qui la
    sert aussi), besoins et programmes, avec leurs libellés.

    \b
    Exemples :
      aiguillage vocabulaire
      aiguillage vocabulaire --format json
      aiguillage vocabulaire --catalogue mon-catalogue/ --format markdown
    """
    from matcher.render import vocabulary_dict, vocabulary_markdown, vocabulary_text
    from matcher.workspace import load_workspace

    vocabularies = load_workspace(catalogue_dir, rules_dir).catalogue.vocabularies
    if output_format == "json":
        emit_json(vocabulary_dict(vocabularies))
    elif output_format == "markdown":
        click.echo(vocabulary_markdown(vocabularies))
    else:
        click.echo(vocabulary_text(vocabularies))


@main_group.command()
@click.option("--departement", "departements", multiple=True, metavar="NN",
              help="Ce département seulement (répétable) ; par défaut, tous.")
@click.option("--thematique", "thematiques", multiple=True, help="Cette thématique seulement (répétable).")
@click.option("--besoin", "besoins", multiple=True, help="Ce besoin seulement (répétable).")
@date_option
@format_option("text", "csv", "json", "html", "svg")
@dsfr_option
@workspace_options
def coverage(
    departements: tuple[str, ...],
    thematiques: tuple[str, ...],
    besoins: tuple[str, ...],
    decision_date: dt.datetime | None,
    output_format: str,
    dsfr_dir: Path | None,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """Carte des « zones blanches » d'ingénierie : pour chaque département × thématique × besoin,
    le niveau le plus proche qui sert une commune type du département (population médiane de
    ses communes membres d'un EPCI ; projet simple, saisine par le DT).

    text : une ligne par département ; csv, json : une ligne par département × thématique × besoin ;
    svg : la carte des départements colorée par la part servie localement, l'outre-mer en encart ;
    html : la carte et les tableaux dans une seule page.

    \b
    Exemples :
      aiguillage coverage
      aiguillage coverage --format html > couverture.html
      aiguillage coverage --departement 16 --format csv > charente.csv
    """
    from matcher.coverage import as_json, check_filters, compute, csv_text, summary_text
    from matcher.coverage_map import render_html, render_svg
    from matcher.workspace import load_workspace

    dsfr_css = _dsfr_css(dsfr_dir) if output_format == "html" else None
    day = _day(decision_date)
    workspace = load_workspace(catalogue_dir, rules_dir, today=day)
    voc = workspace.catalogue.vocabularies  # words read as a demande's are: « Santé » is sante
    thematiques = tuple(voc["thematiques"].find(w) or w for w in thematiques)
    besoins = tuple(voc["besoins"].find(w) or w for w in besoins)
    departements = check_filters(workspace, departements, thematiques, besoins)
    result = compute(workspace, day, departements or None, thematiques or None, besoins or None)
    if output_format == "json":
        emit_json(as_json(result))
    elif output_format == "csv":
        click.echo(csv_text(result), nl=False)
    elif output_format == "svg":
        click.echo(render_svg(result))
    elif output_format == "html":
        click.echo(render_html(result, workspace.catalogue.vocabularies, dsfr_css))
    else:
        click.echo(summary_text(result))


# --------------------------------------------------------------------------- governance


def decisions_options(func: Callable) -> Callable:
    """`--decisions FILE` and the period `--du`/`--au`, on every command that reads a decisions file."""
    func = click.option("--au", "end", type=click.DateTime(formats=["%Y-%m-%d"]),
                        help="Seulement les demandes déposées jusqu'à ce jour inclus (AAAA-MM-JJ).")(func)
    func = click.option("--du", "start", type=click.DateTime(formats=["%Y-%m-%d"]),
                        help="Seulement les demandes déposées à partir de ce jour (AAAA-MM-JJ).")(func)
    return click.option("--decisions", "decisions_file", required=True,
                        type=click.Path(path_type=Path),
                        help="Fichier de décisions écrit par « aiguillage batch » (.csv, .xlsx, .parquet).")(func)


def _output_kind(output: Path | None, allowed: tuple[str, ...]) -> str | None:
    if output is None:
        return None
    from matcher.files import output_folder

    suffix = output.suffix.lower().lstrip(".")
    if suffix not in allowed:
        raise click.BadParameter(f"extension « .{suffix} » : {', '.join('.' + a for a in allowed)} attendue",
                                 param_hint="-o/--output")
    output_folder(output)
    return suffix


def _period(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.date | None, dt.date | None]:
    return (start.date() if start else None, end.date() if end else None)


def _written(path: Path, what: str) -> None:
    click.echo(f"{what} → {path}", err=True)


@main_group.group()
def report() -> None:
    """Rapports de gouvernance tirés d'un fichier de décisions : comité local de cohésion territoriale,
    comité régional des financeurs, impact de l'agence (instruction ANCT du 15 mai 2020).

    Chaque chiffre renvoie aux demandes qu'il compte (annexe des pages HTML, « ids » du JSON).

    \b
    Exemples :
      aiguillage report comite-local --departement 16 --decisions decisions.csv -o comite-16.html
      aiguillage report comite-regional --region 53 --decisions decisions.csv -o financeurs.xlsx
      aiguillage report impact --decisions decisions.csv --previous decisions-2025.csv -o impact.html
    """


@report.command("comite-local")
@click.option("--departement", required=True, metavar="NN", help="Le département du comité (code : 16, 2A, 974…).")
@decisions_options
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Page HTML à écrire (par défaut : sur la sortie standard).")
@date_option
@dsfr_option
@workspace_options
def report_comite_local(
    departement: str,
    decisions_file: Path,
    start: dt.datetime | None,
    end: dt.datetime | None,
    output: Path | None,
    decision_date: dt.datetime | None,
    dsfr_dir: Path | None,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """La page du comité local de cohésion territoriale d'un département : l'ingénierie mobilisable
    localement (offres par niveau et thématique, contacts, sources), la carte de couverture et les
    zones blanches, les décisions de la période par niveau, thématique et EPCI, ce qui est allé à
    l'agence et pourquoi, les demandes qui attendent l'avis du délégué territorial.

    Une seule page HTML autonome (styles et graphiques intégrés, imprimable). --date fixe le jour
    auquel sont lus le catalogue et les délais d'avis (par défaut aujourd'hui).

    \b
    Exemples :
      aiguillage report comite-local --departement 16 --decisions decisions.csv -o comite-16.html
      aiguillage report comite-local --departement 29 --decisions decisions.xlsx --du 2026-01-01 --au 2026-06-30 > comite.html
    """
    from matcher.decisions import read_period
    from matcher.report.comite_local import build
    from matcher.report.page import write_text
    from matcher.territory import known_code
    from matcher.workspace import load_workspace

    _output_kind(output, ("html", "htm"))
    dsfr_css = _dsfr_css(dsfr_dir)
    day = _day(decision_date)
    workspace = load_workspace(catalogue_dir, rules_dir, today=day)
    code = known_code(departement, workspace.graph.index.departements, "--departement")
    decisions, undated = read_period(decisions_file, *_period(start, end))
    page = build(workspace, decisions, code, day, *_period(start, end), undated, dsfr_css)
    if output is None:
        click.echo(page)
    else:
        write_text(page, output)
        _written(output, f"comité local du {code}")


@report.command("comite-regional")
@click.option("--region", required=True, metavar="NN", help="La région du comité (code INSEE : 53, 75, 84…).")
@decisions_options
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Tableur à remplir (.xlsx, .csv) ou page (.html) ; sans -o, un résumé sur la sortie standard.")
@date_option
@dsfr_option
@workspace_options
def report_comite_regional(
    region: str,
    decisions_file: Path,
    start: dt.datetime | None,
    end: dt.datetime | None,
    output: Path | None,
    decision_date: dt.datetime | None,
    dsfr_dir: Path | None,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """La liste du comité régional des financeurs : les demandes de la région orientées vers
    l'agence ou un opérateur partenaire, groupées par porteur de l'appui, avec le délégué territorial
    de chacune, les montants, les programmes, l'avis du DT, et les colonnes où consigner la décision
    du comité, ses modalités et sa notification par le DT.

    \b
    Exemples :
      aiguillage report comite-regional --region 53 --decisions decisions.csv -o financeurs-bretagne.xlsx
      aiguillage report comite-regional --region 75 --decisions decisions.csv --du 2026-07-01 -o liste.csv
      aiguillage report comite-regional --region 84 --decisions decisions.parquet -o comite.html
    """
    from matcher.decisions import read_period
    from matcher.report.comite_regional import build_html, select, sheet, summary_text, write_sheet
    from matcher.report.page import write_text
    from matcher.territory import known_code
    from matcher.workspace import load_workspace

    kind = _output_kind(output, ("xlsx", "csv", "html", "htm"))
    dsfr_css = _dsfr_css(dsfr_dir) if kind in ("html", "htm") else None
    day = _day(decision_date)
    workspace = load_workspace(catalogue_dir, rules_dir, today=day)
    code = known_code(region, workspace.graph.index.regions, "--region")
    decisions, _ = read_period(decisions_file, *_period(start, end))
    if kind in ("html", "htm"):
        write_text(build_html(workspace, decisions, code, day, dsfr_css), output)
        _written(output, f"comité régional des financeurs, région {code}")
        return
    frame = sheet(workspace, select(decisions, code), day)
    if output is None:
        click.echo(summary_text(frame, code))
        return
    write_sheet(frame, output)
    _written(output, f"{len(frame)} demandes pour le comité régional des financeurs, région {code}")


@report.command("notifications")
@click.option("--comite", "workbook", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Classeur écrit par « report comite-regional -o LISTE.xlsx » et rempli par le comité.")
@click.option("-o", "--output", "folder", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Dossier où écrire les lettres (une par demande décidée) et synthese.html.")
@date_option
@dsfr_option
def report_notifications(workbook: Path, folder: Path, decision_date: dt.datetime | None, dsfr_dir: Path | None) -> None:
    """Les lettres qui notifient à chaque porteur la décision du comité régional des financeurs,
    signées par le préfet de son département, délégué territorial de l'agence : une page HTML
    imprimable par demande décidée (porteur, projet, décision et modalités, financeurs), et une
    synthèse de ce qui est notifié et de ce qui manque (demandes sans décision, sans date du comité).

    Une lettre est datée du jour de la colonne notification_dt_le, sinon de --date (aujourd'hui).

    \b
    Exemples :
      aiguillage report notifications --comite financeurs-bretagne.xlsx -o notifications/
      aiguillage report notifications --comite liste.xlsx -o lettres --date 2026-12-15
    """
    from matcher.report.notifications import read_workbook, summary_text, write_letters

    dsfr_css = _dsfr_css(dsfr_dir)
    notifications = read_workbook(workbook, _day(decision_date))
    summary = write_letters(notifications, folder, workbook, dsfr_css)
    click.echo(summary_text(notifications, folder), err=True)
    _written(summary, "synthèse des notifications")


@report.command("impact")
@decisions_options
@click.option("--previous", type=click.Path(path_type=Path),
              help="Décisions précédentes (un autre passage de « aiguillage batch ») : mesures comparées, demandes "
                   "rapprochées ou éloignées.")
@click.option("--pas", "step", type=click.Choice(["mois", "trimestre"]), default="mois", show_default=True,
              help="Pas de temps des mesures dans le temps (date de dépôt).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Page (.html) ou données (.json, avec les identifiants derrière chaque chiffre) ; sans -o, les "
                   "tableaux en texte.")
@date_option
@dsfr_option
@workspace_options
def report_impact(
    decisions_file: Path,
    start: dt.datetime | None,
    end: dt.datetime | None,
    previous: Path | None,
    step: str,
    output: Path | None,
    decision_date: dt.datetime | None,
    dsfr_dir: Path | None,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """Les mesures de subsidiarité : part des demandes servies à chaque niveau, part résolue
    localement, escalades et leurs causes — par département, région, thématique et dans le temps
    (date de dépôt) ; avis du DT ; avec --previous, l'évolution depuis des décisions précédentes.

    \b
    Exemples :
      aiguillage report impact --decisions decisions.csv
      aiguillage report impact --decisions decisions.csv --pas trimestre -o impact.html
      aiguillage report impact --decisions decisions.csv --previous decisions-2025.csv -o impact.json
    """
    from matcher.decisions import read_period
    from matcher.report.impact import measures, render_html, render_text
    from matcher.report.page import write_text
    from matcher.workspace import load_workspace

    kind = _output_kind(output, ("html", "htm", "json"))
    dsfr_css = _dsfr_css(dsfr_dir) if kind in ("html", "htm") else None
    day = _day(decision_date)
    workspace = load_workspace(catalogue_dir, rules_dir, today=day)
    decisions, _ = read_period(decisions_file, *_period(start, end))
    before = read_period(previous, *_period(start, end))[0] if previous is not None else None
    result = measures(workspace, decisions, day, step, before, *_period(start, end))
    if kind is None:
        click.echo(render_text(result))
    elif kind == "json":
        write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", output)
        _written(output, "mesures d'impact")
    else:
        write_text(render_html(result, dsfr_css), output)
        _written(output, "mesures d'impact")


@main_group.command()
@click.option("--decisions", "decisions_file", type=click.Path(path_type=Path),
              help="Fichier de décisions écrit par « aiguillage batch » (.csv, .xlsx, .parquet).")
@click.option("--fenetre", "window", type=click.IntRange(1, 3660), default=90, metavar="JOURS", show_default=True,
              help="Longueur en jours des fenêtres comparées par l'indicateur « departement ».")
@click.option("--regle", "only", multiple=True, metavar="ID", help="Cette règle d'alerte seulement (répétable).")
@click.option("--indicateurs", "list_indicators", is_flag=True,
              help="Décrire les indicateurs et leurs champs (pour écrire une règle) et s'arrêter.")
@date_option
@format_option("text", "json")
@workspace_options
def alertes(
    decisions_file: Path | None,
    window: int,
    only: tuple[str, ...],
    list_indicators: bool,
    decision_date: dt.datetime | None,
    output_format: str,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """Veille et alerte : les règles d'alerte (sections « alertes: » des fichiers de règles) sont
    exécutées par le moteur de règles sur les indicateurs d'un fichier de décisions — part des
    demandes vers l'agence par département, thématiques sans offre locale dans une région, charge et
    validité des offres, avis du DT attendus. Chaque alerte dit quoi, où, depuis quand, et quelle
    règle l'a levée, avec les demandes derrière elle.

    --date fixe le jour d'observation (par défaut aujourd'hui) ; « depuis quand » relit le fichier
    tel qu'il était les jours précédents.

    \b
    Exemples :
      aiguillage alertes --decisions decisions.csv
      aiguillage alertes --decisions decisions.parquet --format json > alertes.json
      aiguillage alertes --decisions decisions.csv --regle avis-dt-en-attente --date 2026-11-26
      aiguillage alertes --indicateurs
    """
    from matcher.alertrules import describe_indicators, selected_rules
    from matcher.alerts import AlertEngine, as_json, render_text, run_alerts
    from matcher.decisions import read_decisions
    from matcher.indicators import Indicators
    from matcher.paths import default_rules
    from matcher.workspace import load_workspace

    if list_indicators:
        click.echo(describe_indicators())
        return
    if decisions_file is None:
        raise click.UsageError("indiquez --decisions FICHIER (ou --indicateurs)")
    day = _day(decision_date)
    workspace = load_workspace(catalogue_dir, rules_dir, today=day)
    rules = selected_rules(Path(rules_dir or default_rules()), only)
    decisions = read_decisions(decisions_file)
    alerts = run_alerts(Indicators(decisions, workspace.catalogue, workspace.graph, window), AlertEngine(rules), day)
    if output_format == "json":
        emit_json(as_json(alerts, rules, str(decisions_file), len(decisions.rows), day))
    else:
        click.echo(render_text(alerts, rules, str(decisions_file), len(decisions.rows), day))


@main_group.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Adresse d'écoute (127.0.0.1 : cette machine seulement).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, metavar="PORT", show_default=True, help="Port d'écoute.")
@dsfr_option
@click.option("--max-lignes", "max_rows", type=click.IntRange(1), default=50_000, metavar="LIGNES", show_default=True,
              help="Lignes au plus d'un carnet envoyé.")
@click.option("--max-mo", "max_mb", type=click.IntRange(1, 1024), default=20, metavar="MO", show_default=True,
              help="Taille au plus d'un fichier envoyé, en Mo.")
@click.option("--delai", "seconds", type=click.FloatRange(1, 3600), default=60, metavar="SECONDES", show_default=True,
              help="Durée au plus d'une requête, en secondes (au-delà : message d'erreur).")
@date_option
@workspace_options
def serve(
    host: str,
    port: int,
    dsfr_dir: Path | None,
    max_rows: int,
    max_mb: int,
    seconds: float,
    decision_date: dt.datetime | None,
    catalogue_dir: Path | None,
    rules_dir: Path | None,
) -> None:
    """La page web du bureau du délégué territorial : orienter une demande et partager la décision
    (son adresse est le lien), réorienter un carnet déposé, la couverture, la page du comité local.

    Un seul processus ; le moteur de règles est appelé une requête à la fois.

    \b
    Exemples :
      aiguillage serve                          (http://127.0.0.1:8000/)
      aiguillage serve --port 8080 --date 2026-11-26
      aiguillage serve --dsfr node_modules/@gouvfr/dsfr
    """
    import uvicorn

    from matcher.web import Limits, Service, create_app, server_settings

    service = Service(catalogue_dir, rules_dir, decision_date.date() if decision_date else None, dsfr_dir,
                      Limits(upload_bytes=max_mb * 1024 * 1024, rows=max_rows, seconds=seconds))
    click.echo(f"Aiguillage : http://{host}:{port}/ (Ctrl-C pour arrêter)", err=True)
    try:
        uvicorn.run(create_app(service), host=host, port=port, log_level="warning", workers=1, **server_settings())
    finally:
        service.close()


def _internal_error(exc: BaseException) -> int:
    handle, path = tempfile.mkstemp(prefix="aiguillage-erreur-", suffix=".txt")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=out)
    click.echo(f"aiguillage : erreur interne ({type(exc).__name__}: {exc}) — détails dans {path}", err=True)
    return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    """Run the command line; every exception becomes an exit code here, and only here."""
    try:
        result = main_group.main(args=argv, prog_name="aiguillage", standalone_mode=False)
        # Without standalone mode, click returns the code of a `click.exceptions.Exit` instead of raising it.
        return result if isinstance(result, int) else 0
    except OptionValueError as exc:  # a value that names nothing known: a usage error, as click's own
        click.BadParameter(exc.message, param_hint=exc.option).show()
        return EXIT_USAGE
    except AiguillageError as exc:
        click.echo(str(exc), err=True)
        return EXIT_INVALID
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("interrompu", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrompu", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `aiguillage ... | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # the user's environment (a file, a folder, a full disk), not a fault of the program
        from matcher.files import os_problem

        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"{where}{os_problem(exc)}", err=True)
        return EXIT_INVALID
    except Exception as exc:  # noqa: BLE001 - the one place that turns the unexpected into exit 3
        return _internal_error(exc)


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
