"""Command line: ``python -m aligninfo {run,sweep,sync,check,list,invalidate,diagnose,pretrain}``.

Examples::

    python -m aligninfo list
    python -m aligninfo run 03_linear_alignment -p scale paper -p device cuda -o out.ipynb
    python -m aligninfo run 01_model -p noise "(0.3, 0.3)" --results-dir out
    python -m aligninfo sweep 07_synthetic -p scale smoke -p embedding_dim 8 32 --workers 2
    python -m aligninfo sync            # rewrite notebooks/*.ipynb from book/*.md
    python -m aligninfo check           # fail when a pair is out of sync
    python -m aligninfo invalidate _build   # make book does this first
    python -m aligninfo diagnose x1.npy x2.npy y.csv --groups sites.csv --out diag
    python -m aligninfo diagnose lfmc --out diag    # by name: lfmc, lfmc-context, houston
    python -m aligninfo pretrain lfmc --objective info_nce -k 64 --epochs 20 --out enc
    torchrun --nproc_per_node 4 -m aligninfo pretrain x1.npy x2.npy --device cuda --out enc
    python -m aligninfo pretrain bigearthnet --data-dir ben --split train --sub-patch 16 --out enc

``run`` and ``sweep`` take the results folder as ``--results-dir DIR`` or ``-p results_dir DIR``
(not both). A parameter the chapter does not have or gets twice, a scale that ALIGNINFO_SCALE
would replace, a value refused without computing anything (scale, seed, device, folders, data
folder, output, a list parameter given something other than a list like its default's), or a
file that is no chapter ends the command before any kernel starts, with a one-line message
and exit status 2; a chapter that stops while it runs (a value its configure cell refuses, a
failed check) or whose kernel dies ends it with a one-line message and exit status 1; an
interruption (Ctrl-C) ends any command with one line and status 130. ``sweep`` runs every point
of the grid (cartesian product of the values given after each ``-p NAME``), reuses the points
already computed, prints a line per point and a summary table; it exits with status 2 on a grid
it refuses, 1 when a point failed. ``diagnose`` refuses input it cannot diagnose (unreadable
file, a single file, unknown data set or choice, mismatched rows, NaN, constant columns, too few
samples) with one line and exit status 2. ``pretrain`` (:mod:`aligninfo.pretrain`) refuses
input it cannot train on (unknown data set or objective, unreadable or unpaired files, NaN, bad
sizes, an ``--out`` that is a file, a checkpoint of another run) and ends a run whose training
loss turns NaN or infinite in the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aligninfo.book import run
from aligninfo.userio import first_line, out_folder


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m aligninfo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the chapters and their parameters")
    execute = commands.add_parser("run", help="execute a chapter with parameters (papermill)")
    execute.add_argument("chapter", help="path or name of a chapter (book/*.md, notebooks/*.ipynb)")
    execute.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter (Python literal or string)",
    )
    execute.add_argument("-o", "--output", help="executed notebook to write (.ipynb)")
    execute.add_argument(
        "--results-dir",
        help="where the chapter's results files go, as -p results_dir (default: the chapter's "
        "own, results in book/)",
    )
    grid = commands.add_parser(
        "sweep", help="run a chapter over a grid of parameters, one results file per point"
    )
    grid.add_argument("chapter", help="path or name of a chapter")
    grid.add_argument(
        "-p",
        "--parameter",
        nargs="+",
        action="append",
        default=[],
        metavar="NAME VALUE",
        help="a parameter and its values (one or more; data_dir and workers take one)",
    )
    grid.add_argument("--workers", type=int, default=2, help="points run at once (default 2)")
    grid.add_argument(
        "--results-dir",
        help="where the points' results files go, as -p results_dir (default: results)",
    )
    pair = commands.add_parser("sync", help="write notebooks/*.ipynb from book/*.md")
    pair.add_argument("chapters", nargs="*", help="chapters to sync (default: all)")
    pair.add_argument(
        "--no-execute",
        action="store_true",
        help="do not execute (carry checked outputs over from the old pair)",
    )
    commands.add_parser("check", help="fail when a chapter and its notebook pair differ")
    stale = commands.add_parser(
        "invalidate", help="make the book build re-execute chapters whose upstream changed"
    )
    stale.add_argument("build", help="Jupyter Book's build folder (_build)")
    _diagnose_parser(commands)
    _pretrain_parser(commands)
    args, extras = parser.parse_known_args(argv)
    if extras:
        parser.error(_leftover(list(sys.argv[1:] if argv is None else argv), extras))
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command the parsed arguments name; return the exit status."""
    if args.command == "list":
        return _list()
    if args.command == "run":
        return _run(args.chapter, args.output, args.parameter, args.results_dir)
    if args.command == "sweep":
        return _sweep(args.chapter, args.parameter, args.workers, args.results_dir)
    if args.command == "invalidate":
        for chapter in run.invalidate_stale(args.build):
            print(f"{chapter}: upstream chapters or results changed, it will be executed again")
        return 0
    if args.command == "sync":
        return _sync(args.chapters, not args.no_execute)
    if args.command == "diagnose":
        return _diagnose(args)
    if args.command == "pretrain":
        return _pretrain(args)
    problems = [p for p in map(run.out_of_sync, run.chapters()) if p]
    for problem in problems:
        print(problem, "(run: python -m aligninfo sync)", file=sys.stderr)
    return 1 if problems else 0


