"""One staged-photo store for the hazard pages and the check form: the hazard pages keep the
bytes as uploaded for a day, the check form keeps them cleaned for three days; tokens are
checked before Redis is asked."""

from __future__ import annotations

from app.hazard_reporting.uploads import CHECK_STAGE_TTL_SECONDS, STAGE_TTL_SECONDS, StagedPhotos
from tests.fixtures.checks import jpeg


def test_the_two_stores_keep_what_their_forms_need(redis):
    data = jpeg((640, 480))
    hazards, check = StagedPhotos.for_hazards(7), StagedPhotos.for_check(7, 42)
    h_token, c_token = hazards.put(data), check.put(data)
    assert hazards.photo(h_token) == data  # cleaned when the hazard is saved
    assert check.photo(c_token) != data and check.photo(c_token).startswith(b"\xff\xd8")  # cleaned now
    assert hazards.thumb(h_token) and check.thumb(c_token)
    assert 0 < redis.ttl(f"ancha:h5:staged:7:{h_token}") <= STAGE_TTL_SECONDS
    assert STAGE_TTL_SECONDS < redis.ttl(f"ancha:h5:check-photo:7:42:{c_token}") <= CHECK_STAGE_TTL_SECONDS
    # A token of one store is not a token of the other, nor of another task.
    assert hazards.photo(c_token) is None and StagedPhotos.for_check(7, 43).photo(c_token) is None
    assert check.alive([c_token, c_token, "../../etc", h_token]) == [c_token]
    check.discard([c_token])
    assert check.photo(c_token) is None


def test_a_photo_staged_under_the_old_field_name_still_arrives(redis):
    token = "t" * 24
    redis.hset(f"ancha:h5:staged:7:{token}", mapping={"raw": b"old bytes", "thumb": b"t"})
    assert StagedPhotos.for_hazards(7).photo(token) == b"old bytes"
