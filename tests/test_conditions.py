"""The condition language: what authors write, what they are told when it is wrong, "why not"."""

from __future__ import annotations

import textwrap

import pytest

from matcher.conditions import Canonicalizer, ParseContext, explain, holds, parse_condition
from matcher.errors import IssueCollector
from matcher.model import Term, Vocabulary
from matcher.territory import default_index
from matcher.yamlsource import parse

VOCABULARIES = {
    "thematiques": Vocabulary("thematiques", {w: Term(w, w, None) for w in ("urbanisme", "eau", "energie-dechets")}),
    "besoins": Vocabulary("besoins", {w: Term(w, w, None) for w in ("diagnostic", "conseil")}),
    "programmes": Vocabulary("programmes", {w: Term(w, w, None) for w in ("pvd", "acv")}),
}


def condition(text: str, after_decision: bool = False):
    doc = parse(textwrap.dedent(text), "c.yaml")
    issues = IssueCollector()
    index = default_index()
    ctx = ParseContext(doc, issues, VOCABULARIES, index.exists, index.suggest, allow_after_decision=after_decision,
                       attribute_types={})
    cond = parse_condition(doc.data["c"], ("c",), ctx)
    return cond, [str(i) for i in issues.issues]


@pytest.mark.parametrize(
    "text, message",
    [
        ("c: {populaton: {max: 3}}\n",
         "c.yaml:1:5: erreur: champ inconnu « populaton » — vouliez-vous dire « population » ? [champ-inconnu]"),
        ("c: {population: {maxi: 3}}\n",
         "c.yaml:1:18: erreur: opérateur inconnu « maxi » — vouliez-vous dire « max » ? (connus : min, max, pas, hors, "
         "contient, contient_un_de, existe) [operateur-inconnu]"),
        ("c: {population: {max: beaucoup}}\n", "c.yaml:1:23: erreur: « max » attend un nombre, pas « beaucoup » [type]"),
        ("c: {porteur: comune}\n",
         "c.yaml:1:14: erreur: type de porteur : valeur inconnue « comune » — vouliez-vous dire « commune » ? "
         "(valeurs possibles : commune, epci, departement, region, autre) [valeur-inconnue]"),
        ("c: {thematiques: urbanism}\n",
         "c.yaml:1:18: erreur: thematiques : mot inconnu « urbanism » — vouliez-vous dire « urbanisme » ? [vocabulaire]"),
        ("c: {departement: 01}\n",
         "c.yaml:1:18: erreur: département : texte attendu, pas 01 : écrivez le code entre guillemets, par exemple "
         "\"01\" [type]"),
        ("c: {commune: 01053}\n",  # YAML 1.1 reads it in octal, 555: the message shows it as written
         "c.yaml:1:14: erreur: commune : texte attendu, pas 01053 : écrivez le code entre guillemets, par exemple "
         "\"01053\" [type]"),
        ("c: {departement: 1}\n",
         "c.yaml:1:18: erreur: département : texte attendu, pas 1 : écrivez le code entre guillemets, par exemple \"01\" "
         "[type]"),
        ("c: {commune: \"1053\"}\n",  # the zero a spreadsheet drops, suggested first
         "c.yaml:1:14: erreur: commune « 1053 » absent du découpage administratif 2026 — codes proches : 01053 "
         "[territoire-inconnu]"),
        ("c: {commune: \"64999\"}\n",
         "c.yaml:1:14: erreur: commune « 64999 » absent du découpage administratif 2026 — codes proches : 64499, 64399, "
         "64299 [territoire-inconnu]"),
        ("c: {niveau: agence}\n",
         "c.yaml:1:5: erreur: le champ « niveau » n'est connu qu'après la décision : utilisable dans le `quand` d'une "
         "règle, pas dans les conditions d'une offre [champ-inconnu]"),
        ("c: {population: {contient: 3}}\n",
         "c.yaml:1:28: erreur: « contient » s'applique à une liste (thématiques, besoins, programmes), pas à population "
         "[type]"),
        ("c: {tous: []}\n", "c.yaml:1:11: erreur: « tous » attend une liste non vide de conditions [type]"),
    ],
)
def test_errors_name_the_place_and_suggest(text, message):
    cond, issues = condition(text)
    assert cond is None
    assert issues == [message]


def test_membership_is_an_attribute_not_a_misspelt_field():
    cond, issues = condition("c: {adhesions: {contient: caue-56}}\n")
    assert issues == []
    assert holds(cond, {"adhesions": ("atd-24", "caue-56")})
    assert not holds(cond, {"adhesions": ("atd-24",)})


def test_attributes_are_typed_by_their_first_use():
    doc = parse("a: {qpv: true}\nb: {qpv: {min: 2}}\n", "c.yaml")
    issues = IssueCollector()
    ctx = ParseContext(doc, issues, VOCABULARIES, attribute_types={})
    parse_condition(doc.data["a"], ("a",), ctx)
    parse_condition(doc.data["b"], ("b",), ctx)
    assert [str(i) for i in issues.issues] == [
        "c.yaml:2:16: erreur: attribut « qpv » comparé à un nombre ici, mais à un booléen en c.yaml:1:10 [type]"
    ]


def test_why_not_says_which_test_failed_with_the_values():
    cond, _ = condition("""\
        c:
          porteur: [commune, epci]
          population: {max: 20000}
          programmes: {contient: pvd}
    """)
    facts = {"porteur": "commune", "population": 31000, "programmes": ()}
    assert not holds(cond, facts)
    assert explain(cond, facts) == [
        "population 31 000 > max 20 000",
        "programmes : pvd requis",
    ]
    assert explain(cond, {"porteur": "epci", "population": 100, "programmes": ("pvd",)}) == []


def test_combinators_explained():
    cond, _ = condition("""\
        c:
          un_de: [{porteur: epci}, {population: {max: 3499}}]
          aucun: [{zone: com}]
    """)
    assert explain(cond, {"porteur": "commune", "population": 5000, "zone": "com"}) == [
        "aucune des conditions alternatives ne tient : (type de porteur commune ≠ epci) ou (population 5 000 > max 3 499)",
        "condition exclue vérifiée : zone = com",
    ]


def test_missing_values_fail_positive_tests_and_pass_negative_ones():
    positive, _ = condition("c: {montant: {min: 0}}\n")
    negative, _ = condition("c: {montant: {pas: 10}}\n")
    absent, _ = condition("c: {montant: {existe: false}}\n")
    assert not holds(positive, {}) and holds(negative, {}) and holds(absent, {})


def test_canonical_facts_keep_only_what_conditions_can_tell_apart():
    a, _ = condition("c: {population: {max: 3500}, departement: \"64\"}\n")
    b, _ = condition("c: {population: {min: 10000}, thematiques: [eau]}\n")
    canon = Canonicalizer([a, b])
    key = lambda facts: canon.canonical(facts)  # noqa: E731
    assert key({"population": 100, "departement": "33"}) == key({"population": 3000, "departement": "75"})
    assert key({"population": 3500}) != key({"population": 3501})
    assert key({"thematiques": ("urbanisme",)}) == key({"thematiques": ("energie-dechets",)})
    assert key({"thematiques": ("urbanisme",)}) != key({"thematiques": ()})