def _run(
    chapter: str, output: str | None, pairs: Sequence[Sequence[str]], results_dir: str | None
) -> int:
    """Run a chapter; report a refused parameter or a failed cell in one line."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    try:
        parameters = _pairs(pairs)
        if results_dir is not None:
            parameters["results_dir"] = _results_dir(results_dir, parameters.get("results_dir"))
        run.run_chapter(chapter, output, parameters)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except PapermillExecutionError as err:
        print(
            f"error: {chapter} stopped at cell {err.exec_count}: {err.ename}: "
            f"{first_line(err.evalue)}",
            file=sys.stderr,
        )
        return 1
    except (DeadKernelError, CellTimeoutError) as err:
        print(
            f"error: {chapter}: its kernel died or hung (out of memory?): "
            f"{type(err).__name__}: {first_line(err)}",
            file=sys.stderr,
        )
        return 1
    return 0


def _leftover(argv: list[str], extras: list[str]) -> str:
    """The message for arguments argparse did not take, with how to give a list after ``-p``.

    ``run -p methods raw info_nce`` leaves ``info_nce``: a list is one quoted value.
    """
    message = f"unrecognized arguments: {' '.join(extras)}"
    first = argv.index(extras[0]) if extras[0] in argv else 0
    if first < 3 or argv[first - 3] not in ("-p", "--parameter"):
        return message
    end = first  # the values left over right after this -p NAME VALUE
    while end < len(argv) and end - first < len(extras) and argv[end] == extras[end - first]:
        end += 1
    values = [run.parse_value(v) for v in argv[first - 1 : end]]
    return (
        f"{message} (-p takes one value: give a list as one quoted value, "
        f'e.g. -p {argv[first - 2]} "{values!r}")'
    )


def _pairs(pairs: Sequence[Sequence[str]]) -> dict[str, object]:
    """``-p NAME VALUE`` pairs as a dict; a name given twice is refused (which would win?)."""
    parameters: dict[str, object] = {}
    for name, value in pairs:
        if name in parameters:
            raise ValueError(f"parameter {name!r} is given twice: give it once")
        parameters[name] = run.parse_value(value)
    return parameters


def _sync(chapters: Sequence[str], execute: bool) -> int:
    """Write the notebook pairs of some chapters (all by default); one line for a bad name."""
    try:
        selected = [run.resolve(c) for c in chapters] or None
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in run.sync(selected, execute=execute):
        print(f"wrote {path.relative_to(run.ROOT)}")
    return 0


def _results_dir(option: str | None, parameter: object) -> object:
    """The results folder given by ``--results-dir`` or ``-p results_dir``; not by both."""
    if option is not None and parameter is not None:
        raise ValueError("the results folder is given twice: use --results-dir or -p results_dir")
    return option if option is not None else parameter


def _sweep(
    chapter: str, pairs: Sequence[Sequence[str]], workers: int, results_dir: str | None
) -> int:
    """Run a grid; print a line per point and a summary; report a refused grid in one line."""
    from aligninfo.book import sweep

    grid: dict[str, list[object]] = {}
    try:
        for name, *values in pairs:
            if name in grid:
                raise ValueError(f"parameter {name!r} is given twice: list its values once")
            grid[name] = [run.parse_value(v) for v in values]
        folders = grid.pop("results_dir", [None])
        if len(folders) > 1:
            raise ValueError("'results_dir' says where files are: it cannot vary (give one)")
        folder = _results_dir(results_dir, folders[0])
        points = sweep.run_grid(
            chapter,
            grid,
            workers=workers,
            results_dir="results" if folder is None else str(folder),
            progress=lambda line: print(line, flush=True),
        )
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print()
    print(sweep.summary(points))
    failed = [p for p in points if p.status == "failed"]
    for point in failed:
        print(f"failed: {sweep.describe(point.values)}: {point.error}", file=sys.stderr)
    return 1 if failed else 0


# Checked in _diagnose, not by argparse: a bad choice is one line and status 2, like the
# other refusals, instead of argparse's usage text.
_DIAGNOSE_CHOICES = {
    "target": ("auto", "continuous", "categorical"),
    "x2_scale": ("standardised", "as-given"),
}


def _diagnose_parser(commands: Any) -> None:
    """The ``diagnose`` subcommand's arguments."""
    diag = commands.add_parser(
        "diagnose", help="should two modalities be aligned? (X1 X2 [Y] files, or a data set)"
    )
    diag.add_argument(
        "inputs",
        nargs="+",
        metavar="X1 X2 [Y] | NAME",
        help="X1 X2 [Y] as .npy or .csv files (rows paired), or a data set: "
        "lfmc, lfmc-context, houston",
    )
    diag.add_argument("--groups", help="group label of each row (.npy or .csv), e.g. sites")
    diag.add_argument(
        "--resample-groups",
        help="group label of each row that the bootstrap resamples while the folds split the "
        "groups (too few to hold out, e.g. polygons); not with --groups",
    )
    diag.add_argument("--out", help="folder for diagnosis.json and diagnosis.png")
    diag.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples (200)")
    diag.add_argument("--seed", type=int, default=0, help="seed of folds and resamples (0)")
    diag.add_argument("-k", type=int, help="aligned variates (default: chosen out of fold)")
    diag.add_argument(
        "--target",
        metavar="{" + ",".join(_DIAGNOSE_CHOICES["target"]) + "}",
        default="auto",
        help="how to read Y (auto: few integer values are classes)",
    )
    diag.add_argument(
        "--x2-scale",
        metavar="{" + ",".join(_DIAGNOSE_CHOICES["x2_scale"]) + "}",
        default="standardised",
        help="how cross-prediction (the phase diagram) sees X2's columns (standardised)",
    )
    diag.add_argument("--data-dir", help="data folder for a named data set (ALIGNINFO_DATA)")


