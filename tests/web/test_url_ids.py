"""Every id in a URL is range-checked by the `id` route converter: zero, negatives and
numbers past the database's integer are a 404 before any view or query runs."""

import pytest
from werkzeug.routing import IntegerConverter

from app.ids import MAX_ID, parse_id
from app.web import IdConverter

ID_ROUTES = ["/console/hazards/{}", "/h5/hazards/{}", "/api/v1/sites/{}"]


def test_every_id_in_a_route_uses_the_id_converter(app):
    loose = [
        rule.rule
        for rule in app.url_map.iter_rules()
        for name, converter in rule._converters.items()
        if name.endswith("_id") and isinstance(converter, IntegerConverter) and not isinstance(converter, IdConverter)
    ]
    assert loose == []


@pytest.mark.parametrize("raw", ["0", str(MAX_ID + 1), "99999999999999999999"])
@pytest.mark.parametrize("route", ID_ROUTES)
def test_ids_out_of_range_are_not_found(client, route, raw):
    assert client.get(route.format(raw)).status_code == 404


def test_parse_id_takes_only_database_ids():
    assert parse_id("1") == 1 and parse_id(f" {MAX_ID} ") == MAX_ID
    for raw in (None, "", "0", "-1", "1.5", "abc", str(MAX_ID + 1), "1" * 40, "١٢"):
        assert parse_id(raw) is None
