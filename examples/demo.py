"""The README's demo: messages built from the repository's fixtures, encoded for each target.

Prints what would be sent (part types, sizes, every conversion mmkit made) without sending it.
Run: make demo
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mmkit
from mmkit import Image, Message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def shorten(value: Any) -> Any:
    """Long data URIs shown as their head and size, so the output stays readable."""
    if isinstance(value, str) and value.startswith("data:") and len(value) > 60:
        return f"{value[:40]}… ({len(value):,} chars)"
    if isinstance(value, dict):
        return {k: shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten(v) for v in value]
    return value


def main() -> None:
    photo = Image(FIXTURES / "photo.jpg")
    messages = [
        Message.system("Be a good human!"),
        Message.user("What is in this picture?", image=photo),
        Message.user(
            ["Compare", Image(FIXTURES / "rgba.png"), "with",
             Image(FIXTURES / "exif_rotated.jpg", max_side=128)]
        ),
        Message.user("Describe these", images=[FIXTURES / "image.bmp", FIXTURES / "animated.gif"]),
        Message.user("And this one", image="https://example.com/cat.png"),
    ]
    print("Messages:")
    for message in messages:
        print(" ", message)

    for name, encode in (("OpenAI", mmkit.to_openai), ("Bytez", mmkit.to_bytez),
                         ("Hugging Face", mmkit.to_hf)):
        wire = encode(messages)
        size = len(json.dumps(wire))
        print(f"\n{name} ({size:,} bytes of JSON):")
        for item in wire:
            print(" ", json.dumps(shorten(item), ensure_ascii=False))

    print("\nConversions recorded on the parts:")
    for message in messages:
        for image in message.images:
            changes = "; ".join(image.conversions) or "none (sent as is)"
            print(f"  {image.describe()}: {changes}")


if __name__ == "__main__":
    main()
