"""Redact a command line before it is stored: secrets become `<redacted>`, the rest stays as
typed, so the person who ran it still recognises it.

What is redacted (in this order):
  - PEM blocks (`-----BEGIN ... -----` to its END line, or to the end of the text);
  - well-known token shapes anywhere: GitHub, GitLab, Slack (tokens and webhook URLs), AWS
    access key ids, OpenAI and Anthropic keys, Stripe, PyPI, npm, Google API keys, SendGrid,
    Hugging Face, JWTs;
  - credentials in headers: the value after `Authorization:` (keeping `Bearer`/`Basic`/`token`),
    `Cookie:`, and the word after a `Bearer` or a Basic credential;
  - the password of a URL's user info (`scheme://user:<redacted>@host`), and of `curl -u user:pw`;
  - the value of an assignment or option whose name says secret (`GITHUB_TOKEN=…`,
    `--password …`, `--api-key=…`, `"password": "…"`), unless the value is a `$VARIABLE` or a
    path; `-p`/`-a` passwords of mysql, sshpass, redis-cli and `… login -p`;
  - long high-entropy words: 20+ characters mixing upper case, lower case and digits.
Not redacted: hex strings (git SHAs, digests), UUIDs, paths and `$VARIABLE` references, and
whatever does not look secret (a password typed as a plain word, a secret piped on stdin).
A line whose command was not found (exit 127) is not kept at all: see `stored_text`.

Standard library only: this runs on the capture path.
"""

import re

REDACTED = "<redacted>"
MAX_TEXT = 2000  # characters kept of a very long line (an agent's script)

