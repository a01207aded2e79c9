"""`aiguillage serve`: every route through Starlette's TestClient, on the shipped catalogue and rules.

The decision page and its JSON are the command line's decision (`route --format json`); a backlog
uploaded comes back as `batch` writes it; everything a user types is escaped; limits answer in French.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import openpyxl
import pandas as pd
import pytest
from starlette.testclient import TestClient

from clirun import run
from conftest import TODAY
from matcher.web import Limits, Service, create_app

ANGOULEME = "porteur=16015&thematique=revitalisation&besoin=diagnostic"


@pytest.fixture(scope="module")
def service():
    service = Service(day=TODAY, limits=Limits(upload_bytes=200_000, rows=50))
    yield service
    service.close()


@pytest.fixture
def client(service):
    return TestClient(create_app(service))


def test_the_form_offers_the_vocabulary_and_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "Revitalisation des centres-villes et centres-bourgs" in page.text  # labels, not ids
    assert 'name="thematique"' in page.text and 'name="besoin"' in page.text and 'name="programme"' in page.text
    assert 'name="fichier"' in page.text and 'action="/batch?explications=oui"' in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<style" not in page.text and "<script>" not in page.text and " style=" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"


def test_the_decision_page_is_the_command_line_decision(client):
    cli = run("route", "--porteur", "16015", "--thematique", "revitalisation", "--besoin", "diagnostic",
              "--format", "json", "--date", TODAY.isoformat())
    expected = json.loads(cli.stdout)
    api = client.get(f"/api/decision?{ANGOULEME}")
    assert api.status_code == 200 and api.json() == expected
    page = client.get(f"/decision?{ANGOULEME}")
    assert page.status_code == 200
    text = page.text
    offre = expected["decision"]["offre"]
    assert offre["nom"] in text and offre["source"] in text and "Préfet de la Charente" in text
    assert {"gratuit": "gratuit", "cofinance": "cofinancé", "payant": "payant"}[offre["cout"]] in text
    # One collapsible section per examined level, the chosen one open, each with its French « why not ».
    assert text.count("<details") == len(expected["examen"])
    assert re.search(r'<details class="level retenu" open>', text)
    for level in expected["examen"]:
        for rejected in level.get("offres", []):
            assert rejected["id"] in text
    assert "CA du Grand Angoulême" in text and "Région Nouvelle-Aquitaine" in text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="departement"' in text and "Charente dans sa région" in text
    assert expected["version"]["catalogue"] in text
    assert f'href="/api/decision?{ANGOULEME}"' in text.replace("&amp;", "&")
    assert f'href="/decision.xlsx?{ANGOULEME}"' in text.replace("&amp;", "&")


def test_demandes_asked_together_are_decided_together_each_as_the_command_line_decides_it(monkeypatch):
    """While the engine is busy, the demandes that arrive wait; the first request to get it decides them
    all in one pass, and each answer is the command line's decision — a refused one refused alone."""
    import threading
    import time

    from matcher.workspace import Workspace

    queries = [ANGOULEME, "porteur=29155&thematique=eau&besoin=amo", "porteur=69381&thematique=habitat&besoin=conseil",
               "porteur=2A004&thematique=patrimoine&besoin=amo&complexe=oui", "porteur=99999&thematique=eau&besoin=amo",
               "porteur=commune:97411&thematique=risques&besoin=etude&saisine=directe"]
    passes: list[int] = []
    route_many = Workspace.route_many
    monkeypatch.setattr(Workspace, "route_many", lambda self, data, *args: passes.append(len(data))
                        or route_many(self, data, *args))
    busy = Service(day=TODAY)
    try:
        client = TestClient(create_app(busy))
        answers: dict[str, object] = {}
        asking = [threading.Thread(target=lambda q: answers.__setitem__(q, client.get(f"/api/decision?{q}")), args=(q,))
                  for q in queries]
        with busy.lock:  # the engine is busy: every demande waits
            for thread in asking:
                thread.start()
            deadline = time.monotonic() + 30
            while len(busy._waiting) < len(queries) and time.monotonic() < deadline:
                time.sleep(0.01)
        for thread in asking:
            thread.join(60)
        assert passes == [len(queries)]
        for query in queries[:4] + queries[5:]:
            options = [f"--{k}={v}" if k != "complexe" else "--complexe" for k, v in
                       (part.split("=", 1) for part in query.split("&"))]
            alone = json.loads(run("route", *options, "--format", "json", "--date", TODAY.isoformat()).stdout)
            assert answers[query].status_code == 200 and answers[query].json() == alone, query
        refused = answers[queries[4]]
        assert refused.status_code == 400 and "commune inconnue : 99999" in refused.json()["erreur"]
    finally:
        busy.close()


