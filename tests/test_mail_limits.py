"""E-mail that cannot hurt: limits before parsing, a bad message skipped, the same mbox read twice."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from processes.channels.mail_intake import ingest, ingest_many
from processes.complaints.records import Complaint
from tests.portal_support import make_app


@pytest.fixture
def mail_app(shipped_url, tmp_path):
    app = make_app(shipped_url, tmp_path)
    yield app
    app.extensions["redress.db"].dispose()


def _raw(subject="快递丢件", body="我的包裹显示签收但没收到。", message_id="<m1@example.com>") -> bytes:
    message = EmailMessage()
    message["From"] = "李四 <li.si@example.com>"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    return message.as_bytes()


def _mbox(*messages: bytes) -> bytes:
    return b"".join(b"From x@y Sat Mar  1 10:00:00 2025\n" + m + b"\n" for m in messages)


def _complaints(app) -> int:
    with app.extensions["redress.db"].session() as s:
        return s.scalar(select(func.count()).select_from(Complaint))


def _encoded_word_subject(size: int) -> bytes:
    word = b"=?utf-8?q?=E6=8A=95=E8=AF=89?= "
    return (b"From: a <a@example.com>\nMessage-ID: <big@example.com>\nSubject: " + word * (size // len(word))
            + b"\n\nbody\n")


def _many_parts(count: int) -> bytes:
    head = b'From: a <a@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n'
    part = b"--b\nContent-Type: text/plain\n\nx\n"
    return head + part * count + b"--b--\n"


def _nested(depth: int) -> bytes:
    body = b"Content-Type: text/plain\n\ninner\n"
    for level in range(depth):
        body = (f'Content-Type: multipart/mixed; boundary="b{level}"\n\n--b{level}\n'.encode() + body
                + f"--b{level}--\n".encode())
    return b"From: a <a@example.com>\nMIME-Version: 1.0\n" + body


@pytest.mark.parametrize("raw, limit", [
    (_encoded_word_subject(512 * 1024), "header"),
    (_many_parts(20000), "parts"),
    (_nested(1000), "nests"),
])
def test_hostile_mail_is_refused_quickly_with_a_reason(mail_app, raw, limit):
    runtime = mail_app.extensions["redress.runtime"]
    started = time.monotonic()
    result = ingest(runtime, raw)
    elapsed = time.monotonic() - started
    assert result.outcome == "rejected" and limit in result.errors["message"]
    assert elapsed < 1.0, f"{elapsed:.2f} s"  # was 34 s for the subject, 19 s for the parts
    assert _complaints(mail_app) == 0


def test_a_nul_in_the_body_is_refused_by_name_on_every_database(mail_app):
    result = ingest(mail_app.extensions["redress.runtime"], _raw(body="坏了\x00坏了"))
    assert result.outcome == "rejected" and "NUL" in result.errors["body"]
    assert _complaints(mail_app) == 0


def test_an_mbox_goes_on_after_a_bad_message_and_reading_it_twice_registers_nothing_twice(mail_app):
    runtime = mail_app.extensions["redress.runtime"]
    mbox = _mbox(_raw(message_id="<one@example.com>"), _nested(1000),
                 _raw(subject="第二封", message_id="<two@example.com>"),
                 _raw(subject="无编号", message_id=""))
    first = ingest_many(runtime, mbox)
    assert [r.outcome for r in first] == ["registered", "rejected", "registered", "registered"]
    assert _complaints(mail_app) == 3
    again = ingest_many(runtime, mbox)
    assert [r.outcome for r in again] == ["duplicate", "rejected", "duplicate", "duplicate"]
    assert [r.reference for r in again if r.reference] == [r.reference for r in first if r.reference]
    assert _complaints(mail_app) == 3


def test_the_cli_reports_each_skipped_message_and_goes_on(mail_app, database_url, monkeypatch):
    monkeypatch.setenv("REDRESS_DATABASE_URL", database_url)
    monkeypatch.delenv("REDRESS_SMTP_URL", raising=False)
    from web.cli import main

    mbox = _mbox(_raw(message_id="<c1@example.com>"), _many_parts(20000), _raw(message_id="<c2@example.com>"))
    result = CliRunner().invoke(main, ["ingest-mail", "-"], input=mbox)
    assert result.exit_code == 1, result.output  # one message was not taken in
    assert re.search(r"message 1: registered TS-", result.output)
    assert "message 2: not registered (message: The message has more than 200 parts.)" in result.output
    assert re.search(r"message 3: registered TS-", result.output)
    rerun = CliRunner().invoke(main, ["ingest-mail", "-"], input=mbox)
    assert "message 1: already taken in as TS-" in rerun.output
    assert "message 3: already taken in as TS-" in rerun.output
    assert _complaints(mail_app) == 2
