"""CSV (plain, gzip or zipped) or parquet → bounded chunks of text. Turns every way a file can
be unreadable into InputError.

Cells stay text ('' when empty): the model side parses what it needs, and the writer decides
how each cell looks in the result, so nothing is lost or reinterpreted on the way.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import charset_normalizer
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from batchscore.config import DECIMALS
from batchscore.errors import InputError
from batchscore.scheduler import sheets

_SCAN_BLOCK = 1024 * 1024
_DELIMITERS = (",", ";", "\t", "|")
_SIGNATURES = {
    b"PK\x03\x04": "an Excel or OpenDocument workbook (.xlsx, .ods)",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
}
_SAVE_AS_CSV = "Save it as CSV (in Excel: File → Save As → 'CSV UTF-8') and upload that file."
NO_ROWS = "The file has a header but no data rows."
_FIELDS_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_SAMPLE_ROWS = 200  # data rows read up front to learn the file's shape
_TRAILING = "\x00trailing"  # the name given to the empty field after the last column


@dataclass(frozen=True)
class TableLayout:
    """What the processor needs to know before reading the rows."""

    encoding: str  #: as found: a BOM, else UTF-8 if the text is valid UTF-8, else detected
    delimiter: str
    columns: tuple[str, ...]  #: header names, stripped; blanks named column_<position>
    line_count: int  #: physical lines after the header: the row count, unless values hold newlines
    #: every data row ends with one more, empty, field than the header names (a delimiter after
    #: the last value, as some exporters write): that field is dropped, and checked empty.
    trailing_delimiter: bool = False
    compression: str | None = None  #: "gzip", or "zip" (an archive of one CSV file)
    #: "," when the file writes numbers with a decimal comma ("5,1"), as Excel does in Spanish,
    #: German or French locales (which then separate fields with ";"); else "."
    decimal: str = "."
    repeated: tuple[str, ...] = ()  #: header names given to more than one column
    kind: str = "csv"  #: "parquet" (read a row group at a time) or "sheet" (of a workbook)
    sheet: str | None = None  #: the name of the sheet read, for a workbook

    def read_as(self) -> dict[str, str]:
        """How the file was read, as a job records it (see describe_read_as)."""
        if self.kind == "parquet":
            return {"kind": "parquet"}
        if self.kind == "sheet":
            return {"kind": "sheet", "sheet": self.sheet or "", "decimal": self.decimal}
        compression = {"compression": self.compression} if self.compression else {}
        return {
            "kind": "csv",
            **compression,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "decimal": self.decimal,
        }


_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "iso8859-1": "Latin-1",  # codecs' name for latin-1
    "iso8859-15": "Latin-9",
    "mac-roman": "Mac Roman",
}
#: The encodings the panel offers, by the names people know them by.
ENCODING_CHOICES = (
    ("utf-8", "UTF-8"),
    ("utf-16", "UTF-16"),
    ("cp1252", "Windows-1252 (Excel 'CSV' on Windows)"),
    ("latin-1", "Latin-1 (ISO 8859-1)"),
    ("iso8859-15", "Latin-9 (ISO 8859-15)"),
    ("mac-roman", "Mac Roman"),
    ("cp437", "DOS (code page 437)"),
    ("cp850", "DOS Western (code page 850)"),
)
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


def describe_read_as(read_as: dict[str, str]) -> str:
    """A job's read_as in words: 'CSV, Windows-1252, semicolon-separated, decimal comma'."""
    kind = read_as.get("kind", "csv")
    if kind == "parquet":
        return "parquet"
    decimal = "decimal comma" if read_as.get("decimal") == "," else "decimal point"
    if kind == "sheet":
        return f"workbook, sheet {read_as.get('sheet', '')!r}, {decimal}"
    encoding = read_as.get("encoding", "utf-8")
    delimiter = read_as.get("delimiter", ",")
    compressed = {"gzip": "gzip-compressed ", "zip": "zipped "}.get(read_as.get("compression", ""))
    return (
        f"{compressed or ''}CSV, {_ENCODING_NAMES.get(encoding, encoding)}, "
        f"{_DELIMITER_NAMES.get(delimiter, repr(delimiter))}-separated, {decimal}"
    )


