"""core.tables: CSV in UTF-8 or GB18030/GBK and Excel workbooks read as the text they show."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from openpyxl import Workbook

from core.importing import ImportFileProblem
from core.tables import decode_text, map_header, read_csv, read_table

ROWS = [["编码", "名称", "备注"], ["CS-001", "幸福花园充电站", "东侧"], ["CS-002", "海景苑", ""]]


def csv_bytes(rows, encoding="utf-8", bom=False, newline="\r\n") -> bytes:
    text = newline.join(",".join(row) for row in rows) + newline
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [("utf-8", False, "utf-8"), ("utf-8", True, "utf-8"), ("gbk", False, "gb18030")],
    ids=["utf8", "utf8-bom", "gbk"],
)
def test_csv_in_any_encoding_reads_the_same(encoding, bom, expected):
    table = read_csv(csv_bytes(ROWS, encoding, bom))
    assert table.encoding == expected
    assert (table.place, table.header, table.header_number) == ("line", ROWS[0], 1)
    assert table.rows == [(2, ROWS[1]), (3, ROWS[2])]
    assert table.problems == []


def test_gb18030_beyond_gbk():
    text = "名称\n𠀀仓库\n"  # a character only GB18030 (not GBK) encodes
    assert decode_text(text.encode("gb18030")) == (text, "gb18030")


def test_gbk_file_with_an_undecodable_byte_names_line_and_offset():
    raw = csv_bytes(ROWS, "gbk", newline="\n")
    bad_at = len(raw) - len("海景苑,\n".encode("gbk")) + 2  # inside 海
    raw = raw[:bad_at] + b"\xff" + raw[bad_at + 1 :]
    with pytest.raises(ImportFileProblem) as caught:
        read_csv(raw)
    problem = caught.value.problem
    assert (problem.place, problem.number) == ("line", 3)
    assert str(problem) == (
        f"line 3: byte 0xff (byte offset {bad_at}) cannot be read as UTF-8 or GB18030"
    )


def test_utf8_file_with_a_bad_byte_is_not_read_as_gb18030():
    raw = csv_bytes(ROWS, "utf-8", newline="\n") + b"CS-003,\xc0\n"
    with pytest.raises(ImportFileProblem) as caught:
        read_csv(raw)
    assert str(caught.value.problem).startswith("line 4: byte 0xc0")
    assert "cannot be read as UTF-8, and the text before it is UTF-8" in str(caught.value)


def test_binary_and_empty_files():
    with pytest.raises(ImportFileProblem, match="binary file"):
        read_csv(b"PK\x03\x04\x00\x00")
    with pytest.raises(ImportFileProblem, match="empty"):
        read_csv(b"\r\n\r\n")


def test_csv_blank_lines_trailing_empty_cells_and_extra_cells():
    raw = '\n名称,地址\n\nA,1,,\n"B\nB",2\nC,3,extra\n'.encode()
    table = read_csv(raw)
    assert table.header_number == 2
    assert table.rows == [(4, ["A", "1"]), (5, ["B\nB", "2"])]
    assert [str(problem) for problem in table.problems] == [
        "line 7: row: has more cells than the header"
    ]


def workbook_file(tmp_path, rows, name="table.xlsx", build=None):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "资产"
    for row in rows:
        sheet.append(row)
    if build:
        build(workbook, sheet)
    path = tmp_path / name
    workbook.save(path)
    return path


def test_xlsx_cells_read_as_they_show(tmp_path):
    def formats(workbook, sheet):
        sheet["F3"].number_format = "0000"
        for _ in range(5):  # rows Excel keeps after deleting their contents
            sheet.append([None, None])

    rows = [
        [None],
        ["编码", "端口", "经度", "整数浮点", "是否", "注册代码", "日期", "时间", "文本零"],
        [
            "CS-001",
            12,
            121.12345678901,
            5.0,
            True,
            12,
            date(2026, 11, 1),
            datetime(2026, 11, 1, 8, 30),
            "0012",
        ],
    ]
    table = read_table(workbook_file(tmp_path, rows, build=formats))
    assert (table.place, table.header_number) == ("row", 2)
    assert table.header == rows[1]
    assert table.rows == [
        (
            3,
            [
                "CS-001",
                "12",
                repr(121.12345678901),
                "5",
                "TRUE",
                "0012",
                "2026-11-01",
                "2026-11-01 08:30:00",
                "0012",
            ],
        )
    ]
    assert table.problems == []


def test_xlsx_formula_is_a_problem_naming_row_and_column(tmp_path):
    def formula(workbook, sheet):
        sheet["B3"] = "=B2*2"

    path = workbook_file(
        tmp_path, [["编码", "端口"], ["CS-001", 6], ["CS-002", None]], build=formula
    )
    table = read_table(path)
    assert [str(problem) for problem in table.problems] == [
        "row 3: 端口: cell B3 holds a formula (=B2*2); save its value instead"
    ]
    assert [number for number, _cells in table.rows] == [2]


def test_xlsx_merged_header_and_merged_cells_are_problems(tmp_path):
    def merge(workbook, sheet):
        sheet.merge_cells("B1:C1")
        sheet.merge_cells("A3:A4")

    rows = [["编码", "位置", None], ["CS-001", "东"], ["CS-002", "西"], [None, "南"]]
    table = read_table(workbook_file(tmp_path, rows, build=merge))
    assert [str(problem) for problem in table.problems] == [
        "header: 位置: cells B1:C1 are merged: give each column its own header cell",
        "row 3: 编码: cells A3:A4 are merged: only the first holds the value; "
        "unmerge them and fill each cell",
    ]


def test_xlsx_named_sheet_and_unknown_sheet(tmp_path):
    def second(workbook, sheet):
        other = workbook.create_sheet("小区")
        other.append(["名称"])
        other.append(["幸福花园"])

    path = workbook_file(tmp_path, [["编码"], ["CS-001"]], build=second)
    assert read_table(path).rows == [(2, ["CS-001"])]
    assert read_table(path, sheet="小区").rows == [(2, ["幸福花园"])]
    with pytest.raises(ImportFileProblem) as caught:
        read_table(path, sheet="设施")
    assert (
        str(caught.value.problem)
        == "sheet: The workbook has no sheet named 设施 (it has: 资产, 小区)."
    )


def test_not_a_workbook_and_old_excel(tmp_path):
    path = tmp_path / "table.xlsx"
    path.write_bytes(b"code,name\n")
    with pytest.raises(ImportFileProblem, match="not a readable Excel workbook"):
        read_table(path)
    old = tmp_path / "table.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ImportFileProblem, match=r"\.xls"):
        read_table(old)


def test_map_header():
    names = {"code": "code", "编码": "code", "Name": "name", "名称": "name", "notes": "notes"}
    fields, problems = map_header(["ＣＯＤＥ", " name ", "", "备注"], names, required=["code"])
    assert fields == ["code", "name", None, None]
    assert [str(problem) for problem in problems] == ["header: unknown column(s): 备注"]
    fields, problems = map_header(["编码", "code"], names, required={"name": "name (名称)"})
    assert [str(problem) for problem in problems] == [
        "header: missing column(s): name (名称)",
        "header: repeated column(s): 编码, code",
    ]