def test_a_pass_that_fails_unexpectedly_answers_every_request_of_it(monkeypatch):
    import threading
    import time

    from matcher.workspace import Workspace

    def broken(self, data, *args):
        raise RuntimeError("panne")

    monkeypatch.setattr(Workspace, "route_many", broken)
    busy = Service(day=TODAY)
    try:
        client = TestClient(create_app(busy), raise_server_exceptions=False)
        answers: list[int] = []
        asking = [threading.Thread(target=lambda q: answers.append(client.get(f"/api/decision?{q}").status_code),
                                   args=(q,)) for q in (ANGOULEME, "porteur=29155&thematique=eau&besoin=amo")]
        with busy.lock:
            for thread in asking:
                thread.start()
            deadline = time.monotonic() + 30
            while len(busy._waiting) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        for thread in asking:
            thread.join(60)
        assert answers == [500, 500]
    finally:
        busy.close()


def test_an_island_without_epci_and_repeatable_parameters(client):
    d = client.get("/api/decision?porteur=29155&thematique=eau&thematique=assainissement&besoin=amo"
                   "&complexe=oui&saisine=directe").json()
    assert d["territoire"]["nom"] == "Ouessant" and "intercommunal" not in d["territoire"]["niveaux"]
    assert d["demande"]["thematiques"] == ["eau", "assainissement"]
    assert d["demande"]["complexite"] == "complexe" and d["demande"]["saisine"] == "directe"
    page = client.get("/decision?porteur=29155&thematique=eau&besoin=amo").text
    assert "Intercommunalité" not in page and "Préfet du Finistère" in page


def test_a_members_only_offer_says_the_membership_is_to_be_checked(client):
    """The Dordogne's agence technique serves its members: a demande that does not say is presumed one."""
    query = "porteur=24322&thematique=voirie-reseaux&besoin=amo"
    page = client.get(f"/decision?{query}")
    assert page.status_code == 200
    assert "Réservée aux adhérents (atd-24)" in page.text and "à vérifier avec lui" in page.text
    assert client.get(f"/api/decision?{query}").json()["adhesions_a_verifier"] == ["atd-24"]


def test_a_porteur_typed_by_name_and_a_date(client):
    d = client.get(f"/api/decision?porteur=Angoulême&thematique=habitat&besoin=conseil&date=2026-06-01").json()
    assert d["territoire"]["commune"] == "16015" and d["date_decision"] == "2026-06-01"
    assert any("lu comme la commune Angoulême" in note for note in d["notes"])


@pytest.mark.parametrize("query, message", [
    ("porteur=16015&thematique=revitalisation&besoin=diagnostick",
     "paramètre « besoin » : besoins : mot inconnu « diagnostick » — vouliez-vous dire « diagnostic » ?"),
    ("thematique=eau&besoin=amo", "paramètre « porteur » manquant"),
    ("porteur=99999&thematique=eau&besoin=amo", "paramètre « porteur » : commune inconnue : 99999"),
    (f"{ANGOULEME}&date=26/11/2026", "paramètre « date » : « 26/11/2026 » n'est pas une date AAAA-MM-JJ"),
    (f"{ANGOULEME}&fichier=/etc/passwd", "paramètre inconnu « fichier »"),
    (f"{ANGOULEME}&porteur=29155", "paramètre « porteur » donné 2 fois"),
])
def test_refused_demandes_answer_in_french_with_a_4xx(client, query, message):
    api = client.get(f"/api/decision?{query}")
    assert api.status_code == 400 and api.json()["erreur"].startswith(message)
    page = client.get(f"/decision?{query}")
    assert page.status_code == 400 and 'role="alert"' in page.text
    assert message.replace("'", "&#39;") in page.text or message in page.text


