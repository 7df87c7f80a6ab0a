"""The one parser of variant ids: what a measured variant applies, written ``a+b@setting``.

A variant id names one technique (``torch-compile``), a setting of one (``openvino-runtime@fp32``,
``bfloat16@weights``) or a stack applied together (``structured-filter-pruning+post-training-static-quantization``)::

    variant := part ("+" part)*
    part    := technique ["@" setting]

Each technique is a catalog id; its ``@setting`` follows it, so a stack's member can carry one
(``bfloat16@weights+torch-compile``; ``a+b@setting`` is the setting of ``b``). One exception
to "``+`` joins techniques": an applier's own suffix (:data:`APPLIER_SUFFIXES`, e.g.
``onnx-runtime-inference+int8``) is that technique's setting written with ``+``, not a second
technique. Every module that takes an id apart uses :meth:`VariantId.parse`.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor._errors import VariantIdError

__all__ = ["APPLIER_SUFFIXES", "VariantId", "VariantPart"]

# settings an applier writes with "+" after its technique (ONNX Runtime's quantized and precision variants)
APPLIER_SUFFIXES = frozenset({"int8", "static-int8", "fp32", "fp16", "bf16"})

_GRAMMAR = "expected technique[@setting][+technique[@setting]...], e.g. openvino-runtime@fp32 or a+b@setting"


@dataclass(frozen=True)
class VariantPart:
    """One technique of a variant id and its setting.

    Attributes:
        technique: The catalog id.
        setting: What ``@`` (or an applier suffix) sets, e.g. ``fp32``; None for the technique's default.
        suffix: The setting is an applier suffix written ``+setting`` (``onnx-runtime-inference+int8``).
    """

    technique: str
    setting: str | None = None
    suffix: bool = False

    def __str__(self) -> str:
        if self.setting is None:
            return self.technique
        return f"{self.technique}{'+' if self.suffix else '@'}{self.setting}"


@dataclass(frozen=True)
class VariantId:
    """A parsed variant id; ``str()`` gives it back as written (parts stripped of spaces).

    Attributes:
        parts: The techniques in the order written, each with its setting.
    """

    parts: tuple[VariantPart, ...]

    @classmethod
    def parse(cls, text: str | VariantId) -> VariantId:
        """Parse ``text`` (a VariantId is returned as it is).

        Raises:
            VariantIdError: An empty id or part, an empty technique or setting, two ``@`` in one part,
                or a space inside a part; the message names the id and the grammar.
        """
        if isinstance(text, VariantId):
            return text
        if not isinstance(text, str) or not text.strip():
            raise VariantIdError(f"variant id {text!r} is empty; {_GRAMMAR}")
        parts: list[VariantPart] = []
        for raw in text.split("+"):
            piece = raw.strip()
            if parts and piece in APPLIER_SUFFIXES and parts[-1].setting is None:
                parts[-1] = VariantPart(parts[-1].technique, piece, suffix=True)
                continue
            parts.append(_part(piece, text))
        return cls(tuple(parts))

    @property
    def techniques(self) -> tuple[str, ...]:
        """The catalog ids, in the order written."""
        return tuple(p.technique for p in self.parts)

    @property
    def settings(self) -> tuple[str | None, ...]:
        """Each technique's setting (None for its default), in the order written."""
        return tuple(p.setting for p in self.parts)

    @property
    def setting(self) -> str | None:
        """The setting written at the end (``a+b@setting``, ``openvino-runtime@fp32``); None without one."""
        return self.parts[-1].setting

    @property
    def is_stack(self) -> bool:
        """Whether it applies more than one technique."""
        return len(self.parts) > 1

    @property
    def base(self) -> str:
        """The id without settings: the catalog id of a single technique, ``a+b`` for a stack."""
        return "+".join(self.techniques)

    def __str__(self) -> str:
        return "+".join(str(p) for p in self.parts)


def _part(piece: str, text: str) -> VariantPart:
    if not piece:
        raise VariantIdError(f"variant id {text!r} has an empty part (a '+' with nothing on one side); {_GRAMMAR}")
    if any(c.isspace() for c in piece):
        raise VariantIdError(f"variant id {text!r}: part {piece!r} contains a space; {_GRAMMAR}")
    technique, at, setting = piece.partition("@")
    if "@" in setting:
        raise VariantIdError(f"variant id {text!r}: part {piece!r} has two '@' (one setting per technique); {_GRAMMAR}")
    if not technique:
        raise VariantIdError(f"variant id {text!r}: part {piece!r} has no technique before '@'; {_GRAMMAR}")
    if at and not setting:
        raise VariantIdError(f"variant id {text!r}: part {piece!r} has an empty setting after '@'; {_GRAMMAR}")
    return VariantPart(technique, setting or None)
