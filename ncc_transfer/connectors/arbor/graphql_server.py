"""The GraphQL front of the simulated Arbor (``simulator.py``): the schema it answers and one query's
execution over a school's rendered lists.

The query is parsed and validated by graphql-core against ``SCHEMA_SDL``, so an unknown field or
argument gives GraphQL's own error; each list is paged by ``page_size``/``page_num`` and cut down to the
fields the query selects.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from graphql import GraphQLError, build_schema, parse, validate
from graphql.language import FieldNode, OperationDefinitionNode
from graphql.utilities import value_from_ast_untyped

from ncc_transfer.connectors.arbor import mapping as A

# The GraphQL schema the simulator answers: every field the mapping names (and a few more), typed as
# Arbor's would be [GUESS: only the field names in mapping.py are sourced].
SCHEMA_SDL = f"""
type Query {{
  {A.STUDENT_ENTITY}({A.PAGE_SIZE_ARG}: Int, {A.PAGE_NUM_ARG}: Int, {A.ID_IN_ARG}: [ID]): [Student]
  {A.ATTENDANCE_ENTITY}({A.PAGE_SIZE_ARG}: Int, {A.PAGE_NUM_ARG}: Int, {A.ATTENDANCE_FROM_ARG}: String,
                   {A.ATTENDANCE_BEFORE_ARG}: String): [AttendanceRecord]
  {A.FIXED_PERIOD_ENTITY}({A.PAGE_SIZE_ARG}: Int, {A.PAGE_NUM_ARG}: Int): [FixedPeriodExclusion]
  {A.PERMANENT_ENTITY}({A.PAGE_SIZE_ARG}: Int, {A.PAGE_NUM_ARG}: Int): [PermanentExclusion]
  {A.SEN_ENTITY}({A.PAGE_SIZE_ARG}: Int, {A.PAGE_NUM_ARG}: Int): [SenStatusAssignment]
  {A.FSM_ENTITY}({A.PAGE_SIZE_ARG}: Int, {A.PAGE_NUM_ARG}: Int): [EligibilityRecord]
  {A.IN_CARE_ENTITY}({A.PAGE_SIZE_ARG}: Int, {A.PAGE_NUM_ARG}: Int): [InCareStatusAssignment]
  {A.CHILD_PROTECTION_ENTITY}({A.PAGE_SIZE_ARG}: Int, {A.PAGE_NUM_ARG}: Int): [ChildProtectionStatusAssignment]
}}
type Student {{
  id: ID  revisionId: Int  upn: String  formerUpn: String  displayName: String
  legalFirstName: String  legalMiddleNames: String  legalLastName: String
  preferredFirstName: String  preferredLastName: String  entryDate: String  leavingDate: String
  person: Person  displayAcademicLevel: AcademicLevel  enrolmentMode: EnrolmentMode  postalAddress: PostalAddress
}}
type Person {{ id: ID  dateOfBirth: String  gender: String }}
type AcademicLevel {{ id: ID  displayName: String }}
type EnrolmentMode {{ code: String }}
type PostalAddress {{ address1: String  postalTown: String  postalCode: String }}
type AttendanceRecord {{
  id: ID  student: Student  startDatetime: String  endDatetime: String  attendanceMark: AttendanceMark
  minutesLate: Int
}}
type AttendanceMark {{ code: String }}
type ExclusionReason {{ code: String  exportCode: String }}
type ExclusionExclusionReason {{ exclusionReason: ExclusionReason }}
type FixedPeriodExclusion {{
  id: ID  student: Student  fromDatetime: String  untilDatetime: String  schoolDefinedSessionsExcluded: Int
  isLunchtimeExclusion: Boolean  exclusionReason: ExclusionReason
  exclusionExclusionReasons: [ExclusionExclusionReason]  narrative: String
}}
type PermanentExclusion {{
  id: ID  student: Student  fromDate: String  startSession: String  exclusionReason: ExclusionReason
  exclusionExclusionReasons: [ExclusionExclusionReason]  narrative: String
}}
"""
SCHEMA_SDL += """
type SenStatus { id: ID  code: String  exportCode: String  countsAsSenStatus: Boolean }
type SenStatusAssignment { id: ID  student: Student  startDate: String  endDate: String  senStatus: SenStatus }
type Eligibility { id: ID  code: String  eligibilityName: String }
type EligibilityRecord {
  id: ID  person: Student  startDate: String  endDate: String  eligibility: Eligibility
  lastVerifiedDate: String  nextCheckDate: String
}
type InCareStatus { id: ID  code: String  countsAsInCareStatus: Boolean }
type InCareStatusAssignment {
  id: ID  student: Student  startDate: String  endDate: String  inCareStatus: InCareStatus
}
type ChildProtectionStatus { id: ID  code: String  childProtectionStatusName: String }
type ChildProtectionStatusAssignment {
  id: ID  student: Student  startDate: String  endDate: String  childProtectionStatus: ChildProtectionStatus
}
"""  # the cohort entities (mapping.COHORT_ENTITIES; a pupil's EligibilityRecord.person is its Student: GUESS)
SCHEMA = build_schema(SCHEMA_SDL)


class QueryError(Exception):
    """A request the simulated GraphQL server answers with ``errors``."""


def _plan(field: FieldNode) -> tuple | None:
    """A field's selection set as ``((output name, field name, sub-plan), ...)``; None for a leaf."""
    if field.selection_set is None:
        return None
    plan = []
    for sub in field.selection_set.selections:
        if not isinstance(sub, FieldNode):
            raise QueryError("Fragments are not supported by the simulator.")
        plan.append(((sub.alias or sub.name).value, sub.name.value, _plan(sub)))
    return tuple(plan)


