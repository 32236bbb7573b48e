"""`import mmkit` stays light: the media libraries load when a part first needs them; and the
first parts made in many threads at once all come out whole.

Each check runs in a fresh interpreter: this test process has imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_fresh(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_loads_no_media_library() -> None:
    out = run_fresh(
        "import json, sys, mmkit\n"
        "heavy = ('PIL', 'av', 'soundfile', 'numpy', 'concurrent.futures', 'mmkit.media.fetch')\n"
        "print(json.dumps([name for name in heavy if name in sys.modules]))\n"
    )
    assert json.loads(out) == []


def test_first_parts_made_in_many_threads_at_once(fixtures_dir: Path) -> None:
    """The captioning pool makes its first parts in parallel: every thread gets a whole part,
    and all of them the same one (lazy imports and first-use caches must not race)."""
    out = run_fresh(
        "import json, sys, threading\n"
        "sys.setswitchinterval(1e-6)  # switch threads often: races show up\n"
        "from pathlib import Path\n"
        "import mmkit\n"
        f"folder = Path({str(fixtures_dir)!r})\n"
        "image, audio = (folder / 'rgb.png').read_bytes(), (folder / 'tone.wav').read_bytes()\n"
        "start = threading.Barrier(8)\n"
        "results, errors = [], []\n"
        "def work():\n"
        "    start.wait()\n"
        "    try:\n"
        "        message = mmkit.Message.user('hi', image=image, audio=audio,\n"
        "                                     video=folder / 'clip.mp4')\n"
        "        results.append(message.model_dump_json())\n"
        "    except Exception as exc:\n"
        "        errors.append(repr(exc))\n"
        "threads = [threading.Thread(target=work) for _ in range(8)]\n"
        "for thread in threads: thread.start()\n"
        "for thread in threads: thread.join()\n"
        "print(json.dumps({'errors': errors, 'results': len(results),\n"
        "                  'distinct': len(set(results))}))\n"
    )
    assert json.loads(out) == {"errors": [], "results": 8, "distinct": 1}
