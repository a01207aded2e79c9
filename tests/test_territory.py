"""The territorial chain on real French territory, and what users type resolved or explained."""

from __future__ import annotations

import pytest

from matcher.errors import TerritoryError
from matcher.territory import TerritoryGraph, default_index, resolve


@pytest.fixture(scope="module")
def graph():
    return TerritoryGraph()


def chain(graph, text):
    ref, notes = resolve(text)
    return graph.territoire(ref, notes)


def test_the_derived_file_holds_the_whole_2026_division():
    index = default_index()
    assert len(index.all_communes()) == 34_969
    assert len(index.epcis) == 1_255
    assert len(index.departements) == 109 and len(index.regions) == 26


def test_ordinary_commune(graph):
    t = chain(graph, "16015")
    assert (t.commune, t.epci, t.departement, t.region, t.zone) == ("16015", "200071827", "16", "75", "metro")
    assert t.dt_libelle == "Préfet de la Charente"
    assert t.holders["departemental"] == "Département de la Charente"
    assert t.containers == {"commune:16015", "epci:200071827", "departement:16", "region:75", "national"}


@pytest.mark.parametrize("code, name", [("29155", "Ouessant"), ("29083", "Île-de-Sein"), ("22016", "Île-de-Bréhat"),
                                        ("85113", "L'Île-d'Yeu")])
def test_islands_without_epci_have_no_intercommunal_level(graph, code, name):
    t = chain(graph, code)
    assert t.nom == name and t.epci is None
    assert "intercommunal" not in t.holders


@pytest.mark.parametrize(
    "typed, commune, note",
    [
        ("75101", "75056", "75101 est l'arrondissement municipal Paris 1er Arrondissement, rattaché à la commune Paris (75056)"),
        ("69381", "69123", "69381 est l'arrondissement municipal Lyon 1er Arrondissement, rattaché à la commune Lyon (69123)"),
        ("13201", "13055", "13201 est l'arrondissement municipal Marseille 1er Arrondissement, rattaché à la commune Marseille (13055)"),
        ("commune:01340", "01015", "01340 est la commune déléguée Saint-Bois, rattachée à la commune Arboys en Bugey (01015)"),
    ],
)
def test_arrondissements_and_communes_deleguees_resolve_to_the_current_commune(graph, typed, commune, note):
    t = chain(graph, typed)
    assert t.commune == commune
    assert t.notes == (note,)


def test_a_commune_deleguee_sharing_its_code_is_the_commune_nouvelle(graph):
    assert chain(graph, "01015").nom == "Arboys en Bugey"


def test_metropole_de_lyon_holds_the_intercommunal_and_departemental_levels(graph):
    t = chain(graph, "69266")  # Villeurbanne
    assert t.holders["intercommunal"] == t.holders["departemental"] == "Métropole de Lyon"
    assert t.dt_libelle == "Préfet du Rhône"
    outside = chain(graph, "69264")  # Villefranche-sur-Saône, in the Département du Rhône
    assert outside.holders["departemental"] == "Département du Rhône"


@pytest.mark.parametrize(
    "code, departemental, regional, dt",
    [
        ("2A004", "Collectivité de Corse", "Collectivité de Corse", "Préfet de la Corse-du-Sud"),
        ("2B033", "Collectivité de Corse", "Collectivité de Corse", "Préfet de la Haute-Corse"),
        ("97209", "Collectivité territoriale de Martinique", "Collectivité territoriale de Martinique",
         "Préfet de la Martinique"),
        ("97302", "Collectivité territoriale de Guyane", "Collectivité territoriale de Guyane", "Préfet de la Guyane"),
        ("97611", "Département de Mayotte", "Département de Mayotte", "Préfet de Mayotte"),
        ("commune:97411", "Département de La Réunion", "Région Réunion", "Préfet de La Réunion"),
        ("75056", "Ville de Paris", "Région Île-de-France", "Préfet de Paris"),
    ],
)
def test_one_collectivity_holding_two_levels(graph, code, departemental, regional, dt):
    t = chain(graph, code)
    assert (t.holders["departemental"], t.holders["regional"], t.dt_libelle) == (departemental, regional, dt)


