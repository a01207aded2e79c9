"""Every output format of `route` and `batch`, compared with a file kept under tests/golden/.

The small catalogue of tests/fixtures/ok keeps these stable; `pytest --regenerate-golden` rewrites
them after an intended change, and `git diff tests/golden` shows what users will see differently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import run
from conftest import FIXTURES, TODAY

WORKSPACE = ["--catalogue", FIXTURES / "ok" / "mini-catalogue", "--rules", FIXTURES / "ok" / "mini-rules",
             "--date", TODAY.isoformat()]
DEMANDE = ["--porteur", "16015", "--thematique", "eau", "--besoin", "diagnostic", "--saisine", "directe"]
BACKLOG = (
    "id;porteur;thematiques;besoins;complexite;population\n"
    "a;16089;urbanisme;conseil;simple;\n"
    "b;16015;eau|friches;diagnostic;simple;\n"
    "c;29155;eau;conseil;complexe;\n"
    "d;69381;urbanisme;conseil;simple;\n"
    "e;16089;urbanisme;diagnostique;simple;\n"
    "f;epci:200071827;friches;diagnostic;simple;25000\n"
)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_route_output(golden, fmt):
    result = run("route", *DEMANDE, "--format", fmt, *WORKSPACE)
    assert result.code == 0
    golden(f"route.{fmt if fmt == 'json' else 'txt'}", result.stdout)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_batch_output(golden, tmp_path: Path, fmt):
    backlog = tmp_path / "carnet.csv"
    backlog.write_text(BACKLOG, encoding="utf-8")
    out = tmp_path / "decisions.csv"
    result = run("batch", backlog, "-o", out, "--format", fmt if fmt == "json" else "text", *WORKSPACE)
    assert result.code == 0
    if fmt == "csv":
        golden("batch.csv", out.read_text(encoding="utf-8-sig"))
        golden("batch.explications.csv", (tmp_path / "decisions.explications.csv").read_text(encoding="utf-8-sig"))
        golden("batch-resume.txt", result.stderr.replace(str(out), "decisions.csv"))
    else:
        golden("batch-resume.json", result.stdout.replace(str(out), "decisions.csv").replace(str(backlog), "carnet.csv"))
