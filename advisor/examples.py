"""Example models for notebooks, tests and the demo: small, trained in seconds, no download.

``digits_model()`` trains a small CNN on scikit-learn's digits (1,797 8x8 images that ship inside
scikit-learn), so its accuracy is real and measurable.
"""

from __future__ import annotations

from typing import Any

from advisor._errors import MissingExtraError

__all__ = ["digits_model"]


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