def checked_encoding(name: str) -> str:
    """A text encoding's standard name (cp1252, utf-8, …), or InputError naming the choices."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InputError(
            f"Unknown encoding {name!r}: name one Python knows, such as utf-8, utf-16, cp1252 "
            "(Excel's 'CSV' on Windows) or latin-1."
        ) from None


def checked_decimal(mark: str) -> str:
    if mark not in DECIMALS:
        raise InputError(
            f"Unknown decimal mark {mark!r}: choose '.' (5.1) or ',' (5,1, as Excel writes "
            "numbers in Spanish, German or French)."
        )
    return mark


def inspect_table(
    path: Path,
    *,
    encoding: str | None = None,
    decimal: str | None = None,
    sheet: str | None = None,
) -> TableLayout:
    """Check the whole file is a table batchscore reads (CSV text, gzip- or zip-compressed too;
    parquet; a workbook's sheet, the first unless `sheet` names one) and read its header;
    InputError saying what to fix. `encoding` and `decimal` replace what would be detected in
    a CSV file (`decimal` in a workbook's text cells too)."""
    if _is_parquet(path):
        _refuse_sheet(sheet, "a parquet file")
        return _inspect_parquet(path)
    if sheets.is_workbook(path):
        found = sheets.inspect_sheet(path, sheet)
        columns, repeated = _columns(found.header)
        return TableLayout(
            "utf-8",
            ",",
            columns,
            found.rows,
            kind="sheet",
            repeated=repeated,
            decimal=decimal or ".",
            sheet=found.name,
        )
    _refuse_sheet(sheet, "a CSV file")
    compression = _compression(path)
    with _opened(path, compression) as f:
        head = f.read(_SCAN_BLOCK)
    if not head.strip():
        raise InputError(
            "The file is empty. A CSV file needs a header line naming its columns, "
            "then one line per row."
        )
    if not _encoding_marked(head):
        _refuse_binary(head)
    encoding = _chosen_encoding(head, encoding) if encoding else _encoding(head)
    line_count = _scan_text(path, compression, encoding)
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    delimiter = _delimiter(text.splitlines()[0] if text.strip() else "")
    header, rows, header_lines = _sample(text, delimiter, complete=len(head) < _SCAN_BLOCK)
    names, trailing = _shape(header, rows)
    columns, repeated = _columns(names)
    return TableLayout(
        encoding,
        delimiter,
        columns,
        max(0, line_count - header_lines),
        trailing_delimiter=trailing,
        compression=compression,
        decimal=decimal or _decimal(rows, delimiter),
        repeated=repeated,
    )


def _refuse_sheet(sheet: str | None, kind: str) -> None:
    if sheet:
        raise InputError(
            f"A sheet ({sheet!r}) was chosen, but this file is {kind}, not a workbook. Leave "
            "the sheet empty, or upload the workbook."
        )


def _chosen_encoding(head: bytes, encoding: str) -> str:
    """The encoding asked for, a UTF-8 BOM skipped when that is the one asked for."""
    name = checked_encoding(encoding)
    if name == "utf-8" and head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return name


def read_chunks(path: Path, layout: TableLayout, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Yield the data rows `chunk_rows` at a time, every cell as text ('' when empty)."""
    if layout.kind == "parquet":
        yield from _parquet_chunks(path, layout, chunk_rows)
        return
    if layout.kind == "sheet":
        assert layout.sheet is not None
        first = 0
        for chunk in sheets.sheet_chunks(path, layout.sheet, len(layout.columns), chunk_rows):
            yield sheets.frame(chunk, layout.columns, first)
            first += len(chunk)
        return
    names = [*layout.columns, *([_TRAILING] if layout.trailing_delimiter else [])]
    with _opened(path, layout.compression) as source:
        yield from _chunks(source, layout, names, chunk_rows)


def _chunks(
    source: BinaryIO, layout: TableLayout, names: list[str], chunk_rows: int
) -> Iterator[pd.DataFrame]:
    reader = pd.read_csv(
        source,
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


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def _inspect_parquet(path: Path) -> TableLayout:
    try:
        metadata = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"The parquet file is damaged or cut short ({exc}).") from exc
    columns, repeated = _columns([str(name) for name in metadata.schema.names])
    return TableLayout("utf-8", ",", columns, metadata.num_rows, kind="parquet", repeated=repeated)


def parquet_types(path: Path) -> list[pa.DataType]:
    """A parquet file's column types, which a parquet result keeps."""
    return list(pq.ParquetFile(path).schema_arrow.types)


def _parquet_chunks(path: Path, layout: TableLayout, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Each batch's columns as text, as Arrow writes values ('5.1', '3', 'true', ISO dates;
    '' for null): the model and the writer read them as they read a CSV's cells."""
    first = 0
    try:
        # Unbuffered reads of one column chunk at a time: with pre-buffering, Arrow's pool
        # kept growing (207 to 303 MB over 1,000,000 rows, against a flat 197 MB).
        source = pq.ParquetFile(path, pre_buffer=False, buffer_size=_SCAN_BLOCK)
        for batch in source.iter_batches(batch_size=chunk_rows):
            texts = {
                name: pc.cast(column, pa.string()).fill_null("").to_pandas()
                for name, column in zip(layout.columns, batch.columns, strict=True)
            }
            chunk = pd.DataFrame(texts)
            chunk.index = pd.RangeIndex(first, first + len(chunk))  # the row's place in the file
            first += len(chunk)
            yield chunk
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"The parquet file could not be read ({exc}).") from exc


def _compression(path: Path) -> str | None:
    """gzip, or a zip holding exactly one file that is not a workbook; None for plain text."""
    with path.open("rb") as f:
        magic = f.read(4)
    if magic.startswith(b"\x1f\x8b"):
        return "gzip"
    if magic == b"PK\x03\x04" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
        names = {m.filename for m in members}
        if len(members) == 1 and "[Content_Types].xml" not in names:
            return "zip"
        if "[Content_Types].xml" not in names and "mimetype" not in names:
            raise InputError(
                f"This zip archive holds {len(members)} files; batchscore reads an archive of "
                "one CSV file. Upload the CSV files one by one."
            )
    return None  # plain text, or a workbook _refuse_binary names


@contextmanager
def _opened(path: Path, compression: str | None) -> Iterator[BinaryIO]:
    """The file's bytes, decompressed as they are read: memory holds a block, not the file."""
    if compression == "gzip":
        with gzip.open(path, "rb") as f:
            yield cast(BinaryIO, f)
    elif compression == "zip":
        with zipfile.ZipFile(path) as archive, archive.open(archive.infolist()[0]) as f:
            yield cast(BinaryIO, f)
    else:
        with path.open("rb") as f:
            yield f


def _encoding_marked(head: bytes) -> bool:
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8))


