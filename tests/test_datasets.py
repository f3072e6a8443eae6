"""Dataset loaders on small files in the official formats, written here; one real Debian download.

Every fixture is written by the test itself in the format the loader reads in production (IDX
gz, a .deb made of an ar archive and a tar.xz, CIFAR-10 pickle batches in a tar.gz, STL-10's
column-major binary, numbered CelebA JPEGs, a folder of PNGs); the official checksums are
replaced by the fixtures' own (the code paths that check them are the production ones).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import shutil
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ganbench.cli import app
from ganbench.data import celeba, cifar10, fashion_mnist, stl10
from ganbench.data.base import get_dataset, tensors_sha256
from ganbench.data.debian import ar_members, deb_files
from ganbench.data.idx import parse_idx
from ganbench.errors import AssetUnavailable, GanbenchError
from ganbench.paths import cache_dir
from ganbench.spec import TrialSpec
from ganbench.suite import parse_suite


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("GANBENCH_CACHE", str(folder))
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    return folder


# ---------------------------------------------------------------------------------------
# writers of the official formats

def idx_bytes(arr: np.ndarray) -> bytes:
    """An IDX file (LeCun's format): magic 0 0 0x08 ndim, big-endian int32 dims, uint8 data."""
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}i", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def ar_archive(members: list[tuple[str, bytes]]) -> bytes:
    """An ar archive as dpkg-deb writes it: magic, 60-byte headers, data padded to even length."""
    out = b"!<arch>\n"
    for name, data in members:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}".encode() + b"`\n"
        assert len(header) == 60
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return out


def tar_xz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def fashion_fixture():
    """3 train and 2 test 28×28 images with a marked pixel each, labels, and their IDX gz files."""
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)
    train[0, 2, 5] = 7  # row 2, column 5 of the first image
    arrays = {"train-images-idx3-ubyte": train, "train-labels-idx1-ubyte": np.array([9, 0, 3], np.uint8),
              "t10k-images-idx3-ubyte": test, "t10k-labels-idx1-ubyte": np.array([1, 2], np.uint8)}
    raw = {stem: idx_bytes(a) for stem, a in arrays.items()}
    return arrays, raw, {stem: gzip.compress(b) for stem, b in raw.items()}


@pytest.fixture
def fashion_pins(monkeypatch):
    """The fixture's IDX hashes replace the official ones; the official tensor hash is kept off."""
    arrays, raw, gz = fashion_fixture()
    monkeypatch.setattr(fashion_mnist, "IDX_SHA256", {s: hashlib.sha256(b).hexdigest() for s, b in raw.items()})
    monkeypatch.setattr(fashion_mnist, "TENSORS_SHA256", None)
    monkeypatch.setattr(fashion_mnist.FashionMNIST, "sizes", {})
    return arrays, raw, gz


def fixture_deb(gz: dict[str, bytes]) -> bytes:
    data = tar_xz({f"./usr/share/datasets/fashion-mnist/{stem}.gz": b for stem, b in gz.items()}
                  | {"./usr/share/doc/dataset-fashion-mnist/copyright": b"MIT\n"})
    return ar_archive([("debian-binary", b"2.0\n"), ("control.tar.xz", tar_xz({"./control": b"Package: x\n"})),
                       ("data.tar.xz", data)])


# ---------------------------------------------------------------------------------------
# Fashion-MNIST: IDX, .deb, checksums

def test_idx_reader_shape_and_errors():
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = idx_bytes(arr)
    assert np.array_equal(parse_idx(data), arr)
    assert np.array_equal(parse_idx(gzip.compress(data)), arr)
    with pytest.raises(GanbenchError, match="header says"):
        parse_idx(data[:-1], "x.idx")
    with pytest.raises(GanbenchError, match="bad magic"):
        parse_idx(b"\x01\x02\x03\x04" + data[4:], "x.idx")


def test_fashion_from_idx_folder_and_deb_agree(tmp_path, empty_cache, fashion_pins, monkeypatch):
    arrays, _, gz = fashion_pins
    folder = tmp_path / "idx"
    folder.mkdir()
    for stem, blob in gz.items():
        (folder / f"{stem}.gz").write_bytes(blob)
    deb = tmp_path / "dataset-fashion-mnist_test_all.deb"
    deb.write_bytes(fixture_deb(gz))
    assert [*ar_members(deb.read_bytes())] == ["debian-binary", "control.tar.xz", "data.tar.xz"]

    ds = fashion_mnist.FashionMNIST()
    from_folder = ds.from_local(folder)
    from_deb = ds.from_local(deb)
    assert tensors_sha256(from_folder) == tensors_sha256(from_deb)

    # through the resolver: the env variable names the .deb; the result lands in the cache
    monkeypatch.setenv("GANBENCH_FASHION_MNIST_DEB", str(deb))
    x, y = ds.load_split("train")
    assert x.shape == (3, 1, 28, 28) and y.tolist() == [9, 0, 3]
    assert x[0, 0, 2, 5].item() == pytest.approx(7 / 127.5 - 1)  # row 2, column 5: no transpose
    pixels = ((x + 1) * 127.5).round().to(torch.uint8)[:, 0]
    assert torch.equal(pixels, torch.from_numpy(arrays["train-images-idx3-ubyte"]))
    xt, yt = ds.load_split("test")
    assert xt.shape == (2, 1, 28, 28) and yt.tolist() == [1, 2]
    assert (empty_cache / "data" / "fashion_mnist.pt").exists()
    monkeypatch.delenv("GANBENCH_FASHION_MNIST_DEB")
    assert ds.load_split("test")[1].tolist() == [1, 2]  # now from the cache alone


def test_fashion_checksum_mismatches_are_one_line(tmp_path, empty_cache, fashion_pins, monkeypatch):
    _, raw, gz = fashion_pins
    folder = tmp_path / "idx"
    folder.mkdir()
    for stem, blob in gz.items():
        (folder / f"{stem}.gz").write_bytes(blob)
    bad = bytearray(raw["t10k-images-idx3-ubyte"])
    bad[-1] ^= 1
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(bad)))
    with pytest.raises(GanbenchError) as err:
        fashion_mnist.FashionMNIST().prepare_from(folder)
    assert "t10k-images-idx3-ubyte: SHA256" in str(err.value) and "\n" not in str(err.value)
    # the converted tensors' pin: the fixture is not the official data
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gz["t10k-images-idx3-ubyte"])
    monkeypatch.setattr(fashion_mnist, "TENSORS_SHA256", "0" * 64)
    with pytest.raises(GanbenchError, match="converted data have SHA256"):
        fashion_mnist.FashionMNIST().prepare_from(folder)
    assert not (empty_cache / "data" / "fashion_mnist.pt").exists()


def test_fashion_offline_deb_checked_by_pinned_sha(tmp_path, empty_cache, fashion_pins, monkeypatch):
    _, _, gz = fashion_pins
    deb = fixture_deb(gz)

    def fake_download(spec, dest):
        assert spec == f"dataset-fashion-mnist={fashion_mnist.DEB_VERSION}"
        (dest / "dataset-fashion-mnist.deb").write_bytes(deb)
        return dest / "dataset-fashion-mnist.deb", ""

    monkeypatch.setattr(fashion_mnist, "apt_download", fake_download)
    with pytest.raises(GanbenchError, match="differs from the pinned dataset-fashion-mnist"):
        fashion_mnist.FashionMNIST().prepare()
    monkeypatch.setattr(fashion_mnist, "DEB_SHA256", hashlib.sha256(deb).hexdigest())
    fashion_mnist.FashionMNIST().prepare()
    assert fashion_mnist.FashionMNIST().load_split("train")[1].tolist() == [9, 0, 3]


def test_fashion_missing_says_how(empty_cache, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "apt_download", lambda spec, dest: (None, "apt-get download x failed (E: no)"))
    with pytest.raises(AssetUnavailable) as err:
        fashion_mnist.FashionMNIST().prepare()
    msg = str(err.value)
    assert "apt-get update" in msg and "GANBENCH_FASHION_MNIST_DEB" in msg and "--from" in msg
    assert "\n" not in msg


# ---------------------------------------------------------------------------------------
# CIFAR-10, STL-10, CelebA

def cifar_batch(x_nchw: np.ndarray, labels: list[int]) -> bytes:
    """A batch as the official pickles: data N×3072 (1024 R, 1024 G, 1024 B, rows), labels list."""
    return pickle.dumps({"batch_label": "training batch", "data": x_nchw.reshape(len(x_nchw), -1),
                         "labels": labels, "filenames": [f"{i}.png" for i in labels]}, protocol=2)


def test_cifar10_tarball_and_folder(tmp_path, empty_cache, monkeypatch):
    rng = np.random.default_rng(1)
    batches, images = {}, {}
    for k, name in enumerate(cifar10.BATCH_MD5):
        x = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
        images[name] = x
        batches[name] = cifar_batch(x, [k, (k + 1) % 10])
    first = images["data_batch_1"][0]
    first[0, 1, 30] = 11  # red, row 1, column 30
    batches["data_batch_1"] = cifar_batch(images["data_batch_1"], [0, 1])
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, blob in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    monkeypatch.setattr(cifar10, "BATCH_MD5", {n: hashlib.md5(b).hexdigest() for n, b in batches.items()})
    monkeypatch.setattr(cifar10.CIFAR10, "sizes", {})
    ds = get_dataset("cifar10")
    ds.prepare_from(archive)
    x, y = ds.load_split("train")
    assert x.shape == (10, 3, 32, 32) and y.tolist()[:4] == [0, 1, 1, 2]
    assert x[0, 0, 1, 30].item() == pytest.approx(11 / 127.5 - 1)
    xt, yt = ds.load_split("test")
    assert xt.shape == (2, 3, 32, 32) and yt.tolist() == [5, 6]
    # the extracted folder gives the same; one changed byte is an MD5 mismatch in one line
    folder = tmp_path / "extracted"
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    assert tensors_sha256(ds.from_local(folder)) == tensors_sha256(ds.from_local(archive))
    (folder / "cifar-10-batches-py" / "test_batch").write_bytes(batches["test_batch"][:-1] + b"\x00")
    with pytest.raises(GanbenchError, match=r"test_batch: MD5 [0-9a-f]+ differs from the official"):
        ds.from_local(folder)


def test_stl10_column_major_unlabeled_and_test(tmp_path, empty_cache, monkeypatch):
    # a 96×96 image: top-right quadrant green, bottom-left blue, the rest black (transposing the
    # image would swap the two)
    img = np.zeros((96, 96, 3), np.uint8)
    img[:48, 48:, 1] = 255
    img[48:, :48, 2] = 255
    as_stored = img.transpose(2, 1, 0)  # channel, then column-major (x outer, y inner)
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    (folder / "unlabeled_X.bin").write_bytes(np.stack([as_stored] * 3).tobytes())
    (folder / "test_X.bin").write_bytes(np.stack([as_stored] * 2).tobytes())
    (folder / "test_y.bin").write_bytes(bytes([1, 10]))
    monkeypatch.setattr(stl10, "FILE_MD5", {n: hashlib.md5((folder / n).read_bytes()).hexdigest()
                                           for n in stl10.FILE_MD5})
    for name, size in (("stl10", 48), ("stl10_32", 32)):
        monkeypatch.setattr(type(get_dataset(name)), "sizes", {})
        ds = get_dataset(name)
        ds.prepare_from(tmp_path)
        x, y = ds.load_split("train")
        assert x.shape == (3, 3, size, size) and y is None
        q = size // 4
        assert x[0, :, q, 3 * q].tolist() == [-1.0, 1.0, -1.0]  # top right: green
        assert x[0, :, 3 * q, q].tolist() == [-1.0, -1.0, 1.0]  # bottom left: blue
        assert x[0, :, q, q].tolist() == [-1.0, -1.0, -1.0]
        xt, yt = ds.load_split("test")
        assert xt.shape == (2, 3, size, size) and yt.tolist() == [0, 9]
    (folder / "test_y.bin").write_bytes(bytes([2, 10]))
    with pytest.raises(GanbenchError, match="test_y.bin: MD5"):
        get_dataset("stl10").from_local(folder)


def test_celeba64_centre_crop_and_partition(tmp_path, empty_cache, monkeypatch):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    # 178×218 images: the centred 108×108 box (x 35..142, y 55..162) white, outside black
    img = np.zeros((218, 178, 3), np.uint8)
    img[55:163, 35:143] = 255
    numbers = [1, 2, 162770, 162771, 182637, 182638, 202599]
    for n in numbers:
        Image.fromarray(img).save(folder / f"{n:06d}.jpg", quality=95)
    monkeypatch.setattr(celeba.CelebA64, "sizes", {})
    ds = get_dataset("celeba64")
    ds.prepare_from(folder)
    x, y = ds.load_split("train")
    assert x.shape == (3, 3, 64, 64) and y is None  # 1, 2, 162770
    assert ds.load_split("test")[0].shape == (2, 3, 64, 64)  # 182638, 202599; validation left out
    u8 = (x + 1) * 127.5
    assert u8.min().item() > 200  # the whole crop is the white box: it was centred
    # a shifted box would show black at the borders
    img2 = np.zeros((218, 178, 3), np.uint8)
    img2[45:153, 35:143] = 255
    Image.fromarray(img2).save(folder / "000001.jpg", quality=95)
    shifted = celeba.tensors_from(folder)["train_x"][0].float()
    assert shifted[:, -1, :].mean().item() < 60 and shifted[:, 0, :].min().item() > 200


def test_image_folder_split_crop_and_cache(tmp_path, empty_cache):
    root = tmp_path / "pics"
    root.mkdir()
    names = []
    for i in range(24):
        w, h = (40, 20) if i % 2 else (20, 50)  # wide and tall images
        a = np.zeros((h, w, 3), np.uint8)
        a[:, :, 2] = 255  # blue margins
        s = min(w, h)
        top, left = (h - s) // 2, (w - s) // 2
        a[top:top + s, left:left + s] = [255, 0, 0]  # red centred square
        name = f"img{i:02d}.png"
        Image.fromarray(a).save(root / name)
        names.append(name)
    (root / "notes.txt").write_text("not an image")
    ds = get_dataset("image_folder", {"path": str(root), "size": 28})
    assert ds.info.shape == (3, 28, 28) and ds.info.name.startswith("image_folder-")
    x, y = ds.load_split("train")
    xt, _ = ds.load_split("test")
    test_names = [n for n in names if int(hashlib.sha1(n.encode()).hexdigest(), 16) % 10 == 0]
    assert len(xt) == len(test_names) and len(x) + len(xt) == 24 and y is None
    assert torch.allclose(x[:, 0], torch.ones(1)) and torch.allclose(x[:, 2], -torch.ones(1))  # all red
    assert get_dataset("image_folder", {"path": str(root), "size": 28}).info.name == ds.info.name
    grey = get_dataset("image_folder", {"path": str(root), "size": 28, "channels": 1})
    assert grey.info.shape == (1, 28, 28) and grey.info.name != ds.info.name
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(root / "zz_new.png")  # the file list changed
    assert get_dataset("image_folder", {"path": str(root), "size": 28}).info.name != ds.info.name
    with pytest.raises(GanbenchError, match="size: expected one of 28, 32, 48, 64"):
        get_dataset("image_folder", {"path": str(root), "size": "big"})


# ---------------------------------------------------------------------------------------
# suites, trial specs and the CLI

def test_suite_dataset_entry_with_params(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    for i in range(30):
        Image.fromarray(np.full((12, 12), i * 8, np.uint8)).save(root / f"{i}.png")
    raw = {"name": "t", "datasets": ["mnist", {"name": "image_folder", "path": str(root), "size": 32}],
           "methods": ["gan"], "eval": {"metrics": ["fid"]}}
    suite = parse_suite(raw, "s.yaml")
    specs = suite.expand()
    plain = [s for s in specs if s.dataset == "mnist"][0]
    folder = [s for s in specs if s.dataset == "image_folder"][0]
    assert folder.dataset_param_dict == {"path": str(root), "size": 32}
    assert "dataset_params" not in plain.to_dict() and folder.to_dict()["dataset_params"]["size"] == 32
    assert TrialSpec.from_dict(folder.to_dict()) == folder
    # a plain dataset's trial id is the hash of exactly the fields it had before dataset_params
    import json

    canonical = json.dumps(plain.to_dict(), sort_keys=True, separators=(",", ":"))
    assert plain.trial_id == hashlib.sha256(canonical.encode()).hexdigest()[:12]
    assert TrialSpec.from_dict(plain.to_dict()).trial_id == plain.trial_id
    # grey images: the instance is 1×32×32
    assert get_dataset("image_folder", folder.dataset_param_dict).info.shape == (1, 32, 32)
    for bad, what in (({"name": "image_folder", "path": str(root / "nope"), "size": 32}, "datasets[1].path:"),
                      ({"name": "image_folder", "path": str(root)}, "datasets[1].size:"),
                      ({"name": "mnist", "size": 3}, "takes no parameters"),
                      ("image_folder", "needs parameters")):
        with pytest.raises(GanbenchError, match=__import__("re").escape(what)):
            parse_suite({**raw, "datasets": ["ring8", bad]}, "s.yaml")


def test_cli_missing_dataset_one_line_exit_2_before_any_trial(tmp_path, empty_cache):
    suite = tmp_path / "c.yaml"
    suite.write_text("name: c\ndatasets: [cifar10]\nmethods: [gan]\n"
                     "train: {iterations: 2, batch_size: 2, eval_every: 1}\neval: {metrics: [fid], num_samples: 4}\n")
    result = CliRunner().invoke(app, ["run", str(suite), "--local", "--results", str(tmp_path / "res")])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "GANBENCH_CIFAR10_DIR" in lines[0] and "data prepare cifar10 --from" in lines[0]
    assert not (tmp_path / "res" / "c" / "trials").exists()
    result = CliRunner().invoke(app, ["data", "prepare", "cifar10", "--from", str(tmp_path / "none.tar.gz")])
    assert result.exit_code == 2 and "no such file" in result.output


# ---------------------------------------------------------------------------------------
# the real Debian package

@pytest.fixture(scope="session")
def real_deb() -> Path:
    """``dataset-fashion-mnist``'s .deb, downloaded once into the session's ganbench cache."""
    from ganbench.data.debian import apt_download

    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not installed: the Debian path of fashion_mnist cannot be exercised")
    folder = cache_dir() / "debs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"dataset-fashion-mnist_{fashion_mnist.DEB_VERSION}_all.deb"
    if not path.exists():
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            got, why = apt_download(f"dataset-fashion-mnist={fashion_mnist.DEB_VERSION}", Path(tmp))
            assert got is not None, f"{why} (run 'apt-get update' once on this machine)"
            shutil.copy(got, path)
    return path


def test_real_debian_package_pinned_hashes(real_deb, empty_cache, monkeypatch):
    data = real_deb.read_bytes()
    assert hashlib.sha256(data).hexdigest() == fashion_mnist.DEB_SHA256
    files = deb_files(data, [f"{fashion_mnist.DEB_DIR}/train-labels-idx1-ubyte.gz"])
    assert parse_idx(next(iter(files.values()))).shape == (60000,)

    def copy_cached(spec, dest):  # the resolver's offline path, with the session's download
        shutil.copy(real_deb, dest / real_deb.name)
        return dest / real_deb.name, ""

    monkeypatch.setattr(fashion_mnist, "apt_download", copy_cached)
    ds = fashion_mnist.FashionMNIST()
    tensors = ds.load_uint8()  # checks the .deb, every IDX SHA256 and the tensors' SHA256
    assert tensors["train_x"].shape == (60000, 1, 28, 28) and tensors["test_x"].shape == (10000, 1, 28, 28)
    assert tensors["train_y"][:5].tolist() == [9, 0, 0, 3, 0]
    assert torch.bincount(tensors["test_y"]).tolist() == [1000] * 10
