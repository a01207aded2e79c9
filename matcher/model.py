"""The domain's values: levels, vocabularies, offers, perimeters, policy rules, demandes, decisions.

Everything here is a frozen dataclass or a constant; loading, checking and deciding live in
their own modules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .errors import Location
from .text import word_key

# Levels, in order of proximity: the subsidiarity search walks them left to right.
LEVELS: tuple[str, ...] = ("communal", "intercommunal", "departemental", "regional", "operateur", "agence")
LEVEL_INDEX = {name: i for i, name in enumerate(LEVELS)}
LEVEL_LABELS = {
    "communal": "communal",
    "intercommunal": "intercommunal",
    "departemental": "départemental",
    "regional": "régional",
    "operateur": "opérateurs partenaires et services de l'État",
    "agence": "agence (ANCT)",
}

# Within a level, a free offer comes before a co-financed one, which comes before a paid one.
COUTS: tuple[str, ...] = ("gratuit", "cofinance", "payant")
COUT_LABELS = {"gratuit": "gratuit", "cofinance": "cofinancé", "payant": "payant"}  # as people read them
PORTEUR_TYPES: tuple[str, ...] = ("commune", "epci", "departement", "region", "autre")
COMPLEXITES: tuple[str, ...] = ("simple", "complexe")
SAISINES: tuple[str, ...] = ("dt", "directe")
ZONES: tuple[str, ...] = ("metro", "drom", "com")
AVIS_DT: tuple[str, ...] = ("favorable", "defavorable", "en_attente")
# What a row of a batch run with --previous is, compared with the earlier decisions file.
CHANGEMENTS: tuple[str, ...] = ("inchange", "nouveau", "modifie", "non_compare")

# How people write a day, in demande files, backlog cells and decisions files re-saved by a spreadsheet.
DATE_FORMATS: tuple[str, ...] = ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M",
                                 "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S",
                                 "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")


def parse_day(value: object, formats: tuple[str, ...] = DATE_FORMATS) -> dt.date | None:
    """A day as people write it (a date, a date-time, or text in one of `formats`); None when blank.
    ValueError when the text is no day."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)

# The networks of local engineering a département's gaps are listed by (catalogue section `lacunes`).
RESEAUX: tuple[str, ...] = ("caue", "agence-technique", "energie", "agence-urbanisme", "epf", "adil", "pnr",
                            "petr-pays", "syndicat-mixte", "agence-regionale", "autre")
VOCABULARY_KINDS: tuple[str, ...] = ("thematiques", "besoins", "programmes")

# The veille et alerte: the kinds of indicator an alert rule reads (`matcher/alertrules.py` lists
# their fields), and how serious an alert is.
INDICATEURS: tuple[str, ...] = ("departement", "region_thematique", "offre", "demande")
GRAVITES: tuple[str, ...] = ("information", "attention", "urgence")

# Examination statuses of a level, as the decision reports them.
STATUTS: tuple[str, ...] = ("aucune_offre", "offres_ecartees", "ignore", "sans_objet", "retenu")


@dataclass(frozen=True)
class Term:
    id: str
    libelle: str
    parent: str | None
    location: Location | None = None


@dataclass(frozen=True)
class Vocabulary:
    """A controlled vocabulary; a word may have a parent, and a demande's word implies its ancestors."""

    kind: str
    terms: dict[str, Term]

    def ancestors(self, word: str) -> tuple[str, ...]:
        chain: list[str] = []
        term = self.terms.get(word)
        while term is not None and term.parent and term.parent not in chain:
            chain.append(term.parent)
            term = self.terms.get(term.parent)
        return tuple(chain)

    def with_ancestors(self, words: tuple[str, ...]) -> tuple[str, ...]:
        """The words and every ancestor, in first-seen order (what a demande's words imply)."""
        seen: dict[str, None] = {}
        for word in words:
            seen.setdefault(word, None)
            for parent in self.ancestors(word):
                seen.setdefault(parent, None)
        return tuple(seen)

    def label(self, word: str) -> str:
        term = self.terms.get(word)
        return term.libelle if term else word

    def find(self, written: str) -> str | None:
        """The word a user meant: its id, or its id or label written with other case, accents, spaces
        or hyphens (« Santé », « Rénovation énergétique »); None when nothing matches, or more than one."""
        if written in self.terms:
            return written
        key = word_key(written)
        ids = [t.id for t in self.terms.values() if word_key(t.id) == key]
        if not ids:
            ids = [t.id for t in self.terms.values() if word_key(t.libelle) == key]
        return ids[0] if len(ids) == 1 else None


@dataclass(frozen=True)
class Programme:
    """Who can belong to a programme, declared once in the vocabulary: a programme is a fact about
    the porteur, checked on every demande that declares it."""

    id: str
    libelle: str
    population_min: int | None = None
    population_max: int | None = None
    porteurs: tuple[str, ...] = ()  # natures of porteur that can belong (empty: any)
    membres: frozenset[str] | None = None  # the public member list (territory references), when there is one
    source: str | None = None


@dataclass(frozen=True)
class ProgrammeCheck:
    """A programme a demande declares, checked against who can belong to it."""

    programme: str
    adhesion: str  # verifiee (on the public list) | non_verifiee (eligible, no list) | impossible
    motif: str


@dataclass(frozen=True)
class Validite:
    debut: dt.date | None = None
    fin: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        return (self.debut is None or self.debut <= day) and (self.fin is None or day <= self.fin)


@dataclass(frozen=True)
class Perimetre:
    """A named perimeter: a list of other territory references (a PETR, a PNR, an agency's area)."""

    id: str
    nom: str
    membres: tuple[str, ...]
    location: Location | None = None


