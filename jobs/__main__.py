"""`retail-pulse <domain> <command> [options]`: every job of the pipeline and every tool of the local stack.

`retail-pulse --help` lists the commands by domain; `retail-pulse <domain> <command> --help` shows a command's
options and exit codes. `python -m jobs ...` is the same program (the DAGs' tasks call it that way).
"""

from __future__ import annotations

import importlib
import os
import sys

from common.cli import COMMANDS, PROGRAM


def usage() -> str:
    width = max(len(f"{d} {c}") for d, commands in COMMANDS.items() for c in commands)
    lines = [f"usage: {PROGRAM} <domain> <command> [options]   ({PROGRAM} <domain> <command> --help for its options)"]
    for domain, commands in COMMANDS.items():
        lines.append(f"\n{domain}:")
        lines += [f"  {f'{domain} {command}':<{width}}  {summary}" for command, (_, summary) in commands.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    domain, rest = argv[0], argv[1:]
    if domain not in COMMANDS:
        print(f"error: unknown domain {domain!r}; one of: {', '.join(COMMANDS)}\n\n{usage()}", file=sys.stderr)
        return 2
    commands = COMMANDS[domain]
    if not rest or rest[0] in ("-h", "--help"):
        print(f"usage: {PROGRAM} {domain} <command> [options]\n")
        print("\n".join(f"  {command:<10}  {summary}" for command, (_, summary) in commands.items()))
        return 0 if rest else 2
    if rest[0] not in commands:
        print(f"error: unknown command {domain} {rest[0]!r}; one of: {', '.join(commands)}", file=sys.stderr)
        return 2
    try:
        return importlib.import_module(commands[rest[0]][0]).main(rest[1:])
    except BrokenPipeError:  # the reader went away (`retail-pulse tools consume ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