def _diagnose(args: argparse.Namespace) -> int:
    """Diagnose a pair; print the summary; a refused input is one line and status 2."""
    from aligninfo import diagnose as diag

    try:
        _diagnose_choices(args, diag.DiagnoseInputError)
        if args.out:
            out_folder(args.out, diag.DiagnoseInputError)
        pair = _diagnose_inputs(args)
        options = {"n_boot": args.n_boot, "seed": args.seed, "k": args.k, "target": args.target}
        options["x2_scale"] = args.x2_scale.replace("-", " ")
        result = diag.diagnose(**pair.arguments(), **options)
        print(result.summary())
        if args.out:
            for path in result.save(args.out):
                print(f"wrote {path}")
    except (diag.DiagnoseInputError, OSError) as err:
        print(f"error: {first_line(err)}", file=sys.stderr)
        return 2
    return 0


def _diagnose_choices(args: argparse.Namespace, error: type[Exception]) -> None:
    """Refuse a --target or --x2-scale outside its choices (raises ``error``)."""
    for dest, allowed in _DIAGNOSE_CHOICES.items():
        value = getattr(args, dest)
        if value not in allowed:
            option = "--" + dest.replace("_", "-")
            raise error(f"{option} {value!r}: expected one of {', '.join(allowed)}")


