from telemetry.clock import iso_from_ms, ms_from_iso


def test_iso_round_trip_is_exact_to_the_millisecond() -> None:
    assert ms_from_iso("2004-09-23T00:16:36.794Z") == 1095898596794  # float math gives ...793
    for ms in range(1095898596000, 1095898597000, 7):
        assert ms_from_iso(iso_from_ms(ms)) == ms


def test_naive_time_is_utc_and_offsets_apply() -> None:
    assert ms_from_iso("2024-01-15T10:30:00") == ms_from_iso("2024-01-15T10:30:00Z")
    assert ms_from_iso("2024-01-15T12:30:00+02:00") == ms_from_iso("2024-01-15T10:30:00Z")