def test_com_are_routed_with_the_state_representative(graph):
    t = chain(graph, "commune:98735")  # Papeete
    assert t.zone == "com" and t.epci is None
    assert t.dt_libelle == "Haut-commissaire de la République en Polynésie française"
    assert chain(graph, "97801").dt_libelle == "Préfet délégué pour Saint-Barthélemy et Saint-Martin"


def test_epci_spanning_two_departements(graph):
    commune_in_minor = chain(graph, "71073")  # Chagny (Saône-et-Loire), in CA Beaune Côte et Sud (Côte-d'Or)
    assert commune_in_minor.epci == "200006682"
    assert commune_in_minor.departement == "71" and commune_in_minor.dt_libelle == "Préfet de Saône-et-Loire"
    assert "departement:21" not in commune_in_minor.containers  # no perimeter inherited through the EPCI
    epci = chain(graph, "200006682")
    assert epci.departement == "21" and epci.dt_libelle == "Préfet de la Côte-d'Or"
    assert epci.notes == (
        "EPCI à cheval sur les départements 21, 71 : rattaché au 21, où vit la majorité de sa population",
    )


def test_departement_and_region_porteurs(graph):
    d = chain(graph, "departement:64")
    assert d.kind == "departement" and d.containers == {"departement:64", "region:75", "national"}
    r = chain(graph, "region:84")
    assert r.dt_libelle == "Préfet du Rhône" and "departemental" not in r.holders


@pytest.mark.parametrize(
    "typed, ref",
    [("commune:64445", "commune:64445"), ("epci:200046977", "epci:200046977"), ("200046977", "epci:200046977"),
     ("21690123100018", "commune:69123"), ("Ouessant", "commune:29155"), ("2A", "departement:2A")],
)
def test_what_users_type(typed, ref):
    assert resolve(typed)[0] == ref


@pytest.mark.parametrize(
    "typed, message",
    [
        ("77000", "77000 est un code postal, pas un code INSEE : communes desservies : Livry-sur-Seine (77255), "
                  "Melun (77288), La Rochette (77389), Vaux-le-Pénil (77487)"),
        ("64999", "commune inconnue : 64999 (code INSEE 2026) — codes proches : 64499 (Salies-de-Béarn), "
                  "64399 (Montardon), 64299 (Lacommande)"),
        ("Saint-Denis", "« Saint-Denis » désigne plusieurs communes : Saint-Denis (11339, 11), Saint-Denis (30247, 30), "
                        "Saint-Denis (93066, 93), Saint-Denis (97411, 974) — indiquez le code INSEE"),
        ("Ouessan", "porteur inconnu : « Ouessan » (ni code INSEE, ni SIREN, ni departement:NN, ni nom de commune) — "
                    "noms proches : Ouessant (29155), Poussan (34213), Moussan (11258)"),
        ("epci:200046970", "EPCI (SIREN) inconnu : 200046970 — codes proches : 200069730, 200046977, 240200469"),
    ],
)
def test_unknown_codes_get_the_closest_known_ones(typed, message):
    with pytest.raises(TerritoryError) as err:
        resolve(typed)
    assert str(err.value) == message


def test_specificity_counts_communes_once(graph):
    assert graph.communes_count(["departement:69"]) == 266
    assert graph.communes_count(["departement:69", "epci:200046977", "commune:69123"]) == 266


def test_the_departement_is_the_start_of_the_commune_code():
    from matcher.territory import departement_of_commune

    communes = default_index().all_communes()
    assert all(departement_of_commune(code) == c.departement for code, c in communes.items())


# ----------------------------------------------------------------- a code with several readings


