"""The routes of `aiguillage serve`.

One process; the rules engine is not thread-safe, so every call into the library runs in a worker
thread under one lock, and a request that takes longer than `Limits.seconds` is answered with a
clear message (the work goes on in its thread and releases the lock when done). Nothing a request
carries names a file: uploads are written under fixed names in a folder of the server's own.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets
import shutil
import tempfile
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import urlencode

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..errors import AiguillageError
from ..model import COMPLEXITES, LEVEL_LABELS, PORTEUR_TYPES, SAISINES
from ..templating import dsfr_stylesheet, render, style_hash, stylesheet
from ..territory import known_code
from ..workspace import Workspace, load_workspace

T = TypeVar("T")

# The query parameters of /decision and /api/decision: the command line's option names.
PARAMS = {
    "porteur": "porteur", "thematique": "thematiques", "besoin": "besoins", "programme": "programmes",
    "complexe": "complexite", "saisine": "saisine", "type-porteur": "type_porteur", "population": "population",
    "montant": "montant", "id": "id", "intitule": "intitule", "date": None,
}
REPEATABLE = ("thematique", "besoin", "programme")
FIELD_PARAMS = {field: name for name, field in PARAMS.items() if field}
UPLOAD_FORMATS = {".csv": "text/csv; charset=utf-8", ".xlsx":
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  ".parquet": "application/vnd.apache.parquet"}


@dataclass(frozen=True)
class Limits:
    upload_bytes: int = 20 * 1024 * 1024
    rows: int = 50_000
    seconds: float = 60.0
    sessions: int = 50
    decisions_kept: int = 1024


@dataclass
class _Waiting:
    """A demande waiting for the engine, and once decided its route JSON or the error refusing it
    (or the unexpected one that stopped its pass, raised for every demande of the pass)."""

    data: dict[str, Any]
    day: dt.date
    outcome: dict[str, Any] | Exception | None = None


class InputError(Exception):
    """A request the page refuses, with the French message shown to the user and its HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


