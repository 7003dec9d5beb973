"""Hugging Face datasets, through the `datasets` library when it is installed.

`hf:NAME[:CONFIG[:SPLIT]]` (split "test" when left out): `hf:openai/gsm8k:main:test`,
`hf:openai/openai_humaneval::test`, or a local folder of data files
(`hf:/data/my_set::test`). `datasets` reads its own cache when there is no
network (HF_HUB_OFFLINE=1 says so at once instead of waiting for a timeout). A
folder written by `Dataset.save_to_disk` is read as it is (`--dataset FOLDER`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from treelight.engine.errors import BadArguments

PREFIX = "hf:"
NEEDS = "Hugging Face datasets need the `datasets` library: pip install 'treelight[hf]'."


def is_saved_dataset(path: Path) -> bool:
    """A folder `Dataset.save_to_disk` wrote (or a DatasetDict's, with its splits)."""
    return path.is_dir() and (
        (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file()
    )


def hf_rows(source: str) -> list[dict[str, Any]]:
    """The rows of `hf:NAME[:CONFIG[:SPLIT]]`."""
    name, config, split = ([*source.removeprefix(PREFIX).split(":"), "", ""])[:3]
    if not name:
        raise BadArguments(
            "Name the dataset: hf:NAME[:CONFIG[:SPLIT]], e.g. hf:openai/gsm8k:main:test"
        )
    try:
        import datasets
    except ModuleNotFoundError:
        raise BadArguments(NEEDS) from None
    try:
        loaded = datasets.load_dataset(name, config or None, split=split or "test")
    except (FileNotFoundError, ConnectionError, OSError, ValueError) as error:
        raise BadArguments(
            f"Cannot load {source}: neither the network nor the local cache has it "
            f"({type(error).__name__}: {str(error)[:300]}). Download it once where there is "
            "network (the cache is ~/.cache/huggingface), or save it with "
            "Dataset.save_to_disk(FOLDER) and pass --dataset FOLDER."
        ) from None
    return [dict(row) for row in loaded]


def saved_rows(path: Path, split: str = "test") -> list[dict[str, Any]]:
    """The rows of a folder `save_to_disk` wrote; of a DatasetDict, its `split`."""
    try:
        import datasets
    except ModuleNotFoundError:
        raise BadArguments(NEEDS) from None
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise BadArguments(
                f"{path} has the splits {', '.join(loaded)}, not {split!r}: pass "
                f"--dataset {path}:SPLIT."
            )
        loaded = loaded[split]
    return [dict(row) for row in loaded]
