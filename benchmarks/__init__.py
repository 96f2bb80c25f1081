"""Throughput benchmarks (`radiopaque bench SUITE`), each measured beside a named baseline.

Suites: `generate` (generator vs the prototype's OpenCV loop), `decode` (DALI CPU/GPU,
nvJPEG, PIL), `train` (streaming trainer vs the prototype's DataLoader trainer). The
prototype reimplementations live in `baseline_generator.py` and `baseline_trainer.py`.
"""