class Service:
    """What the routes share: the workspaces (one per decision day), the engine lock, the name
    finder, the coverage computed once a day, and each visitor's last batch."""

    def __init__(self, catalogue_dir: Path | None = None, rules_dir: Path | None = None,
                 day: dt.date | None = None, dsfr_dir: Path | None = None, limits: Limits = Limits()):
        self.catalogue_dir, self.rules_dir, self.fixed_day, self.limits = catalogue_dir, rules_dir, day, limits
        self.dsfr_css = dsfr_stylesheet(dsfr_dir) if dsfr_dir else None
        self.lock = threading.Lock()
        self._workspaces: OrderedDict[dt.date, Workspace] = OrderedDict()
        self._finder = None
        self._coverage: dict[tuple[dt.date, str | None], Any] = {}
        self._decisions: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self._waiting: list[_Waiting] = []  # demandes asked, not yet decided (Service.route)
        self._waiting_lock = threading.Lock()
        self.folder = Path(tempfile.mkdtemp(prefix="aiguillage-serve-"))
        self._sessions: OrderedDict[str, Path] = OrderedDict()
        self.workspace(self.today())  # a bad catalogue stops the server at start, not at the first request

    def today(self) -> dt.date:
        return self.fixed_day or dt.date.today()

    def workspace(self, day: dt.date) -> Workspace:
        """The catalogue and rules as read on `day` (a few days kept: each holds its compiled rules)."""
        if day not in self._workspaces:
            self._workspaces[day] = load_workspace(self.catalogue_dir, self.rules_dir, today=day)
            while len(self._workspaces) > 4:
                self._workspaces.popitem(last=False)
        self._workspaces.move_to_end(day)
        return self._workspaces[day]

    async def run(self, work: Callable[[], T]) -> T:
        """Run library work in a thread, under the engine lock, within the time limit."""
        def locked() -> T:
            with self.lock:
                return work()

        try:
            with anyio.fail_after(self.limits.seconds):
                return await anyio.to_thread.run_sync(locked, abandon_on_cancel=True)
        except TimeoutError:
            raise InputError(f"la demande a pris plus de {self.limits.seconds:.0f} s et a été interrompue : "
                             "réessayez plus tard, ou utilisez la ligne de commande pour un gros carnet", 503) from None

    async def route(self, data: dict[str, Any], day: dt.date) -> dict[str, Any]:
        """The route JSON of one demande given as fields; InputError when it is refused.

        The engine answers one call at a time. Demandes asked while it is busy wait together, and
        whichever request gets the engine first decides all that wait, in one pass of the decider
        (a backlog of twenty costs little more than one demande): the others find theirs decided."""
        waiting = _Waiting(data, day)
        with self._waiting_lock:
            self._waiting.append(waiting)

        def work() -> dict[str, Any]:
            if waiting.outcome is None:
                self._decide_waiting()
            if isinstance(waiting.outcome, Exception):
                raise waiting.outcome
            return waiting.outcome  # type: ignore[return-value]

        return await self.run(work)

    def _decide_waiting(self) -> None:
        """Decide every demande waiting (under the engine lock), day by day."""
        from ..render import decision_dict

        with self._waiting_lock:
            taken, self._waiting = self._waiting, []
        by_day: dict[dt.date, list[_Waiting]] = {}
        for waiting in taken:
            by_day.setdefault(waiting.day, []).append(waiting)
        for day, group in by_day.items():
            try:
                decisions = self.workspace(day).route_many([w.data for w in group], day, _param_place)
                outcomes = [InputError(located(d)) if isinstance(d, AiguillageError) else decision_dict(d)
                            for d in decisions]
            except Exception as exc:  # noqa: BLE001 - every request of the pass answers it, none waits forever
                outcomes = [exc] * len(group)
            for waiting, outcome in zip(group, outcomes):
                waiting.outcome = outcome

    def decided(self, query: tuple, day: dt.date) -> dict[str, Any] | None:
        """The decision already taken on the same query and day (a shared link opened again, the
        JSON asked after the page): the same catalogue, rules and day decide the same way."""
        key = (query, day)
        found = self._decisions.get(key)
        if found is not None:
            self._decisions.move_to_end(key)
        return found

    def keep(self, query: tuple, day: dt.date, decision: dict[str, Any]) -> None:
        self._decisions[(query, day)] = decision
        while len(self._decisions) > self.limits.decisions_kept:
            self._decisions.popitem(last=False)

    def finder(self):
        if self._finder is None:
            from ..names import NameFinder

            self._finder = NameFinder(self.workspace(self.today()).graph.index)
        return self._finder

    def coverage(self, day: dt.date, departement: str | None):
        from ..coverage import compute

        key = (day, departement)
        if key not in self._coverage:
            self._coverage[key] = compute(self.workspace(day), day, [departement] if departement else None)
        return self._coverage[key]

    # ------------------------------------------------------------- each visitor's files

    def session_folder(self, token: str | None) -> tuple[str, Path]:
        """The visitor's folder (its last upload and decisions), created on first use; the oldest
        visitors' folders are removed beyond the limit."""
        if token and token in self._sessions:
            self._sessions.move_to_end(token)
            return token, self._sessions[token]
        token = secrets.token_urlsafe(24)
        folder = self.folder / secrets.token_hex(8)
        folder.mkdir()
        self._sessions[token] = folder
        while len(self._sessions) > self.limits.sessions:
            _, old = self._sessions.popitem(last=False)
            shutil.rmtree(old, ignore_errors=True)
        return token, folder

    def last_decisions(self, token: str | None) -> Path | None:
        folder = self._sessions.get(token or "")
        if folder is None:
            return None
        found = sorted((p for p in folder.glob("decisions.*") if ".explications." not in p.name),  # not their explanations
                       key=lambda p: p.stat().st_mtime)
        return found[-1] if found else None

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


# ----------------------------------------------------------------- requests into demandes


def demande_fields(query: list[tuple[str, str]]) -> tuple[dict[str, Any], dt.date | None]:
    """The demande's fields from the query parameters, as `route` builds them from its options."""
    values: dict[str, list[str]] = {}
    for name, value in query:
        if name not in PARAMS:
            raise InputError(f"paramètre inconnu « {name} » (attendus : {', '.join(PARAMS)})")
        values.setdefault(name, []).append(value.strip())
    for name, given in values.items():
        if len(given) > 1 and name not in REPEATABLE:
            raise InputError(f"paramètre « {name} » donné {len(given)} fois : une seule valeur attendue")
    one = {name: given[0] for name, given in values.items() if name not in REPEATABLE}
    if not one.get("porteur"):
        raise InputError("paramètre « porteur » manquant : une commune (nom ou code INSEE), un EPCI (SIREN), "
                         "departement:NN ou region:NN")
    day = None
    if one.get("date"):
        try:
            day = dt.date.fromisoformat(one["date"])
        except ValueError:
            raise InputError(f"paramètre « date » : « {one['date']} » n'est pas une date AAAA-MM-JJ") from None
    complexe = one.get("complexe", "").lower()
    if complexe not in ("", "0", "non", "1", "oui", "on", "true", "complexe", "simple"):
        raise InputError(f"paramètre « complexe » : « {one['complexe']} » (oui ou non attendu)")
    data = {
        "id": one.get("id") or "demande",
        "intitule": one.get("intitule", ""),
        "porteur": one["porteur"],
        "thematiques": [w for w in values.get("thematique", []) if w],
        "besoins": [w for w in values.get("besoin", []) if w],
        "programmes": [w for w in values.get("programme", []) if w],
        "complexite": "complexe" if complexe in ("1", "oui", "on", "true", "complexe") else "simple",
        "saisine": one.get("saisine") or "dt",
        "type_porteur": one.get("type-porteur") or None,
        "population": one.get("population") or None,
        "montant": one.get("montant") or None,
    }
    return data, day


