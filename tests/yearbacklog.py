"""One year of demandes, as a DT's office would have filed them: real communes of six départements
in four régions, dates spread over the twelve months before TODAY, avis du DT favourable, awaited,
unfavourable or absent, with their dates.

Deterministic (a fixed seed), so that the figures the governance tests check do not move. Written
to exercise what the reports and the alerts look at:
- Morbihan (56) files many complex projects in the last three months: its share sent to the agence
  jumps (the alert « part-agence-en-hausse »);
- Charente (16) files energy projects that the fixture offer `veille-energie-16` (capacity 12 a
  year) cannot all take (« offre-au-dela-de-sa-capacite »);
- opinions are mostly given within six weeks; a few old ones are stuck, unfavourable or were never asked,
  and recent ones are often still awaited (« avis-dt-en-attente » for those awaited more than 30 days).

Run as a script to write the backlog somewhere: `python tests/yearbacklog.py carnet.csv`.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
from pathlib import Path

from matcher.territory import default_index

TODAY = dt.date(2026, 11, 26)
FIRST_DAY = TODAY - dt.timedelta(days=364)
DEPARTEMENTS = {"16": 260, "29": 230, "56": 230, "26": 180, "69": 160, "11": 140}
THEMES = ("urbanisme", "revitalisation", "habitat", "espace-public", "batiments-publics", "friches", "foncier",
          "eau", "assainissement", "renovation-energetique", "energies-renouvelables", "voirie-reseaux",
          "mobilite", "commerce", "tourisme", "sante", "patrimoine", "sport", "numerique", "finances-locales",
          "projet-de-territoire", "risques", "biodiversite", "dechets")
BESOINS = ("diagnostic", "conseil", "etude", "amo", "ingenierie-financiere", "ingenierie-juridique", "chef-de-projet")
PROGRAMMES = ("pvd", "acv", "vda", "crte", "ti")
COLUMNS = ("id", "intitule", "code_insee", "thematiques", "besoins", "complexite", "saisine", "programmes", "montant",
           "date_depot", "avis_dt", "date_avis_dt")


def rows(seed: int = 20261126) -> list[dict[str, str]]:
    rng = random.Random(seed)
    communes = default_index().all_communes()
    out: list[dict[str, str]] = []
    for departement, count in DEPARTEMENTS.items():
        pool = sorted((c for c in communes.values() if c.departement == departement and c.epci), key=lambda c: c.code)
        for i in range(count):
            commune = rng.choice(pool)
            depot = FIRST_DAY + dt.timedelta(days=rng.randrange(364))
            recent = (TODAY - depot).days < 90
            themes = [rng.choice(THEMES)]
            if departement == "16" and rng.random() < 0.12:
                themes = ["renovation-energetique"]
            if rng.random() < 0.2:
                themes.append(rng.choice(THEMES))
            complexe = rng.random() < (0.55 if departement == "56" and recent else 0.07)
            directe = rng.random() < 0.06
            avis, date_avis = "", ""
            age = (TODAY - depot).days
            draw = rng.random()
            # Opinions are mostly given within six weeks; a few old ones are stuck or were never asked.
            favourable, unfavourable, awaited = (0.85, 0.08, 0.05) if age > 60 else (0.40, 0.0, 0.40)
            if draw < favourable:
                given = depot + dt.timedelta(days=rng.randrange(3, 45))
                if given < TODAY:
                    avis, date_avis = "favorable", given.isoformat()
                else:
                    avis, date_avis = "en_attente", depot.isoformat()
            elif draw < favourable + unfavourable:
                avis, date_avis = "defavorable", min(depot + dt.timedelta(days=rng.randrange(5, 30)), TODAY).isoformat()
            elif draw < favourable + unfavourable + awaited:
                asked = depot + dt.timedelta(days=rng.randrange(0, 4))
                avis, date_avis = "en_attente", min(asked, TODAY).isoformat()
            out.append({
                "id": f"D{departement}-{i + 1:04d}",
                "intitule": f"{themes[0].replace('-', ' ').capitalize()} — {commune.nom}",
                "code_insee": commune.code,  # the column names the reading: an INSEE code, not a postal code
                "thematiques": "|".join(dict.fromkeys(themes)),
                "besoins": "|".join(dict.fromkeys(rng.sample(BESOINS, rng.choice((1, 1, 2))))),
                "complexite": "complexe" if complexe else "simple",
                "saisine": "directe" if directe else "dt",
                "programmes": rng.choice(PROGRAMMES) if rng.random() < 0.3 else "",
                "montant": str(rng.randrange(20, 3000) * 1000),
                "date_depot": depot.isoformat(),
                "avis_dt": avis,
                "date_avis_dt": date_avis,
            })
    out.sort(key=lambda r: (r["date_depot"], r["id"]))
    return out


def write(path: Path, seed: int = 20261126) -> Path:
    """The backlog as a French office's CSV (`;`, UTF-8)."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, COLUMNS, delimiter=";")
        writer.writeheader()
        writer.writerows(rows(seed))
    return path


if __name__ == "__main__":
    write(Path(sys.argv[1]))
