"""CSV → bounded chunks of raw text. Turns every way a file can be unreadable into InputError.

Cells stay text ('' when empty): the model side parses what it needs, and the writer decides
how each cell looks in the result, so nothing is lost or reinterpreted on the way.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from batchscore.errors import InputError

_SCAN_BLOCK = 1024 * 1024
_DELIMITERS = (",", ";", "\t", "|")
_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook (.xlsx) or a zip archive",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
}
_SAVE_AS_CSV = "Save it as CSV (in Excel: File → Save As → 'CSV UTF-8') and upload that file."
NO_ROWS = "The file has a header but no data rows."
_FIELDS_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_SAMPLE_ROWS = 200  # data rows read up front to learn the file's shape
_TRAILING = "\x00trailing"  # the name given to the empty field after the last column


@dataclass(frozen=True)
class CsvLayout:
    """What the processor needs to know before reading the rows."""

    encoding: str
    delimiter: str
    columns: tuple[str, ...]  #: header names, stripped; blanks named column_<position>
    line_count: int  #: physical lines after the header: the row count, unless values hold newlines
    #: every data row ends with one more, empty, field than the header names (a delimiter after
    #: the last value, as some exporters write): that field is dropped, and checked empty.
    trailing_delimiter: bool = False


def inspect_csv(path: Path) -> CsvLayout:
    """Check the whole file is CSV text and read its header; InputError saying what to fix."""
    with path.open("rb") as f:
        head = f.read(_SCAN_BLOCK)
    if not head.strip():
        raise InputError(
            "The file is empty. A CSV file needs a header line naming its columns, "
            "then one line per row."
        )
    encoding = _encoding(head)
    if encoding == "utf-8":
        _refuse_binary(head)
    line_count = _scan_text(path, encoding)
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    delimiter = _delimiter(text.splitlines()[0] if text.strip() else "")
    header, rows, header_lines = _sample(text, delimiter, complete=len(head) < _SCAN_BLOCK)
    names, trailing = _shape(header, rows)
    return CsvLayout(
        encoding,
        delimiter,
        _columns(names),
        max(0, line_count - header_lines),
        trailing_delimiter=trailing,
    )


def read_chunks(path: Path, layout: CsvLayout, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Yield the data rows `chunk_rows` at a time, every cell as text ('' when empty)."""
    names = [*layout.columns, *([_TRAILING] if layout.trailing_delimiter else [])]
    reader = pd.read_csv(
        path,
        sep=layout.delimiter,
        encoding=layout.encoding,
        header=0,
        names=names,
        index_col=False,  # never take a field as the index: every field is a column
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=True,
        chunksize=chunk_rows,
        engine="c",
    )
    try:
        with reader:
            for chunk in reader:
                chunk = chunk.fillna("")  # short rows: missing trailing fields are empty cells
                if layout.trailing_delimiter:
                    _check_trailing(chunk.pop(_TRAILING), len(layout.columns))
                yield chunk
    except pd.errors.ParserError as exc:
        raise InputError(_parser_message(str(exc))) from exc


def _encoding(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return "utf-8"


def _refuse_binary(head: bytes) -> None:
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            raise InputError(f"This file is {kind}, not CSV text. {_SAVE_AS_CSV}")
    if b"\x00" in head:
        raise InputError(f"This file contains binary data, not CSV text. {_SAVE_AS_CSV}")


def _scan_text(path: Path, encoding: str) -> int:
    """Decode the whole file once (constant memory) and count its lines.

    Failing here, before any row is scored, gives the exact line of a bad byte; failing
    half-way through the job would waste the work and give a worse message.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(_SCAN_BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line = lines + block.count(b"\n", 0, exc.start) + 1
                raise InputError(
                    f"Line {line} is not valid {encoding.upper()} text "
                    f"(byte 0x{block[exc.start]:02x}). Save the file as 'CSV UTF-8' and upload "
                    "it again."
                ) from exc
            lines += block.count(b"\n")
            last = block[-1:]
        if last != b"\n":
            lines += 1  # a last line without a newline is still a line
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise InputError(f"The file ends in the middle of a {encoding} character.") from exc
    return lines


_Row = tuple[int, list[str]]  # the line a row ends on, and its fields


def _sample(text: str, delimiter: str, *, complete: bool) -> tuple[list[str], list[_Row], int]:
    """The header's fields (a quoted name may span lines), up to _SAMPLE_ROWS data rows after
    it, and how many physical lines the header takes. The last row of a cut-off head may be
    cut too, so it is left out unless the head is the whole file."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    rows: list[_Row] = []
    header_lines = 1
    try:
        header = next(reader, [])
        header_lines = max(1, reader.line_num)
        for row in reader:
            if row:
                rows.append((reader.line_num, row))
            if len(rows) > _SAMPLE_ROWS:
                break
    except csv.Error:  # an unterminated quote: the parser says where, when the rows are read
        return header, [], header_lines
    if not complete and rows:
        rows.pop()
    return header, rows[:_SAMPLE_ROWS], header_lines


def _shape(header: list[str], rows: list[_Row]) -> tuple[list[str], bool]:
    """The column names, and whether rows end in an extra empty field, from the sample.

    When every row has one field more than the header names: an empty last field everywhere is
    a delimiter after the last value (dropped); distinct first fields are row names, as R's
    write.table writes them without a header of their own (the first column gets a name rather
    than becoming an index that shifts the rest). Any other longer row is an error naming it.
    """
    width = len(header)
    if all(len(fields) <= width for _, fields in rows):
        return header, False
    if all(len(fields) == width + 1 for _, fields in rows):
        if all(fields[-1].strip() == "" for _, fields in rows):
            return header, True
        if len({fields[0] for _, fields in rows}) == len(rows):
            return ["", *header], False
        rows = [(line, fields) for line, fields in rows if fields[-1].strip() != ""]
    line, fields = next((line, f) for line, f in rows if len(f) > width)
    raise InputError(_too_many(line, len(fields), width))


def _check_trailing(values: pd.Series, width: int) -> None:
    """The rows end in a delimiter: the field after it must be empty in every one."""
    filled = (values.astype(str).str.strip() != "").to_numpy()
    if filled.any():
        row = int(values.index[int(filled.argmax())]) + 1  # the index runs on across chunks
        raise InputError(
            f"Data row {row:,} has a value after the last column, where the other rows end "
            f"with an empty field: it has {width + 1} values but the header has {width} "
            "columns. A value that contains the delimiter must be quoted."
        )


def _too_many(line: int, seen: int, expected: int) -> str:
    return (
        f"Line {line} has {seen} values but the header has {expected} columns. "
        "A value that contains the delimiter must be quoted."
    )


def _delimiter(header: str) -> str:
    """The candidate that occurs most often in the header line; ',' for a one-column file."""
    counts = Counter({d: header.count(d) for d in _DELIMITERS})
    delimiter, count = counts.most_common(1)[0]
    return delimiter if count else ","


def _columns(header: list[str]) -> tuple[str, ...]:
    names = [name.strip() for name in header]
    names = [name or f"column_{i}" for i, name in enumerate(names, start=1)]
    duplicates = sorted(name for name, n in Counter(names).items() if n > 1)
    if duplicates:
        raise InputError(
            f"The header names column(s) {', '.join(duplicates)} more than once. "
            "Give every column a different name."
        )
    return tuple(names)


def _parser_message(text: str) -> str:
    match = _FIELDS_ERROR.search(text)
    if match:
        expected, line, seen = match.groups()
        return _too_many(int(line), int(seen), int(expected))
    return f"The file is not valid CSV: {text.strip()}"
