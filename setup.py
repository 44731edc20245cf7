"""Build the gcpause._core C extension; all metadata lives in pyproject.toml.

An ordinary install falls back to the pure-Python recorder if the compiler
fails (with a loud warning).  Under cibuildwheel (CIBUILDWHEEL=1) or with
GCPAUSE_REQUIRE_C=1 a build failure is fatal, so no wheel or CI run can ship
without the extension by accident.  GCPAUSE_NO_EXTENSIONS=1 skips the build;
GCPAUSE_DEBUG_BUILD=1 builds with -O0 -g3 -UNDEBUG; GCPAUSE_SANITIZE=1 adds
AddressSanitizer and UndefinedBehaviorSanitizer.
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def _compile_args() -> "list[str]":
    if sys.platform == "win32":
        return ["/W4", "/WX"]
    args = ["-Wall", "-Wextra", "-Werror"]
    if _flag("GCPAUSE_DEBUG_BUILD") or _flag("GCPAUSE_SANITIZE"):
        args += ["-O0", "-g3", "-UNDEBUG"]
    if _flag("GCPAUSE_SANITIZE"):
        args += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                 "-fno-sanitize-recover=undefined"]
    return args


def _link_args() -> "list[str]":
    if _flag("GCPAUSE_SANITIZE") and sys.platform != "win32":
        return ["-fsanitize=address,undefined"]
    return []


class OptionalBuildExt(build_ext):
    """Let a plain install continue without the extension, loudly."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure
            self._fallback(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            self._fallback(exc)

    def _fallback(self, exc: Exception) -> None:
        if _flag("CIBUILDWHEEL") or _flag("GCPAUSE_REQUIRE_C"):
            raise exc
        bar = "*" * 72
        sys.stderr.write(
            f"\n{bar}\nWARNING: gcpause's C extension could not be built "
            f"({exc}).\ngcpause will use its pure-Python recorder, which "
            f"costs more per collection.\n{bar}\n\n"
        )


ext_modules = []
if not _flag("GCPAUSE_NO_EXTENSIONS"):
    ext_modules.append(
        Extension(
            "gcpause._core",
            sources=["csrc/module.c"],
            depends=["csrc/clock.h", "csrc/compiler.h", "csrc/hist.h", "csrc/infolayout.h",
                     "csrc/state.h", "csrc/threadid.h", "csrc/tickclock.h"],
            extra_compile_args=_compile_args(),
            extra_link_args=_link_args(),
        )
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
