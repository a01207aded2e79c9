"""The only module that talks to durable_rules: compile, guard, run.

durable_rules 2.0.28 is fast and has sharp edges (see the project's engine notes). Every
expression passes a strict checker before it reaches the engine, and the way rules are
registered and facts asserted keeps clear of each known failure:

- at most 64 rules may match one message (error 303): rulesets hold at most
  `RULES_PER_RULESET` rules plus one catch-all, so no fact can match more;
- a ruleset name cannot be unloaded and each registration leaks memory: rulesets are named
  by the hash of their content and registered once per process, whatever reloads them;
- one session per request crashes the process on cleanup: one session ("0") is used for
  everything, facts are retracted after each batch, and no state is ever deleted;
- property names are compared by a 32-bit FNV-1a hash: fields get generated names whose
  hashes are checked distinct from each other and from the engine's own names;
- an empty `$and`/`$or` or a rule made only of `$nex` loops forever: every rule starts
  with a positive test on a marker property, and empty combinations are refused;
- the 64 counts matches, not rules: an `$or` whose alternatives both hold matches twice, so
  rules are packed by their worst-case number of matches (`match_paths`), not by count;
- an `$or` that ends the test of an `$iany`/`$iall` leaves the type of its node uninitialised
  (createForwardAlpha in rete.c), and the engine refuses the ruleset (error 102) whenever the
  heap happens to hold 0x09 or 0x0C there: every such `$or` is followed by a test on the item
  that always holds, so the node the engine reads is always one it initialised;
- numbers are read by the engine's own parser, which stops at an exponent (`1e-05`: error 204
  on creation, a segmentation fault on a batch of facts) and reads integers into 64 bits: the
  engine never sees a number of ours; each is replaced by its rank among the thresholds of its
  field (`_Scale`), which keeps every comparison's answer and is a small integer;
- texts are compared on a length cut to 16 bits (reduceString in events.c): beyond 65,535
  characters as the engine reads them (JSON-escaped), "a" equals a long text that starts with
  it; texts are bounded by `MAX_TEXT`, in rules and in facts;
- a fact holds at most 254 properties (MAX_OBJECT_PROPERTIES in state.h: error 302, then
  memory overwritten): each ruleset reads at most `FIELDS_PER_RULESET` fields and is given
  only those;
- 512 alternatives or sibling rules spin in C: alternatives per `$or` are bounded, and so
  are rules per ruleset;
- a rule holds at most 32 expression slots and each `$and`/`$or` takes two, inside lists too
  (error 113 beyond): nested combinations are flattened, and a rule with more than
  `MAX_COMBINATIONS` is refused;
- exceptions in actions are swallowed by the engine: actions record their own failure,
  which is raised after the batch;
- the host's timer threads race the synchronous path: they are never started;
- a message that no rule matches aborts a whole batch: the catch-all rule matches every fact.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from durable.engine import Host, MessageNotHandledException, MessageObservedException

from .errors import CompileError, EngineError

RULES_PER_RULESET = 62  # + the catch-all: 63 possible matches per fact, under the engine's 64
MATCH_BUDGET = RULES_PER_RULESET  # worst-case matches of the rules of one ruleset
MAX_ALTERNATIVES = 200  # per $or / $and; the engine spins from 512
MAX_COMBINATIONS = 15  # $and/$or nodes in one rule: each takes two of the engine's 32 slots (error 113)
MAX_EXPRESSION_NODES = 2000
FIELDS_PER_RULESET = 200  # + sid, id and the marker, far under the 254 properties a fact may hold
NEVER_ITEM = "~jamais~"  # a list item no fact carries: the test that closes an $or on items
MAX_TEXT = 10_000  # characters of a text as the engine reads it (JSON-escaped); it compares 16 bits of length
BATCH = 1000  # facts per assert; also each rule's `cap`, so a rule fires once per batch
SESSION = "0"
MARKER_FIELD = "__demande__"
CATCH_ALL = "__tout__"

_COMPARISONS = ("$eq", "$neq", "$lt", "$lte", "$gt", "$gte")
RESERVED_NAMES = ("sid", "id", "$s", "m", "$i", "$l", "$r", "all", "any", "pri", "cap", "count", "dist", "run")
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193


def engine_hash(name: str) -> int:
    """The 32-bit FNV-1a hash durable_rules compares property and rule names with."""
    h = _FNV_OFFSET
    for byte in name.encode("utf-8"):
        signed = byte - 256 if byte > 127 else byte  # the C code hashes `char`, signed on x86
        h = ((h ^ (signed & 0xFFFFFFFF)) * _FNV_PRIME) & 0xFFFFFFFF
    return h


@dataclass(frozen=True)
class EngineRule:
    """A rule as the engine gets it: a name of ours and a condition expression on field names."""

    name: str
    expression: dict | None  # None: the rule holds for every fact (besides the marker)


class _Host(Host):
    """A durable_rules host without its dispatch threads, whose actions record matched fact ids."""

    def __init__(self) -> None:
        self.hits: dict[str, list[int]] = {}
        self.failures: list[str] = []
        super().__init__()

    def _run(self) -> None:  # the timer threads would dispatch actions concurrently with ours
        pass

    def get_action(self, action_name: str):
        hits = self.hits.setdefault(action_name, [])
        failures = self.failures

        def record(c: Any) -> None:
            try:
                hits.extend(message["id"] for message in c.m)
            except Exception as exc:  # the engine would swallow it
                failures.append(f"{action_name}: {exc!r}")

        return record


_HOST: _Host | None = None
_REGISTERED: dict[str, str] = {}  # content hash -> ruleset name
_LOCK = threading.Lock()  # the C engine has no locks of its own


def _host() -> _Host:
    global _HOST
    if _HOST is None:
        _HOST = _Host()
    return _HOST


def registered_rulesets() -> int:
    """How many rulesets this process has given the engine (each costs memory until exit)."""
    return len(_REGISTERED)


# --------------------------------------------------------------------------- checking


def _check(expr: Any, names: dict[str, str], rule: str, count: list[int], scale: "_Scale") -> Any:
    """Validate one expression, rename its fields to engine property names and its numbers to ranks."""
    count[0] += 1
    if count[0] > MAX_EXPRESSION_NODES:
        raise CompileError(f"règle « {rule} » trop complexe pour le moteur (plus de {MAX_EXPRESSION_NODES} tests)")
    if not isinstance(expr, dict) or len(expr) != 1:
        raise CompileError(f"règle « {rule} » : expression mal formée {expr!r}")
    ((op, body),) = expr.items()
    if op in ("$and", "$or"):
        if not isinstance(body, list) or not body:
            raise CompileError(f"règle « {rule} » : combinaison vide (le moteur bouclerait)")
        if len(body) > MAX_ALTERNATIVES:
            raise CompileError(
                f"règle « {rule} » : {len(body)} alternatives dans une combinaison, au plus {MAX_ALTERNATIVES}"
            )
        return {op: [_check(item, names, rule, count, scale) for item in body]}
    if op in ("$iany", "$iall"):
        ((field, inner),) = body.items()
        return {op: {names[field]: _closed(_check_item(inner, rule, count, scale.of(field)))}}
    if op in _COMPARISONS or op in ("$ex", "$nex"):
        ((field, value),) = body.items()
        _check_value(value, rule)
        return {op: {names[field]: scale.of(field).encode(value) if op in _COMPARISONS else value}}
    raise CompileError(f"règle « {rule} » : opérateur non autorisé {op}")


def _check_value(value: Any, rule: str) -> None:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise CompileError(f"règle « {rule} » : valeur non comparable {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise CompileError(f"règle « {rule} » : nombre non fini {value!r}")
    if value == NEVER_ITEM:
        raise CompileError(f"règle « {rule} » : valeur réservée {value!r}")
    if isinstance(value, str) and _engine_length(value) > MAX_TEXT:
        raise CompileError(f"règle « {rule} » : texte de {len(value)} caractères, le moteur n'en compare que "
                           f"{MAX_TEXT} au plus")


def _engine_length(text: str) -> int:
    """The length of a text as the engine reads it: JSON-escaped, as the host writes it."""
    return len(json.dumps(text)) - 2


def _check_item(expr: Any, rule: str, count: list[int], scale: "_FieldScale") -> Any:
    """Inside $iany/$iall: `{"$i": v}`, `{"$neq": {"$i": v}}`, and their $and/$or."""
    count[0] += 1
    if not isinstance(expr, dict) or len(expr) != 1:
        raise CompileError(f"règle « {rule} » : test de liste mal formé {expr!r}")
    ((op, body),) = expr.items()
    if op == "$i":
        _check_value(body, rule)
        return {"$i": scale.encode(body)}
    if op in ("$and", "$or"):
        if not isinstance(body, list) or not body or len(body) > MAX_ALTERNATIVES:
            raise CompileError(f"règle « {rule} » : liste de valeurs vide ou trop longue ({len(body)})")
        return {op: [_check_item(item, rule, count, scale) for item in body]}
    if op == "$neq" and isinstance(body, dict) and set(body) == {"$i"}:
        _check_value(body["$i"], rule)
        return {"$neq": {"$i": scale.encode(body["$i"])}}
    raise CompileError(f"règle « {rule} » : test de liste non autorisé {op}")


def _ends_in_or(item: dict) -> bool:
    """Whether the last node the engine builds for an item test is an $or's (uninitialised) one."""
    ((op, body),) = item.items()
    return op == "$or" or (op == "$and" and _ends_in_or(body[-1]))


