"""The README's demo: messages built from the repository's fixtures, sent to the local server.

No key and no network: the model `echo` starts mmkit's conformance server on a free loopback
port; it decodes every part it receives with real decoders and answers with what it saw. The
same server speaks Bytez's native API, which the seed's calls below go through.
Run: make demo
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import mmkit
import mmkit.caption
from mmkit import Image, Message, Video
from mmkit.server import shared_echo_server

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"


def shorten(value: Any) -> Any:
    """Long data URIs shown as their head and size, so the output stays readable."""
    if isinstance(value, str) and value.startswith("data:") and len(value) > 60:
        return f"{value[:32]}… ({len(value):,} chars)"
    if isinstance(value, dict):
        return {k: shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten(v) for v in value]
    return value


def build_messages() -> list[Message]:
    return [
        Message.user("What is in this picture?", image=FIXTURES / "photo.jpg"),
        Message.user(
            [
                "Compare",
                Image(FIXTURES / "rgba.png"),
                "with",
                Image(FIXTURES / "exif_rotated.jpg", max_side=128),
            ]
        ),
        Message.user("Describe these", images=[FIXTURES / "image.bmp", FIXTURES / "animated.gif"]),
        Message.user("And this one", image=(FIXTURES / "gray16.png").read_bytes()),
    ]


def main() -> None:
    system = Message.system("Be a good human!")
    questions = build_messages()

    print("== What is sent (OpenAI chat parts) ==")
    wire = mmkit.to_openai([system, *questions])
    for item in wire:
        print(" ", json.dumps(shorten(item), ensure_ascii=False))
    print("\n== What mmkit changed on the way ==")
    for message in questions:
        for image in message.images:
            print(f"  {image.describe()}: {'; '.join(image.conversions) or 'sent as is'}")

    print("\n== Sent to the local server (model 'echo') ==")
    with mmkit.Client("echo") as client:
        for message in questions:
            reply = client.chat([system, message])
            print(f"  {message.text!r} -> {reply.text}  [{reply.usage.total_tokens} tokens]")
        # sound and video: MP3 goes as input_audio; video becomes labelled frames for OpenAI
        listen = Message.user("Transcribe this", audio=FIXTURES / "tone_id3.mp3")
        watch = Message.user("Summarize this clip", video=Video(FIXTURES / "clip.mp4", frames=4))
        for message in (listen, watch):
            reply = client.chat([message])
            print(f"  {message.text!r} -> {reply.text}")
        print("  streamed: ", end="")
        stream = client.stream([questions[0]])
        for piece in stream:
            print(piece, end="|", flush=True)
        assert stream.reply is not None
        print(f"  (finish_reason={stream.reply.finish_reason})")

    base = shared_echo_server().base_url  # the same server also speaks Bytez's native API
    os.environ.setdefault("BYTEZ_API_KEY", "demo-key-for-the-local-server")

    print("\n== The seed's calls, through the local server ==")
    response = mmkit.completion(
        model="bytez/google/gemma-3-4b-it",
        messages=[{"content": "Hello, how are you?", "role": "user"}],
        max_tokens=20,
        temperature=0.5,
        repetition_penalty=1.2,  # Bytez-specific params pass
        base_url=base,
    )
    print("  completion():", response.choices[0].message.content)

    os.environ["MMKIT_DEMO_BASE_URL"] = base
    with mmkit.Client.from_config(HERE / "config.yaml", "gemma-3") as gemma:
        reply = gemma.chat([Message.user("Caption this", image=FIXTURES / "photo.webp")])
        print(f"  alias gemma-3 ({gemma.provider.name}): {reply.text}")
        print(f"  Bytez headers kept: {', '.join(sorted(reply.headers)) or 'none'}")

    print("\n== Captioning fixtures/ (what `mmkit caption fixtures --model echo` does) ==")
    out = Path(tempfile.mkdtemp()) / "captions.jsonl"
    summary = mmkit.caption.run([FIXTURES], model="echo", out=out, max_side=256)
    print("  " + str(summary).replace("\n", "\n  "))
    first = out.read_text().splitlines()[0]
    print(f"  first record: {first[:150]}...")
    again = mmkit.caption.run([FIXTURES], model="echo", out=out)
    print(f"  run again: {again.done} captioned, {again.skipped} skipped (already done)")


if __name__ == "__main__":
    main()
