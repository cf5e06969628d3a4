#!/usr/bin/env python3
"""The bench scripts' one reader of docker-compose.yml.

    compose.py limits FILE     # "service cpus bytes" per service (run.sh --limits)
    compose.py images FILE     # "service image" per service, in file order (docker.sh)
    compose.py facts FILE      # "service image cpus_milli bytes" ("-" where absent)

It reads the block subset the file is written in (mappings, `- item`
sequences, `[a, b]` flow sequences, quoted and plain scalars) and refuses
everything else (anchors, aliases, merge keys, block scalars, flow mappings,
tabs) with the line number, exactly as the Rust tests' reader does
(tests/compose/mod.rs). Two readers because the tests are Rust and run where
there may be no python3 for them to call, and the bench scripts are shell and
Python with no cargo target to call; tests/compose_rules.rs runs `facts` here
and compares it with its own reading of the same file, so the two cannot
drift apart unnoticed. (`docker-compose config` cannot stand in for either:
Compose v1, the one on these machines, prints YAML, not JSON.)

Standard library only. Units follow Docker's: binary multiples, so "100MB"
is 100 MiB; cpus have at most three decimals.
"""

import re
import sys


class ComposeError(ValueError):
    """A line of the file outside the subset, or a value that is not one."""


# ---------------------------------------------------------------- the subset


def parse(source):
    """The document as dicts (insertion-ordered), lists, strings and None."""
    lines = []
    for number, raw in enumerate(source.splitlines(), 1):
        body = raw.lstrip(" ")
        if body.startswith("\t"):
            raise ComposeError(f"line {number}: tab in indentation")
        text = strip_comment(body).rstrip()
        if not text:
            continue
        if text in ("---", "..."):
            raise ComposeError(f"line {number}: document markers are not supported")
        lines.append((number, len(raw) - len(body), text))
    if not lines:
        return None
    parser = _Parser(lines)
    root = parser.block(0)
    if parser.pos < len(lines):
        raise ComposeError(f"line {lines[parser.pos][0]}: unexpected indentation")
    return root


def unquoted(text):
    """(index, character) of every character outside quotes, the quotes
    themselves left out."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        else:
            yield i, c


def strip_comment(text):
    """Cuts a `#` comment that starts the line or follows a blank, outside quotes."""
    for i, c in unquoted(text):
        if c == "#" and (i == 0 or text[i - 1] == " "):
            return text[:i]
    return text


def is_item(text):
    return text == "-" or text.startswith("- ")


def split_key(text):
    """(key, rest) split at the first `: ` (or final `:`) outside quotes."""
    for i, c in unquoted(text):
        if c == ":" and (i + 1 == len(text) or text[i + 1] == " "):
            return text[:i].rstrip(), text[i + 1 :].lstrip()
    return None


def split_flow(text):
    """A flow sequence's inside split at commas outside quotes."""
    parts, start = [], 0
    for i, c in unquoted(text):
        if c == ",":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def scalar(text, number):
    def unsupported(what):
        return ComposeError(f"line {number}: {what} are not supported")

    for first, what in (("&*", "anchors and aliases"), ("|>", "block scalars"), ("{", "flow mappings"),
                        ("!", "tags"), ("?", "complex keys")):
        if text[0] in first:
            raise unsupported(what)
    if text == "<<":
        raise unsupported("merge keys")
    if text.startswith("["):
        if not text.endswith("]"):
            raise ComposeError(f"line {number}: unterminated flow sequence")
        return [scalar(part.strip(), number) for part in split_flow(text[1:-1]) if part.strip()]
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise ComposeError(f"line {number}: unterminated string")
        if "\\" in text:
            raise unsupported("escapes in strings")
        return text[1:-1]
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise ComposeError(f"line {number}: unterminated string")
        return text[1:-1].replace("''", "'")
    return None if text in ("~", "null") else text