def _param_place(field: str) -> str:
    return f"paramètre « {FIELD_PARAMS.get(field, field)} »"


def located(exc: AiguillageError, shown_name: str | None = None) -> str:
    """An error's French message; a file the server wrote is named as the user named it."""
    if exc.location is None or shown_name is None:
        return exc.message if exc.location is None else str(exc)
    where = shown_name + (f":{exc.location.line}:{exc.location.column}" if exc.location.line else "")
    return f"{where}: {exc.message}"


# ----------------------------------------------------------------- the application


def server_settings() -> dict[str, str]:
    """How uvicorn reads HTTP and runs its event loop: httptools' parser and uvloop, both in C, answer
    about a quarter more requests a second than the pure-Python ones (bench/serve.py); uvloop does not
    exist on Windows, where asyncio's own loop runs."""
    import httptools  # noqa: F401 - named to uvicorn below; a missing install fails here, plainly

    try:
        import uvloop  # noqa: F401
    except ImportError:
        return {"http": "httptools", "loop": "asyncio"}
    return {"http": "httptools", "loop": "uvloop"}


def create_app(service: Service) -> Starlette:
    """The web application over one `Service`."""
    # The served reports carry their stylesheets inline (the DSFR's too, with --dsfr): admitted by their hashes.
    inline = " ".join(style_hash(css) for css in (service.dsfr_css, stylesheet()) if css)
    csp = ("default-src 'none'; script-src 'self'; style-src 'self' " + inline +
           "; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
    script = resources.files("matcher.web").joinpath("static/aiguillage.js").read_text(encoding="utf-8")

    def css_links() -> list[str]:
        return (["/static/dsfr.min.css"] if service.dsfr_css else []) + ["/static/aiguillage.css"]

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        voc = service.workspace(service.today()).catalogue.vocabularies
        html = render(name, css_links=css_links(), vocabularies=voc, level_labels=LEVEL_LABELS,
                      version=__version__, **context)
        return HTMLResponse(html, status)

    def error_page(message: str, status: int, title: str = "Demande refusée") -> HTMLResponse:
        return page("web/erreur.html", status, title=title, message=message)

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    async def decide(request: Request) -> tuple[dict[str, Any], dict[str, Any], dt.date]:
        """The route JSON of the query's demande, its fields and its day; InputError when refused."""
        query = tuple(request.query_params.multi_items())
        data, day = demande_fields(list(query))
        day = day or service.today()
        known = service.decided(query, day)
        if known is not None:
            return known, data, day
        result = await service.route(data, day)
        service.keep(query, day, result)
        return result, data, day

    async def home(request: Request) -> Response:
        idx = service.workspace(service.today()).graph.index
        return page("web/formulaire.html", title="Aiguillage — orienter une demande d'appui en ingénierie",
                    today=service.today().isoformat(), departements=sorted(idx.departements.values()),
                    saisines=SAISINES, types=PORTEUR_TYPES, complexites=COMPLEXITES, limits=service.limits,
                    query={}, message=None)

    async def decision_page(request: Request) -> Response:
        try:
            result, data, day = await decide(request)
        except InputError as exc:
            if exc.status != 400:
                return error_page(exc.message, exc.status)
            idx = service.workspace(service.today()).graph.index
            return page("web/formulaire.html", 400, title="Aiguillage — demande à corriger", message=exc.message,
                        today=service.today().isoformat(), departements=sorted(idx.departements.values()),
                        saisines=SAISINES, types=PORTEUR_TYPES, complexites=COMPLEXITES, limits=service.limits,
                        query=_query_values(request))
        query = urlencode(list(request.query_params.multi_items()))
        idx = service.workspace(day).graph.index
        return page("web/decision.html", title=f"Décision — {result['territoire']['nom']}", d=result, query=query,
                    chain=_chain(result), map_svg=_map(result, idx), day=day,
                    alternatives=result.get("alternatives") or [], address=str(request.url))

    async def api_decision(request: Request) -> Response:
        try:
            result, _, _ = await decide(request)
        except InputError as exc:
            return JSONResponse({"erreur": exc.message}, exc.status)
        return JSONResponse(result)

    async def decision_xlsx(request: Request) -> Response:
        """The same decision as one row of a decisions spreadsheet, as `batch` writes it."""
        try:
            data, day = demande_fields(list(request.query_params.multi_items()))
            token, folder = service.session_folder(request.cookies.get("aiguillage"))
            source = folder / "decision-seule.csv"
            _one_row_backlog(data, source)
            output = folder / "decision-seule.xlsx"
            await _run_batch(service, source, output, day or service.today(), "la demande")
        except InputError as exc:
            return error_page(exc.message, exc.status)
        return Response(output.read_bytes(), media_type=UPLOAD_FORMATS[".xlsx"],
                        headers={"Content-Disposition": 'attachment; filename="decision.xlsx"'})

    async def batch(request: Request) -> Response:
        from ..backlog import explanations_path

        try:
            token, folder = service.session_folder(request.cookies.get("aiguillage"))
            source, shown = await _receive_file(request, folder, "demandes", service.limits)
            day = _query_day(request) or service.today()
            suffix = source.suffix
            for old in folder.glob("decisions.*"):
                old.unlink()
            output = folder / f"decisions{suffix}"
            summary = await _run_batch(service, source, output, day, shown)
        except InputError as exc:
            if wants_json(request):
                return JSONResponse({"erreur": exc.message}, exc.status)
            return error_page(exc.message, exc.status, "Carnet refusé")
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(shown).stem)[:60].strip("-") or "carnet"
        name = f"decisions-{stem}"
        (folder / "nom-decisions.txt").write_text(f"{name}{suffix}", encoding="utf-8")
        with_explanations = (request.query_params.get("explications") == "oui"
                             or "application/zip" in _accepted(request))
        if suffix == ".xlsx" or not with_explanations:
            # The decisions file in the upload's format, as `aiguillage batch` writes it; a workbook holds
            # its explanations in a sheet. The page's form asks for the explanations file too.
            body, media_type, filename = output.read_bytes(), UPLOAD_FORMATS[suffix], f"{name}{suffix}"
        else:
            # A CSV or Parquet decisions file refers (E1, E2…) to its explanations file: both go together,
            # named as `aiguillage batch` writes them side by side.
            members = {f"{name}{suffix}": output, f"{name}.explications{suffix}": explanations_path(output)}
            body = await anyio.to_thread.run_sync(_zip, members)
            media_type, filename = "application/zip", f"{name}.zip"
        response = Response(body, media_type=media_type, headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Aiguillage-Lignes": str(summary["lignes"]), "X-Aiguillage-Erreurs": str(summary["erreurs"])})
        _remember(response, token)
        return response

    async def couverture(request: Request) -> Response:
        from ..coverage_map import page_context

        departement = request.query_params.get("departement") or None
        day = service.today()
        try:
            if departement is not None:
                departement = _departement(departement, service.workspace(day).graph.index.departements)
            result = await service.run(lambda: service.coverage(day, departement))
        except InputError as exc:
            return error_page(exc.message, exc.status)
        return page("web/couverture.html", **page_context(result, service.workspace(day).catalogue.vocabularies))

    async def comite_local(request: Request) -> Response:
        from ..decisions import read_decisions
        from ..report.comite_local import build

        day = service.today()
        known = service.workspace(day).graph.index.departements
        try:
            code = _departement(request.path_params["departement"], known)
        except InputError as exc:
            return error_page(exc.message, exc.status)
        token = request.cookies.get("aiguillage")
        if request.method == "POST":
            try:
                token, folder = service.session_folder(token)
                _, shown = await _receive_file(request, folder, "decisions", service.limits)
                (folder / "nom-decisions.txt").write_text(shown, encoding="utf-8")
            except InputError as exc:
                return error_page(exc.message, exc.status, "Fichier refusé")
            response = RedirectResponse(f"/comite-local/{code}", 303)
            _remember(response, token)
            return response
        path = service.last_decisions(token)
        if path is None:
            return page("web/comite-local.html", title=f"Comité local — {known[code].nom}", departement=known[code],
                        limits=service.limits)
        shown = (path.parent / "nom-decisions.txt").read_text(encoding="utf-8") \
            if (path.parent / "nom-decisions.txt").exists() else "le dernier carnet réorienté"

        def work() -> str:
            try:
                # The page names the file as the visitor knows it, never the server's own copy.
                decisions = replace(read_decisions(path), path=shown)
                return build(service.workspace(day), decisions, code, day, dsfr_css=service.dsfr_css)
            except AiguillageError as exc:
                raise InputError(located(exc, shown)) from None

        try:
            html = await service.run(work)
        except InputError as exc:
            return error_page(exc.message, exc.status, "Fichier de décisions refusé")
        return HTMLResponse(html)

    async def comite_local_choice(request: Request) -> Response:
        try:
            code = _departement(request.query_params.get("departement", ""),
                                service.workspace(service.today()).graph.index.departements)
        except InputError as exc:
            return error_page(exc.message, exc.status)
        return RedirectResponse(f"/comite-local/{code}", 303)

    async def territoires(request: Request) -> Response:
        text = request.query_params.get("q", "")[:80]
        found = await service.run(lambda: service.finder().find(text))
        return JSONResponse([{"code": f.code, "libelle": f.libelle} for f in found])

    async def sante(request: Request) -> Response:
        workspace = service.workspace(service.today())
        router_version = {"catalogue": workspace.catalogue.version, "regles": workspace.policy.version}
        return JSONResponse({"statut": "ok", "version": __version__, "date": service.today().isoformat(),
                             **router_version, "moteur_occupe": service.lock.locked()})

    async def css(request: Request) -> Response:
        return Response(stylesheet(), media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600"})

    async def dsfr(request: Request) -> Response:
        if service.dsfr_css is None:
            return Response("", 404)
        return Response(service.dsfr_css, media_type="text/css; charset=utf-8")

    async def js(request: Request) -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600"})

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_page("page introuvable", 404, "Page introuvable")

    async def refused_method(request: Request, exc: Exception) -> Response:
        return error_page("méthode non admise pour cette adresse", 405)

    async def internal(request: Request, exc: Exception) -> Response:
        return error_page(f"erreur interne ({type(exc).__name__}) : le serveur l'a consignée", 500, "Erreur interne")

    routes = [
        Route("/", home), Route("/decision", decision_page), Route("/decision.xlsx", decision_xlsx),
        Route("/api/decision", api_decision), Route("/api/territoires", territoires),
        Route("/batch", batch, methods=["POST"]), Route("/couverture", couverture),
        Route("/comite-local", comite_local_choice),
        Route("/comite-local/{departement:str}", comite_local, methods=["GET", "POST"]), Route("/sante", sante),
        Route("/static/aiguillage.css", css), Route("/static/dsfr.min.css", dsfr), Route("/static/aiguillage.js", js),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: refused_method, 500: internal})
    app.state.service = service
    return SecurityHeaders(BodyLimit(app, service.limits.upload_bytes), csp)


def _departement(code: str, known: dict) -> str:
    """A département's code as the command line reads it (« 1 » for 01, « 2a » for 2A); an unknown one
    is a 404 with the nearest codes."""
    try:
        return known_code(code, known, "departement")
    except AiguillageError as exc:
        raise InputError(f"département : {exc.message} (un code comme 16, 2A ou 974)", 404) from None


def _remember(response: Response, token: str) -> None:
    response.set_cookie("aiguillage", token, httponly=True, samesite="strict", path="/")


def _query_values(request: Request) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name, []).append(value)
    return values


