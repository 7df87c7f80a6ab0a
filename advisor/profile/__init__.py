"""Profiles of what the advice is for: the user's model, this machine's hardware, the constraints."""

from advisor.profile.constraints import Constraints
from advisor.profile.hardware import GpuInfo, HardwareProfile, detect_hardware, hardware_facts, hardware_fingerprint
from advisor.profile.model import ModelProfile, load_profile_file, profile_model
from advisor.profile.spec import ModelSpec, TrainingSetup, as_spec, load_spec

__all__ = [
    "Constraints",
    "GpuInfo",
    "HardwareProfile",
    "ModelProfile",
    "ModelSpec",
    "TrainingSetup",
    "as_spec",
    "detect_hardware",
    "hardware_facts",
    "hardware_fingerprint",
    "load_profile_file",
    "load_spec",
    "profile_model",
]
