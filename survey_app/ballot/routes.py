"""Voter-facing routes: a view parses input, calls one service, maps the outcome to a page and status."""
from __future__ import annotations

import hmac
import logging
import secrets

from flask import current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from survey_app.ballot import bp, guessing
from survey_app.ballot.forms import CodeForm, ballot_form_class, form_as_sent, seconds_since, start_stamp
from survey_app.ballot.submission import FORM_TYPES, read_submission
from survey_app.extensions import limiter, select_locale
from survey_app.services import casting, posters, tokens
from survey_app.services.casting import AnswerError, TokenContext
from survey_app.services.sheets import SheetInfo

REFUSALS = {"unknown": 404, "void": 410, "not_open": 403, "closed": 403, "used": 409}


def message(kind: str, status: int, **context: object) -> tuple[str, int]:
    """A refusal or error page. A resident who scanned a poster has no slip and no code to type:
    the page must not tell them to check or keep one."""
    context.setdefault("poster", request.endpoint == "ballot.poster")
    return render_template("ballot/message.html", kind=kind, **context), status


@bp.route("/t", methods=["GET", "POST"])
@limiter.exempt  # wrong codes are counted by ballot.guessing instead (see extensions.Limiter)
def enter() -> Response | tuple[str, int] | str:
    """Type a code by hand; a known code goes on to its ballot."""
    form = CodeForm()
    if request.method == "POST":
        if guessing.blocked():
            return message("too_many", 429)
        if not form.validate_on_submit():
            return render_template("ballot/enter.html", form=form), 400
        code = tokens.normalise(form.code.data)
        if code is None:
            form.code.errors.append(_("A voting code has 10 letters and digits, like 7KQ3M-X9TRD"))
            return render_template("ballot/enter.html", form=form), 400
        if casting.lookup(code) is None:
            guessing.count_miss()
            form.code.errors.append(_("This code does not exist. Please check it against your slip."))
            return render_template("ballot/enter.html", form=form), 404
        return redirect(url_for("ballot.sheet", code=tokens.display(code)), 303)
    return render_template("ballot/enter.html", form=form)


def _form_class(info: SheetInfo, context: TokenContext) -> type:
    return ballot_form_class((context.sheet_id, str(context.opened_at)), info.questionnaire, info.subjects)


def _page(info: SheetInfo, form: object, status: int = 200, **extra: object) -> tuple[str, int]:
    return render_template("ballot/sheet.html", form=form, info=info, questionnaire=info.questionnaire,
                           subjects=info.labels, **extra), status


@bp.route("/t/<code>", methods=["GET", "POST"])
@limiter.exempt
def sheet(code: str) -> Response | tuple[str, int] | str:
    """The QR target: show the ballot, and cast it on submit."""
    if guessing.blocked():
        return message("too_many", 429)
    normal = tokens.normalise(code)
    context = casting.lookup(normal) if normal else None
    refusal = casting.gate(context)
    if context is not None and context.status == "used" and resent(normal):
        ballot_stored()  # told so whatever changed since it was stored: the campaign may have closed
        return _confirmed(normal, done_page(recorded=True))
    if request.method == "GET" and context is not None and context.status == "used" and _voted_here(normal):
        return done_page(recorded=True)  # Back, or the language link, on the confirmation
    if refusal is not None or context is None or normal is None:
        if refusal in (None, "unknown"):
            guessing.count_miss()
        return message(refusal or "unknown", REFUSALS.get(refusal or "unknown", 404))
    info = context.sheet

    if request.method == "GET":
        if context.status == "used":
            return message("used", 409)
        form = _form_class(info, context)(formdata=None, nonce=secrets.token_urlsafe(18), started=start_stamp())
        return _page(info, form)

    submitted = read_submission(info, lambda: _form_class(info, context))
    if submitted.refusal:
        return message(*submitted.refusal)
    if submitted.answers is None:
        if context.status == "used":  # a resend after the ballot was stored
            return _after_cast(normal, submitted.nonce)
        return _page(info, submitted.invalid_form, 422, invalid=True)
    try:
        result = casting.cast_ballot(normal, submitted.answers, nonce=submitted.nonce, context=context,
                                     duration=casting.duration_bucket(seconds_since(submitted.started)))
    except AnswerError:
        return message("bad_request", 400)
    if result.status in ("cast", "recorded"):
        ballot_stored()
        return _confirmed(normal, done_page(recorded=result.status == "recorded"))
    return message(result.status, REFUSALS.get(result.status, 409))


def _voted_mark(code: str) -> str:
    return "v" + hmac.digest(current_app.config["SECRET_KEY"].encode(), f"voted:{code}".encode(), "sha256").hex()[:24]


def _confirmed(code: str, page: str) -> Response:
    """The confirmation, and a mark in this browser alone that it voted with this code, so that Back
    or the language link shows the confirmation again rather than the warning for a code somebody
    else used. The mark is a keyed hash of the code, as the cookie's name, on every code's page
    (``/t``): a path of the code's own would write the code into the Set-Cookie header. It holds
    nothing of the ballot and is kept nowhere else."""
    response = current_app.make_response(page)
    response.set_cookie(_voted_mark(code), "1", max_age=90 * 86400, path="/t", httponly=True,
                        samesite="Lax", secure=request.is_secure)
    return response


