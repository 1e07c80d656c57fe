"""Generate each role README's variables table from the role's meta/argument_specs.yml.

The argument spec is the one description of a role's variables; the README shows it, between
the lines BEGIN_MARKER and END_MARKER below, as a table: Variable | Type | Default | Description.

- Rows: the `main` entry point's options in the spec's order, each sub-option as a row of its own
  (`parent.name`, or `parent[].name` for a list of dicts). Options of another entry point that
  `main` lacks follow in a further table per entry point.
- Type: the spec's type ("list of str" with `elements`, "str: one of a, b" with `choices`), then
  "(required)" and "(secret)" for `required` and `no_log` options.
- Default: the spec's `default` in YAML flow form; "derived" for an option the role computes (no
  `default` in the spec: its description says from what); "—" where there is none (required
  options, secrets, sub-options left unset).
- Description: the spec's description (lines joined), Ansible markup such as C(x) and I(x) turned
  into Markdown.

The spec is also held to defaults/main.yml: every variable set there is an option of an entry
point, a literal default equals the spec's `default`, a templated one has none in the spec (and
the option's description says what it defaults to), and every option is described. A problem
fails either mode.

Usage: role_docs.py [--check]. Without --check, rewrites the tables in place; with --check,
changes nothing and exits 1 naming every README out of step (`make docs` fixes them).
"""

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BEGIN_MARKER = "<!-- BEGIN GENERATED VARIABLES: scripts/role_docs.py -->"
END_MARKER = "<!-- END GENERATED VARIABLES -->"
HEADER = "| Variable | Type | Default | Description |\n| --- | --- | --- | --- |"

# Ansible's documentation markup: C(code), I(italic), B(bold), ...; the letters not listed are code.
MARKUP = re.compile(r"\b([BCEILMOPRUV])\(([^()]*)\)")
MARKDOWN_OF: dict[str, Callable[[str], str]] = {
    "B": lambda text: f"**{text}**",
    "I": lambda text: f"*{text}*",
    "L": lambda text: "[{0}]({2})".format(*text.rpartition(",")),
    "R": lambda text: text.rpartition(",")[0],
    "U": lambda text: text,
}
# A string shown unquoted in a default: words of safe characters that YAML reads back as themselves.
PLAIN = re.compile(r"[A-Za-z0-9/][\w./@+-]*(?: [\w./@+-]+)*")


def code(text: str) -> str:
    return f"`{text}`"


def flow(value: Any) -> str:
    """VALUE in YAML flow form, strings quoted as JSON only where YAML would misread them."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow(key)}: {flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    if isinstance(value, str) and PLAIN.fullmatch(value) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value)


def description_lines(option: dict[str, Any]) -> list[Any]:
    text = option.get("description") or ""
    return text if isinstance(text, list) else [text]


def description(option: dict[str, Any]) -> str:
    joined = " ".join(" ".join(str(line).split()) for line in description_lines(option))
    return MARKUP.sub(lambda match: MARKDOWN_OF.get(match[1], code)(match[2]), joined)


def type_of(option: dict[str, Any]) -> str:
    kind = str(option.get("type", "str"))
    if kind == "list" and "elements" in option:
        kind = f"list of {option['elements']}"
    if "choices" in option:
        kind += ": one of " + ", ".join(flow(choice) for choice in option["choices"])
    flags = [
        flag for flag, key in (("required", "required"), ("secret", "no_log")) if option.get(key)
    ]
    return f"{kind} ({', '.join(flags)})" if flags else kind


def default_of(option: dict[str, Any], top_level: bool) -> str:
    if "default" in option:
        return code(flow(option["default"]))
    if option.get("required") or option.get("no_log") or not top_level:
        return "—"
    return "derived"


def rows(options: dict[str, dict[str, Any]], prefix: str = "") -> Iterator[str]:
    for name, option in options.items():
        cells = [code(prefix + name), type_of(option), default_of(option, not prefix)]
        cells.append(description(option))
        yield "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
        if option.get("options"):
            nested = f"{prefix}{name}[]." if option.get("type") == "list" else f"{prefix}{name}."
            yield from rows(option["options"], nested)


def render(entry_points: dict[str, dict[str, Any]]) -> str:
    main_options = entry_points.get("main", {}).get("options") or {}
    lines = [HEADER, *rows(main_options)]
    for entry, spec in entry_points.items():
        own = {
            name: option
            for name, option in (spec.get("options") or {}).items()
            if name not in main_options
        }
        if entry != "main" and own:
            note = f"Only for the `{entry}` entry point (`tasks_from: {entry}`):"
            lines += ["", note, "", HEADER, *rows(own)]
    return "\n".join(lines)


def canonical(value: Any) -> str:
    """VALUE as JSON, so that true and 1, or 1 and 1.0, compare unequal."""
    return json.dumps(value, sort_keys=True)


def templated(value: Any) -> bool:
    if isinstance(value, dict):
        return any(templated(item) for item in value.values())
    if isinstance(value, list):
        return any(templated(item) for item in value)
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def spec_problems(role: Path, entry_points: dict[str, dict[str, Any]]) -> Iterator[str]:
    """What makes the spec disagree with defaults/main.yml, or leave an option undescribed."""
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.is_file() else None
    defaults = defaults or {}
    options: dict[str, dict[str, Any]] = {}
    for spec in entry_points.values():
        options.update(spec.get("options") or {})
    where = role.relative_to(ROOT) / "meta" / "argument_specs.yml"
    for name in sorted(defaults.keys() - options.keys()):
        yield f"{where}: {name} is set in defaults/main.yml but is no option; add it, described"
    for name, option in options.items():
        text = description(option)
        derived = default_of(option, top_level=True) == "derived"
        if not all(isinstance(line, str) for line in description_lines(option)):
            yield f"{where}: {name}'s description is not text; quote a line holding ': '"
        elif not text:
            yield f"{where}: {name} has no description"
        elif derived and "default" not in text.lower():
            yield f"{where}: {name} has no default:, so say in its description what it defaults to"
        if name not in defaults:
            continue
        value = defaults[name]
        if templated(value) and "default" in option:
            yield f"{where}: {name} is derived in defaults/main.yml, so the spec gives no default:"
        elif not templated(value) and canonical(option.get("default")) != canonical(value):
            yield f"{where}: {name}'s default: must be {flow(value)}, as in defaults/main.yml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a README is out of step"
    )
    args = parser.parse_args()
    problems: list[str] = []
    stale: list[Path] = []
    for spec_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        role = spec_file.parents[1]
        entry_points = yaml.safe_load(spec_file.read_text())["argument_specs"]
        problems += spec_problems(role, entry_points)
        readme = role / "README.md"
        text = readme.read_text() if readme.is_file() else ""
        start, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
        if not 0 <= start < end:
            problems.append(f"{readme.relative_to(ROOT)}: no {BEGIN_MARKER} ... {END_MARKER} lines")
            continue
        table = f"{BEGIN_MARKER}\n{render(entry_points)}\n"
        updated = text[:start] + table + text[end:]
        if updated != text:
            stale.append(readme.relative_to(ROOT))
            if not args.check:
                readme.write_text(updated)
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    if args.check and stale:
        for readme in stale:
            sys.stderr.write(
                f"{readme}: variables table out of step with meta/argument_specs.yml\n"
            )
        sys.stderr.write("Regenerate the tables with `make docs` and commit the READMEs.\n")
        return 1
    for readme in stale:
        sys.stdout.write(f"rewrote the variables table of {readme}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
