"""The poster QR target: open-mode voting without a code, one vote per browser."""
from __future__ import annotations

import secrets

from flask import current_app, render_template, request
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from survey_app.ballot import bp
from survey_app.ballot.forms import ballot_form_class, form_as_sent, seconds_since, start_stamp
from survey_app.ballot.routes import ballot_stored, done_page, message
from survey_app.ballot.submission import read_submission
from survey_app.extensions import limiter
from survey_app.services import casting, posters
from survey_app.services.casting import AnswerError

PER_ADDRESS = "5 per minute;30 per hour"
PER_POSTER = "240 per minute"


def _cookie_name(poster_id: int) -> str:
    return f"pv{poster_id}"


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="open-mode-voted")


def _voted(poster_id: int) -> bool:
    raw = request.cookies.get(_cookie_name(poster_id))
    if not raw:
        return False
    try:
        return _signer().loads(raw) == poster_id
    except BadSignature:
        return False


def _poster_key() -> str:
    return f"poster:{request.view_args.get('slug', '') if request.view_args else ''}"


def _address_key() -> str:
    return f"{get_remote_address()}:{_poster_key()}"


def _refusal(context: posters.PosterContext) -> tuple[str, int] | None:
    if context.closed:
        return "poster_closed", 410
    if context.campaign.status != "open":
        return ("not_open" if context.campaign.status == "draft" else "closed"), 403
    if _voted(context.poster_id):
        return "voted_here", 409
    return None


def _form_class(context: posters.PosterContext) -> type:
    info = context.sheet
    return ballot_form_class((context.sheet_id, str(context.campaign.opened_at)), info.questionnaire, info.subjects)


def _sheet_page(context: posters.PosterContext, form: object, status: int = 200, **extra: object) -> tuple[str, int]:
    info = context.sheet
    return render_template("ballot/sheet.html", form=form, info=info, questionnaire=info.questionnaire,
                           subjects=info.labels, open_mode=True, **extra), status


def _resent(slug: str) -> bool:
    """Whether this POST is a poster form sent again whose ballot is already stored (same nonce)."""
    nonce = request.form.get("nonce", "") if request.method == "POST" else ""
    return 8 <= len(nonce) <= 64 and posters.recorded_before(slug, nonce)


def _recorded() -> str:
    ballot_stored()
    return done_page(recorded=True)


def after_lost_session(slug: str) -> tuple[str, int] | str:
    """The CSRF check failed (see routes.csrf_failed): a resend of a stored ballot is told it counted;
    otherwise, while the poster still takes votes, the ballot comes back with the answers given."""
    if _resent(slug):
        return _recorded()
    context = posters.find(slug)
    if context is None:
        return message("unknown", 404)
    refusal = _refusal(context)
    if refusal is not None:
        return message(*refusal)
    return _sheet_page(context, form_as_sent(_form_class(context)), 400, expired=True)


def after_limit(slug: str) -> tuple[str, int]:
    """Neighbours on one network (the village office's Wi-Fi, a carrier's NAT) share an address, and
    the limit per address turned the next of them away with a blank page when JavaScript was off:
    the ballot comes back with its answers, to send again in a while."""
    context = posters.find(slug)
    if context is None or _refusal(context) is not None:
        return message("too_many", 429)
    return _sheet_page(context, form_as_sent(_form_class(context)), 429, limited=True)


@bp.route("/p/<slug>", methods=["GET", "POST"])
@limiter.limit(PER_ADDRESS, key_func=_address_key, methods=["POST"])
@limiter.limit(PER_POSTER, key_func=_poster_key, methods=["POST"])
def poster(slug: str) -> Response | tuple[str, int] | str:
    """A resident without a slip scans the village poster."""
    context = posters.find(slug)
    if context is None:
        return message("unknown", 404)
    refusal = _refusal(context)
    if refusal is not None:  # only then can a stored ballot's resend need telling apart (a query saved per vote)
        if _resent(slug):  # sent again after it was stored: told so, even if the poster or campaign closed since
            return _recorded()
        return message(*refusal)
    if request.method == "GET":
        form = _form_class(context)(formdata=None, nonce=secrets.token_urlsafe(18), started=start_stamp())
        return _sheet_page(context, form)
    submitted = read_submission(context.sheet, lambda: _form_class(context))
    if submitted.refusal:
        return message(*submitted.refusal)
    if submitted.answers is None:
        return _sheet_page(context, submitted.invalid_form, 422, invalid=True)
    try:
        result = posters.cast_open_ballot(context, submitted.answers, nonce=submitted.nonce,
                                          address=get_remote_address(),
                                          duration=casting.duration_bucket(seconds_since(submitted.started)))
    except AnswerError:
        return message("bad_request", 400)
    if result.status not in ("cast", "recorded"):  # "void": the poster was taken down since the page was read
        return message({"void": "poster_closed"}.get(result.status, result.status),
                       {"void": 410, "not_open": 403, "closed": 403}.get(result.status, 409))
    ballot_stored()
    response = current_app.make_response(done_page(recorded=result.status == "recorded"))
    response.set_cookie(_cookie_name(context.poster_id), _signer().dumps(context.poster_id),
                        max_age=180 * 86400, httponly=True, samesite="Lax", secure=request.is_secure,
                        path=f"/p/{slug}")
    return response