def _voted_here(code: str) -> bool:
    return _voted_mark(code) in request.cookies


def ballot_stored() -> None:
    """From here on this request's ballot is committed: should the page fail now, the voter is
    told the vote counted (:func:`server_error`), not that it was lost."""
    g.pingyi_ballot_stored = True


def done_page(*, recorded: bool) -> str:
    """The confirmation is the same for every voter in a language: render it once per process."""
    cache = current_app.extensions.setdefault("pingyi_done_pages", {})
    key = (select_locale(), recorded)
    if key not in cache:
        cache[key] = render_template("ballot/done.html", recorded=recorded)
    return cache[key]


def resent(code: str) -> bool:
    """Whether this POST is a form sent again whose ballot is already stored (same nonce)."""
    nonce = request.form.get("nonce", "") if request.method == "POST" else ""
    return 8 <= len(nonce) <= 64 and casting.recorded_before(code, nonce)


def _after_cast(code: str, nonce: str | None) -> tuple[str, int] | Response:
    if nonce and casting.recorded_before(code, nonce):
        ballot_stored()
        return _confirmed(code, done_page(recorded=True))
    return message("used", 409)


@bp.route("/too-large")
def too_large_page() -> tuple[str, int]:
    """What a proxy in front shows when it refuses a body itself (deploy/nginx.conf: error_page 413):
    the app's own page, in the voter's language, rather than the proxy's English one."""
    return message("too_large", 413)


@bp.app_errorhandler(CSRFError)
def csrf_failed(_error: CSRFError) -> tuple[str, int] | str:
    """A page whose session cookie was lost or grew old. Sent again after its ballot was stored,
    it is told the ballot counted, not that the code is unused; otherwise the voter gets the ballot
    back with the answers given, to send again. A code is looked up only as the ballot page itself
    would: wrong ones count as guesses, so this is no way round the limit on them."""
    if request.mimetype not in FORM_TYPES:
        return message("bad_request", 415)
    if request.endpoint == "ballot.poster":
        from survey_app.ballot import open_mode  # it builds on this module

        return open_mode.after_lost_session((request.view_args or {}).get("slug", ""))
    if request.endpoint != "ballot.sheet":
        return message("expired", 400)
    if guessing.blocked():
        return message("too_many", 429)
    code = tokens.normalise((request.view_args or {}).get("code", ""))
    context = casting.lookup(code) if code else None
    if context is None or code is None:
        guessing.count_miss()
        return message("unknown", 404)
    if context.status == "used":
        return _after_cast(code, request.form.get("nonce", ""))
    refusal = casting.gate(context)
    if refusal is not None:
        return message(refusal, REFUSALS.get(refusal, 409))
    info = context.sheet
    return _page(info, form_as_sent(_form_class(info, context)), 400, expired=True)


@bp.app_errorhandler(403)
def forbidden(_error: Exception) -> tuple[str, int]:
    return message("forbidden", 403)


@bp.app_errorhandler(413)
def too_large(_error: Exception) -> tuple[str, int]:
    return message("too_large", 413)


@bp.app_errorhandler(429)
def too_many(_error: Exception) -> tuple[str, int] | str:
    if request.endpoint == "ballot.poster" and request.method == "POST":
        from survey_app.ballot import open_mode  # it builds on this module

        return open_mode.after_limit((request.view_args or {}).get("slug", ""))
    return message("too_many", 429)


@bp.app_errorhandler(404)
def not_found(_error: Exception) -> tuple[str, int]:
    return message("not_found", 404)


@bp.app_errorhandler(405)
def wrong_method(_error: Exception) -> tuple[str, int]:
    return message("bad_request", 405)


@bp.app_errorhandler(400)
def bad_request(_error: Exception) -> tuple[str, int]:
    return message("bad_request", 400)


@bp.app_errorhandler(500)
def server_error(_error: Exception) -> tuple[str, int]:
    """Say what became of the ballot: counted, not stored, or (the database out of reach) unknown.
    A page that cast nothing (a ballot opened again, the desk) claims nothing about a vote: it used
    to tell a counted voter who pressed Back that their vote was not stored."""
    if request.endpoint not in ("ballot.sheet", "ballot.poster") or request.method != "POST":
        return message("error", 500)
    return message({True: "stored_anyway", False: "server_error", None: "unconfirmed"}[_ballot_in_database()], 500)


def _ballot_in_database() -> bool | None:
    """Known once the view saw its ballot stored; otherwise asked of the database, since a COMMIT
    whose answer was lost (a PostgreSQL connection dropped in it) may have stored the ballot."""
    if g.get("pingyi_ballot_stored"):
        return True
    try:
        nonce, args = request.form.get("nonce", ""), request.view_args or {}
        if request.endpoint == "ballot.poster":
            return bool(nonce) and posters.recorded_before(args.get("slug", ""), nonce)
        code = tokens.normalise(args.get("code", ""))
        return bool(code and nonce) and casting.recorded_before(code, nonce)
    except Exception:  # noqa: BLE001  (the database itself may be what failed)
        logging.getLogger(__name__).exception("could not tell whether a ballot was stored")
        return None