@dataclass(frozen=True)
class Offre:
    id: str
    nom: str
    structure: str
    niveau: str
    perimetre: tuple[str, ...]
    thematiques: tuple[str, ...]
    besoins: tuple[str, ...]
    conditions: Any  # conditions.Condition | None
    cout: str
    source: str
    capacite: int | None = None
    validite: Validite = Validite()
    contact: str | None = None
    description: str | None = None
    repli: bool = False
    verifie_le: dt.date | None = None  # the last day someone re-read the source; None: never since written
    location: Location | None = None

    @property
    def cout_rank(self) -> int:
        return COUTS.index(self.cout)


@dataclass(frozen=True)
class Actions:
    """What a policy rule does when its `quand` holds."""

    escalader: str | None = None
    exclure_offres: tuple[str, ...] = ()
    exclure_niveaux: tuple[str, ...] = ()
    avis_dt_requis: bool = False
    alerte: str | None = None
    motif: str | None = None


@dataclass(frozen=True)
class Regle:
    id: str
    description: str
    reference: str | None
    priorite: int
    quand: Any  # conditions.Condition
    alors: Actions
    location: Location | None = None
    after_decision: bool = False  # `quand` reads the decided level or offer


@dataclass(frozen=True)
class Demande:
    """One request for engineering support, as the DT receives it."""

    id: str
    porteur: str  # a territory reference: commune:64445, epci:200067106, departement:64, region:75
    thematiques: tuple[str, ...]
    besoins: tuple[str, ...]
    intitule: str = ""
    programmes: tuple[str, ...] = ()
    complexite: str = "simple"
    saisine: str = "dt"
    type_porteur: str | None = None  # defaults to the porteur's kind
    population: float | None = None  # defaults to the official figure of the porteur's territory
    montant: float | None = None
    date_depot: dt.date | None = None
    avis_dt: str | None = None
    date_avis_dt: dt.date | None = None  # the day of the opinion, or the day it was asked when en_attente
    attributs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Territoire:
    """Where a porteur sits: its chain of levels and who holds each, and its délégué territorial."""

    ref: str
    kind: str  # commune | epci | departement | region
    code: str
    nom: str
    commune: str | None
    epci: str | None
    departement: str
    region: str
    zone: str
    population: int | None
    holders: dict[str, str]  # level -> the collectivity that holds it here (absent: sans objet)
    dt_departement: str
    dt_libelle: str
    containers: frozenset[str]  # every territory reference this territory lies in, itself included
    notes: tuple[str, ...] = ()  # how an alias or a special case was resolved

    def as_dict(self) -> dict[str, Any]:
        return {"commune": self.commune, "epci": self.epci, "departement": self.departement, "region": self.region}


@dataclass(frozen=True)
class OffreEcartee:
    id: str
    raisons: tuple[str, ...]


@dataclass(frozen=True)
class Examen:
    """How one level was examined for a demande."""

    niveau: str
    statut: str
    motif: str | None = None
    offres: tuple[OffreEcartee, ...] = ()
    retenue: str | None = None
    regle: str | None = None
    hors_thematique: int = 0  # offers of the level on this territory that cover none of the demande's thematiques


@dataclass(frozen=True)
class Alerte:
    texte: str
    regle: str


@dataclass(frozen=True)
class Decision:
    demande: Demande
    territoire: Territoire
    niveau: str
    offre: Offre
    motif: str
    examen: tuple[Examen, ...]
    avis_dt_requis: bool
    alertes: tuple[Alerte, ...]
    regles: tuple[str, ...]  # ids of the policy rules that applied, in priority order
    version: dict[str, str]
    date: dt.date
    alternatives: tuple[Offre, ...] = ()  # the other offers that serve at the chosen level, in order of preference
    programmes: tuple["ProgrammeCheck", ...] = ()  # each programme the demande declares, checked
    # The structures the chosen offer is reserved to the members of, when the demande did not declare
    # its adhesions: the offer serves « sous réserve d'adhésion », to check with the porteur.
    adhesions_a_verifier: tuple[str, ...] = ()

    @property
    def instruisible(self) -> bool:
        """No project is instructed without the DT's opinion: one that needs it and has no
        favourable opinion waits."""
        return not (self.avis_dt_requis and self.demande.avis_dt != "favorable")


@dataclass(frozen=True)
class Catalogue:
    """Every offer, named perimeter and vocabulary of a catalogue folder, and its version."""

    offres: tuple[Offre, ...]
    perimetres: dict[str, Perimetre]
    vocabularies: dict[str, Vocabulary]
    version: str  # sha256 of the files, so a decision says which catalogue it used
    root: str
    # The kind of each attribute the conditions read (conditions.KIND_NAMES), and where it was fixed;
    # the rules loaded with the catalogue add theirs, so that a demande's are read as one table.
    attribute_types: dict[str, str] = field(default_factory=dict)
    programmes: dict[str, Programme] = field(default_factory=dict)  # eligibility, for the programmes that declare it
    attribute_places: dict[str, Location] = field(default_factory=dict)

    @property
    def repli(self) -> Offre:
        return next(o for o in self.offres if o.repli)

    @cached_property
    def memberships(self) -> tuple[str, ...]:
        """Every structure an offer reserves itself to the members of, sorted; read once per catalogue
        (a long-running process decides demande after demande on the same one)."""
        from .conditions import memberships  # the condition language is built on this module

        return tuple(sorted({m for o in self.offres for m in memberships(o.conditions)}))

    def offre(self, offre_id: str) -> Offre | None:
        return next((o for o in self.offres if o.id == offre_id), None)


@dataclass(frozen=True)
class Policy:
    """The policy rules of a rules folder, highest priority first, and their version."""

    regles: tuple[Regle, ...]
    version: str
    root: str
