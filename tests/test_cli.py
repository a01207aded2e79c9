"""`aiguillage route` and `territoire` as a DT uses them: stdout, stderr, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import cli
from clirun import run
from conftest import FIXTURES, TODAY

DATE = ["--date", TODAY.isoformat()]
MINI = FIXTURES / "ok" / "mini-catalogue"
MINI_RULES = FIXTURES / "ok" / "mini-rules"


def route(*args: str):
    return run("route", *args, *DATE)


def test_route_prints_the_decision_in_french():
    result = route("--porteur", "29155", "--thematique", "eau", "--besoin", "amo")
    assert result.code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[1] == "  Porteur : Ouessant (commune:29155)"
    assert lines[3] == "  Délégué territorial : Préfet du Finistère (29)"
    assert "Décision : niveau départemental — " in result.stdout
    assert "  intercommunal  sans objet — la commune n'appartient à aucun EPCI à fiscalité propre" in lines


def test_route_json_is_the_object_of_the_spec():
    result = route("--porteur", "69381", "--thematique", "paysage", "--besoin", "conseil", "--format", "json")
    decision = json.loads(result.stdout)
    assert decision["demande"]["porteur"] == "commune:69123"
    assert decision["territoire"] == {
        "commune": "69123", "epci": "200046977", "departement": "69", "region": "84", "nom": "Lyon",
        "zone": "metro", "population": 519127,
        "niveaux": {"communal": "Lyon (69123)", "intercommunal": "Métropole de Lyon",
                    "departemental": "Métropole de Lyon", "regional": "Région Auvergne-Rhône-Alpes"},
    }
    assert decision["delegue_territorial"] == {"departement": "69", "libelle": "Préfet du Rhône"}
    assert decision["decision"]["niveau"] == "departemental"
    assert [e["statut"] for e in decision["examen"]] == ["aucune_offre", "aucune_offre", "retenu"]
    assert decision["notes"] == [
        "69381 est l'arrondissement municipal Lyon 1er Arrondissement, rattaché à la commune Lyon (69123)"]
    assert decision["version"]["catalogue"].startswith("sha256:") and decision["version"]["regles"].startswith("sha256:")
    assert decision["date_decision"] == TODAY.isoformat()


def test_a_complex_project_goes_to_the_agence_and_says_why():
    decision = json.loads(route("--porteur", "16089", "--thematique", "revitalisation", "--besoin", "diagnostic",
                                "--complexe", "--format", "json").stdout)
    assert decision["decision"]["niveau"] == "agence"
    assert decision["decision"]["motif"].startswith("Projet complexe — appui sur-mesure de l'agence")
    assert [e["statut"] for e in decision["examen"][:5]] == ["ignore"] * 5
    assert decision["avis_dt_requis"] is True and decision["instruisible"] is False
    assert "projet-complexe" in decision["regles_appliquees"]


def test_a_demande_file(tmp_path: Path):
    path = tmp_path / "demande.yaml"
    path.write_text('id: d-1\nporteur: "16015"\nthematiques: [revitalisation]\nbesoins: [diagnostic]\n'
                    'programmes: [pvd]\n', encoding="utf-8")
    decision = json.loads(route(path, "--format", "json").stdout)
    assert decision["demande"]["id"] == "d-1" and decision["demande"]["programmes"] == ["pvd"]


def test_a_porteur_member_of_an_agency_is_served_by_it_and_one_who_does_not_say_is_presumed_one(tmp_path: Path):
    # The Dordogne's agence technique serves its members only: declared membership routes to it.
    path = tmp_path / "demande.yaml"
    text = 'porteur: "24322"\nthematiques: [voirie-reseaux]\nbesoins: [amo]\n'
    path.write_text(text + "attributs: {adhesions: [caue-24, atd-24]}\n", encoding="utf-8")
    member = route(path, "--format", "json")
    assert member.code == 0, member.stderr
    assert json.loads(member.stdout)["decision"]["offre"]["id"] == "atd24-ingenierie-territoriale"
    assert json.loads(member.stdout)["adhesions_a_verifier"] == []
    # Membership not declared: presumed, and the decision says it is to be checked.
    path.write_text(text, encoding="utf-8")
    presumed = json.loads(route(path, "--format", "json").stdout)
    assert presumed["decision"]["offre"]["id"] == "atd24-ingenierie-territoriale"
    assert presumed["adhesions_a_verifier"] == ["atd-24"]
    # Declared without it: set aside.
    path.write_text(text + "attributs: {adhesions: [caue-24]}\n", encoding="utf-8")
    outsider = json.loads(route(path, "--format", "json").stdout)
    assert outsider["decision"]["offre"]["id"] != "atd24-ingenierie-territoriale"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--porteur", "77000", "--thematique", "eau", "--besoin", "amo"],
         "--porteur : 77000 est un code postal, pas un code INSEE : communes desservies : Livry-sur-Seine (77255), "
         "Melun (77288), La Rochette (77389), Vaux-le-Pénil (77487)"),
        (["--porteur", "16015", "--thematique", "revitalisaton", "--besoin", "diagnostic"],
         "--thematique : thematiques : mot inconnu « revitalisaton » — vouliez-vous dire « revitalisation » ?"),
        (["--porteur", "16015", "--thematique", "eau", "--besoin", "amo", "--population", "-5"],
         "--population : population : nombre positif attendu, pas « -5 »"),
        (["--porteur", "16015", "--thematique", "eau", "--besoin", "amo", "--population", "douze mille"],
         "--population : population : nombre attendu, pas « douze mille »"),
    ],
)
def test_bad_input_is_one_french_line_and_exit_1(args, message):
    result = route(*args)
    assert (result.code, result.stdout, result.stderr) == (1, "", message + "\n")


def test_a_population_written_as_offices_write_it_is_read_as_in_a_demande_file():
    # « 12 000 » sets aside the Creuse's assistance technique, kept for communes of 5,000 at most.
    result = route("--porteur", "23001", "--thematique", "voirie-reseaux", "--besoin", "amo", "--population", "12 000")
    assert result.code == 0
    assert ("× cd23-assistance-technique-solidarite : aucune des conditions alternatives ne tient : "
            "(population 12 000 > max 5 000)") in result.stdout


def test_words_joined_by_another_separator_are_told_how_to_write_them(tmp_path: Path):
    result = route("--porteur", "16015", "--thematique", "Eau / Assainissement", "--besoin", "amo")
    assert (result.code, result.stderr) == (1, "--thematique : thematiques : mot inconnu « Eau / Assainissement » — "
                                               "plusieurs mots ? séparez-les par « | » : Eau|Assainissement\n")
    # Alt+Entrée in a spreadsheet's cell: the message stays one line on stderr, the break shown as ↵
    result = route("--porteur", "16015", "--thematique", "eau\nassainissement", "--besoin", "amo")
    assert result.err_lines == ["--thematique : thematiques : mot inconnu « eau↵assainissement » — plusieurs mots ? "
                                "séparez-les par « | » : eau|assainissement"]
    # « | » separates the words of an option as it does those of a backlog cell
    both = json.loads(route("--porteur", "16015", "--thematique", "eau|assainissement", "--besoin", "amo",
                            "--format", "json").stdout)
    assert both["demande"]["thematiques"] == ["eau", "assainissement"]
    path = tmp_path / "demande.yaml"
    path.write_text('porteur: "16015"\nthematiques: {eau: oui}\nbesoins: [amo]\n', encoding="utf-8")
    assert route(path).stderr == f"{path}:2:1: thematiques : un mot, ou une liste de mots, attendu\n"


def test_a_demande_files_keys_are_read_as_a_backlogs_headers(tmp_path: Path):
    path = tmp_path / "demande.yaml"
    path.write_text("Porteur: 01053\nThématiques: [Eau]\nBesoins: AMO\nComplexité: complexe\n", encoding="utf-8")
    decision = json.loads(route(path, "--format", "json").stdout)
    assert decision["demande"]["porteur"] == "commune:01053"  # as written, not YAML's octal number
    assert decision["demande"]["complexite"] == "complexe"
    path.write_text('porteur: "16015"\nThématiques: [eau]\nthematiques: [urbanisme]\nbesoins: [amo]\n',
                    encoding="utf-8")
    assert route(path).stderr == (f"{path}:3:1: « thematiques » et « Thématiques » (ligne 2) : le champ thematiques "
                                  "deux fois, gardez-en un\n")
    json_path = tmp_path / "demande.json"
    json_path.write_text('{"PORTEUR": "16015",\n "thematiques": ["eau"],\n "besoins": ["amo"],\n "Saisine": "peut-être"}')
    assert route(json_path).stderr == f"{json_path}:4:2: saisine : valeur inconnue « peut-être » (dt, directe)\n"


def test_a_bad_demande_file_is_located(tmp_path: Path):
    path = tmp_path / "demande.yaml"
    path.write_text('porteur: "16015"\nthematiques: [eau]\nbesoins: [diagnostc]\n', encoding="utf-8")
    result = route(path)
    assert (result.code, result.stderr) == (
        1, f"{path}:3:1: besoins : mot inconnu « diagnostc » — vouliez-vous dire « diagnostic » ?\n")
    json_path = tmp_path / "demande.json"
    json_path.write_text('{"porteur": "16015",\n "thematiques": ["eau"],\n "besoins": ["amo"],\n "complexite": "dur"}')
    result = route(json_path)
    assert (result.code, result.stderr) == (
        1, f"{json_path}:4:2: complexite : valeur inconnue « dur » (simple, complexe)\n")


def test_a_broken_catalogue_stops_route_with_its_location(tmp_path: Path):
    catalogue = tmp_path / "catalogue"
    shutil.copytree(MINI, catalogue)
    offres = catalogue / "offres.yaml"
    offres.write_text(offres.read_text().replace("    cout: gratuit\n", "    cout: gratuite\n", 1))
    result = route("--porteur", "16089", "--thematique", "eau", "--besoin", "conseil", "--catalogue", catalogue,
                   "--rules", MINI_RULES)
    assert result.code == 1 and result.stdout == ""
    assert result.stderr == (
        f"{catalogue}/offres.yaml:21:11: offre « caue-16 » : « cout » vaut « gratuite » — vouliez-vous dire "
        "« gratuit » ? (valeurs possibles : gratuit, cofinance, payant)\n")


def test_a_broken_rules_file_stops_route_with_its_location(tmp_path: Path):
    rules = tmp_path / "regles"
    rules.mkdir()
    (rules / "r.yaml").write_text("regles:\n  - id: r\n    description: x\n    quand: {complexite: complexe}\n"
                                  "    alors: {escalader: agense}\n", encoding="utf-8")
    result = route("--porteur", "16089", "--thematique", "eau", "--besoin", "conseil", "--catalogue", MINI,
                   "--rules", rules)
    assert result.code == 1
    assert result.stderr == (f"{rules}/r.yaml:5:24: règle « r », alors : « escalader » vaut « agense » — "
                             "vouliez-vous dire « agence » ? (valeurs possibles : communal, intercommunal, "
                             "departemental, regional, operateur, agence)\n")


def test_usage_errors_exit_2():
    assert route().code == 2
    assert run("route", "--porteur", "16015", "--saisine", "courrier").code == 2
    assert run("commande-inconnue").code == 2


@pytest.mark.parametrize(
    "args, last_line",
    [
        (["route", "--porteur", "16015", "--saisine", "courrier"],
         "Erreur : Valeur invalide pour '--saisine' : « courrier » n'est pas parmi 'dt', 'directe'."),
        (["route", "--intitul", "x"], "Erreur : Option inconnue : --intitul. Vouliez-vous dire '--intitule' ?"),
        (["route", "--porteur"], "Erreur : L'option --porteur attend une valeur."),
        (["report", "comite-local", "--decisions", "d.csv"], "Erreur : Option manquante '--departement'."),
        (["batch"], "Erreur : Argument manquant 'BACKLOG'."),
        (["territoire", "16015", "29155"], "Erreur : Argument en trop : 29155"),
        (["rout"], "Erreur : Commande inconnue : rout. (Vouliez-vous dire l'une de celles-ci : 'report', 'route' ?)"),
        (["serve", "--delai", "beaucoup"],
         "Erreur : Valeur invalide pour '--delai' : « beaucoup » n'est pas un nombre valide."),
        (["alertes", "--fenetre", "1,5"],
         "Erreur : Valeur invalide pour '--fenetre' : « 1,5 » n'est pas un entier valide."),
    ],
)
def test_usage_errors_are_said_in_french(args, last_line):
    result = run(*args)
    assert result.code == 2 and result.stdout == ""
    assert result.err_lines[-1] == last_line
    assert len(result.err_lines) == 1 or result.err_lines[1].startswith("Aide : « aiguillage ")


def test_help_words_are_french():
    out = run("route", "--help").stdout
    assert "Afficher cette aide et quitter." in out and "[par défaut :" in out


@pytest.mark.parametrize("typed", ["1001", "01001", "commune:1001"])
def test_one_reading_of_a_porteur_for_every_command(tmp_path: Path, typed: str):
    """route, territoire, a demande file and a batch read what a user typed the same way."""
    routed = json.loads(route("--porteur", typed, "--thematique", "eau", "--besoin", "amo", "--format", "json").stdout)
    shown = json.loads(run("territoire", typed, "--format", "json").stdout)
    demande = tmp_path / "demande.yaml"
    demande.write_text(f"porteur: {typed}\nthematiques: [eau]\nbesoins: [amo]\n", encoding="utf-8")
    from_file = json.loads(route(demande, "--format", "json").stdout)
    backlog = tmp_path / "carnet.csv"
    backlog.write_text(f"porteur;thematiques;besoins\n{typed};eau;amo\n", encoding="utf-8")
    assert run("batch", backlog, "-o", tmp_path / "out.csv", *DATE).code == 0
    import csv
    with open(tmp_path / "out.csv", encoding="utf-8-sig") as handle:
        row = next(csv.DictReader(handle, delimiter=";"))
    assert routed["demande"]["porteur"] == from_file["demande"]["porteur"] == "commune:01001"
    assert shown["commune"] == "01001" and row["territoire"] == "commune:01001"
    assert routed["notes"] == from_file["notes"]


def test_an_ambiguous_code_is_refused_by_every_command(tmp_path: Path):
    message = ("29200 est ambigu : ancien code INSEE de la commune Morlaix (29151) ; code postal de la commune "
               "Brest (29019) — écrivez commune:29200 pour le lire comme code INSEE, sinon le code INSEE de la "
               "commune voulue")
    assert route("--porteur", "29200", "--thematique", "eau", "--besoin", "amo").stderr == f"--porteur : {message}\n"
    assert run("territoire", "29200").stderr == message + "\n"
    demande = tmp_path / "demande.yaml"
    demande.write_text("thematiques: [eau]\nbesoins: [amo]\nporteur: 29200\n", encoding="utf-8")
    assert route(demande).stderr == f"{demande}:3:1: {message}\n"
    backlog = tmp_path / "carnet.csv"
    backlog.write_text("porteur;thematiques;besoins\n29200;eau;amo\n", encoding="utf-8")
    assert run("batch", backlog, "-o", tmp_path / "out.csv", *DATE).code == 0
    text = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert f"ligne 2, colonne porteur : {message}" in text
    insee = tmp_path / "insee.csv"  # a column that says it holds INSEE codes reads them so
    insee.write_text("code_insee;thematiques;besoins\n29200;eau;amo\n", encoding="utf-8")
    assert run("batch", insee, "-o", tmp_path / "out2.csv", *DATE).code == 0
    assert ';"commune:29151";' in (tmp_path / "out2.csv").read_text(encoding="utf-8-sig")


def test_an_unexpected_failure_exits_3_with_a_pointer_to_the_details(monkeypatch):
    import matcher.workspace

    def broken(*args, **kwargs):
        raise RuntimeError("panne")

    monkeypatch.setattr(matcher.workspace, "load_workspace", broken)
    result = route("--porteur", "16015", "--thematique", "eau", "--besoin", "amo")
    assert result.code == 3
    assert result.stderr.startswith("aiguillage : erreur interne (RuntimeError: panne) — détails dans ")
    assert "Traceback" not in result.stderr
    report = Path(result.stderr.rsplit(" ", 1)[1].strip())
    assert "RuntimeError: panne" in report.read_text(encoding="utf-8")


def test_ctrl_c_exits_130(monkeypatch):
    import matcher.workspace

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(matcher.workspace, "load_workspace", interrupted)
    assert route("--porteur", "16015", "--thematique", "eau", "--besoin", "amo").code == cli.EXIT_INTERRUPTED


def test_territoire_shows_the_chain_and_the_dt():
    result = run("territoire", "200006682")
    assert result.code == 0
    assert result.stdout.splitlines()[:2] == [
        "CA Beaune, Côte et Sud - Communauté Beaune-Chagny-Nolay (epci:200006682) — population 50 592",
        "  Note : EPCI à cheval sur les départements 21, 71 : rattaché au 21, où vit la majorité de sa population",
    ]
    assert "Délégué territorial : Préfet de la Côte-d'Or (21)" in result.stdout
    data = json.loads(run("territoire", "commune:98735", "--format", "json").stdout)
    assert data["delegue_territorial"]["libelle"] == "Haut-commissaire de la République en Polynésie française"
    assert data["niveaux"]["intercommunal"] is None


def test_a_folder_that_refuses_the_file_is_the_users_environment(tmp_path: Path, monkeypatch):
    """A read-only folder (said by the system when writing: the superuser passes the permission check)."""
    import errno
    import tempfile

    backlog = tmp_path / "carnet.csv"
    backlog.write_text("porteur;thematiques;besoins\n16015;eau;amo\n", encoding="utf-8")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    result = run("batch", backlog, "-o", tmp_path / "decisions.csv", *DATE)
    assert result.code == 1 and "Traceback" not in result.stderr
    assert result.stderr == (f"{tmp_path}/decisions.csv: écriture impossible dans le dossier {tmp_path} : système de "
                             "fichiers en lecture seule\n")


def test_an_os_error_anywhere_is_said_in_french(monkeypatch):
    import errno

    import matcher.workspace

    def gone(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/nulle/part.yaml")

    monkeypatch.setattr(matcher.workspace, "load_workspace", gone)
    result = route("--porteur", "16015", "--thematique", "eau", "--besoin", "amo")
    assert (result.code, result.stderr) == (1, "/nulle/part.yaml: introuvable\n")