class _Parser:
    def __init__(self, lines):
        self.lines, self.pos = lines, 0

    def block(self, indent):
        number, at, text = self.lines[self.pos]
        if at != indent:
            raise ComposeError(f"line {number}: unexpected indentation")
        return self.sequence(indent) if is_item(text) else self.mapping(indent)

    def mapping(self, indent):
        pairs = {}
        while self.pos < len(self.lines):
            number, at, text = self.lines[self.pos]
            if at < indent or (at == indent and is_item(text)):
                break
            if at > indent:
                raise ComposeError(f"line {number}: unexpected indentation")
            split = split_key(text)
            if split is None:
                raise ComposeError(f"line {number}: expected `key: value`")
            key = scalar(split[0], number)
            if not isinstance(key, str):
                raise ComposeError(f"line {number}: unsupported key")
            if key in pairs:
                raise ComposeError(f"line {number}: duplicate key {key}")
            self.pos += 1
            pairs[key] = self.nested(indent, True) if not split[1] else scalar(split[1], number)
        return pairs

    def sequence(self, indent):
        items = []
        while self.pos < len(self.lines):
            number, at, text = self.lines[self.pos]
            if at != indent or not is_item(text):
                if at > indent:
                    raise ComposeError(f"line {number}: unexpected indentation")
                break
            rest = text[1:].lstrip()
            self.pos += 1
            if not rest:
                items.append(self.nested(indent, False))
            elif split_key(rest) is not None:
                raise ComposeError(f"line {number}: mappings inside sequence items are not supported")
            else:
                items.append(scalar(rest, number))
        return items

    def nested(self, indent, after_key):
        """The value of a `key:` or `-` with nothing after it."""
        if self.pos < len(self.lines):
            _, at, text = self.lines[self.pos]
            if at > indent:
                return self.block(at)
            if after_key and at == indent and is_item(text):
                return self.sequence(indent)
        return None


# ---------------------------------------------------------------- facts


def parse_cpus(text):
    """"0.5" → 500 thousandths; None unless a number with at most three decimals."""
    match = re.fullmatch(r"([0-9]*)(?:\.([0-9]{0,3}))?", text)
    if not match or not (match.group(1) or match.group(2)):
        return None
    return int(match.group(1) or 0) * 1000 + int((match.group(2) or "").ljust(3, "0"))


def parse_bytes(text):
    """Docker's sizes: digits and b, k, m or g (optionally then b), binary."""
    match = re.fullmatch(r"([0-9]+)([kmg]?)b?", text.strip().lower())
    if not match:
        return None
    return int(match.group(1)) * 1024 ** " kmg".index(match.group(2) or " ")


def services(document):
    """[(name, image, cpus_milli, bytes)] in file order; None where absent."""
    rows = []
    for name, service in ((document or {}).get("services") or {}).items():
        service = service if isinstance(service, dict) else {}
        limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        cpus, memory = limits.get("cpus"), limits.get("memory")
        rows.append((
            name,
            service.get("image"),
            parse_cpus(cpus) if isinstance(cpus, str) else None,
            parse_bytes(memory) if isinstance(memory, str) else None,
        ))
    return rows


def load(path):
    with open(path, encoding="utf-8") as f:
        try:
            return parse(f.read())
        except ComposeError as error:
            raise ComposeError(f"{path}: {error}") from None


def main(argv):
    if len(argv) != 3 or argv[1] not in ("limits", "images", "facts"):
        sys.exit(__doc__)
    try:
        rows = services(load(argv[2]))
    except (OSError, ComposeError) as error:
        sys.exit(f"compose.py: {error}")
    if not rows:
        sys.exit(f"compose.py: {argv[2]}: no services")
    for name, image, cpus, memory in rows:
        if argv[1] == "limits":
            if cpus is None or memory is None:
                sys.exit(f"compose.py: {argv[2]}: no readable cpus/memory limit for {name}")
            print(name, f"{cpus / 1000:g}", memory)
        elif argv[1] == "images":
            if image is None:
                sys.exit(f"compose.py: {argv[2]}: {name} has no image")
            print(name, image)
        else:
            print(name, *("-" if v is None else v for v in (image, cpus, memory)))


if __name__ == "__main__":
    main(sys.argv)
