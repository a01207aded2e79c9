"""`aiguillage rules check`: each bad file gets exactly the problems it is named after, located.

Every file under tests/fixtures/bad/ is checked as a user would check it (through the command
line), against the small catalogue and rules of tests/fixtures/ok/; the assertions are on the
full lines, `file:line:col: severity: message [code]`.
"""

from __future__ import annotations

import json

import pytest

from clirun import run
from conftest import FIXTURES

BAD = "tests/fixtures/bad"
MINI = ("--catalogue", "tests/fixtures/ok/mini-catalogue", "--rules", "tests/fixtures/ok/mini-rules",
        "--date", "2026-11-26")

EXPECTED: dict[str, list[str]] = {
    "aucune-offre-de-repli": [
        f"{BAD}/aucune-offre-de-repli: erreur: aucune offre de repli : une offre de l'agence doit porter `repli: true` "
        "(l'ingénierie sur-mesure, où va une demande quand rien d'autre ne convient) [repli]",
    ],
    "champ-apres-decision.yaml": [
        f"{BAD}/champ-apres-decision.yaml:10:7: erreur: le champ « niveau » n'est connu qu'après la décision : "
        "utilisable dans le `quand` d'une règle, pas dans les conditions d'une offre [champ-inconnu]",
    ],
    "champ-inconnu.yaml": [
        f"{BAD}/champ-inconnu.yaml:10:7: erreur: champ inconnu « populaton » — vouliez-vous dire « population » ? "
        "[champ-inconnu]",
    ],
    "cle-dupliquee.yaml": [
        f"{BAD}/cle-dupliquee.yaml:11:5: erreur: clé « cout » en double (déjà définie en 9:5) [cle-dupliquee]",
    ],
    "cle-inconnue.yaml": [  # one problem: the misspelt key, not also a missing `thematiques`
        f"{BAD}/cle-inconnue.yaml:7:5: erreur: offre « caue-16-paysage » : clé inconnue « thematique » — "
        "vouliez-vous dire « thematiques » ? [cle-inconnue]",
    ],
    "cle-manquante.yaml": [
        f"{BAD}/cle-manquante.yaml:2:5: erreur: offre « caue-16-paysage » : clé « cout » obligatoire manquante "
        "[cle-manquante]",
    ],
    "encodage.yaml": [
        f"{BAD}/encodage.yaml:3:33: erreur: octet 0xe9 invalide en UTF-8 ; il semble encodé en Windows-1252 "
        "(Latin-1) : enregistrez-le en UTF-8 [encodage]",
    ],
    "id-duplique.yaml": [
        f"{BAD}/id-duplique.yaml:2:5: erreur: offre « caue-16 » déjà définie en "
        "tests/fixtures/ok/mini-catalogue/offres.yaml:14:5 [id-duplique]",
    ],
    "offre-expiree.yaml": [
        f"{BAD}/offre-expiree.yaml:2:5: avertissement: offre « leader-2014-2020 » échue depuis le 31/12/2022 : "
        "elle n'est plus proposée [offre-expiree]",
    ],
    "offre-inconnue.yaml": [
        f"{BAD}/offre-inconnue.yaml:6:26: erreur: règle « pas-de-caue-en-directe » : offre inconnue « caue-61 » — "
        "vouliez-vous dire « caue-16 » ? [offre-inconnue]",
    ],
    "operateur-inconnu.yaml": [
        f"{BAD}/operateur-inconnu.yaml:10:20: erreur: opérateur inconnu « maxi » — vouliez-vous dire « max » ? "
        "(connus : min, max, pas, hors, contient, contient_un_de, existe) [operateur-inconnu]",
    ],
    "perimetre-cycle.yaml": [  # one cycle, one problem
        f"{BAD}/perimetre-cycle.yaml:12:5: erreur: les périmètres « pays-a » → « pays-b » → « pays-a » se "
        "contiennent l'un l'autre [perimetre-cycle]",
    ],
    "perimetre-inconnu.yaml": [  # the misspelt perimeter is not also reported as unused
        f"{BAD}/perimetre-inconnu.yaml:6:17: erreur: périmètre inconnu « petr-ouest-charent » — vouliez-vous dire "
        "« petr-ouest-charente » ? [perimetre-inconnu]",
    ],
    "perimetre-inutilise.yaml": [
        f"{BAD}/perimetre-inutilise.yaml:2:5: avertissement: périmètre « petr-ouest-charente » utilisé par aucune "
        "offre [perimetre-inutilise]",
    ],
    "plusieurs-offres-de-repli.yaml": [
        f"{BAD}/plusieurs-offres-de-repli.yaml:2:5: erreur: plusieurs offres de repli : « sur-mesure-bis » et "
        "« sur-mesure » (une seule attendue) [repli]",
    ],
    "plusieurs-problemes.yaml": [
        f"{BAD}/plusieurs-problemes.yaml:8:19: erreur: offre « caue-16-paysage » : thematiques : mot inconnu "
        "« urbanism » — vouliez-vous dire « urbanisme » ? [vocabulaire]",
        f"{BAD}/plusieurs-problemes.yaml:8:29: erreur: offre « caue-16-paysage » : thematiques : mot inconnu "
        "« paysage » [vocabulaire]",
        f"{BAD}/plusieurs-problemes.yaml:12:5: erreur: offre « caue-16-paysage » déjà définie en "
        f"{BAD}/plusieurs-problemes.yaml:3:5 [id-duplique]",
        f"{BAD}/plusieurs-problemes.yaml:19:11: erreur: offre « caue-16-paysage » : « cout » vaut « gratuite » — "
        "vouliez-vous dire « gratuit » ? (valeurs possibles : gratuit, cofinance, payant) [valeur-inconnue]",
        f"{BAD}/plusieurs-problemes.yaml:21:5: avertissement: offre « leader-charente » échue depuis le 31/12/2020 : "
        "elle n'est plus proposée [offre-expiree]",
        f"{BAD}/plusieurs-problemes.yaml:25:33: erreur: epci:241600304 n'existe pas dans le découpage administratif "
        "2026 — codes proches : 241600303, 249100074, 248100430 [territoire-inconnu]",
    ],
    "reference-invalide.yaml": [
        f"{BAD}/reference-invalide.yaml:6:17: erreur: référence de territoire invalide « dept:16 » : commune:INSEE, "
        "epci:SIREN, departement:NN, region:NN, national ou perimetre:ID [reference-invalide]",
    ],
    "refusee-par-le-moteur.yaml": [  # too deep for the engine (error 113): the guards refuse it, located
        f"{BAD}/refusee-par-le-moteur.yaml:13:7: erreur: offre « caue-16-outre-mer » refusée par le moteur de "
        "règles : condition trop imbriquée pour le moteur (24 combinaisons tous / un_de / aucun / listes de valeurs "
        "dans une même règle, au plus 15) : simplifiez-la ou scindez-la en plusieurs offres ou règles [moteur]",
    ],
    "regle-apres-decision.yaml": [
        f"{BAD}/regle-apres-decision.yaml:6:7: erreur: règle « agence-exclut-departement » : une règle qui lit le niveau "
        "ou l'offre retenus s'applique après la décision ; elle ne peut ni escalader ni exclure (seulement avis_dt, "
        "alerte, motif) [regle-apres-decision]",
    ],
    "regle-id-duplique.yaml": [
        f"{BAD}/regle-id-duplique.yaml:6:5: erreur: règle « projet-complexe » déjà définie en "
        f"{BAD}/regle-id-duplique.yaml:2:5 [id-duplique]",
    ],
    "regle-sans-action.yaml": [
        f"{BAD}/regle-sans-action.yaml:5:12: erreur: règle « rien » : « alors » ne fait rien [regle-sans-action]",
    ],
    "repli-exclu.yaml": [
        f"{BAD}/repli-exclu.yaml:6:26: erreur: règle « pas-de-sur-mesure-en-directe » : l'offre de repli « sur-mesure » "
        "ne peut pas être exclue (toute demande doit avoir une réponse) [repli]",
    ],
    "section-inconnue.yaml": [
        f"{BAD}/section-inconnue.yaml:1:1: erreur: section inconnue « regle » — vouliez-vous dire « regles » ? "
        "(sections possibles : regles, tests, alertes, tests_alertes) [cle-inconnue]",
    ],
    "territoire-inconnu.yaml": [
        f"{BAD}/territoire-inconnu.yaml:6:33: erreur: commune:16999 n'existe pas dans le découpage administratif "
        "2026 — codes proches : 16399, 16199, 16099 [territoire-inconnu]",
    ],
    "test-incoherent.yaml": [
        f"{BAD}/test-incoherent.yaml:4:23: erreur: test « angouleme-conseil » : l'offre « caue-16 » est de niveau "
        "departemental, pas regional [test-incoherent]",
    ],
    "test-mot-inconnu.yaml": [
        f"{BAD}/test-mot-inconnu.yaml:5:7: erreur: thematiques : mot inconnu « urbanism » — vouliez-vous dire "
        "« urbanisme » ? [demande]",
    ],
    "test-offre-inconnue.yaml": [
        f"{BAD}/test-offre-inconnue.yaml:4:45: erreur: test « angouleme-conseil » : offre inconnue « caue16 » — "
        "vouliez-vous dire « caue-16 » ? [offre-inconnue]",
    ],
    "test-porteur-inconnu.yaml": [
        f"{BAD}/test-porteur-inconnu.yaml:4:7: erreur: commune inconnue : 16999 (code INSEE 2026) — codes proches : "
        "16399 (Verrières), 16199 (Magnac-sur-Touvre), 16099 (Chillac) [territoire-inconnu]",
    ],
    "test-regle-inconnue.yaml": [
        f"{BAD}/test-regle-inconnue.yaml:4:40: erreur: test « angouleme-complexe » : règle inconnue "
        "« projet-complex » — vouliez-vous dire « projet-complexe » ? [regle-inconnue]",
    ],
    "test-sans-attendu.yaml": [
        f"{BAD}/test-sans-attendu.yaml:4:14: erreur: test « angouleme-conseil » : « attendu » est vide : rien ne "
        "serait vérifié [test-sans-attendu]",
    ],
    "test-type.yaml": [
        f"{BAD}/test-type.yaml:4:16: erreur: test « angouleme-conseil », demande : « porteur » doit être un texte, "
        "pas « 16015 » : écrivez-le entre guillemets [type]",
        f"{BAD}/test-type.yaml:7:19: erreur: test « angouleme-conseil », demande : « population » doit être un "
        "nombre, pas « beaucoup » [type]",
    ],
    "trop-complexe-pour-le-moteur.yaml": [
        f"{BAD}/trop-complexe-pour-le-moteur.yaml:11:7: erreur: offre « caue-16-classement » refusée par le moteur "
        "de règles : 2200 alternatives dans une combinaison, au plus 200 [moteur]",
    ],
    "trop-ramifie-pour-le-moteur.yaml": [
        f"{BAD}/trop-ramifie-pour-le-moteur.yaml:11:7: erreur: offre « caue-16-tranches » refusée par le moteur de "
        "règles : condition trop ramifiée (une demande pourrait la satisfaire de 63 façons, le moteur n'en compte que "
        "62) : regroupez les alternatives en listes [moteur]",
    ],
    "trop-d-alternatives.yaml": [
        f"{BAD}/trop-d-alternatives.yaml:11:19: erreur: 201 valeurs dans une seule condition : au plus 200 (le moteur "
        "de règles ne sait pas évaluer davantage d'alternatives ; utilisez un périmètre nommé) [trop-d-alternatives]",
    ],
    "type.yaml": [
        f"{BAD}/type.yaml:9:15: erreur: offre « caue-16-paysage » : « capacite » doit être un nombre entier, "
        "pas « trente » [type]",
    ],
    "valeur-inconnue.yaml": [
        f"{BAD}/valeur-inconnue.yaml:5:13: erreur: offre « caue-16-paysage » : « niveau » vaut « departementale » — "
        "vouliez-vous dire « departemental » ? (valeurs possibles : communal, intercommunal, departemental, regional, "
        "operateur, agence) [valeur-inconnue]",
    ],
    "validite.yaml": [
        f"{BAD}/validite.yaml:10:15: erreur: offre « leader-2023-2027 » : la fin de validité précède son début "
        "[validite]",
    ],
    "vocabulaire.yaml": [
        f"{BAD}/vocabulaire.yaml:7:19: erreur: offre « caue-16-paysage » : thematiques : mot inconnu « urbanism » — "
        "vouliez-vous dire « urbanisme » ? [vocabulaire]",
    ],
    "yaml-syntaxe.yaml": [
        f"{BAD}/yaml-syntaxe.yaml:5:12: erreur: « , » ou « ] » attendu [yaml-syntaxe]",
    ],
    "attribut-liste-et-valeur.yaml": [
        f"{BAD}/attribut-liste-et-valeur.yaml:21:18: erreur: attribut « adhesions » comparé à un texte ici, "
        f"mais à une liste (contient, contient_un_de) en {BAD}/attribut-liste-et-valeur.yaml:10:29 [type]",
    ],
    "champ-jamais-porte.yaml": [
        f"{BAD}/champ-jamais-porte.yaml:10:7: erreur: « intitule » ne peut pas servir de condition : la "
        "demande le porte, mais il ne sert pas à l'orienter (champs possibles : thematiques, besoins, "
        "programmes, complexite, saisine, porteur, population, montant, commune, epci, departement, region, "
        "zone, avis_dt, ou un attribut de la demande) [champ-inconnu]",
        f"{BAD}/champ-jamais-porte.yaml:11:7: erreur: « date_depot » ne peut pas servir de condition : la "
        "demande le porte, mais il ne sert pas à l'orienter (champs possibles : thematiques, besoins, "
        "programmes, complexite, saisine, porteur, population, montant, commune, epci, departement, region, "
        "zone, avis_dt, ou un attribut de la demande) [champ-inconnu]",
        f"{BAD}/champ-jamais-porte.yaml:12:7: erreur: « type_porteur » ne peut pas servir de condition : la "
        "demande le porte, mais il ne sert pas à l'orienter — le champ le plus proche est « porteur » "
        "(champs possibles : thematiques, besoins, programmes, complexite, saisine, porteur, population, "
        "montant, commune, epci, departement, region, zone, avis_dt, ou un attribut de la demande) "
        "[champ-inconnu]",
        f"{BAD}/champ-jamais-porte.yaml:13:7: erreur: « id » ne peut pas servir de condition : la demande le "
        "porte, mais il ne sert pas à l'orienter (champs possibles : thematiques, besoins, programmes, "
        "complexite, saisine, porteur, population, montant, commune, epci, departement, region, zone, "
        "avis_dt, ou un attribut de la demande) [champ-inconnu]",
        f"{BAD}/champ-jamais-porte.yaml:14:7: erreur: « __demande__ » ne peut pas servir de condition : c'est "
        "un nom réservé du moteur de règles (champs possibles : thematiques, besoins, programmes, "
        "complexite, saisine, porteur, population, montant, commune, epci, departement, region, zone, "
        "avis_dt, ou un attribut de la demande) [champ-inconnu]",
        f"{BAD}/champ-jamais-porte.yaml:15:7: erreur: « sid » ne peut pas servir de condition : c'est un nom "
        "réservé du moteur de règles (champs possibles : thematiques, besoins, programmes, complexite, "
        "saisine, porteur, population, montant, commune, epci, departement, region, zone, avis_dt, ou un "
        "attribut de la demande) [champ-inconnu]",
    ],
    "cle-dupliquee-et-autres-problemes.yaml": [
        f"{BAD}/cle-dupliquee-et-autres-problemes.yaml:7:19: erreur: offre « caue-16-paysage » : thematiques "
        ": mot inconnu « urbanism » — vouliez-vous dire « urbanisme » ? [vocabulaire]",
        f"{BAD}/cle-dupliquee-et-autres-problemes.yaml:11:5: erreur: clé « cout » en double (déjà définie en "
        "9:5) [cle-dupliquee]",
        f"{BAD}/cle-dupliquee-et-autres-problemes.yaml:13:7: erreur: champ inconnu « populaton » — "
        "vouliez-vous dire « population » ? [champ-inconnu]",
        f"{BAD}/cle-dupliquee-et-autres-problemes.yaml:15:7: erreur: clé « population » en double (déjà "
        "définie en 14:7) [cle-dupliquee]",
    ],
    "nombre-non-fini.yaml": [
        f"{BAD}/nombre-non-fini.yaml:10:25: erreur: « min » attend un nombre fini, pas « nan » [type]",
        f"{BAD}/nombre-non-fini.yaml:11:22: erreur: « max » attend un nombre fini, pas « -inf » [type]",
        f"{BAD}/nombre-non-fini.yaml:12:20: erreur: attribut « hauteur » : nombre fini attendu, pas « inf » "
        "[type]",
        f"{BAD}/nombre-non-fini.yaml:13:15: erreur: attribut « etages » : nombre fini attendu, pas « nan » "
        "[type]",
    ],
    "validite-avec-heure.yaml": [
        f"{BAD}/validite-avec-heure.yaml:10:40: erreur: offre « leader-2023-2027 », validite : « fin » doit "
        "être une date AAAA-MM-JJ, pas « 2026-01-01 10:00:00 » : le jour seul, sans heure [type]",
        f"{BAD}/validite-avec-heure.yaml:11:17: erreur: offre « leader-2023-2027 » : « verifie_le » doit être une "
        "date AAAA-MM-JJ, pas « 2026-01-01 10:00:00 » : le jour seul, sans heure [type]",
    ],
}


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    """Messages name files relative to the working folder, as a user's shell would show them."""
    monkeypatch.chdir(FIXTURES.parent.parent)


