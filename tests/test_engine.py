"""Each guard in front of durable_rules, proven: no catalogue or demande can reach a known failure."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import durable_rules_engine
import pytest

from matcher import engine
from matcher.conditions import ParseContext, compile_condition, parse_condition
from matcher.engine import (
    RULES_PER_RULESET,
    EngineRule,
    Program,
    engine_hash,
    property_names,
    registered_rulesets,
)
from matcher.errors import CompileError, EngineError, IssueCollector
from matcher.yamlsource import parse

ROOT = str(Path(__file__).resolve().parent.parent)


def test_more_than_64_matching_rules_are_split_across_rulesets():
    # The engine fails with error 303 when a 65th distinct rule matches one message.
    rules = [EngineRule(f"offre-{i}", {"$lt": {"population": 1000 + i}}) for i in range(200)]
    program = Program(rules)
    assert program.matches([{"population": 1}]) == [{f"offre-{i}" for i in range(200)}]
    assert RULES_PER_RULESET + 1 <= 64  # + the catch-all
    assert all(len(names) <= 64 for _, names, _ in program._chunks)


def test_the_raw_engine_does_fail_beyond_64_matches():
    """What the guard protects from (shown in a child process: the engine's state is global)."""
    code = textwrap.dedent("""
        from durable.engine import Host
        class H(Host):
            def _run(self): pass
            def get_action(self, name): return lambda c: None
        h = H()
        h.set_rulesets({"r": {f"r{i}": {"all": [{"m": {"$lt": {"v": 1000 + i}}}], "run": "a"} for i in range(65)}})
        try:
            h.assert_fact("r", {"sid": "0", "v": 1})
        except Exception as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "303" in out.stdout


def test_reloading_the_same_rules_registers_nothing_new():
    rules = [EngineRule("a", {"$eq": {"x": "rechargement"}})]
    Program(rules)
    before = registered_rulesets()
    for _ in range(50):
        assert Program(rules).matches([{"x": "rechargement"}]) == [{"a"}]
    assert registered_rulesets() == before


def test_one_session_for_everything_and_no_fact_left_behind():
    program = Program([EngineRule("a", {"$eq": {"x": "session"}})])
    for _ in range(20):
        program.matches([{"x": "session"}, {"x": "autre"}, {"x": "session"}])
    host = engine._host()
    for ruleset, _, _ in program._chunks:
        assert host.get_facts(ruleset, engine.SESSION) == []


def test_property_names_never_collide_in_the_engine():
    assert engine_hash("p2039599") == engine_hash("p2222382")  # a real collision of the engine's hash
    names = property_names(["p2039599", "p2222382"])
    assert engine_hash(names["p2039599"]) != engine_hash(names["p2222382"])
    program = Program([EngineRule("sur-p2039599", {"$eq": {"p2039599": "oui"}})])
    assert program.matches([{"p2222382": "oui"}, {"p2039599": "oui"}]) == [set(), {"sur-p2039599"}]


def test_engine_hash_finds_collisions_the_engine_really_has():
    """Two names our hash says collide are confused by the raw engine (so the hash is the engine's)."""
    code = textwrap.dedent("""
        from durable.engine import Host
        hits = []
        class H(Host):
            def _run(self): pass
            def get_action(self, name): return lambda c: hits.append(name)
        h = H()
        h.set_rulesets({"r": {"r0": {"all": [{"m": {"p2039599": "oui"}}], "run": "a"}}})
        h.assert_fact("r", {"sid": "0", "p2222382": "oui"})
        print(hits)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "['a']"


def test_a_rule_made_only_of_nex_does_not_loop():
    code = textwrap.dedent("""
        from matcher.engine import Program, EngineRule
        p = Program([EngineRule("sans-montant", {"$nex": {"montant": 1}})])
        print(p.matches([{}, {"montant": 3}]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=".")
    assert out.stdout.strip() == "[{'sans-montant'}, set()]"


def test_empty_combinations_are_refused():
    with pytest.raises(CompileError, match="combinaison vide"):
        Program([EngineRule("vide", {"$and": []})])


def test_too_many_alternatives_are_refused_before_the_engine():
    huge = {"$or": [{"$eq": {"commune": f"{i:05d}"}} for i in range(600)]}
    with pytest.raises(CompileError, match="600 alternatives"):
        Program([EngineRule("trop", huge)])


def test_too_many_alternatives_in_a_condition_are_located():
    values = ", ".join(f'"{i:05d}"' for i in range(300))
    doc = parse(f"conditions:\n  commune: [{values}]\n", "offre.yaml")
    issues = IssueCollector()
    parse_condition(doc.data["conditions"], ("conditions",), ParseContext(doc, issues, {}))
    assert [str(i) for i in issues.issues] == [
        "offre.yaml:2:12: erreur: 300 valeurs dans une seule condition : au plus 200 (le moteur de règles ne sait pas "
        "évaluer davantage d'alternatives ; utilisez un périmètre nommé) [trop-d-alternatives]"
    ]


def test_many_sibling_rules_on_one_property_load_quickly():
    code = textwrap.dedent("""
        from matcher.engine import Program, EngineRule
        p = Program([EngineRule(f"c{i}", {"$eq": {"commune": f"{i:05d}"}}) for i in range(1500)])
        print(p.matches([{"commune": "00042"}]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[{'c42'}]"


def test_an_action_failure_is_raised_not_swallowed(monkeypatch):
    def failing_action(self, name):
        def action(c):
            raise RuntimeError("panne simulée")
        return action

    monkeypatch.setattr(engine._Host, "get_action", failing_action)
    program = Program([EngineRule("echec", {"$eq": {"x": "action-en-echec"}})])
    with pytest.raises(EngineError, match="panne simulée"):
        program.matches([{"x": "action-en-echec"}])


def test_no_timer_threads_are_started():
    before = threading.active_count()
    Program([EngineRule("fil", {"$eq": {"x": "fil"}})]).matches([{"x": "fil"}])
    assert threading.active_count() == before
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]


def test_facts_that_match_nothing_and_identical_facts():
    program = Program([EngineRule("a", {"$eq": {"x": "identique"}})])
    assert program.matches([{"x": "rien"}]) == [set()]  # the catch-all prevents MessageNotHandled
    assert program.matches([{"x": "identique"}] * 3) == [{"a"}] * 3  # no MessageObserved
    assert program.matches([{"x": "identique"}]) == [{"a"}]


def test_conditions_compile_to_engine_expressions_the_engine_accepts():
    doc = parse(textwrap.dedent("""\
        quand:
          aucun: [{porteur: region}]
          un_de: [{population: {min: 100, max: 3500}}, {programmes: {contient_un_de: [pvd, acv]}}]
          montant: {existe: false}
    """), "r.yaml")
    cond = parse_condition(doc.data["quand"], ("quand",), ParseContext(doc, IssueCollector(stop_at_first=True), {}))
    program = Program([EngineRule("r", compile_condition(cond))])
    facts = [
        {"porteur": "commune", "population": 800, "programmes": ["~"]},
        {"porteur": "region", "population": 800, "programmes": ["~"]},
        {"porteur": "commune", "population": 9000, "programmes": ["~", "pvd"]},
        {"porteur": "commune", "population": 9000, "programmes": ["~"], "montant": 5},
    ]
    assert program.matches(facts) == [{"r"}, set(), {"r"}, set()]


def test_the_engine_module_is_the_only_importer_of_durable_rules():
    import pathlib

    importers = [
        p.name
        for p in pathlib.Path(engine.__file__).parent.glob("**/*.py")
        if "durable" in p.read_text(encoding="utf-8").split("\n\"\"\"", 1)[-1] and "import" in p.read_text()
        and any(line.startswith(("import durable", "from durable")) for line in p.read_text().splitlines())
    ]
    assert importers == ["engine.py"]
    assert durable_rules_engine is not None


def test_deep_nesting_is_refused_by_a_guard_before_the_engine():
    """The engine holds 32 expression slots per rule and each $and/$or takes two (error 113)."""
    code = textwrap.dedent("""
        from durable.engine import Host
        class H(Host):
            def _run(self): pass
            def get_action(self, name): return lambda c: None
        expr = {"$lt": {"v": 1}}
        for i in range(16):
            expr = {"$and" if i % 2 else "$or": [expr, {"$lt": {f"w{i}": 1}}]}
        try:
            H().set_rulesets({"r": {"r0": {"all": [{"m": expr}], "run": "a"}}})
        except Exception as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "113" in out.stdout
    expr = {"$lt": {"v": 1}}
    for i in range(16):
        expr = {"$and" if i % 2 else "$or": [expr, {"$lt": {f"w{i}": 1}}]}
    with pytest.raises(CompileError, match="condition trop imbriquée pour le moteur"):
        Program([EngineRule("imbriquee", expr)])


def test_nested_combinations_of_one_kind_are_flattened():
    doc = parse("c:\n  tous:\n    - tous: [{porteur: commune}, {zone: metro}]\n    - tous: [{population: {max: 5}}]\n",
                "c.yaml")
    cond = parse_condition(doc.data["c"], ("c",), ParseContext(doc, IssueCollector(stop_at_first=True), {}))
    assert compile_condition(cond) == {"$and": [{"$eq": {"porteur": "commune"}}, {"$eq": {"zone": "metro"}},
                                                {"$lte": {"population": 5}}]}


_RAW_HOST = """
import ctypes, json, sys
from durable.engine import Host
class H(Host):
    def _run(self): pass
    def get_action(self, name): return lambda c: None
h = H()
"""

# Fills freed heap blocks with 0x09 (JSON_IDENTIFIER): the engine then finds that byte in the type of
# the $or node it left uninitialised, as it does at random in a long run.
_POISON = """
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def poison():
    blocks = []
    for k in range(6, 20):
        block = libc.malloc(1 << k)
        ctypes.memset(block, 0x09, 1 << k)
        blocks.append(block)
    for block in blocks:
        libc.free(block)
"""


def _run_raw(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _RAW_HOST + _POISON + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_the_raw_engine_refuses_an_or_inside_a_list_test_when_the_heap_holds_garbage():
    out = _run_raw("""
        failures = 0
        for n in range(20):
            poison()
            rule = {"all": [{"m": {"$iany": {"p": {"$or": [{"$i": f"a{n}"}, {"$i": "b"}]}}}}], "run": "a"}
            try:
                h.set_rulesets({f"rs{n}": {"r": rule}})
            except Exception as exc:
                failures += "error code: 102" in str(exc)
        print(failures)
    """)
    assert int(out.stdout) == 20


def test_list_tests_never_meet_the_uninitialised_node():
    """The same garbage, through the guard: every ruleset is created, every answer right."""
    out = subprocess.run([sys.executable, "-c", _POISON + textwrap.dedent("""
        from matcher.engine import EngineRule, Program
        from matcher.errors import CompileError
        failures = wrong = 0
        for n in range(200):
            poison()
            rules = [EngineRule("un-de", {"$iany": {"th": {"$or": [{"$i": f"a{n}"}, {"$i": "b"}]}}}),
                     EngineRule("ni-ni", {"$iall": {"th": {"$and": [{"$neq": {"$i": "c"}},
                                                                   {"$or": [{"$i": "~"}, {"$i": f"a{n}"}]}]}}})]
            try:
                program = Program(rules)
            except CompileError:
                failures += 1
                continue
            got = program.matches([{"th": ["~", f"a{n}"]}, {"th": ["~", "c"]}, {"th": ["~"]}])
            wrong += got != [{"un-de", "ni-ni"}, set(), {"ni-ni"}]
        print(failures, wrong)
    """)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.stdout.split() == ["0", "0"], out.stderr


def test_the_raw_engine_crashes_on_a_number_with_an_exponent():
    out = _run_raw("""
        try:
            h.set_rulesets({"seuil": {"r": {"all": [{"m": {"$lte": {"v": 1e-05}}}], "run": "a"}}})
        except Exception as exc:
            print(exc, flush=True)
        h.set_rulesets({"r": {"r": {"all": [{"m": {"$lte": {"v": 0.0001}}}], "run": "a"},
                              "tout": {"all": [{"m": {"$ex": {"sid": 1}}}], "run": "b"}}})
        h.assert_facts("r", [{"sid": "0", "id": 1, "v": 1e-05}, {"sid": "0", "id": 2, "v": 1}])
    """)
    assert "error code: 204" in out.stdout
    assert out.returncode == -11  # SIGSEGV


def test_numbers_reach_the_engine_as_ranks_and_keep_every_answer():
    thresholds = [0.0001, 1e-05, 1e20, 2**70, -3.5e-7, 0, 12]
    rules = [EngineRule(f"min-{i}", {"$gte": {"v": t}}) for i, t in enumerate(thresholds)]
    rules += [EngineRule(f"max-{i}", {"$lte": {"v": t}}) for i, t in enumerate(thresholds)]
    rules += [EngineRule(f"egal-{i}", {"$eq": {"v": t}}) for i, t in enumerate(thresholds)]
    rules.append(EngineRule("dans-la-liste", {"$iany": {"l": {"$or": [{"$i": 1e-9}, {"$i": 2**65}]}}}))
    program = Program(rules)
    values = [0.00005, 1e-05, 1e-300, 5e20, 2**70, 2**70 + 1, -1e-7, 0, 0.0, 12.0, 11.999999, 1e300, -2**80]
    got = program.matches([{"v": v, "l": ["~", v]} for v in values])
    for v, names in zip(values, got):
        expected = {f"min-{i}" for i, t in enumerate(thresholds) if v >= t}
        expected |= {f"max-{i}" for i, t in enumerate(thresholds) if v <= t}
        expected |= {f"egal-{i}" for i, t in enumerate(thresholds) if v == t}
        expected |= {"dans-la-liste"} if v in (1e-9, 2**65) else set()
        assert names == expected, v


def test_non_finite_numbers_never_reach_the_engine():
    with pytest.raises(CompileError, match="non fini"):
        Program([EngineRule("nan", {"$gte": {"v": float("nan")}})])
    program = Program([EngineRule("min", {"$gte": {"v": 3}})])
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(EngineError, match="non fini"):
            program.matches([{"v": value}])


def test_the_raw_engine_crashes_beyond_254_properties_in_a_fact():
    out = _run_raw("""
        h.set_rulesets({"r": {"r": {"all": [{"m": {"$eq": {"q0": 1}}}], "run": "a"}}})
        fact = {"sid": "0", "id": 1, **{f"q{i}": 1 for i in range(253)}}
        h.assert_facts("r", [fact, {**fact, "id": 2}])
    """)
    assert out.returncode == -11  # SIGSEGV


def test_many_attributes_are_spread_over_rulesets_each_given_only_its_fields():
    rules = [EngineRule(f"a{i}", {"$eq": {f"attribut-{i}": "oui"}}) for i in range(600)]
    program = Program(rules)
    assert all(len(fields) <= engine.FIELDS_PER_RULESET for _, _, fields in program._chunks)
    fact = {f"attribut-{i}": "oui" if i % 3 == 0 else "non" for i in range(600)}
    assert program.matches([fact]) == [{f"a{i}" for i in range(0, 600, 3)}]


def test_a_rule_on_more_fields_than_the_engine_reads_is_refused():
    tests = [{"$eq": {f"attribut-{i}": "oui"}} for i in range(engine.FIELDS_PER_RULESET + 1)]
    many = {"$and": [{"$and": tests[:100]}, {"$and": tests[100:]}]}
    with pytest.raises(CompileError, match="champs ou attributs différents"):
        engine.check_rule(EngineRule("trop-large", many))


def test_the_raw_engine_counts_the_combinations_inside_list_tests():
    out = _run_raw("""
        lists = [{"$iany": {f"l{i}": {"$or": [{"$i": "a"}, {"$i": "b"}]}}} for i in range(15)]
        try:
            h.set_rulesets({"r": {"r": {"all": [{"m": {"$and": [{"$eq": {"mk": "d"}}, *lists]}}], "run": "a"}}})
        except Exception as exc:
            print(exc)
    """)
    assert "error code: 113" in out.stdout


def test_combinations_inside_list_tests_count_against_the_engine_slots():
    lists = [{"$iany": {f"l{i}": {"$or": [{"$i": "a"}, {"$i": "b"}]}}} for i in range(8)]
    with pytest.raises(CompileError, match="trop imbriquée"):
        engine.check_rule(EngineRule("listes", {"$and": lists}))
    program = Program([EngineRule("listes", {"$and": lists[:6]})])
    assert program.matches([{f"l{i}": ["~", "b"] for i in range(6)}]) == [{"listes"}]


def test_the_raw_engine_finds_different_long_texts_equal():
    out = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        from matcher.engine import Program, EngineRule, MAX_TEXT
        import matcher.engine as engine
        engine.MAX_TEXT = 10**9  # the guard lifted
        long = "a" * 65535
        program = Program([EngineRule("egal", {"$eq": {"v": long + "x"}})])
        print(program.matches([{"v": "a"}, {"v": long + "y"}]))
    """)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.stdout.strip() == "[{'egal'}, {'egal'}]"  # neither is equal to it


def test_texts_longer_than_the_engine_compares_are_refused():
    with pytest.raises(CompileError, match="le moteur n'en compare que"):
        engine.check_rule(EngineRule("long", {"$eq": {"v": "a" * (engine.MAX_TEXT + 1)}}))
    with pytest.raises(CompileError, match="le moteur n'en compare que"):  # é is 6 characters for the engine
        engine.check_rule(EngineRule("long", {"$iany": {"l": {"$i": "é" * (engine.MAX_TEXT // 6 + 1)}}}))
    program = Program([EngineRule("court", {"$eq": {"v": "a" * engine.MAX_TEXT}})])
    assert program.matches([{"v": "a" * engine.MAX_TEXT}, {"v": "a"}]) == [{"court"}, set()]
    with pytest.raises(EngineError, match="le moteur n'en compare que"):
        program.matches([{"v": "a" * 70000}])
