"""Lint as a test: the GC callback's hot path in csrc/ never allocates, never sets an
exception and never takes a lock (csrc/module.c header comment, house style "How C errors
flow").

The C sources are parsed just enough for this: comments, string and character literals
are blanked, function definitions are found at brace depth 0 and their bodies taken by
brace matching.  The hot path is hook_vectorcall (the vectorcall of the callables the GC
invokes) plus every function defined in csrc/ that it calls, transitively, except
placement_repair (rare: only when the list layout was disturbed, with back-off) and
capture_site (opt-in trigger attribution), which are documented as allowed to allocate.  A function this test expects but cannot find fails
it: a rename must update the test, not silently shrink it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parent.parent / "csrc"
HOT_ROOT = "hook_vectorcall"
EXCLUDED = {
    "placement_repair": "runs only when gc.callbacks was reordered, with back-off; "
                        "may grow the list (module.c)",
    "capture_site": "opt-in (sites=True); PyEval_GetFrame may create a frame (module.c)",
}
# Functions the hot path is known to reach today; each must be found and checked.
EXPECTED_HOT = {"hook_vectorcall", "hook_stop", "start_unusual", "record_stop", "read_info",
                "read_info_slow", "str_key_is", "key_is", "value_int", "value_int_slow",
                "duration_ns", "info_int", "agg_add", "placement_ok", "placement_check",
                "is_ours", "hist_index", "gcp_bit_length", "gcp_clock_ns", "gcp_ticks_raw",
                "gcp_tid", "gcp_thread_pointer", "tc_now", "tc_now_slow", "tc_stop_times",
                "tc_stop_slow", "tc_maybe_refresh", "tc_pair", "tc_rate", "tc_anchor",
                "tc_sync", "tc_to_ns", "tc_span_ns", "tc_after_stop", "tc_begin", "tc_scale",
                "tc_set_rate", "il_read", "il_shape_ok", "il_prefix_ok"}

FORBIDDEN = {
    "allocation": [
        r"Py_BuildValue", r"PyLong_From\w+", r"PyFloat_From\w+", r"PyBool_FromLong",
        r"PyUnicode_(?:From|Decode|New|Intern|Concat|Join|Format)\w*",
        r"PyBytes_From\w+", r"PyList_(?:New|Append|Insert|SetSlice|AsTuple|GetSlice)",
        r"PyTuple_(?:New|Pack|GetSlice)", r"PyDict_(?:New|Copy|SetItem\w*|GetItemString)",
        r"PySet_New", r"PyObject_(?:Call\w*|Vectorcall\w*|GetAttr\w*|SetAttr\w*|Repr|Str|"
        r"New\w*|GC_New\w*|Malloc|Calloc|Realloc|Init\w*|Format)",
        r"PyCFunction_New\w*", r"PySequence_\w+", r"PyImport_\w+", r"PyEval_GetFrame",
        r"PyFrame_\w+", r"_?PyMem_(?:Raw)?(?:Malloc|Calloc|Realloc|New|Resize)\w*",
        r"PyMem_\w*Alloc\w*", r"malloc", r"calloc", r"realloc", r"strdup", r"alloca",
        r"Py_RETURN_RICHCOMPARE",
    ],
    "exception": [
        r"PyErr_(?:Set\w*|Format\w*|NoMemory|BadArgument|BadInternalCall|Warn\w*|"
        r"WriteUnraisable|FormatUnraisable|Restore|SetRaisedException|Print\w*)",
        r"_PyErr_\w+", r"PyErr_Raise\w*",
    ],
    "lock": [
        r"PyMutex_\w+", r"PyThread_(?:acquire_lock\w*|allocate_lock|release_lock)",
        r"pthread_(?!self\b)\w+", r"Py_(?:BEGIN|END)_CRITICAL_SECTION\w*", r"PyCriticalSection\w*",
        r"PyGILState_\w+", r"Py_(?:BEGIN|END)_ALLOW_THREADS", r"PyEval_(?:Save|Restore)Thread",
        r"EnterCriticalSection", r"AcquireSRWLock\w+", r"sem_wait", r"mtx_lock",
    ],
}
_FORBIDDEN_RE = {kind: re.compile(r"\b(" + "|".join(pats) + r")\s*\(")
                 for kind, pats in FORBIDDEN.items()}
# Macros written without parentheses that still lock or release the GIL.
_BARE_RE = re.compile(r"\b(Py_BEGIN_ALLOW_THREADS|Py_END_ALLOW_THREADS)\b")
_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "defined", "else", "do",
             "case", "goto", "_Alignof", "__builtin_expect"}


def strip_c(text: str) -> str:
    """Blank comments, string and char literals (keeping newlines and length)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


