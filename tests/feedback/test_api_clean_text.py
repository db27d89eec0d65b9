"""Feedback refuses NUL and other control characters in every free-text field with a 422 naming it
(PostgreSQL cannot store NUL; it used to be a 500 with the text in the log), keeping new lines."""

from tests.feedback import factories as f


def _locs(resp) -> list:
    assert resp.status_code == 422, resp.text
    return [e["loc"] for e in resp.json()["errors"]]


def test_a_complaint_description_with_nul_is_422_and_nothing_is_filed(client, auth):
    staff = auth("staff")
    body = f.complaint(description="转账失败\u0000电话13800138000")
    assert _locs(client.post("/v1/complaints", json=body, headers=staff)) == [["body", "description"]]
    assert client.get("/v1/complaints", headers=staff).json()["items"] == []
    filed = f.file(client, staff, f.complaint(description="第一行\n第二行\t完"))  # multi-line text is fine
    assert filed["description"] == "第一行\n第二行\t完"


def test_a_step_note_and_a_survey_title_with_control_characters_are_422(client, auth):
    staff = auth("staff")
    cid = f.file(client, staff)["id"]
    resp = client.post(f"/v1/complaints/{cid}/steps", json={"action": "note", "note": "a\x1bb"}, headers=staff)
    assert _locs(resp) == [["body", "note"]]
    resp = client.post("/v1/surveys", json=f.survey(title="满意度\u0000"), headers=staff)
    assert _locs(resp) == [["body", "title"]]
