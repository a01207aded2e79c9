"""Reading YAML: positions of every key, and files that are not what they claim stopped quickly."""

from __future__ import annotations

import time
import textwrap

import pytest

from matcher.errors import YamlSourceError
from matcher.yamlsource import MAX_BYTES, load, parse


def test_every_key_and_value_has_its_position():
    doc = parse(textwrap.dedent("""\
        offres:
          - id: caue-64
            conditions:
              population: {max: 20000}
    """), "cat.yaml")
    assert doc.data == {"offres": [{"id": "caue-64", "conditions": {"population": {"max": 20000}}}]}
    assert str(doc.where_key(("offres", 0, "conditions", "population"))) == "cat.yaml:4:7"
    assert str(doc.where(("offres", 0, "conditions", "population", "max"))) == "cat.yaml:4:25"
    assert str(doc.where(("offres", 0, "absent"))) == "cat.yaml:2:5"  # falls back to the closest parent


def test_dates_and_numbers_are_typed():
    doc = parse("validite: {debut: 2024-01-01}\ncapacite: 30\nrepli: true\n", "f.yaml")
    assert doc.data["validite"]["debut"].isoformat() == "2024-01-01"
    assert doc.data["capacite"] == 30 and doc.data["repli"] is True


def test_a_number_yaml_reads_in_octal_is_shown_as_written():
    import pickle

    code = parse("commune: 01053\n", "f.yaml").data["commune"]
    assert code == 0o1053 and f"« {code} »" == "« 01053 »" and str(code).zfill(2) == "01053"
    assert type(pickle.loads(pickle.dumps(code))) is int  # the cache keeps the plain number


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: 1\na: 2\n", "f.yaml:2:1: clé « a » en double (déjà définie en 1:1)"),
        ("a: &x [1]\nb: *x\n", "f.yaml:1:4: les ancres YAML (« &nom ») ne sont pas acceptées"),
        ("a: [1, 2\n", "f.yaml:2:1: « , » ou « ] » attendu"),
        ("x: !!python/object/apply:os.system ['ls']\n",
         "f.yaml:1:4: étiquette YAML non autorisée : tag:yaml.org,2002:python/object/apply:os.system"),
        ("a: 1\n---\nb: 2\n", "f.yaml:2:1: plusieurs documents YAML (« --- ») dans un fichier : un seul est attendu"),
        ("[" * 100 + "]" * 100, "f.yaml:1:41: imbrication trop profonde (plus de 40 niveaux)"),
    ],
)
def test_malformed_yaml_is_located(text, message):
    with pytest.raises(YamlSourceError) as err:
        parse(text, "f.yaml")
    assert str(err.value) == message


def test_alias_bomb_is_refused_at_once():
    bomb = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    start = time.perf_counter()
    with pytest.raises(YamlSourceError, match="ancres YAML"):
        parse(bomb, "bomb.yaml")
    assert time.perf_counter() - start < 1


def test_binary_file(tmp_path):
    path = tmp_path / "image.yaml"
    path.write_bytes(b"offres:\n  - id: x\x00\x01\x02")
    with pytest.raises(YamlSourceError) as err:
        load(path, "image.yaml")
    assert str(err.value) == "image.yaml:2:10: fichier binaire (octet nul) : ce n'est pas un fichier texte YAML"


def test_windows_1252_file_is_named_as_such(tmp_path):
    path = tmp_path / "cat.yaml"
    path.write_bytes("offres:\n  - nom: Agence départementale\n".encode("cp1252"))
    with pytest.raises(YamlSourceError) as err:
        load(path, "cat.yaml")
    assert str(err.value) == (
        "cat.yaml:2:18: octet 0xe9 invalide en UTF-8 ; il semble encodé en Windows-1252 (Latin-1) : "
        "enregistrez-le en UTF-8"
    )


def test_huge_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:  # sparse: the test does not write hundreds of megabytes
        handle.truncate(300 * 1024 * 1024)
    start = time.perf_counter()
    with pytest.raises(YamlSourceError, match=r"fichier trop volumineux \(300 Mo ; au plus 8 Mo\)"):
        load(path, "huge.yaml")
    assert time.perf_counter() - start < 1
    assert MAX_BYTES == 8 * 1024 * 1024


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffoffres: []\n".encode("utf-8"))
    assert load(path).data == {"offres": []}
