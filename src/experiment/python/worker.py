# monkeywrench's Python worker: runs Chaos Toolkit python providers and controls for one run.
# Protocol: one JSON request per line on stdin, one JSON response per line on the original stdout.
# User code's prints go to stderr so they cannot corrupt the protocol. Exits on stdin EOF.
import datetime
import decimal
import importlib
import inspect
import json
import os
import sys
import traceback
import uuid

if sys.path and sys.path[0] == "":
    # `python -c` puts the working directory first; `chaos` does not (PYTHONPATH still applies).
    del sys.path[0]


def die_with_parent():
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass
    parent = os.environ.pop("MONKEYWRENCH_PYTHON_PARENT", None)
    if parent is not None and str(os.getppid()) != parent:
        sys.exit(0)


def encode(o):
    if isinstance(o, (datetime.date, datetime.datetime, datetime.time)):
        return o.isoformat()
    if isinstance(o, (set, frozenset)):
        return list(o)
    if isinstance(o, bytes):
        try:
            return o.decode("utf-8")
        except UnicodeDecodeError:
            return str(o)
    if isinstance(o, (decimal.Decimal, uuid.UUID)):
        return str(o)
    return str(o)


def failure(x):
    return {
        "ok": False,
        "error": traceback.format_exception_only(type(x), x)[-1].strip(),
        "type": type(x).__name__,
        "traceback": traceback.format_exception(type(x), x, x.__traceback__),
    }


def parameters(fn):
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


def load(module, func):
    mod = importlib.import_module(module)
    return getattr(mod, func)


def call(req):
    fn = load(req["module"], req["func"])
    arguments = dict(req.get("arguments") or {})
    params = parameters(fn)
    if req.get("secrets") is not None and "secrets" in params:
        arguments["secrets"] = req["secrets"]
    if "configuration" in params:
        arguments["configuration"] = req.get("configuration") or {}
    try:
        value = fn(**arguments)
    except Exception as x:
        return failure(x)
    return {"ok": True, "value": value}


def describe_import_error(module, x):
    missing = getattr(x, "name", None)
    return {
        "ok": False,
        "kind": "module",
        "missing": missing,
        "message": traceback.format_exception_only(type(x), x)[-1].strip(),
    }


def check(req):
    module, func = req["module"], req["func"]
    try:
        mod = importlib.import_module(module)
    except ImportError as x:
        return describe_import_error(module, x)
    except Exception as x:
        r = failure(x)
        r["kind"] = "import"
        return r
    fn = getattr(mod, func, None)
    if fn is None or not callable(fn):
        names = [n for n, v in vars(mod).items() if callable(v) and not n.startswith("_")]
        return {"ok": False, "kind": "func", "names": sorted(names)}
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {"ok": True}
    params = sig.parameters
    names = set(req.get("arguments") or [])
    for injected in ("configuration", "secrets"):
        if injected in params:
            names.add(injected)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    keyword = {
        n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    unexpected = [] if takes_any else sorted(n for n in names if n not in keyword)
    missing = [
        n
        for n, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.default is p.empty
        and n not in names
    ]
    positional_only = [
        n for n, p in params.items() if p.kind == p.POSITIONAL_ONLY and p.default is p.empty
    ]
    return {
        "ok": not (unexpected or missing or positional_only),
        "kind": "bind",
        "unexpected": unexpected,
        "missing": missing + positional_only,
        "accepted": sorted(keyword),
    }


def check_control(req):
    try:
        mod = importlib.import_module(req["module"])
    except ImportError as x:
        return describe_import_error(req["module"], x)
    except Exception as x:
        r = failure(x)
        r["kind"] = "import"
        return r
    hooks = [n for n in req.get("hooks", []) if callable(getattr(mod, n, None))]
    return {"ok": True, "hooks": hooks}


def control(req):
    try:
        mod = importlib.import_module(req["module"])
    except ImportError:
        return {"ok": True, "called": False}
    fn = getattr(mod, req["hook"], None)
    if fn is None:
        return {"ok": True, "called": False}
    arguments = dict(req.get("arguments") or {})
    params = parameters(fn)
    for name in ("secrets", "configuration", "state", "experiment", "extensions", "settings"):
        if name in params and name in req:
            arguments[name] = req[name]
    if "event_registry" in params:
        arguments["event_registry"] = None
    try:
        if "context" in req:
            fn(context=req["context"], **arguments)
        else:
            fn(**arguments)
    except Exception as x:
        r = failure(x)
        r["interrupt"] = type(x).__name__ == "InterruptExecution"
        return r
    return {"ok": True, "called": True}


OPS = {"call": call, "check": check, "check_control": check_control, "control": control}


def main():
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    die_with_parent()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            resp = OPS[req["op"]](req)
        except Exception as x:
            resp = failure(x)
        try:
            text = json.dumps(resp, default=encode, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as x:
            if "value" in resp:
                # NaN, infinities, cycles: the value as text, like a journal would show it.
                resp["value"] = str(resp["value"])
                text = json.dumps(resp)
            else:
                text = json.dumps(failure(x))
        out.write(text + "\n")
        out.flush()


main()
