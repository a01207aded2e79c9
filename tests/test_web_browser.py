"""The web page in a real browser: Debian's chromium driven by Playwright, against `aiguillage serve`
running on 127.0.0.1. What a person at the DT's office does: fill the form, read the decision, share
its link, print it; drop a backlog and get the decisions back; all of it with the keyboard alone; and
an accessibility audit (axe-core) of every page. Screenshots and PDFs are kept under tests/artefacts/.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import browser
from conftest import TODAY

pytestmark = pytest.mark.skipif(not browser.available(),
                                reason="chromium absent (apt-get install chromium ; .ci/run l'installe)")

ARTEFACTS = Path(__file__).parent / "artefacts"
BACKLOG = ("id;porteur;thematiques;besoins\n"
           "a-1;16015;revitalisation;diagnostic\n"
           "a-2;29155;eau;amo\n"
           "a-3;99999;eau;amo\n")


@pytest.fixture(scope="module")
def server():
    """`aiguillage serve`'s application in uvicorn, on a free port of 127.0.0.1."""
    import uvicorn

    from matcher.web import Service, create_app

    service = Service(day=TODAY)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started:
        assert time.monotonic() < deadline, "le serveur n'a pas démarré"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(10)
    service.close()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser_ = playwright.chromium.launch(executable_path=browser.CHROMIUM, args=list(browser.FLAGS))
        yield browser_
        browser_.close()


@pytest.fixture
def page(chromium):
    """A fresh page; any Content-Security-Policy violation or script error it reports fails the test."""
    context = chromium.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900}, locale="fr-FR")
    page = context.new_page()
    problems: list[str] = []
    # (a refused demande's page is itself a 4xx, which the browser logs as a resource that failed)
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource: the server responded with a status of 4")
            else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    context.close()
    assert problems == []


def shot(page, name: str) -> None:
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def test_form_to_decision_to_shared_link_to_print(page, server, chromium):
    page.goto(server + "/")
    page.fill("#porteur", "angoul")
    page.locator("#porteurs option").first.wait_for(state="attached")
    suggested = page.eval_on_selector_all("#porteurs option", "os => os.map(o => [o.value, o.label])")
    assert suggested[0] == ["16015", "Angoulême (16, Charente) — commune"]
    page.fill("#porteur", suggested[0][0])
    page.select_option("#thematique", "revitalisation")
    page.select_option("#besoin", "diagnostic")
    shot(page, "formulaire")
    page.click("button:has-text('Orienter')")
    page.wait_for_url("**/decision?**")
    assert "thematique=revitalisation" in page.url and "besoin=diagnostic" in page.url
    decision = page.inner_text(".decision-box")
    assert "Préfet de la Charente" in decision
    examined = len(json.loads(urllib.request.urlopen(server + page.url.replace(server + "/decision", "/api/decision"))
                              .read())["examen"])
    assert page.locator("details.level").count() == examined and page.locator("details.level[open]").count() == 1
    shot(page, "decision")
    # The link to share, opened by a colleague in another browser: the same decision.
    shared = page.get_attribute("#lien-partage", "href")
    other = chromium.new_context()
    colleague = other.new_page()
    colleague.goto(server + shared)
    assert colleague.inner_text(".decision-box") == decision
    other.close()
    # Printed: A4, every examined level unfolded.
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.locator("details.level[open]").count() == examined
    assert not page.is_visible("#imprimer")
    ARTEFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=str(ARTEFACTS / "decision.pdf"), format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


def test_upload_a_backlog_and_download_its_decisions(page, server, tmp_path):
    backlog = tmp_path / "carnet.csv"
    backlog.write_text(BACKLOG, encoding="utf-8")
    page.goto(server + "/")
    page.set_input_files("#fichier", str(backlog))
    with page.expect_download() as download_info:
        page.click("button:has-text('Réorienter le carnet')")
    download = download_info.value
    assert download.suggested_filename == "decisions-carnet.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:  # the decisions and, beside them, the explanations they refer to
        assert archive.namelist() == ["decisions-carnet.csv", "decisions-carnet.explications.csv"]
        archive.extractall(tmp_path / "decisions")
    frame = pd.read_csv(tmp_path / "decisions" / "decisions-carnet.csv", sep=";", dtype=str, keep_default_na=False,
                        encoding="utf-8-sig")
    assert list(frame["id"]) == ["a-1", "a-2", "a-3"]
    assert frame["erreur"].tolist()[:2] == ["", ""] and "commune inconnue" in frame["erreur"][2]
    explanations = pd.read_csv(tmp_path / "decisions" / "decisions-carnet.explications.csv", sep=";", dtype=str,
                               keep_default_na=False, encoding="utf-8-sig")
    assert set(frame["explication"]) - {""} <= set(explanations["explication"])
    # The comité local's page of the same visitor reads that batch.
    page.goto(server + "/comite-local/16")
    assert "Comité local de cohésion territoriale" in page.inner_text("h1")
    shot(page, "comite-local-16")
    from axe_playwright_python.sync_playwright import Axe

    audit = Axe().run(page)
    assert audit.violations_count == 0, audit.generate_report()


def test_keyboard_only(page, server):
    page.goto(server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    page.keyboard.press("Enter")
    page.wait_for_url("**#contenu", timeout=5000)  # the jump is asynchronous: wait for it, do not race it
    assert page.url.endswith("#contenu")

    def tab_to(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            if page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
                return
            page.keyboard.press("Tab")
        raise AssertionError(f"{selector} jamais atteint au clavier")

    tab_to("#porteur")
    page.keyboard.type("29155")
    tab_to("#thematique")
    page.keyboard.type("Eau et")  # type-ahead picks « Eau et milieux aquatiques »
    tab_to("#besoin")
    page.keyboard.type("Assistance")
    tab_to("#complexe-non")
    tab_to("form.demande button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/decision?**")
    assert "porteur=29155" in page.url and "thematique=eau" in page.url and "besoin=amo" in page.url
    communal = page.locator("details.level").first
    assert not communal.evaluate("d => d.open")
    tab_to("details.level summary")
    page.keyboard.press("Enter")
    assert communal.evaluate("d => d.open")
    shot(page, "clavier-decision")


@pytest.mark.parametrize("name, path", [
    ("accueil", "/"), ("decision", "/decision?porteur=16015&thematique=revitalisation&besoin=diagnostic"),
    ("demande-a-corriger", "/decision?porteur=16015&thematique=revitalisation&besoin=diagnostick"),
    ("comite-local-sans-fichier", "/comite-local/29"), ("couverture-16", "/couverture?departement=16"),
    ("page-absente", "/page-absente"),
])
def test_accessibility_audit_finds_no_violation(page, server, name, path):
    from axe_playwright_python.sync_playwright import Axe

    page.goto(server + path)
    results = Axe().run(page)
    shot(page, f"axe-{name}")
    assert results.violations_count == 0, results.generate_report()
