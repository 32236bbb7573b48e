"""The kinds of resize-and-count rule models use, as pure functions of a size.

Each rule is a frozen dataclass holding a family's published numbers (the registry fills them in)
and answers two questions about an image of width x height: what size the model's processor
makes of it, and what that costs in tokens. No parts, messages, pixels or I/O here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

from mmkit.errors import InvalidOptionError, MediaTooLargeError

Detail = Literal["low", "high", "auto"]


@dataclass(frozen=True)
class ImagePlan:
    """What the model's processor makes of an image: its size and its token cost.

    `crop` is True when the processor centre-crops rather than stretches to a size of another
    aspect ratio (LLaVA-1.5's CLIP processor); Gemma 3 stretches."""

    width: int
    height: int
    tokens: int
    crop: bool = False


class ImageRule(Protocol):
    def plan(self, width: int, height: int, detail: Detail | None = None) -> ImagePlan: ...


def _check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise InvalidOptionError(
            f"an image size must be at least 1x1 pixels, got {width}x{height}; "
            "pass the decoded image's width and height"
        )


@dataclass(frozen=True)
class SmartResize:
    """Qwen2-VL / Qwen2.5-VL: both sides multiples of patch*merge, pixels in [min, max]."""

    patch: int
    merge: int
    min_pixels: int
    max_pixels: int
    max_ratio: int

    def resize(self, width: int, height: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
        """transformers' smart_resize, kept step for step (Python's round is banker's rounding
        there too, so ties go to the even multiple)."""
        if max(width, height) / min(width, height) > self.max_ratio:
            raise MediaTooLargeError(
                f"a {width}x{height} image has an aspect ratio over {self.max_ratio}:1, which "
                "this model's processor refuses; crop it or split it into several images"
            )
        factor = self.patch * self.merge
        h_bar = round(height / factor) * factor
        w_bar = round(width / factor) * factor
        if h_bar * w_bar > max_pixels:
            beta = math.sqrt((height * width) / max_pixels)
            h_bar = max(factor, math.floor(height / beta / factor) * factor)
            w_bar = max(factor, math.floor(width / beta / factor) * factor)
        elif h_bar * w_bar < min_pixels:
            beta = math.sqrt(min_pixels / (height * width))
            h_bar = math.ceil(height * beta / factor) * factor
            w_bar = math.ceil(width * beta / factor) * factor
        return w_bar, h_bar

    def tokens(self, width: int, height: int) -> int:
        factor = self.patch * self.merge
        return (width // factor) * (height // factor)

    def plan(self, width: int, height: int, detail: Detail | None = None) -> ImagePlan:
        _check_size(width, height)
        w, h = self.resize(width, height, self.min_pixels, self.max_pixels)
        return ImagePlan(w, h, self.tokens(w, h))


@dataclass(frozen=True)
class FixedSize:
    """Every image becomes one size and one token count (Gemma 3 stretches, CLIP crops)."""

    width: int
    height: int
    count: int
    crop: bool = False

    def plan(self, width: int, height: int, detail: Detail | None = None) -> ImagePlan:
        _check_size(width, height)
        return ImagePlan(self.width, self.height, self.count, crop=self.crop)


@dataclass(frozen=True)
class PatchFit:
    """Pixtral: shrink (never grow) to a longest edge, round each side up to whole patches;
    one token a patch, a break token after each row (the last one is the end token)."""

    longest_edge: int
    patch: int

    def plan(self, width: int, height: int, detail: Detail | None = None) -> ImagePlan:
        _check_size(width, height)
        ratio = max(height / self.longest_edge, width / self.longest_edge)
        if ratio > 1:
            height = math.floor(height / ratio)
            width = math.floor(width / ratio)
        rows = (height - 1) // self.patch + 1
        cols = (width - 1) // self.patch + 1
        return ImagePlan(cols * self.patch, rows * self.patch, rows * (cols + 1))


def best_resolution(
    width: int, height: int, pinpoints: tuple[tuple[int, int], ...]
) -> tuple[int, int]:
    """transformers' select_best_resolution: most of the image kept, then least padding.
    Pinpoints and the answer are (height, width), as there."""
    best = pinpoints[0]
    best_effective, best_wasted = 0, math.inf
    for ph, pw in pinpoints:
        scale = min(pw / width, ph / height)
        effective = min(int(width * scale) * int(height * scale), width * height)
        wasted = pw * ph - effective
        if effective > best_effective or (effective == best_effective and wasted < best_wasted):
            best, best_effective, best_wasted = (ph, pw), effective, wasted
    return best


@dataclass(frozen=True)
class AnyRes:
    """LLaVA-NeXT: fit into the best grid pinpoint of square tiles; tokens are the base tile's
    features plus the grid's features with the padding taken off plus one newline a row."""

    pinpoints: tuple[tuple[int, int], ...]  # (height, width), as in the model's config
    tile: int
    patch: int
    extra_tokens: int  # CLS added, minus the one the "default" feature strategy drops

    def plan(self, width: int, height: int, detail: Detail | None = None) -> ImagePlan:
        _check_size(width, height)
        ph, pw = best_resolution(width, height, self.pinpoints)
        scale_w, scale_h = pw / width, ph / height
        if scale_w < scale_h:
            new_w, new_h = pw, min(math.ceil(height * scale_w), ph)
        else:
            new_w, new_h = min(math.ceil(width * scale_h), pw), ph
        return ImagePlan(new_w, new_h, self.tokens(width, height, ph, pw))

    def tokens(self, width: int, height: int, ph: int, pw: int) -> int:
        side = self.tile // self.patch
        cur_h, cur_w = side * (ph // self.tile), side * (pw // self.tile)
        if width / height > cur_w / cur_h:
            new_h = int(round(height * (cur_w / width), 7))
            cur_h -= (cur_h - new_h) // 2 * 2
        else:
            new_w = int(round(width * (cur_h / height), 7))
            cur_w -= (cur_w - new_w) // 2 * 2
        return cur_h * cur_w + cur_h + side * side + self.extra_tokens


def _rescale_to_max_len(width: int, height: int, max_len: int) -> tuple[int, int]:
    """Idefics3's first resize: the long edge becomes max_len (up or down), the other side even."""
    aspect = width / height
    if width >= height:
        width = max_len
        height = int(width / aspect)
        height += height % 2
    else:
        height = max_len
        width = int(height * aspect)
        width += width % 2
    return max(width, 1), max(height, 1)


def _scale_below(width: int, height: int, max_len: int) -> tuple[int, int]:
    aspect = width / height
    if width >= height and width > max_len:
        width = max_len
        height = int(width / aspect)
    elif height > width and height > max_len:
        height = max_len
        width = int(height * aspect)
    return max(width, 1), max(height, 1)


@dataclass(frozen=True)
class Tiles:
    """Idefics3 / SmolVLM: long edge to `longest_edge`, both sides up to multiples of the tile,
    split into tiles plus one global image, each a fixed count of tokens."""

    longest_edge: int
    tile: int
    tile_tokens: int
    max_side: int  # the processor's absolute cap (MAX_IMAGE_SIZE)

    def plan(self, width: int, height: int, detail: Detail | None = None) -> ImagePlan:
        _check_size(width, height)
        w, h = _rescale_to_max_len(width, height, self.longest_edge)
        w, h = _scale_below(w, h, self.max_side)
        aspect = w / h
        if w >= h:
            w = math.ceil(w / self.tile) * self.tile
            h = math.ceil(int(w / aspect) / self.tile) * self.tile
        else:
            h = math.ceil(h / self.tile) * self.tile
            w = math.ceil(int(h * aspect) / self.tile) * self.tile
        # One tile is sent as itself; more are sent with one global image after them.
        split = w > self.tile or h > self.tile
        count = (w // self.tile) * (h // self.tile) + 1 if split else 1
        return ImagePlan(w, h, count * self.tile_tokens)


@dataclass(frozen=True)
class OpenAITiles:
    """GPT-4o-class: fit in a box, shrink the short side to a target, count 512-px tiles."""

    base: int
    per_tile: int
    box: int = 2048
    short_side: int = 768
    tile: int = 512

    def plan(self, width: int, height: int, detail: Detail | None = None) -> ImagePlan:
        _check_size(width, height)
        if detail == "low":
            scale = min(1.0, self.tile / max(width, height))
            return ImagePlan(max(1, int(width * scale)), max(1, int(height * scale)), self.base)
        scale = min(1.0, self.box / max(width, height))
        w, h = width * scale, height * scale
        scale = min(1.0, self.short_side / min(w, h))
        w, h = max(1, int(w * scale)), max(1, int(h * scale))
        tiles = math.ceil(w / self.tile) * math.ceil(h / self.tile)
        return ImagePlan(w, h, self.base + self.per_tile * tiles)


@dataclass(frozen=True)
class OpenAIPatches:
    """GPT-4.1-mini-class: 32-px patches, at most `max_patches` (shrinking to fit), then the
    model's multiplier. The docs give no rounding for the product: mmkit rounds up."""

    multiplier: float
    patch: int = 32
    max_patches: int = 1536

    def plan(self, width: int, height: int, detail: Detail | None = None) -> ImagePlan:
        _check_size(width, height)
        p = self.patch
        w, h = width, height
        if math.ceil(w / p) * math.ceil(h / p) > self.max_patches:
            r = math.sqrt(p * p * self.max_patches / (w * h))
            r *= min(math.floor(w * r / p) / (w * r / p), math.floor(h * r / p) / (h * r / p))
            # 1e-9: w*r lands on a whole multiple of 32 up to float error; keep that multiple
            w, h = max(1, math.floor(w * r + 1e-9)), max(1, math.floor(h * r + 1e-9))
        patches = math.ceil(w / p) * math.ceil(h / p)
        return ImagePlan(w, h, math.ceil(round(patches * self.multiplier, 6)))


@dataclass(frozen=True)
class AreaBudget:
    """Claude: long edge and pixel count bounded; tokens are the area over a constant."""

    max_side: int
    max_pixels: int
    pixels_per_token: int

    def plan(self, width: int, height: int, detail: Detail | None = None) -> ImagePlan:
        _check_size(width, height)
        scale = min(1.0, self.max_side / max(width, height))
        scale = min(scale, math.sqrt(self.max_pixels / (width * height)))
        w, h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
        return ImagePlan(w, h, self.tokens(w, h))

    def tokens(self, width: int, height: int) -> int:
        return math.ceil(width * height / self.pixels_per_token)


@dataclass(frozen=True)
class GeminiTiles:
    """Gemini 1.5/2.x: one flat count for a small image, else that count a tile. The API
    publishes no resize, so the size is kept."""

    small_side: int
    tile: int
    per_tile: int

    def plan(self, width: int, height: int, detail: Detail | None = None) -> ImagePlan:
        _check_size(width, height)
        if width <= self.small_side and height <= self.small_side:
            return ImagePlan(width, height, self.per_tile)
        tiles = math.ceil(width / self.tile) * math.ceil(height / self.tile)
        return ImagePlan(width, height, tiles * self.per_tile)