def test_every_bad_fixture_has_its_expected_messages():
    assert sorted(EXPECTED) == sorted(p.name for p in (FIXTURES / "bad").iterdir())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_fixture_reports_each_problem_once_and_located(name):
    result = run("rules", "check", f"{BAD}/{name}", *MINI)
    *lines, summary = result.err_lines
    assert lines == EXPECTED[name]
    errors = sum(": erreur: " in line for line in lines)
    assert result.code == (1 if errors else 0)
    assert summary.startswith(f"{errors} erreur")
    assert result.stdout == ""


def test_warnings_fail_with_strict():
    assert run("rules", "check", f"{BAD}/offre-expiree.yaml", *MINI).code == 0
    assert run("rules", "check", f"{BAD}/offre-expiree.yaml", *MINI, "--strict").code == 1


def test_json_output_is_on_stdout_for_editors():
    result = run("rules", "check", f"{BAD}/id-duplique.yaml", *MINI, "--format", "json")
    assert result.code == 1 and result.stderr == ""
    data = json.loads(result.stdout)
    assert data["resume"]["erreurs"] == 1
    (problem,) = data["problemes"]
    assert problem == {
        "fichier": f"{BAD}/id-duplique.yaml", "ligne": 2, "colonne": 5, "severite": "erreur", "code": "id-duplique",
        "message": "offre « caue-16 » déjà définie en tests/fixtures/ok/mini-catalogue/offres.yaml:14:5",
        "lieux_lies": ["tests/fixtures/ok/mini-catalogue/offres.yaml:14:5"],
    }


