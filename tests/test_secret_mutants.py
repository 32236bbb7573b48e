"""The key scrubber and its log filter (mmkit/transport/secret.py) on the cases mutation testing
found untested: URL-encoded forms with `/` and spaces, the JSON-escaped form, forms that start
with another form (the longer must win), base64 at the edges of the key, several live keys, log
records with no key or broken arguments, equality and pickling."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from mmkit.transport import Secret
from mmkit.transport.secret import ScrubKeys, guard_logs

# --- URL-encoded forms --------------------------------------------------------------------------


def test_a_key_with_a_slash_and_a_space_is_masked_url_encoded_once_and_twice() -> None:
    secret = Secret("pa/ss word")
    sent = "url=pa%2Fss%20word&form=pa%2Fss+word&again=pa%252Fss%2520word&shown=pa/ss word"
    assert secret.scrub(sent) == "url=****&form=****&again=****&shown=****"


def test_a_key_with_a_slash_url_encoded_twice_is_masked() -> None:
    secret = Secret("sk/live/42")
    assert secret.scrub("next=https%3A%2F%2Fh%2F%3Fk%3Dsk%252Flive%252F42") == (
        "next=https%3A%2F%2Fh%2F%3Fk%3D****"
    )


# --- the JSON-escaped form ----------------------------------------------------------------------


def test_a_key_with_quotes_and_a_backslash_is_masked_json_escaped() -> None:
    secret = Secret('sk-"quoted"\\key')
    assert (
        secret.scrub('{"error": "bad key sk-\\"quoted\\"\\\\key"}') == '{"error": "bad key ****"}'
    )


def test_text_that_merely_contains_json_letters_is_left_alone() -> None:
    text = 'a full reply, null and "ul" included'
    assert Secret("sk-abcdef-123").scrub(text) == text


# --- the longest form wins where two forms start alike ------------------------------------------


def test_a_key_ending_in_a_percent_sign_is_masked_whole_in_its_encoded_forms() -> None:
    secret = Secret("sk-test-99%")  # the key itself is how its encoded forms begin
    assert secret.scrub("a=sk-test-99%2525&b=sk-test-99%25&c=sk-test-99%") == "a=****&b=****&c=****"


def test_a_key_of_one_repeated_letter_is_masked_whole_in_base64() -> None:
    # "UUU" is "VVVV" in base64: every offset's form is a run of V, the shorter ones prefixes
    secret = Secret("UUUUUUUUUUUU")
    assert secret.scrub("token VVVVVVVVVVVVVVVV.") == "token ****."


# --- base64: only the characters made of the key's own bits -----------------------------------


def test_a_key_sent_as_the_user_of_basic_auth_is_masked_up_to_the_colon() -> None:
    secret = Secret("sk-live-KEY-42")  # base64("sk-live-KEY-42:")
    assert secret.scrub("Authorization: Basic c2stbGl2ZS1LRVktNDI6") == (
        "Authorization: Basic ****I6"
    )


def test_a_seven_character_key_inside_base64_is_masked() -> None:
    secret = Secret("sk-1234")  # base64("Key sk-1234"): the key starts one byte in
    assert secret.scrub("S2V5IHNrLTEyMzQ=") == "S2V5IH****Q="


# --- the log filter -----------------------------------------------------------------------------


class Kept(logging.Handler):
    """Keeps every record handed to it, unformatted."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def httpx_records() -> Iterator[Kept]:
    """The records that reach the `httpx` logger's handlers, at DEBUG: for this block, its only
    handler (pytest's capture handlers, added per test, would fail it on a broken record)."""
    logger = logging.getLogger("httpx")
    handler, saved = Kept(), (logger.handlers, logger.level, logger.propagate)
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.DEBUG)  # setLevel, not .level: it clears the cached "enabled for"
    try:
        yield handler
    finally:
        logger.handlers, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])


def test_every_live_key_is_scrubbed_from_a_log_line_not_only_the_last() -> None:
    first, second = Secret("sk-first-KEY-111"), Secret("sk-second-KEY-222")
    guard_logs(first)
    guard_logs(second)
    with httpx_records() as kept:
        logging.getLogger("httpx").debug("keys %s and %s", "sk-first-KEY-111", "sk-second-KEY-222")
    assert [r.getMessage() for r in kept.records] == ["keys **** and ****"]
    assert first != second  # both stay alive to here


def test_a_log_record_with_broken_arguments_still_reaches_the_handlers() -> None:
    key = Secret("sk-broken-args-333")
    guard_logs(key)
    with httpx_records() as kept:
        logging.getLogger("httpx").debug("%d items", "three")  # logging reports these itself
    assert [(r.msg, r.args) for r in kept.records] == [("%d items", ("three",))]
    assert key.reveal() == "sk-broken-args-333"


def test_log_lines_still_show_once_every_guarded_key_is_gone() -> None:
    key = Secret("sk-alive-444")
    guard_logs(key)
    with httpx_records() as kept:  # while a key lives, a line without it shows as it is
        logging.getLogger("httpx").info("HTTP Request: %s", "POST /v1/chat")
    assert [r.getMessage() for r in kept.records] == ["HTTP Request: POST /v1/chat"]
    # and once no key is alive (a fresh process, where no other test's client lives on)
    script = """
        import gc, logging, sys
        from mmkit.transport.secret import Secret, guard_logs
        logging.basicConfig(stream=sys.stdout, format="%(name)s: %(message)s")
        key = Secret("sk-gone-444")
        guard_logs(key)
        del key
        gc.collect()
        logging.getLogger("httpx").warning("HTTP Request: %s", "POST /v1/chat")
        """
    shown = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert shown.stdout == "httpx: HTTP Request: POST /v1/chat\n"


def test_guarding_many_keys_puts_one_scrubber_on_each_logger() -> None:
    keys = [Secret(f"sk-many-{n}-KEY") for n in range(3)]
    for key in keys:
        guard_logs(key)
    for name in ("mmkit", "httpx", "httpcore.http11", "hpack.table"):
        scrubbers = [f for f in logging.getLogger(name).filters if isinstance(f, ScrubKeys)]
        assert len(scrubbers) == 1, name  # not one more per client: each log line pays for each


# --- equality and pickling ----------------------------------------------------------------------


def test_secrets_are_equal_only_to_secrets_holding_the_same_key() -> None:
    assert Secret("sk-same") == Secret("sk-same")
    assert Secret("sk-one") != Secret("sk-two")
    assert Secret("sk-one") != "sk-one"  # a plain string is not the secret, and no error


def test_pickling_a_secret_is_refused_without_showing_the_key() -> None:
    with pytest.raises(TypeError) as caught:
        pickle.dumps({"api_key": Secret("sk-pickled-555")})
    assert str(caught.value) == "a Secret cannot be pickled"
