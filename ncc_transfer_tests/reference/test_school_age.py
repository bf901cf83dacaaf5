"""Compulsory school age (reference/school_age.py): hand-worked boundaries, dates written out.

Prescribed days 31 Mar, 31 Aug, 31 Dec (a fifth birthday ON one of them starts CSA that day); CSA ends
at the end of the last Friday of June of the school year (1 Sep-31 Aug) in which the child turns 16.
Last Fridays of June: 2024 -> 28 Jun, 2026 -> 26 Jun, 2027 -> 25 Jun (30 Jun 2027 is a Wednesday).
"""

from datetime import date

import pandas as pd
import pytest

from ncc_transfer.reference.school_age import (
    compulsory_school_age,
    compulsory_school_age_series,
    csa_bounds,
    csa_end,
    csa_start,
    last_friday_of_june,
)


@pytest.mark.parametrize("year, expected", [(2024, date(2024, 6, 28)), (2026, date(2026, 6, 26)),
                                            (2027, date(2027, 6, 25)), (2028, date(2028, 6, 30))])
def test_last_friday_of_june(year, expected):
    assert last_friday_of_june(year) == expected
    assert expected.weekday() == 4


@pytest.mark.parametrize("dob, start", [
    (date(2021, 9, 1), date(2026, 12, 31)),   # 5 on Tue 1 Sep 2026 -> next prescribed day 31 Dec 2026
    (date(2021, 12, 31), date(2026, 12, 31)),  # 5 ON 31 Dec 2026, a prescribed day: CSA from that day
    (date(2022, 1, 1), date(2027, 3, 31)),    # 5 on 1 Jan 2027 -> 31 Mar 2027
    (date(2022, 1, 15), date(2027, 3, 31)),   # turned 5 in the spring term (15 Jan 2027) -> 31 Mar 2027
    (date(2022, 3, 31), date(2027, 3, 31)),   # 5 ON 31 Mar 2027
    (date(2022, 4, 1), date(2027, 8, 31)),    # 5 on 1 Apr 2027 -> 31 Aug 2027
    (date(2022, 8, 31), date(2027, 8, 31)),   # 5 ON 31 Aug 2027
    (date(2019, 2, 10), date(2024, 3, 31)),   # IPSEA's example: 5 on 10 Feb 2024 -> 31 Mar 2024
    (date(2020, 2, 29), date(2025, 3, 31)),   # leap-day birth: 5 on 28 Feb / 1 Mar 2025 -> 31 Mar 2025
])
def test_csa_start(dob, start):
    assert csa_start(dob) == start
    assert not compulsory_school_age(dob, start - pd.Timedelta(days=1))
    assert compulsory_school_age(dob, start)


@pytest.mark.parametrize("dob, end", [
    (date(2011, 6, 20), date(2027, 6, 25)),   # 16 on Sun 20 Jun 2027 (school year 2026/27) -> Fri 25 Jun 2027
    (date(2010, 9, 2), date(2027, 6, 25)),    # 16 on Wed 2 Sep 2026, also school year 2026/27 -> 25 Jun 2027
    (date(2010, 8, 31), date(2026, 6, 26)),   # 16 on Mon 31 Aug 2026, school year 2025/26 -> Fri 26 Jun 2026
    (date(2011, 6, 25), date(2027, 6, 25)),   # 16 ON the leaving date (s8(3)(b))
    (date(2011, 7, 10), date(2027, 6, 25)),   # 16 after the leaving date, before the next school year (s8(3)(a))
    (date(2007, 9, 23), date(2024, 6, 28)),   # IPSEA's example
])
def test_csa_end(dob, end):
    assert csa_end(dob) == end
    assert compulsory_school_age(dob, end)  # CSA to the END of the leaving date
    assert not compulsory_school_age(dob, end + pd.Timedelta(days=1))


def test_sixteen_year_old_still_of_csa_until_june():
    # Turned 16 on Wed 2 Sep 2026 but of CSA until Fri 25 Jun 2027.
    assert compulsory_school_age(date(2010, 9, 2), date(2026, 10, 1))
    assert compulsory_school_age(date(2010, 9, 2), date(2027, 6, 25))
    assert not compulsory_school_age(date(2010, 9, 2), date(2027, 6, 26))
    # Turning 16 on 20 Jun 2027: of CSA on Mon 21 Jun 2027 (aged 16) and on 25 Jun, not on 28 Jun.
    assert compulsory_school_age(date(2011, 6, 20), date(2027, 6, 21))
    assert not compulsory_school_age(date(2011, 6, 20), date(2027, 6, 28))


def test_vectorised_matches_scalar():
    dobs = [date(2021, 9, 1), date(2021, 12, 31), date(2022, 1, 1), date(2022, 1, 15), date(2022, 3, 31),
            date(2022, 4, 1), date(2011, 6, 20), date(2010, 9, 2), date(2010, 8, 31), date(2007, 9, 23),
            date(2020, 2, 29), date(2008, 2, 29)]
    series = pd.Series([pd.Timestamp(d) for d in dobs] + [None], index=range(10, 23))
    start, end = csa_bounds(series)
    assert [d.date() for d in start.iloc[:-1]] == [csa_start(d) for d in dobs]
    assert [d.date() for d in end.iloc[:-1]] == [csa_end(d) for d in dobs]
    assert pd.isna(start.iloc[-1]) and pd.isna(end.iloc[-1])
    assert list(start.index) == list(series.index)
    for on in [date(2026, 12, 30), date(2026, 12, 31), date(2027, 2, 15), date(2027, 3, 31), date(2027, 6, 25),
               date(2027, 6, 26), date(2026, 6, 27)]:
        flags = compulsory_school_age_series(series, on)
        assert flags.iloc[:-1].tolist() == [compulsory_school_age(d, on) for d in dobs]
        assert flags.isna().iloc[-1]


def test_vectorised_reads_text_and_arrow_dates():
    text = pd.Series(["2022-01-15", None, "2010-09-02"], dtype="string[pyarrow]")
    flags = compulsory_school_age_series(text, date(2027, 2, 10))
    assert flags.tolist()[0] is False and pd.isna(flags.iloc[1]) and flags.iloc[2]
    assert compulsory_school_age_series(pd.Series([], dtype=object), date(2027, 2, 10)).empty
