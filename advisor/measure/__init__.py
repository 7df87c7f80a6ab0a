"""Live measurement: energy meters (NVML, RAPL, estimate), and (next) the harness and appliers."""
