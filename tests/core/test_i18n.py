"""The English catalogue is complete: no empty or fuzzy entries (run makemessages -l en after adding strings)."""

import re
from pathlib import Path

import gridcare

PO = Path(gridcare.__file__).parent / "locale" / "en" / "LC_MESSAGES" / "django.po"


def _entries(text: str):
    for block in text.split("\n\n"):
        if "msgid" not in block or block.lstrip().startswith("#~"):
            continue
        msgid = "".join(re.findall(r'^(?:msgid|msgid_plural)? ?"(.*)"$', block.split("msgstr")[0], re.M))
        msgstrs = re.findall(r'^msgstr(?:\[\d\])? "(.*)"\n?((?:".*"\n?)*)', block, re.M)
        yield block, msgid, ["".join([a, *re.findall(r'"(.*)"', b)]) for a, b in msgstrs]


def test_every_entry_translated_and_not_fuzzy():
    text = PO.read_text(encoding="utf-8")
    missing, fuzzy = [], []
    for block, msgid, msgstrs in _entries(text):
        if not msgid:
            continue  # header
        if "#, fuzzy" in block:
            fuzzy.append(msgid)
        if not msgstrs or any(not s for s in msgstrs):
            missing.append(msgid)
    assert not missing, f"untranslated: {missing[:10]}"
    assert not fuzzy, f"fuzzy: {fuzzy[:10]}"
