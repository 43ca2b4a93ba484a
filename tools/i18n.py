"""Refresh the zh-hans catalogue: extract messages, fill new ones from tools/zh_hans.tsv, compile.

    uv run python tools/i18n.py

The .po file is the source of truth for translations; the TSV (English msgid <TAB> Chinese) is a convenient
way to add many at once (tools/zh_hans.d/*.tsv are read too, one file per feature). A msgid still untranslated is listed, and the command exits 1, so that no English
string reaches a Chinese page unnoticed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "sidms"
PO = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
TSVS = [ROOT / "tools" / "zh_hans.tsv", *sorted((ROOT / "tools" / "zh_hans.d").glob("*.tsv"))]


def _unquote(text: str) -> str:
    return text.replace('\\"', '"').replace("\\n", "\n")


def _quote(text: str) -> str:
    return text.replace('"', '\\"').replace("\n", "\\n")


def _drop_fuzzy(text: str) -> str:
    """msgmerge guesses a translation for a new msgid from a similar old one and marks it fuzzy; those
    guesses are wrong more often than not ("Not verified" → 无权访问), so they are emptied, to be filled
    from the glossaries or reported as untranslated."""
    entries = text.split("\n\n")
    for i, entry in enumerate(entries[1:], start=1):
        lines = entry.split("\n")
        flags = [line for line in lines if line.startswith("#,")]
        if not any("fuzzy" in line for line in flags):
            continue
        kept = []
        for line in lines:
            if line.startswith("#|"):
                continue
            if line.startswith("#,"):
                rest = [f.strip() for f in line[2:].split(",") if f.strip() != "fuzzy"]
                if rest:
                    kept.append("#, " + ", ".join(rest))
                continue
            if line.startswith("msgstr"):
                line = line.split(" ", 1)[0] + ' ""'
            elif line.startswith('"') and kept and kept[-1].startswith("msgstr"):
                continue
            kept.append(line)
        entries[i] = "\n".join(kept)
    return "\n\n".join(entries)


def main() -> int:
    subprocess.run(
        [
            "django-admin",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-wrap",
            "--no-location",
            "--settings=sidms.settings",
        ],
        cwd=PACKAGE,
        check=True,
    )
    known = {}
    lines = [line for tsv in TSVS for line in tsv.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if line.strip() and not line.startswith("#"):
            english, chinese = line.split("\t", 1)
            known[english] = chinese
    text = _drop_fuzzy(PO.read_text(encoding="utf-8"))
    # The header is ours, not a guess: a fuzzy header would be left out of the .mo with its charset.
    text = text.replace('#, fuzzy\nmsgid ""\nmsgstr ""', 'msgid ""\nmsgstr ""', 1)
    text = text.replace('"Language: \\n"', '"Language: zh_Hans\\n"', 1)
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        msgid = _unquote(match.group(1))
        if msgid in known:
            return f'msgid "{match.group(1)}"\nmsgstr "{_quote(known[msgid])}"'
        missing.append(msgid)
        return match.group(0)

    text = re.sub(r'msgid "(.+)"\nmsgstr ""', fill, text)

    def fill_plural(match: re.Match[str]) -> str:
        msgid = _unquote(match.group(1))
        if msgid in known:
            return f'{match.group(0)[: -len(match.group(3))]}"{_quote(known[msgid])}"'
        missing.append(msgid)
        return match.group(0)

    text = re.sub(r'msgid "(.+)"\nmsgid_plural "(.+)"\nmsgstr\[0\] ("")', fill_plural, text)
    PO.write_text(text, encoding="utf-8")
    subprocess.run(["django-admin", "compilemessages", "-l", "zh_Hans"], cwd=PACKAGE, check=True)
    for msgid in missing:
        print(f"untranslated: {msgid}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
