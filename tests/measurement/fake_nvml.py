"""A fake of the ``pynvml`` module: scripted GPUs with or without an energy counter."""

from __future__ import annotations

import time


class NVMLError(Exception):
    pass


class FakeNvml:
    """Module-like object. ``counter_mj`` per GPU (None = no counter), constant ``power_mw`` per GPU."""

    NVMLError = NVMLError

    def __init__(self, gpus: list[dict], fail_init: bool = False) -> None:
        self.gpus = gpus
        self.fail_init = fail_init
        self.t0 = time.perf_counter()
        self.shutdown_calls = 0

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise NVMLError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:
        g = self.gpus[h]
        if g.get("counter") is False:
            raise NVMLError("Not Supported")
        # energy grows at the GPU's power: mJ = mW x s
        return int(g["power_mw"] * (time.perf_counter() - self.t0))

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        return int(self.gpus[h]["power_mw"])