@pytest.mark.parametrize(
    "typed, message",
    [
        ("75001", "75001 est ambigu : ancien code INSEE de la commune Alfortville (94002) ; code postal de la commune "
                  "Paris (75056) — écrivez commune:75001 pour le lire comme code INSEE, sinon le code INSEE de la "
                  "commune voulue"),
        ("29200", "29200 est ambigu : ancien code INSEE de la commune Morlaix (29151) ; code postal de la commune "
                  "Brest (29019) — écrivez commune:29200 pour le lire comme code INSEE, sinon le code INSEE de la "
                  "commune voulue"),
        ("97411", "97411 est ambigu : code INSEE de la commune Saint-Denis (97411) ; code postal de la commune "
                  "Saint-Paul (97415) — écrivez commune:97411 pour le lire comme code INSEE, sinon le code INSEE de "
                  "la commune voulue"),
        ("1100", "01100 est ambigu : code INSEE de la commune Cheignieu-la-Balme (01100) ; code postal des communes "
                 "Apremont (01011), Arbent (01014), Bellignat (01031), Géovreisset (01171), Groissiat (01181), "
                 "Martignat (01237)… — écrivez commune:01100 pour le lire comme code INSEE, sinon le code INSEE de la "
                 "commune voulue"),
    ],
)
def test_a_code_with_several_readings_is_refused_with_each(typed, message):
    with pytest.raises(TerritoryError) as err:
        resolve(typed)
    assert str(err.value) == message


def test_every_bare_code_is_unique_or_refused():
    """The class, not the examples: over every code the division knows (current, former, délégué, postal),
    a bare code is read only when all its readings name one commune."""
    index = default_index()
    communes = index.all_communes()
    codes = set(communes) | set(index._aliases) | {p for c in communes.values() for p in c.codes_postaux}
    for code in codes:
        targets = set(index.served_by_postal_code(code))
        if code in communes:
            targets.add(code)
        elif index.alias(code):
            targets.add(index.alias(code).commune)
        try:
            ref, _ = resolve(code)
        except TerritoryError as err:
            assert len(targets) > 1 or code not in communes and not index.alias(code), code
            assert code in err.message
            continue
        assert targets == {ref.partition(":")[2]}, code


def test_commune_prefix_and_insee_columns_force_the_insee_reading():
    assert resolve("commune:75001") == ("commune:94002", ("75001 est un ancien code de Alfortville (94002)",))
    assert resolve("75001", insee=True)[0] == "commune:94002"
    assert resolve("97411", insee=True) == ("commune:97411", ())
    assert resolve("Ouessant", insee=True)[0] == "commune:29155"  # a name is still a name


@pytest.mark.parametrize("typed", ["1001", "01001", "commune:1001", " 01 001 ", "01\u00a0001"])
def test_a_spreadsheet_code_that_lost_its_zero(typed):
    ref, notes = resolve(typed)
    assert ref == "commune:01001"
    if "1001" in typed and "01" not in typed.replace(" ", "").replace("\u00a0", "")[:2]:
        assert notes == ("code 1001 complété en 01001 (le zéro initial avait été perdu)",)


@pytest.mark.parametrize("typed, ref", [("departement:2a", "departement:2A"), ("DEPARTEMENT:2b", "departement:2B"),
                                        ("commune:2a004", "commune:2A004"), ("2a", "departement:2A"),
                                        ("Region:84", "region:84"), ("departement:1", "departement:01")])
def test_codes_in_any_case(typed, ref):
    assert resolve(typed)[0] == ref


@pytest.mark.parametrize("typed, ref", [("Département:64", "departement:64"), ("région : 75", "region:75"),
                                        ("COMMUNE:64445", "commune:64445")])
def test_the_kind_of_a_reference_in_any_case_and_accents(typed, ref):
    assert resolve(typed)[0] == ref