_SIG_RE = re.compile(r"\b([A-Za-z_]\w*)\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*$", re.S)


def functions(text: str) -> dict[str, str]:
    """Map name -> body (between the outer braces) of each function definition; the
    bodies of several definitions under #if/#else are concatenated."""
    src = strip_c(text)
    # Preprocessor lines can hold unbalanced braces only in pathological code; blank the
    # directives themselves but keep both branches of #if/#else bodies.
    src = re.sub(r"(?m)^[ \t]*#.*(?:\\\n.*)*$", lambda m: re.sub(r"[^\n]", " ", m.group()),
                 src)
    result: dict[str, str] = {}
    depth = 0
    i = 0
    last_stmt_end = 0
    while i < len(src):
        c = src[i]
        if c == "{":
            if depth == 0:
                head = src[last_stmt_end:i]
                m = _SIG_RE.search(head)
                start = i
                # Match the braces of this top-level block.
                d = 0
                j = i
                while j < len(src):
                    if src[j] == "{":
                        d += 1
                    elif src[j] == "}":
                        d -= 1
                        if d == 0:
                            break
                    j += 1
                if d != 0:
                    raise ValueError(f"unbalanced braces after offset {start}")
                if m and "=" not in head and m.group(1) not in _KEYWORDS:
                    # #if/#else variants of one function (clock.h): check them all.
                    name = m.group(1)
                    result[name] = result.get(name, "") + src[start + 1:j]
                i = j + 1
                last_stmt_end = i
                continue
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == ";" and depth == 0:
            last_stmt_end = i + 1
        i += 1
    return result


