"""Every limit holds against a hostile server: bytes after every Content-Encoding, total time
across connect, headers, body and stream, and the key in every form the server echoes back.

The hostile server (tests/hostile_server.py) runs in a child process on 127.0.0.1. Each client
scenario (tests/hostile_client.py) runs in a child process of its own with an address-space
limit, and reports its error, its time and how far its peak memory grew: a regression that eats
memory or hangs fails its scenario instead of taking the test runner down.
"""

from __future__ import annotations

import json
import logging
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mmkit.errors import AuthError, TransportError
from mmkit.transport import AsyncClient, Client

HERE = Path(__file__).resolve().parent
MIB = 1024 * 1024
CAP = 16 * MIB  # what hostile_client.py sets as every byte cap
TOTAL = 1.5  # and as every total timeout
KEY = "sk-Hostile/Key+42_xyz"
# A regression must fail the scenario, not exhaust the machine: 3 GiB of address space at most.
ADDRESS_SPACE = 3 * 1024 * MIB
RUN_LIMIT = 90.0

# scenario -> (error class, words its message must contain, whether the total timeout is set)
SCENARIOS: dict[str, tuple[str, str, bool]] = {
    "fetch-gzip-bomb": ("FetchError", "over the 16777216-byte cap", False),
    "afetch-gzip-bomb": ("FetchError", "over the 16777216-byte cap", False),
    "chat-gzip-bomb": ("TransportError", "over the 16777216-byte cap", False),
    "achat-gzip-bomb": ("TransportError", "over the 16777216-byte cap", False),
    "chat-endless": ("TransportError", "over the 16777216-byte cap", False),
    "achat-endless": ("TransportError", "over the 16777216-byte cap", False),
    "stream-plain-endless": ("TransportError", "over the 16777216-byte cap", False),
    "stream-sse-line": ("TransportError", "stream line passed", False),
    "astream-sse-line": ("TransportError", "stream line passed", False),
    "fetch-drip-headers": ("FetchError", "timed out after 1.5 s", True),
    "afetch-drip-headers": ("FetchError", "timed out after 1.5 s", True),
    "fetch-drip-body": ("FetchError", "timed out after 1.5 s", True),
    "chat-drip-headers": ("TotalTimeoutError", "total timeout of 1.5 s", True),
    "achat-drip-headers": ("TotalTimeoutError", "total timeout of 1.5 s", True),
    "chat-drip-body": ("TotalTimeoutError", "total timeout of 1.5 s", True),
    "achat-drip-body": ("TotalTimeoutError", "total timeout of 1.5 s", True),
    "chat-never": ("TotalTimeoutError", "total timeout of 1.5 s", True),
    "achat-never": ("TotalTimeoutError", "total timeout of 1.5 s", True),
    "stream-drip": ("TotalTimeoutError", "total timeout of 1.5 s", True),
    "astream-drip": ("TotalTimeoutError", "total timeout of 1.5 s", True),
}