def _diagnose_inputs(args: argparse.Namespace) -> Any:
    """The pair to diagnose (a ``NamedPair``) from files or a data set's name."""
    from aligninfo import diagnose as diag

    inputs = args.inputs
    if len(inputs) == 1:
        if Path(inputs[0]).suffix.lower() in (".npy", ".csv") or Path(inputs[0]).is_file():
            raise diag.DiagnoseInputError(
                f"{inputs[0]} is one file: give X1 and X2 (and Y) files, or a data set name "
                f"({', '.join(diag.LOADERS)})"
            )
        if args.groups or args.resample_groups:
            raise diag.DiagnoseInputError("--groups goes with files; a data set has its own")
        return diag.load_named(inputs[0], args.data_dir)
    if len(inputs) > 3:
        raise diag.DiagnoseInputError(f"give X1 X2 [Y] (at most 3 files), got {len(inputs)}")
    x1, x2 = diag.read_array(inputs[0], "X1"), diag.read_array(inputs[1], "X2")
    y = diag.read_labels(inputs[2], "Y", len(x1)) if len(inputs) == 3 else None
    groups = diag.read_labels(args.groups, "groups", len(x1)) if args.groups else None
    resample = args.resample_groups
    polygons = diag.read_labels(resample, "resample groups", len(x1)) if resample else None
    return diag.NamedPair(x1, x2, y, groups, polygons, ("X1", "X2"))


def _pretrain_parser(commands: Any) -> None:
    """The ``pretrain`` subcommand's arguments."""
    pre = commands.add_parser(
        "pretrain",
        help="pretrain encoders on paired data (a data set or X1 X2 .npy files); "
        "under torchrun, on every process",
    )
    pre.add_argument(
        "inputs",
        nargs="+",
        metavar="NAME | X1 X2",
        help="lfmc, lfmc-context, houston, bigearthnet (streamed), or two .npy files",
    )
    pre.add_argument("--out", required=True, help="folder for encoders.pt and encoders.json")
    pre.add_argument("--objective", default="info_nce", help="an objective (info_nce)")
    pre.add_argument(
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a hyperparameter of the objective (Python literal)",
    )
    pre.add_argument("-k", type=int, default=64, help="embedding size (64)")
    pre.add_argument(
        "--encoder",
        choices=("linear", "mlp", "conv1d", "cnn2d"),
        help="encoder kind (mlp; cnn2d for bigearthnet)",
    )
    pre.add_argument("--hidden", type=int, nargs="*", default=[256, 256], help="MLP widths")
    pre.add_argument(
        "--channels", type=int, nargs="+", default=[32, 64, 128], help="cnn2d channels"
    )
    pre.add_argument("--projector", type=int, help="output size of projection heads (none)")
    pre.add_argument("--epochs", type=int, default=20, help="passes over the data (20)")
    pre.add_argument("--batch-size", type=int, default=256, help="global batch size (256)")
    pre.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (1e-3)")
    pre.add_argument("--seed", type=int, default=0, help="seed (0)")
    pre.add_argument("--device", default="auto", help="auto, cpu or cuda (auto)")
    pre.add_argument(
        "--data-dir",
        help="data folder for a named data set (ALIGNINFO_DATA); for bigearthnet, the folder "
        "holding BigEarthNet-v1.0/ and BigEarthNet-S1-v1.0/",
    )
    ben = pre.add_argument_group("bigearthnet (streamed)")
    ben.add_argument("--split", choices=("train", "val", "test"), help="official list (all)")
    ben.add_argument("--sub-patch", type=int, help="side of a window per pair and epoch (whole)")
    ben.add_argument("--cache-dir", help="decoded-patch cache folder (none)")
    ben.add_argument(
        "--norm-sample", type=int, default=1000, help="pairs the standardisation uses (1000)"
    )
    ben.add_argument(
        "--loader-workers", type=int, default=0, help="DataLoader processes per process (0)"
    )
    pre.add_argument("--no-progress", action="store_true", help="no progress bar")