def test_shipped_catalogue_and_rules_have_no_error():
    result = run("rules", "check", "--date", "2026-11-26")
    assert result.code == 0, result.stderr
    assert " erreur:" not in result.stderr


def test_a_file_of_the_catalogue_in_use_is_checked_in_its_context(tmp_path):
    """Checking one file shows its problems only, and says how many there are elsewhere."""
    catalogue = tmp_path / "catalogue"
    (catalogue / "sub").mkdir(parents=True)
    for name in ("offres.yaml", "vocabulaires.yaml"):
        (catalogue / name).write_text((FIXTURES / "ok" / "mini-catalogue" / name).read_text())
    (catalogue / "sub" / "a.yaml").write_text((FIXTURES / "bad" / "vocabulaire.yaml").read_text())
    (catalogue / "b.yaml").write_text((FIXTURES / "bad" / "type.yaml").read_text().replace("caue-16-paysage", "b"))
    result = run("rules", "check", catalogue / "sub" / "a.yaml", "--catalogue", catalogue,
                 "--rules", "tests/fixtures/ok/mini-rules")
    assert result.code == 1
    assert [line.split(": ", 1)[1] for line in result.err_lines[:-1]] == [
        "erreur: offre « caue-16-paysage » : thematiques : mot inconnu « urbanism » — vouliez-vous dire « urbanisme » ? "
        "[vocabulaire]"
    ]
    assert result.err_lines[-1].endswith("1 autre problème ailleurs que dans le chemin demandé")
    whole = run("rules", "check", "--catalogue", catalogue, "--rules", "tests/fixtures/ok/mini-rules")
    assert len(whole.err_lines) == 3