def _query_day(request: Request) -> dt.date | None:
    text = request.query_params.get("date")
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"paramètre « date » : « {text} » n'est pas une date AAAA-MM-JJ") from None


async def _receive_file(request: Request, folder: Path, stem: str, limits: Limits) -> tuple[Path, str]:
    """The file of the multipart field `fichier`, streamed to `folder/STEM.EXT` (EXT: its format) as it
    arrives, at most `limits.upload_bytes`; and its name as the user gave it (to show, never to open)."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise InputError("envoi illisible : un formulaire multipart/form-data avec le champ « fichier » est attendu")
    partial = folder / "envoi.partiel"
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b"", "name": None, "shown": None, "size": 0}
    out = open(partial, "wb")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"] = state["value"] = b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(state["headers"].get(b"content-disposition", b""))
        state["name"] = disposition.get(b"name", b"").decode("utf-8", "replace")
        if state["name"] == "fichier" and disposition.get(b"filename"):
            if state["shown"] is not None:
                raise InputError("un seul fichier par envoi")
            state["shown"] = disposition[b"filename"].decode("utf-8", "replace")
        state["headers"] = {}

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["name"] == "fichier" and state["shown"] is not None:
            state["size"] += end - start
            if state["size"] > limits.upload_bytes:
                raise InputError(f"fichier trop gros : au plus {limits.upload_bytes // (1024 * 1024)} Mo", 413)
            out.write(data[start:end])

    parser = MultipartParser(options[b"boundary"], {
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data})
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed body is the sender's error, said in French
        raise InputError(f"envoi illisible ({type(exc).__name__}) : envoyez un fichier dans le champ « fichier »") \
            from None
    finally:
        out.close()
    if not state["shown"]:
        partial.unlink(missing_ok=True)
        raise InputError("aucun fichier : choisissez un carnet (.csv, .xlsx ou .parquet) dans le champ « fichier »")
    shown = Path(state["shown"].replace("\\", "/")).name[:120]
    suffix = Path(shown).suffix.lower()
    if suffix not in UPLOAD_FORMATS:
        partial.unlink(missing_ok=True)
        raise InputError(f"« {shown} » : format non pris en charge (.csv, .xlsx ou .parquet attendu)", 415)
    for old in folder.glob(f"{stem}.*"):
        old.unlink()
    path = folder / f"{stem}{suffix}"
    partial.replace(path)
    return path, shown


def _media_type(value: str) -> str:
    return value.split(";")[0].strip().lower()


def _accepted(request: Request) -> set[str]:
    """The media types the client's Accept header names (without their parameters)."""
    return {_media_type(part) for part in request.headers.get("accept", "").split(",") if part.strip()}


