"""ONNX Runtime sessions as the engine creates them, for describers and detectors alike
(REC-2): the execution providers checked against those installed, telemetry off, the
thread settings the engine's measurements chose."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

CPU_ONLY: tuple[str, ...] = ("CPUExecutionProvider",)


def providers_field(runs: str) -> Any:
    """The `providers` setting of a model run by ONNX Runtime; `runs`: what runs on them
    ("describes", "detects")."""
    return Field(
        default=CPU_ONLY,
        min_length=1,
        description=(
            "ONNX Runtime execution providers in order of preference: "
            f"('CUDAExecutionProvider', 'CPUExecutionProvider') {runs} on the GPU with "
            "onnxruntime-gpu installed. A provider this installation lacks is refused at "
            "start, the available ones named."
        ),
    )


class OnnxModelError(ValueError):
    """The model file cannot be used with these settings; says which file and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def missing_providers(providers: Sequence[str]) -> list[str]:
    """The execution providers of `providers` this onnxruntime lacks (a GPU's without
    onnxruntime-gpu, say)."""
    available = available_providers()
    return [p for p in providers if p not in available]


def check_providers(providers: Sequence[str], path: Path) -> None:
    """Refuse execution providers this onnxruntime lacks, naming the missing and the
    available ones."""
    missing = missing_providers(providers)
    if missing:
        raise OnnxModelError(
            path,
            f"execution providers {missing} are not available (available: {available_providers()})",
        )


def unavailable_providers(settings: Mapping[str, Any], where: str) -> list[str]:
    """One line for each `providers` setting in `settings` (a settings tree as dumped,
    nested tables and lists included; `where` its dotted name) that names an execution
    provider this onnxruntime lacks: the setting, the missing and the available ones. A
    command checks its engine with this before it starts any worker."""
    problems: list[str] = []

    def visit(value: Any, name: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key == "providers" and isinstance(item, Sequence):
                    missing = missing_providers(item)
                    if missing:
                        problems.append(
                            f"{name}.providers: execution providers {missing} are not "
                            f"available in this installation (available: "
                            f"{available_providers()}; a GPU's need onnxruntime-gpu)"
                        )
                else:
                    visit(item, f"{name}.{key}")
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                visit(item, f"{name}.{index}")

    visit(settings, where)
    return problems


def create_session(
    model_bytes: bytes,
    path: Path,
    *,
    providers: Sequence[str],
    intra_op_threads: int = 0,
    spin_wait: bool = False,
) -> Any:
    """An inference session on `providers` (checked first); `path` names the model in
    errors. `intra_op_threads` 0: all cores."""
    import onnxruntime as ort

    check_providers(providers, path)
    # ONNX Runtime's telemetry (Windows' event tracing; a no-op elsewhere) is turned off
    # before any session exists: nothing about a deployment leaves the machine.
    ort.disable_telemetry_events()
    options = ort.SessionOptions()
    # ENABLE_ALL adds the CPU layout transformation (NCHWc blocked convolutions), which
    # roughly halves the time per face against ENABLE_EXTENDED on AVX2 machines.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = intra_op_threads or (os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_wait else "0")
    return ort.InferenceSession(model_bytes, sess_options=options, providers=list(providers))
