"""Suite files: the YAML schema (pydantic), friendly one-line errors, grid expansion.

A suite names datasets × methods × seeds with training and evaluation settings::

    name: mnist_all
    datasets: [mnist]
    methods: [gan, {name: wgan_gp, params: {lambda_gp: 10}}]
    seeds: [0, 1, 2]
    train: {iterations: 20000, batch_size: 64, eval_every: 2000}
    eval: {metrics: [fcd, cis, classes], num_samples: 10000, reference: test}
    params: {width: 64}          # overrides for every method
    quick: {seeds: [0, 1], train: {iterations: 300}, params: {width: 16}}
    resources: {cpus_per_trial: 1, gpus_per_trial: auto}

``quick`` holds the values that ``--quick`` substitutes (deep-merged over the suite).
Every mistake becomes a :class:`SuiteError` whose message is one line:
``suites/x.yaml: methods[2].params.lr_g: expected a number, got 'fast'``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ganbench.data.base import get_dataset
from ganbench.errors import GanbenchError
from ganbench.registry import DATASETS, METHODS, METRICS, PluginImportError, did_you_mean, import_plugins, resolve_import
from ganbench.report.published import PublishedValue, check_published
from ganbench.spec import TrialSpec
from ganbench.tune.settings import TuneSettings


class SuiteError(GanbenchError):
    """A malformed suite file; the message names the file and the key path."""


#: the longest suite name: it names a folder, and file systems take 255 bytes per component
MAX_NAME = 128
#: the deepest nesting of mappings and lists a suite may have (a real one has fewer than 8)
MAX_DEPTH = 32


class _SuiteLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key given twice in one mapping (YAML says keys are
    unique; PyYAML would keep the last one silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                try:
                    earlier = first.setdefault(key, key_node)
                except TypeError:  # an unhashable key: SafeLoader reports it itself
                    continue
                if earlier is not key_node:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} given twice (lines {earlier.start_mark.line + 1} and "
                        f"{key_node.start_mark.line + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _check_depth(raw: Any, source: str) -> None:
    """One line for a document nested deeper than :data:`MAX_DEPTH` (no recursion here)."""
    stack = [(raw, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise SuiteError(f"{source}: {key_path(path[:3])}...: nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MethodEntry(_Strict):
    name: str
    #: the row name in tables; lets one method appear twice (e.g. two presets)
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def row(self) -> str:
        return self.label or self.name


class TrainSettings(_Strict):
    iterations: int = Field(2000, gt=0)
    batch_size: int = Field(64, gt=0)
    eval_every: int = Field(500, gt=0)
    #: losses reach the host (log, divergence check) every log_every iterations; None: min(50, eval_every)
    log_every: int | None = Field(None, gt=0)
    #: torch.compile of the method's nets (ganbench.train); none by default
    compile: Literal["none", "default", "reduce-overhead"] = "none"


class Threshold(_Strict):
    """``{metric: fid, below: 20}``: when a trial first reaches a value (issue 4, "over time").

    ``metric`` is a value key (a results column, e.g. ``fid``, ``modes_covered``); exactly
    one of ``below`` (reached when value <= below) and ``above`` (value >= above).
    """

    metric: str
    below: float | None = None
    above: float | None = None

    @model_validator(mode="after")
    def _one_bound(self):
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of below and above")
        return self


class EvalSettings(_Strict):
    metrics: list[str] = Field(default_factory=lambda: ["fcd", "cis", "classes"])
    #: metrics computed at a trial's last evaluation only, beside ``metrics`` (the dear ones:
    #: ``memorization`` embeds the training split, Inception metrics on a CPU); the tables show
    #: them like the others, the curves have one point for them
    final_metrics: list[str] = Field(default_factory=list)
    num_samples: int = Field(1000, gt=1)
    reference: Literal["train", "test"] = "test"
    #: n of real reference images for fid/kid/prdc (e.g. 10k test vs 5k generated, Dist-GAN and
    #: GN-GAN's protocol); None: as many as num_samples. Capped at the split size.
    num_reference: int | None = Field(None, gt=1)
    #: the Inception metrics' resize (clean-fid's mode names): PIL bicubic, or TF1 bilinear as
    #: TTUR / Lucic et al. 2018 (ganbench/metrics/inception.py)
    resize: Literal["clean", "legacy_tensorflow"] = "clean"
    #: thresholds whose first crossing (iterations, seconds) the report tabulates
    time_to: list[Threshold] = Field(default_factory=list)

    @field_validator("time_to", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        return [v] if isinstance(v, dict) else v


class Resources(_Strict):
    cpus_per_trial: float = Field(1.0, gt=0)
    gpus_per_trial: float | Literal["auto"] = "auto"
    max_failures: int = Field(0, ge=0)

    @field_validator("gpus_per_trial")
    @classmethod
    def _non_negative(cls, v):
        if v != "auto" and v < 0:
            raise ValueError("expected a number >= 0 or 'auto'")
        return v


def _method_entry(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class QuickProfile(_Strict):
    """The parts of a suite that ``--quick`` may replace (each one optional)."""

    datasets: list[str | dict[str, Any]] | None = None
    params: dict[str, Any] | None = None
    #: per-method overrides, keyed by a method's name or label: ``{wgan: {critic_boost: false}}``
    method_params: dict[str, dict[str, Any]] | None = None
    methods: list[MethodEntry] | None = None
    seeds: list[int] | None = None
    train: dict[str, Any] | None = None
    eval: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None
    #: deep-merged over the suite's ``tune`` block (e.g. a smaller budget)
    tune: dict[str, Any] | None = None

    _entries = field_validator("methods", mode="before")(
        classmethod(lambda cls, v: [_method_entry(x) for x in v] if isinstance(v, list) else v)
    )


class Suite(_Strict):
    #: one safe path component: the name of the suite's results folder (not ``.`` or ``..``)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=MAX_NAME)
    #: dataset names; an entry with parameters (``{name: image_folder, path: DIR, size: 32}``)
    #: is split into its name here and its parameters in :attr:`dataset_params`
    datasets: list[str] = Field(min_length=1)
    #: per entry of :attr:`datasets`, its parameters (``{}`` for a plain name); filled from the
    #: entries, never written in a suite file
    dataset_params: list[dict[str, Any]] = Field(default_factory=list)
    methods: list[MethodEntry] = Field(min_length=1)
    #: hyperparameter overrides for every method (a method's own ``params`` win)
    params: dict[str, Any] = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    train: TrainSettings = Field(default_factory=TrainSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    quick: QuickProfile | None = None
    resources: Resources = Field(default_factory=Resources)
    #: a hyperparameter sweep (ganbench/tune/settings.py); absent: no search
    tune: TuneSettings | None = None
    #: published values the tables set beside the measured ones (ganbench/report/published.py)
    published: list[PublishedValue] = Field(default_factory=list)
    #: plugin modules imported before validation (docs/plugins.md): ``.py`` files (relative to the
    #: suite file; stored resolved to absolute paths) or module names (looked up in the suite
    #: file's folder first, :attr:`import_dir`, then on ``sys.path``)
    imports: list[str] = Field(default_factory=list)
    #: the suite file's folder (filled by :func:`parse_suite`, never written in a suite file)
    import_dir: str = ""

    @field_validator("methods", mode="before")
    @classmethod
    def _names_to_entries(cls, v):
        return [_method_entry(x) for x in v] if isinstance(v, list) else v

    @model_validator(mode="before")
    @classmethod
    def _dataset_entries(cls, data):
        """``datasets: [mnist, {name: image_folder, path: DIR, size: 32}]`` -> names + parameters."""
        if not isinstance(data, dict) or not isinstance(data.get("datasets"), list):
            return data
        if "dataset_params" in data and all(isinstance(d, str) for d in data["datasets"]):
            return data  # already split (a suite's own model_dump)
        names, params = [], []
        for entry in data["datasets"]:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                names.append(entry["name"])
                params.append({k: v for k, v in entry.items() if k != "name"})
            else:
                names.append(entry)
                params.append({})
        return {**data, "datasets": names, "dataset_params": params}

    def dataset_entries(self) -> list[tuple[str, dict[str, Any]]]:
        """``(name, parameters)`` per dataset entry (parameters ``{}`` for a plain name)."""
        params = self.dataset_params or [{} for _ in self.datasets]
        return list(zip(self.datasets, params))

    @field_validator("name")
    @classmethod
    def _one_folder(cls, v):
        if v.strip(".") == "":
            raise ValueError("expected a folder name (this one names the results folder itself or its "
                             "parent)")
        return v

    def method_overrides(self, entry: MethodEntry) -> dict[str, Any]:
        return {**self.params, **entry.params}

    def expand(self) -> list[TrialSpec]:
        """The grid datasets × methods × seeds as frozen, fully resolved trial specs."""
        specs = []
        for dataset, dataset_params in self.dataset_entries():
            info = get_dataset(dataset, dataset_params).info
            for entry in self.methods:
                params = METHODS.get(entry.name).resolve_params(self.method_overrides(entry), info)
                for seed in self.seeds:
                    specs.append(TrialSpec(
                        method=entry.name,
                        dataset=dataset,
                        seed=seed,
                        params=tuple(sorted(params.items())),
                        iterations=self.train.iterations,
                        batch_size=self.train.batch_size,
                        eval_every=self.train.eval_every,
                        log_every=self.train.log_every,
                        compile=self.train.compile,
                        metrics=tuple(self.eval.metrics),
                        final_metrics=tuple(self.eval.final_metrics),
                        num_samples=self.eval.num_samples,
                        reference=self.eval.reference,
                        label=entry.label or "",
                        resize=self.eval.resize,
                        num_reference=self.eval.num_reference,
                        dataset_params=tuple(sorted(dataset_params.items())),
                        imports=tuple(self.imports),
                        import_dir=self.import_dir if self.imports else "",
                    ))
        return specs


# ---------------------------------------------------------------------------------------
# Loading and error messages

_TYPE_WORDS = {
    "float_parsing": "expected a number", "float_type": "expected a number",
    "int_parsing": "expected an integer", "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "bool_parsing": "expected true or false", "bool_type": "expected true or false",
    "string_type": "expected a string", "list_type": "expected a list",
    "dict_type": "expected a mapping", "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "extra_forbidden": "unknown key", "missing": "missing required key",
    "literal_error": None, "too_short": "expected at least one entry",
    "greater_than": None, "greater_than_equal": None, "string_pattern_mismatch": None,
}


def key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(err: dict[str, Any]) -> str:
    kind = err["type"]
    words = _TYPE_WORDS.get(kind)
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    if words is None:
        words = err["msg"].replace("Input should be", "expected").replace("Value error, ", "")
    got = err.get("input")
    if isinstance(got, (dict, list)) and kind not in ("list_type", "dict_type", "model_type"):
        return words
    return f"{words}, got {got!r}"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``list[X]``), if any."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where an unknown key ``loc[-1]`` was found (for "did you mean")."""
    model: type[BaseModel] | None = Suite
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue  # a list index: the list's item model, found from the field already
        field = model.model_fields.get(part)
        model = _model_of(field.annotation) if field is not None else None
    if model is None:
        return []
    return sorted(set(model.model_fields) - {"dataset_params", "import_dir"})


