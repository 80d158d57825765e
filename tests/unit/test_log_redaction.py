"""No log line keeps a voting code, whichever logger writes it and whatever handler prints it."""
from __future__ import annotations

import logging

import pytest

from survey_app.security import install_log_redaction

CODE = "7KQ3M-X9TRD"


@pytest.fixture(autouse=True)
def redaction(caplog: pytest.LogCaptureFixture):
    install_log_redaction()
    caplog.set_level(logging.DEBUG)


@pytest.mark.parametrize("name", ["survey_app.services.mixing", "survey_app.ballot.routes", "a2wsgi",
                                  "gunicorn.error", "werkzeug", "uvloop"])
def test_a_code_in_a_message_is_redacted_for_any_logger_child_loggers_too(caplog, name):
    logger = logging.getLogger(name)
    logger.warning("GET /t/%s HTTP/1.1", CODE)
    logger.error(f"casting for https://pingyi.example/t/{CODE}?lang=en failed")
    logger.info("%(r)s %(s)s", {"r": f"POST /t/{CODE.replace('-', '')}", "s": "409"})
    assert len(caplog.records) == 3
    assert CODE not in caplog.text and CODE.replace("-", "") not in caplog.text
    assert caplog.text.count("/t/…") == 3 and "?lang=en failed" in caplog.text and "409" in caplog.text


def test_a_code_in_a_traceback_is_redacted(caplog):
    try:
        raise LookupError(f"no sheet for /t/{CODE}")
    except LookupError:
        logging.getLogger("survey_app.services.casting").exception("casting failed")
    assert "Traceback" in caplog.text and "LookupError: no sheet for /t/…" in caplog.text
    assert CODE not in caplog.text


def test_a_record_without_a_code_keeps_its_arguments_for_the_formatter(caplog):
    logging.getLogger("survey_app").info("%d ballots for %s", 3, "V1")
    [record] = caplog.records
    assert (record.msg, record.args) == ("%d ballots for %s", (3, "V1"))
    assert record.getMessage() == "3 ballots for V1"


def test_installing_twice_redacts_once():
    install_log_redaction()
    factory = logging.getLogRecordFactory()
    install_log_redaction()
    assert logging.getLogRecordFactory() is factory
