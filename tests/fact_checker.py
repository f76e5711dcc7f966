"""The checker of a report's sentences against its fact sheet (used by tests/test_fact_sheet.py).

Every number in a sentence (a frame, a time, a score, a probability, a share, a count) must be a
value of the fact sheet as the sheet shows it (two or three decimals, or a percentage); every
summary field must be the fact it names; a person is named as the sheet names them, never by a
login the sheet does not show. The reviewer's reasons and the approver's comment are their own
words, quoted, and are not read.
"""

from __future__ import annotations

import re

NUMBER = re.compile(r"(?<![\w.\-])[+\-]?\d+(?:\.\d+)?%?(?![\w])")
QUOTED = re.compile(r"\u201c[^\u201d]*\u201d")


def _leaves(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}.{i}" if path else str(i))
    else:
        yield path, value


def at(facts: dict, path: str):
    for part in path.split("."):
        facts = facts[int(part)] if isinstance(facts, list) else facts[part]
    return facts


def shown(value) -> set[str]:
    """Every way the reports show a fact's value."""
    if isinstance(value, bool) or value is None:
        return set()
    if isinstance(value, int):
        return {str(value)}
    if isinstance(value, float):
        return {f"{value:.2f}", f"{value:.3f}", f"{value:+.2f}", f"{value:.0%}", f"{value:.3g}"}
    return {str(value)} | set(NUMBER.findall(str(value)))


def accepted(facts: dict) -> set[str]:
    out = set()
    for _, value in _leaves(facts):
        out |= shown(value)
    return out


def numbers_not_in_facts(text: str, facts: dict, also: set[str] = frozenset()) -> list[str]:
    """The numbers of ``text`` (quoted words left out) that are no fact's value as shown."""
    ok = accepted(facts) | set(also)
    return [n for n in NUMBER.findall(QUOTED.sub("", text)) if n.lstrip("+") not in ok and n not in ok]


def check_summary(summary: dict, facts: dict, logins: list[str]) -> list[str]:
    """Everything wrong with a summary: a field that is not its fact, a number that is no fact,
    a login named where the sheet names people otherwise, too many words."""
    bad = []
    for s in summary["sentences"]:
        for name, field in s["fields"].items():
            paths = field["fact"] if isinstance(field["fact"], list) else [field["fact"]] if field["fact"] else []
            for p in paths:
                value = at(facts, p)
                if p.endswith(".role"):  # a person named by their role, in the summary's language
                    from crnnaudit.report.summary import ROLE_WORDS
                    if field["shown"].lower() == ROLE_WORDS[summary["language"]].get(value, "").lower():
                        continue
                if not any(v in field["shown"] for v in shown(value) | ({value} if isinstance(value, str) else set())):
                    bad.append(f"{s['message']}.{name} shows {field['shown']!r}, the fact {p} is {value!r}")
        from crnnaudit.report.messages import CATALOGUES
        literal = set(NUMBER.findall(re.sub(r"\{[^}]*\}", "", CATALOGUES[summary["language"]][s["message"]])))
        bad += [f"{s['message']}: {n} is no fact" for n in numbers_not_in_facts(s["text"], facts, literal)]
    if " ".join(s["text"] for s in summary["sentences"]) != summary["text"]:
        bad.append("the text is not its sentences")
    for login in logins:
        named = {p["shown"] for p in facts["people"].values() if p.get("named")}
        if login not in named and re.search(rf"\b{re.escape(login)}\b", summary["text"]):
            bad.append(f"the login {login!r} is named")
    if summary["words"] > 200:
        bad.append(f"{summary['words']} words")
    return bad
