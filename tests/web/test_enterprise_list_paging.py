"""The bureau's enterprise list at district size (the demo has 160): fifty a page, the
header's figures over all of them, the town filter kept across pages, lapsed certificates
marked."""

from __future__ import annotations

import re
from datetime import date, timedelta

from app.clock import local_today, utcnow
from app.enterprises.console import PAGE_SIZE


def rows(page: str) -> int:
    return len(re.findall(r"<tr>\s*<td><a href=\"/console/enterprises/", page))


def test_the_list_pages_by_fifty_and_keeps_the_town(client, build):
    north, south = build.town(name="北镇"), build.town(name="南镇")
    today = local_today(utcnow())
    for n in range(PAGE_SIZE + 20):
        build.enterprise(town=north, name=f"北镇{n:03d}机械有限公司", scale="above",
                         standardization_level="level3", standardization_date=today - timedelta(days=30))
    lapsed = build.enterprise(town=south, name="南镇过期建材有限公司", scale="above",
                              standardization_level="level3", standardization_date=date(2021, 3, 1))
    build.bureau_user("bureau_admin", user=build.user(username="boss", password="pw-b"))
    assert client.post("/console/login", data={"username": "boss", "password": "pw-b"}).status_code == 302

    first = client.get("/console/").get_data(as_text=True)
    assert rows(first) == PAGE_SIZE
    assert f"共 {PAGE_SIZE + 21} 家，第 1/2 页" in first and "下一页" in first and "上一页" not in first
    # The header counts every enterprise in scope, not the page: 70 of 71 规上 valid.
    assert re.search(r"规上企业</span><b>71</b>", first)
    second = client.get("/console/?page=2").get_data(as_text=True)
    assert rows(second) == 21 and "第 2/2 页" in second and "上一页" in second
    assert lapsed.name in second and "已过期" in second and "有效期至 2024-02-29" in second
    # Out of range pages show the nearest one; the town filter pages within the town.
    assert rows(client.get("/console/?page=99").get_data(as_text=True)) == 21
    assert rows(client.get("/console/?page=0").get_data(as_text=True)) == PAGE_SIZE
    only_south = client.get(f"/console/?town={south.id}").get_data(as_text=True)
    assert rows(only_south) == 1 and "第 1/" not in only_south
    north_two = client.get(f"/console/?town={north.id}&page=2").get_data(as_text=True)
    assert rows(north_two) == 20 and f"town={north.id}&amp;page=1" in north_two
