"""The gateway's logs are JSON lines that carry the route label and request id, never a token, a raw
path or a query string."""

import json

from services.common.auth import mint_token
from services.common.config import DEV_JWT_SECRET

CUSTOMER = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"


def test_logs_json_without_tokens_paths_or_queries(gateway, dead_url, capsys):
    token = mint_token(DEV_JWT_SECRET, sub="staff-logs", role="staff")
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "rid-logs"}
    good = gateway(log_level="INFO")  # logging is configured at create_app, onto the captured stderr
    good.get(f"/api/v1/customers/{CUSTOMER}?phone=13812345678", headers=headers)
    gateway(profile_url=dead_url, log_level="INFO").get(
        f"/api/v1/customers/{CUSTOMER}?phone=13812345678", headers=headers
    )
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    requests = [entry for entry in lines if entry["msg"] == "request"]
    failures = [entry for entry in lines if entry["msg"] == "upstream failed"]
    assert {(e["route"], e["status"]) for e in requests} == {("/api/v1/customers", 200), ("/api/v1/customers", 503)}
    assert failures and failures[0]["upstream"] == "profile" and failures[0]["service"] == "gateway"
    assert all(e["request_id"] == "rid-logs" for e in requests + failures)
    text = "\n".join(json.dumps(e, ensure_ascii=False) for e in lines)
    for secret in (token, token.split(".")[2], CUSTOMER, "13812345678", "phone="):
        assert secret not in text
