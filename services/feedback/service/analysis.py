"""Survey analysis computed in the database: NPS, CSAT and CES with sample sizes, breakdowns, monthly
trend, answer distributions and drivers are each one aggregate query (GROUP BY with CASE sums);
only free-text terms leave the database, to be segmented with jieba."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import FromClause, Select, String, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlmodel import col

from services.common.branch_scope import in_reach
from services.common.db import Database, table_of
from services.common.errors import InvalidInput
from services.common.pii import PersonalDataVault
from services.feedback.models import CustomerRef, CustomerSegment, Survey, SurveyAnswer, SurveyResponse
from services.feedback.schemas.analysis import (
    Breakdown,
    BreakdownRow,
    DistributionItem,
    DriverRow,
    Drivers,
    QuestionDistribution,
    Score,
    SurveyAnalysis,
    Term,
    Terms,
)
from services.feedback.service.free_text import ANSWER_FIELD, open_text
from services.feedback.service.surveys import survey_not_found
from services.feedback.service.terms import count_terms

R = table_of(SurveyResponse)
A = table_of(SurveyAnswer)
SEG = table_of(CustomerSegment)
BREAKDOWNS = ("branch", "region_type", "customer_type", "segment_class", "channel", "month")


def score_columns():
    one = literal(1)
    return [
        func.count().label("responses"),
        func.count(R.c.nps).label("nps_n"),
        func.coalesce(func.sum(case((R.c.nps >= 9, one), else_=0)), 0).label("promoters"),
        func.coalesce(func.sum(case((R.c.nps <= 6, one), else_=0)), 0).label("detractors"),
        func.count(R.c.csat).label("csat_n"),
        func.coalesce(func.sum(case((R.c.csat >= 4, one), else_=0)), 0).label("satisfied"),
        func.count(R.c.ces).label("ces_n"),
        func.coalesce(func.sum(R.c.ces), 0).label("ces_sum"),
    ]


def scores_from(row: Any, small: int) -> dict[str, Any]:
    """Scores from one aggregate row: NPS in points to one decimal, CSAT in percent, CES mean to two."""

    def score(value: float | None, n: int) -> Score:
        return Score(value=value, n=n, small_sample=n < small)

    nps = round(100.0 * (row.promoters - row.detractors) / row.nps_n, 1) if row.nps_n else None
    csat = round(100.0 * row.satisfied / row.csat_n, 1) if row.csat_n else None
    ces = round(row.ces_sum / row.ces_n, 2) if row.ces_n else None
    return {
        "responses": row.responses,
        "nps": score(nps, row.nps_n),
        "csat": score(csat, row.csat_n),
        "ces": score(ces, row.ces_n),
    }


def _period(survey_id: uuid.UUID, start: datetime | None, end: datetime | None, reach: set[str] | None) -> list:
    """The responses to the survey in [start, end), of the respondents' branches in `reach` (None: every
    branch; a response carries its respondent's branch). The bounds are on the partition key: on
    PostgreSQL a bounded period reads only the months it covers (tests/feedback/test_partitions.py)."""
    return [R.c.survey_id == survey_id, in_reach(R.c.branch_code, reach), *_within(R.c.responded_at, start, end)]


def _within(column: Any, start: datetime | None, end: datetime | None) -> list:
    """[start, end) on `column`, either bound left out when None."""
    return [*([column >= start] if start is not None else []), *([column < end] if end is not None else [])]


def _answer_bounds(start: datetime | None, end: datetime | None) -> list:
    """[start, end) on the answers' own copy of their response's time, the answers' partition key: on
    PostgreSQL only the period's months of survey_answer are read, joined to the responses or not."""
    return _within(A.c.responded_at, start, end)


def _answer_period(survey_id: uuid.UUID, start: datetime | None, end: datetime | None, reach: set[str] | None) -> list:
    """The answers to the survey in [start, end), of the respondents in `reach`: an answer carries its
    response's time, so the responses looked up for the reach are bounded alike (on PostgreSQL only
    the period's months are read)."""
    where = [A.c.survey_id == survey_id, *_answer_bounds(start, end)]
    if reach is not None:
        where.append(A.c.response_id.in_(select(R.c.id).where(*_period(survey_id, start, end, reach))))
    return where


def scores_query(survey_id: uuid.UUID, start: datetime | None, end: datetime | None, reach: set[str] | None) -> Select:
    """The scores of the period's responses, one aggregate row."""
    return select(*score_columns()).where(*_period(survey_id, start, end, reach))


