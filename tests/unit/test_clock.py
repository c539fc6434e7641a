from telemetry.clock import iso_from_ms, ms_from_iso


def test_iso_round_trip_is_exact_to_the_millisecond() -> None:
    assert ms_from_iso("2004-09-23T00:16:36.794Z") == 1095898596794  # float math gives ...793
    for ms in range(1095898596000, 1095898597000, 7):
        assert ms_from_iso(iso_from_ms(ms)) == ms


def test_naive_time_is_utc_and_offsets_apply() -> None:
    assert ms_from_iso("2024-01-15T10:30:00") == ms_from_iso("2024-01-15T10:30:00Z")
    assert ms_from_iso("2024-01-15T12:30:00+02:00") == ms_from_iso("2024-01-15T10:30:00Z")


def test_years_before_1000_keep_four_digits() -> None:
    """strftime's ``%Y`` writes year 1 as ``1``: the query echoes answered ``1-01-01T00:00:00Z``,
    which is not ISO 8601 and not what the answers' schemas (``^\\d{4}-``) document."""
    first_ms = ms_from_iso("0001-01-01T00:00:00Z")
    assert iso_from_ms(first_ms) == "0001-01-01T00:00:00Z"
    assert iso_from_ms(ms_from_iso("0999-12-31T23:59:59.500Z")) == "0999-12-31T23:59:59.500Z"