def _closed(item: dict) -> dict:
    """An item test whose last node is a real test: an $or there is followed by one that always
    holds (no fact carries `NEVER_ITEM`), so the engine never reads the $or's uninitialised node."""
    if not _ends_in_or(item):
        return item
    always = {"$neq": {"$i": NEVER_ITEM}}
    return {"$and": [*item["$and"], always]} if "$and" in item else {"$and": [item, always]}


class _FieldScale:
    """A field's numbers as the engine gets them: the rank of each among the field's thresholds.

    A threshold t_i becomes 2i+1, a number between t_(i-1) and t_i becomes 2i: every comparison
    with a threshold keeps its answer, and the engine only ever reads small integers."""

    def __init__(self, thresholds: Iterable[float]):
        self.cuts = sorted(set(thresholds))

    def encode(self, value: Any) -> Any:
        if isinstance(value, str) and len(value) * 6 > MAX_TEXT and _engine_length(value) > MAX_TEXT:
            raise EngineError(f"texte de {len(value)} caractères : le moteur n'en compare que {MAX_TEXT} au plus")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        if isinstance(value, float) and not math.isfinite(value):
            raise EngineError(f"nombre non fini {value!r} : le moteur le comparerait comme un texte")
        i = bisect_left(self.cuts, value)
        return 2 * i + 1 if i < len(self.cuts) and self.cuts[i] == value else 2 * i