def test_everything_typed_is_escaped(client):
    hostile = '<script>alert("x")</script>'
    page = client.get(f"/decision?{ANGOULEME}&intitule={hostile}")
    assert page.status_code == 200 and hostile not in page.text and "&lt;script&gt;" in page.text
    refused = client.get(f"/decision?porteur={hostile}&thematique=eau&besoin=amo")
    assert refused.status_code == 400 and hostile not in refused.text and "&lt;script&gt;" in refused.text
    assert hostile not in client.get(f"/api/territoires?q={hostile}").text


def test_the_decision_as_a_one_row_spreadsheet(client):
    answer = client.get(f"/decision.xlsx?{ANGOULEME}")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    # As an office keeps it: the header bold and frozen, with filters, the columns wide enough.
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    assert all(cell.font.bold for cell in sheet[1]) and sheet.column_dimensions["F"].width >= 8
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1]))
    api = client.get(f"/api/decision?{ANGOULEME}").json()
    assert row["offre_id"] == api["decision"]["offre"]["id"] and row["niveau"] == api["decision"]["niveau"]
    assert row["delegue_territorial"] == "Préfet de la Charente"


def test_autocompletion_tolerates_accents_and_typos(client):
    assert client.get("/api/territoires?q=angouleme").json()[0] == {
        "code": "16015", "libelle": "Angoulême (16, Charente) — commune"}
    assert client.get("/api/territoires?q=chatauroux").json()[0]["code"] == "36044"
    found = client.get("/api/territoires?q=grand angouleme").json()
    assert found[0]["code"] == "epci:200071827"
    assert client.get("/api/territoires?q=a").json() == []


def _backlog_csv() -> bytes:
    return ("id;porteur;thematiques;besoins\n"
            "a-1;16015;revitalisation;diagnostic\n"
            "a-2;29155;eau;amo\n"
            "a-3;99999;eau;amo\n"
            "a-4;69381;habitat|urbanisme;conseil\n").encode("utf-8")


def _unzipped(answer) -> dict[str, bytes]:
    assert answer.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _explained(decisions: pd.DataFrame, explanations: pd.DataFrame) -> None:
    """Every row's `explication` reference is an entry of the explanations file, which says why."""
    assert set(decisions["explication"]) - {""} <= set(explanations["explication"])
    angouleme = explanations.set_index("explication").loc[decisions.loc[0, "explication"], "examen"]
    assert "communal" in angouleme and "retenu" in angouleme


