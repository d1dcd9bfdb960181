"""Published generators by name (`cyclegan.zoo`), against a loopback HTTP server made in the test.

The server (`helpers.RangeServer`) serves generator files in the reference layout (our ResNet generator's
state dict has the reference's keys), honours HTTP Range requests, and can cut a response midway to test
resuming.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cyclegan import zoo
from cyclegan.cli import main
from cyclegan.errors import CycleGANError
from cyclegan.interop.unet import UnetGenerator
from cyclegan.loading import load_generator
from cyclegan.models import ResnetGenerator
from helpers import (
    RangeServer,
    save_tiny_checkpoint,
    serving,
    tiny_published_generator,
    translate_one_image,
    unwritable_stderrs,
    write_split,
)
from reference_nets import ref_resnet

ISSUE_NAMES = (
    "horse2zebra zebra2horse summer2winter_yosemite winter2summer_yosemite monet2photo style_monet style_cezanne "
    "style_ukiyoe style_vangogh apple2orange orange2apple sat2map map2sat cityscapes_photo2label "
    "cityscapes_label2photo facades_photo2label facades_label2photo iphone2dslr_flower"
).split()


@pytest.fixture
def server():
    with serving(RangeServer("/models")) as srv:
        yield srv


def publish(server: RangeServer, name: str, data: bytes) -> None:
    server.files[f"/models/{name}.pth"] = data


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    """A private cache for each test, and no mirror from the environment unless a test sets one."""
    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CYCLEGAN_PRETRAINED_URL", raising=False)
    return tmp_path / "home"


def generator_bytes(tmp_path: Path, seed: int = 0) -> tuple[bytes, nn.Module]:
    """A small reference-layout generator file (InstanceNorm, ngf 8, 2 blocks) and its network."""
    net = tiny_published_generator(seed)
    path = tmp_path / f"ref{seed}.pth"
    torch.save(net.state_dict(), path)
    return path.read_bytes(), net


def test_the_catalogue_is_the_reference_implementations_18_unpinned():
    assert sorted(zoo.MODELS) == sorted(ISSUE_NAMES)
    # Nobody has verified a digest of these files (the server is out of reach here): none may be pinned.
    assert all(m.sha256 is None for m in zoo.MODELS.values())
    lines = "\n".join(zoo.list_lines())
    assert "horse photos -> zebras" in lines and "unpinned" in lines and "11.4 M parameters" in lines


def test_each_published_direction_agrees_with_its_name_and_dataset():
    """X2Y trained on X2Y translates its A to its B; Y2X on X2Y the reverse; style_* turn photos (B) into art (A)."""
    for m in zoo.MODELS.values():
        stem = m.name.removeprefix("cityscapes_").removeprefix("facades_")
        if m.name.startswith("style_"):
            assert m.dataset.endswith("2photo") and m.direction == "BtoA", m
        elif m.dataset in ("cityscapes", "facades"):  # A: photos, B: labels (the reference's dataset scripts)
            assert m.direction == ("AtoB" if stem == "photo2label" else "BtoA"), m
        elif m.dataset == "maps":  # A: aerial photos, B: map tiles
            assert m.direction == ("AtoB" if m.name == "sat2map" else "BtoA"), m
        else:
            source, target = stem.split("_")[0].split("2")  # winter2summer_yosemite: winter, summer
            assert m.dataset.startswith(source if m.direction == "AtoB" else target), m


@pytest.mark.slow
def test_download_resumes_after_a_cut_connection(server, tmp_path, home):
    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    server.cut["/models/horse2zebra.pth"] = len(data) // 2
    r = zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    assert r.downloaded and r.path == home / "pretrained" / "horse2zebra.pth"
    assert r.path.read_bytes() == data and r.sha256 == hashlib.sha256(data).hexdigest()
    assert 0 < r.resumed_from < len(data) and not r.pinned
    assert [rng for _, rng in server.requests] == [None, f"bytes={r.resumed_from}-"]  # the second asked for the rest
    # no .part, no lock left; the record of the download beside the file
    assert sorted(p.name for p in r.path.parent.iterdir()) == ["horse2zebra.pth", "horse2zebra.pth.json"]


@pytest.mark.slow
def test_an_interrupted_download_resumes_on_the_next_run(server, tmp_path, home, monkeypatch):
    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    server.cut["/models/horse2zebra.pth"] = len(data) // 2
    monkeypatch.setattr(zoo, "ATTEMPTS", 1)
    with pytest.raises(CycleGANError, match="run the same command again to resume"):
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    part = home / "pretrained" / ".horse2zebra.pth.part"
    kept = part.stat().st_size
    assert 0 < kept < len(data) and not (home / "pretrained" / "horse2zebra.pth").exists()
    r = zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    assert r.resumed_from == kept and server.requests[-1][1] == f"bytes={kept}-"
    assert r.path.read_bytes() == data and not part.exists()


@pytest.mark.slow
def test_a_file_changed_on_the_server_is_downloaded_again_not_resumed_onto(server, tmp_path, home, monkeypatch, capsys):
    """A mirror that replaced the file between two runs: its rest appended to the old file's start made a
    generator of neither (same size, so the announced size did not tell), cached as good."""
    old, _ = generator_bytes(tmp_path, seed=0)
    new, _ = generator_bytes(tmp_path, seed=1)
    assert len(old) == len(new) and old != new
    publish(server, "horse2zebra", old)
    server.cut["/models/horse2zebra.pth"] = len(old) // 2
    monkeypatch.setattr(zoo, "ATTEMPTS", 1)
    with pytest.raises(CycleGANError, match="run the same command again to resume"):
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    publish(server, "horse2zebra", new)  # a new ETag
    r = zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    assert r.path.read_bytes() == new and r.resumed_from == 0
    assert "changed on the server since the interrupted download; starting again" in capsys.readouterr().err
    assert sorted(p.name for p in r.path.parent.iterdir()) == ["horse2zebra.pth", "horse2zebra.pth.json"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "folder", ["horse2zebra.pth", "horse2zebra.pth.json", ".horse2zebra.pth.part", ".horse2zebra.pth.part.json"]
)
def test_a_folder_where_the_download_goes_is_one_line_before_any_request(server, tmp_path, home, folder):
    """A folder in the cache under the file's (or its record's) name: a raw IsADirectoryError from the rename
    once the whole file was fetched; under the .part's name, three 'resuming' warnings that never could; under
    the .part's record's, a raw IsADirectoryError once the whole file was fetched."""
    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    (home / "pretrained" / folder).mkdir(parents=True)
    with pytest.raises(CycleGANError, match=rf"pretrained/{re.escape(folder)} is a folder, where the download of"):
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    assert server.requests == []


def test_no_home_directory_is_one_line_naming_cyclegan_home(monkeypatch, capsys):
    """No $HOME and a user id without a passwd entry (containers): Path.home()'s RuntimeError traceback."""
    monkeypatch.delenv("CYCLEGAN_HOME")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr("pwd.getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    assert main(["pretrained", "list"]) == 2
    err = capsys.readouterr().err
    assert err == "error: no home directory for the model cache (no $HOME): set $CYCLEGAN_HOME\n"


def test_a_cache_that_cannot_be_written_in_names_cyclegan_home(monkeypatch, tmp_path):
    """A read-only model cache (a shared or mounted $HOME): the lock's error said the file system's reason only."""
    import errno

    from cyclegan.files import FolderLock

    def read_only(self):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setenv("CYCLEGAN_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(FolderLock, "acquire", read_only)
    with pytest.raises(CycleGANError, match=r"cannot lock .*: Read-only file system; set \$CYCLEGAN_HOME to a folder"):
        zoo.fetch_model("horse2zebra", progress=False)


@pytest.mark.slow
def test_a_cache_that_fills_up_after_the_download_is_one_line_and_the_next_run_completes_it(server, tmp_path, capsys):
    """The disk full once the generator was downloaded (its record, or the rename, could not be written): an
    OSError traceback. Now one line naming the cache, and the download kept: the next run finishes it."""
    import errno

    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.MonkeyPatch.context() as m:
        m.setattr(zoo, "write_atomic", full)
        with pytest.raises(CycleGANError) as e:
            zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    cache = zoo.cache_dir()
    assert str(e.value) == (
        f"cannot write in the model cache {cache}: No space left on device; make room (the download is kept, "
        "to be finished by the next run), or set $CYCLEGAN_HOME to another folder"
    )
    assert not zoo.cached_path("horse2zebra").exists()
    assert zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False).path.read_bytes() == data


def test_cached_second_use_needs_no_network(server, tmp_path, monkeypatch):
    data, net = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    first = zoo.fetch_model("horse2zebra", progress=False)
    server.shutdown()
    server.server_close()  # nothing listens there any more
    again = zoo.fetch_model("horse2zebra", progress=False)
    assert again.path == first.path and not again.downloaded
    x = torch.rand(1, 3, 20, 24) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(load_generator("pretrained:horse2zebra")(x), net(x), atol=1e-6, rtol=0)
    # a name not cached does need it; the hint in a Python caller's words (it named the command's --base-url)
    with pytest.raises(CycleGANError, match=r"cannot reach .*give a mirror's address in base_url= or \$CYCLEGAN_PRETR"):
        zoo.fetch_model("zebra2horse", progress=False)


@pytest.mark.slow
def test_a_digest_mismatch_is_refused_and_deleted(server, tmp_path, home):
    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    with pytest.raises(CycleGANError) as info:
        zoo.fetch_model("horse2zebra", base_url=server.base_url, sha256="0" * 64, progress=False)
    message = str(info.value)
    assert "SHA-256" in message and hashlib.sha256(data).hexdigest() in message and "\n" not in message
    assert not any((home / "pretrained").iterdir())
    good = zoo.fetch_model(
        "horse2zebra", base_url=server.base_url, sha256=hashlib.sha256(data).hexdigest().upper(), progress=False
    )
    assert good.pinned and "(verified)" in zoo.digest_line(good)
    # unpinned over plain http (the reference's own server): the line says what that leaves open
    plain = dataclasses.replace(good, pinned=False)
    assert "unpinned: no digest is recorded for horse2zebra, and plain http lets anyone" in zoo.digest_line(plain)
    secure = dataclasses.replace(plain, url=plain.url.replace("http://", "https://", 1))
    assert "plain http" not in zoo.digest_line(secure) and "(unpinned: " in zoo.digest_line(secure)
    with pytest.raises(CycleGANError, match="delete it to download again"):  # a cached file is checked too
        zoo.fetch_model("horse2zebra", sha256="1" * 64, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("what", ["discriminator", "random bytes", "pickled code"])
def test_a_file_that_is_not_a_generator_is_refused(server, tmp_path, home, what):
    path = tmp_path / "bad.pth"
    if what == "discriminator":
        torch.save(nn.Sequential(nn.Conv2d(3, 8, 4), nn.LeakyReLU(), nn.Conv2d(8, 1, 4)).state_dict(), path)
    elif what == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    else:
        torch.save({"x": Exploit()}, path)
    publish(server, "horse2zebra", path.read_bytes())
    with pytest.raises(CycleGANError) as info:
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    message = str(info.value)
    assert "is not a generator file" in message and "\n" not in message and server.base_url in message
    assert not any((home / "pretrained").iterdir())  # nothing cached, nothing half-written


def test_a_generator_file_with_an_extra_tensor_is_refused_naming_its_address_once(server, tmp_path, home):
    """A mirror's file with a tensor the generator lacks read 'URL is not a generator file, so it was deleted: URL:
    unexpected extra.weight ...': the address twice, the second where the reason belongs."""
    state = ResnetGenerator(ngf=8, n_blocks=2).state_dict()
    torch.save({**state, "extra.weight": torch.zeros(3)}, tmp_path / "extra.pth")
    publish(server, "horse2zebra", (tmp_path / "extra.pth").read_bytes())
    with pytest.raises(CycleGANError) as info:
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    url = f"{server.base_url}/horse2zebra.pth"
    assert str(info.value) == (
        f"{url} is not a generator file, so it was deleted: unexpected extra.weight for a ResNet generator, 2 blocks, "
        "ngf 8, InstanceNorm (no affine), no dropout"
    )
    assert not any((home / "pretrained").iterdir())


def test_a_published_name_whose_file_is_another_network_is_refused_naming_what_it_holds(server, tmp_path, home):
    """A mirror serving a pix2pix U-Net as horse2zebra, which the catalogue says is the paper's ResNet: cached and
    used without a word. Now refused in one line naming the address and the network it holds, nothing cached; the
    same file under a name outside the catalogue is the mirror's own model, and used."""
    torch.save(UnetGenerator(num_downs=5, ngf=4).state_dict(), tmp_path / "unet.pth")
    publish(server, "horse2zebra", (tmp_path / "unet.pth").read_bytes())
    with pytest.raises(CycleGANError) as info:
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    assert str(info.value) == (
        f"{server.base_url}/horse2zebra.pth is not the published horse2zebra, so it was deleted: it holds a U-Net "
        "generator, 5 levels, ngf 4, BatchNorm, where horse2zebra is the reference's ResNet generator, 2 blocks, ngf "
        "8, InstanceNorm (no affine), no dropout; a mirror's own model goes under a name outside the catalogue"
    )
    assert not any((home / "pretrained").iterdir())
    publish(server, "my_unet", (tmp_path / "unet.pth").read_bytes())
    assert zoo.fetch_model("my_unet", base_url=server.base_url, progress=False).downloaded
    # a checkpoint of this project's under a published name is not the reference's file either
    # (its stored family, the file's own text, is not put in the line: "cut\nerror: ..." began a second one)
    ours = torch.load(save_tiny_checkpoint(tmp_path / "ours.pt"), weights_only=True)
    torch.save({**ours, "family": "cut\nerror: spoofed"}, tmp_path / "ours.pt")
    publish(server, "zebra2horse", (tmp_path / "ours.pt").read_bytes())
    with pytest.raises(CycleGANError) as info:
        zoo.fetch_model("zebra2horse", base_url=server.base_url, progress=False)
    assert str(info.value).startswith(
        f"{server.base_url}/zebra2horse.pth is not the published zebra2horse, so it was deleted: it holds a "
        "checkpoint of this project's, where zebra2horse is the reference's ResNet generator"
    )
    assert "\n" not in str(info.value)


def test_a_published_name_cached_as_another_network_is_named_with_what_to_do(server, tmp_path, home, monkeypatch):
    """Put in the cache by hand, or downloaded and recorded before downloads were checked for it: a U-Net under
    horse2zebra was loaded as horse2zebra. Now named with what it holds: fetched again where it has no record,
    refused with the way to fetch it again where the cache's record vouches for it."""
    cached = home / "pretrained" / "horse2zebra.pth"
    cached.parent.mkdir(parents=True)
    torch.save(UnetGenerator(num_downs=5, ngf=4).state_dict(), cached)
    data = cached.read_bytes()
    zoo._write_record(cached, size=len(data), digest=hashlib.sha256(data).hexdigest(), url="http://old/horse2zebra.pth")
    with pytest.raises(CycleGANError) as info:
        load_generator("pretrained:horse2zebra")
    assert str(info.value) == (
        f"{cached} is not the published horse2zebra: it holds a U-Net generator, 5 levels, ngf 4, BatchNorm, where "
        "horse2zebra is the reference's ResNet generator, 2 blocks, ngf 8, InstanceNorm (no affine), no dropout; "
        f"delete {cached} so that the next use of pretrained:horse2zebra downloads it again"
    )
    zoo.record_path(cached).unlink()  # no record: checked as a download is, and fetched again
    good, net = generator_bytes(tmp_path)
    publish(server, "horse2zebra", good)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    assert load_generator("pretrained:horse2zebra") is not None and cached.read_bytes() == good


def test_the_catalogues_own_architecture_is_accepted_under_its_name(home, monkeypatch, tiny_published_architecture):
    """The catalogue's generators are the paper's ResNet, 9 blocks of 64 filters (the tests' are tiny: `conftest`):
    such a file, put in the cache by hand, loads as horse2zebra without a network. The catalogue's own
    PUBLISHED_ARCHITECTURE, not a copy written here: a wrong one refused and deleted every real download."""
    monkeypatch.setattr(zoo, "PUBLISHED_ARCHITECTURE", tiny_published_architecture)
    net = ResnetGenerator()  # the reference's defaults, those of its published files
    assert sum(p.numel() for p in net.parameters()) == zoo.PARAMETERS
    cached = home / "pretrained" / "horse2zebra.pth"
    cached.parent.mkdir(parents=True)
    torch.save(net.state_dict(), cached)
    assert zoo.fetch_model("horse2zebra", progress=False).path == cached
    assert load_generator("pretrained:horse2zebra") is not None
    tiny = tiny_published_generator().state_dict()  # a ResNet too, but not the paper's
    mismatch = zoo.published_mismatch("horse2zebra", tiny, source="tiny.pth")
    assert mismatch is not None and mismatch.startswith("it holds a ResNet generator, 2 blocks, ngf 8, InstanceNorm")
    assert zoo.published_mismatch("my_model", tiny, source="tiny.pth") is None  # outside the catalogue: unknown
    # the reference's own layout, as its published files hold it: written by PyTorch before 0.4, each InstanceNorm
    # with running statistics too (the reference deletes them on load)
    ref = ref_resnet(64, 9)
    legacy = ref.state_dict()
    for name, m in ref.named_modules():
        if isinstance(m, nn.InstanceNorm2d):
            legacy[f"{name}.running_mean"], legacy[f"{name}.running_var"] = (
                torch.zeros(m.num_features),
                torch.ones(m.num_features),
            )
    for name in zoo.MODELS:
        assert zoo.published_mismatch(name, ref.state_dict(), source="ref.pth") is None
        assert zoo.published_mismatch(name, legacy, source="legacy.pth") is None


def test_a_generator_with_nan_weights_is_refused_not_cached(server, tmp_path, home):
    """Before: cached and recorded, then every use failed with 'use another checkpoint', and no run fetched it again."""
    torch.manual_seed(0)
    state = ResnetGenerator(ngf=8, n_blocks=2).state_dict()
    state["model.1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pth")
    publish(server, "horse2zebra", (tmp_path / "nan.pth").read_bytes())
    with pytest.raises(CycleGANError) as info:
        zoo.fetch_model("horse2zebra", base_url=server.base_url, progress=False)
    message = str(info.value)
    assert "is not a generator file" in message and "model.1.weight holds NaN" in message and "\n" not in message
    assert not any((home / "pretrained").iterdir())  # nothing cached: the next run downloads again


def test_a_nan_generator_cached_by_an_earlier_version_says_to_delete_it(server, tmp_path, home, monkeypatch):
    """Before: its record matched, so every use failed with 'use another checkpoint' and none fetched it again."""
    torch.manual_seed(0)
    state = ResnetGenerator(ngf=8, n_blocks=2).state_dict()
    state["model.1.weight"][0, 0, 0, 0] = float("nan")
    cached = home / "pretrained" / "horse2zebra.pth"
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    data = cached.read_bytes()  # recorded as an earlier version's download was: size and digest match
    url = f"{server.base_url}/horse2zebra.pth"  # from the mirror asked for: from another, it is fetched again
    zoo._write_record(cached, size=len(data), digest=hashlib.sha256(data).hexdigest(), url=url)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    with pytest.raises(CycleGANError) as info:
        load_generator("pretrained:horse2zebra")
    message = str(info.value)
    assert message.endswith(f"delete {cached} so that the next use of pretrained:horse2zebra downloads it again")
    good, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", good)
    cached.unlink()  # what the message says
    assert load_generator("pretrained:horse2zebra") is not None and cached.read_bytes() == good
    # a NaN file elsewhere keeps the general advice
    torch.save(state, tmp_path / "mine.pth")
    with pytest.raises(CycleGANError, match="use another checkpoint$"):
        load_generator(tmp_path / "mine.pth")
    link = home / "pretrained" / "zebra2horse.pth"  # a cached file that links to a copy kept elsewhere is cached
    link.symlink_to(tmp_path / "mine.pth")
    assert zoo.cached_name(link) == "zebra2horse" and zoo.cached_name(tmp_path / "mine.pth") is None


def test_a_mirror_address_from_the_environment_is_named_as_the_environments(tmp_path, monkeypatch, capsys):
    """`CYCLEGAN_PRETRAINED_URL=ftp://m cyclegan translate --checkpoint pretrained:NAME` said "(--base-url or
    $CYCLEGAN_PRETRAINED_URL)": translate has no --base-url; the variable alone is at fault."""
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", "ftp://m")
    assert translate_one_image(tmp_path, "pretrained:horse2zebra") == 2
    assert capsys.readouterr().err == (
        "error: base URL 'ftp://m' ($CYCLEGAN_PRETRAINED_URL): expected http:// or https://\n"
    )


def test_a_mirror_address_urllib_cannot_read_is_one_line(tmp_path, monkeypatch, capsys):
    """`CYCLEGAN_PRETRAINED_URL=http://[::1`: urllib's ValueError ("Invalid IPv6 URL") was a traceback."""
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", "http://[::1")
    assert translate_one_image(tmp_path, "pretrained:horse2zebra") == 2
    assert capsys.readouterr().err == (
        "error: base URL 'http://[::1' ($CYCLEGAN_PRETRAINED_URL): not a valid address (Invalid IPv6 URL)\n"
    )


def test_pretrained_name_offline_says_what_to_do_with_options_the_command_has(tmp_path, home, monkeypatch):
    """Before: 'give a mirror's address in --base-url or ...' from translate and export, which have no --base-url,
    and nothing said that a copy downloaded elsewhere can be put in the cache."""
    import socket

    with socket.socket() as s:  # a port nothing listens on: the network is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", f"http://127.0.0.1:{port}/models")
    with pytest.raises(CycleGANError) as info:
        load_generator("pretrained:horse2zebra")
    message = str(info.value)
    cached = home / "pretrained" / "horse2zebra.pth"
    assert message.startswith("cannot reach") and "\n" not in message and "--base-url" not in message
    assert message.endswith(f"$CYCLEGAN_PRETRAINED_URL, or put horse2zebra.pth downloaded elsewhere at {cached})")
    data, _ = generator_bytes(tmp_path)
    cached.write_bytes(data)  # what the hint says: taken, checked and recorded, without the network
    assert load_generator("pretrained:horse2zebra") is not None


class PooledPixels(nn.Module):
    """A stand-in feature network for evaluate: (B, 3, H, W) -> (B, 12) pooled pixels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool2d(x.float(), 2).flatten(1)


@pytest.mark.slow
def test_evaluate_refuses_a_direction_the_published_generator_does_not_translate(server, tmp_path, monkeypatch, capsys):
    """`evaluate pretrained:zebra2horse --direction AtoB --data horse2zebra` scored horses put through a
    zebra-to-horse generator against zebras, and reported it as AtoB without a word."""
    from cyclegan.evaluate import runner

    data, _ = generator_bytes(tmp_path)
    publish(server, "zebra2horse", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    monkeypatch.setattr(runner, "load_backbone", lambda *a, **k: PooledPixels())
    write_split(tmp_path / "horse2zebra", 2, paired=False)
    opts = runner.EvalOptions(
        checkpoint=("pretrained:zebra2horse",), data=str(tmp_path / "horse2zebra"), size=32, kid_subsets=2
    )
    for wrong in ("AtoB", "both"):
        with pytest.raises(CycleGANError) as info:
            runner.evaluate_checkpoints(dataclasses.replace(opts, direction=wrong, progress=False))
        message = str(info.value)
        assert message.startswith("option '--direction': pretrained:zebra2horse translates zebra photos -> horses")
        assert (
            message.endswith(f"not {wrong}; give --direction BtoA") and "the BtoA direction of horse2zebra" in message
        )
    write_split(tmp_path / "mine", 2, paired=False)
    mine = dataclasses.replace(opts, data=str(tmp_path / "mine"), direction="both", progress=False)
    with pytest.raises(CycleGANError, match=r"holds a single generator \(zebra photos -> horses\): give --direction"):
        runner.evaluate_checkpoints(mine)  # any folder: a published file holds one generator
    assert server.requests == []  # refused before any download
    [report] = runner.evaluate_checkpoints(dataclasses.replace(opts, direction="BtoA", progress=False))
    assert list(report["directions"]) == ["BtoA"] and "warning" not in capsys.readouterr().err
    # on another standard dataset: scored, with a word
    (tmp_path / "horse2zebra").rename(tmp_path / "apple2orange")
    other = dataclasses.replace(opts, data=str(tmp_path / "apple2orange"), direction="AtoB", progress=False)
    runner.evaluate_checkpoints(other)
    err = capsys.readouterr().err
    assert "warning: pretrained:zebra2horse translates zebra photos -> horses and was trained on horse2zebra, " in err
    assert "but is scored on apple2orange" in err
    # a dataset whose name does not say which folder is A (facades): its layout is the reference scripts', unchecked
    publish(server, "facades_label2photo", data)
    write_split(tmp_path / "facades", 2, paired=False)
    facades = dataclasses.replace(opts, checkpoint=("pretrained:facades_label2photo",), data=str(tmp_path / "facades"))
    runner.evaluate_checkpoints(dataclasses.replace(facades, direction="AtoB", progress=False))
    err = capsys.readouterr().err
    assert (
        "warning: pretrained:facades_label2photo translates architectural label maps -> facade photos, the BtoA" in err
    )
    assert "not AtoB, if its A and B are laid out as the reference's scripts lay them out" in err


def test_a_mirrors_other_name_once_downloaded_is_used_by_name_without_the_mirror(server, tmp_path, capsys):
    """`cyclegan pretrained download my_model --base-url URL` said 'use it as --checkpoint pretrained:my_model', which
    then refused 'unknown pretrained model' unless $CYCLEGAN_PRETRAINED_URL named the mirror again."""
    data, net = generator_bytes(tmp_path)
    publish(server, "my_model", data)
    assert main(["pretrained", "download", "my_model", "--base-url", server.base_url, "--no-progress"]) == 0
    assert "use it as --checkpoint pretrained:my_model" in capsys.readouterr().out
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(load_generator("pretrained:my_model")(x), net(x), atol=1e-5, rtol=0)
    with pytest.raises(CycleGANError, match="unknown pretrained model 'my_mode'"):  # a name not cached: as before
        load_generator("pretrained:my_mode")


def test_pretrained_list_shows_a_mirrors_cached_names_with_their_size(server, tmp_path, capsys, home):
    """`pretrained list` showed the catalogue alone: a mirror's `my_model`, downloaded and usable as
    `--checkpoint pretrained:my_model`, was in no list. Now in its own section with its size; a catalogue file
    cached, a record, a partial download or a name `pretrained:NAME` refuses is not listed there."""
    data, _ = generator_bytes(tmp_path)
    publish(server, "my_model", data)
    assert main(["pretrained", "download", "my_model", "--base-url", server.base_url, "--no-progress"]) == 0
    (home / "pretrained" / "horse2zebra.pth").write_bytes(data)  # the catalogue's: its own row says cached
    (home / "pretrained" / "bad name.pth").write_bytes(data)
    capsys.readouterr()
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    head, section = out.split("cached from a mirror", 1)
    rows = [line.split() for line in section.split("\n\n")[0].splitlines()[1:]]
    assert rows == [["my_model", f"{len(data) / 1e6:.1f}", "MB"]]
    assert re.search(r"^horse2zebra .* yes$", head, re.M)
    (home / "pretrained" / "my_model.pth").unlink()
    assert main(["pretrained", "list"]) == 0
    assert "cached from a mirror" not in capsys.readouterr().out


class Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.slow
def test_names(server, tmp_path):
    with pytest.raises(CycleGANError, match="did you mean 'horse2zebra'"):
        zoo.fetch_model("hors2zebra", progress=False)
    # a mirror may serve other names; this one it lacks (the hint named a 'dataset name', then the command's
    # --base-url to a Python caller); the command's own hint keeps its flag
    with pytest.raises(CycleGANError, match=r"HTTP 404 .*check the model name, or the mirror's address in base_url= "):
        zoo.fetch_model("my_model", base_url=server.base_url, progress=False)
    with pytest.raises(CycleGANError, match=r"HTTP 404 .*check the model name, or the mirror's address in --base-url "):
        zoo.download(zoo.PretrainedDownloadOptions(name="my_model", base_url=server.base_url, progress=False))
    with pytest.raises(CycleGANError, match="expected letters"):
        zoo.fetch_model("../etc", base_url=server.base_url, progress=False)
    with pytest.raises(CycleGANError, match="expected http"):
        zoo.fetch_model("horse2zebra", base_url="file:///etc", progress=False)
    with pytest.raises(CycleGANError, match="names no model"):
        load_generator("pretrained:")


@pytest.mark.slow
def test_translate_with_pretrained_name_end_to_end(server, tmp_path, monkeypatch, capsys):
    data, net = generator_bytes(tmp_path, seed=3)
    publish(server, "style_monet", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 28, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    args = [
        "translate",
        str(tmp_path / "photo.png"),
        "--checkpoint",
        "pretrained:style_monet",
        "--no-progress",
        "--device",
        "cpu",
        "--precision",
        "fp32",
    ]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "downloaded" in err and hashlib.sha256(data).hexdigest() in err and "unpinned" in err
    # The same as translating with the file itself.
    ref_file = tmp_path / "style_monet.pth"
    ref_file.write_bytes(data)
    assert (
        main(
            [
                "translate",
                str(tmp_path / "photo.png"),
                "--checkpoint",
                str(ref_file),
                "--no-progress",
                "--device",
                "cpu",
                "--precision",
                "fp32",
                "--out",
                str(tmp_path / "ref"),
            ]
        )
        == 0
    )
    ours = np.asarray(Image.open(tmp_path / "out" / "photo.png"))
    assert np.array_equal(ours, np.asarray(Image.open(tmp_path / "ref" / "photo.png"))) and ours.std() > 1
    # Second use: from the cache, silently, with the server gone.
    server.shutdown()
    server.server_close()
    assert main([*args, "--out", str(tmp_path / "again")]) == 0
    assert "downloaded" not in capsys.readouterr().err


@pytest.mark.slow
def test_export_takes_a_pretrained_name(server, tmp_path, monkeypatch):
    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    out = tmp_path / "h2z.pt"
    assert main(["export", "--checkpoint", "pretrained:horse2zebra", "--out", str(out), "--no-check"]) == 0
    assert out.is_file()


@pytest.mark.slow
def test_an_exported_published_generator_records_the_direction_it_translates(server, tmp_path, monkeypatch):
    """The metadata of `export --checkpoint pretrained:zebra2horse` said AtoB, the direction of no file of this
    project's: zebra2horse is horse2zebra's BtoA, as the catalogue says, and now the export says so too."""
    data, _ = generator_bytes(tmp_path)
    publish(server, "zebra2horse", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    out = tmp_path / "z2h.pt"
    assert main(["export", "--checkpoint", "pretrained:zebra2horse", "--out", str(out), "--no-check"]) == 0
    extra = {"direction.txt": "", "translates.txt": ""}
    torch.jit.load(str(out), _extra_files=extra)
    assert extra == {"direction.txt": b"BtoA", "translates.txt": b"zebra photos -> horses (BtoA of horse2zebra)"}


@pytest.mark.slow
def test_a_mirrors_token_is_not_printed_with_the_download(server, tmp_path, capsys, monkeypatch):
    """`downloaded http://host/models/horse2zebra.pth?token=T to ...` put a signed address's token in the logs;
    `pretrained list` showed it from $CYCLEGAN_PRETRAINED_URL too. The query is shown as `?...`."""
    data, _ = generator_bytes(tmp_path)
    server.files["/models/horse2zebra.pth?token=SECRET"] = data
    base = f"{server.base_url}?token=SECRET"
    assert main(["pretrained", "download", "horse2zebra", "--base-url", base, "--no-progress"]) == 0
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", base)
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    assert "SECRET" not in out
    assert f"downloaded {server.base_url}/horse2zebra.pth?... to " in out
    assert f"from {server.base_url}/NAME.pth?... (mirror" in out


@pytest.mark.slow
def test_a_signed_mirrors_new_token_uses_the_cached_file(server, tmp_path, capsys):
    """A signed mirror hands out a new token each session: each one downloaded the file again, warning that the
    cached file "was downloaded from HOST/x.pth?..., not HOST/x.pth?... as now asked" (the same address, its
    token hidden). The token is an access right, not the file's identity; nor is it kept in the cache's record."""
    data, _ = generator_bytes(tmp_path)
    for token in ("token=OLD", "token=NEW"):
        server.files[f"/models/horse2zebra.pth?{token}"] = data
    zoo.fetch_model("horse2zebra", base_url=f"{server.base_url}?token=OLD", progress=False)
    r = zoo.fetch_model("horse2zebra", base_url=f"{server.base_url}?token=NEW", progress=False)
    assert not r.downloaded and len(server.requests) == 1
    assert "downloading it again" not in capsys.readouterr().err
    assert "OLD" not in zoo.record_path(r.path).read_text()
    server.files["/models2/horse2zebra.pth"] = data  # another address: still named and fetched again
    assert zoo.fetch_model("horse2zebra", base_url=f"{server.base_url}2", progress=False).downloaded
    assert "was downloaded from" in capsys.readouterr().err


@pytest.mark.slow
def test_pretrained_commands(server, tmp_path, capsys):
    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    digest = hashlib.sha256(data).hexdigest()
    assert main(["pretrained", "download", "horse2zebra", "--base-url", server.base_url, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert digest in out and "unpinned" in out and "pretrained:horse2zebra" in out
    assert main(["pretrained", "download", "horse2zebra", "--sha256", digest]) == 0
    assert "already cached" in capsys.readouterr().out
    assert main(["pretrained", "list"]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"^horse2zebra .* yes$", listing, re.M) and re.search(r"^zebra2horse .* no$", listing, re.M)
    assert main(["pretrained", "download", "horse2zebra", "--sha256", "abc"]) == 2
    assert "expected 64 hexadecimal digits" in capsys.readouterr().err


def test_serve_takes_a_pretrained_name_as_every_checkpoint_option_does(server, tmp_path, monkeypatch):
    """`cyclegan serve --checkpoint pretrained:horse2zebra` stopped with "is not a checkpoint file or a run
    folder holding one", where every other command fetches the name (and the README says every one does)."""
    from cyclegan.web.runs import check_checkpoint_files

    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    (path,) = check_checkpoint_files(["pretrained:horse2zebra"])
    assert path == zoo.cached_path("horse2zebra") and path.read_bytes() == data


def test_a_pretrained_name_downloaded_into_a_log_file_says_its_sizes(server, tmp_path, monkeypatch, capsys):
    """`--checkpoint pretrained:NAME` with stderr in a log file downloaded in silence (its bar was for terminals
    only), where `cyclegan pretrained download` says the sizes in plain lines: now it says them too."""
    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    assert zoo.resolve("pretrained:horse2zebra").read_bytes() == data
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("horse2zebra.pth: ")]
    assert "\r" not in err and lines and re.match(r"horse2zebra.pth: (\d+) KiB of \1 KiB, ", lines[-1]), err


def test_resolves_download_line_escapes_the_address_and_the_path(monkeypatch, capsys):
    """`pretrained:NAME`'s "downloaded URL to PATH" line printed a mirror's address and the cache path raw: a
    newline in $CYCLEGAN_HOME started a second, spoofed line (every other printed name goes through `escape`)."""
    path = Path("home\nerror: fake/horse2zebra.pth")
    url = "http://mirror/m\x1b[2J/horse2zebra.pth"
    fetched = zoo.FetchResult("horse2zebra", path, "0" * 64, downloaded=True, pinned=False, url=url)
    monkeypatch.setattr(zoo, "fetch_model", lambda *args, **kwargs: fetched)
    assert zoo.resolve("pretrained:horse2zebra", progress=False) == path
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err
    assert err.startswith(
        "downloaded http://mirror/m\\x1b[2J/horse2zebra.pth to home\\nerror: fake/horse2zebra.pth; SHA-256 0000"
    )


def test_a_published_models_download_to_a_closed_or_missing_stderr_is_loaded_and_raises_nothing(
    server, tmp_path, monkeypatch, capsys
):
    """`cyclegan.load_generator("pretrained:NAME")` printed its "downloaded URL to PATH" line straight to stderr:
    a caller's closed stderr raised ValueError once the file was downloaded, and no generator came back; with
    stderr None (pythonw, a service) the line went to stdout, into what the caller pipes there. Now the line goes
    through the one writer (`progress.print_line`): nothing is said there, the generator is loaded; an open stderr
    still says it."""
    import cyclegan

    data, net = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    for stream in unwritable_stderrs():
        with monkeypatch.context() as m:
            m.setattr(sys, "stderr", stream)
            G = cyclegan.load_generator("pretrained:horse2zebra")  # its sizes too: progress on by default
        assert torch.allclose(G(x), net(x), atol=1e-5) and zoo.cached_path("horse2zebra").read_bytes() == data
        zoo.cached_path("horse2zebra").unlink()
    assert capsys.readouterr().out == ""
    cyclegan.load_generator("pretrained:horse2zebra", progress=False)
    err = capsys.readouterr().err
    assert err.startswith(f"downloaded {server.base_url}/horse2zebra.pth to {zoo.cached_path('horse2zebra')}; "), err


def test_no_progress_reaches_a_pretrained_names_download(server, tmp_path, monkeypatch, capsys):
    """`translate --checkpoint pretrained:NAME --no-progress` printed the download's sizes anyway (reached through
    `loading.checkpoint_path`, which has no progress option): the command's --no-progress now turns them off, and
    its "downloaded" line still says where the file went."""
    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "photo.png")
    args = ["translate", str(tmp_path / "photo.png"), "--checkpoint", "pretrained:horse2zebra", "--no-progress"]
    assert main([*args, "--precision", "fp32", "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "downloaded" in err and "horse2zebra.pth: " not in err, err


def test_a_python_caller_turns_a_pretrained_names_download_progress_off(server, tmp_path, monkeypatch, capsys):
    """`cyclegan.load_generator("pretrained:NAME")` printed the download's sizes with no way to turn them off (the
    commands' --no-progress reached it, a library caller had no keyword): `progress=False` does it, and the
    "downloaded" line still says where the file went."""
    import cyclegan

    data, net = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    G = cyclegan.load_generator("pretrained:horse2zebra", progress=False)
    err = capsys.readouterr().err
    assert "downloaded" in err and "horse2zebra.pth: " not in err, err
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.allclose(G(x), net(x), atol=1e-5)
    zoo.cached_path("horse2zebra").unlink()  # the default shows it (plain lines here, stderr being no terminal)
    cyclegan.load_generator("pretrained:horse2zebra")
    assert "horse2zebra.pth: " in capsys.readouterr().err
    # a command's options from Python (no --no-progress there to reach it): their progress=False turns it off too
    from cyclegan.translation import TranslateOptions, translate_paths

    zoo.cached_path("horse2zebra").unlink()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "photo.png")
    given = {"checkpoint": "pretrained:horse2zebra", "out": str(tmp_path / "out"), "progress": False}
    written, errors = translate_paths(TranslateOptions(inputs=(str(tmp_path / "photo.png"),), **given))
    err = capsys.readouterr().err
    assert len(written) == 1 and not errors and "downloaded" in err and "horse2zebra.pth: " not in err, err


def test_export_and_bench_options_turn_a_pretrained_names_download_progress_off(server, tmp_path, monkeypatch, capsys):
    """`ExportOptions` and `BenchOptions` had no `progress`: a Python caller exporting or benching a `pretrained:NAME`
    saw the download's sizes with no way to turn them off (translate's, evaluate's and compare's options had it).
    Their `progress=False` now does it, and the "downloaded" line still says where the file went."""
    from cyclegan.bench import style as style_bench
    from cyclegan.bench import tiles as tiles_bench
    from cyclegan.bench.options import BenchOptions, StyleBenchOptions, TileBenchOptions
    from cyclegan.bench.runner import bench
    from cyclegan.export import export_checkpoint
    from cyclegan.export_options import ExportOptions

    data, _ = generator_bytes(tmp_path)
    publish(server, "horse2zebra", data)
    monkeypatch.setenv("CYCLEGAN_PRETRAINED_URL", server.base_url)
    spec = "pretrained:horse2zebra"

    def stop(*args, **kwargs):  # the download is all this test looks at: no timing after it
        raise CycleGANError("stopped after the load")

    monkeypatch.setattr(style_bench, "_gatys_rows", stop)
    monkeypatch.setattr(tiles_bench, "check_seam_size", stop)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "photo.png")
    style = StyleBenchOptions(content=str(tmp_path / "photo.png"), style=str(tmp_path / "photo.png"), checkpoint=spec)
    runs = {
        "export": lambda **kw: export_checkpoint(
            ExportOptions(checkpoint=spec, out=str(tmp_path / "g.pt"), check=False, overwrite=True, **kw)
        ),
        "bench style": lambda **kw: bench(BenchOptions(task="style", device="cpu", style_task=style, **kw)),
        "bench tiles": lambda **kw: bench(
            BenchOptions(task="tiles", device="cpu", tiles_task=TileBenchOptions(tile_checkpoint=spec), **kw)
        ),
    }
    for name, run in runs.items():
        for progress in (False, True):
            zoo.cached_path("horse2zebra").unlink(missing_ok=True)
            try:
                run(progress=progress)
            except CycleGANError as e:
                assert str(e) == "stopped after the load", (name, e)
            err = capsys.readouterr().err
            assert "downloaded" in err and ("horse2zebra.pth: " in err) == progress, (name, progress, err)