class _Scale:
    """The thresholds of every field of a set of expressions (field names in clear)."""

    def __init__(self, expressions: Iterable[Any]):
        numbers: dict[str, set] = {}
        for expr in expressions:
            for field, value in _numbers(expr):
                numbers.setdefault(field, set()).add(value)
        self.fields = {field: _FieldScale(values) for field, values in numbers.items()}

    def of(self, field: str) -> _FieldScale:
        return self.fields.get(field) or _NO_THRESHOLD


_NO_THRESHOLD = _FieldScale(())


def _numbers(expr: Any, field: str | None = None) -> Iterable[tuple[str, Any]]:
    """The (field, number) pairs an expression compares with."""
    if not isinstance(expr, dict):
        return
    for op, body in expr.items():
        if op in ("$and", "$or") and isinstance(body, list):
            for item in body:
                yield from _numbers(item, field)
        elif op in ("$iany", "$iall") and isinstance(body, dict):
            for name, inner in body.items():
                yield from _numbers(inner, name)
        elif op == "$i" and field is not None:
            if _is_finite_number(body):
                yield field, body
        elif op in _COMPARISONS and isinstance(body, dict):
            for name, value in body.items():
                if name == "$i" and field is not None:
                    name = field
                if _is_finite_number(value):
                    yield name, value


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def match_paths(expr: Any) -> int:
    """How many times one fact can match this expression at most: each alternative of an $or
    that holds is a separate match for the engine, and matches count against its 64."""
    if not expr:
        return 1
    ((op, body),) = expr.items()
    if op == "$or":
        fields = [_single_field(item) for item in body]
        if len(set(fields)) == 1 and fields[0] is not None:
            # Alternatives on one property exclude each other when they are equalities to
            # different values, or "missing" against tests that need the value present.
            missing = [item for item in body if "$nex" in item]
            equalities = [item for item in body if "$eq" in item]
            if len(equalities) == len(body):
                return 1
            if len(missing) == 1 and len(body) == 2:
                return match_paths(next(item for item in body if "$nex" not in item))
        return sum(match_paths(item) for item in body)
    if op == "$and":
        total = 1
        for item in body:
            total *= match_paths(item)
        return total
    return 1  # a comparison, or an $iany/$iall: one alpha node whatever its items


