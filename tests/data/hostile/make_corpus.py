"""Write the hostile input corpus: files a user (or an attacker) might upload, one per case.

The files are committed; this script says how each was made, so a case can be changed or
added reproducibly. Each case's expected outcome is in cases.yaml beside them.

    python tests/data/hostile/make_corpus.py
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
HEADER = "sepal_length,sepal_width,petal_length,petal_width"
ROW = "5.1,3.5,1.4,0.2"


def rows(n: int, row: str = ROW) -> str:
    return "".join(f"{row}\n" for _ in range(n))


def iris(n: int = 3) -> str:
    return f"{HEADER}\n{rows(n)}"


def with_text(values: list[str]) -> str:
    """The iris features plus a quoted `note` column holding each value."""
    body = "".join(f'{ROW},"{value.replace(chr(34), chr(34) * 2)}"\n' for value in values)
    return f"{HEADER},note\n{body}"


def xlsx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in (("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<workbook/>")):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)
    return out.getvalue()


FORMULAS = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+2", "\r=1+2"]
FORMULAS += ['=HYPERLINK("http://example.com","click")', "=cmd|' /C calc'!A0", "{=1+2}"]

CASES: dict[str, bytes] = {
    "empty.csv": b"",
    "whitespace_only.csv": b"  \n\n \t\n",
    "header_only.csv": f"{HEADER}\n".encode(),
    "bom.csv": b"\xef\xbb\xbf" + iris().encode(),
    "crlf.csv": iris().replace("\n", "\r\n").encode(),
    "quoted_newlines.csv": with_text(["line one\nline two", "a\r\nb"]).encode(),
    "latin1.csv": with_text(["Köln", "Zürich"]).encode("latin-1"),
    "utf16.csv": iris().encode("utf-16"),
    "utf16_no_bom.csv": iris().encode("utf-16-le"),
    "semicolon.csv": iris().replace(",", ";").encode(),
    "tab.csv": iris().replace(",", "\t").encode(),
    "pipe.csv": iris().replace(",", "|").encode(),
    "duplicate_columns.csv": f"{HEADER},sepal_length\n{rows(2, ROW + ',9')}".encode(),
    "duplicate_unused_columns.csv": f"{HEADER},Notes,Notes\n{rows(2, ROW + ',a,b')}".encode(),
    "extra_columns.csv": f"id,{HEADER},city\n{rows(2, '7,' + ROW + ',Oslo')}".encode(),
    "reordered_columns.csv": (
        b"petal_width,sepal_length,petal_length,sepal_width\n0.2,5.1,1.4,3.5\n"
    ),
    "missing_feature.csv": b"sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n",
    "header_padded.csv": (
        f" sepal_length , sepal_width ,petal_length , petal_width\n{rows(2)}".encode()
    ),
    "only_delimiters.csv": b",,,\n,,,\n",
    "nan_inf_empty.csv": (iris(30) + "NaN,3.5,1.4,0.2\ninf,3.5,1.4,0.2\n,3.5,1.4,0.2\n").encode(),
    "thousands_separators.csv": (iris(20) + '"1,234.5",3.5,1.4,0.2\n').encode(),
    "huge_number.csv": (iris(20) + "1e400,3.5,1.4,0.2\n").encode(),
    "overflow.csv": (iris(20) + "1e308,1e308,1e308,1e308\n").encode(),  # finite, overflows
    "all_rows_bad.csv": f"{HEADER}\n{rows(5, 'x,y,z,w')}".encode(),
    "short_row.csv": (iris(20) + "5.1,3.5\n").encode(),
    "long_row.csv": (iris(2) + "5.1,3.5,1.4,0.2,9.9\n").encode(),
    # Shapes that once shifted every column by one, silently (pandas took a field as an index):
    "trailing_delimiter.csv": f"{HEADER}\n{rows(3, ROW + ',')}".encode(),
    "trailing_value_late.csv": f"{HEADER}\n{rows(3, ROW + ',')}{ROW},9\n".encode(),
    "r_row_names.csv": (  # R's write.table(sep=","): a row name first, no header for it
        '"sepal_length","sepal_width","petal_length","petal_width"\n'
        + "".join(f'"{n}",5.1,3.5,1.4,0.2\n' for n in range(1, 4))
    ).encode(),
    "quoted_newline_header.csv": f'{HEADER},"note\nsecond line"\n{rows(2, ROW + ",x")}'.encode(),
    "unterminated_quote.csv": (iris(2) + '"5.1,3.5,1.4,0.2\n').encode(),
    "blank_lines.csv": f"{HEADER}\n\n{ROW}\n\n\n{ROW}\n".encode(),
    "no_final_newline.csv": iris(2).rstrip("\n").encode(),
    # UTF-8 (with a "é" early on) whose bad byte comes after the first megabyte, which is what
    # the encoding is judged on: the whole file is checked before any row is scored.
    "bad_byte_late.csv": (with_text(["café"]) + rows(70_000)).encode() + b"\xff\n",
    "columns_10000.csv": (
        HEADER + "".join(f",c{i}" for i in range(9_996)) + "\n" + rows(2, ROW + ",1" * 9_996)
    ).encode(),
    "columns_16400.csv": (
        HEADER + "".join(f",c{i}" for i in range(16_396)) + "\n" + rows(1, ROW + ",1" * 16_396)
    ).encode(),
    "line_1mb.csv": with_text(["x" * 1_000_000]).encode(),
    "formulas.csv": with_text(FORMULAS).encode(),
    "markup_lookalikes.csv": with_text(["<r>a & b</r>", "</t></is><f>1+1</f>", "_x0041_"]).encode(),
    "control_characters.csv": with_text(["bell\x07", "nul-free \x1b[31mred", "\x0bvt"]).encode(),
    "prediction_and_error_columns.csv": (
        f"{HEADER},prediction,error\n{rows(2, ROW + ',old,none')}".encode()
    ),
    "zip_renamed.csv": b"PK\x03\x04" + b"\x00" * 60,
    "xlsx_renamed.csv": xlsx_bytes(),
    "png_renamed.csv": b"\x89PNG\r\n\x1a\n" + b"\x00" * 60,
    "pdf_renamed.csv": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    "gzip_renamed.csv": gzip.compress(iris().encode(), mtime=0),
    "binary_nul.csv": b"sepal_length\x00,sepal_width\n\x00\x01\x02",
    "traversal.csv": iris(2).encode(),  # uploaded as ../../etc/passwd.csv
    "long_name.csv": iris(2).encode(),  # uploaded with a 300-character name
    "odd_name.csv": iris(2).encode(),  # uploaded as a name with quotes, unicode and a newline
}


def main() -> None:
    for name, content in CASES.items():
        (HERE / name).write_bytes(content)
    print(f"{len(CASES)} files written to {HERE}")


if __name__ == "__main__":
    main()