# Each rule: (the literal words without which it cannot match, pattern). A rule is compiled
# the first time a line holds one of its words: compiling them all costs `devtrace run`
# several milliseconds, and most command lines need one or two of them, or none.
_PEM = (("-----BEGIN",), r"-----BEGIN [A-Z0-9 ]+-----.*?(?:-----END [A-Z0-9 ]+-----|\Z)")
_TOKENS = (
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-",
     "glimt-", "glagent-", "gloas-", "glft-", "glffct-", "xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-",
     "hooks.slack.com/", "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA", "sk-",
     "k_live_", "k_test_", "pypi-", "npm_", "AIza", "SG.", "hf_", "eyJ"),
    r"""(?x)
      \b(?:gh[pousr]_[A-Za-z0-9]{30,255} | github_pat_[A-Za-z0-9_]{20,255})        # GitHub
    | \bgl(?:pat|dt|rt|ptt|soat|cbt|imt|agent|oas|ft|ffct)-[A-Za-z0-9_-]{16,}        # GitLab
    | \bxox[abposre]-[A-Za-z0-9-]{10,}                                               # Slack token
    | hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]+                       # Slack webhook
    | \b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b     # AWS key id
    | \bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}                         # OpenAI, Anthropic
    | \b[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}                                        # Stripe
    | \bpypi-[A-Za-z0-9_-]{40,}                                                      # PyPI
    | \bnpm_[A-Za-z0-9]{36}\b                                                        # npm
    | \bAIza[0-9A-Za-z_-]{35}                                                        # Google API key
    | \bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}                                   # SendGrid
    | \bhf_[A-Za-z0-9]{30,}                                                          # Hugging Face
    | \beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*                   # JWT
    """,
)
_COOKIE = (("cookie",), r"(?i)\b((?:set-)?cookie\s*:\s*)[^\"'\n]+")
_AUTHORIZATION = (
    ("authorization",),
    r"(?i)\b((?:proxy-)?authorization\s*:\s*(?:(?:bearer|basic|token|digest|negotiate|bot|apikey)\s+)?)"
    r"(\"[^\"]*\"|'[^']*'|[^\s\"']+)",
)
_BEARER = (("bearer",), r"\b((?:Bearer|bearer|BEARER)\s+)([A-Za-z0-9._~+/=-]{6,})")
_BASIC = (("basic",), r"\b((?:Basic|BASIC)\s+)([A-Za-z0-9+/]{6,}={0,2})(?![\w.-])")
_URL_USERINFO = (("://",), r"\b([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"]*:)([^/\s@'\"]+)(@)")
_CURL_USER = (("-u",), r"(\s(?:-u|--user)\s*[\"']?[^\s:\"']+:)([^\s\"']+)")
_PROGRAM_PASSWORDS = (
    ("-p", "-a"),
    r"""(?x)
      (\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^|;&\n]*?\s-p)([^\s\-][^\s]*)
    | (\bsshpass\s+-p\s*)([^\s]+)
    | (\bredis-cli\b[^|;&\n]*?\s-a\s+)([^\s-][^\s]*)
    | (\blogin\b[^|;&\n]*?\s-p\s+)([^\s-][^\s]*)
    """,
)
_SECRET_PARTS = ("token", "secret", "passw", "credential", "cookie", "apikey", "accesskey", "privatekey",
                 "authorization", "pwd", "sessionid", "clientsecret", "signingkey")
_SECRET_WORDS = {"key", "auth", "pass", "pat", "pw"}
_NAMES = (*_SECRET_PARTS, *_SECRET_WORDS)
# NAME=value, NAME:value, "NAME": "value", --name=value (the name is checked by `_secret_name`).
# A name starts where a word does: tried from inside a long word, it would cost quadratic time.
_ASSIGNMENT = (
    _NAMES,
    r"(?<![A-Za-z0-9_.-])([A-Za-z_][A-Za-z0-9_.-]*)([\"']?)(\s*=\s*|\s*:\s*(?=[\"'])|:(?=[^\s/:]))"
    r"(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s\"';&|)]+)",
)
# --name value, -name value (a value that is not itself an option).
_OPTION = (
    _NAMES,
    r"((?:^|\s)--?([A-Za-z][A-Za-z0-9_.-]*)\s+)(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s\"';&|)-][^\s\"';&|)]*)",
)
_WORD = r"[A-Za-z0-9+/=_-]{20,}"
_UUID_OR_HEX = r"[0-9a-fA-F-]+"
_compiled: dict[str, re.Pattern] = {}


def _pattern(source: str) -> re.Pattern:
    found = _compiled.get(source)
    if found is None:
        found = _compiled[source] = re.compile(source, re.S)
    return found


def redact(line: str) -> str:
    """The line with every secret it visibly carries replaced by `<redacted>`."""
    lowered = line.lower()
    text = line

    def apply(rule: tuple, replace, case_sensitive: bool = False) -> None:
        nonlocal text
        words, source = rule
        haystack = line if case_sensitive else lowered
        if any(word in haystack for word in words):
            text = _pattern(source).sub(replace, text)

    apply(_PEM, REDACTED, case_sensitive=True)
    apply(_TOKENS, REDACTED, case_sensitive=True)
    apply(_COOKIE, lambda m: m.group(1) + REDACTED)
    apply(_AUTHORIZATION, lambda m: m.group(1) + REDACTED)
    apply(_BEARER, lambda m: m.group(1) + REDACTED)
    apply(_BASIC, lambda m: m.group(1) + REDACTED if _credential(m.group(2)) else m.group(0))
    apply(_URL_USERINFO, lambda m: m.group(1) + REDACTED + m.group(3))
    apply(_CURL_USER, lambda m: m.group(1) + REDACTED)
    apply(_PROGRAM_PASSWORDS, _program_password)
    apply(_ASSIGNMENT, _assignment)
    if " -" in line:
        apply(_OPTION, _option)
    if any(len(chunk) >= 20 for chunk in text.split()):
        text = _pattern(_WORD).sub(_entropy, text)
    return text


def stored_text(line: str, exit_code: int | None) -> str | None:
    """What the store keeps of a command line: None for a command that was not found (exit
    127: often a password typed at the prompt) or an empty line, else the redacted line, its
    first MAX_TEXT characters at most."""
    if exit_code == 127 or not line.strip():
        return None
    if len(line) <= MAX_TEXT:
        return redact(line)
    # Cut before redacting (redacting costs time with the length), at a word's end: a secret
    # cut in half could slip past the patterns. One enormous word is not kept at all.
    cut = max(line.rfind(" ", 0, MAX_TEXT), line.rfind("\n", 0, MAX_TEXT))
    return redact(line[:cut]) + " …" if cut > 0 else None


def _secret_name(name: str) -> bool:
    words = name.lower().replace("-", "_").replace(".", "_").split("_")
    squashed = "".join(words)
    return any(part in squashed for part in _SECRET_PARTS) or any(word in _SECRET_WORDS for word in words)


def _keeps(value: str) -> bool:
    """A value that names where the secret is rather than being it: `$VAR`, `${VAR}`, `$(cmd)`,
    a path, or nothing."""
    inner = value.strip("\"'")
    return not inner or inner.startswith(("$", "/", "~/", "./", "../", "<")) or inner == REDACTED


def _assignment(m: re.Match) -> str:
    if not _secret_name(m.group(1)) or _keeps(m.group(4)):
        return m.group(0)
    return m.group(1) + m.group(2) + m.group(3) + REDACTED


def _option(m: re.Match) -> str:
    if not _secret_name(m.group(2)) or _keeps(m.group(3)):
        return m.group(0)
    return m.group(1) + REDACTED


def _program_password(m: re.Match) -> str:
    for prefix in (1, 3, 5, 7):
        if m.group(prefix) is not None:
            value = m.group(prefix + 1)
            return m.group(0) if _keeps(value) else m.group(prefix) + REDACTED
    return m.group(0)


def _credential(word: str) -> bool:
    """A Basic credential is base64: mixed case or digits, not an English word."""
    return any(c.isdigit() or c in "+/=" for c in word) or (word != word.lower() and word != word.capitalize())


def _entropy(m: re.Match) -> str:
    word = m.group(0)
    if _pattern(_UUID_OR_HEX).fullmatch(word) or REDACTED[1:-1] in word:
        return word
    if not (any(c.isdigit() for c in word) and any(c.isupper() for c in word) and any(c.islower() for c in word)):
        return word
    return REDACTED if _bits_per_char(word) >= 3.5 else word


def _bits_per_char(word: str) -> float:
    import math  # only for a long word: most lines have none

    counts: dict[str, int] = {}
    for c in word:
        counts[c] = counts.get(c, 0) + 1
    return -sum(n / len(word) * math.log2(n / len(word)) for n in counts.values())
