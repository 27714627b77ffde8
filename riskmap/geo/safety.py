"""Guards for files users upload: size limits, safe zip extraction and private temporary directories.

Everything here refuses before doing work: a file that is too big is never opened, a zip is inspected whole
(names, declared sizes, the ratio of each big entry and of the whole archive, room on the disk) before a single
byte is written, and extraction writes only into a private
directory that is removed whatever happens.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from riskmap.errors import LayoutImportError, TooLargeError

MIB = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    """Bounds on what a zip may expand to.

    The ratio bound only applies to entries big enough to matter: tiny sidecar files (.cpg, .prj) compress
    badly or well without harm, and deflate cannot exceed about 1032:1 anyway.
    """

    max_total_bytes: int = 1024 * MIB
    max_ratio: float = 200.0
    ratio_min_bytes: int = 16 * MIB
    max_entries: int = 10_000


def _mb(n: float) -> str:
    return f"{n / MIB:.1f} MB"


def check_file_size(path: str | os.PathLike, max_bytes: int,
                    companions: Iterable[str | os.PathLike] = ()) -> int:
    """Size of `path` (plus its existing `companions`, e.g. a shapefile's .dbf) in bytes, refusing it
    (TooLargeError) above `max_bytes` without reading it."""
    size = os.stat(path).st_size + sum(os.stat(c).st_size for c in companions if os.path.exists(c))
    if size > max_bytes:
        raise TooLargeError(
            f"文件过大：{Path(path).name} 为 {_mb(size)}，上限 {_mb(max_bytes)} / "
            f"file too large: {Path(path).name} is {_mb(size)}, the limit is {_mb(max_bytes)}")
    return size


@contextmanager
def private_tempdir(prefix: str = "riskmap-") -> Iterator[Path]:
    """A directory only this process user can read (mkdtemp makes it 0700), removed on exit, even on error."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe_name(name: str) -> bool:
    """True for names that could land outside the extraction directory (zip slip)."""
    if not name or "\x00" in name:
        return True
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return True
    parts = re.split(r"[\\/]+", name)
    return any(part == ".." for part in parts)


def _display_name(info: zipfile.ZipInfo) -> str:
    """Zip names without the UTF-8 flag were decoded as CP437; Chinese tools write them in GBK."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def open_zip(path: str | os.PathLike) -> zipfile.ZipFile:
    """Open a zip, turning any corrupt or truncated archive into a LayoutImportError instead of a traceback."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise LayoutImportError(
            f"不是有效的 ZIP 文件：{Path(path).name} / not a valid zip file: {exc}") from exc