def _first_error(exc: ValidationError, prefix: tuple[Any, ...] = (),
                 known: list[str] | None = None) -> tuple[str, str]:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    what = _describe(err)
    if err["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
        what += did_you_mean(loc[-1], known if known is not None else _keys_at(loc))
    return key_path(prefix + loc), what


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_suite(raw: Any, source: str, quick: bool = False, sets: list[str] | tuple[str, ...] = ()) -> Suite:
    """Validate a parsed YAML document; raise :class:`SuiteError` with one line.

    ``sets`` are ``--set key.path=value`` overrides (:func:`apply_overrides`). Without
    ``quick`` they are applied to the document before validation. With ``quick``, those under
    ``quick.`` change the profile and the others are applied over the profile's result, so that
    the command line wins over both the suite and its quick profile. An error in a key that a
    ``--set`` gave says so.
    """
    if not isinstance(raw, dict):
        raise SuiteError(f"{source}: (top level): expected a mapping of suite keys, got {type(raw).__name__}")
    if "import_dir" in raw:
        raise SuiteError(f"{source}: import_dir: unknown key (filled by ganbench, not written in a suite)")
    sets = list(sets)
    try:
        return _parse(raw, source, quick, sets)
    except SuiteError as err:
        message = str(err)
        for item in sets:
            key = item.partition("=")[0].strip()
            if key and f": {key}:" in message.replace("quick.", "", 1 if not key.startswith("quick") else 0):
                raise SuiteError(f"{message} (given by --set {item})") from None
        raise


def _parse(raw: dict[str, Any], source: str, quick: bool, sets: list[str]) -> Suite:
    in_profile = [s for s in sets if s.strip().startswith(("quick.", "quick["))]
    over_profile = [s for s in sets if s not in in_profile]
    use_profile = quick and raw.get("quick") is not None
    raw = apply_overrides(raw, in_profile if use_profile else sets, source) if sets else raw
    raw = _load_imports(raw, source)
    try:
        suite = Suite.model_validate(raw)
    except ValidationError as exc:
        path, what = _first_error(exc)
        raise SuiteError(f"{source}: {path}: {what}") from None
    _check_names(suite, source, "")
    if quick and suite.quick is not None:
        over = suite.quick.model_dump(exclude_none=True)
        per_method = over.pop("method_params", {})
        merged = _deep_merge({k: v for k, v in raw.items() if k != "quick"}, over)
        merged["methods"] = _with_method_params(merged["methods"], per_method, source)
        if over_profile:
            merged = apply_overrides(merged, over_profile, source)
        try:
            suite = Suite.model_validate(merged)
        except ValidationError as exc:
            path, what = _first_error(exc)
            raise SuiteError(f"{source}: quick.{path}: {what}") from None
        _check_names(suite, source, "quick.")
    return suite


def _load_imports(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """Import the suite's ``imports`` (before validation: they may register the very methods,
    datasets and metrics the suite names); returns the document with them resolved."""
    entries = raw.get("imports")
    if entries is None:
        return raw
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list):
        raise SuiteError(f"{source}: imports: expected a list of module names or .py files, got {entries!r}")
    for i, entry in enumerate(entries):
        if not isinstance(entry, str) or not entry.strip():
            raise SuiteError(f"{source}: imports[{i}]: expected a module name or a .py file, got {entry!r}")
    base = Path(source).resolve().parent
    resolved = [resolve_import(e.strip(), base) for e in entries]
    try:
        import_plugins(resolved, base)
    except PluginImportError as err:
        raise SuiteError(f"{source}: imports[{err.index}]: {err}") from None
    return {**raw, "imports": resolved, "import_dir": str(base) if resolved else ""}


# ---------------------------------------------------------------------------------------
# --set key.path=value and --only method=...,dataset=...

def _parse_key_path(text: str) -> list[str | int]:
    """``methods[0].params.lr_g`` (or ``methods.0.params.lr_g``) -> ``["methods", 0, "params", "lr_g"]``."""
    parts: list[str | int] = []
    for piece in text.split("."):
        name, _, rest = piece.partition("[")
        if name:
            parts.append(int(name) if name.isdigit() else name)
        while rest:
            index, close, rest = rest.partition("]")
            if not close or not index.strip().isdigit() or (rest and not rest.startswith("[")):
                raise ValueError(text)
            parts.append(int(index))
            rest = rest[1:]
        if not name and not parts:
            raise ValueError(text)
    if not parts or any(p == "" for p in parts):
        raise ValueError(text)
    return parts


def apply_overrides(raw: dict[str, Any], sets: list[str] | tuple[str, ...], source: str) -> dict[str, Any]:
    """A copy of the document with each ``key.path=value`` set (the value read as YAML:
    ``100`` an integer, ``[fcd, cis]`` a list, ``true`` a boolean). A mapping on the way is
    created when missing; a list is indexed (``methods[1].params.lr_g=1e-4``). The result is
    validated like the file, so an unknown or ill-typed key is the usual one-line error."""
    doc = copy.deepcopy(raw)
    for item in sets:
        key, eq, text = item.partition("=")
        key = key.strip()
        try:
            if not eq or not key:
                raise ValueError(item)
            path = _parse_key_path(key)
        except ValueError:
            raise SuiteError(f"--set {item}: expected key.path=value (e.g. --set train.iterations=100)") from None
        try:
            value = yaml.load(text, Loader=_SuiteLoader) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        node: Any = doc
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            where = key_path(tuple(path[: depth + 1]))
            if isinstance(part, int):
                if not isinstance(node, list):
                    raise SuiteError(f"--set {item}: {key_path(tuple(path[:depth])) or '(top level)'} is not a list "
                                     f"in {source}")
                if part >= len(node):
                    raise SuiteError(f"--set {item}: {where}: index out of range ({len(node)} entries in {source})")
                if last:
                    node[part] = value
                else:
                    if isinstance(node[part], str) and isinstance(path[depth + 1], str):
                        node[part] = {"name": node[part]}  # methods[0].params.x on a bare name
                    node = node[part]
            else:
                if not isinstance(node, dict):
                    raise SuiteError(f"--set {item}: {key_path(tuple(path[:depth]))} is not a mapping in {source}")
                if last:
                    node[part] = value
                else:
                    if node.get(part) is None:
                        node[part] = {}
                    node = node[part]
    return doc


def _split_only(only: str | list[str] | tuple[str, ...]) -> dict[str, list[str]]:
    items = [only] if isinstance(only, str) else list(only)
    wanted: dict[str, list[str]] = {}
    key = None
    for text in items:
        for piece in (p.strip() for p in text.split(",")):
            if not piece:
                continue
            if "=" in piece:
                key, _, value = piece.partition("=")
                key = key.strip()
                if key not in ("method", "dataset", "seed"):
                    raise SuiteError(f"--only {text}: unknown key {key!r}{did_you_mean(key, ['method', 'dataset', 'seed'])}"
                                     " (use method=..., dataset=..., seed=...)")
                piece = value.strip()
            elif key is None:
                raise SuiteError(f"--only {text}: expected method=...,dataset=...,seed=...")
            if not piece:
                raise SuiteError(f"--only {text}: {key}= needs a value")
            wanted.setdefault(key, []).append(piece)
    return wanted


def filter_suite(suite: Suite, only: str | list[str] | tuple[str, ...] | None, source: str) -> Suite:
    """The suite restricted to ``--only method=a,b,dataset=x,seed=0`` (a method value is a row
    label, or else selects every row of that method; values after a comma without ``=`` continue
    the previous key). Trial ids do
    not change: a filtered run and the full run share their finished trials."""
    if not only:
        return suite
    wanted = _split_only(only)
    update: dict[str, Any] = {}
    text = only if isinstance(only, str) else ",".join(only)
    if "method" in wanted:
        keep = []
        for value in wanted["method"]:
            hits = [m for m in suite.methods if m.row == value] or [m for m in suite.methods if m.name == value]
            if not hits:
                rows = sorted({m.row for m in suite.methods} | {m.name for m in suite.methods})
                raise SuiteError(f"--only {text}: no method {value!r} in {source}{did_you_mean(value, rows)} "
                                 f"(rows: {', '.join(m.row for m in suite.methods)})")
            keep += [m for m in hits if m not in keep]
        update["methods"] = [m for m in suite.methods if m in keep]
    if "dataset" in wanted:
        entries = suite.dataset_entries()
        for value in wanted["dataset"]:
            if value not in suite.datasets:
                raise SuiteError(f"--only {text}: no dataset {value!r} in {source}"
                                 f"{did_you_mean(value, suite.datasets)} (datasets: {', '.join(suite.datasets)})")
        kept = [(d, p) for d, p in entries if d in wanted["dataset"]]
        update["datasets"] = [d for d, _ in kept]
        update["dataset_params"] = [p for _, p in kept]
    if "seed" in wanted:
        seeds = []
        for value in wanted["seed"]:
            if not value.lstrip("-").isdigit() or int(value) not in suite.seeds:
                raise SuiteError(f"--only {text}: no seed {value!r} in {source} (seeds: "
                                 f"{', '.join(map(str, suite.seeds))})")
            seeds.append(int(value))
        update["seeds"] = [s for s in suite.seeds if s in seeds]
    return suite.model_copy(update=update)


def _with_method_params(methods: list[Any], per_method: dict[str, dict[str, Any]], source: str) -> list[Any]:
    """Merge ``quick.method_params`` into the method entries whose name or label matches."""
    entries = [dict(_method_entry(m)) if isinstance(_method_entry(m), dict) else m for m in methods]
    for key, params in per_method.items():
        hits = [e for e in entries if isinstance(e, dict) and (e.get("label") or e.get("name")) == key]
        if not hits:
            raise SuiteError(f"{source}: quick.method_params.{key}: no method with this name or label in the suite")
        for entry in hits:
            entry["params"] = {**(entry.get("params") or {}), **params}
    return entries


def _check_names(suite: Suite, source: str, where: str) -> None:
    def fail(path: str, what: str):
        raise SuiteError(f"{source}: {where}{path}: {what}")

    infos = {}
    for i, (dataset, dataset_params) in enumerate(suite.dataset_entries()):
        if dataset not in DATASETS:
            fail(f"datasets[{i}]", f"unknown dataset {dataset!r}{did_you_mean(dataset, DATASETS.names())} "
                 f"(known: {', '.join(DATASETS.names())})")
        if dataset in infos:
            fail(f"datasets[{i}]", f"{dataset!r} appears twice")
        takes = getattr(DATASETS.get(dataset), "params_help", None)
        if dataset_params and not takes:
            fail(f"datasets[{i}]", f"dataset {dataset!r} takes no parameters (got {', '.join(dataset_params)})")
        if takes and not dataset_params:
            fail(f"datasets[{i}]", f"dataset {dataset!r} needs parameters: {{name: {dataset}, {takes}}}")
        try:
            infos[dataset] = get_dataset(dataset, dataset_params).info
        except GanbenchError as err:
            key, _, rest = str(err).partition(": ")
            fail(f"datasets[{i}].{key}" if key.isidentifier() and rest else f"datasets[{i}]", rest or str(err))
    for i, entry in enumerate(suite.methods):
        if entry.name not in METHODS:
            fail(f"methods[{i}].name", f"unknown method {entry.name!r}{did_you_mean(entry.name, METHODS.names())} "
                 f"(known: {', '.join(METHODS.names())})")
        method = METHODS.get(entry.name)
        for dataset in suite.datasets:
            try:
                resolved = method.resolve_params(suite.method_overrides(entry), infos[dataset])
                if suite.train.batch_size % resolved.get("pack", 1):
                    fail(f"methods[{i}].params.pack", f"train.batch_size {suite.train.batch_size} is not a "
                         f"multiple of pack {resolved['pack']} (PacGAN packs the batch into groups)")
            except ValidationError as exc:
                key = exc.errors()[0]["loc"][0] if exc.errors()[0]["loc"] else None
                where_from = ("methods", i, "params") if key in entry.params or key not in suite.params \
                    else ("params",)
                path, what = _first_error(exc, where_from, known=sorted(method.Params.model_fields))
                if where_from == ("params",):
                    what += f" (for method {entry.name!r})"
                fail(path, what)
            except SuiteError:
                raise
            except GanbenchError as err:  # the method refuses the dataset (a translation method on images)
                fail(f"methods[{i}]", str(err))
    rows = [entry.row for entry in suite.methods]
    for i, row in enumerate(rows):
        if row in rows[:i]:
            fail(f"methods[{i}]", f"{row!r} appears twice; give one of them a distinct label")
    for field in ("metrics", "final_metrics"):
        for i, metric in enumerate(getattr(suite.eval, field)):
            if metric not in METRICS:
                fail(f"eval.{field}[{i}]", f"unknown metric {metric!r}{did_you_mean(metric, METRICS.names())} "
                     f"(known: {', '.join(METRICS.names())})")
            if field == "final_metrics" and metric in suite.eval.metrics:
                fail(f"eval.{field}[{i}]", f"{metric!r} is also in eval.metrics (computed at every evaluation "
                     "already); keep it in one of the two")
            if getattr(suite.eval, field).index(metric) != i:
                fail(f"eval.{field}[{i}]", f"{metric!r} is listed twice")
            for dataset in suite.datasets:
                info = infos[dataset]
                if not METRICS.get(metric).applies_to(info):
                    fail(f"eval.{field}[{i}]", f"metric {metric!r} does not apply to dataset {dataset!r}")
            if getattr(METRICS.get(metric), "needs_labels", False):
                plain = [entry.row for entry in suite.methods
                         if entry.name in METHODS and not METHODS.get(entry.name).conditional]
                if plain:
                    fail(f"eval.{field}[{i}]", f"metric {metric!r} needs class-conditional samples, but "
                         f"{', '.join(plain[:3])}{' …' if len(plain) > 3 else ''} "
                         f"{'is' if len(plain) == 1 else 'are'} unconditional (conditional methods: "
                         f"{', '.join(n for n, c in METHODS.items() if c.conditional)})")
    all_metrics = [*suite.eval.metrics, *suite.eval.final_metrics]
    produced = {key: name for name in all_metrics if name in METRICS for key in METRICS.get(name).outputs}
    for i, threshold in enumerate(suite.eval.time_to):
        if threshold.metric not in produced:
            fail(f"eval.time_to[{i}].metric", f"{threshold.metric!r} is not a value of the suite's metrics "
                 f"(values: {', '.join(produced) or 'none'})")
    if not where:  # the full suite's rows (a quick profile may drop some; their entries just go unshown)
        check_published(suite.published, rows, suite.datasets, list(produced), fail)
    if len(set(suite.seeds)) != len(suite.seeds):
        fail("seeds", f"repeated seed in {suite.seeds}")
    if suite.train.eval_every > suite.train.iterations:
        fail("train.eval_every", f"{suite.train.eval_every} is more than train.iterations ({suite.train.iterations})")
    if suite.tune is not None and suite.imports:
        fail("imports", "a sweep (tune:) does not carry a suite's imports to its Ray workers; install the "
             "plugin with an entry point instead (docs/plugins.md)")
    if suite.tune is not None:
        from ganbench.tune.settings import check_tune

        check_tune(suite, fail)


def load_suite(path: str | Path, quick: bool = False, sets: list[str] | tuple[str, ...] = (),
               only: str | list[str] | tuple[str, ...] | None = None) -> Suite:
    """Read, parse and validate a suite file (``quick`` applies its quick profile, ``sets`` the
    ``--set`` overrides, ``only`` the ``--only`` filter, :func:`filter_suite`)."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{source}: no such suite file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{source}: cannot read: {exc}") from None
    try:
        raw = yaml.load(text, Loader=_SuiteLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(f"{source}: {where}invalid YAML: {problem}") from None
    except RecursionError:  # PyYAML's composer recurses once per level
        raise SuiteError(f"{source}: nested more than {MAX_DEPTH} levels deep (too deep to read)") from None
    _check_depth(raw, source)
    suite = parse_suite(raw, source, quick=quick, sets=sets)
    return filter_suite(suite, only, source) if only else suite
