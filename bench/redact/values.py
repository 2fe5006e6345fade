"""Value generators and validators for the redaction benchmark corpus.

Every generator takes a `random.Random` (and, where useful, a seeded `Faker`) and returns a
string that is *valid* for its type: check digits are computed (with python-stdnum as the oracle
where it has a module for the type), issuer prefixes and numbering plans are real.  `VALIDATORS`
re-checks a labelled value independently of how it was generated; `generate.py --self-check`
runs them over every label of a corpus.

Nothing here touches the network or the OS random source: output depends only on the seed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import ipaddress
import json
import re
import string
import zlib

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from stdnum import bic as std_bic
from stdnum import bitcoin as std_bitcoin
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum import mac as std_mac
from stdnum import verhoeff
from stdnum.au import tfn as std_tfn
from stdnum.ca import sin as std_sin
from stdnum.de import idnr as std_idnr
from stdnum.es import dni as std_dni
from stdnum.es import nie as std_nie
from stdnum.fi import hetu as std_hetu
from stdnum.fr import nir as std_nir
from stdnum.gb import nhs as std_nhs
from stdnum.in_ import aadhaar as std_aadhaar
from stdnum.it import codicefiscale as std_cf
from stdnum.nl import bsn as std_bsn
from stdnum.pl import pesel as std_pesel
from stdnum.se import personnummer as std_pnr
from stdnum.us import itin as std_itin
from stdnum.us import rtn as std_rtn
from stdnum.us import ssn as std_ssn

DIGITS = string.digits
UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase  # GitHub's order
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"


def rstr(rng, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def rdigits(rng, n: int, first_nonzero: bool = False) -> str:
    s = rstr(rng, DIGITS, n)
    if first_nonzero and s[0] == "0":
        s = rng.choice("123456789") + s[1:]
    return s


def rbytes(rng, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def complete_digit(rng, body: str, is_valid, alphabet: str = DIGITS, suffix: str = "") -> str | None:
    """Append the one character of `alphabet` that makes `body+c+suffix` valid (oracle search)."""
    cands = list(alphabet)
    rng.shuffle(cands)
    for c in cands:
        if is_valid(body + c + suffix):
            return body + c + suffix
    return None


def retry(fn, tries: int = 5000):
    for _ in range(tries):
        v = fn()
        if v is not None:
            return v
    raise RuntimeError(f"generator {fn} failed {tries} times")


# --------------------------------------------------------------------------------------------
# Keccak-256 (for EIP-55 checksummed Ethereum addresses; hashlib only has SHA3, whose padding
# differs).  Verified against hashlib.sha3_256 by swapping the padding byte, see _selftest().
# --------------------------------------------------------------------------------------------

_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M64 = (1 << 64) - 1


def _rc_constants():
    out, r = [], 1
    for _ in range(24):
        rc = 0
        for j in range(7):
            r = ((r << 1) ^ ((r >> 7) * 0x71)) & 0xFF
            if r & 2:
                rc ^= 1 << ((1 << j) - 1)
        out.append(rc)
    return out


_RC = _rc_constants()


def _rol(x, n):
    return ((x << n) | (x >> (64 - n))) & _M64 if n else x


def _keccak_f(a):
    for rnd in range(24):
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], _ROT[x][y])
        a = [[b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
        a[0][0] ^= _RC[rnd]
    return a


def _sponge256(data: bytes, pad: int) -> bytes:
    rate = 136
    msg = bytearray(data)
    msg.append(pad)
    while len(msg) % rate:
        msg.append(0)
    msg[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        block = msg[off:off + rate]
        for i in range(rate // 8):
            a[i % 5][i // 5] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        a = _keccak_f(a)
    return b"".join(a[i % 5][i // 5].to_bytes(8, "little") for i in range(4))


def keccak256(data: bytes) -> bytes:
    return _sponge256(data, 0x01)


def eip55(addr_hex40: str) -> str:
    h = keccak256(addr_hex40.lower().encode()).hex()
    return "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c for i, c in enumerate(addr_hex40.lower()))


# --------------------------------------------------------------------------------------------
# Base58Check / bech32 / base62
# --------------------------------------------------------------------------------------------

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58check(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M_CONST = 0x2BC830A3


def _bech32_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            chk ^= gen[i] if (b >> i) & 1 else 0
    return chk


def _hrp_expand(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _convertbits(data, frombits, tobits):
    acc, bits, ret, maxv = 0, 0, [], (1 << tobits) - 1
    for v in data:
        acc = (acc << frombits) | v
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if bits:
        ret.append((acc << (tobits - bits)) & maxv)
    return ret


def segwit_address(witver: int, prog: bytes, hrp: str = "bc") -> str:
    const = 1 if witver == 0 else BECH32M_CONST
    data = [witver] + _convertbits(prog, 8, 5)
    pm = _bech32_polymod(_hrp_expand(hrp) + data + [0] * 6) ^ const
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32[d] for d in data + chk)


def bech32_valid(addr: str) -> bool:
    addr = addr.lower()
    if not addr.startswith("bc1"):
        return False
    try:
        data = [BECH32.index(c) for c in addr[3:]]
    except ValueError:
        return False
    pm = _bech32_polymod(_hrp_expand("bc") + data)
    return (data[0] == 0 and pm == 1) or (data[0] >= 1 and pm == BECH32M_CONST)


def base62(n: int, width: int = 6) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = BASE62[r] + out
    return out.rjust(width, "0")


def crc_token(rng, prefix: str) -> str:
    """GitHub / npm token: prefix + 30 random base62 + base62(crc32(random part)) padded to 6."""
    body = rstr(rng, ALNUM, 30)
    return prefix + body + base62(zlib.crc32(body.encode()))


def crc_token_valid(tok: str) -> bool:
    body, chk = tok[-36:-6], tok[-6:]
    return len(tok) >= 36 and base62(zlib.crc32(body.encode())) == chk


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# --------------------------------------------------------------------------------------------
# Contact
# --------------------------------------------------------------------------------------------

PHONE_REGIONS = ["US", "GB", "DE", "FR", "IT", "ES", "NL", "IN", "AU", "BR", "JP"]


def phone_number(rng, region: str | None = None):
    """A valid number of `region` (random digits after a kept prefix of an example number)."""
    region = region or rng.choice(PHONE_REGIONS)
    ntype = rng.choice([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE])
    ex = phonenumbers.example_number_for_type(region, ntype) or phonenumbers.example_number(region)
    nat = str(ex.national_number)
    for keep in (1, 2, 3, 4):
        for _ in range(300):
            cand = nat[:keep] + rdigits(rng, len(nat) - keep)
            num = phonenumbers.parse("+%d%s" % (ex.country_code, cand))
            if phonenumbers.is_valid_number(num) and phonenumbers.region_code_for_number(num) == region:
                return region, num
    return region, ex


def phone_text(rng, region: str | None = None) -> tuple[str, str]:
    region, num = phone_number(rng, region)
    style = rng.random()
    if style < 0.3:
        s = phonenumbers.format_number(num, PhoneNumberFormat.E164)
    elif style < 0.65:
        s = phonenumbers.format_number(num, PhoneNumberFormat.INTERNATIONAL)
    else:
        s = phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL)
        if region == "US" and rng.random() < 0.3:
            d = str(num.national_number)
            s = rng.choice(["%s.%s.%s", "%s-%s-%s"]) % (d[:3], d[3:6], d[6:])
    return region, s


def phone_valid(s: str, region: str | None = None) -> bool:
    for reg in ([region] if region else []) + [None] + PHONE_REGIONS:
        try:
            num = phonenumbers.parse(s, reg)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return True
    return False


EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")


def email(rng, fake) -> str:
    r = rng.random()
    if r < 0.35:
        return fake.free_email()
    if r < 0.6:
        return fake.company_email()
    first = re.sub(r"[^a-z]", "", fake.first_name().lower()) or "user"
    last = re.sub(r"[^a-z]", "", fake.last_name().lower()) or "name"
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}",
                        f"{first}+{rng.choice(['billing', 'test', 'news', 'ci'])}"])
    dom = rng.choice(["acme-corp.io", "mail.example.co.uk", "corp.contoso.com", "gmail.com", "outlook.de",
                      "orange.fr", "libero.it", "ziggo.nl", "yahoo.co.jp", "uol.com.br", "bigpond.com.au"])
    return f"{local}@{dom}"


# --------------------------------------------------------------------------------------------
# Financial
# --------------------------------------------------------------------------------------------

CARD_ISSUERS = [
    # (prefixes, length, weight)
    (["4"], 16, 6),
    ([str(p) for p in range(51, 56)] + [str(p) for p in range(2221, 2721, 37)], 16, 5),
    (["34", "37"], 15, 2),
    (["6011", "65"] + [str(p) for p in range(644, 650)], 16, 1),
    ([str(p) for p in range(3528, 3590, 7)], 16, 1),
    (["36", "300", "305"], 14, 1),
    (["62"], 16, 1),
]


def credit_card(rng) -> str:
    prefixes, length, _ = rng.choices(CARD_ISSUERS, weights=[w for _, _, w in CARD_ISSUERS])[0]
    p = rng.choice(prefixes)
    body = p + rdigits(rng, length - len(p) - 1)
    pan = body + luhn.calc_check_digit(body)
    style = rng.random()
    if style < 0.45:
        return pan
    sep = " " if style < 0.8 else "-"
    if length == 15:
        groups = [pan[:4], pan[4:10], pan[10:]]
    elif length == 14:
        groups = [pan[:4], pan[4:10], pan[10:]]
    else:
        groups = [pan[i:i + 4] for i in range(0, length, 4)]
    return sep.join(groups)


def luhn_invalid_16(rng) -> str:
    """A 16-digit run that fails Luhn (a decoy)."""
    body = rdigits(rng, 15, first_nonzero=True)
    good = luhn.calc_check_digit(body)
    bad = rng.choice([d for d in DIGITS if d != good])
    return body + bad


IBAN_BBAN = {
    # country: function producing a BBAN candidate (national check digits found by retry)
    "DE": lambda r: rdigits(r, 18),
    "GB": lambda r: rstr(r, UPPER, 4) + rdigits(r, 14),
    "FR": lambda r: rdigits(r, 10) + rdigits(r, 11) + rdigits(r, 2),
    "ES": lambda r: rdigits(r, 20),
    "IT": lambda r: r.choice(UPPER) + rdigits(r, 10) + rdigits(r, 12),
    "NL": lambda r: r.choice(["ABNA", "INGB", "RABO", "TRIO", "SNSB"]) + rdigits(r, 10),
    "BE": lambda r: rdigits(r, 12),
    "CH": lambda r: rdigits(r, 5) + rdigits(r, 12),
    "AT": lambda r: rdigits(r, 16),
    "PL": lambda r: rdigits(r, 24),
    "IE": lambda r: rstr(r, UPPER, 4) + rdigits(r, 14),
}


def iban(rng) -> str:
    cc = rng.choice(list(IBAN_BBAN))

    def attempt():
        bban = IBAN_BBAN[cc](rng)
        num = cc + "00" + bban
        num = cc + std_iban.calc_check_digits(num) + bban
        return num if std_iban.is_valid(num) else None

    num = retry(attempt)
    return num if rng.random() < 0.5 else std_iban.format(num)


def aba_routing(rng) -> str:
    first = rng.choice([f"{i:02d}" for i in list(range(1, 13)) + list(range(21, 33)) + list(range(61, 73)) + [80]])
    body = first + rdigits(rng, 6)
    return body + std_rtn.calc_check_digit(body)


BIC_BANKS = [("DEUT", "DE"), ("COBA", "DE"), ("BNPA", "FR"), ("SOGE", "FR"), ("CHAS", "US"), ("CITI", "US"),
             ("BARC", "GB"), ("HSBC", "GB"), ("INGB", "NL"), ("ABNA", "NL"), ("UNCR", "IT"), ("BCIT", "IT"),
             ("BBVA", "ES"), ("CAIX", "ES"), ("UBSW", "CH"), ("NDEA", "FI"), ("ESSE", "SE"), ("BOFA", "US")]


def swift_bic(rng) -> str:
    bank, cc = rng.choice(BIC_BANKS)
    if rng.random() < 0.3:
        bank = rstr(rng, UPPER, 4)
    loc = rng.choice(["FF", "PP", "22", "2L", "33", "MM", "2A", "HH", "ZZ", "MB"])
    b = bank + cc + loc
    if rng.random() < 0.4:
        b += rng.choice(["XXX", "500", "BER", "MIL", "LON", rdigits(rng, 3)])
    return b


def bitcoin_address(rng) -> str:
    r = rng.random()
    if r < 0.35:
        return b58check(b"\x00" + rbytes(rng, 20))
    if r < 0.55:
        return b58check(b"\x05" + rbytes(rng, 20))
    if r < 0.8:
        return segwit_address(0, rbytes(rng, 20))
    if r < 0.9:
        return segwit_address(0, rbytes(rng, 32))
    return segwit_address(1, rbytes(rng, 32))


def ethereum_address(rng) -> str:
    h = rbytes(rng, 20).hex()
    return "0x" + (eip55(h) if rng.random() < 0.7 else h)


def ethereum_valid(s: str) -> bool:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", s):
        return False
    h = s[2:]
    return h == h.lower() or h == h.upper() or eip55(h) == h


# --------------------------------------------------------------------------------------------
# Government
# --------------------------------------------------------------------------------------------


def us_ssn(rng, dashed: bool = True) -> str:
    def attempt():
        area = rng.randint(1, 899)
        if area == 666:
            return None
        s = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        return s if std_ssn.is_valid(s) else None

    s = retry(attempt)
    return f"{s[:3]}-{s[3:5]}-{s[5:]}" if dashed else s


ITIN_GROUPS = list(range(50, 66)) + list(range(70, 89)) + [90, 91, 92] + list(range(94, 100))


def us_itin(rng) -> str:
    s = f"9{rng.randint(0, 99):02d}{rng.choice(ITIN_GROUPS):02d}{rng.randint(0, 9999):04d}"
    assert itin_valid(s), s
    return f"{s[:3]}-{s[3:5]}-{s[5:]}"


def itin_valid(s: str) -> bool:
    """stdnum.us.itin knows groups 70-99 (minus 89, 93); the IRS added 50-65 in 2011."""
    c = s.replace("-", "")
    return std_itin.is_valid(c) or (bool(re.fullmatch(r"9\d{8}", c)) and 50 <= int(c[3:5]) <= 65)


def invalid_ssn(rng) -> str:
    """SSN-shaped decoy that is neither a valid SSN nor a valid ITIN."""
    r = rng.random()
    if r < 0.33:
        area = "000"
        grp = rng.randint(1, 99)
    elif r < 0.66:
        area = "666"
        grp = rng.randint(1, 99)
    else:
        area = f"9{rng.randint(0, 99):02d}"
        grp = rng.choice(list(range(0, 50)) + [66, 67, 68, 69, 89, 93])
    s = f"{area}-{grp:02d}-{rng.randint(1, 9999):04d}"
    assert not std_ssn.is_valid(s) and not itin_valid(s), s
    return s


NINO_FIRST = [c for c in UPPER if c not in "DFIQUV"]
NINO_SECOND = [c for c in UPPER if c not in "DFIOQUV"]
NINO_BAD_PREFIX = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
NINO_RE = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$")


def uk_nino(rng) -> str:
    while True:
        p = rng.choice(NINO_FIRST) + rng.choice(NINO_SECOND)
        if p not in NINO_BAD_PREFIX:
            break
    d = rdigits(rng, 6)
    suf = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{p}{d}{suf}"
    return f"{p} {d[:2]} {d[2:4]} {d[4:]} {suf}"


def uk_nino_valid(s: str) -> bool:
    c = s.replace(" ", "").upper()
    return bool(NINO_RE.match(c)) and c[:2] not in NINO_BAD_PREFIX


def uk_nhs(rng) -> str:
    n = retry(lambda: complete_digit(rng, rdigits(rng, 9, first_nonzero=True), std_nhs.is_valid))
    return f"{n[:3]} {n[3:6]} {n[6:]}" if rng.random() < 0.6 else n


def fr_nir(rng) -> str:
    def attempt():
        dept = f"{rng.choice([d for d in range(1, 96) if d != 20]):02d}"
        body = f"{rng.choice('12')}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{dept}{rng.randint(1, 990):03d}{rng.randint(1, 999):03d}"
        n = body + std_nir.calc_check_digits(body)
        return n if std_nir.is_valid(n) else None

    n = retry(attempt)
    return std_nir.format(n) if rng.random() < 0.5 else n


def de_tax_id(rng) -> str:
    def attempt():
        digits = list(DIGITS)
        rng.shuffle(digits)
        rep = digits[0]
        times = rng.choice([2, 2, 3])
        body = [rep] * times + digits[1:1 + 10 - times]
        rng.shuffle(body)
        if body[0] == "0":
            return None
        return complete_digit(rng, "".join(body), std_idnr.is_valid)

    n = retry(attempt)
    return f"{n[:2]} {n[2:5]} {n[5:8]} {n[8:]}" if rng.random() < 0.5 else n


CF_MONTHS = "ABCDEHLMPRST"
CF_PLACES = ["H501", "F205", "L219", "A944", "G273", "D612", "F839", "L736", "C351", "B157", "Z404", "Z112"]
CONSONANTS = "BCDFGHJKLMNPQRSTVWXZ"


def it_codice_fiscale(rng) -> str:
    def attempt():
        sur = rstr(rng, CONSONANTS, 2) + rng.choice(CONSONANTS + "AEIOU")
        name = rstr(rng, CONSONANTS, 3)
        yy = f"{rng.randint(0, 99):02d}"
        mm = rng.choice(CF_MONTHS)
        dd = rng.randint(1, 28) + (40 if rng.random() < 0.5 else 0)
        body = f"{sur}{name}{yy}{mm}{dd:02d}{rng.choice(CF_PLACES)}"
        n = body + std_cf.calc_check_digit(body)
        return n if std_cf.is_valid(n) else None

    return retry(attempt)


def es_nif(rng) -> str:
    body = rdigits(rng, 8)
    n = body + std_dni.calc_check_digit(body)
    return n if rng.random() < 0.8 else f"{body}-{n[-1]}"


def es_nie(rng) -> str:
    body = rng.choice("XYZ") + rdigits(rng, 7)
    return body + std_nie.calc_check_digit(body)


def nl_bsn(rng) -> str:
    return retry(lambda: complete_digit(rng, rdigits(rng, 8, first_nonzero=True), std_bsn.is_valid))


def pl_pesel(rng) -> str:
    def attempt():
        y = rng.randint(1940, 2015)
        m = rng.randint(1, 12) + (20 if y >= 2000 else 0)
        d = rng.randint(1, 28)
        body = f"{y % 100:02d}{m:02d}{d:02d}{rdigits(rng, 4)}"
        n = body + std_pesel.calc_check_digit(body)
        return n if std_pesel.is_valid(n) else None

    return retry(attempt)


def se_personnummer(rng) -> str:
    def attempt():
        y = rng.randint(1940, 2015)
        body = f"{y % 100:02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        serial = rdigits(rng, 3)
        n = complete_digit(rng, body + "-" + serial, std_pnr.is_valid)
        if n and rng.random() < 0.3:
            n = str(y // 100) + n  # YYYYMMDD-NNNC
            if not std_pnr.is_valid(n):
                return None
        return n

    return retry(attempt)


def fi_hetu(rng) -> str:
    def attempt():
        y = rng.randint(1940, 2015)
        sign = "-" if y < 2000 else "A"
        body = f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{y % 100:02d}"
        ind = f"{rng.randint(2, 899):03d}"
        n = complete_digit(rng, body + sign + ind, std_hetu.is_valid, alphabet="0123456789ABCDEFHJKLMNPRSTUVWXY")
        return n

    return retry(attempt)


def ca_sin(rng) -> str:
    n = retry(lambda: complete_digit(rng, rng.choice("1234567") + rdigits(rng, 7), std_sin.is_valid))
    r = rng.random()
    return f"{n[:3]} {n[3:6]} {n[6:]}" if r < 0.4 else f"{n[:3]}-{n[3:6]}-{n[6:]}" if r < 0.7 else n


def in_aadhaar(rng) -> str:
    def attempt():
        body = rng.choice("23456789") + rdigits(rng, 10)
        n = body + verhoeff.calc_check_digit(body)
        return n if std_aadhaar.is_valid(n) else None

    n = retry(attempt)
    return f"{n[:4]} {n[4:8]} {n[8:]}" if rng.random() < 0.6 else n


def au_tfn(rng) -> str:
    n = retry(lambda: complete_digit(rng, rdigits(rng, 8, first_nonzero=True), std_tfn.is_valid))
    return f"{n[:3]} {n[3:6]} {n[6:]}" if rng.random() < 0.5 else n


def passport(rng) -> str:
    kind = rng.random()
    if kind < 0.25:  # US / UK: 9 digits
        return rdigits(rng, 9, first_nonzero=True)
    if kind < 0.4:  # US next generation
        return rng.choice(UPPER) + rdigits(rng, 8)
    if kind < 0.55:  # DE: 9 characters from a restricted set, enough digits
        while True:
            s = rng.choice("CFGHJK") + rstr(rng, "CFGHJKLMNPRTVWXYZ0123456789", 8)
            if sum(c.isdigit() for c in s) >= 4:
                return s
    if kind < 0.7:  # FR
        return rdigits(rng, 2) + rstr(rng, UPPER, 2) + rdigits(rng, 5)
    if kind < 0.85:  # IN
        return rng.choice(UPPER) + rdigits(rng, 7)
    return rstr(rng, UPPER, 2) + rdigits(rng, 6)  # CA


def npi_valid(s: str) -> bool:
    return bool(re.fullmatch(r"[12]\d{9}", s)) and luhn.is_valid("80840" + s)


def us_npi(rng) -> str:
    body = rng.choice("12") + rdigits(rng, 8)
    return body + luhn.calc_check_digit("80840" + body)


DEA_FIRST = "ABCDEFGHJKLMPRSTUX"


def _dea_check(d: str) -> str:
    s = int(d[0]) + int(d[2]) + int(d[4]) + 2 * (int(d[1]) + int(d[3]) + int(d[5]))
    return str(s % 10)


def us_dea(rng) -> str:
    d = rdigits(rng, 6)
    return rng.choice(DEA_FIRST) + rng.choice(UPPER) + d + _dea_check(d)


def dea_valid(s: str) -> bool:
    return bool(re.fullmatch(r"[A-Z][A-Z9]\d{7}", s)) and _dea_check(s[2:8]) == s[8]


MBI_ALPHA = "".join(c for c in UPPER if c not in "SLOIBZ")
MBI_RE = re.compile(r"^[1-9][{a}][{a}0-9][0-9][{a}][{a}0-9][0-9][{a}][{a}][0-9][0-9]$".format(a=MBI_ALPHA))


def us_mbi(rng) -> str:
    an = MBI_ALPHA + DIGITS
    s = (rng.choice("123456789") + rng.choice(MBI_ALPHA) + rng.choice(an) + rng.choice(DIGITS)
         + rng.choice(MBI_ALPHA) + rng.choice(an) + rng.choice(DIGITS) + rng.choice(MBI_ALPHA)
         + rng.choice(MBI_ALPHA) + rng.choice(DIGITS) + rng.choice(DIGITS))
    return s if rng.random() < 0.7 else f"{s[:4]}-{s[4:7]}-{s[7:]}"


# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------


def ipv4(rng) -> str:
    r = rng.random()
    if r < 0.3:
        return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if r < 0.4:
        return f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if r < 0.5:
        return f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    while True:
        a = rng.randint(1, 223)
        if a not in (10, 127, 172, 192):
            return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ipv6(rng) -> str:
    r = rng.random()
    if r < 0.25:
        return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\0" * 6 + rbytes(rng, 8)))
    if r < 0.4:
        return str(ipaddress.IPv6Address(bytes.fromhex("20010db8") + rbytes(rng, 4) + b"\0" * 6 + rbytes(rng, 2)))
    addr = ipaddress.IPv6Address(bytes([0x20 | rng.randint(0, 3)]) + rbytes(rng, 15))
    return addr.exploded if rng.random() < 0.2 else str(addr)


MAC_OUIS = ["005056", "000C29", "3C22FB", "F01898", "001B21", "A4BB6D", "001AA0", "002590", "B827EB", "DCA632",
            "00155D", "080027", "001C42", "00163E", "F4CE46", "E4434B", "7C2E0D", "0CC47A", "525400",
            "0242AC", "02420A"]


def mac_address(rng) -> str:
    """A unicast MAC with a registered vendor OUI (VMware, Apple, Intel, Dell, Raspberry Pi ...) or a
    locally administered one (QEMU 52:54:00, Docker 02:42)."""
    while True:
        b = bytes.fromhex(rng.choice(MAC_OUIS)) + rbytes(rng, 3)
        sep = rng.choice([":", ":", "-"])
        s = sep.join(f"{x:02x}" for x in b)
        s = s.upper() if rng.random() < 0.4 else s
        if std_mac.is_valid(s) and std_mac.is_unicast(s):
            return s


# --------------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------------


def openai_key(rng) -> str:
    r = rng.random()
    if r < 0.45:
        return "sk-" + rstr(rng, ALNUM, 20) + "T3BlbkFJ" + rstr(rng, ALNUM, 20)
    pre = "sk-proj-" if r < 0.9 else "sk-svcacct-"
    n = rng.choice([74, 58])
    return pre + rstr(rng, B64URL, n) + "T3BlbkFJ" + rstr(rng, B64URL, n)


def anthropic_key(rng) -> str:
    return "sk-ant-api03-" + rstr(rng, B64URL, 93) + "AA"


AWS_B32 = UPPER + "234567"


def aws_access_key_id(rng) -> str:
    return rng.choice(["AKIA"] * 4 + ["ASIA"]) + rstr(rng, AWS_B32, 16)


def aws_secret_key(rng) -> str:
    return rstr(rng, ALNUM + "/+", 40)


def gcp_api_key(rng) -> str:
    return "AIza" + rstr(rng, B64URL, 35)


def azure_storage_key(rng) -> str:
    return base64.b64encode(rbytes(rng, 64)).decode()


def azure_sas_sig(rng) -> str:
    s = base64.b64encode(rbytes(rng, 32)).decode()
    return s.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def github_token(rng) -> str:
    if rng.random() < 0.15:
        return "github_pat_11" + rstr(rng, UPPER + DIGITS, 20) + "_" + rstr(rng, ALNUM, 59)
    return crc_token(rng, rng.choice(["ghp_"] * 6 + ["gho_", "ghu_", "ghs_", "ghr_"]))


def gitlab_token(rng) -> str:
    return "glpat-" + rstr(rng, B64URL, 20)


def slack_token(rng) -> str:
    if rng.random() < 0.6:
        return f"xoxb-{rdigits(rng, rng.randint(10, 12), True)}-{rdigits(rng, 13, True)}-{rstr(rng, ALNUM, 24)}"
    return (f"xoxp-{rdigits(rng, 11, True)}-{rdigits(rng, 11, True)}-{rdigits(rng, 13, True)}-"
            f"{rstr(rng, HEX, 32)}")


def slack_webhook_parts(rng) -> tuple[str, str]:
    """Returns (url prefix up to and including the last '/', secret path segment)."""
    t = "T" + rstr(rng, UPPER + DIGITS, rng.choice([8, 10]))
    b = "B" + rstr(rng, UPPER + DIGITS, rng.choice([8, 10, 11]))
    return f"https://hooks.slack.com/services/{t}/{b}/", rstr(rng, ALNUM, 24)


def stripe_key(rng) -> str:
    pre = rng.choice(["sk_live_"] * 4 + ["rk_live_", "sk_test_"])
    return pre + rstr(rng, ALNUM, rng.choice([24, 34, 99]))


def twilio_key(rng) -> str:
    return "SK" + rstr(rng, HEX, 32)


def sendgrid_key(rng) -> str:
    return "SG." + rstr(rng, B64URL, 22) + "." + rstr(rng, B64URL, 43)


def huggingface_token(rng) -> str:
    return "hf_" + rstr(rng, string.ascii_letters, 34)


def npm_token(rng) -> str:
    return crc_token(rng, "npm_")


def pypi_token(rng) -> str:
    ident = "%08x-%04x-%04x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
                                           rng.getrandbits(16), rng.getrandbits(48))
    caveat = json.dumps({"version": 1, "permissions": {"projects": [rng.choice(["acme-sdk", "ward-client", "toolkit"])]}}
                        if rng.random() < 0.5 else {"version": 1, "permissions": "user"}, separators=(",", ":")).encode()
    raw = (b"\x02\x01\x08pypi.org\x02\x24" + ident.encode() + b"\x00\x02" + bytes([len(caveat)]) + caveat
           + b"\x00\x00\x06\x20" + rbytes(rng, 32))
    return "pypi-" + b64url(raw)


def ward_api_key(rng) -> str:
    return "ward_" + rstr(rng, ALNUM, 12) + "_" + rstr(rng, ALNUM, 40)


JWT_HEADERS = [{"alg": "HS256", "typ": "JWT"}, {"alg": "RS256", "typ": "JWT", "kid": None}, {"alg": "ES256", "typ": "JWT"}]


def jwt(rng, fake) -> str:
    h = dict(rng.choice(JWT_HEADERS))
    if "kid" in h:
        h["kid"] = rstr(rng, HEX, 16)
    now = 1_700_000_000 + rng.randint(0, 40_000_000)
    payload = {"sub": str(rng.randint(10_000, 99_999_999)), "iss": rng.choice(["https://auth.acme.io/", "ward", "accounts.example.com"]),
               "iat": now, "exp": now + rng.choice([300, 3600, 86400])}
    if rng.random() < 0.5:
        payload["name"] = fake.name()
    if rng.random() < 0.5:
        payload["scope"] = rng.choice(["read:logs", "openid profile email", "admin"])
    sig_len = {"HS256": 32, "RS256": 256, "ES256": 64}[h["alg"]]
    enc = lambda d: b64url(json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode())  # noqa: E731
    return f"{enc(h)}.{enc(payload)}.{b64url(rbytes(rng, sig_len))}"


def jwt_valid(s: str) -> bool:
    try:
        h, p, sig = s.split(".")
        return "alg" in json.loads(b64url_decode(h)) and isinstance(json.loads(b64url_decode(p)), dict) and len(b64url_decode(sig)) >= 32
    except (ValueError, binascii.Error, json.JSONDecodeError):
        return False


PEM_KINDS = [
    # (label, DER prefix bytes, body bytes, line width)
    ("RSA PRIVATE KEY", bytes.fromhex("308204a40201000282010100"), 1180, 64),
    ("RSA PRIVATE KEY", bytes.fromhex("3082025c02010002818100"), 600, 64),
    ("PRIVATE KEY", bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7"), 1190, 64),
    ("EC PRIVATE KEY", bytes.fromhex("30770201010420"), 112, 64),
    ("OPENSSH PRIVATE KEY", b"openssh-key-v1\x00\x00\x00\x00\x04none\x00\x00\x00\x04none", 380, 70),
]


def private_key(rng) -> str:
    """A PEM block with real newlines (renderers turn them into `\\n` escapes on one line)."""
    label, prefix, n, width = rng.choice(PEM_KINDS)
    body = base64.b64encode(prefix + rbytes(rng, n)).decode()
    lines = [body[i:i + width] for i in range(0, len(body), width)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"


def private_key_valid(s: str) -> bool:
    s = s.replace("\\n", "\n")
    m = re.fullmatch(r"-----BEGIN ([A-Z ]+)-----\n([A-Za-z0-9+/=\n]+)\n-----END \1-----", s)
    if not m:
        return False
    try:
        base64.b64decode(m.group(2).replace("\n", ""), validate=True)
        return True
    except binascii.Error:
        return False


PASSWORD_WORDS = ["summer", "winter", "dragon", "monkey", "sunshine", "welcome", "falcon", "tiger", "coffee",
                  "rainbow", "letmein", "shadow", "marina", "berlin", "paris", "bonjour", "hallo", "fiesta"]


def human_password(rng, fake, url_safe: bool = False) -> str:
    r = rng.random()
    if r < 0.35:
        special = not url_safe
        pw = fake.password(length=rng.randint(10, 20), special_chars=special)
        if url_safe:
            pw = re.sub(r"[^A-Za-z0-9]", "x", pw)
        return pw
    if r < 0.7:
        w = rng.choice(PASSWORD_WORDS)
        return (w.capitalize() if rng.random() < 0.6 else w) + str(rng.randint(1, 2025)) + (
            rng.choice(["!", "#", "$", "?", "*"]) if not url_safe else rng.choice(["", "_", "-"]))
    if r < 0.85:
        return "-".join(rng.choice(PASSWORD_WORDS) for _ in range(rng.randint(3, 4)))
    return rstr(rng, ALNUM + ("!#%&*" if not url_safe else ""), rng.randint(12, 32))


def high_entropy(rng) -> str:
    r = rng.random()
    if r < 0.35:
        return rstr(rng, HEX, rng.choice([32, 40, 64]))
    if r < 0.7:
        return rstr(rng, ALNUM, rng.randint(24, 48))
    if r < 0.85:
        return base64.b64encode(rbytes(rng, rng.choice([24, 32, 48]))).decode()
    return b64url(rbytes(rng, rng.choice([24, 32])))


# --------------------------------------------------------------------------------------------
# Validators, by label type: value -> bool.  A type with no entry is shape-checked by regex.
# --------------------------------------------------------------------------------------------


def _digits(s):
    return re.sub(r"[\s\-.]", "", s)


def _mk(mod, norm=_digits):
    return lambda v: mod.is_valid(norm(v))


def _se_valid(v: str) -> bool:
    return std_pnr.is_valid(v)


VALIDATORS = {
    "email": ("regex", lambda v: bool(EMAIL_RE.match(v))),
    "phone": ("phonenumbers.is_valid_number", phone_valid),
    "credit_card": ("stdnum.luhn + issuer prefix", lambda v: luhn.is_valid(_digits(v)) and any(
        _digits(v).startswith(p) and len(_digits(v)) == n for ps, n, _ in CARD_ISSUERS for p in ps)),
    "iban": ("stdnum.iban", lambda v: std_iban.is_valid(v)),
    "aba_routing": ("stdnum.us.rtn", _mk(std_rtn)),
    "swift_bic": ("stdnum.bic", lambda v: std_bic.is_valid(v)),
    "bitcoin_address": ("stdnum.bitcoin (bech32m: own)", lambda v: std_bitcoin.is_valid(v) or bech32_valid(v)),
    "ethereum_address": ("own EIP-55 (keccak256)", ethereum_valid),
    "us_ssn": ("stdnum.us.ssn", _mk(std_ssn)),
    "us_itin": ("stdnum.us.itin (+ IRS groups 50-65)", itin_valid),
    "uk_nino": ("own (HMRC prefix rules)", uk_nino_valid),
    "uk_nhs": ("stdnum.gb.nhs", _mk(std_nhs)),
    "fr_nir": ("stdnum.fr.nir", _mk(std_nir)),
    "de_tax_id": ("stdnum.de.idnr", _mk(std_idnr)),
    "it_codice_fiscale": ("stdnum.it.codicefiscale", lambda v: std_cf.is_valid(v)),
    "es_nif": ("stdnum.es.dni", _mk(std_dni)),
    "es_nie": ("stdnum.es.nie", lambda v: std_nie.is_valid(v)),
    "nl_bsn": ("stdnum.nl.bsn", _mk(std_bsn)),
    "pl_pesel": ("stdnum.pl.pesel", _mk(std_pesel)),
    "se_personnummer": ("stdnum.se.personnummer", _se_valid),
    "fi_hetu": ("stdnum.fi.hetu", lambda v: std_hetu.is_valid(v)),
    "ca_sin": ("stdnum.ca.sin", _mk(std_sin)),
    "in_aadhaar": ("stdnum.in_.aadhaar", _mk(std_aadhaar)),
    "au_tfn": ("stdnum.au.tfn", _mk(std_tfn)),
    "passport": ("regex (6-9 upper alnum, >=4 digits)", lambda v: bool(re.fullmatch(r"[A-Z0-9]{6,9}", v)) and sum(c.isdigit() for c in v) >= 4),
    "us_npi": ("own (Luhn over 80840 prefix)", npi_valid),
    "us_dea": ("own (DEA checksum)", dea_valid),
    "us_mbi": ("own (CMS MBI layout)", lambda v: bool(MBI_RE.match(v.replace("-", "")))),
    "ipv4": ("ipaddress", lambda v: isinstance(ipaddress.ip_address(v), ipaddress.IPv4Address)),
    "ipv6": ("ipaddress", lambda v: isinstance(ipaddress.ip_address(v), ipaddress.IPv6Address)),
    "mac_address": ("stdnum.mac", lambda v: std_mac.is_valid(v) and std_mac.is_unicast(v)),
    "openai_key": ("regex", lambda v: bool(re.fullmatch(r"sk-(?:(?:proj|svcacct)-[\w-]{58,74}T3BlbkFJ[\w-]{58,74}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})", v))),
    "anthropic_key": ("regex", lambda v: bool(re.fullmatch(r"sk-ant-api03-[\w-]{93}AA", v))),
    "aws_access_key_id": ("regex", lambda v: bool(re.fullmatch(r"(AKIA|ASIA)[A-Z2-7]{16}", v))),
    "aws_secret_key": ("regex", lambda v: bool(re.fullmatch(r"[A-Za-z0-9/+]{40}", v))),
    "gcp_api_key": ("regex", lambda v: bool(re.fullmatch(r"AIza[\w-]{35}", v))),
    "azure_storage_key": ("base64 -> 64 bytes", lambda v: len(base64.b64decode(v, validate=True)) == 64),
    "azure_sas": ("url-unescaped base64 -> 32 bytes", lambda v: len(base64.b64decode(v.replace("%2B", "+").replace("%2F", "/").replace("%3D", "="))) == 32),
    "github_token": ("own (CRC32/base62 checksum; fine-grained: regex)", lambda v: crc_token_valid(v) if v[:4] in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_") else bool(re.fullmatch(r"github_pat_\w{22}_\w{59}", v))),
    "gitlab_token": ("regex", lambda v: bool(re.fullmatch(r"glpat-[\w-]{20}", v))),
    "slack_token": ("regex", lambda v: bool(re.fullmatch(r"xox[bp]-\d+-\d+(-\d+)?-[A-Za-z0-9]+", v))),
    "slack_webhook": ("regex", lambda v: bool(re.fullmatch(r"[A-Za-z0-9]{24}", v))),
    "stripe_key": ("regex", lambda v: bool(re.fullmatch(r"(sk|rk)_(live|test)_[A-Za-z0-9]{24,99}", v))),
    "twilio_key": ("regex", lambda v: bool(re.fullmatch(r"SK[0-9a-f]{32}", v))),
    "sendgrid_key": ("regex", lambda v: bool(re.fullmatch(r"SG\.[\w-]{22}\.[\w-]{43}", v))),
    "huggingface_token": ("regex", lambda v: bool(re.fullmatch(r"hf_[A-Za-z]{34}", v))),
    "npm_token": ("own (CRC32/base62 checksum)", lambda v: v.startswith("npm_") and crc_token_valid(v)),
    "pypi_token": ("macaroon decodes", lambda v: b64url_decode(v[5:]).startswith(b"\x02\x01\x08pypi.org")),
    "ward_api_key": ("regex", lambda v: bool(re.fullmatch(r"ward_[A-Za-z0-9]{12}_[A-Za-z0-9]{40}", v))),
    "jwt": ("base64url JSON header with alg", jwt_valid),
    "private_key": ("PEM armour + base64 body", private_key_valid),
}


def validate(label_type: str, value: str) -> bool | None:
    """True/False if the type has a validator, None if not (value-only types like passwords)."""
    v = VALIDATORS.get(label_type)
    if not v:
        return None
    try:
        return bool(v[1](value))
    except Exception:  # noqa: BLE001 - any parse error means invalid
        return False


def _selftest():
    # Keccak core vs hashlib's SHA3 (same permutation, different padding byte).
    for msg in (b"", b"abc", b"x" * 135, b"y" * 136, b"z" * 300):
        assert _sponge256(msg, 0x06) == hashlib.sha3_256(msg).digest(), msg
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    # EIP-55 test vector from the EIP.
    assert eip55("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed") == "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    # BIP-173 / BIP-350 vectors.
    assert bech32_valid("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    assert bech32_valid("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0")
    assert std_bitcoin.is_valid(b58check(b"\x00" + bytes(20)))
    # GitHub-style checksum round trip.
    import random as _r
    t = crc_token(_r.Random(1), "ghp_")
    assert len(t) == 40 and crc_token_valid(t)
    return True


if __name__ == "__main__":
    print("values self-test:", _selftest())
