"""The territorial levels as a networkx graph, and the resolution of what a user types.

Nodes are territory references (`commune:64445`, `epci:200067254`, `departement:64`,
`region:75`, `national`, `perimetre:petr-pays-basque`); an edge `u -> v` says "u lies in v".
The territories a demande lies in are the node and its descendants, so a named perimeter
is served to a commune through any of its members (the commune, its EPCI, its département).

An EPCI has no edge to a département: one EPCI in 89 spans two, and its communes must not
inherit the other's perimeters through it. An EPCI porteur is placed in the département where
most of its inhabitants live (the derived data computes it).

Communes are read from the derived file one at a time when a single demande needs one, or all at
once for a batch, so that `aiguillage route` does not parse 35,000 communes to route one; the graph
itself is built once per catalogue, and what it says a territory lies in is kept in the
workspace's cache (`perimeters_of`), so that `route` does not import networkx either.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Iterable, NamedTuple

from .errors import TerritoryError
from .model import Perimetre, Territoire
from .text import fold

DATA_FILE = Path(__file__).parent / "data" / "territoires.tsv"
KINDS = ("commune", "epci", "departement", "region", "national", "perimetre")
NATIONAL = "national"


class Region(NamedTuple):
    code: str
    nom: str
    zone: str
    holder: str
    prefect_departement: str
    communes: int
    population: int


class Departement(NamedTuple):
    code: str
    nom: str
    region: str
    zone: str
    holder: str
    dt_libelle: str
    communes: int
    population: int  # of its territory
    holder_population: int  # of the collectivity holding its level (Rhône without the Métropole; all Corse)


class Epci(NamedTuple):
    siren: str
    nom: str
    type: str
    population: int
    departement: str  # where most of its inhabitants live
    departements: tuple[str, ...]
    levels_held: tuple[str, ...]
    communes: int


class Commune(NamedTuple):
    code: str
    nom: str
    departement: str
    region: str
    epci: str | None
    population: int | None
    zone: str
    codes_postaux: tuple[str, ...]
    siren: str | None


class Alias(NamedTuple):
    code: str
    commune: str
    nature: str  # ancien-code | commune-deleguee | commune-associee | arrondissement-municipal
    nom: str


ALIAS_PHRASES = {
    "commune-deleguee": "la commune déléguée {nom}, rattachée",
    "commune-associee": "la commune associée {nom}, rattachée",
    "arrondissement-municipal": "l'arrondissement municipal {nom}, rattaché",
}


def _int(text: str) -> int | None:
    return int(text) if text else None


def normalize_name(text: str) -> str:
    """Compare names the way people type them: no accents, case, hyphens or apostrophes."""
    text = fold(text)
    for sep in "-'’ ":
        text = text.replace(sep, " ")
    text = text.replace("saint ", "st ").replace("sainte ", "ste ")
    return " ".join(text.split())


class TerritoryIndex:
    """The derived division file: upper levels parsed at once, communes found by their line."""

    def __init__(self, path: Path = DATA_FILE):
        self.path = path
        self._raw = path.read_bytes()
        self.regions: dict[str, Region] = {}
        self.departements: dict[str, Departement] = {}
        self.epcis: dict[str, Epci] = {}
        start = self._raw.find(b"\nC\t") + 1
        aliases = self._raw.find(b"\nA\t") + 1
        postal = self._raw.find(b"\nP\t") + 1
        # Communes, aliases and postal codes are sorted by code: a lookup is a binary search over the lines.
        self._sections = {"C": (start, aliases), "A": (aliases, postal), "P": (postal, len(self._raw))}
        for line in self._raw[:start].decode("utf-8").splitlines():
            f = line.split("\t")
            if f[0] == "R":
                self.regions[f[1]] = Region(f[1], f[2], f[3], f[4], f[5], int(f[6]), int(f[7]))
            elif f[0] == "D":
                self.departements[f[1]] = Departement(f[1], f[2], f[3], f[4], f[5], f[6], int(f[7]), int(f[8]),
                                                      int(f[9]))
            elif f[0] == "E":
                self.epcis[f[1]] = Epci(
                    f[1], f[2], f[3], int(f[4] or 0), f[5], tuple(f[6].split(",")), tuple(f[7].split(",")), int(f[8])
                )
        self._communes: dict[str, Commune] | None = None
        self._aliases: dict[str, Alias] | None = None

    @staticmethod
    def _commune_of(fields: list[str]) -> Commune:
        return Commune(
            fields[1],
            fields[2],
            fields[3],
            fields[4],
            fields[5] or None,
            _int(fields[6]),
            fields[7],
            tuple(fields[8].split(",")) if fields[8] else (),
            fields[9] or None,
        )

    def _find_line(self, kind: str, code: str) -> list[str] | None:
        raw, key = self._raw, code.encode()
        lo, hi = self._sections[kind]
        while lo < hi:
            start = raw.rfind(b"\n", lo, (lo + hi) // 2) + 1 or lo
            start = max(start, lo)
            end = raw.find(b"\n", start)
            line_code = raw[start + 2 : raw.find(b"\t", start + 2)]
            if line_code == key:
                return raw[start:end].decode("utf-8").split("\t")
            if line_code < key:
                lo = end + 1
            else:
                hi = start
        return None

    def commune(self, code: str) -> Commune | None:
        if self._communes is not None:
            return self._communes.get(code)
        fields = self._find_line("C", code)
        return self._commune_of(fields) if fields else None

    def alias(self, code: str) -> Alias | None:
        if self._aliases is not None:
            return self._aliases.get(code)
        fields = self._find_line("A", code)
        return Alias(*fields[1:5]) if fields else None

    def served_by_postal_code(self, code: str) -> tuple[str, ...]:
        """The INSEE codes of the communes a postal code serves (none: not a postal code)."""
        fields = self._find_line("P", code)
        return tuple(fields[2].split(",")) if fields else ()

    def all_communes(self) -> dict[str, Commune]:
        """Every current commune (parses the whole file once; for batches and authoring checks)."""
        if self._communes is None:
            communes: dict[str, Commune] = {}
            aliases: dict[str, Alias] = {}
            start, end = self._sections["C"][0], self._sections["A"][1]
            for line in self._raw[start:end].decode("utf-8").splitlines():
                if line.startswith("C\t"):
                    f = line.split("\t")
                    communes[f[1]] = self._commune_of(f)
                elif line.startswith("A\t"):
                    f = line.split("\t")
                    aliases[f[1]] = Alias(*f[1:5])
            self._communes, self._aliases = communes, aliases
        return self._communes

    def exists(self, kind: str, code: str) -> bool:
        if kind == "commune":
            return self.commune(code) is not None
        if kind == "epci":
            return code in self.epcis
        if kind == "departement":
            return code in self.departements
        if kind == "region":
            return code in self.regions
        return False

    def suggest(self, kind: str, code: str, n: int = 3) -> list[str]:
        """The closest known codes of that kind (for "did you mean"); first the code with the leading
        zero a spreadsheet drops (1053 → 01053, 1 → 01)."""
        width = {"commune": 5, "departement": 2}.get(kind, 0)
        if code.isdigit() and len(code) < width and self.exists(kind, code.zfill(width)):
            return [code.zfill(width)]
        pool: Iterable[str]
        if kind == "commune":  # a mistyped code usually keeps its département
            pool = [c for c in self.all_communes() if c[:2] == code[:2]] or self.all_communes()
        elif kind == "epci":
            pool = self.epcis
        elif kind == "departement":
            pool = self.departements
        elif kind == "region":
            pool = self.regions
        else:
            return []
        import difflib

        return difflib.get_close_matches(code, list(pool), n=n, cutoff=0.6)


@cache
def default_index() -> TerritoryIndex:
    return TerritoryIndex()


def departement_of_commune(code: str) -> str:
    """An INSEE commune code starts with its département's code: 2 characters (2A, 2B included),
    3 overseas (971 to 989)."""
    return code[:3] if code.startswith(("97", "98")) else code[:2]


def known_code(value: str, known: dict, option: str) -> str:
    """A département or région code as people type it (« 1 » for 01, « 2a » for 2A), checked
    against the known ones; an unknown code is an error on `option`, with the nearest ones."""
    from .conditions import did_you_mean
    from .errors import OptionValueError

    value = value.strip().upper()
    if value.isdigit() and len(value) == 1:
        value = "0" + value
    if value == "20" and "20" not in known and "2A" in known:
        raise OptionValueError(CORSE, option)
    if value not in known:
        raise OptionValueError(f"« {value} » inconnu{did_you_mean(value, known)}", option)
    return value


def parse_ref(ref: str) -> tuple[str, str]:
    """Split `kind:code` (or `national`) without checking that it exists."""
    if ref == NATIONAL:
        return NATIONAL, ""
    kind, sep, code = ref.partition(":")
    if not sep or kind not in KINDS or not code:
        raise ValueError(ref)
    return kind, code


class TerritoryGraph:
    """The networkx graph of levels, with the catalogue's named perimeters attached.

    What a territory lies in is read from the graph once per catalogue: the named perimeters each
    member lies in (`perimeters_of`, kept in the workspace's cache with the catalogue); a
    commune's chain comes from the division file. A command that reuses the cache neither
    imports networkx nor builds the graph."""

    def __init__(self, index: TerritoryIndex | None = None, perimetres: Iterable[Perimetre] = (),
                 perimeters_of: dict[str, frozenset[str]] | None = None):
        self.index = index or default_index()
        self.perimetres = {p.id: p for p in perimetres}
        self._graph = None
        self._perimeters_of = perimeters_of
        self._all_communes = False
        self._above: dict[tuple[str, ...], frozenset[str]] = {}  # per chain above a territory: what it lies in

    @property
    def graph(self):
        """The networkx graph: an edge `u -> v` says u lies in v. Built when first needed."""
        if self._graph is None:
            import networkx as nx

            g = nx.DiGraph()
            g.add_node(NATIONAL)
            for r in self.index.regions.values():
                g.add_edge(f"region:{r.code}", NATIONAL)
            for d in self.index.departements.values():
                g.add_edge(f"departement:{d.code}", f"region:{d.region}")
            for e in self.index.epcis.values():
                g.add_node(f"epci:{e.siren}")  # no edge to a département: one EPCI in 89 spans two
            for p in self.perimetres.values():
                for member in p.membres:
                    g.add_edge(member, f"perimetre:{p.id}")
            self._graph = g
            if self._all_communes:
                self._add_communes(self.index.all_communes())
        return self._graph

    def _add_communes(self, codes: Iterable[str]) -> None:
        g = self._graph
        for code in codes:
            commune = self.index.commune(code)
            if commune is None:
                continue
            g.add_edge(f"commune:{code}", f"departement:{commune.departement}")
            if commune.epci:
                g.add_edge(f"commune:{code}", f"epci:{commune.epci}")

    def add_all_communes(self) -> None:
        """Put every commune in the graph (lint, coverage)."""
        if not self._all_communes:
            self._all_communes = True
            if self._graph is not None:
                self._add_communes(self.index.all_communes())

    @property
    def perimeters_of(self) -> dict[str, frozenset[str]]:
        """Per territory reference that a named perimeter lists, the perimeters it lies in (through
        perimeters of perimeters too), read from the graph."""
        if self._perimeters_of is None:
            import networkx as nx

            g = self.graph
            table = {}
            for p in self.perimetres.values():
                for member in p.membres:
                    if member not in table:
                        table[member] = frozenset(n for n in nx.descendants(g, member) if n.startswith("perimetre:"))
                table.setdefault(f"perimetre:{p.id}", frozenset(
                    n for n in nx.descendants(g, f"perimetre:{p.id}") if n.startswith("perimetre:")))
            self._perimeters_of = table
        return self._perimeters_of

    # -- queries

    def exists(self, ref: str) -> bool:
        try:
            kind, code = parse_ref(ref)
        except ValueError:
            return False
        if kind == NATIONAL:
            return True
        if kind == "perimetre":
            return code in self.perimetres
        return self.index.exists(kind, code)

    def chain(self, ref: str) -> tuple[str, ...]:
        """A territory and the levels above it, without named perimeters: a commune in its EPCI and
        its département, an EPCI porteur in the département where most of its people live."""
        kind, code = parse_ref(ref)
        if kind == "commune":
            commune = self.index.commune(code)
            if commune is None:
                return (ref,)
            epci = (f"epci:{commune.epci}",) if commune.epci else ()
            return (ref, *epci, f"departement:{commune.departement}", f"region:{commune.region}", NATIONAL)
        if kind == "epci":
            departement = self.index.epcis[code].departement
            region = self.index.departements[departement].region
            return (ref, f"departement:{departement}", f"region:{region}", NATIONAL)
        if kind == "departement":
            return (ref, f"region:{self.index.departements[code].region}", NATIONAL)
        if kind == "region":
            return (ref, NATIONAL)
        return (ref,)

    def lies_in(self, ref: str) -> frozenset[str]:
        """Every reference the territory `ref` lies in, itself included. What lies above it (its
        chain past itself) is the same for every commune of an EPCI: found once per chain."""
        chain = self.chain(ref)
        above = self._above.get(chain[1:])
        if above is None:
            above = self._above[chain[1:]] = self._containing(chain[1:])
        return above | self._containing(chain[:1])

    def _containing(self, refs: tuple[str, ...]) -> frozenset[str]:
        """The references and the named perimeters each lies in."""
        table = self.perimeters_of
        found = set(refs)
        for member in refs:
            found |= table.get(member, frozenset())
        return frozenset(found)

    def expand(self, refs: Iterable[str]) -> set[str]:
        """The references, with every named perimeter replaced by its members (recursively)."""
        result: set[str] = set()
        pending, seen = list(refs), set()
        while pending:
            ref = pending.pop()
            if ref.startswith("perimetre:"):
                if ref not in seen and ref[10:] in self.perimetres:
                    seen.add(ref)
                    pending.extend(self.perimetres[ref[10:]].membres)
            else:
                result.add(ref)
        return result

    def communes_count(self, refs: Iterable[str]) -> int:
        """How many communes a perimeter covers (the tie-break "most specific perimeter")."""
        members = self.expand(refs)
        total = 0
        for ref in members:
            if len(self.lies_in(ref) & members) > 1:
                continue  # lies in another listed member: already counted
            kind, code = parse_ref(ref)
            if kind == "commune":
                total += 1
            elif kind == "epci":
                total += self.index.epcis[code].communes
            elif kind == "departement":
                total += self.index.departements[code].communes
            elif kind == "region":
                total += self.index.regions[code].communes
            else:
                total += sum(r.communes for r in self.index.regions.values())
        return total

    def territoire(self, ref: str, notes: tuple[str, ...] = ()) -> Territoire:
        """The chain of levels of a territory, who holds each, and its délégué territorial."""
        kind, code = parse_ref(ref)
        idx = self.index
        holders: dict[str, str] = {}
        commune_code = epci_code = None
        if kind == "commune":
            commune = idx.commune(code)
            if commune is None:
                raise TerritoryError(f"commune inconnue : {code}")
            commune_code, epci_code = code, commune.epci
            departement, region, zone = commune.departement, commune.region, commune.zone
            nom, population = commune.nom, commune.population
            holders["communal"] = f"{commune.nom} ({code})"
        elif kind == "epci":
            epci = idx.epcis[code]
            epci_code, departement = code, epci.departement
            region, zone = idx.departements[departement].region, idx.departements[departement].zone
            nom, population = epci.nom, epci.population
            if len(epci.departements) > 1:
                notes += (
                    f"EPCI à cheval sur les départements {', '.join(epci.departements)} : rattaché au {departement}, "
                    "où vit la majorité de sa population",
                )
        elif kind == "departement":
            d = idx.departements[code]
            departement, region, zone, nom, population = code, d.region, d.zone, d.nom, d.holder_population
            if d.holder_population != d.population:  # the porteur is the collectivity, not the territory
                notes += (_holder_population_note(d),)
        elif kind == "region":
            r = idx.regions[code]
            departement, region, zone, nom, population = r.prefect_departement, code, r.zone, r.nom, r.population
        else:
            raise TerritoryError(f"« {ref} » n'est pas un porteur : commune, EPCI, département ou région attendu")
        epci = idx.epcis.get(epci_code) if epci_code else None
        if epci is not None:
            holders["intercommunal"] = epci.nom
        if kind != "region":
            holds_departement = epci is not None and "departemental" in epci.levels_held
            holders["departemental"] = epci.nom if holds_departement else idx.departements[departement].holder
        holders["regional"] = idx.regions[region].holder
        dept = idx.departements[departement]
        return Territoire(
            ref=ref,
            kind=kind,
            code=code,
            nom=nom,
            commune=commune_code,
            epci=epci_code,
            departement=departement,
            region=region,
            zone=zone,
            population=population,
            holders=holders,
            dt_departement=departement,
            dt_libelle=dept.dt_libelle,
            containers=self.lies_in(ref),
            notes=notes,
        )


# --------------------------------------------------------------------------- what users type


def _holder_population_note(d: Departement) -> str:
    from .conditions import fmt_number

    return (f"population de la collectivité qui exerce les compétences départementales, {d.holder} : "
            f"{fmt_number(d.holder_population)} habitants (le territoire du département {d.nom} en compte "
            f"{fmt_number(d.population)})")


_SPACES = str.maketrans("", "", " \u00a0\u202f\t")
_COMMUNE_CODE = re.compile(r"[0-9][0-9AB][0-9]{3}")
_DECIMAL_CODE = re.compile(r"([0-9]+)[.,]0+")
_SCIENTIFIC = re.compile(r"[0-9]+([.,][0-9]+)?E\+?[0-9]+")


def resolve(text: object, index: TerritoryIndex | None = None, insee: bool = False) -> tuple[str, tuple[str, ...]]:
    """Turn what a user typed into a territory reference, with notes on how it was read.

    The one reading of a porteur, for every command and file. Accepts `commune:CODE`,
    `epci:SIREN`, `departement:NN`, `region:NN` (any case), a bare INSEE code (current, former,
    commune déléguée or associée, municipal arrondissement), an EPCI SIREN, a commune's SIREN or
    SIRET, a département code, or a commune's name when it is unique.

    A code of four digits is an INSEE code whose leading zero a spreadsheet dropped (1001 → 01001,
    said in a note). A bare five-character code is read every way it can be — INSEE code, former
    code, commune déléguée, postal code — and refused, with every reading, when they name different
    communes; `commune:CODE` (or `insee`, for a column that holds INSEE codes by its name) asks
    for the INSEE reading alone.
    """
    idx = index or default_index()
    raw = str(text).strip()
    if not raw:
        raise TerritoryError("porteur vide : indiquez un code INSEE de commune, un SIREN d'EPCI ou departement:NN")
    kind, sep, code = raw.partition(":")
    kind = fold(kind.strip())  # « Département:64 », « REGION:75 »
    if sep and kind in ("commune", "epci", "departement", "region"):
        return _resolve_kind(kind, code.translate(_SPACES).upper(), idx)
    compact = raw.translate(_SPACES).upper()
    if _SCIENTIFIC.fullmatch(compact):  # 2,11600E+13: a SIRET that a spreadsheet showed as a number
        raise TerritoryError(f"« {raw} » est un nombre en notation scientifique : un tableur a écrit ainsi un code "
                             "trop long pour lui, et a pu en perdre des chiffres ; mettez la colonne au format Texte et "
                             "saisissez de nouveau les codes")
    decimal = _DECIMAL_CODE.fullmatch(compact)
    if decimal:  # 64445.0: a tool that read the codes as numbers wrote them back as decimals
        ref, notes = resolve(decimal.group(1), idx, insee)
        return ref, (f"« {raw} » lu comme le code {decimal.group(1)} (écrit en nombre décimal)", *notes)
    if not compact.isascii():  # digits of other scripts are not codes
        return _resolve_name(raw, idx)
    if compact.isdigit() and len(compact) == 14:  # SIRET: the first nine digits are the SIREN
        compact = compact[:9]
    if compact.isdigit() and len(compact) == 9:
        if compact in idx.epcis:
            return f"epci:{compact}", ()
        for commune in idx.all_communes().values():
            if commune.siren == compact:
                return f"commune:{commune.code}", (f"SIREN {compact} : commune de {commune.nom}",)
        raise TerritoryError(f"SIREN inconnu : {compact} (ni un EPCI à fiscalité propre ni une commune en 2026)")
    if compact.isdigit() and len(compact) == 4 or _COMMUNE_CODE.fullmatch(compact):
        if insee:
            return _resolve_kind("commune", compact, idx)
        padded, notes = _padded(compact)
        ref, more = _resolve_bare_code(padded, idx)
        return ref, notes + more
    if compact in idx.departements:
        return f"departement:{compact}", ()
    if compact == "20":
        raise TerritoryError(CORSE)
    return _resolve_name(raw, idx)


CORSE = ("20 n'est plus un code de département depuis 1976 : departement:2A (Corse-du-Sud), departement:2B "
         "(Haute-Corse), ou region:94 pour la Collectivité de Corse")


def _padded(code: str) -> tuple[str, tuple[str, ...]]:
    """A four-digit commune code is a five-digit one whose leading zero a spreadsheet dropped."""
    if code.isdigit() and len(code) == 4:
        return "0" + code, (f"code {code} complété en 0{code} (le zéro initial avait été perdu)",)
    return code, ()


def _insee_reading(code: str, idx: TerritoryIndex) -> tuple[str, str, str] | None:
    """What `code` is as an INSEE code: (current commune's code, how it was read, note), or None."""
    commune = idx.commune(code)
    if commune is not None:
        return code, f"code INSEE de la commune {commune.nom} ({code})", ""
    alias = idx.alias(code)
    if alias is None:
        return None
    target = idx.commune(alias.commune)
    current = f"{target.nom if target else alias.commune} ({alias.commune})"
    if alias.nature == "ancien-code":
        return alias.commune, f"ancien code INSEE de la commune {current}", f"{code} est un ancien code de {current}"
    phrase = ALIAS_PHRASES[alias.nature].format(nom=alias.nom)
    return alias.commune, f"code INSEE de {phrase} à la commune {current}", f"{code} est {phrase} à la commune {current}"


def _resolve_bare_code(code: str, idx: TerritoryIndex) -> tuple[str, tuple[str, ...]]:
    """A five-character code typed without saying what it is: unique, or refused with every reading."""
    reading = _insee_reading(code, idx)
    served = idx.served_by_postal_code(code)
    if reading is None:
        raise TerritoryError(_unknown_commune_message(code, idx))
    commune, how, note = reading
    if served and set(served) != {commune}:
        readings = [how, f"code postal {_communes_listed(served, idx)}"]
        raise TerritoryError(
            f"{code} est ambigu : {' ; '.join(readings)} — écrivez commune:{code} pour le lire comme code INSEE, "
            "sinon le code INSEE de la commune voulue"
        )
    return f"commune:{commune}", (note,) if note else ()


def _communes_listed(codes: tuple[str, ...], idx: TerritoryIndex, limit: int = 6) -> str:
    names = []
    for code in codes[:limit]:
        commune = idx.commune(code)
        names.append(f"{commune.nom if commune else '?'} ({code})")
    more = "…" if len(codes) > limit else ""
    what = "de la commune" if len(codes) == 1 else "des communes"
    return f"{what} {', '.join(names)}{more}"


def _resolve_kind(kind: str, code: str, idx: TerritoryIndex) -> tuple[str, tuple[str, ...]]:
    if kind == "commune":
        code, notes = _padded(code)
        reading = _insee_reading(code, idx)
        if reading is None:
            raise TerritoryError(_unknown_commune_message(code, idx))
        commune, _, note = reading
        return f"commune:{commune}", notes + ((note,) if note else ())
    if kind == "departement" and code.isdigit() and len(code) == 1:
        code = "0" + code  # a spreadsheet dropped the leading zero
    if kind == "departement" and code == "20":
        raise TerritoryError(CORSE)
    if idx.exists(kind, code):
        return f"{kind}:{code}", ()
    close = idx.suggest(kind, code)
    labels = {"epci": "EPCI (SIREN)", "departement": "département", "region": "région"}
    hint = f" — codes proches : {', '.join(close)}" if close else ""
    raise TerritoryError(f"{labels[kind]} inconnu : {code}{hint}")


def _unknown_commune_message(code: str, idx: TerritoryIndex) -> str:
    served = idx.served_by_postal_code(code)
    if served:
        listed = ", ".join(f"{idx.commune(c).nom} ({c})" for c in served[:6])  # type: ignore[union-attr]
        more = "…" if len(served) > 6 else ""
        return f"{code} est un code postal, pas un code INSEE : communes desservies : {listed}{more}"
    communes = idx.all_communes()
    corse = [c for c in (f"2A{code[2:]}", f"2B{code[2:]}") if code.startswith("20") and c in communes]
    if corse:  # the codes of Corsica's communes begin with 2A or 2B since 1976
        listed = " ou ".join(f"{c} ({communes[c].nom})" for c in corse)
        return f"commune inconnue : {code} — en Corse, le code INSEE commence par 2A ou 2B : {listed}"
    close = idx.suggest("commune", code)
    hint = ", ".join(f"{c} ({communes[c].nom})" for c in close)
    return f"commune inconnue : {code} (code INSEE 2026)" + (f" — codes proches : {hint}" if hint else "")


def _resolve_name(text: str, idx: TerritoryIndex) -> tuple[str, tuple[str, ...]]:
    import difflib

    wanted = normalize_name(text)
    communes = idx.all_communes()
    matches = [c for c in communes.values() if normalize_name(c.nom) == wanted]
    if len(matches) == 1:
        c = matches[0]
        return f"commune:{c.code}", (f"« {text} » lu comme la commune {c.nom} ({c.code})",)
    if matches:
        listed = ", ".join(f"{c.nom} ({c.code}, {c.departement})" for c in matches[:8])
        raise TerritoryError(f"« {text} » désigne plusieurs communes : {listed} — indiquez le code INSEE")
    names = {normalize_name(c.nom): c for c in communes.values()}
    close = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.75)
    hint = ", ".join(f"{names[n].nom} ({names[n].code})" for n in close)
    return_hint = f" — noms proches : {hint}" if hint else ""
    raise TerritoryError(
        f"porteur inconnu : « {text} » (ni code INSEE, ni SIREN, ni departement:NN, ni nom de commune){return_hint}"
    )