def _fields(expr: Any) -> Iterable[str]:
    if isinstance(expr, dict):
        for op, body in expr.items():
            if op in ("$and", "$or"):
                for item in body:
                    yield from _fields(item)
            elif op in ("$iany", "$iall") or op in _COMPARISONS or op in ("$ex", "$nex"):
                yield from body.keys()


def property_names(fields: Iterable[str]) -> dict[str, str]:
    """Generated engine property names for fields, with pairwise distinct engine hashes."""
    taken = {engine_hash(n) for n in RESERVED_NAMES}
    names: dict[str, str] = {}
    counter = 0
    for field in sorted(set(fields)):
        while True:
            candidate = f"p{counter}"
            counter += 1
            h = engine_hash(candidate)
            if h not in taken:
                taken.add(h)
                names[field] = candidate
                break
    return names


def _combinations(expr: Any) -> int:
    """How many $and/$or nodes the engine keeps in a rule's expression sequence (the item tests
    of an $iany/$iall are built into the same sequence)."""
    ((op, body),) = expr.items()
    if op in ("$and", "$or"):
        return 1 + sum(_combinations(item) for item in body)
    if op in ("$iany", "$iall"):
        return sum(_combinations(inner) for inner in body.values())
    return 0


def _rule_test(marker: dict, rule: EngineRule, names: dict[str, str], scale: _Scale) -> dict:
    """The engine's test for a rule: the marker, and the rule's own expression."""
    if rule.expression is None:
        return marker
    expression = _check(rule.expression, names, rule.name, [0], scale)
    test = {"$and": [marker, *(expression["$and"] if "$and" in expression else [expression])]}
    count = _combinations(test)
    if count > MAX_COMBINATIONS:
        raise CompileError(
            f"règle « {rule.name} » : condition trop imbriquée pour le moteur ({count} combinaisons tous / un_de / "
            f"aucun / listes de valeurs dans une même règle, au plus {MAX_COMBINATIONS}) : simplifiez-la ou "
            "scindez-la en plusieurs offres ou règles"
        )
    return test


