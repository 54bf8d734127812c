"""HMAC-SHA256 (RFC 2104) over the interpreter's built-in SHA-256.

`import hmac`/`hashlib` loads OpenSSL, about 4 ms per captured command; the built-in
module is already in memory. Tests check this against the `hmac` module.
"""

try:
    from _sha2 import sha256  # Python >= 3.12
except ImportError:
    try:
        from _sha256 import sha256  # Python 3.11
    except ImportError:  # an interpreter built without the builtin: fall back to hashlib
        from hashlib import sha256

_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


_prepared: dict[bytes, tuple] = {}


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    pads = _prepared.get(key)
    if pads is None:  # the key's padded blocks hashed once: an import hashes thousands of lines
        if len(_prepared) >= 8:
            _prepared.clear()
        block = (sha256(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
        pads = _prepared[key] = (sha256(block.translate(_IPAD)), sha256(block.translate(_OPAD)))
    inner = pads[0].copy()
    inner.update(message)
    outer = pads[1].copy()
    outer.update(inner.digest())
    return outer.hexdigest()