def test_a_backlog_uploaded_comes_back_decided_in_its_format_with_its_explanations(client, tmp_path):
    answer = client.post("/batch?explications=oui", files={"fichier": ("carnet du 16.csv", _backlog_csv(), "text/csv")})
    assert answer.status_code == 200, answer.text
    # A CSV's decisions refer to their explanations file (E1, E2…): the page's form asks for both, which
    # come as `batch` names them.
    assert answer.headers["content-disposition"] == 'attachment; filename="decisions-carnet-du-16.zip"'
    assert answer.headers["x-aiguillage-lignes"] == "4" and answer.headers["x-aiguillage-erreurs"] == "1"
    files = _unzipped(answer)
    assert list(files) == ["decisions-carnet-du-16.csv", "decisions-carnet-du-16.explications.csv"]
    frame = pd.read_csv(io.BytesIO(files["decisions-carnet-du-16.csv"]), sep=";", dtype=str, keep_default_na=False,
                        encoding="utf-8-sig")
    assert list(frame["id"]) == ["a-1", "a-2", "a-3", "a-4"]
    assert frame.loc[2, "erreur"].startswith("ligne 4, colonne porteur : commune inconnue : 99999")
    assert frame.loc[0, "offre_id"] == client.get(f"/api/decision?{ANGOULEME}").json()["decision"]["offre"]["id"]
    _explained(frame, pd.read_csv(io.BytesIO(files["decisions-carnet-du-16.explications.csv"]), sep=";", dtype=str,
                                  keep_default_na=False, encoding="utf-8-sig"))
    # By default, the decisions file alone in the upload's format, as the command line writes it.
    alone = client.post("/batch", files={"fichier": ("carnet du 16.csv", _backlog_csv(), "text/csv")})
    assert alone.headers["content-type"].startswith("text/csv")
    assert alone.headers["content-disposition"] == 'attachment; filename="decisions-carnet-du-16.csv"'
    assert alone.content == files["decisions-carnet-du-16.csv"]
    # The same backlog as Excel comes back as Excel, its explanations in a sheet; as Parquet, both Parquet files.
    table = pd.read_csv(io.BytesIO(_backlog_csv()), sep=";", dtype=str)
    excel, parquet = io.BytesIO(), io.BytesIO()
    table.to_excel(excel, index=False)
    table.to_parquet(parquet)
    xlsx = client.post("/batch", files={"fichier": ("carnet.xlsx", excel.getvalue(), "application/octet-stream")})
    assert xlsx.status_code == 200 and len(pd.read_excel(io.BytesIO(xlsx.content))) == 4
    assert xlsx.headers["content-disposition"] == 'attachment; filename="decisions-carnet.xlsx"'
    sheets = pd.read_excel(io.BytesIO(xlsx.content), sheet_name=None, dtype=str, keep_default_na=False)
    _explained(sheets["decisions"], sheets["explications"])
    back = client.post("/batch", files={"fichier": ("carnet.parquet", parquet.getvalue(), "application/octet-stream")},
                       headers={"Accept": "application/zip"})
    files = _unzipped(back)
    assert back.status_code == 200 and list(files) == ["decisions-carnet.parquet", "decisions-carnet.explications.parquet"]
    decided = pd.read_parquet(io.BytesIO(files["decisions-carnet.parquet"]))
    assert list(decided["id"]) == ["a-1", "a-2", "a-3", "a-4"]
    _explained(decided.fillna(""), pd.read_parquet(io.BytesIO(files["decisions-carnet.explications.parquet"])))


@pytest.mark.parametrize("name, content, status, message", [
    ("carnet.txt", b"porteur\n16015\n", 415, "« carnet.txt » : format non pris en charge"),
    ("sans-besoins.csv", b"porteur;thematiques\n16015;eau\n", 400, "sans-besoins.csv"),
    ("long.csv", ("porteur;thematiques;besoins\n" + "16015;eau;amo\n" * 51).encode(), 400,
     "51 lignes : au plus 50 par envoi"),
    ("gros.csv", b"porteur;thematiques;besoins\n" + b"16015;eau;amo\n" * 20_000, 413, "fichier trop gros"),
])
def test_a_refused_backlog_says_why(client, name, content, status, message):
    answer = client.post("/batch", files={"fichier": (name, content, "text/csv")}, headers={"Accept": "application/json"})
    assert answer.status_code == status
    text = answer.json()["erreur"] if answer.headers["content-type"].startswith("application/json") else answer.text
    assert message in text


def test_no_file_and_no_path_reaches_the_file_system(client, service):
    assert client.post("/batch", data={"fichier": "/etc/passwd"}).status_code == 400
    answer = client.post("/batch", files={"fichier": ("../../../tmp/evil.csv", _backlog_csv(), "text/csv")})
    assert answer.status_code == 200 and 'filename="decisions-evil.csv"' in answer.headers["content-disposition"]
    written = {p.name for p in service.folder.rglob("*") if p.is_file()}
    assert "evil.csv" not in written and written <= {"demandes.csv", "decisions.csv", "nom-decisions.txt",
                                                     "demandes.xlsx", "decisions.xlsx", "demandes.parquet",
                                                     "decisions.parquet", "decision-seule.csv", "decision-seule.xlsx",
                                                     "decisions.explications.csv", "decisions.explications.parquet"}
    assert client.get("/comite-local/..%2F..%2Fetc").status_code == 404
    assert client.get("/static/..%2Faiguillage.css").status_code == 404


