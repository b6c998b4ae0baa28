"""The two file hashes (harness.core.hashing) against digests worked out by hand with ``sha256sum``:
recorded dataset hashes, adapter hashes and cache keys depend on these values never changing."""

from __future__ import annotations

from pathlib import Path

from harness.core.hashing import BLOCK, hash_path, sha256_file


def test_sha256_file_is_sha256sum_of_the_bytes(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_bytes(b"abc")
    # printf abc | sha256sum
    assert sha256_file(tmp_path / "f.txt") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_file(str(tmp_path / "f.txt")) == sha256_file(tmp_path / "f.txt")
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    # more than one block: head -c 1048581 /dev/zero | tr '\0' a | sha256sum
    (tmp_path / "big").write_bytes(b"a" * (BLOCK + 5))
    assert sha256_file(tmp_path / "big") == "342867377adcf487fd155448cfefa56c15daca68f66199f192c05f8bcccf4ebd"


def test_hash_path_hashes_names_then_bytes(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_bytes(b"abc")
    # one file: its name, then its bytes (printf f.txtabc | sha256sum), so not sha256_file's value
    assert hash_path(tmp_path / "f.txt") == "fa8696376d57cdb9bcc87dce9f4f30c5a46f78fb0c4b66c17b577aba875d5240"
    folder = tmp_path / "adapter"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.txt").write_bytes(b"xyz")
    (folder / "a.txt").write_bytes(b"abc")
    # a folder: relative names and bytes in sorted order (printf a.txtabcsub/b.txtxyz | sha256sum)
    assert hash_path(folder) == "0a510649bcb3e90584dcd5fccf527464fefac6f5c76b230d0c8579591ab2f180"