@pytest.mark.parametrize("typed, ref, notes", [
    ("64445.0", "commune:64445", ("« 64445.0 » lu comme le code 64445 (écrit en nombre décimal)",)),
    ("1053,0", "commune:01053", ("« 1053,0 » lu comme le code 1053 (écrit en nombre décimal)",
                                 "code 1053 complété en 01053 (le zéro initial avait été perdu)")),
    ("200067106.0", "epci:200067106", ("« 200067106.0 » lu comme le code 200067106 (écrit en nombre décimal)",)),
])
def test_a_code_that_a_tool_wrote_as_a_decimal_number(typed, ref, notes):
    # pandas writes a column of codes with a missing cell as floats: 64445.0
    assert resolve(typed) == (ref, notes)


def test_a_code_in_scientific_notation_is_refused_with_what_happened_to_it():
    # Excel exports a SIRET shown as « 2,116E+13 » as it shows it: its last digits are gone.
    with pytest.raises(TerritoryError) as refused:
        resolve("2,11600E+13")
    assert refused.value.message == ("« 2,11600E+13 » est un nombre en notation scientifique : un tableur a écrit ainsi "
                                     "un code trop long pour lui, et a pu en perdre des chiffres ; mettez la colonne au "
                                     "format Texte et saisissez de nouveau les codes")


def test_a_decimal_that_is_not_a_whole_number_is_no_code():
    with pytest.raises(TerritoryError, match="porteur inconnu : « 16015.5 »"):
        resolve("16015.5")


def test_every_region_prefect_sits_in_the_region(graph):
    index = default_index()
    for region in index.regions.values():
        assert index.departements[region.prefect_departement].region == region.code, region.code
    taaf = chain(graph, "region:984")
    assert taaf.dt_libelle == "Préfet, administrateur supérieur des Terres australes et antarctiques françaises"


@pytest.mark.parametrize(
    "code, population, note",
    [
        ("69", 478_313, "population de la collectivité qui exerce les compétences départementales, Département du "
                        "Rhône : 478 313 habitants (le territoire du département Rhône en compte 1 914 667)"),
        ("2A", 355_486, "population de la collectivité qui exerce les compétences départementales, Collectivité de "
                        "Corse : 355 486 habitants (le territoire du département Corse-du-Sud en compte 168 306)"),
        ("75", 2_103_778, None), ("972", 360_630, None), ("974", 889_679, None), ("16", 352_683, None),
    ],
)
def test_a_departement_porteur_has_its_collectivity_population(graph, code, population, note):
    t = chain(graph, f"departement:{code}")
    assert t.population == population
    assert t.notes == ((note,) if note else ())
    if code == "69":  # the Métropole de Lyon's communes make the difference
        metropole = sum(c.population for c in default_index().all_communes().values() if c.epci == "200046977")
        assert population + metropole == default_index().departements["69"].population


@pytest.mark.parametrize("typed, code", [("2a", "2A"), (" 2b ", "2B"), ("1", "01"), ("974", "974")])
def test_option_codes_in_any_case(typed, code):
    from matcher.territory import known_code

    assert known_code(typed, default_index().departements, "--departement") == code


def test_digits_of_another_script_are_not_a_code():
    with pytest.raises(TerritoryError) as err:
        resolve("١٦٠١٥")
    assert str(err.value).startswith("porteur inconnu : « ١٦٠١٥ »")


@pytest.mark.parametrize("typed", ["20", "departement:20"])
def test_the_former_corsican_departement_code_says_the_two_of_today(typed):
    with pytest.raises(TerritoryError) as err:
        resolve(typed)
    assert str(err.value) == ("20 n'est plus un code de département depuis 1976 : departement:2A (Corse-du-Sud), "
                              "departement:2B (Haute-Corse), ou region:94 pour la Collectivité de Corse")


def test_a_corsican_commune_by_its_pre_1976_code():
    assert resolve("20004") == ("commune:2A004", ("20004 est un ancien code de Ajaccio (2A004)",))
