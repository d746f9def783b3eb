"""Kraken private-REST authentication: ``API-Sign`` and credentials that never leak.

``API-Sign = base64(HMAC-SHA512(key=b64decode(secret), msg=uri_path + SHA256(nonce + postdata)))``
where ``postdata`` is the exact body sent (form-encoded or JSON) including the nonce.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets as _secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs

from tradejet.errors import AuthError, ConfigError

__all__ = ["sign", "nonce_of", "Credentials", "generate_credentials"]


def nonce_of(postdata: str) -> str:
    """Return the ``nonce`` field of a form-encoded or JSON body.

    >>> nonce_of("nonce=17&pair=XBTUSD")
    '17'
    >>> nonce_of('{"nonce": 18, "pair": "XBTUSD"}')
    '18'
    """
    text = postdata.lstrip()
    if text.startswith("{"):
        try:
            value = json.loads(text).get("nonce")
        except (ValueError, AttributeError):
            value = None
    else:
        value = (parse_qs(postdata, keep_blank_values=True).get("nonce") or [None])[0]
    if value is None or str(value) == "":
        raise AuthError("the request body has no nonce field; Kraken needs one in every private call")
    return str(value)


def _secret_bytes(secret: str | bytes) -> bytes:
    try:
        return base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise AuthError("the API secret is not valid base64 (copy the private key exactly as Kraken shows it)") from None


def sign(uri_path: str, postdata: str, secret: str | bytes, nonce: str | int | None = None) -> str:
    """Return Kraken's ``API-Sign`` header value for one private request.

    ``nonce`` defaults to the ``nonce`` field found in ``postdata``.

    >>> sign("/0/private/AddOrder",
    ...      "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
    ...      "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==")[:16]
    '4/dpxb3iT4tp/ZCV'
    """
    n = nonce_of(postdata) if nonce is None else str(nonce)
    digest = hashlib.sha256((n + postdata).encode()).digest()
    mac = hmac.new(_secret_bytes(secret), uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def _read_dotenv(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        k = k.strip().removeprefix("export ").strip()
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        out[k] = v
    return out


class Credentials:
    """An API key pair whose secret never appears in a repr, str, log or pickle.

    >>> c = Credentials("my-key", "c2VjcmV0")
    >>> "c2VjcmV0" in repr(c) or "my-key" in repr(c)
    False
    """

    __slots__ = ("_key", "_secret")

    def __init__(self, api_key: str, api_secret: str):
        if not api_key or not api_secret:
            raise ConfigError("both the API key and the API secret are needed", key="KRAKEN_API_KEY/KRAKEN_API_SECRET")
        _secret_bytes(api_secret)  # fail early, without echoing the value
        self._key = api_key
        self._secret = api_secret

    @property
    def api_key(self) -> str:
        return self._key

    def sign(self, uri_path: str, postdata: str, nonce: str | int | None = None) -> str:
        """Return ``API-Sign`` for ``postdata`` sent to ``uri_path``."""
        return sign(uri_path, postdata, self._secret, nonce)

    def reveal_secret(self) -> str:
        """Return the base64 secret (for a sandbox that must verify signatures)."""
        return self._secret

    def __repr__(self) -> str:
        return f"Credentials(api_key='{_mask(self._key)}', api_secret='***')"

    __str__ = __repr__

    def __reduce__(self):  # pragma: no cover - refuse to serialise secrets
        raise TypeError("Credentials cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Credentials) and hmac.compare_digest(
            (self._key + "\0" + self._secret).encode(), (other._key + "\0" + other._secret).encode())

    def __hash__(self) -> int:
        return hash(self._key)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv: str | os.PathLike[str] | None = ".env") -> Credentials:
        """Return credentials from ``KRAKEN_API_KEY``/``KRAKEN_API_SECRET``, else from a ``.env`` file.

        Raises :class:`~tradejet.errors.ConfigError` (naming the variables, never their values)
        when either is missing.
        """
        env = os.environ if env is None else env
        key, secret = env.get("KRAKEN_API_KEY"), env.get("KRAKEN_API_SECRET")
        source = "environment"
        if (not key or not secret) and dotenv is not None:
            values = _read_dotenv(Path(dotenv))
            key = key or values.get("KRAKEN_API_KEY")
            secret = secret or values.get("KRAKEN_API_SECRET")
            source = f"environment + {dotenv}"
        if not key or not secret:
            raise ConfigError("Kraken credentials not found: set KRAKEN_API_KEY and KRAKEN_API_SECRET",
                              key="KRAKEN_API_KEY/KRAKEN_API_SECRET", source=source)
        return cls(key, secret)


def _mask(text: str) -> str:
    return text[:4] + "..." if len(text) > 8 else "***"


def generate_credentials() -> Credentials:
    """Return a fresh random key pair in Kraken's format (56-char key, 64-byte base64 secret)."""
    key = base64.b64encode(_secrets.token_bytes(42)).decode()
    secret = base64.b64encode(_secrets.token_bytes(64)).decode()
    return Credentials(key, secret)