def distribution_query(
    survey_id: uuid.UUID, start: datetime | None, end: datetime | None, reach: set[str] | None
) -> Select:
    """One scan of the period's answers alone (they carry survey id and time): a count per question and
    answer; free-text answers fall into one group per question with neither a value nor a choice."""
    return (
        select(A.c.question_id, A.c.value_int, A.c.choice, func.count().label("n"))
        .where(*_answer_period(survey_id, start, end, reach))
        .group_by(A.c.question_id, A.c.value_int, A.c.choice)
    )


def _latest_survey(s: Session, survey_id: uuid.UUID) -> Survey:
    sv = s.execute(select(Survey).where(Survey.id == survey_id).order_by(col(Survey.version).desc()).limit(1)).scalar()
    if sv is None:
        raise survey_not_found(survey_id)
    return sv


def _audience_size(s: Session, sv: Survey, reach: set[str] | None) -> int:
    ref = table_of(CustomerRef)
    stmt = select(func.count()).select_from(ref).where(ref.c.status == "active", in_reach(ref.c.branch_code, reach))
    if sv.audience_kind == "branch":
        stmt = stmt.where(ref.c.branch_code == sv.audience_value)
    elif sv.audience_kind == "segment":
        scheme, _, cls = (sv.audience_value or "").partition(":")
        stmt = stmt.join(SEG, and_(SEG.c.customer_id == ref.c.customer_id, SEG.c.scheme == scheme)).where(
            SEG.c.segment_class == cls
        )
    return s.execute(stmt).scalar_one()


def analyse_survey(
    db: Database,
    *,
    survey_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    small_sample: int,
    reach: set[str] | None = None,
) -> SurveyAnalysis:
    """Every score, count and the response rate over the respondents of the branches in `reach`."""
    with db.read() as s:
        sv = _latest_survey(s, survey_id)
        totals = s.execute(scores_query(survey_id, start, end, reach)).one()
        audience = _audience_size(s, sv, reach)
        dist = s.execute(distribution_query(survey_id, start, end, reach)).all()
        multiple = [q["id"] for q in sv.questions if q["type"] == "multiple_choice"]
        answered_multiple: dict[str, int] = (
            dict(
                s.execute(
                    select(A.c.question_id, func.count(func.distinct(A.c.response_id)))
                    .where(*_answer_period(survey_id, start, end, reach), A.c.question_id.in_(multiple))
                    .group_by(A.c.question_id)
                ).all()
            )
            if multiple
            else {}
        )
    answered: dict[str, int] = {}
    for row in dist:
        answered[row.question_id] = answered.get(row.question_id, 0) + row.n
    answered.update(answered_multiple)
    by_question: dict[str, list[DistributionItem]] = {}
    for row in dist:
        if row.value_int is None and row.choice is None:
            continue  # free text: counted in `answered`, no distribution
        answer = str(row.value_int) if row.value_int is not None else row.choice
        by_question.setdefault(row.question_id, []).append(DistributionItem(answer=answer, count=row.n))
    distributions = [
        QuestionDistribution(
            question_id=q["id"],
            type=q["type"],
            n=answered.get(q["id"], 0),
            items=sorted(by_question.get(q["id"], []), key=lambda i: _order(q, i.answer)),
        )
        for q in sv.questions
    ]
    return SurveyAnalysis(
        survey_id=survey_id,
        audience_size=audience,
        response_rate=round(totals.responses / audience, 4) if audience else None,
        distributions=distributions,
        **scores_from(totals, small_sample),
    )


def _order(question: dict, answer: str) -> tuple[int, str]:
    if question.get("options"):
        return (question["options"].index(answer) if answer in question["options"] else 999, answer)
    return (int(answer) if answer.lstrip("-").isdigit() else 999, answer)


def _month(dialect: str):
    """(the group key, the label): on PostgreSQL the rows are grouped on date_trunc, cheaper per row
    than formatting, and only the groups are formatted."""
    if dialect == "postgresql":
        key = func.date_trunc("month", func.timezone("UTC", R.c.responded_at))
        return key, func.to_char(key, "YYYY-MM")
    key = func.strftime("%Y-%m", R.c.responded_at)
    return key, key


COLUMN_BREAKDOWNS = {
    "branch": R.c.branch_code,
    "region_type": R.c.region_type,
    "customer_type": R.c.customer_type,
    "channel": R.c.channel,
}


def _breakdown_rows(s: Session, by: str, scheme: str | None, where: list, small: int) -> list[BreakdownRow]:
    source: FromClause = R
    if by == "segment_class":
        source = R.outerjoin(SEG, and_(SEG.c.customer_id == R.c.customer_id, SEG.c.scheme == scheme))
        group = label = SEG.c.segment_class
    elif by == "month":
        group, label = _month(s.get_bind().dialect.name)
    else:
        group = label = COLUMN_BREAKDOWNS[by]
    stmt = select(label.label("grp"), *score_columns()).select_from(source).where(*where).group_by(group)
    rows = [BreakdownRow(dimension=by, group=row.grp, **scores_from(row, small)) for row in s.execute(stmt)]
    return sorted(rows, key=lambda r: (r.group is None, r.group or ""))


