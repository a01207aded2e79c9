"""The workspace's disk cache: the checked catalogue, rules and territory table, reused while nothing changes."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, TODAY
from matcher.territory import TerritoryGraph, default_index
from matcher.workspace import load_workspace

MINI = FIXTURES / "ok" / "mini-catalogue"
MINI_RULES = FIXTURES / "ok" / "mini-rules"
ROOT = Path(__file__).parent.parent


def test_the_cache_is_reused_until_a_file_changes(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AIGUILLAGE_CACHE", str(tmp_path / "cache"))
    catalogue = tmp_path / "catalogue"
    shutil.copytree(MINI, catalogue)
    first = load_workspace(catalogue, MINI_RULES, today=TODAY)
    files = sorted((tmp_path / "cache").iterdir())
    assert len(files) == 1
    # Another day reads the same cache: what it holds does not depend on the day.
    again = load_workspace(catalogue, MINI_RULES, today=TODAY + dt.timedelta(days=1))
    assert sorted((tmp_path / "cache").iterdir()) == files
    assert again.catalogue == first.catalogue and again.policy == first.policy
    # A changed offer is a new catalogue: a new entry, the change in it.
    offres = catalogue / "offres.yaml"
    offres.write_text(offres.read_text().replace("population: {max: 20000}", "population: {max: 30000}"))
    changed = load_workspace(catalogue, MINI_RULES, today=TODAY)
    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert changed.catalogue.version != first.catalogue.version
    # A damaged entry is read again from the files, not trusted.
    files[0].write_bytes(b"pas un pickle")
    assert load_workspace(catalogue.parent / "catalogue", MINI_RULES, today=TODAY).catalogue == changed.catalogue


def test_the_cached_territory_table_is_what_the_graph_says(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AIGUILLAGE_CACHE", str(tmp_path / "cache"))
    load_workspace(today=TODAY)
    cached = load_workspace(today=TODAY)
    fresh = TerritoryGraph(default_index(), cached.catalogue.perimetres.values())
    assert cached.graph.perimeters_of == fresh.perimeters_of
    import networkx as nx

    fresh.add_all_communes()
    for ref in ("commune:16015", "commune:29155", "commune:69123", "commune:2A004", "commune:97411", "region:84"):
        assert cached.graph.lies_in(ref) == {ref} | nx.descendants(fresh.graph, ref), ref
    # An EPCI porteur lies in the département where most of its people live, not in both.
    assert cached.graph.lies_in("epci:200006682") == (
        {"epci:200006682"} | nx.descendants(fresh.graph, "epci:200006682")
        | {"departement:21"} | nx.descendants(fresh.graph, "departement:21"))


def test_the_cached_engine_plan_is_the_one_the_catalogue_gives(tmp_path: Path, monkeypatch):
    """Which program asks about each offer is kept with the catalogue: a route does not work it out again."""
    from matcher.decide import Router

    monkeypatch.setenv("AIGUILLAGE_CACHE", str(tmp_path / "cache"))
    load_workspace(today=TODAY)
    cached = load_workspace(today=TODAY)
    assert cached.router()._plan is cached.engine_plan is not None
    fresh = Router(cached.catalogue, cached.policy, cached.graph).engine_plan()
    assert cached.engine_plan == fresh


def test_route_from_the_cache_needs_neither_yaml_nor_networkx_nor_pandas(tmp_path: Path):
    env = {"AIGUILLAGE_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    route = ["route", "--porteur", "16089", "--thematique", "urbanisme", "--besoin", "conseil", "--format", "json"]
    script = ("import json, sys, cli\ncode = cli.main(sys.argv[1:])\n"
              "print(json.dumps(sorted(m for m in ('yaml', 'networkx', 'pandas', 'pyarrow') if m in sys.modules)),"
              " file=sys.stderr)\nsys.exit(code)")
    decisions = []
    for expected in (["networkx", "yaml"], []):  # the first run fills the cache
        done = subprocess.run([sys.executable, "-c", script, *route], cwd=ROOT, env=env, capture_output=True,
                              text=True, check=True)
        assert json.loads(done.stderr.strip().splitlines()[-1]) == expected
        decisions.append(json.loads(done.stdout))
    assert decisions[0] == decisions[1]
