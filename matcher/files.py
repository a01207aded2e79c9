"""Which files make a catalogue or a rules folder, how they are named in messages, and their hash.

Kept apart from the YAML reader so that a command whose catalogue is cached can tell whether it
changed without importing the loaders.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import Location, OutputError

_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)


def yaml_files(root: Path) -> list[Path]:
    """The `*.yaml` / `*.yml` files under `root`, in a stable order; hidden folders are skipped."""
    if root.is_file():
        return [root]
    found = [
        p
        for p in root.rglob("*")
        if p.suffix in (".yaml", ".yml") and p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def sections_of(path: Path) -> set[str]:
    """The top-level keys a YAML file seems to have (read leniently: the file may be broken)."""
    if input_problem(path):  # a pipe would wait for a writer: whoever reads the file says what is wrong
        return set()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:1_000_000]
    except OSError:
        return set()
    return set(_TOP_KEY.findall(text))


def files_with_section(root: Path, section: str) -> list[Path]:
    """The YAML files under `root` (or `root` itself) that hold a top-level `section:`."""
    root = Path(root)
    return [f for f in yaml_files(root) if section in sections_of(f)] if root.exists() else []


def display_path(path: Path) -> str:
    """How a file is named in messages: relative to the working folder when it is below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return relative if not relative.startswith("..") else str(path)


def fingerprint(root: Path, files: list[Path]) -> str:
    """The version of a folder of files: sha256 of their relative paths and contents."""
    digest = hashlib.sha256()
    for path in files:  # a file given beside the folder counts by its name
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


# What the system says of a file, in the user's words (the system's own are English: « No such file… »).
_OS_PROBLEMS = {
    errno.ENOENT: "introuvable",
    errno.EACCES: "accès refusé (droits du fichier ou du dossier)",
    errno.EPERM: "opération non permise",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ENOSPC: "plus de place sur le disque",
    errno.EDQUOT: "quota de disque dépassé",
    errno.ENAMETOOLONG: "nom de fichier trop long",
    errno.ELOOP: "trop de liens symboliques",
    errno.EMFILE: "trop de fichiers ouverts",
    errno.EBUSY: "fichier occupé",
    errno.EEXIST: "existe déjà",
    errno.EIO: "erreur d'entrée-sortie du disque",
    errno.EXDEV: "déplacement impossible d'un disque à l'autre",
}


def os_problem(exc: OSError) -> str:
    """An operating-system error in French, e.g. "introuvable" for ENOENT."""
    known = _OS_PROBLEMS.get(exc.errno or 0)
    if known:
        return known
    name = errno.errorcode.get(exc.errno or 0)
    return f"erreur du système ({name})" if name else "erreur du système"


def input_problem(path: Path) -> str | None:
    """Why `path` cannot be read as an input file (None: it can). A named pipe or a device is refused
    before it is opened: reading one would wait for a writer, or never end."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"fichier {os_problem(exc)}"
    if stat.S_ISDIR(mode):
        return "c'est un dossier : un fichier est attendu"
    if not stat.S_ISREG(mode):
        return "ce n'est pas un fichier ordinaire (tube, périphérique…) : un fichier est attendu"
    if not os.access(path, os.R_OK):
        return "lecture non autorisée (droits du fichier)"
    return None


def output_folder(path: Path) -> Path:
    """The folder a result file is written into, once checked that it can be: the user's environment
    (a missing or read-only folder, a folder in place of the file) is said plainly, before any work."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    where = Location(str(path))
    if path.is_dir():
        raise OutputError("c'est un dossier : indiquez le nom du fichier à écrire", where, "sortie")
    if path.exists() and not path.is_file():
        raise OutputError("ce n'est pas un fichier ordinaire (tube, périphérique…)", where, "sortie")
    if not folder.is_dir():
        raise OutputError(f"dossier de sortie introuvable : {folder}", where, "sortie")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"écriture impossible dans le dossier {folder} (lecture seule ou accès refusé)", where,
                          "sortie")
    return folder


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` to write into; once written it replaces `path`, with the user's
    usual permissions (a temporary file is private). An interrupted run leaves the previous file in
    place; a folder that refuses the file, or a full disk, is said plainly (OutputError)."""
    path = Path(path)
    folder = output_folder(path)
    where = Location(str(path))
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"écriture impossible dans le dossier {folder} : {os_problem(exc)}", where, "sortie") from None
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"écriture impossible : {os_problem(exc)}", where, "sortie") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