def test_schema_is_json_schema_with_the_test_records():
    catalogue = json.loads(run("rules", "schema").stdout)
    assert catalogue["$schema"] == "http://json-schema.org/draft-07/schema#"  # what YAML language servers read
    offre = catalogue["properties"]["offres"]["items"]
    assert offre["additionalProperties"] is False and "perimetre" in offre["required"]
    rules = json.loads(run("rules", "schema", "--kind", "regles").stdout)
    test = rules["properties"]["tests"]["items"]
    assert test["required"] == ["id", "demande", "attendu"]
    assert test["properties"]["attendu"]["properties"]["niveau"]["enum"][0] == "communal"


def test_demande_record_of_tests_has_the_fields_of_a_demande_file():
    from matcher.demande import DEMANDE_KEYS
    from matcher.schema import RECORDS

    assert [k.name for k in RECORDS["demande"]] == list(DEMANDE_KEYS)


def test_a_catalogue_folder_is_checked_with_the_rules_in_use_but_not_their_test_cases():
    """The shipped rules' test cases are about the shipped catalogue: not checked against another one."""
    result = run("rules", "check", "tests/fixtures/ok/mini-catalogue", "--date", "2026-11-26")
    assert "tests/" not in "".join(line.split(":")[0] for line in result.err_lines[:-1])
    with_rules = run("rules", "check", "tests/fixtures/ok/mini-catalogue", "--rules", "tests/fixtures/ok/mini-rules")
    assert with_rules.code == 0
