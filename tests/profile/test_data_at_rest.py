"""Personal data at rest: the database rows hold ciphertext and keyed hashes, never the values."""

from sqlalchemy import text

from tests.profile import factories as f


def test_identity_phone_and_email_are_not_stored_in_clear(client, auth, profile_db):
    body = f.individual()
    c = f.register(client, auth("staff"), body)
    with profile_db.read() as s:
        row = s.execute(text("SELECT * FROM customer")).mappings().one()
        dump = " ".join(str(v) for v in row.values())
        outbox = " ".join(str(r) for r in s.execute(text("SELECT * FROM outbox_event")))
    for secret in (body["resident_id"], body["phone"], body["email"], body["resident_id"][-8:]):
        assert secret not in dump and secret not in outbox
    assert row["name"] == body["name"]  # names stay searchable by prefix
    assert row["id_number_enc"].startswith("k1.") and len(row["id_number_hash"]) == 64
    assert c["id"].replace("-", "") in dump.replace("-", "")


def test_ciphertext_of_one_column_does_not_decrypt_as_another(profile_app):
    vault = profile_app.state.privacy.vault
    token = vault.encrypt("13812345678", "customer.phone")
    assert vault.decrypt(token, "customer.phone") == "13812345678"
    try:
        vault.decrypt(token, "customer.id_number")
    except Exception as err:  # noqa: BLE001
        assert type(err).__name__ == "InvalidTag"
    else:
        raise AssertionError("a phone ciphertext decrypted as an ID number")