def _zip(members: dict[str, Path]) -> bytes:
    """The files as one zip archive, under the given names (those that exist)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, path in members.items():
            if path.exists():
                archive.write(path, name)
    return buffer.getvalue()


def _one_row_backlog(data: dict[str, Any], path: Path) -> None:
    """A demande given as parameters, written as a one-row backlog (what `batch` reads)."""
    columns = ["id", "intitule", "porteur", "thematiques", "besoins", "programmes", "complexite", "saisine",
               "type_porteur", "population", "montant"]
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(columns)
        writer.writerow(["|".join(v) if isinstance(v, list) else ("" if v is None else v)
                         for v in (data[c] for c in columns)])


async def _run_batch(service: Service, source: Path, output: Path, day: dt.date, shown: str) -> dict[str, Any]:
    from ..pipeline import run_batch

    def work() -> dict[str, Any]:
        try:
            return run_batch(service.workspace(day), source, output, day, max_rows=service.limits.rows)
        except AiguillageError as exc:
            raise InputError(located(exc, shown)) from None

    return await service.run(work)


def _chain(d: dict[str, Any]) -> list[tuple[str, str]]:
    """The territorial chain in words, closest level first."""
    names = {"communal": "Commune", "intercommunal": "Intercommunalité", "departemental": "Département",
             "regional": "Région"}
    return [(names[level], holder) for level, holder in d["territoire"]["niveaux"].items() if holder]


def _map(d: dict[str, Any], index: Any) -> Any:
    from ..report.map import departement_map

    code = d["territoire"].get("departement")
    if not code or code not in index.departements:
        return None
    dep = index.departements[code]
    region = tuple(c for c, other in index.departements.items() if other.region == dep.region)
    return departement_map(code, region, f"Carte : {dep.nom} dans sa région")


# ----------------------------------------------------------------- middleware


class SecurityHeaders:
    """A strict Content-Security-Policy and the usual hardening headers on every answer."""

    def __init__(self, app: ASGIApp, csp: str):
        self.app, self.csp = app, csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", self.csp.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuse a request body larger than the upload limit, before reading it when its length is
    announced, else as soon as it goes past."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.upload = app, limit
        self.limit = limit + 64 * 1024  # the multipart envelope around the file

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(send, self.upload)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge()
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await _too_large(send, self.upload)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = (f"fichier trop gros : au plus {limit // (1024 * 1024)} Mo").encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["create_app", "Service", "Limits", "demande_fields"]
