"""Schemathesis hooks for scripts/schemathesis.sh (schemathesis 4.32.5).

Four things the document alone cannot tell schemathesis, one answer it misreads, one
it must not let pass, and one fault of the interpreter it runs on:

1. Where a stateful sequence starts. Schemathesis starts sequences from any POST that
   has links, so every command on a case (`POST /complaints/{id}/notes`, ...) was a
   starting point, sent with a random case id and answered 404; and it passed over
   `POST /complaints` itself, because it guesses from the field name that
   `complainant.resident_id` must be an id some other operation issues (it is the
   landlord's own reference, free text). The sequences now start only where something
   is created from nothing: a case, a user, a webhook, a resident's record. Everything
   else is reached through the document's links, with ids the service gave out.
2. The run's own credentials. The run authenticates as the first administrator (id
   `admin`). Revoking that user's tokens is a legitimate request once another
   administrator exists, and the run creates some, but every later request would then
   be 401 and test nothing; so that one request is not generated.
3. Unique e-mail addresses. A sign-in e-mail belongs to one user, so the same generated
   address answers 201 once and 409 afterwards; the stateful phase replays sequences
   and stops at the first step that answers differently. A counter is added to the
   local part of each valid address (an invalid one stays invalid).
4. A command's `occurred_at`. It must fall between the case's previous event and now,
   which a random date almost never does, so a sequence of commands stopped at its
   first step. In the stateful phase it is left out (the service then records the
   moment it receives the command); the other phases still send every kind of value.
   Likewise a case's new owner must be a user, so `assign` names the run's own.
5. Evidence recorded by its metadata only (`POST .../evidence` with JSON) has no file
   in the store, and downloading it is `404 evidence_not_stored`, as documented. The
   link from the upload to the download is right for uploaded files, so the check that a
   created resource can be fetched is dropped for exactly that answer.
6. `422 unstorable_input`. The service answers so when its store refuses a value the
   input checks let through (a NUL, an entry too large for an index) rather than failing
   with a 500. To the document it is a documented 422; to this run it is a hole in the
   input checks, so a check of its own fails on it.
7. One `ast.parse` at a time. Hypothesis parses source to describe its strategies, and
   the run has two worker threads. CPython 3.11 keeps the depth counter with which
   `ast.parse` builds its tree in state that all threads share, so two parses that
   overlap (a garbage collection inside one runs Python code and lets the other thread
   in) fail with "SystemError: AST constructor recursion depth mismatch": an error of
   the run that says nothing about the service. The lock is re-entrant so that a parse
   from a finaliser inside a parse cannot hang the run.
"""

import ast
import atexit
import collections
import itertools
import json
import threading

import schemathesis
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi import stateful as _stateful

RUN_USER = "admin"

# Operations that create something without needing an id from an earlier response.
STARTS = {
    "POST /api/v1/complaints",
    "POST /api/v1/users",
    "POST /api/v1/webhooks",
    "PUT /api/v1/residents/{resident_id}/adjustments",
}

_classify = getattr(_stateful, "classify_root_transitions", None)
if _classify is None:
    raise RuntimeError(
        "schemathesis no longer has classify_root_transitions: "
        "scripts/schemathesis_hooks.py was written for schemathesis 4.32.5"
    )


def _starts(operations, transitions, graph):
    roots = _classify(operations, transitions, graph)
    candidates = roots.reliable | roots.fallback
    missing = STARTS - candidates
    if missing:
        raise RuntimeError(f"these starting points have no links: {sorted(missing)}")
    roots.reliable = set(STARTS)
    roots.fallback = set()
    return roots


_stateful.classify_root_transitions = _starts

_parse = ast.parse
_parse_lock = threading.RLock()


def _parse_one_at_a_time(*args, **kwargs):
    with _parse_lock:
        return _parse(*args, **kwargs)


ast.parse = _parse_one_at_a_time


@schemathesis.hook
def filter_case(context, case):
    if case.operation.label == "DELETE /api/v1/users/{id}/tokens":
        return (case.path_parameters or {}).get("id") != RUN_USER
    return True


_emails = itertools.count(1)

USER_BODIES = {"POST /api/v1/users", "PUT /api/v1/users/{id}"}


@schemathesis.hook
def map_case(context, case):
    stateful = case.meta is not None and case.meta.phase.name == TestPhase.STATEFUL
    if stateful and isinstance(case.body, dict) and "occurred_at" in case.body:
        case.body = {k: v for k, v in case.body.items() if k != "occurred_at"}
    if stateful and case.operation.label == "POST /api/v1/complaints/{id}/assign":
        if isinstance(case.body, dict):
            case.body = {**case.body, "owner_id": RUN_USER}
    if case.operation.label in USER_BODIES and isinstance(case.body, dict):
        email = case.body.get("email")
        if isinstance(email, str) and "@" in email:
            local, domain = email.split("@", 1)
            unique = f"{local}+st{next(_emails)}@{domain}"
            # Only where the address stays as valid or invalid as it was generated.
            if local and len(unique) <= 254:
                case.body = {**case.body, "email": unique}
    return case


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if type(failure).__name__ == "EnsureResourceAvailability" and response.status_code == 404:
        try:
            code = json.loads(response.content).get("error")
        except (ValueError, AttributeError):
            return True
        return code != "evidence_not_stored"
    return True


@schemathesis.check
def no_unstorable_input(ctx, response, case):
    """A value the service's input checks let through to the store, which refused it."""
    if response.status_code != 422:
        return None
    try:
        code = json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return None
    if code == "unstorable_input":
        raise AssertionError(
            "422 unstorable_input: the store refused a value the input checks let through"
        )
    return None


# The summary counts the cases of every phase together; the stateful phase's own count,
# and how its steps were answered, are printed when the run ends.
_stateful_steps = collections.Counter()


@schemathesis.hook
def after_call(context, case, response):
    if case.meta is not None and case.meta.phase.name == TestPhase.STATEFUL:
        _stateful_steps[f"{response.status_code // 100}xx"] += 1


@atexit.register
def _report():
    if _stateful_steps:
        answers = ", ".join(f"{n} {s}" for s, n in sorted(_stateful_steps.items()))
        print(f"Stateful steps: {sum(_stateful_steps.values())} ({answers})")
