"""Seeded inputs and PyTorch eager reference outputs per task, cached as MKBT files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mkb_tui.bench.tasks import InputSpec, Task
from mkb_tui.bench.tensorfile import read_tensors, write_tensors
from mkb_tui.paths import cache_dir

NP_DTYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64, "bool": np.bool_, "uint8": np.uint8}


@dataclass(frozen=True)
class ReferenceCase:
    task_id: str
    seed: int
    inputs_path: Path
    outputs_path: Path
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    def inputs(self) -> list[np.ndarray]:
        return [a for _, a in read_tensors(self.inputs_path)]

    def outputs(self) -> list[np.ndarray]:
        return [a for _, a in read_tensors(self.outputs_path)]


def output_names(count: int) -> tuple[str, ...]:
    return tuple(f"out{i}" for i in range(count))


def sample_input(spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    kind = spec.dist.get("dist", "uniform")
    dtype = NP_DTYPES[spec.dtype]
    if kind == "uniform":
        array = rng.uniform(spec.dist.get("low", 0.0), spec.dist.get("high", 1.0), spec.shape)
    elif kind == "normal":
        array = rng.normal(spec.dist.get("mean", 0.0), spec.dist.get("std", 1.0), spec.shape)
    elif kind == "randint":
        array = rng.integers(spec.dist.get("low", 0), spec.dist.get("high", 10), spec.shape)
    elif kind == "bool":
        array = rng.random(spec.shape) < spec.dist.get("p", 0.5)
    elif kind == "unique_index":
        # rows of distinct indices along the last axis (scatter targets must not collide)
        high = spec.dist["high"]
        rows = int(np.prod(spec.shape[:-1]))
        array = np.stack([rng.permutation(high)[: spec.shape[-1]] for _ in range(rows)]).reshape(spec.shape)
    else:
        raise ValueError(f"input {spec.name}: unknown distribution {kind!r}")
    array = np.asarray(array).astype(dtype)
    if spec.edge:
        flat = array.reshape(-1)
        for i, value in enumerate(spec.edge[: flat.size]):
            flat[i] = value
    return array


def sample_inputs(task: Task, seed: int, module=None) -> list[np.ndarray]:
    module = module or task.load_module()
    rng = np.random.default_rng(seed)
    custom = getattr(module, "sample_inputs", None)
    if custom is not None:
        arrays = [np.asarray(a) for a in custom(rng)]
    else:
        arrays = [sample_input(spec, rng) for spec in task.inputs]
    return [a.astype(NP_DTYPES[s.dtype]) for a, s in zip(arrays, task.inputs)]


def build_model(task: Task, module=None):
    """The task's model with deterministic parameters (seed 0), in eval mode."""
    import torch

    module = module or task.load_module()
    torch.manual_seed(0)
    model = module.Model(*module.get_init_inputs())
    return model.eval()


def run_model(model, arrays: list[np.ndarray]) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        result = model(*[torch.from_numpy(np.array(a)) for a in arrays])
    if isinstance(result, torch.Tensor):
        result = (result,)
    return [r.detach().cpu().numpy() for r in result]


def case_stem(seed: int, domain: str = "") -> str:
    """The cached files' name part for a seed: `inputs_<stem>.mkbt` (a domain draw names its kind and version)."""
    from mkb_tui.bench.domain import DOMAIN_VERSION

    return f"d{DOMAIN_VERSION}{domain}-{seed}" if domain else f"{seed}"


def domain_case_inputs(task: Task, seed: int, domain: str, module=None) -> list[np.ndarray]:
    """The inputs of a domain draw (mkb_tui.bench.domain) of `kind` for a seed: the task's own draw, transformed."""
    from mkb_tui.bench.domain import domain_inputs

    base = sample_inputs(task, seed, module)
    rng = np.random.default_rng([seed, int.from_bytes(domain.encode(), "little")])
    return [a.astype(NP_DTYPES[s.dtype]) for a, s in zip(domain_inputs(task, domain, base, rng), task.inputs)]


def reference_cases(task: Task, seeds, domains=None) -> list[ReferenceCase]:
    """The cases of several seeds (a domain draw of that kind where `domains` names one); the model is built (a
    foreign suite's: its child process run) at most once."""
    seeds = list(seeds)
    domains = list(domains) if domains is not None else [""] * len(seeds)
    if task.foreign:
        from mkb_tui.bench import foreign

        foreign.ensure(task, [s for s, d in zip(seeds, domains) if not d], domains=[(d, s) for s, d in zip(seeds, domains) if d])
        return [reference_case(task, s, domain=d) for s, d in zip(seeds, domains)]
    module = model = None
    cases = []
    for seed, domain in zip(seeds, domains):
        folder = cache_dir() / "refs" / f"{task.id}-{task.content_hash}"
        stem = case_stem(seed, domain)
        if not ((folder / f"inputs_{stem}.mkbt").exists() and (folder / f"outputs_{stem}.mkbt").exists()):
            module = module or task.load_module()
            model = model or build_model(task, module)
        cases.append(reference_case(task, seed, model=model, module=module, domain=domain))
    return cases


def reference_case(task: Task, seed: int, *, model=None, module=None, domain: str = "") -> ReferenceCase:
    """Inputs and PyTorch outputs for one seed (a domain draw of that kind when `domain`), cached by the task file's
    content hash."""
    if task.foreign:
        from mkb_tui.bench import foreign

        foreign.ensure(task, [] if domain else [seed], domains=[(domain, seed)] if domain else [])
        folder = foreign.refs_folder(task)
        stem = case_stem(seed, domain)
        inputs_path, outputs_path = folder / f"inputs_{stem}.mkbt", folder / f"outputs_{stem}.mkbt"
        ins, outs = read_tensors(inputs_path), read_tensors(outputs_path)
        return ReferenceCase(task.id, seed, inputs_path, outputs_path, tuple(n for n, _ in ins), tuple(n for n, _ in outs))
    folder = cache_dir() / "refs" / f"{task.id}-{task.content_hash}"
    stem = case_stem(seed, domain)
    inputs_path, outputs_path = folder / f"inputs_{stem}.mkbt", folder / f"outputs_{stem}.mkbt"
    names = tuple(s.name for s in task.inputs)
    if inputs_path.exists() and outputs_path.exists():
        outs = read_tensors(outputs_path)
        return ReferenceCase(task.id, seed, inputs_path, outputs_path, names, tuple(n for n, _ in outs))
    module = module or task.load_module()
    arrays = domain_case_inputs(task, seed, domain, module) if domain else sample_inputs(task, seed, module)
    outputs = run_model(model or build_model(task, module), arrays)
    folder.mkdir(parents=True, exist_ok=True)
    out_names = output_names(len(outputs))
    tmp_in, tmp_out = inputs_path.with_suffix(".tmp"), outputs_path.with_suffix(".tmp2")
    write_tensors(tmp_in, list(zip(names, arrays)))
    write_tensors(tmp_out, list(zip(out_names, outputs)))
    tmp_in.replace(inputs_path)
    tmp_out.replace(outputs_path)
    return ReferenceCase(task.id, seed, inputs_path, outputs_path, names, out_names)