@pytest.fixture(scope="module")
def hostile() -> Iterator[int]:
    """The hostile server's port; it stops when its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "hostile_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield port
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _limit_memory() -> None:  # runs in the client child before it starts
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _run(names: list[str], port: int) -> dict[str, dict[str, Any]]:
    """Run `names` one after the other in one child process; what each reported."""
    done: Any
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / "hostile_client.py"), str(port), *names],
            capture_output=True,
            text=True,
            timeout=RUN_LIMIT,
            preexec_fn=_limit_memory,
        )
        stdout, failure = done.stdout, done.stderr[-2000:]
    except subprocess.TimeoutExpired as exc:
        stdout, failure = exc.stdout or "", f"still running after {RUN_LIMIT} s"
    stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
    reported = {r["name"]: r for r in map(json.loads, stdout.strip().splitlines())}
    missing = {"error": "crashed or hung", "module": "", "message": failure}
    return {name: reported.get(name, missing) for name in names}


@pytest.fixture(scope="module")
def results(hostile: int) -> dict[str, dict[str, Any]]:
    """Every scenario, in four child processes side by side (most scenarios just wait)."""
    groups = [list(SCENARIOS)[i::4] for i in range(4)]
    found: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(4) as pool:
        for reported in pool.map(lambda names: _run(names, hostile), groups):
            found.update(reported)
    return found


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_hostile_server_is_stopped_within_the_limits(
    name: str, results: dict[str, dict[str, Any]]
) -> None:
    error, words, timed = SCENARIOS[name]
    result = results[name]
    assert (result["error"], words in (result["message"] or "")) == (error, True), result
    assert result["module"].startswith("mmkit."), result  # an error from mmkit's tree
    assert result["grew"] < CAP + 100 * MIB, result  # memory: the cap plus 100 MB at most
    if timed:
        # The message names the total timeout: it fired. Its time is a liveness bound, generous
        # for a loaded machine (the servers drip forever: without the timeout, 90 s and killed).
        assert result["elapsed"] < TOTAL + 10.0, result


# --- the key, echoed back in every form ----------------------------------------------------------


def _forms(key: str) -> list[str]:
    import base64
    from urllib.parse import quote

    return [
        key,
        key.upper(),
        quote(key, safe=""),
        base64.b64encode(key.encode()).decode(),
        # the key's part of base64("user:" + key) and base64("Bearer " + key), written out
        USER_KEY_B64[8:-4],
        BEARER_KEY_B64[12:-4],
    ]


USER_KEY_B64 = "dXNlcjpzay1Ib3N0aWxlL0tleSs0Ml94eXo="
BEARER_KEY_B64 = "QmVhcmVyIHNrLUhvc3RpbGUvS2V5KzQyX3h5eg=="


def test_the_base64_forms_are_what_the_server_sends() -> None:
    import base64

    assert base64.b64encode(f"user:{KEY}".encode()).decode() == USER_KEY_B64
    assert base64.b64encode(f"Bearer {KEY}".encode()).decode() == BEARER_KEY_B64


def _assert_no_key(text: str) -> None:
    for form in _forms(KEY):
        assert form not in text, (form, text)


def test_a_redirect_carrying_the_key_is_shown_without_it(hostile: int) -> None:
    url = f"http://127.0.0.1:{hostile}/redirect-key/v1"
    with Client("m", base_url=url, api_key=KEY) as client, pytest.raises(TransportError) as caught:
        client.chat("hi")
    assert caught.value.status == 302 and "redirected to https://elsewhere.example" in str(
        caught.value
    )
    _assert_no_key(str(caught.value))


def test_every_echoed_form_of_the_key_is_scrubbed_from_errors_and_debug_logs(
    hostile: int, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{hostile}/echo-key/v1"
    with caplog.at_level(logging.DEBUG):
        with Client("m", base_url=url, api_key=KEY) as client:
            with pytest.raises(AuthError) as caught:
                client.chat("hi")
            shown = str(caught.value) + repr(caught.value) + repr(client)
        # the server's headers reached httpcore's DEBUG log: they must be scrubbed there too
        assert any("X-Echo-raw" in r.getMessage() for r in caplog.records)
    _assert_no_key(shown)
    _assert_no_key("\n".join(r.getMessage() for r in caplog.records))
    assert "****" in shown


def test_the_async_client_scrubs_the_same(hostile: int) -> None:
    import asyncio

    async def main() -> str:
        url = f"http://127.0.0.1:{hostile}/echo-key/v1"
        async with AsyncClient("m", base_url=url, api_key=KEY) as client:
            try:
                await client.chat("hi")
            except AuthError as exc:
                return str(exc)
        return "no error"

    shown = asyncio.run(main())
    assert "****" in shown
    _assert_no_key(shown)


# --- a name that does not resolve ----------------------------------------------------------------


def test_a_host_that_does_not_resolve_is_named_and_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []

    def no_such_name(host: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(host)  # the resolver's answer for a name that does not exist
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with (
        Client("m", base_url="http://api.mmkit-test.invalid/v1") as client,
        pytest.raises(TransportError) as caught,
    ):
        client.chat("hi")
    assert "could not resolve host api.mmkit-test.invalid" in str(caught.value)
    assert type(caught.value) is TransportError  # not a ServerError: nothing to retry
    assert calls == ["api.mmkit-test.invalid"]


@pytest.mark.parametrize("timeout", [None, 2.0])
def test_a_host_that_does_not_resolve_is_named_with_or_without_a_total_timeout(
    monkeypatch: pytest.MonkeyPatch, timeout: float | None
) -> None:
    def no_such_name(host: str, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with (
        Client("m", base_url="http://api.mmkit-test.invalid/v1", timeout=timeout) as client,
        pytest.raises(TransportError, match=r"could not resolve host api\.mmkit-test\.invalid"),
    ):
        client.chat("hi")


def test_a_resolver_that_never_answers_is_cut_off_by_the_total_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """getaddrinfo has no timeout of its own: the sync client looks names up within what is
    left of the call's total time."""
    import threading

    released = threading.Event()
    real = socket.getaddrinfo

    def silent(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "slow-dns.mmkit-test":
            released.wait()  # a resolver that never answers (until the test ends)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", silent)
    outcome: list[BaseException] = []

    def call() -> None:
        with Client("m", base_url="http://slow-dns.mmkit-test/v1", timeout=1.0) as client:
            try:
                client.chat("hi")
            except BaseException as exc:
                outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(30)  # liveness only: without the bound it waits for `released`, forever
    released.set()
    assert not worker.is_alive() and len(outcome) == 1
    assert isinstance(outcome[0], TransportError)
    assert "total timeout of 1 s is used up" in str(outcome[0])


def test_a_name_with_several_addresses_connects_to_the_first_that_answers(
    monkeypatch: pytest.MonkeyPatch, server: Any
) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    real = socket.getaddrinfo
    asked: list[str] = []

    def two_records(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "two.mmkit-test":
            return real(host, *args, **kwargs)
        asked.append(host)
        # nothing listens on 127.0.0.2: refused, then the server on 127.0.0.1 answers
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in ("127.0.0.2", "127.0.0.1")
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_records)
    with Client("gemma-3", base_url=f"http://two.mmkit-test:{port}/v1", timeout=10) as client:
        assert client.chat("hi").text == 'text "hi"'  # the local server's echo
    assert asked == ["two.mmkit-test"]
