"""A backlog re-run with --previous: rows paired by their id only, never by their position, and the
cause of a change names what changed in the demande itself before blaming the catalogue or a rule."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from clirun import run
from conftest import TODAY

HEADER = "id;intitule;porteur;thematiques;besoins;date_depot\n"
BEFORE = HEADER + (
    "A;Place du marché;16015;espace-public;etude;2026-03-02\n"
    "B;Centre-bourg;16015;revitalisation;diagnostic;2026-03-02\n"
    ";Sans identifiant;16015;eau;amo;2026-03-02\n"
)
# B's besoin changed and the rows are in another order: a positional pairing would invent changes.
AFTER = HEADER + (
    ";Sans identifiant;16015;eau;amo;2026-03-02\n"
    "B;Centre-bourg;16015;revitalisation;etude;2026-03-02\n"
    "A;Place du marché;16015;espace-public;etude;2026-03-02\n"
    "N;Nouvelle;16015;eau;amo;2026-03-02\n"
    "Z;Doublon;16015;eau;amo;2026-03-02\n"
    "Z;Doublon;16015;eau;amo;2026-03-02\n"
)


def batch(tmp_path: Path, name: str, text: str, *more: object) -> tuple[pd.DataFrame, str]:
    source = tmp_path / f"{name}.csv"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / f"{name}-decisions.csv"
    result = run("batch", source, "-o", out, "--date", TODAY.isoformat(), *more)
    assert result.code == 0, result.stderr
    return pd.read_csv(out, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig"), result.stderr


def test_rows_are_paired_by_id_and_a_row_without_one_is_said_so(tmp_path: Path):
    batch(tmp_path, "avant", BEFORE)
    after, stderr = batch(tmp_path, "apres", AFTER, "--previous", tmp_path / "avant-decisions.csv")
    rows = {r.intitule + (r.id or ""): r for r in after.itertuples()}
    assert rows["Place du marchéA"].changement == "inchange"
    assert rows["NouvelleN"].changement == "nouveau"
    unnamed = rows["Sans identifiant"]
    assert unnamed.changement == "non_compare" and unnamed.ancienne_offre == ""
    assert unnamed.cause == "sans identifiant : la ligne ne peut être rapprochée du fichier précédent"
    assert {r.changement for r in after.itertuples() if r.id == "Z"} == {"non_compare"}
    assert {r.cause for r in after.itertuples() if r.id == "Z"} == {
        "identifiant partagé par plusieurs lignes : rapprochement impossible"}
    b = rows["Centre-bourgB"]
    assert (b.changement, b.cause) == ("modifie", "demande modifiée : besoins : diagnostic → etude")
    assert "3 non comparées (sans identifiant propre)" in stderr
    assert len(after) == 6  # one output row per input row


def test_the_demande_change_is_named_before_any_catalogue_cause(tmp_path: Path):
    batch(tmp_path, "avant", BEFORE)
    changed = BEFORE.replace("B;Centre-bourg;16015;revitalisation;diagnostic", "B;Centre-bourg;29155;eau;amo")
    after, _ = batch(tmp_path, "apres", changed, "--previous", tmp_path / "avant-decisions.csv")
    b = after[after["id"] == "B"].iloc[0]
    assert b.changement == "modifie"
    assert b.cause == ("demande modifiée : porteur : 16015 → 29155 ; thematiques : revitalisation → eau ; "
                       "besoins : diagnostic → amo")
    assert after[after["id"] == "A"].iloc[0].changement == "inchange"


def test_impact_pairs_by_id_and_counts_rows_without_one_apart(tmp_path: Path):
    batch(tmp_path, "avant", BEFORE)
    batch(tmp_path, "apres", AFTER)
    out = tmp_path / "impact.json"
    result = run("report", "impact", "--decisions", tmp_path / "apres-decisions.csv", "--previous",
                 tmp_path / "avant-decisions.csv", "--date", TODAY.isoformat(), "-o", out)
    assert result.code == 0, result.stderr
    moves = json.loads(out.read_text(encoding="utf-8"))["precedent"]["mouvements"]
    assert moves["apparies"]["n"] == 2 and moves["nouveaux"]["n"] == 1 and moves["disparus"]["n"] == 0
    assert moves["sans_identifiant"]["n"] == 3 and moves["sans_identifiant_avant"]["n"] == 1
