"""Example models for notebooks, tests and the demo: small, trained in seconds, no download.

``digits_model()`` trains a small CNN on scikit-learn's digits (1,797 8x8 images that ship inside
scikit-learn), so its accuracy is real and measurable.

``digits_training()`` and ``sequence_training()`` are training specs for ``green-advisor train`` /
``advisor.measure_to_target``: a fresh model per seed (``build_model(seed=..., width=...)``), the training
tensors, ``eval_fn`` (test accuracy as a fraction) and the user's full training (epochs) for the projection.
The sequence task is generated (seeded): which of four marker tokens occurs most often in a sequence of 24.
"""

from __future__ import annotations

from typing import Any

from advisor._errors import MissingExtraError

__all__ = ["digits_cnn", "digits_model", "digits_training", "sequence_training"]


def _need(module: str, extra: str, purpose: str) -> Any:
    from importlib import import_module

    try:
        return import_module(module)
    except ImportError:
        raise MissingExtraError(module, extra, purpose) from None


def digits_model(epochs: int = 15, seed: int = 0) -> tuple[Any, Any, Any]:
    """Train a small CNN on scikit-learn's digits.

    Returns:
        ``(model, example_inputs, eval_fn)``: the trained model, a batch of 64 test images and a
        function returning a model's test accuracy in percent. The same shape as a user factory.
    """
    torch = _need("torch", "measure", "The demo model")
    datasets = _need("sklearn.datasets", "all", "The demo data (scikit-learn's digits)")
    nn = torch.nn
    torch.manual_seed(seed)
    x, y = datasets.load_digits(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    y = torch.tensor(y, dtype=torch.long)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[perm], y[perm]
    n_train = int(0.8 * len(x))
    xtr, ytr, xte, yte = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for i in range(0, n_train, 64):
            opt.zero_grad()
            loss_fn(model(xtr[i : i + 64]), ytr[i : i + 64]).backward()
            opt.step()
    model.eval()

    def eval_fn(m: Any) -> float:
        with torch.no_grad():
            return float((m(xte).argmax(1) == yte).float().mean() * 100)

    return model, xte[:64], eval_fn


def _digits_split(seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """scikit-learn's digits as (train x, train y, test x, test y): 80/20, shuffled with ``seed``, x in [0, 1]."""
    torch = _need("torch", "measure", "The digits training spec")
    datasets = _need("sklearn.datasets", "all", "The digits data (scikit-learn's digits)")
    x, y = datasets.load_digits(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    y = torch.tensor(y, dtype=torch.long)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[perm], y[perm]
    n_train = int(0.8 * len(x))
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def digits_cnn(seed: int = 0, width: float = 1.0) -> Any:
    """The digits CNN of :func:`digits_model`, freshly initialised; ``width`` scales every layer's channels."""
    torch = _need("torch", "measure", "The digits CNN")
    nn = torch.nn
    torch.manual_seed(seed)
    c1, c2, hidden = max(1, round(32 * width)), max(1, round(64 * width)), max(1, round(128 * width))
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1),
        nn.BatchNorm2d(c1),
        nn.ReLU(),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.BatchNorm2d(c2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * 4 * 4, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 10),
    )


def _accuracy(x: Any, y: Any) -> Any:
    import torch

    def eval_fn(m: Any) -> float:
        with torch.no_grad():
            return float((m(x).argmax(-1) == y).float().mean())

    return eval_fn


def _training_spec(build: Any, train: tuple[Any, Any], test: tuple[Any, Any], name: str, **knobs: Any) -> Any:
    """A ModelSpec with a TrainingSetup: ``build`` makes fresh models, accuracy on ``test`` is the metric."""
    from advisor.profile.spec import ModelSpec, TrainingSetup

    setup = TrainingSetup(build_model=build, train_data=train, eval_fn=_accuracy(*test), **knobs)
    return ModelSpec(model=build(), example_inputs=(test[0][:32],), eval_fn=setup.eval_fn, training=setup, name=name)


def digits_training() -> Any:
    """A training spec: the digits CNN trained with Adam (lr 1e-3, batch 32) to a test accuracy (0.95 by default).

    Returns:
        ``ModelSpec(model=..., training=TrainingSetup(...))``; ``--model advisor.examples:digits_training``.
        The full training it projects to is 4 epochs over the 1,437 training images (180 steps).
    """
    xtr, ytr, xte, yte = _digits_split()
    knobs = {"lr": 1e-3, "batch_size": 32, "full_epochs": 4, "eval_every": 5, "target": 0.95}
    return _training_spec(digits_cnn, (xtr, ytr), (xte, yte), "digits-cnn", **knobs)


SEQ_LEN, SEQ_VOCAB, SEQ_CLASSES = 24, 12, 4


def sequence_data(n: int, seed: int) -> tuple[Any, Any]:
    """``n`` sequences of 24 tokens (vocabulary 12) and their label: the marker token (0-3) that occurs most often."""
    torch = _need("torch", "measure", "The sequence task")
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(SEQ_CLASSES, SEQ_VOCAB, (n, SEQ_LEN), generator=g)
    counts = torch.randint(0, 5, (n, SEQ_CLASSES), generator=g)
    label = torch.randint(0, SEQ_CLASSES, (n,), generator=g)
    counts[torch.arange(n), label] = counts.max(1).values + 1
    for i in range(n):
        pos = torch.randperm(SEQ_LEN, generator=g)[: int(counts[i].sum())]
        x[i, pos] = torch.repeat_interleave(torch.arange(SEQ_CLASSES), counts[i])
    return x, label


def sequence_gru(seed: int = 0, width: float = 1.0) -> Any:
    """An embedding, a GRU (32 units x ``width``) and a linear head over the last state, freshly initialised."""
    torch = _need("torch", "measure", "The sequence model")
    nn = torch.nn
    torch.manual_seed(seed)
    d = max(2, round(32 * width))

    class SequenceGRU(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.gru, self.head = (
                nn.Embedding(SEQ_VOCAB, d),
                nn.GRU(d, d, batch_first=True),
                nn.Linear(d, SEQ_CLASSES),
            )

        def forward(self, x: Any) -> Any:
            h, _ = self.gru(self.embed(x))
            return self.head(h[:, -1])

    return SequenceGRU()


def sequence_training() -> Any:
    """A training spec on a generated sequence task: a GRU trained with Adam (lr 3e-3, batch 32) to 0.90 accuracy.

    Returns:
        ``ModelSpec(model=..., training=TrainingSetup(...))``; 2,000 training and 500 test sequences (seeds 0, 1);
        the full training it projects to is 5 epochs (310 steps).
    """
    knobs = {"lr": 3e-3, "batch_size": 32, "full_epochs": 5, "eval_every": 10, "target": 0.9}
    return _training_spec(sequence_gru, sequence_data(2000, 0), sequence_data(500, 1), "sequence-gru", **knobs)