def _pretrain(args: argparse.Namespace) -> int:
    """Pretrain (data-parallel under torchrun); a refused input is one line and status 2."""
    from dataclasses import replace

    from aligninfo import distributed
    from aligninfo import pretrain as pre
    from aligninfo.bigearthnet_stream import open_bigearthnet
    from aligninfo.data.registry import DataFileError
    from aligninfo.train import TrainConfig

    joined, failed = False, True
    try:
        train = TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            progress=not args.no_progress,
            loader_workers=args.loader_workers,
        )
        streamed = len(args.inputs) == 1 and args.inputs[0] in pre.STREAMED
        config = pre.PretrainConfig(
            objective=args.objective,
            objective_kwargs=_pairs(args.param),
            k=args.k,
            encoder=args.encoder or ("cnn2d" if streamed else "mlp"),
            hidden=tuple(args.hidden),
            channels=tuple(args.channels),
            projector=args.projector,
            train=train,
        )
        if streamed:
            stream, about = open_bigearthnet(
                args.data_dir, args.split, sub_patch=args.sub_patch, cache_dir=args.cache_dir,
                norm_sample=args.norm_sample, seed=args.seed, workers=args.loader_workers,
            )  # fmt: skip
        else:
            x1, x2, names, source = pre.load_pairs(args.inputs, args.data_dir)
        if distributed.launched() and not distributed.active():
            device = distributed.init_from_env(args.device)
            joined = True
            config = replace(config, train=replace(train, device=str(device)))
        if streamed:
            record = pre.pretrain_stream(stream, about, config, args.out)
        else:
            record = pre.pretrain(x1, x2, config, args.out, names, source)
        failed, main = False, distributed.is_main()
    except (ValueError, OSError, FloatingPointError, DataFileError) as err:  # a diverging run,
        # a band file that cannot be decoded
        print(f"error: {first_line(err)}", file=sys.stderr)
        return 2
    finally:
        if joined:
            distributed.shutdown(wait=not failed)
    if main:
        print(_pretrained_summary(record, args.out))
    return 0


def _pretrained_summary(record: dict[str, Any], out: str) -> str:
    """One line: what was trained, on how many processes, the final loss and throughput."""
    history = record["history"]
    loss = history["train_loss"][-1] if history["train_loss"] else float("nan")
    return (
        f"wrote {out}: {record['objective']}, k={record['encoders']['x1']['out_dim']}, "
        f"{len(history['epoch'])} epochs on {record['processes']} process(es), "
        f"final training loss {loss:.4g}, {record['samples_per_second']:,.0f} samples/s "
        f"({record['samples_per_cpu_second']:,.0f} per CPU second)"
    )


def _list() -> int:
    """Print each chapter with its parameters and their defaults."""
    from papermill import inspect_notebook

    for chapter in run.chapters():
        print(chapter.stem)
        for name, p in inspect_notebook(str(run.pair_of(chapter))).items():
            print(f"    {name} = {p['default']}  {p['help']}".rstrip())
    return 0
