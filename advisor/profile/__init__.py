"""Profiles of what the advice is for: the user's model, this machine's hardware, the constraints."""

from advisor.profile.constraints import Constraints
from advisor.profile.hardware import GpuInfo, HardwareProfile, detect_hardware, hardware_fingerprint
from advisor.profile.model import ModelProfile, load_model_spec, load_profile_file, profile_model

__all__ = [
    "Constraints",
    "GpuInfo",
    "HardwareProfile",
    "ModelProfile",
    "detect_hardware",
    "hardware_fingerprint",
    "load_model_spec",
    "load_profile_file",
    "profile_model",
]
