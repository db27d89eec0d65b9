"""RSA key pairs for tests of the RS256 configuration."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def pem_pair() -> tuple[str, str]:
    """(private key PEM, public key PEM) of a fresh 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


def jwk(public_pem: str, kid: str) -> dict:
    """The public key as a JWKS entry named `kid`."""
    import json

    from jwt.algorithms import RSAAlgorithm

    entry = json.loads(RSAAlgorithm.to_jwk(serialization.load_pem_public_key(public_pem.encode())))
    return {**entry, "kid": kid, "use": "sig", "alg": "RS256"}
