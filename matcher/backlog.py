"""Backlog files in and decision files out: CSV as French offices write it, Excel, Parquet.

Everything is read as text (an INSEE code keeps its leading zero) into an Arrow table, which
keeps a million rows compact; the decisions are appended as columns and the whole is written
atomically (a temporary file renamed over the target), so an interrupted run never leaves a
half-written file in place of the old one.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import arrow
from .errors import BatchInputError, Location
from .files import atomic_output, input_problem, os_problem
from .text import LIST_SEPARATOR, fold

FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "excel", ".xlsm": "excel", ".parquet": "parquet",
           ".pq": "parquet"}
SEPARATORS = (";", ",", "\t")
MAX_BACKLOG_BYTES = 4 * 1024**3
# A cell longer than a spreadsheet's cell (Excel keeps 32,767 characters) is a mistake or an attack:
# its row gets the error, the other rows are decided.
MAX_CELL_CHARS = 32_767
# OWASP: a cell starting with one of these is run as a formula by spreadsheets.
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_FORMULA_BYTES = np.frombuffer(b"=+-@\t\r", dtype=np.uint8)
_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")


@dataclass
class Backlog:
    """A backlog as read: every column as text, and how the file was written."""

    table: pa.Table
    path: str
    format: str
    encoding: str | None = None
    separator: str | None = None
    bad_rows: dict[int, str] | None = None  # row index -> why the line could not be split into columns
    first_line: int = 2  # the line number of the first row, as a spreadsheet shows it
    # Each row's line, where empty rows were left out (None: the rows follow each other from first_line).
    lines: np.ndarray | None = None
    notes: tuple[str, ...] = ()  # how the file was read, where it was not as expected (a title row, a sheet)

    def line(self, row: int) -> int:
        return int(self.lines[row]) if self.lines is not None else row + self.first_line

    def line_numbers(self) -> np.ndarray:
        """The line of every row, as a spreadsheet shows it."""
        return self.lines if self.lines is not None else np.arange(self.table.num_rows) + self.first_line

    def empty_lines(self) -> list[int]:
        """The empty rows left out between the first row and the last (those below it are a sheet's
        formatted empty rows, not worth a word)."""
        if self.lines is None or not len(self.lines):
            return []
        return sorted(set(range(self.first_line, int(self.lines[-1]))) - set(self.lines.tolist()))


def format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BatchInputError(
            f"format inconnu « {path.suffix or path.name} » : .csv, .xlsx ou .parquet attendu", Location(str(path))
        )
    return fmt


def normalize_header(name: str) -> str:
    """Header cells as offices write them: « Thématiques », « Date de dépôt » → thematiques, date_de_depot."""
    return re.sub(r"[^a-z0-9]+", "_", fold(str(name).strip())).strip("_")


def detect_encoding(raw: bytes) -> str:
    """UTF-8 (with or without its BOM) when the bytes are valid UTF-8, else Windows-1252."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    try:  # chunk by chunk: a backlog of a million rows is not copied into a string to be checked
        for start in range(0, len(raw), 1 << 20):
            decoder.decode(view[start : start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def detect_separator(header: str) -> str:
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ";"


# Whether a row of cells is a backlog's header (`batch.has_required_columns`): a title, a blank line or
# Excel's « sep=; » above it are passed over, and a workbook's demandes found on whichever sheet.
HeaderTest = Callable[[list[str]], bool]
HEADER_SEARCH = 10  # the lines, or rows of a sheet, where the header is looked for


def read_backlog(path: Path, encoding: str | None = None, separator: str | None = None,
                 is_header: HeaderTest | None = None) -> Backlog:
    """Read a backlog; an unreadable file stops here with a clear message. With `is_header`, the header is
    the first of the first lines (of the first sheet) that passes it, else the first line as always."""
    path = Path(path)
    problem = input_problem(path)
    if problem:
        raise BatchInputError(problem, Location(str(path)))
    fmt = format_of(path)
    if path.stat().st_size > MAX_BACKLOG_BYTES:
        raise BatchInputError("fichier trop volumineux (4 Go au plus)", Location(str(path)))
    try:
        if fmt == "csv":
            backlog = _read_csv(path, encoding, separator, is_header)
        elif fmt == "excel":
            backlog = _read_excel(path, is_header)
        else:
            backlog = _read_parquet(path)
        return _with_long_cells(_without_empty_rows(backlog))
    except BatchInputError:
        raise
    except OSError as exc:
        raise BatchInputError(f"fichier {os_problem(exc)}", Location(str(path))) from None
    except (ValueError, pa.ArrowException, KeyError, IndexError):
        raise BatchInputError(_UNREADABLE[fmt], Location(str(path))) from None
    except Exception as exc:  # openpyxl raises its own zip/xml errors on a file that is not a workbook
        if type(exc).__module__.startswith(("zipfile", "openpyxl", "xml")):
            raise BatchInputError(_UNREADABLE[fmt], Location(str(path))) from None
        raise


# What the readers' own (English) messages mean for the user.
_UNREADABLE = {
    "csv": "CSV illisible",
    "excel": "ce n'est pas un classeur Excel lisible (.xlsx) : enregistrez-le au format .xlsx, ou en CSV",
    "parquet": "ce n'est pas un fichier Parquet lisible (fichier abîmé, ou d'un autre format sous ce nom)",
}


def _read_csv(path: Path, encoding: str | None, separator: str | None, is_header: HeaderTest | None) -> Backlog:
    raw = path.read_bytes()
    if b"\x00" in raw[:65536] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BatchInputError("fichier binaire : ce n'est pas un CSV", Location(str(path)))
    encoding = encoding or detect_encoding(raw)
    try:
        codecs.lookup(encoding)
        transcoded = encoding.startswith("utf-16")  # the CSV reader reads 8-bit encodings only
        if transcoded:
            raw, encoding = raw.decode(encoding).encode("utf-8"), "utf-8"
        # Excel for Mac ends lines with CR alone: a line ends at a line break of any kind.
        ends = [at for at in (raw.find(b"\n"), raw.find(b"\r")) if at >= 0]
        raw[: min(ends) if ends else len(raw)].decode(encoding)  # the first line, at least, reads
    except (UnicodeDecodeError, LookupError) as exc:
        raise BatchInputError(f"encodage {encoding} impossible : {_decode_problem(exc)}", Location(str(path))
                              ) from None
    if not raw.strip():
        raise BatchInputError("fichier vide : une ligne d'en-tête avec les noms de colonnes est attendue",
                              Location(str(path), 1, 1))
    head = raw[: 1 << 20].decode(encoding, "replace").lstrip("\ufeff")
    first_lines = re.split(r"\r\n|\r|\n", head)[:HEADER_SEARCH]
    skip, notes = 0, []
    declared = re.fullmatch(r"sep=(.)", first_lines[0].strip(), re.IGNORECASE)
    if declared:  # Excel's own first line, saying which separator the file uses
        separator, skip = separator or declared.group(1), 1
    header_at = _header_index(first_lines, skip, separator, is_header) if is_header else skip
    if header_at > skip:
        notes.append(_below_a_title(header_at + 1))
    skip = header_at
    header_line = first_lines[skip] if skip < len(first_lines) else ""
    if not header_line.strip():
        raise BatchInputError("première ligne vide : une ligne d'en-tête avec les noms de colonnes est attendue",
                              Location(str(path), skip + 1, 1))
    separator = separator or detect_separator(header_line)
    header = next(csv.reader([header_line], delimiter=separator))
    names = _unique_names(header, path, skip + 1)
    source = _arrow_owned(raw) if transcoded else pa.memory_map(str(path)).read_buffer()

    def read(block_size: int) -> pa.Table:
        return pacsv.read_csv(
            pa.BufferReader(source),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip + 1, use_threads=True,
                                           block_size=block_size,
                                           encoding="utf8" if encoding.startswith("utf-8") else encoding),
            # An empty line is read as a row of empty cells, left out afterwards (`_without_empty_rows`) with
            # the lines kept: skipped here, it would move the line of every row below it.
            # A line without as many cells as the header stops it (no Python handler: see `_arrow_owned`).
            parse_options=pacsv.ParseOptions(delimiter=separator, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )

    try:
        try:
            table = read(1 << 20)
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise
            # A line longer than a block (a very long cell): read in one block; the cell becomes its row's error.
            table = read(min(max(len(raw) + 1, 1 << 20), (1 << 31) - 1))
    except pa.ArrowInvalid as exc:
        if "CSV parse error" not in str(exc):
            _check_decodable(raw, encoding, path)
            raise BatchInputError(f"CSV illisible en {encoding}", Location(str(path))) from None
        table = None  # the reader could not place every cell: read again line by line
    if table is not None:
        return Backlog(table, str(path), "csv", encoding, separator, first_line=skip + 2, notes=tuple(notes))
    # Some lines do not have as many cells as the header: read again line by line to keep each
    # one in its place, with what it has, and say which.
    _check_decodable(raw, encoding, path)
    slowly = _read_csv_slowly(raw.decode(encoding).lstrip("\ufeff"), names, path, encoding, separator, skip + 1)
    return replace(slowly, first_line=skip + 2, notes=tuple(notes))


def _arrow_owned(raw: bytes) -> pa.Buffer:
    """A copy of `raw` that Arrow owns. Arrow's threaded CSV reader lets go of what it was given on a
    thread of its own, at times after `read_csv` has returned: a Python object there (bytes, a BytesIO,
    an invalid-row handler) takes the GIL to be released, and a thread taking the GIL while the
    interpreter exits aborts the process — a command that stopped on a bad header just after reading
    ended with a C++ « terminate called », exit 134. An Arrow buffer is released without the GIL. The
    file's own bytes are read from the file mapped in memory, an Arrow buffer too, with no copy (a
    copy of a hundred megabytes into fresh memory took up to half a second); this copy is for the
    bytes made here (UTF-16 read again as UTF-8)."""
    buffer = pa.allocate_buffer(len(raw))
    np.frombuffer(buffer, dtype=np.uint8)[:] = np.frombuffer(raw, dtype=np.uint8)
    return buffer


def _header_index(lines: list[str], start: int, separator: str | None, is_header: HeaderTest) -> int:
    """The first of `lines` from `start` on that is a header, else `start`."""
    for i in range(start, len(lines)):
        cells = next(csv.reader([lines[i]], delimiter=separator or detect_separator(lines[i])), [])
        if lines[i].strip() and is_header(cells):
            return i
    return start


def _check_decodable(raw: bytes, encoding: str, path: Path) -> None:
    """Say where the first byte that the encoding cannot read is (line and column)."""
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        hint = " : le fichier semble en Windows-1252 (--encoding cp1252)" if encoding.startswith("utf") else ""
        raise BatchInputError(f"octet 0x{raw[exc.start]:02x} illisible en {encoding}{hint}",
                              Location(str(path), line, column)) from None


def _with_long_cells(backlog: Backlog) -> Backlog:
    """Mark the rows that hold a cell longer than MAX_CELL_CHARS (the first such cell of each row)."""
    bad_rows = dict(backlog.bad_rows or {})
    for name, column in zip(backlog.table.column_names, backlog.table.columns):
        if all(_byte_lengths(chunk).max(initial=0) <= MAX_CELL_CHARS for chunk in column.chunks):
            continue  # no cell has more bytes, hence more characters, than the limit
        lengths = pc.utf8_length(column)
        for row, length in enumerate(lengths.to_pylist()):
            if length > MAX_CELL_CHARS and row not in bad_rows:
                bad_rows[row] = (f"colonne {name} : cellule de {_thousands(length)} caractères, "
                                 f"{_thousands(MAX_CELL_CHARS)} au plus (la taille d'une cellule de tableur)")
    if bad_rows == (backlog.bad_rows or {}):
        return backlog
    backlog.bad_rows = bad_rows
    return backlog


def _without_empty_rows(backlog: Backlog) -> Backlog:
    """Leave out the rows whose every cell is empty (an empty line, « ;;; », a sheet's formatted empty
    rows): they hold no demande. The other rows keep the line a spreadsheet shows them at."""
    table = backlog.table
    filled = np.zeros(table.num_rows, dtype=bool)
    for column in table.columns:
        filled |= np.concatenate([_byte_lengths(chunk) for chunk in column.chunks] or [np.zeros(0, np.int64)]) > 0
        if filled.all():
            return backlog  # the usual file: its first column is filled on every row
    keep = np.flatnonzero(filled)
    moved = np.full(table.num_rows, -1, dtype=np.int64)
    moved[keep] = np.arange(len(keep))
    bad_rows = {int(moved[row]): why for row, why in (backlog.bad_rows or {}).items() if moved[row] >= 0}
    return replace(backlog, table=table.take(pa.array(keep)), bad_rows=bad_rows or None,
                   lines=backlog.line_numbers()[keep])


def _offsets(array: pa.Array) -> np.ndarray:
    """Where each text of a string array starts in its data, and where the last ends (Arrow's own
    buffer, read in place): a million cells measured without one call per cell."""
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    return np.frombuffer(array.buffers()[1], dtype=width, count=len(array) + 1, offset=array.offset * np.dtype(width).itemsize)


def _byte_lengths(array: pa.Array) -> np.ndarray:
    """The length in bytes of each text of a string array (0 for a null)."""
    return np.diff(_offsets(array)) if len(array) else np.zeros(0, dtype=np.int64)


def _first_bytes(array: pa.Array) -> np.ndarray:
    """The first byte of each text of a string array (0 for an empty text or a null)."""
    if not len(array):
        return np.zeros(0, dtype=np.uint8)
    starts = _offsets(array)
    data = array.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None and data.size else np.zeros(1, dtype=np.uint8)
    return np.where(np.diff(starts) > 0, raw[np.minimum(starts[:-1], len(raw) - 1)], 0).astype(np.uint8)


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _decode_problem(exc: UnicodeDecodeError | LookupError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"octet 0x{exc.object[exc.start]:02x} invalide à la position {exc.start}"
    return "encodage inconnu"


def _read_csv_slowly(text: str, names: list[str], path: Path, encoding: str, separator: str,
                     header_rows: int) -> Backlog:
    columns: list[list[str]] = [[] for _ in names]
    bad_rows: dict[int, str] = {}
    csv.field_size_limit(1 << 30)  # a long cell is its row's error (check_cells), not the file's
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)  # CR, LF or CRLF; CR kept in quotes
    for _ in range(header_rows):
        next(reader)
    for i, cells in enumerate(reader):
        if len(cells) != len(names):
            if not any(c.strip() for c in cells):
                bad_rows[i] = "ligne vide"
            else:
                bad_rows[i] = f"{len(cells)} cellule{'s' if len(cells) > 1 else ''} au lieu de {len(names)}"
            cells = (cells + [""] * len(names))[: len(names)]
        for column, cell in zip(columns, cells):
            column.append(cell)
    table = pa.table({n: arrow.texts(c) for n, c in zip(names, columns)})
    return Backlog(table, str(path), "csv", encoding, separator, bad_rows)


def _unique_names(header: list[str], path: Path, line: int = 1) -> list[str]:
    names: list[str] = []
    for i, name in enumerate(header):
        name = name.strip() or f"colonne_{i + 1}"
        if name in names:
            raise BatchInputError(f"colonne « {name} » en double dans l'en-tête", Location(str(path), line, i + 1))
        names.append(name)
    return names


def _cell_text(value: object) -> str:
    """A typed cell (Excel, Parquet) as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""  # pandas writes a missing number as NaN
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):  # a Parquet list column: the words of a multi-valued cell
        return LIST_SEPARATOR.join(text for text in map(_cell_text, value) if text)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)  # the day and hour where it was recorded
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 and getattr(value, "minute", 0) == 0 else value.isoformat()
    return str(value)


def excel_library():
    """openpyxl, with lxml imported first: openpyxl reads and writes through lxml when it is
    installed, several times faster than through the standard library's XML (the comité régional's
    workbook of 5,000 demandes: 7.1 s → 4.8 s); a missing install fails here, plainly."""
    import lxml  # noqa: F401
    import openpyxl

    return openpyxl


def _below_a_title(line: int) -> str:
    return f"en-tête lu à la ligne {line} : les lignes au-dessus (un titre ?) sont laissées de côté"


def _header_row(book: Any, is_header: HeaderTest | None, path: Path) -> tuple[Any, int, list[str]]:
    """The sheet and row of a workbook's header: the first of the first rows of a sheet that passes
    `is_header`, sheet by sheet; else the first row of the first sheet that has one. And how it was found."""
    filled = []
    for sheet in book.worksheets:
        first_rows = itertools.islice(sheet.iter_rows(values_only=True), HEADER_SEARCH)
        head = [[_cell_text(v) for v in row] for row in first_rows]
        at = next((i for i, row in enumerate(head) if any(row)), None)
        if at is None:
            continue
        filled.append(sheet)
        found = next((i for i in range(at, len(head)) if is_header is not None and is_header(head[i])), None)
        if found is not None:
            notes = [] if sheet is book.worksheets[0] else [f"demandes lues sur la feuille « {sheet.title} » (les "
                                                            "feuilles avant elle n'ont pas leurs colonnes)"]
            if found > 0:
                notes.append(_below_a_title(found + 1))
            return sheet, found, notes
    if not filled:
        raise BatchInputError("classeur vide : aucune feuille ne contient de cellule remplie", Location(str(path)))
    return filled[0], 0, [] if filled[0] is book.worksheets[0] else [f"feuille « {filled[0].title} » lue (les "
                                                                        "feuilles avant elle sont vides)"]


def _read_excel(path: Path, is_header: HeaderTest | None) -> Backlog:
    openpyxl = excel_library()

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    sheet, skip, notes = _header_row(book, is_header, path)
    rows = sheet.iter_rows(values_only=True)
    header = next(itertools.islice(rows, skip, None))
    names = _unique_names([_cell_text(h) for h in header], path, skip + 1)
    columns: list[list[str]] = [[] for _ in names]
    lines: list[int] = []
    for line, row in enumerate(rows, start=skip + 2):
        cells = [_cell_text(v) for v in row][: len(names)]
        if not any(cells):
            continue  # no demande; Excel keeps formatted empty rows at the end of a sheet (a million, maybe)
        lines.append(line)
        cells += [""] * (len(names) - len(cells))
        for column, cell in zip(columns, cells):
            column.append(cell)
    book.close()
    return Backlog(pa.table({n: arrow.texts(c) for n, c in zip(names, columns)}), str(path), "excel",
                   first_line=skip + 2, lines=np.array(lines, dtype=np.int64), notes=tuple(notes))


def _read_parquet(path: Path) -> Backlog:
    import pyarrow.parquet as pq

    _unique_names(pq.read_schema(path).names, path)  # Arrow's reader would only say it cannot read the file
    table = pq.read_table(path)
    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            columns[name] = pc.fill_null(column.cast(pa.string()), arrow.text(""))
        else:
            columns[name] = arrow.texts([_cell_text(v) for v in column.to_pylist()])
    return Backlog(pa.table(columns), str(path), "parquet", first_line=1)


# --------------------------------------------------------------------------- writing


def neutralize_formulas(column: pa.ChunkedArray | pa.Array) -> pa.Array | pa.ChunkedArray:
    """Prefix with ' the text cells a spreadsheet would run as a formula (OWASP CSV injection)."""
    if isinstance(column, pa.ChunkedArray):
        return pa.chunked_array([neutralize_formulas(chunk) for chunk in column.chunks], column.type)
    if pa.types.is_dictionary(column.type):  # few distinct texts: mend them, not every row
        return pa.DictionaryArray.from_arrays(column.indices, neutralize_formulas(column.dictionary))
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    if not np.isin(_first_bytes(column), _FORMULA_BYTES).any():  # a look at each cell's first byte suffices
        return column
    risky = pc.and_(pc.match_substring_regex(column, _FORMULA.pattern),
                    pc.invert(pc.match_substring_regex(column, _NUMBER.pattern)))
    if not pc.any(risky).as_py():
        return column
    return pc.if_else(risky, pc.binary_join_element_wise(arrow.text("'"), column, arrow.text("")), column)


def explanations_path(path: Path) -> Path:
    """Where a CSV or Parquet decisions file's explanations go: beside it, `NAME.explications.EXT`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.explications{path.suffix}")


def write_decisions(table: pa.Table, path: Path, separator: str = ";", encoding: str = "utf-8-sig",
                    explanations: pa.Table | None = None) -> None:
    """Write the decisions by the output's extension, atomically; the explanations that the rows'
    `explication` column refers to go to a sheet `explications` of a workbook, else to a file beside,
    written in the same breath (both written under temporary names, then both renamed)."""
    path = Path(path)
    fmt = format_of(path)
    if explanations is None or fmt == "excel":
        _write(table, path, fmt, separator, encoding, explanations)
        return
    with atomic_output(path) as tmp:  # the decisions' folder is the one checked first, and said
        _write(table, tmp, fmt, separator, encoding, None)
        _write(explanations, explanations_path(path), fmt, separator, encoding, None)


def _write(table: pa.Table, path: Path, fmt: str, separator: str, encoding: str, explanations: pa.Table | None) -> None:
    if fmt != "parquet":
        table = pa.table({n: neutralize_formulas(c) for n, c in zip(table.column_names, table.columns)})
    with atomic_output(path) as tmp:
        if fmt == "csv":
            _write_csv(table, tmp, separator, encoding)
        elif fmt == "excel":
            _write_excel(table, tmp, explanations)
        else:
            _write_parquet(table, tmp)


def _write_parquet(table: pa.Table, path: Path) -> None:
    """By row groups of 100,000 rows. A column of many distinct texts (the explanations) is
    written as plain text, one row group at a time: Parquet would otherwise expand its whole
    dictionary at once."""
    import pyarrow.parquet as pq

    large = {n for n, c in zip(table.column_names, table.columns)
             if pa.types.is_dictionary(c.type) and sum(chunk.dictionary.nbytes for chunk in c.chunks) > 1 << 20}
    schema = pa.schema([pa.field(f.name, pa.string()) if f.name in large else f for f in table.schema])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, max(table.num_rows, 1), 100_000):
            part = table.slice(start, 100_000)
            writer.write_table(pa.table({n: c.cast(pa.string()) if n in large else c
                                         for n, c in zip(part.column_names, part.columns)}, schema=schema))


def _write_csv(table: pa.Table, path: Path, separator: str, encoding: str) -> None:
    if encoding.lower().replace("_", "-") in ("utf-8", "utf-8-sig", "utf8"):
        with open(path, "wb") as out:
            if encoding.lower().endswith("sig"):
                out.write("\ufeff".encode("utf-8"))  # Excel reads accents right only with the BOM
            pacsv.write_csv(table, out, write_options=pacsv.WriteOptions(delimiter=separator, quoting_style="needed"))
        return
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(delimiter=separator, quoting_style="needed"))
    with open(path, "w", encoding=encoding, errors="replace", newline="") as out:
        out.write(buffer.getvalue().decode("utf-8"))


def _write_excel(table: pa.Table, path: Path, explanations: pa.Table | None = None) -> None:
    openpyxl = excel_library()

    if table.num_rows > 1_048_575:
        raise BatchInputError("Excel ne tient que 1 048 576 lignes : écrivez un .csv ou un .parquet", Location(str(path)))
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = openpyxl.Workbook(write_only=True)
    for name, content in (("decisions", table), ("explications", explanations)):
        if content is None:
            continue
        if name == "explications":
            content = pa.table({n: neutralize_formulas(c) for n, c in zip(content.column_names, content.columns)})
        sheet = book.create_sheet(name)
        columns = [c.to_pylist() for c in content.columns]
        # As an office keeps a spreadsheet: the header bold and frozen, filters on it, columns as wide as
        # their first rows need (within reason).
        sheet.freeze_panes = "A2"
        for i, (column_name, values) in enumerate(zip(content.column_names, columns), start=1):
            longest = max([len(column_name)] + [len(str(v)) for v in values[:200] if v is not None])
            sheet.column_dimensions[get_column_letter(i)].width = min(max(longest + 2, 8), 60)
        if content.column_names:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(content.column_names))}{content.num_rows + 1}"
        bold = Font(bold=True)
        header = []
        for column_name in content.column_names:
            cell = WriteOnlyCell(sheet, value=column_name)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in zip(*columns):
            sheet.append(list(row))
    book.save(path)