def calls(body: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(", body)} - _KEYWORDS


def violations(body: str) -> list[str]:
    found = []
    for kind, rx in _FORBIDDEN_RE.items():
        found += [f"{kind}: {m.group(1)}" for m in rx.finditer(body)]
    found += [f"lock: {m.group(1)}" for m in _BARE_RE.finditer(body)]
    return found


def hot_path(funcs: dict[str, str]) -> list[str]:
    todo = [HOT_ROOT] if HOT_ROOT in funcs else []
    seen: list[str] = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        for callee in sorted(calls(funcs[name])):
            if callee in funcs and callee not in EXCLUDED and callee not in seen:
                todo.append(callee)
    return seen


def all_functions() -> dict[str, str]:
    files = sorted(CSRC.glob("*.c")) + sorted(CSRC.glob("*.h"))
    assert files, f"no C sources under {CSRC}"
    funcs: dict[str, str] = {}
    for f in files:
        for name, body in functions(f.read_text()).items():
            assert name not in funcs or funcs[name] == body, f"{name} defined twice"
            funcs[name] = body
    return funcs


@pytest.fixture(scope="module")
def funcs() -> dict[str, str]:
    if not (CSRC / "module.c").exists():
        pytest.fail(f"{CSRC / 'module.c'} not found: the C lint needs the source tree")
    return all_functions()


def test_hot_path_functions_are_all_found(funcs: dict[str, str]) -> None:
    for name in (HOT_ROOT, *EXCLUDED):
        assert name in funcs, f"expected C function {name}() not found in csrc/"
    vc = re.search(r"->vectorcall\s*=\s*(\w+)\s*;", (CSRC / "module.c").read_text())
    assert vc and vc.group(1) == HOT_ROOT, "the Hook type's vectorcall is not " + HOT_ROOT
    missing = EXPECTED_HOT - set(hot_path(funcs))
    assert not missing, (f"hot-path functions not reached from {HOT_ROOT} (renamed or "
                         f"inlined? update EXPECTED_HOT): {sorted(missing)}")


def test_excluded_paths_are_still_called_from_the_hot_path(funcs: dict[str, str]) -> None:
    # The exclusions are for these two call sites only; if they move, revisit the lint.
    assert "placement_repair" in calls(funcs["placement_check"])
    assert "capture_site" in calls(funcs["start_unusual"])
    assert {"placement_check", "start_unusual"} <= set(hot_path(funcs))


def test_hot_path_does_not_allocate_raise_or_lock(funcs: dict[str, str]) -> None:
    problems = {name: v for name in hot_path(funcs) if (v := violations(funcs[name]))}
    assert not problems, f"forbidden calls on the GC callback's hot path: {problems}"


def test_hook_returns_only_none(funcs: dict[str, str]) -> None:
    # Never NULL (that would be an exception), never a new object: only Py_RETURN_NONE,
    # or, for the stop phase, what hook_stop returns.
    body = re.sub(r"Py_RETURN_NONE", "", funcs[HOT_ROOT])
    assert re.findall(r"\breturn\b\s*(\w*)", body) == ["hook_stop"], \
        f"{HOT_ROOT} must leave only through Py_RETURN_NONE or hook_stop()"
    assert "return" not in re.sub(r"Py_RETURN_NONE", "", funcs["hook_stop"]), \
        "hook_stop must leave only through Py_RETURN_NONE"


# -- the checker itself -------------------------------------------------------------------

SAMPLE = r'''
/* a comment with { braces } and Py_BuildValue( */
static const char *s = "}{ PyMutex_Lock(";
static PyMethodDef defs[] = { {"x", NULL, 0, NULL} };
typedef struct { int a; } T;

static inline int
helper(int x)
{
    if (x) { return PyLong_FromLong(x) != NULL; }   // allocation
#ifdef FOO
    { PyErr_SetString(PyExc_ValueError, "}"); }
#endif
    return 0;
}

static PyObject *
hook_vectorcall(PyObject *m, PyObject *const *args, Py_ssize_t n, int which)
{
    char c = '}';
    Py_BEGIN_ALLOW_THREADS
    Py_END_ALLOW_THREADS
    helper(which);
    Py_RETURN_NONE;
}
'''


def test_checker_finds_functions_through_comments_strings_and_nested_braces() -> None:
    funcs = functions(SAMPLE)
    assert set(funcs) == {"helper", "hook_vectorcall"}
    assert "PyErr_SetString" in funcs["helper"]
    assert set(hot_path(funcs)) == {"hook_vectorcall", "helper"}


def test_checker_flags_allocation_exception_and_lock() -> None:
    funcs = functions(SAMPLE)
    v = violations(funcs["helper"]) + violations(funcs["hook_vectorcall"])
    assert "allocation: PyLong_FromLong" in v
    assert "exception: PyErr_SetString" in v
    assert "lock: Py_BEGIN_ALLOW_THREADS" in v
    assert not any("PyMutex_Lock" in x or "Py_BuildValue" in x for x in v)


def test_checker_tells_pthread_self_from_pthread_locks() -> None:
    # pthread_self() reads a register; every other pthread_* call may block.
    assert violations("unsigned long t = pthread_self();") == []
    assert violations("pthread_mutex_lock(&m);") == ["lock: pthread_mutex_lock"]
    assert violations("pthread_self_lock(&m);") == ["lock: pthread_self_lock"]


def test_checker_rejects_unbalanced_braces() -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        functions("static int f(void) { if (1) { return 0; }\n")
