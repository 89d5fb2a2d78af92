"""Chinese government identifiers: check digits and masking.

Resident ID numbers (GB 11643-1999), unified social credit codes (GB 32100-2015) and
e-license identifiers (GB/T 36904-2018) carry check characters that JSON Schema cannot
express. The checks here explain what is wrong without repeating the identifier, because
error messages end up in logs and in the sender's own logs.
"""

from __future__ import annotations

import datetime as dt
import re

from stdnum.cn import ric
from stdnum.iso7064 import mod_37_36

from hub.core.clock import HUB_TZ

__all__ = [
    "IdentifierError",
    "check_e_license_id",
    "check_resident_id",
    "check_uscc",
    "is_canonical_resident_id",
    "mask",
    "mask_resident_id",
    "mask_text",
    "normalise_resident_id",
]


class IdentifierError(ValueError):
    """An identifier failed its check. The message never contains the identifier itself."""


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_SHAPE = re.compile(rf"^[{_USCC_ALPHABET}]{{18}}$")
_RESIDENT_SHAPE = re.compile(r"^\d{17}[\dX]$")
_RESIDENT_ACCEPTED = re.compile(r"^(\d{17}[\dXx]|\d{15})$")
_E_LICENSE_SHAPE = re.compile(
    r"^1\.2\.156\.3005\.2\."
    rf"(?P<type>[{_USCC_ALPHABET}]{{18}}\d{{3}})\."
    rf"(?P<issuer>[{_USCC_ALPHABET}]{{18}})\."
    r"(?P<serial>[0-9A-Z]+)\."
    r"(?P<version>\d{3})\."
    r"(?P<check>[0-9A-Z])$"
)


def normalise_resident_id(value: str) -> str:
    """The 18-character form of a resident ID number, checked.

    Senders still write the check character ``x`` in lower case, and some older systems
    send the 15-digit first-generation number (region, ``YYMMDD``, sequence; no check
    character; born 19xx). Both name the same person as the 18-character number GB
    11643-1999 defines, which is what the hub stores and compares: the lower-case ``x``
    is raised, a 15-digit number gets ``19`` before its year and its check character.

    Args:
        value: 18 characters (17 digits and a digit, ``X`` or ``x``) or 15 digits.

    Returns:
        The 18-character number with an upper-case ``X``.

    Raises:
        IdentifierError: The shape, birth date or check digit is wrong.
    """
    if not _RESIDENT_ACCEPTED.match(value):
        raise IdentifierError(
            "must be 17 digits followed by a digit or X (18 characters),"
            " or the 15-digit first-generation number"
        )
    if len(value) == 15:
        body = value[:6] + "19" + value[6:]
        value = body + ric.calc_check_digit(body + "0")  # it drops the last character
        _check_birth_date(value)
        return value
    value = value.upper()
    _check_birth_date(value)
    if ric.calc_check_digit(value) != value[-1]:
        raise IdentifierError("check digit (character 18) does not match (GB 11643-1999)")
    return value


def _check_birth_date(value: str) -> None:
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise IdentifierError("birth date part (characters 7-14) is not a real date") from None
    if birth > dt.datetime.now(HUB_TZ).date():  # born today in China, whatever the server's zone
        raise IdentifierError("birth date part (characters 7-14) is in the future")


def check_resident_id(value: str) -> None:
    """Check a resident ID number (公民身份号码).

    Accepts what :func:`normalise_resident_id` accepts: a lower-case ``x`` and the
    15-digit first-generation form pass; the hub stores their 18-character form.

    Args:
        value: The number.

    Raises:
        IdentifierError: The shape, birth date or check digit is wrong.
    """
    normalise_resident_id(value)


def is_canonical_resident_id(value: str) -> bool:
    """Whether ``value`` is already the 18-character form with an upper-case ``X``."""
    return bool(_RESIDENT_SHAPE.match(value))


_USCC_VALUES = {ch: index for index, ch in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_uscc(value: str) -> None:
    """Check a unified social credit code (统一社会信用代码).

    The check is GB 32100-2015's own (weights 3^i mod 31). ``stdnum.cn.uscc`` is not used
    here because it insists on digits in the first eight characters, while the registering
    department and organisation type codes (characters 1-2) may be letters (``Y``, ``N``...).

    Args:
        value: The 18-character code.

    Raises:
        IdentifierError: The shape or check character is wrong.
    """
    if not _USCC_SHAPE.match(value):
        raise IdentifierError(
            "must be 18 characters from 0-9 and A-Z without I, O, S, V, Z (GB 32100-2015)"
        )
    total = sum(_USCC_VALUES[ch] * weight for ch, weight in zip(value, _USCC_WEIGHTS, strict=False))
    if _USCC_ALPHABET[(31 - total % 31) % 31] != value[-1]:
        raise IdentifierError("check character (character 18) does not match (GB 32100-2015)")


def check_e_license_id(value: str) -> None:
    """Check an e-license identifier (电子证照标识).

    The type code begins with the credit code of the body that defined the licence type,
    and the issuer is a credit code: both are checked as credit codes (GB 32100-2015)
    before the identifier's own check character.

    Args:
        value: ``1.2.156.3005.2.{type}.{issuer}.{serial}.{version}.{check}``.

    Raises:
        IdentifierError: The shape, an embedded credit code or the check character is wrong.
    """
    match = _E_LICENSE_SHAPE.match(value)
    if not match:
        raise IdentifierError(
            "must look like 1.2.156.3005.2.{type code}.{issuer USCC}.{serial}.{version}.{check}"
        )
    for part, code in (("type definer", match["type"][:18]), ("issuer", match["issuer"])):
        try:
            check_uscc(code)
        except IdentifierError as error:
            raise IdentifierError(f"the {part}'s credit code {error}") from None
    body = match["type"] + match["issuer"] + match["serial"] + match["version"]
    if mod_37_36.calc_check_digit(body) != match["check"]:
        raise IdentifierError("check character does not match (ISO/IEC 7064 MOD 37,36)")


def mask_resident_id(value: str) -> str:
    """Mask a resident ID as ``110105********002X``: region and last four stay.

    The 15-digit first-generation form keeps its region and sequence:
    ``110105******002``.
    """
    if len(value) == 15:
        return value[:6] + "*" * 6 + value[-3:]
    if len(value) != 18:
        return mask(value)
    return value[:6] + "*" * 8 + value[-4:]


def mask(value: str, keep_start: int = 2, keep_end: int = 2) -> str:
    """Mask the middle of any identifier-like string, keeping a little at each end."""
    if len(value) <= keep_start + keep_end + 2:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


_RESIDENT_ANYWHERE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
# The first generation: region, YYMMDD (a real month and day), sequence; 15 digits alone.
_FIRST_GENERATION_ANYWHERE = re.compile(
    r"(?<![0-9A-Za-z])(\d{6})\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(\d{3})(?![0-9A-Za-z])"
)


def mask_text(text: str) -> str:
    """Mask every resident ID number inside free text (logs, counterpart error bodies).

    Both the 18-character number and the 15-digit first-generation one are masked.
    """
    text = _RESIDENT_ANYWHERE.sub(lambda m: f"{m[1]}********{m[2]}", text)
    return _FIRST_GENERATION_ANYWHERE.sub(lambda m: f"{m[1]}******{m[2]}", text)
