#!/usr/bin/env python3
"""Generate a national-scale synthetic catalogue and backlogs for the benchmarks.

The catalogue is synthetic but shaped like the real one, on the real 2026 division: in every
département an agence technique, a CAUE, an ADIL, a syndicat d'énergie, the DDT and often an
agence d'urbanisme on a named perimeter; one or two offers per EPCI; a service for each large
commune; in every région an EPF, an agence régionale de l'énergie and the Région; the shipped
operators and agence (whose repli offer is the real one). Every offer declares a `capacite`.

Backlogs spread requests over real communes by population (a city files more requests than a
village), with the thematiques, besoins and shares of complex or direct requests of a realistic
office. Deterministic: the same seed gives the same files.

    python bench/generate.py                     # bench/out/catalogue-national, backlogs of 10k, 100k, 1M
    python bench/generate.py --rows 10000 --rows 250000
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from matcher.paths import shipped_catalogue  # noqa: E402
from matcher.territory import default_index  # noqa: E402
from matcher.yamlsource import dump  # noqa: E402

OUT = ROOT / "bench" / "out"
SOURCE = "https://aiguillage.invalid/catalogue-synthetique"

DEPARTEMENTAL = [
    ("atd", "Assistance technique aux collectivités", "Agence technique départementale",
     ["urbanisme", "voirie-reseaux", "eau", "batiments-publics"], ["amo", "etude", "conseil"], "cofinance",
     {"porteur": ["commune", "epci"], "population": {"max": 10000}}),
    ("caue", "Conseil en architecture et paysage", "CAUE", ["urbanisme", "paysage", "espace-public"],
     ["conseil", "diagnostic"], "gratuit", None),
    ("adil", "Conseil juridique habitat", "ADIL", ["habitat"], ["ingenierie-juridique", "conseil"], "gratuit", None),
    ("sde", "Conseil en énergie partagé", "Syndicat départemental d'énergie", ["energie-dechets"],
     ["diagnostic", "conseil", "amo"], "cofinance", {"porteur": ["commune", "epci"]}),
]
REGIONAL = [
    ("epf", "Stratégie et portage foncier", "Établissement public foncier", ["foncier", "friches", "revitalisation"],
     ["portage-foncier", "etude", "diagnostic"], "cofinance", None),
    ("arec", "Rénovation énergétique des bâtiments publics", "Agence régionale de l'énergie",
     ["renovation-energetique", "batiments-publics"], ["diagnostic", "amo"], "gratuit", {"population": {"max": 5000}}),
    ("region", "Ingénierie de projet de territoire", "Région", ["projet-de-territoire", "developpement-economique"],
     ["ingenierie-financiere", "chef-de-projet"], "cofinance", {"porteur": ["commune", "epci"]}),
]
INTERCOMMUNAL = [
    ("ads", "Service commun d'urbanisme", ["documents-urbanisme", "urbanisme"], ["conseil", "ingenierie-juridique"]),
    ("projet", "Ingénierie de projet intercommunale", ["projet-de-territoire", "revitalisation", "mobilite"],
     ["chef-de-projet", "etude"]),
]

# A realistic office: what communes ask for, and how often.
THEMES = {
    "urbanisme": 8, "revitalisation": 10, "habitat": 7, "friches": 5, "foncier": 4, "documents-urbanisme": 6,
    "espace-public": 6, "batiments-publics": 9, "renovation-energetique": 8, "energies-renouvelables": 4,
    "eau": 4, "assainissement": 4, "voirie-reseaux": 7, "mobilite": 4, "mobilites-actives": 3, "commerce": 3,
    "tourisme": 2, "tiers-lieux": 2, "sante": 3, "services-au-public": 2, "patrimoine": 3, "sport": 2,
    "numerique": 2, "finances-locales": 2, "projet-de-territoire": 5, "biodiversite": 2, "risques": 2,
}
BESOINS = {
    "diagnostic": 10, "conseil": 9, "etude": 8, "amo": 8, "ingenierie-financiere": 6, "ingenierie-juridique": 4,
    "chef-de-projet": 3, "concertation": 2, "portage-foncier": 2, "maitrise-oeuvre": 2,
}
PROGRAMMES = {"": 80, "pvd": 8, "acv": 4, "vda": 5, "crte": 3}


def _offer(oid, nom, structure, niveau, perimetre, thematiques, besoins, cout, conditions, capacite):
    offer = {"id": oid, "nom": nom, "structure": structure, "niveau": niveau, "perimetre": perimetre,
             "thematiques": thematiques, "besoins": besoins}
    if conditions:
        offer["conditions"] = conditions
    offer.update({"capacite": int(capacite), "cout": cout, "source": f"{SOURCE}/{oid}"})
    return offer


def catalogue(folder: Path, rng: np.random.Generator) -> int:
    """Write the synthetic catalogue; returns its number of offers."""
    index = default_index()
    communes = index.all_communes()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shipped = shipped_catalogue()
    shutil.copy(shipped / "vocabulaires.yaml", folder / "vocabulaires.yaml")
    shutil.copy(shipped / "agence.yaml", folder / "agence.yaml")
    shutil.copytree(shipped / "operateurs", folder / "operateurs")
    count = 0
    by_dept: dict[str, list[str]] = {}
    for siren, epci in index.epcis.items():
        by_dept.setdefault(epci.departement, []).append(siren)
    for code, dept in sorted(index.departements.items()):
        offers, perimetres = [], []
        for key, nom, structure, themes, needs, cout, cond in DEPARTEMENTAL:
            capacite = max(10, dept.communes // 4 * rng.uniform(0.5, 1.5))
            offers.append(_offer(f"{key}-{code.lower()}", nom, f"{structure} ({dept.nom})", "departemental",
                                 [f"departement:{code}"], themes, needs, cout, cond, capacite))
        offers.append(_offer(f"ddt-{code.lower()}", "Conseil aux territoires", f"DDT ({dept.nom})", "operateur",
                             [f"departement:{code}"], ["urbanisme", "risques", "projet-de-territoire"],
                             ["conseil", "diagnostic"], "gratuit", None, 40))
        epcis = sorted(by_dept.get(code, []))
        if epcis and rng.random() < 0.4:
            members = list(rng.choice(epcis, size=min(len(epcis), int(rng.integers(2, 6))), replace=False))
            pid = f"aire-urbanisme-{code.lower()}"
            perimetres.append({"id": pid, "nom": f"Aire de l'agence d'urbanisme ({dept.nom})",
                               "membres": [f"epci:{m}" for m in sorted(members)]})
            offers.append(_offer(f"au-{code.lower()}", "Études et observation", f"Agence d'urbanisme ({dept.nom})",
                                 "departemental", [f"perimetre:{pid}"], ["urbanisme", "habitat", "mobilite"],
                                 ["etude", "diagnostic"], "cofinance", None, 30))
        for siren in epcis:
            for key, nom, themes, needs in INTERCOMMUNAL[: int(rng.integers(1, 3))]:
                offers.append(_offer(f"{key}-{siren}", nom, index.epcis[siren].nom, "intercommunal",
                                     [f"epci:{siren}"], themes, needs, "gratuit",
                                     {"porteur": "commune"} if key == "ads" else None, rng.integers(5, 40)))
        for c in communes.values():
            if c.departement == code and (c.population or 0) >= 50_000:
                offers.append(_offer(f"ville-{c.code.lower()}", "Services techniques municipaux", c.nom, "communal",
                                     [f"commune:{c.code}"], ["batiments-publics", "espace-public", "voirie-reseaux"],
                                     ["amo", "maitrise-oeuvre", "etude"], "gratuit", {"porteur": "commune"},
                                     rng.integers(20, 80)))
        data = {"offres": offers}
        if perimetres:
            data["perimetres"] = perimetres
        (folder / "departements").mkdir(exist_ok=True)
        (folder / "departements" / f"{code}.yaml").write_text(dump(data), encoding="utf-8")
        count += len(offers)
    for code, region in sorted(index.regions.items()):
        offers = [
            _offer(f"{key}-r{code.lower()}", nom, f"{structure} ({region.nom})", "regional", [f"region:{code}"],
                   themes, needs, cout, cond, max(20, region.communes // 10))
            for key, nom, structure, themes, needs, cout, cond in REGIONAL
        ]
        (folder / "regions").mkdir(exist_ok=True)
        (folder / "regions" / f"{code}.yaml").write_text(dump({"offres": offers}), encoding="utf-8")
        count += len(offers)
    return count


def _pick(rng: np.random.Generator, weights: dict[str, int], n: int) -> np.ndarray:
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=float)
    return rng.choice(keys, size=n, p=p / p.sum())


def backlog(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """n requests over real communes, weighted by population."""
    communes = default_index().all_communes()
    codes = np.array(list(communes))
    population = np.array([max(c.population or 0, 1) for c in communes.values()], dtype=float)
    porteur = rng.choice(codes, size=n, p=population / population.sum())
    theme = _pick(rng, THEMES, n)
    second = _pick(rng, THEMES, n)
    themes = np.where(rng.random(n) < 0.2, np.char.add(np.char.add(theme, "|"), second), theme)
    besoins = _pick(rng, BESOINS, n)
    days = rng.integers(0, 700, size=n)
    return pd.DataFrame({
        "id": [f"D{i:07d}" for i in range(n)],
        "intitule": np.where(rng.random(n) < 0.5, "Projet de la commune", "Étude préalable"),
        # INSEE codes by the column's name: a bare five-digit code can also be another commune's
        # postal code, and the batch would refuse it as ambiguous.
        "code_insee": porteur,
        "thematiques": themes,
        "besoins": besoins,
        "complexite": np.where(rng.random(n) < 0.05, "complexe", "simple"),
        "saisine": np.where(rng.random(n) < 0.03, "directe", "dt"),
        "programmes": _pick(rng, PROGRAMMES, n),
        "population": "",
        "montant": np.round(rng.lognormal(12, 1.2, size=n), -2).astype(int).astype(str),
        "date_depot": (pd.Timestamp("2025-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="taille d'un carnet (répétable)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    OUT.mkdir(parents=True, exist_ok=True)
    offers = catalogue(OUT / "catalogue-national", rng)
    print(f"{OUT / 'catalogue-national'} : {offers} offres synthétiques + opérateurs et agence livrés")
    for n in args.rows or [10_000, 100_000, 1_000_000]:
        frame = backlog(n, rng)
        csv = OUT / f"carnet-{n}.csv"
        frame.to_csv(csv, sep=";", index=False)
        frame.to_parquet(OUT / f"carnet-{n}.parquet", index=False)
        print(f"{csv} : {n} demandes")


if __name__ == "__main__":
    main()
