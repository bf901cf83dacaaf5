"""Reference data: attendance codes, exclusion categories and reasons, enrolment, NC years, UPN."""

from ncc_transfer.reference.attendance_codes import (
    CODE_SET_CHANGE,
    POSSIBLE_CATEGORIES,
    category_for,
    code_table,
    possible_for,
)
from ncc_transfer.reference.enrolment import (
    ENROL_STATUSES,
    NC_YEAR_CODES,
    ON_ROLL_STATUSES,
    enrol_status_table,
    expected_nc_year_age,
    nc_year_table,
)
from ncc_transfer.reference.exclusions import (
    CATEGORY_CODES,
    REASON_CODES,
    category_table,
    normalise_category,
    reason_table,
)

__all__ = [
    "CATEGORY_CODES",
    "CODE_SET_CHANGE",
    "ENROL_STATUSES",
    "NC_YEAR_CODES",
    "ON_ROLL_STATUSES",
    "POSSIBLE_CATEGORIES",
    "REASON_CODES",
    "category_for",
    "category_table",
    "code_table",
    "enrol_status_table",
    "expected_nc_year_age",
    "nc_year_table",
    "normalise_category",
    "possible_for",
    "reason_table",
]