def breakdown(
    db: Database,
    *,
    survey_id: uuid.UUID,
    by: str,
    scheme: str | None,
    start: datetime | None,
    end: datetime | None,
    small_sample: int,
    reach: set[str] | None = None,
) -> Breakdown:
    """Scores per branch, region type, customer type, segment class (of `scheme`), channel or month
    (the trend), each one GROUP BY; `all`: every dimension (segment class only with a scheme)."""
    if by == "segment_class" and not scheme:
        raise InvalidInput(
            [{"loc": ["query", "scheme"], "msg": "required to break down by segment class", "type": "missing"}]
        )
    where = _period(survey_id, start, end, reach)
    with db.read() as s:
        _latest_survey(s, survey_id)
        # `all` runs one GROUP BY per dimension: measured faster on PostgreSQL than one GROUPING SETS
        # scan, which sorts for every set (bench/feedback_bench.py).
        names = [by] if by != "all" else [*COLUMN_BREAKDOWNS, "month"]
        rows = [r for name in names for r in _breakdown_rows(s, name, scheme, where, small_sample)]
        if by == "all" and scheme:
            rows += _breakdown_rows(s, "segment_class", scheme, where, small_sample)
    return Breakdown(survey_id=survey_id, by=by, rows=rows)


def drivers_query(
    survey_id: uuid.UUID, start: datetime | None, end: datetime | None, reach: set[str] | None, closed: list[str]
) -> Select:
    """Per answer of the `closed` questions, the NPS of the period's responses that gave it: both tables
    bounded by the period, so on PostgreSQL each reads only its months."""
    answer = func.coalesce(A.c.choice, cast(A.c.value_int, String)).label("answer")
    return (
        select(
            A.c.question_id,
            answer,
            func.count(R.c.nps).label("n"),
            func.avg(R.c.nps).label("mean_nps"),
            func.sum(case((R.c.nps <= 6, 1), else_=0)).label("detractors"),
        )
        .select_from(A.join(R, R.c.id == A.c.response_id))
        .where(
            *_period(survey_id, start, end, reach),
            *_answer_bounds(start, end),
            A.c.survey_id == survey_id,
            A.c.question_id.in_(closed),
        )
        .group_by(A.c.question_id, answer)
    )


def drivers(
    db: Database,
    *,
    survey_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    reach: set[str] | None = None,
) -> Drivers:
    """For each answer of each closed question, the mean NPS of the customers who gave it and the
    share of detractors among them."""
    with db.read() as s:
        sv = _latest_survey(s, survey_id)
        closed = [q["id"] for q in sv.questions if q["type"] not in ("nps", "free_text")]
        if not closed:
            return Drivers(survey_id=survey_id, rows=[])
        rows = s.execute(drivers_query(survey_id, start, end, reach, closed)).all()
    out = [
        DriverRow(
            question_id=r.question_id,
            answer=r.answer,
            n=r.n,
            mean_nps=round(float(r.mean_nps), 2) if r.mean_nps is not None else None,
            detractor_share=round(r.detractors / r.n, 4) if r.n else None,
        )
        for r in rows
    ]
    out.sort(key=lambda r: (r.question_id, r.mean_nps if r.mean_nps is not None else 99))
    return Drivers(survey_id=survey_id, rows=out)


def top_terms(
    db: Database,
    *,
    survey_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    vault: PersonalDataVault,
    max_documents: int = 20000,
    reach: set[str] | None = None,
) -> Terms:
    """The most frequent terms in the free-text answers of the period (the newest `max_documents`),
    decrypted here with the values inside masked (so no phone or ID number becomes a term), segmented
    with jieba in a short-lived process (service/terms.py); stop words, punctuation and single
    characters are left out."""
    where = _period(survey_id, start, end, reach)
    with db.read() as s:
        _latest_survey(s, survey_id)
        texts = (
            s.execute(
                select(A.c.text)
                .select_from(A.join(R, R.c.id == A.c.response_id))
                .where(*where, *_answer_bounds(start, end), A.c.text.is_not(None))
                .order_by(R.c.responded_at.desc())
                .limit(max_documents)
            )
            .scalars()
            .all()
        )
    counts = count_terms([open_text(vault, t, ANSWER_FIELD, full=False) or "" for t in texts])
    return Terms(
        survey_id=survey_id,
        documents=len(texts),
        terms=[Term(term=t, count=n) for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]],
    )