def test_the_comite_local_page_from_the_last_batch_or_an_upload(client, service, year):
    larger = Service(day=TODAY)  # a year of decisions is larger than the module's upload limit
    empty = TestClient(create_app(larger))  # a new visitor: no batch yet
    asked = empty.get("/comite-local/16")
    assert asked.status_code == 200 and 'enctype="multipart/form-data"' in asked.text
    uploaded = empty.post("/comite-local/16", files={"fichier": ("decisions.csv", year.decisions.read_bytes(),
                                                                 "text/csv")}, follow_redirects=True)
    assert uploaded.status_code == 200 and "Comité local de cohésion territoriale" in uploaded.text
    assert "Charente" in uploaded.text and 'class="annex"' in uploaded.text
    assert "Décisions : decisions.csv" in uploaded.text and str(larger.folder) not in uploaded.text
    larger.close()
    client.post("/batch", files={"fichier": ("carnet.csv", _backlog_csv(), "text/csv")})
    from_batch = client.get("/comite-local/16")
    assert from_batch.status_code == 200 and "a-1" in from_batch.text
    # The page names the decisions as the visitor downloaded them, never the server's own folder.
    assert "Décisions : decisions-carnet.csv" in from_batch.text and str(service.folder) not in from_batch.text
    assert client.get("/comite-local?departement=16", follow_redirects=False).headers["location"] == "/comite-local/16"
    assert client.get("/comite-local/99").status_code == 404


def test_a_departement_is_read_as_the_command_line_reads_it(client):
    assert "2A Corse-du-Sud : niveau retenu par thématique et besoin" in client.get("/couverture?departement=2a").text
    assert "01 Ain : niveau retenu" in client.get("/couverture?departement=1").text
    assert client.get("/comite-local?departement=2b", follow_redirects=False).headers["location"] == "/comite-local/2B"
    unknown = client.get("/couverture?departement=99")
    assert unknown.status_code == 404
    assert "département : « 99 » inconnu — vouliez-vous dire « 989 » ? (un code comme 16, 2A ou 974)" in unknown.text


def test_coverage_health_and_unknown_pages(client):
    page = client.get("/couverture?departement=16")
    assert page.status_code == 200 and "16 Charente : niveau retenu par thématique et besoin" in page.text
    assert 'class="lv lv-' in page.text and " style=" not in page.text
    health = client.get("/sante").json()
    assert health["statut"] == "ok" and health["catalogue"].startswith("sha256:") and health["date"] == "2026-11-26"
    assert client.get("/nulle-part").status_code == 404
    assert client.post("/decision").status_code == 405
    css = client.get("/static/aiguillage.css")
    assert css.status_code == 200 and "@page { size: A4" in css.text


def test_a_request_that_takes_too_long_is_cut_with_a_message():
    slow = Service(day=TODAY, limits=Limits(seconds=0.001))
    try:
        answer = TestClient(create_app(slow)).get("/couverture?departement=29")
        assert answer.status_code == 503 and "a pris plus de" in answer.text
    finally:
        slow.close()


def test_the_state_design_system_when_installed_locally(tmp_path, year):
    dsfr = tmp_path / "dsfr" / "dist"
    dsfr.mkdir(parents=True)
    (dsfr / "dsfr.min.css").write_text(":root{--blue-france-sun-113-625:#000091}", encoding="utf-8")
    service = Service(day=TODAY, dsfr_dir=tmp_path / "dsfr")
    try:
        client = TestClient(create_app(service))
        page = client.get("/").text
        assert page.index('href="/static/dsfr.min.css"') < page.index('href="/static/aiguillage.css"')
        assert "--blue-france-sun-113-625" in client.get("/static/dsfr.min.css").text
        # The comité local's page is the report as written to disk, its two stylesheets inline and
        # admitted by their hashes.
        from matcher.templating import style_hash, stylesheet

        client.post("/comite-local/16", files={"fichier": ("decisions.csv", year.decisions.read_bytes(), "text/csv")})
        report = client.get("/comite-local/16")
        styles = re.findall(r"<style>(.*?)</style>", report.text, re.S)
        assert report.status_code == 200 and styles == [":root{--blue-france-sun-113-625:#000091}", stylesheet()]
        policy = report.headers["content-security-policy"]
        assert all(style_hash(css) in policy for css in styles)
    finally:
        service.close()
    from matcher.errors import AiguillageError

    with pytest.raises(AiguillageError, match="pas de dsfr.min.css"):
        Service(day=TODAY, dsfr_dir=tmp_path)
    assert TestClient(create_app(Service(day=TODAY))).get("/static/dsfr.min.css").status_code == 404
