"""User JWTs and tenant API keys: minting and checking, with no database access."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

import jwt

from app.config import Settings
from app.errors import DomainError, ErrorCode
from app.text import forbidden_character

API_KEY_PREFIX = "sk_"
MAX_EXTERNAL_ID = 200
# JWT time claims are integers no later than the end of year 9999 (what a datetime can hold).
MAX_TIMESTAMP = 253402300799
MAX_CREDENTIAL = 4096
# A credential (JWT or API key) is printable ASCII without spaces.
_CREDENTIAL = re.compile(r"[\x21-\x7e]+")


class Role(str, Enum):
    """What a viewer may do in their tenant."""

    USER = "user"
    ADMIN = "admin"


class Unauthenticated(DomainError):
    """No usable credential."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.UNAUTHENTICATED, message)


@dataclass(frozen=True)
class TokenClaims:
    """What a valid user JWT says."""

    subject: str
    tenant_slug: str
    role: Role
    timezone: str | None
    expires_at: datetime


def valid_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA zone this machine knows."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return False
    return True


def mint_user_token(
    settings: Settings,
    *,
    tenant_slug: str,
    subject: str,
    role: Role = Role.USER,
    ttl_seconds: int = 3600,
    timezone: str | None = None,
) -> str:
    """A signed HS256 user JWT."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "tenant": tenant_slug,
        "role": role.value,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if timezone:
        claims["tz"] = timezone
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def check_credential(credential: str) -> str:
    """``credential`` if it can be a token or key at all (printable ASCII, bounded), else
    :class:`Unauthenticated`; NUL bytes, lone surrogates and the like never reach a decoder."""
    if len(credential) > MAX_CREDENTIAL or not _CREDENTIAL.fullmatch(credential):
        raise Unauthenticated("The credential is malformed")
    return credential


def _timestamp(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    # bool is an int in Python; a numeric string or a float is not an integer claim.
    if type(value) is not int or not 0 <= value <= MAX_TIMESTAMP:
        raise Unauthenticated(f"The token's `{name}` claim must be an integer timestamp up to year 9999")
    return value


def _text_claim(claims: dict[str, Any], name: str, *, limit: int) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit or forbidden_character(value):
        raise Unauthenticated(f"The token's `{name}` claim must be a non-empty string")
    return value


# Tokens verified lately, so that a client sending the same token request after request pays
# for its signature once: (token, secret, issuer, audience) -> (exp, claims). Only valid tokens
# are kept, each only until its `exp` (checked on every hit), at most VERIFIED_TOKENS of them.
VERIFIED_TOKENS = 4096
_verified: OrderedDict[tuple[str, str, str | None, str | None], tuple[int, TokenClaims]] = OrderedDict()


def read_user_token(settings: Settings, token: str) -> TokenClaims:
    """Verify a user JWT; any defect (signature, expiry, a claim of the wrong type or range)
    is :class:`Unauthenticated`. A token verified before is answered from memory until it expires."""
    key = (token, settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience)
    known = _verified.get(key)
    if known is not None:
        exp, claims = known
        if exp > time.time():
            _verified.move_to_end(key)
            return claims
        del _verified[key]
        raise Unauthenticated("The token has expired")
    exp, claims = _verify_user_token(settings, token)
    _verified[key] = (exp, claims)
    if len(_verified) > VERIFIED_TOKENS:
        _verified.popitem(last=False)
    return claims


def _verify_user_token(settings: Settings, token: str) -> tuple[int, TokenClaims]:
    check_credential(token)
    try:
        # The signature first, then our own checks of each claim's type and range: PyJWT
        # accepts numeric strings and unbounded numbers for the time claims.
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={
                "require": ["exp", "sub", "tenant"],
                "verify_aud": bool(settings.jwt_audience),
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthenticated(f"The token lacks the `{exc.claim}` claim") from exc
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
        raise Unauthenticated("The token is invalid") from exc
    if not isinstance(claims, dict):
        raise Unauthenticated("The token is invalid")
    now = time.time()
    exp = _timestamp(claims, "exp")
    nbf = _timestamp(claims, "nbf")
    _timestamp(claims, "iat")
    if exp is None:
        raise Unauthenticated("The token lacks the 'exp' claim")
    if exp <= now:
        raise Unauthenticated("The token has expired")
    if nbf is not None and nbf > now:
        raise Unauthenticated("The token is not valid yet")
    subject = _text_claim(claims, "sub", limit=MAX_EXTERNAL_ID)
    tenant = _text_claim(claims, "tenant", limit=MAX_EXTERNAL_ID)
    if subject is None:
        raise Unauthenticated("The token's 'sub' claim must be a non-empty string")
    if tenant is None:
        raise Unauthenticated("The token's 'tenant' claim must be a tenant slug")
    role = claims.get("role", Role.USER.value)
    if not isinstance(role, str) or role not in _ROLES:
        raise Unauthenticated("The token's 'role' claim must be 'user' or 'admin'")
    tz = claims.get("tz")
    if tz is not None and (not isinstance(tz, str) or not valid_timezone(tz)):
        raise Unauthenticated("The token's 'tz' claim is not a known IANA timezone")
    expires_at = datetime.fromtimestamp(exp, UTC)
    return exp, TokenClaims(subject=subject, tenant_slug=tenant, role=Role(role), timezone=tz, expires_at=expires_at)


_ROLES = frozenset(r.value for r in Role)


@dataclass(frozen=True)
class NewApiKey:
    """A freshly generated API key: the secret is shown once, only the hash is kept."""

    key_id: str
    secret: str
    secret_hash: str


def hash_api_secret(secret: str) -> str:
    """The stored form of an API key secret (high-entropy, so a plain SHA-256 suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_api_key() -> NewApiKey:
    """A new ``sk_<key id>_<secret>`` key."""
    key_id = secrets.token_hex(8)
    secret = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key_id=key_id, secret=secret, secret_hash=hash_api_secret(secret))


def parse_api_key(secret: str) -> str:
    """The key id inside an API key, or :class:`Unauthenticated` if it is not one."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or len(parts[1]) != 16 or not parts[2]:
        raise Unauthenticated("The API key is malformed")
    return parts[1]


def api_secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_api_secret(secret), stored_hash)
