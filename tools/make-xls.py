#!/usr/bin/python3
"""Writes the Excel 97-2003 (BIFF8) workbook tests/data/projects.xls is.

  /usr/bin/python3 tools/make-xls.py OUT.xls

It needs Debian's python3-xlwt, a writer of that format, which is not a
dependency of the build or the tests: the file is committed, as
tests/data/plan.doc is.

A project list as offices attach it: a header, amounts as numbers and as
text, date cells, a cell with a comma, quotes and a line break, an empty
row, a long list; a second named sheet and a default-named third one.
"""
import datetime
import sys

import xlwt

PLACES = ["克什克腾旗", "宁城县", "林西县", "喀喇沁旗", "阿鲁科尔沁旗", "松山区", "红山区", "元宝山区"]
WORKS = ["高标准农田建设", "农村牧区道路提升", "草原生态保护修复", "饮水安全巩固", "肉牛产业园"]


def main():
    wb = xlwt.Workbook(encoding="utf-8")
    date = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    ws = wb.add_sheet("重点项目")
    rows = [
        ["序号", "项目名称", "建设地点", "总投资（亿元）", "开工日期", "备注"],
        [1, "翁牛特旗光伏治沙基地", "翁牛特旗", 5.2, datetime.date(2025, 3, 12), "板上发电、板下种植"],
        [2, "科尔沁沙地综合治理", "敖汉旗", "3.8亿元", datetime.date(2025, 5, 6), '含"三北"工程, 年内完工'],
        [],
        [3, "巴林右旗退化草原修复", "巴林右旗", 1.25, None, "第一期\n第二期"],
    ]
    for i in range(120):
        rows.append([i + 4, "%s%s（%d）" % (PLACES[i % 8], WORKS[i % 5], i + 1), PLACES[i % 8],
                     round(0.3 + (i % 17) * 0.45, 2), datetime.date(2024 + i % 2, i % 12 + 1, i % 28 + 1), None])
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if isinstance(v, datetime.date):
                ws.write(r, c, v, date)
            elif v is not None:
                ws.write(r, c, v)
    ws = wb.add_sheet("任务分工")
    for r, row in enumerate([["任务", "牵头单位", "完成时限"],
                             ["完成沙化土地治理462万亩", "市林草局", "2026年底"],
                             ["新增风电光伏装机200万千瓦", "市能源局", "2026年底"]]):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    wb.add_sheet("Sheet3").write(0, 0, "备用")
    wb.save(sys.argv[1])


if __name__ == "__main__":
    main()
