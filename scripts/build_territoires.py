#!/usr/bin/env python3
"""Rebuild matcher/data/territoires.tsv from the official administrative division.

Source: the npm package @etalab/decoupage-administratif (Code officiel géographique, MIT licence).
Either point at a folder holding its data/*.json files, or let the script fetch the package:

    python scripts/build_territoires.py --source ../shared/data/decoupage-administratif-2026
    python scripts/build_territoires.py --npm 6.0.0        # needs npm and the npm registry

The output is one line per record, tab-separated, so that a single commune can be found
without parsing the whole file (what keeps `aiguillage route` fast):

    R  code  nom  zone  titulaire  département du préfet de région  communes  population
    D  code  nom  region  zone  titulaire  délégué territorial  communes  population  population du titulaire
    E  siren  nom  type  population  département de rattachement  départements  niveaux tenus  communes
    C  code  nom  departement  region  epci  population  zone  codes postaux  siren
    A  code  commune  nature  nom     (anciens codes, communes déléguées ou associées, arrondissements municipaux)
    P  code postal  communes desservies (codes INSEE)

A département's population is that of its territory; the population of its titulaire (the
collectivity that holds the départemental level there) differs where the level is split or merged:
the Département du Rhône excludes the Métropole de Lyon, the Collectivité de Corse holds both 2A and 2B.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "matcher" / "data" / "territoires.tsv"
LICENCE_OUTPUT = ROOT / "matcher" / "data" / "LICENCE-decoupage-administratif.txt"
PACKAGE = "@etalab/decoupage-administratif"

# INSEE's TNCC ("typeLiaison") gives the article that joins "Préfet" to a name.
CHARNIERE = {0: "de ", 1: "d'", 2: "du ", 3: "de la ", 4: "des ", 5: "de l'"}

# Where one collectivity holds the départemental and/or régional level, or where the State's
# representative is not a préfet de département. Facts from the CGCT and the statutes of each
# collectivity (loi 2015-991 for Corse; lois 2011-884 for Martinique and Guyane; LO 2010-1486
# for Mayotte; statuts des COM).
HOLDERS_DEPARTEMENT = {
    "75": "Ville de Paris",
    "2A": "Collectivité de Corse",
    "2B": "Collectivité de Corse",
    "972": "Collectivité territoriale de Martinique",
    "973": "Collectivité territoriale de Guyane",
    "976": "Département de Mayotte",
    "975": "Collectivité territoriale de Saint-Pierre-et-Miquelon",
    "977": "Collectivité de Saint-Barthélemy",
    "978": "Collectivité de Saint-Martin",
    "984": "Administration des Terres australes et antarctiques françaises",
    "986": "Territoire des îles Wallis et Futuna",
    "987": "Polynésie française",
    "988": "Nouvelle-Calédonie",
    "989": "Île de Clipperton (administrée par l'État)",
}
HOLDERS_REGION = {
    "94": "Collectivité de Corse",
    "01": "Région Guadeloupe",
    "02": "Collectivité territoriale de Martinique",
    "03": "Collectivité territoriale de Guyane",
    "04": "Région Réunion",
    "06": "Département de Mayotte",
}
STATE_REPRESENTATIVE = {
    "977": "Préfet délégué pour Saint-Barthélemy et Saint-Martin",
    "978": "Préfet délégué pour Saint-Barthélemy et Saint-Martin",
    "984": "Préfet, administrateur supérieur des Terres australes et antarctiques françaises",
    "986": "Administrateur supérieur des îles Wallis et Futuna",
    "987": "Haut-commissaire de la République en Polynésie française",
    "988": "Haut-commissaire de la République en Nouvelle-Calédonie",
    "989": "Haut-commissaire de la République en Polynésie française",
}
# The Métropole de Lyon (EPCI type MET69) exercises a département's competences on its territory.
EPCI_HOLDS = {"MET69": "intercommunal,departemental"}


def _clean(text: object) -> str:
    return str(text).replace("\t", " ").replace("\n", " ")


def fetch_npm(version: str, workdir: Path) -> Path:
    if shutil.which("npm") is None:
        sys.exit("npm est introuvable : utilisez --source DOSSIER")
    subprocess.run(["npm", "pack", f"{PACKAGE}@{version}", "--silent"], cwd=workdir, check=True)
    archive = next(workdir.glob("*.tgz"))
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    return workdir / "package" / "data"


def build(source: Path) -> list[str]:
    def read(name: str) -> list[dict]:
        return json.loads((source / f"{name}.json").read_text(encoding="utf-8"))

    communes, epcis = read("communes"), read("epci")
    departements, regions = read("departements"), read("regions")
    current = {c["code"]: c for c in communes if c["type"] == "commune-actuelle"}
    epci_of = {m["code"]: e["code"] for e in epcis for m in e["membres"]}

    epci_type = {e["code"]: e["type"] for e in epcis}
    holder_of_dept = {
        d["code"]: HOLDERS_DEPARTEMENT.get(d["code"], f"Département {CHARNIERE[d.get('typeLiaison', 0)]}{d['nom']}")
        for d in departements
    }

    per_dept: collections.Counter[str] = collections.Counter()
    per_region: collections.Counter[str] = collections.Counter()
    pop_dept: collections.Counter[str] = collections.Counter()
    pop_region: collections.Counter[str] = collections.Counter()
    pop_holder: collections.Counter[str] = collections.Counter()  # per collectivity holding a départemental level
    for c in current.values():
        per_dept[c["departement"]] += 1
        per_region[c["region"]] += 1
        pop_dept[c["departement"]] += c.get("population", 0)
        pop_region[c["region"]] += c.get("population", 0)
        if "departemental" not in EPCI_HOLDS.get(epci_type.get(epci_of.get(c["code"], ""), ""), ""):
            pop_holder[holder_of_dept[c["departement"]]] += c.get("population", 0)
    region_of_dept = {d["code"]: d["region"] for d in departements}

    lines = [
        "# Découpage administratif de la France, millésime 2026, dérivé du paquet npm "
        f"{PACKAGE} (Code officiel géographique, Etalab, licence MIT : voir LICENCE-decoupage-administratif.txt).",
        "# Régénéré par scripts/build_territoires.py ; ne pas modifier à la main.",
    ]
    for r in sorted(regions, key=lambda r: r["code"]):
        if r["zone"] == "com":  # a COM is its own "région": the collectivity holds every level above the commune
            holder = HOLDERS_DEPARTEMENT[r["code"]]
        else:
            holder = HOLDERS_REGION.get(r["code"], f"Région {r['nom']}")
        # The préfet de région sits in the chef-lieu's département, which must lie in the région: the
        # source gives the TAAF Saint-Pierre (975) as chef-lieu, whose préfet is not theirs.
        prefect_dept = current[r["chefLieu"]]["departement"] if r["chefLieu"] in current else r["code"]
        if region_of_dept.get(prefect_dept) != r["code"]:
            prefect_dept = r["code"]
        if region_of_dept.get(prefect_dept) != r["code"]:
            sys.exit(f"région {r['code']} : aucun département de la région pour son préfet")
        lines.append(
            "\t".join(
                ["R", r["code"], _clean(r["nom"]), r["zone"], holder, prefect_dept,
                 str(per_region[r["code"]]), str(pop_region[r["code"]])]
            )
        )
    for d in sorted(departements, key=lambda d: d["code"]):
        charniere = CHARNIERE[d.get("typeLiaison", 0)]
        holder = holder_of_dept[d["code"]]
        dt = STATE_REPRESENTATIVE.get(d["code"], f"Préfet {charniere}{d['nom']}")
        lines.append(
            "\t".join(
                ["D", d["code"], _clean(d["nom"]), d["region"], d["zone"], holder, dt,
                 str(per_dept[d["code"]]), str(pop_dept[d["code"]]), str(pop_holder[holder])]
            )
        )
    for e in sorted(epcis, key=lambda e: e["code"]):
        weight: collections.Counter[str] = collections.Counter()
        for m in e["membres"]:
            weight[current[m["code"]]["departement"]] += m.get("populationMunicipale", 0)
        # An EPCI spanning départements is attached, for its own requests, to the one where
        # most of its inhabitants live (the data carries no siège); ties go to the lower code.
        main = sorted(weight.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        lines.append(
            "\t".join(
                [
                    "E",
                    e["code"],
                    _clean(e["nom"]),
                    e["type"],
                    str(e.get("populationMunicipale", "")),
                    main,
                    ",".join(sorted(weight)),
                    EPCI_HOLDS.get(e["type"], "intercommunal"),
                    str(len(e["membres"])),
                ]
            )
        )
    for code in sorted(current):
        c = current[code]
        lines.append(
            "\t".join(
                [
                    "C",
                    code,
                    _clean(c["nom"]),
                    c["departement"],
                    c["region"],
                    epci_of.get(code, ""),
                    str(c.get("population", "")),
                    c["zone"],
                    ",".join(c.get("codesPostaux", [])),
                    c.get("siren", ""),
                ]
            )
        )
    aliases: dict[str, tuple[str, str, str]] = {}
    for c in communes:
        if c["type"] == "commune-actuelle":
            for old in c.get("anciensCodes", []):
                if old not in current:
                    aliases.setdefault(old, (c["code"], "ancien-code", c["nom"]))
        elif c["code"] not in current:
            target = c.get("chefLieu") or c.get("commune")
            nature = {
                "commune-deleguee": "commune-deleguee",
                "commune-associee": "commune-associee",
                "arrondissement-municipal": "arrondissement-municipal",
            }[c["type"]]
            aliases[c["code"]] = (target, nature, c["nom"])
    for code in sorted(aliases):
        target, nature, nom = aliases[code]
        lines.append("\t".join(["A", code, target, nature, _clean(nom)]))
    served: dict[str, set[str]] = collections.defaultdict(set)
    for code, c in current.items():
        for postal in c.get("codesPostaux", []):
            served[postal].add(code)
    for postal in sorted(served):
        lines.append("\t".join(["P", postal, ",".join(sorted(served[postal]))]))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--source", type=Path, help="dossier contenant communes.json, epci.json, ...")
    group.add_argument("--npm", metavar="VERSION", help=f"télécharger {PACKAGE}@VERSION avec npm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.npm:
            source = fetch_npm(args.npm, Path(tmp))
        else:
            source = args.source or ROOT.parent / "shared" / "data" / "decoupage-administratif-2026"
        lines = build(source)
        licence = source / "LICENSE"
        if not licence.exists():
            licence = source.parent / "LICENSE"
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if licence.exists():
            shutil.copyfile(licence, LICENCE_OUTPUT)
    counts = collections.Counter(line[0] for line in lines if not line.startswith("#"))
    print(
        f"{OUTPUT.relative_to(ROOT)} : {counts['C']} communes, {counts['E']} EPCI, {counts['D']} départements, "
        f"{counts['R']} régions, {counts['A']} codes alternatifs, {counts['P']} codes postaux ({OUTPUT.stat().st_size / 1e6:.1f} Mo)"
    )


if __name__ == "__main__":
    main()
