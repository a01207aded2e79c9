"""What an author must act on in time, said by `rules check`: a validity that ends within 90 days, a source
not re-read for a year (`verifie_le`), the offers never re-read since written (counted), an import's notes."""

from __future__ import annotations

import textwrap

from clirun import run

MINI = ("--catalogue", "tests/fixtures/ok/mini-catalogue", "--rules", "tests/fixtures/ok/mini-rules")
OFFER = """\
  - id: {id}
    nom: Conseil
    structure: CAUE de la Charente
    niveau: departemental
    perimetre: [departement:16]
    thematiques: [urbanisme]
    besoins: [conseil]
    cout: gratuit
    source: https://www.caue16.fr/
"""


def check(tmp_path, extra: str, date: str):
    path = tmp_path / "offres.yaml"
    path.write_text("offres:\n" + extra, encoding="utf-8")
    return path, run("rules", "check", path, *MINI, "--date", date)


def test_a_validity_ending_within_90_days_is_announced(tmp_path):
    offers = (OFFER.format(id="fin-proche") + "    validite: {fin: 2027-02-24}\n"
              + OFFER.format(id="fin-lointaine") + "    validite: {fin: 2027-02-25}\n")
    path, result = check(tmp_path, offers, "2026-11-26")
    assert result.code == 0
    assert result.err_lines[:-1] == [
        f"{path}:11:21: avertissement: offre « fin-proche » valable jusqu'au 24/02/2027, dans 90 jours : renouvelez-la "
        "d'après sa source ou laissez-la échoir [fin-de-validite]"]


def test_a_source_not_reread_for_a_year_is_due(tmp_path):
    offers = (OFFER.format(id="relue-il-y-a-un-an") + "    verifie_le: 2025-11-26\n"
              + OFFER.format(id="relue-il-y-a-plus-d-un-an") + "    verifie_le: 2025-11-25\n")
    path, result = check(tmp_path, offers, "2026-11-26")
    assert result.err_lines[:-1] == [
        f"{path}:21:17: avertissement: offre « relue-il-y-a-plus-d-un-an » : source relue le 25/11/2025, il y a plus "
        "d'un an : relisez https://www.caue16.fr/ et mettez verifie_le à jour [source-a-relire]"]


def test_offers_never_reread_are_counted_not_warned_one_by_one(tmp_path):
    offers = OFFER.format(id="jamais-relue") + OFFER.format(id="relue") + "    verifie_le: 2026-10-01\n"
    path, result = check(tmp_path, offers, "2026-11-26")
    assert result.code == 0 and len(result.err_lines) == 1
    summary = result.err_lines[0]
    assert summary.startswith("0 erreur, 0 avertissement (")
    # the mini catalogue's own offers have no verifie_le either: all but one of its offers and the file's
    assert "offres sans date de relecture (verifie_le)" in summary


def test_an_imports_notes_are_reported_until_removed(tmp_path):
    offers = OFFER.format(id="importee") + textwrap.indent(
        "a_verifier:\n  - périmètre déduit du nom du porteur\n  - coût non dit par l'export\n", "    ")
    path, result = check(tmp_path, offers, "2026-11-26")
    assert result.code == 0
    assert result.err_lines[:-1] == [
        f"{path}:11:5: avertissement: offre « importee » à vérifier : périmètre déduit du nom du porteur ; coût non dit "
        "par l'export [a-verifier]"]
    assert run("rules", "check", path, *MINI, "--date", "2026-11-26", "--strict").code == 1


def test_a_selective_scheme_serves_only_a_project_it_selected(tmp_path):
    """The Atelier des territoires is selected by the DGALN: an open demande does not get it, a selected one does
    (a list attribute, as a demande file writes it). The demande is projet de territoire / concertation, which the
    Atelier offers and nothing local does in Paris (the CAUE de Paris organises concertation on urbanisme, not on a
    projet de territoire), so that the closer level does not take the demande first."""
    import json

    path = tmp_path / "demande.yaml"
    base = 'porteur: "75112"\nthematiques: [projet-de-territoire]\nbesoins: [concertation]\n'
    path.write_text(base, encoding="utf-8")
    open_demande = json.loads(run("route", path, "--format", "json", "--date", "2026-11-26").stdout)
    assert open_demande["decision"]["offre"]["id"] != "dgaln-atelier-des-territoires"
    path.write_text(base + "attributs: {selections: [atelier-des-territoires]}\n", encoding="utf-8")
    result = run("route", path, "--format", "json", "--date", "2026-11-26")
    assert result.code == 0, result.stderr
    decision = json.loads(result.stdout)["decision"]
    assert (decision["niveau"], decision["offre"]["id"]) == ("operateur", "dgaln-atelier-des-territoires")


def test_every_departement_has_local_offers_from_two_distinct_structures(workspace):
    # A DT anywhere in France (the 96 metropolitan départements and the five DROM) is told of local
    # engineering before the agence: at least two structures whose local offers reach the département.
    from matcher.reach import LOCAL_LEVELS, reach

    graph = workspace.graph
    structures: dict[str, set[str]] = {code: set() for code in graph.index.departements}
    for offre in workspace.catalogue.offres:
        if offre.niveau in LOCAL_LEVELS:
            for code in reach(offre, graph).departements & structures.keys():
                structures[code].add(offre.structure)
    served = {code for code, d in graph.index.departements.items() if d.zone in ("metro", "drom")}
    assert len(served) == 101
    assert {code: sorted(structures[code]) for code in served if len(structures[code]) < 2} == {}
