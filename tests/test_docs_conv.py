"""The convolutions chapter in Korean has exactly the code and output blocks of the English one
(tests/test_docs.py runs both and checks their links)."""

from __future__ import annotations

from pathlib import Path

from test_docs import OUTPUT_LANGS, parse_blocks

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_korean_conv_chapter_has_the_same_code_and_output() -> None:
    def code(path: Path) -> list[tuple[str, str]]:
        blocks = parse_blocks(path.read_text(encoding="utf-8"))
        return [(b.lang, b.code) for b in blocks if b.lang == "python" or b.lang in OUTPUT_LANGS]

    english, korean = code(DOCS / "conv.md"), code(DOCS / "ko" / "conv.md")
    assert english, "docs/conv.md has no code"
    assert english == korean
