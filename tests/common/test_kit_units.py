"""Kit mechanisms in isolation: money, cursors, masking, encryption keys, settings, log redaction."""

import json
import logging

import pytest

from services.common.config import BaseServiceSettings
from services.common.errors import InvalidInput, PreconditionFailed, PreconditionRequired
from services.common.etag import check_version, expected_version
from services.common.logs import JsonFormatter, redact
from services.common.money import fen_to_str, str_to_fen
from services.common.pagination import decode_cursor, encode_cursor
from services.common.pii import ERASED, Mask, PersonalDataVault, mask_email, mask_text, parse_keyring

KEY_A = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE="  # 32 x 'a'
KEY_B = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI="


@pytest.mark.parametrize("fen, text", [(0, "0.00"), (5, "0.05"), (1234567, "12345.67"), (-250, "-2.50")])
def test_money_round_trips_between_fen_and_text(fen, text):
    assert fen_to_str(fen) == text and str_to_fen(text) == fen


@pytest.mark.parametrize("text", ["1.234", "abc", "NaN", "Infinity", "", "1.2.3", "1e-3"])
def test_money_rejects_what_is_not_fen(text):
    with pytest.raises(ValueError):
        str_to_fen(text)


@pytest.mark.parametrize(
    "text, fen",
    [("7", 700), ("7.5", 750), ("007.07", 707), ("1.", 100), (".5", 50), ("-1.5", -150), ("+2", 200), ("1_000", 100000)]
    + [("１２", 1200), ("123456789012345678.91", 12345678901234567891), (" 3 ", 300), ("1e3", 100000)],
)
def test_money_reads_every_form_decimal_reads_with_or_without_its_integer_shortcut(text, fen):
    assert str_to_fen(text) == fen


def test_cursor_round_trips_and_rejects_foreign_values():
    assert decode_cursor(encode_cursor(["100000000016"])) == ["100000000016"]
    assert decode_cursor(encode_cursor([42]), (int,)) == [42]
    for bad in ["%%%", encode_cursor([42]), encode_cursor(["a", "b"]), encode_cursor({"a": 1}), encode_cursor([True])]:
        with pytest.raises(InvalidInput):
            decode_cursor(bad)
    assert decode_cursor(None) is None


@pytest.mark.parametrize(
    "spec, value, masked",
    [
        ("6,4", "11010519491231002X", "110105********002X"),
        ("3,4", "13812345678", "138****5678"),
        ("6,4", "6222021234567890123", "622202*********0123"),
        ("3,4", "1234", "****"),
    ],
)
def test_mask_keeps_first_and_last(spec, value, masked):
    assert Mask.parse(spec).apply(value) == masked


def test_mask_email_keeps_domain():
    assert mask_email("wang.xm@example.cn") == "w***@example.cn"


def test_vault_decrypts_with_old_key_after_rotation():
    old = PersonalDataVault(f"k1:{KEY_A}", "h")
    token = old.encrypt("13812345678", "customer.phone")
    rotated = PersonalDataVault(f"k2:{KEY_B},k1:{KEY_A}", "h")
    assert rotated.decrypt(token, "customer.phone") == "13812345678"
    assert rotated.encrypt("x", "f").startswith("k2.")
    assert old.lookup_hash("13812345678", "customer.phone") == rotated.lookup_hash("13812345678", "customer.phone")
    assert old.lookup_hash("1", "a") != PersonalDataVault(KEY_A, "other").lookup_hash("1", "a")


def test_keyring_rejects_short_key():
    with pytest.raises(ValueError):
        parse_keyring("k1:c2hvcnQ=")


def test_settings_refuse_placeholder_secrets_outside_development():
    with pytest.raises(ValueError, match="jwt_secret"):
        BaseServiceSettings(environment="production")
    assert BaseServiceSettings(environment="production", jwt_secret="a-real-secret-from-the-vault-123456")
    assert BaseServiceSettings(environment="development")


def test_etag_rules():
    assert expected_version('"3"') == 3 and expected_version('W/"3"') == 3
    assert expected_version(None, required=False) is None
    with pytest.raises(PreconditionRequired):
        expected_version(None)
    with pytest.raises(InvalidInput):
        expected_version("abc")
    with pytest.raises(PreconditionFailed):
        check_version(4, 3)
    check_version(3, 3)
    check_version(3, None)


def test_logs_redact_personal_data_and_tokens():
    line = (
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig id 11010519491231002X phone 13812345678 mail wang@example.cn"
    )
    out = redact(line)
    for secret in ("eyJhbGciOiJIUzI1NiJ9", "11010519491231002X", "13812345678", "wang@example.cn"):
        assert secret not in out
    assert "110105********002X" in out and "138****5678" in out


