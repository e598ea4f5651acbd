"""The files of ``rlrt transform`` (:mod:`runtime.serving.transform`): the inputs it reads, the output folder it
writes, and the records of an input file, a chunk of lines at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from runtime.errors import UserError
from runtime.paths import FILE, FOLDER, guarded, make_folder, path_error, path_kind, require_file


def input_files(path: Path, output_dir: Path | None = None) -> list[Path]:
    """The files to transform: ``path`` itself, or every non-hidden file under it (sorted), less those under
    ``output_dir`` when it lies inside ``path`` (a rerun does not read its own outputs)."""
    if path_kind(path) != "a folder":
        return [require_file(path, "The --input")]
    with guarded(path, "The --input folder", FOLDER):
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    if output_dir is not None and output_dir.resolve() != path.resolve():
        files = [p for p in files if not p.resolve().is_relative_to(output_dir.resolve())]
    if not files:
        raise UserError(f"The transform input folder {path} has no files.")
    return files


def check_output_folder(input_path: Path, output_dir: Path) -> None:
    """``output_dir`` must be a folder this job can write, and not the input folder itself (its ``.out`` files would
    be read as inputs by the next run)."""
    if path_kind(input_path) == "a folder" and output_dir.resolve() == input_path.resolve():
        raise UserError(
            f"The --output folder {output_dir} is the --input folder: a second run would read the .out "
            "files of the first as inputs. Give an output folder of its own (e.g. "
            f"{output_dir / 'out'}, which the inputs then leave out)."
        )
    make_folder(output_dir, "The --output folder")


def write_error(exc: OSError, source: Path, output_dir: Path) -> UserError:
    """An ``OSError`` while one file is transformed: about the input file when it names it, else about the output."""
    if exc.filename is not None and Path(str(exc.filename)) == source:
        return path_error(source, exc, "The --input file", FILE)
    return path_error(output_dir, exc, "The --output folder", FOLDER)


def record_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-empty lines of ``path`` (its records), each with its line number."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:  # a byte-order mark (Excel's CSV) is no data
        try:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield number, line.rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise UserError(f"{path} is not UTF-8 text: {exc}") from None


def record_chunks(lines: Iterator[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    """``lines`` in lists of at most ``size``."""
    chunk: list[tuple[int, str]] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
