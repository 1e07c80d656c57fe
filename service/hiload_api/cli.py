"""hiload-api: the commands the app role runs besides uvicorn itself."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import asyncpg

from hiload_api.config import SettingsError, load_settings
from hiload_api.db import DATABASE_UNAVAILABLE, migrate
from hiload_api.static import swagger_ui_dir

EXIT_FAILED = 1
EXIT_BAD_SETTINGS = 2


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"hiload-api: {message}\n")
    return code


def _migrate() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _fail(str(exc), EXIT_BAD_SETTINGS)
    logging.basicConfig(
        level=settings.log_level.upper(), format="hiload-api: %(message)s", stream=sys.stderr
    )
    try:
        applied = asyncio.run(migrate(settings))
    except DATABASE_UNAVAILABLE as exc:
        return _fail(f"PostgreSQL unreachable: {type(exc).__name__}: {exc}", EXIT_FAILED)
    except asyncpg.PostgresError as exc:
        return _fail(f"migration failed: {type(exc).__name__}: {exc}", EXIT_FAILED)
    logging.getLogger(__name__).info(
        "Schema up to date (%s)", f"applied {', '.join(applied)}" if applied else "nothing to apply"
    )
    return 0


def _static_dir() -> int:
    sys.stdout.write(f"{swagger_ui_dir()}\n")
    return 0


COMMANDS = {
    "migrate": (_migrate, "apply pending schema migrations and exit (safe to run concurrently)"),
    "static-dir": (_static_dir, "print the directory holding the docs assets, for nginx"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hiload-api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        commands.add_parser(name, help=help_text)
    args = parser.parse_args(argv)
    run, _ = COMMANDS[args.command]
    return run()
