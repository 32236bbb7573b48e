"""Helpers shared by test modules (import them: `from helpers import decode`)."""

from __future__ import annotations

import base64
import contextlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

import mmkit
from mmkit import Image, Message, formats
from mmkit.media.sniff import sniff


def decode(data: bytes) -> PILImage.Image:
    """The image in `data`, fully decoded (a copy that outlives the file)."""
    with PILImage.open(io.BytesIO(data)) as im:
        im.load()
        copy: PILImage.Image = im.copy()
    return copy


def sent_to_openai(image: Image, **options: Any) -> bytes:
    """The bytes OpenAI receives for `image` (alone in a user message)."""
    (message,) = mmkit.to_openai([Message.user([image])], **options)
    url = message["content"][0]["image_url"]["url"]
    header, _, payload = url.partition(",")
    data = base64.b64decode(payload, validate=True)
    assert header == f"data:{sniff(data)};base64"
    return data


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 (a lying Content-Type: the bytes must decide);
    yields the base URL. Missing files get 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = folder / self.path.split("?")[0].lstrip("/")
            if not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def make_images(
    folder: Path, count: int, *, start: int = 0, size: tuple[int, int] = (64, 48)
) -> list[Path]:
    """`count` small distinct real images (PNG and JPEG alternating) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(start, start + count):
        im = PILImage.new("RGB", size, ((n * 37) % 256, (n * 91) % 256, (n * 13) % 256))
        path = folder / (f"img{n:04d}.png" if n % 2 else f"img{n:04d}.jpg")
        im.save(path)
        paths.append(path)
    return paths


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll `condition` until it holds or `timeout` s pass (instead of a fixed sleep)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def decode_audio(data: bytes) -> tuple[Any, int]:
    """Every sample of WAV, MP3, FLAC or OGG bytes (float64 frames × channels) and the rate,
    decoded by libsndfile, not by mmkit."""
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(data), always_2d=True)
    return samples, int(rate)


def sent_audio(target: str, part: Any, **options: Any) -> tuple[bytes, str]:
    """The bytes `target` receives for the audio `part` (alone in a user message) and the type it is
    declared as: OpenAI's input_audio format ("wav"/"mp3"), else the data URI's MIME type."""
    (message,) = formats.get(target).encode([Message.user([part])], **options)
    part = message["content"][0]
    if target == "openai":
        assert part["type"] == "input_audio" and set(part) == {"type", "input_audio"}
        payload = part["input_audio"]["data"]
        assert not payload.startswith("data:")
        return base64.b64decode(payload, validate=True), part["input_audio"]["format"]
    assert part["type"] == "audio" and set(part) == {"type", "base64"}
    header, _, payload = part["base64"].partition(",")
    assert header.startswith("data:") and header.endswith(";base64")
    return base64.b64decode(payload, validate=True), header[5:-7]
