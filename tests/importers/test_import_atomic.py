"""An import writes atomically: a full disk leaves the previous files whole and the error names the file."""

from __future__ import annotations

import json
from pathlib import Path


from tests.importers.hardening_helpers import registry, _cli, _registry_cmd  # noqa: F401 (registry: a fixture)


def test_a_full_disk_leaves_the_previous_suite_whole_and_names_the_file(tmp_path, registry, capsys, monkeypatch):
    from tests.records.records_helpers import fill, mount_tmpfs

    for mnt in mount_tmpfs(tmp_path / "mnt", size="64k"):
        monkeypatch.chdir(mnt)
        old = "# the suite before\n" + "x: 1\n" * 200
        Path("suites").mkdir()
        Path("suites/capitals.yaml").write_text(old)
        big = [{"input": "Q" * 2000, "ideal": "A"} for _ in range(40)]  # 80 kB: more than the disk holds
        (registry / "data" / "capitals" / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in big))
        fill(mnt)
        rc, err = _cli([*_registry_cmd(registry), "--force"], capsys)
        assert rc == 4
        assert "datasets/capitals/test.jsonl" in err or "suites/capitals.yaml" in err
        assert "ENOSPC" in err and len(err.strip().splitlines()) == 1
        assert Path("suites/capitals.yaml").read_text() == old
        assert not [p for p in mnt.rglob("*.tmp")]  # no fragment left behind


def test_a_failed_write_of_the_suite_leaves_no_fragment_and_names_it(tmp_path, registry, capsys, monkeypatch):
    """The same without a tmpfs: the OS refuses the suite's write (ENOSPC) at the write layer."""
    import errno
    import os

    monkeypatch.chdir(tmp_path)
    Path("suites").mkdir()
    Path("suites/capitals.yaml").write_text("# before\n")
    real_fsync = os.fsync
    calls = []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the dataset is written first, the suite second
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    rc, err = _cli([*_registry_cmd(registry), "--force"], capsys)
    assert rc == 4 and "suites/capitals.yaml" in err and "ENOSPC" in err
    assert Path("suites/capitals.yaml").read_text() == "# before\n"
    assert not list(tmp_path.rglob("*.tmp"))