def _project(value: Any, plan: tuple | None) -> Any:
    """``value`` cut down to a selection plan (lists element by element)."""
    if plan is None or value is None:
        return value
    if isinstance(value, list):
        return [_project(v, plan) for v in value]
    return {out: _project(value.get(name), sub) for out, name, sub in plan}


def _page(items: list[dict], args: dict, first_page: int) -> list[dict]:
    size = args.get(A.PAGE_SIZE_ARG)
    size = A.MAX_PAGE_SIZE if size is None else size
    if not 0 < size <= A.MAX_PAGE_SIZE:
        raise QueryError(f"page_size must be between 1 and {A.MAX_PAGE_SIZE}.")  # [GUESS] message
    num = args.get(A.PAGE_NUM_ARG)
    num = first_page if num is None else max(num, first_page)
    offset = (num - first_page) * size
    return items[offset:offset + size]


def execute(query: str, variables: dict | None, lists_for: Callable[[str, tuple], list[dict]],
            first_page: int = A.FIRST_PAGE_NUM) -> dict:
    """Answer a GraphQL query: ``{"data": ...}`` or ``{"errors": [...]}`` (GraphQL's own messages)."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return {"errors": [exc.formatted]}
    problems = validate(SCHEMA, document)
    if problems:
        return {"errors": [p.formatted for p in problems]}
    operation = next((d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None)
    if operation is None or operation.operation.value != "query":
        return {"errors": [{"message": "Only queries are supported."}]}
    data: dict[str, Any] = {}
    try:
        for field in operation.selection_set.selections:
            if not isinstance(field, FieldNode):
                raise QueryError("Fragments are not supported by the simulator.")
            if field.name.value == "__typename":
                data[(field.alias or field.name).value] = "Query"
                continue
            args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in field.arguments}
            filters = tuple(sorted((k, json.dumps(v)) for k, v in args.items()
                                   if k not in (A.PAGE_SIZE_ARG, A.PAGE_NUM_ARG)))
            items = _page(lists_for(field.name.value, filters), args, first_page)
            plan = _plan(field)
            data[(field.alias or field.name).value] = [_project(r, plan) for r in items]
    except QueryError as exc:
        return {"data": None, "errors": [{"message": str(exc)}]}
    return {"data": data}