def inspect_zip(zf: zipfile.ZipFile, limits: ZipLimits = ZipLimits()) -> list[zipfile.ZipInfo]:
    """The zip's file entries, after refusing zip slip, encrypted entries and decompression bombs.

    Declared sizes are checked here; extraction counts the real bytes again because headers can lie.
    """
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise TooLargeError(
            f"ZIP 文件条目过多（{len(infos)} 个，上限 {limits.max_entries}） / "
            f"too many zip entries ({len(infos)}, the limit is {limits.max_entries})")
    bad = [_display_name(i) for i in infos if _unsafe_name(i.filename)]
    if bad:
        shown = "、".join(repr(b) for b in bad[:5])
        raise LayoutImportError(
            f"ZIP 文件含有不安全的路径（绝对路径或 ../），已拒绝：{shown} / "
            f"zip entries with absolute paths or '..' refused (zip slip): {shown}")
    files = [i for i in infos if not i.is_dir()]
    encrypted = [_display_name(i) for i in files if i.flag_bits & 0x1]
    if encrypted:
        raise LayoutImportError(
            f"ZIP 文件已加密，无法读取：{encrypted[0]} / encrypted zip entries are not supported: {encrypted[0]}")
    total = sum(i.file_size for i in files)
    if total > limits.max_total_bytes:
        raise TooLargeError(
            f"ZIP 解压后过大（声明 {_mb(total)}，上限 {_mb(limits.max_total_bytes)}），疑似压缩炸弹 / "
            f"zip expands to {_mb(total)}, over the limit of {_mb(limits.max_total_bytes)} "
            "(possible decompression bomb)")
    packed = sum(i.compress_size for i in files)
    if total >= limits.ratio_min_bytes and total / max(packed, 1) > limits.max_ratio:
        # many entries each too small for the bound below still make a bomb together
        ratio = total / max(packed, 1)
        raise TooLargeError(
            f"ZIP 文件整体压缩比 {ratio:.0f}:1（{_mb(packed)} 解压为 {_mb(total)}）超过上限 {limits.max_ratio:.0f}:1，"
            f"疑似压缩炸弹 / the zip as a whole has a compression ratio of {ratio:.0f}:1 ({_mb(packed)} expanding "
            f"to {_mb(total)}), over the limit of {limits.max_ratio:.0f}:1 (possible decompression bomb)")
    for info in files:
        if info.file_size >= limits.ratio_min_bytes:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise TooLargeError(
                    f"ZIP 条目 {_display_name(info)} 压缩比 {ratio:.0f}:1 超过上限 {limits.max_ratio:.0f}:1，"
                    f"疑似压缩炸弹 / zip entry {_display_name(info)} has a compression ratio of {ratio:.0f}:1, "
                    f"over the limit of {limits.max_ratio:.0f}:1 (possible decompression bomb)")
    return files


def _check_room(dest: Path, needed: int) -> None:
    """Refuse before extracting when the temporary directory's disk cannot hold what the zip declares (with a
    tenth of its free space to spare): a full /tmp would break more than this import."""
    free = shutil.disk_usage(dest).free
    if needed > free * 0.9:
        raise TooLargeError(
            f"临时目录空间不足：ZIP 解压需要 {_mb(needed)}，可用 {_mb(free)} / not enough space in the temporary "
            f"directory: the zip needs {_mb(needed)}, {_mb(free)} is free")


def extract_entries(zf: zipfile.ZipFile, files: list[zipfile.ZipInfo], dest: Path, *,
                    wanted: Callable[[str], bool] | None = None, limits: ZipLimits = ZipLimits()) -> list[Path]:
    """Extract the inspected entries `files` (from inspect_zip) that `wanted(name)` accepts into `dest`.

    Only the chosen entries are written, after checking that the disk has room for their declared sizes; real bytes
    are counted against those sizes (and the limit) as they are written. Symbolic links are written as plain files,
    never followed. Names are stored under their GBK-decoded form when the zip does not flag UTF-8, so
    Chinese file names survive.
    """
    dest = Path(dest).resolve()
    chosen = [i for i in files if wanted is None or wanted(_display_name(i))]
    budget = min(limits.max_total_bytes, sum(i.file_size for i in chosen))
    _check_room(dest, budget)
    written: list[Path] = []
    for info in chosen:
        name = _display_name(info)
        rel = PurePosixPath(*[p for p in re.split(r"[\\/]+", name) if p not in ("", ".")])
        target = (dest / rel).resolve()
        if dest not in target.parents:
            raise LayoutImportError(
                f"ZIP 条目路径越界，已拒绝：{name!r} / zip entry escapes the extraction directory: {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with zf.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(MIB):
                    budget -= len(chunk)
                    if budget < 0:
                        raise TooLargeError(
                            f"ZIP 解压后超过上限 {_mb(limits.max_total_bytes)}，疑似压缩炸弹 / "
                            f"zip expands beyond {_mb(limits.max_total_bytes)} (possible decompression bomb)")
                    out.write(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise LayoutImportError(
                f"ZIP 条目损坏，无法解压：{name} / corrupt zip entry {name}: {exc}") from exc
        written.append(target)
    return written