def check_rule(rule: EngineRule) -> None:
    """Run the guards `Program` runs on one rule, without giving it to the engine (`rules check`
    locates each refusal this way; registering a program per rule would leak the engine's memory)."""
    names = property_names(set(_fields(rule.expression or {})) | {MARKER_FIELD})
    _rule_test({"$eq": {names[MARKER_FIELD]: "d"}}, rule, names, _Scale([rule.expression]))
    _pack([rule])  # its worst-case number of matches and its number of fields


# --------------------------------------------------------------------------- programs


class Program:
    """A set of rules compiled into as many engine rulesets as the guards require."""

    def __init__(self, rules: Sequence[EngineRule]):
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise CompileError(f"règle « {rule.name} » compilée deux fois")
            seen.add(rule.name)
        fields = {f for rule in rules for f in _fields(rule.expression or {})}
        self.names = property_names(fields | {MARKER_FIELD})
        self._scale = _Scale(rule.expression for rule in rules)
        marker = {"$eq": {self.names[MARKER_FIELD]: "d"}}
        # Per ruleset: its name, engine rule name -> our name, and the fields its facts carry.
        self._chunks: list[tuple[str, dict[str, str], frozenset[str]]] = []
        for chunk in _pack(rules):
            definition: dict[str, dict] = {}
            local_names: dict[str, str] = {}
            rule_names = _rule_names(len(chunk) + 1)
            for priority, (rule, engine_name) in enumerate(zip(chunk, rule_names)):
                test = _rule_test(marker, rule, self.names, self._scale)
                definition[engine_name] = {"all": [{"m": test}], "pri": priority, "cap": BATCH}
                local_names[engine_name] = rule.name
            definition[rule_names[-1]] = {"all": [{"m": marker}], "pri": len(chunk), "cap": BATCH}
            local_names[rule_names[-1]] = CATCH_ALL
            chunk_fields = frozenset(f for rule in chunk for f in _fields(rule.expression or {}))
            self._chunks.append((_register(definition), local_names, chunk_fields))

    def matches(self, facts: Sequence[dict[str, Any]]) -> list[set[str]]:
        """For each fact (field -> value), the names of the rules it satisfies."""
        result: list[set[str]] = [set() for _ in facts]
        if not self._chunks or not facts:
            return result
        encoded = [self._encode(fact) for fact in facts]
        host = _host()
        with _LOCK:
            for ruleset, local_names, fields in self._chunks:
                messages = [self._message(i, fact, fields) for i, fact in enumerate(encoded)]
                for start in range(0, len(messages), BATCH):
                    batch = messages[start : start + BATCH]
                    _run_batch(host, ruleset, batch, local_names, result)
        return result

    def _encode(self, fact: dict[str, Any]) -> dict[str, Any]:
        """A fact's fields that some rule reads, under their engine names, numbers as ranks."""
        encoded: dict[str, Any] = {}
        for field, value in fact.items():
            if field not in self.names:
                continue
            scale = self._scale.of(field)
            if isinstance(value, (list, tuple)):
                if NEVER_ITEM in value:
                    raise EngineError(f"valeur réservée {NEVER_ITEM!r} dans « {field} »")
                value = [scale.encode(item) for item in value]
            else:
                value = scale.encode(value)
            encoded[field] = value
        return encoded

    def _message(self, i: int, fact: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
        message: dict[str, Any] = {"sid": SESSION, "id": i, self.names[MARKER_FIELD]: "d"}
        for field, value in fact.items():
            if field in fields:
                message[self.names[field]] = value
        return message


def _single_field(expr: dict) -> str | None:
    """The one property an expression tests, if it tests only one (outside lists)."""
    fields = set(_fields(expr))
    if len(fields) != 1 or any(op in ("$iany", "$iall") for op in expr):
        return None
    return next(iter(fields))


def _pack(rules: Sequence[EngineRule]) -> list[list[EngineRule]]:
    """Split rules into rulesets whose worst-case matches for one fact stay under the budget."""
    chunks: list[list[EngineRule]] = []
    current: list[EngineRule] = []
    used = 0
    fields: set[str] = set()
    for rule in rules:
        paths = match_paths(rule.expression)
        if paths > MATCH_BUDGET:
            raise CompileError(
                f"règle « {rule.name} » : condition trop ramifiée (une demande pourrait la satisfaire de {paths} "
                f"façons, le moteur n'en compte que {MATCH_BUDGET}) : regroupez les alternatives en listes"
            )
        own = set(_fields(rule.expression or {}))
        if len(own) > FIELDS_PER_RULESET:
            raise CompileError(
                f"règle « {rule.name} » : condition sur {len(own)} champs ou attributs différents, le moteur n'en "
                f"lit que {FIELDS_PER_RULESET} dans une même règle : scindez-la"
            )
        if current and (used + paths > MATCH_BUDGET or len(current) >= RULES_PER_RULESET
                        or len(fields | own) > FIELDS_PER_RULESET):
            chunks.append(current)
            current, used, fields = [], 0, set()
        current.append(rule)
        used += paths
        fields |= own
    if current:
        chunks.append(current)
    return chunks


def _rule_names(n: int) -> list[str]:
    taken = {engine_hash(name) for name in RESERVED_NAMES}
    names = []
    i = 0
    while len(names) < n:
        candidate = f"r{i}"
        i += 1
        if engine_hash(candidate) not in taken:
            taken.add(engine_hash(candidate))
            names.append(candidate)
    return names


def _register(definition: dict[str, dict]) -> str:
    content = json.dumps(definition, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(content.encode()).hexdigest()[:24]
    with _LOCK:
        name = _REGISTERED.get(digest)
        if name is None:
            name = f"aiguillage_{digest}"
            fresh = json.loads(content)  # the host deletes each rule's `run` as it reads it
            for rule_name, rule in fresh.items():
                rule["run"] = f"{name}/{rule_name}"
            try:
                _host().set_rulesets({name: fresh})
            except Exception as exc:  # error codes without location: say which rules
                raise CompileError(f"le moteur refuse un jeu de règles ({exc})") from None
            _REGISTERED[digest] = name
    return name


def _run_batch(host: _Host, ruleset: str, batch: list[dict], local_names: dict[str, str], result: list[set[str]]) -> None:
    hits = {engine_name: host.hits.setdefault(f"{ruleset}/{engine_name}", []) for engine_name in local_names}
    for matched in hits.values():
        matched.clear()
    try:
        host.assert_facts(ruleset, batch)
    except MessageNotHandledException:
        raise EngineError("le moteur n'a pas traité un fait (la règle attrape-tout manque ?)") from None
    except MessageObservedException:
        raise EngineError("le moteur a déjà vu ce fait (identifiants de faits en double)") from None
    except Exception as exc:
        raise EngineError(f"le moteur a échoué : {exc}") from None
    finally:
        try:
            host.retract_facts(ruleset, batch)
        except Exception:  # a failed assert may leave nothing to retract
            pass
    swallowed = host.get_state(ruleset, SESSION).get("exception")
    if host.failures or swallowed:
        failures = "; ".join(host.failures + ([str(swallowed).split(", traceback")[0]] if swallowed else []))
        host.failures.clear()
        if swallowed:
            host.update_state(ruleset, {"sid": SESSION, "exception": None})
        raise EngineError(f"une action du moteur a échoué : {failures}")
    seen_by_catch_all = set(hits[_catch_all_name(local_names)])
    if len(seen_by_catch_all) != len(batch):
        raise EngineError(f"le moteur n'a vu que {len(seen_by_catch_all)} faits sur {len(batch)}")
    for engine_name, matched in hits.items():
        our_name = local_names[engine_name]
        if our_name == CATCH_ALL:
            continue
        for fact_id in matched:
            result[fact_id].add(our_name)


def _catch_all_name(local_names: dict[str, str]) -> str:
    return next(k for k, v in local_names.items() if v == CATCH_ALL)
