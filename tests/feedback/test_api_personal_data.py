"""GET /v1/personal-data/{customer_id}: feedback's part of a person's export (complaints with every
step and the values staff see masked in full, survey responses with every answer, follow-ups), each
export on the access log, and who may ask."""

import uuid

import pytest

from tests.feedback import factories as f
from tests.personal_data import assert_refusals

SQLITE_ONLY = pytest.mark.parametrize("feedback_db", ["sqlite"], indirect=True)
AGENT = "欧阳代理人"


def _path(cid: str) -> str:
    return f"/v1/personal-data/{cid}"


def _held(client, auth) -> tuple[str, str, str]:
    cid = str(uuid.uuid4())
    me = auth("customer", sub=cid)
    rep = {"kind": "agent", "name": AGENT, "proof_ref": "授权委托书-001"}
    complaint = f.file(client, me, f.complaint(customer_id=cid, representative=rep))
    f.step(client, auth("staff"), complaint["id"], "acknowledge")
    survey = f.published_survey(client, auth("staff"))
    response = f.answer(client, me, survey["id"], nps=3, used=["app", "atm"], comment="排队太久")
    return cid, complaint["id"], response["id"]


def test_export_own_data_every_kind_in_full_and_access_logged(client, auth):
    cid, complaint_id, response_id = _held(client, auth)
    masked = client.get(f"/v1/complaints/{complaint_id}", headers=auth("staff")).json()["representative"]["name"]
    assert masked != AGENT
    resp = client.get(_path(cid), headers=auth("customer", sub=cid))
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert (body["service"], body["customer_id"]) == ("feedback", cid)
    data = body["data"]
    [complaint] = data["complaints"]
    assert complaint["id"] == complaint_id and complaint["representative"]["name"] == AGENT
    assert [s["action"] for s in complaint["steps"]] == ["receive", "acknowledge"]
    [response] = data["survey_responses"]
    assert (response["id"], response["nps"]) == (response_id, 3)
    answers = {(a["question_id"], a["value_int"], a["choice"], a["text"]) for a in response["answers"]}
    assert answers == {("nps", 3, None, None), ("used", None, "app", None), ("used", None, "atm", None)} | {
        ("comment", None, None, "排队太久")
    }
    [follow_up] = data["follow_ups"]
    assert (follow_up["response_id"], follow_up["status"]) == (response_id, "open")
    assert [(a["action"], a["actor_sub"]) for a in data["access_log"]] == [("personal_data.exported", cid)]
    again = client.get(_path(cid), headers=auth("supervisor", sub="sup-1")).json()["data"]["access_log"]
    assert [(a["actor_sub"], a["actor_role"]) for a in again] == [(cid, "customer"), ("sup-1", "supervisor")]


def test_export_holds_only_this_customer(client, auth):
    _held(client, auth)
    cid = str(uuid.uuid4())
    data = client.get(_path(cid), headers=auth("admin")).json()["data"]
    assert (data["complaints"], data["survey_responses"], data["follow_ups"]) == ([], [], [])
    assert [a["actor_role"] for a in data["access_log"]] == ["admin"]


@SQLITE_ONLY
def test_export_refusals_401_403_404_422(client, auth):
    assert_refusals(client, auth)