def test_logs_redact_documents_and_numbers_outside_the_mainland():
    out = redact("hk +85261234567 uk +447911123456 card KAZ110090123105 permit H1234567801 / M12345678 port 8001")
    for secret in ("+85261234567", "+447911123456", "KAZ110090123105", "H1234567801", "M12345678"):
        assert secret not in out
    assert "+852****4567" in out and "KAZ********3105" in out and "H****7801" in out and "port 8001" in out


def test_logs_redact_spaced_numbers_cards_landlines_chinese_text_and_postgres_detail():
    line = (
        "客户王小明 住北京市朝阳区建国路88号 mobile 138 1234 5678 / 139-8765-4321 landline 010-12345678 "
        "0755 1234567 card 6222 0212 3456 7890 / 6222021234567890123\n"
        "DETAIL:  Failing row contains (c-1, 王小明, 13812345678).\n"
        "psycopg: Failing row contains (c-2, Wang Xiaoming, 1990-01-01)."
    )
    out = redact(line)
    for secret in ("王小明", "建国路", "1234 5678", "8765-4321", "12345678", "1234567", "0212 3456", "Wang Xiaoming"):
        assert secret not in out, secret
    assert "138****5678" in out and "139****4321" in out and "010-*****78" in out
    assert "622202******7890" in out and "622202*********0123" in out and "DETAIL: [redacted]" in out


def test_logs_keep_what_is_not_personal_data():
    line = "request 550e8400-e29b-41d4-a716-012345678901 at 2026-12-05T13:09:57.123Z took 12.5 ms, position 1234567"
    assert redact(line) == line


def test_json_formatter_writes_one_redacted_object():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "phone %s", ("13812345678",), None)
    entry = json.loads(JsonFormatter("profile").format(record))
    assert entry["msg"] == "phone 138****5678" and entry["service"] == "profile" and entry["level"] == "info"