def _encoding(head: bytes) -> str:
    """A BOM's encoding; else UTF-8 when the text is UTF-8, else what charset-normalizer finds
    (cp1252 for a CSV Excel saved on Windows)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)  # a cut last character is fine
        return "utf-8"
    except UnicodeDecodeError:
        pass
    return _detected(head)


# What Excel and its peers write besides UTF-8: Windows code pages, ISO Latin, Mac, DOS, and
# the common East Asian ones. charset-normalizer judges among these only.
_LEGACY_ENCODINGS = [
    *(f"cp{n}" for n in range(1250, 1259)),
    *("latin_1", "iso8859_15", "mac_roman", "cp437", "cp850", "koi8_r"),
    *("shift_jis", "gb18030", "big5", "euc_kr"),
]
_WESTERN = "cp1252"  # Excel's "CSV (Comma delimited)" in Western locales


def _detected(head: bytes) -> str:
    """Windows-1252 when its reading is among the least messy (charset-normalizer's chaos);
    else, of those, the most coherent text, then a recognised language.

    Coherence alone is noise on a short file: it picked Mac Roman's "M·laga" over "Málaga"."""
    results = list(charset_normalizer.from_bytes(head, cp_isolation=_LEGACY_ENCODINGS))
    if not results:
        raise InputError(
            "The file's text is in no encoding batchscore recognises. Save it as 'CSV UTF-8' "
            "and upload it again."
        )
    western = _decoded(head, _WESTERN)
    lowest = min(match.chaos for match in results)
    calm = [match for match in results if match.chaos <= lowest]
    if any(codecs.lookup(m.encoding).name == _WESTERN or str(m) == western for m in calm):
        return _WESTERN
    best = max(calm, key=lambda m: (m.coherence, m.language != "Unknown"))
    return codecs.lookup(best.encoding).name


def _decoded(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _refuse_binary(head: bytes) -> None:
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            raise InputError(f"This file is {kind}, not CSV text. {_SAVE_AS_CSV}")
    if b"\x00" in head:
        raise InputError(f"This file contains binary data, not CSV text. {_SAVE_AS_CSV}")


def _scan_text(path: Path, compression: str | None, encoding: str) -> int:
    """Decode the whole file once (constant memory) and count its lines.

    Failing here, before any row is scored, gives the exact line of a bad byte; failing
    half-way through the job would waste the work and give a worse message.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    lines, last = 0, b"\n"
    with _opened(path, compression) as f:
        while block := f.read(_SCAN_BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line = lines + block.count(b"\n", 0, exc.start) + 1
                raise InputError(
                    f"Line {line} is not valid {encoding.upper()} text "
                    f"(byte 0x{block[exc.start]:02x}): the file mixes encodings. Save it as "
                    "'CSV UTF-8' and upload it again."
                ) from exc
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise InputError(f"The compressed file is damaged or cut short ({exc}).") from exc
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


_COMMA_DECIMAL = re.compile(r"\s*-?(?:[0-9]{1,3}(?:[. \xa0\u202f][0-9]{3})+|[0-9]+),[0-9]+\s*")
_POINT_DECIMAL = re.compile(r"\s*-?[0-9]+\.[0-9]+\s*")
_THOUSANDS_ONLY = re.compile(r"\s*-?[0-9]{1,3}(?:\.[0-9]{3})+\s*")  # 1.234: either reading


def _decimal(rows: list[_Row], delimiter: str) -> str:
    """ "," if more of the sample's numbers use a decimal comma than a decimal point (the others
    are then row errors, not guesses); a comma can be the decimal mark only where it does not
    separate the fields."""
    if delimiter == ",":
        return "."
    cells = [cell for _, fields in rows for cell in fields]
    commas = sum(1 for cell in cells if _COMMA_DECIMAL.fullmatch(cell))
    points = sum(
        1
        for cell in cells
        if _POINT_DECIMAL.fullmatch(cell) and not _THOUSANDS_ONLY.fullmatch(cell)
    )
    return "," if commas > points else "."


def _check_trailing(values: pd.Series, width: int) -> None:
    """The rows end in a delimiter: the field after it must be empty in every one."""
    filled = (values.astype(str).str.strip() != "").to_numpy()
    if filled.any():
        row = int(values.index[int(filled.argmax())]) + 2  # the index runs on across chunks
        raise InputError(
            f"Row {row:,} (the header is row 1) has a value after the last column, where the "
            f"other rows end with an empty field: it has {width + 1} values but the header has "
            f"{width} columns. A value that contains the delimiter must be quoted."
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


def _columns(header: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The columns' names, a repeated name made unique (Notes, Notes (2)), and the names that
    were repeated: harmless unless the model needs one (model.schema refuses that)."""
    names = [name.strip() for name in header]
    names = [name or f"column_{i}" for i, name in enumerate(names, start=1)]
    repeated = tuple(sorted(name for name, n in Counter(names).items() if n > 1))
    taken, unique = set(names), []
    seen: Counter[str] = Counter()
    for name in names:
        seen[name] += 1
        if seen[name] == 1:
            unique.append(name)
            continue
        n = seen[name]
        while f"{name} ({n})" in taken:
            n += 1
        unique.append(f"{name} ({n})")
        taken.add(unique[-1])
    return tuple(unique), repeated


def _parser_message(text: str) -> str:
    match = _FIELDS_ERROR.search(text)
    if match:
        expected, line, seen = match.groups()
        return _too_many(int(line), int(seen), int(expected))
    return f"The file is not valid CSV: {text.strip()}"