def test_verifier_remembers_a_token_but_still_checks_its_expiry(monkeypatch):
    from services.common import auth
    from services.common.errors import Unauthorized

    verifier = auth.TokenVerifier(BaseServiceSettings(jwt_leeway_seconds=0))
    token = auth.mint_token(verifier.key, sub="s-1", role="staff", ttl_seconds=60)
    assert verifier.verify(token).sub == "s-1"
    assert verifier.verify(token).sub == "s-1"  # from memory
    later = auth.time.time() + 120
    monkeypatch.setattr(auth.time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(token)
    with pytest.raises(Unauthorized):
        verifier.verify(token[:-2] + "xx")  # a forged signature is never served from memory


def test_verifier_accepts_rs256_with_the_public_key_only():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from services.common import auth
    from services.common.errors import Unauthorized

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = BaseServiceSettings(environment="production", jwt_algorithm="RS256", jwt_public_key=public_pem)
    verifier = auth.TokenVerifier(settings)
    token = auth.mint_token(private, sub="s-9", role="supervisor", branch="BR0002", algorithm="RS256")
    assert verifier.verify(token) == auth.Principal(sub="s-9", role="supervisor", branch="BR0002")
    with pytest.raises(Unauthorized):
        verifier.verify(_hs256_signed_with(public_pem, {"sub": "x", "role": "admin", "exp": 4102444800}))


def _hs256_signed_with(key: str, claims: dict) -> str:
    """The classic key-confusion forgery: HS256 keyed with the server's public key."""
    import base64
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(hmac.new(key.encode(), head.encode(), hashlib.sha256).digest())


def test_settings_refuse_an_unknown_variable_under_their_prefix(monkeypatch):
    from pydantic import ValidationError

    from services.feedback.config import FeedbackSettings

    monkeypatch.setenv("FEEDBACK_LOYALTY_FEED_URL", "http://127.0.0.1:8004/v1/events")  # feedback reads no such feed
    with pytest.raises(ValidationError, match="unknown settings FEEDBACK_LOYALTY_FEED_URL"):
        FeedbackSettings()
    monkeypatch.delenv("FEEDBACK_LOYALTY_FEED_URL")
    monkeypatch.setenv("FEEDBACK_CONSUMER_MAX_LAG", "5")  # a known one is taken
    assert FeedbackSettings().consumer_max_lag == 5


def test_feed_urls_follow_the_port_base_and_each_owners_own_port(monkeypatch):
    from services.loyalty.config import LoyaltySettings

    for name in ("PROFILE", "SEGMENTATION", "FEEDBACK", "LOYALTY"):
        monkeypatch.delenv(f"{name}_PORT", raising=False)
    monkeypatch.setenv("SUITE_PORT_BASE", "9100")
    monkeypatch.setenv("FEEDBACK_PORT", "9555")
    settings = LoyaltySettings(environment="test", segmentation_feed_url="")
    assert settings.port == 9104
    assert settings.profile_feed_url == "http://127.0.0.1:9101/v1/events"
    assert settings.feedback_feed_url == "http://127.0.0.1:9555/v1/events"
    assert settings.segmentation_feed_url == ""  # set empty: that feed is not consumed


def test_feed_urls_default_to_the_default_ports(monkeypatch):
    from services.segmentation.config import SegmentationSettings

    for name in ("PROFILE", "SEGMENTATION", "FEEDBACK", "LOYALTY"):
        monkeypatch.delenv(f"{name}_PORT", raising=False)
    monkeypatch.delenv("SUITE_PORT_BASE", raising=False)
    settings = SegmentationSettings(environment="test")
    assert (settings.port, settings.profile_feed_url, settings.loyalty_feed_url) == (
        8002,
        "http://127.0.0.1:8001/v1/events",
        "http://127.0.0.1:8004/v1/events",
    )


def test_service_keys_verify_only_their_own_services_system_tokens():
    from services.common.auth import TokenVerifier, mint_token
    from services.common.config import BaseServiceSettings
    from services.common.errors import Unauthorized
    from tests.rsa_keys import pem_pair

    (idp, idp_pub), (svc, svc_pub) = pem_pair(), pem_pair()
    verifier = TokenVerifier(
        BaseServiceSettings(
            jwt_algorithm="RS256", jwt_public_key=idp_pub, jwt_service_keys=json.dumps({"loyalty-consumer.v2": svc_pub})
        )
    )

    def token(key: str, sub: str, role: str, kid: str | None) -> str:
        return mint_token(key, sub=sub, role=role, algorithm="RS256", kid=kid)

    assert verifier.verify(token(svc, "loyalty-consumer", "system", "loyalty-consumer.v2")).role == "system"
    assert verifier.verify(token(idp, "staff-1", "staff", None)).role == "staff"
    for bad in (
        token(svc, "segmentation-consumer", "system", "loyalty-consumer.v2"),  # another service's name
        token(svc, "loyalty-consumer", "admin", "loyalty-consumer.v2"),  # more than a system token
        token(svc, "loyalty-consumer", "system", None),  # without the kid: checked against the IdP key
        token(idp, "loyalty-consumer", "system", "loyalty-consumer.v2"),  # the kid, but not its key
    ):
        with pytest.raises(Unauthorized):
            verifier.verify(bad)


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("身份证11010519491231002X办理", "身份证110105********002X办理"),
        ("手机13800138000", "手机138****8000"),
        ("手机138 0013 8000或138-0013-8000", "手机138****8000或138****8000"),
        ("座机010-62345678", "座机010-*****78"),
        ("卡号6222 0212 3456 7890 123", "卡号622202*********0123"),
        ("邮箱wang.li@example.com", "邮箱[redacted-email]"),
        ("没有号码的话", "没有号码的话"),
    ],
)
def test_mask_text_masks_the_values_inside_free_text_and_keeps_the_words(typed, shown):
    assert mask_text(typed) == shown
    assert redact(typed).count("*") == shown.count("*")  # the logs mask the same values the same way


def test_vault_seals_free_text_but_not_the_erased_marker_and_reads_old_plain_rows():
    vault = PersonalDataVault(f"k1:{KEY_A}", "h")
    sealed = vault.seal("投诉内容", "complaint.description")
    assert sealed is not None and sealed.startswith("k1.") and "投诉" not in sealed
    assert vault.unseal(sealed, "complaint.description") == "投诉内容"
    assert vault.seal(ERASED, "f") == ERASED and vault.seal(None, "f") is None
    assert vault.unseal("written before encryption", "f") == "written before encryption"
    assert vault.unseal(sealed, "another.field") == sealed  # bound to its field: never decrypted elsewhere
    doc = vault.seal_document({"description": "投诉内容"}, "idempotency.response")
    assert "投诉" not in json.dumps(doc, ensure_ascii=False)
    assert vault.unseal_document(doc, "idempotency.response") == {"description": "投诉内容"}
    assert vault.unseal_document({"id": 1}, "idempotency.response") == {"id": 1}
