import importlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cyclegan.cli import main
from cyclegan.config import PRESETS, config_from_dict, read_config_file, resolve
from cyclegan.errors import CycleGANError


def test_precedence_defaults_then_preset_then_overrides():
    cfg = resolve({"preset": "seed", "lr": 1e-3})
    assert cfg.preset == "seed"
    assert cfg.train.batch_size == PRESETS["seed"]["batch_size"]  # from the preset
    assert cfg.train.lr == 1e-3  # from the override
    assert cfg.train.lambda_cycle == 10.0  # the field default
    assert resolve({}).train.lambda_identity == 0.5 and cfg.train.lambda_identity == 0.0


def test_saved_config_round_trips():
    cfg = resolve({"preset": "seed", "ngf": 16, "steps": 7})
    assert config_from_dict(json.loads(json.dumps(cfg.to_dict())), source="x") == cfg


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"learning_rate": 1}, "'learning_rate'"),
        ({"lr": "fast"}, "option 'lr': expected float"),
        ({"batch_size": 2.5}, "option 'batch_size': expected int"),
        ({"flip": "yes"}, "option 'flip': expected bool"),
        ({"norm": "layer"}, "option 'norm'"),
        ({"preset": "huge"}, "^option 'preset': expected 'paper' \\| 'seed' \\| 'fast', got 'huge'$"),
        ({"size": 30}, "multiple of 4"),
        ({"batch_size": 0}, "'batch_size' must be positive"),
        # the Python API and a stored config's keys get the hint a config file's do
        ({"batch-size": 2}, "unknown option 'batch-size': it is 'batch_size'"),
        ({"lamda_cycle": 3}, "unknown option 'lamda_cycle': did you mean 'lambda_cycle'\\?"),
    ],
)
def test_bad_values_name_the_option(overrides, message):
    with pytest.raises(CycleGANError, match=message):
        resolve(overrides)


def test_a_misspelt_preset_from_python_names_the_nearest():
    # resolve(preset=...) listed the presets with no "did you mean", as the command line did
    with pytest.raises(CycleGANError, match=r"^unknown preset 'fsat'; did you mean 'fast'\? choose one of: paper,"):
        resolve({}, preset="fsat")


def test_overrides_that_are_no_dict_are_refused_in_one_line_naming_the_argument():
    """resolve("fast") (a preset given where the overrides go) raised dict()'s bare ValueError "dictionary update
    sequence element #0 has length 1; 2 is required", naming neither the argument nor what it takes."""
    with pytest.raises(
        CycleGANError, match=r"^overrides: expected a dict .*, got str; a preset: resolve\(preset='fast'\)$"
    ):
        resolve("fast")
    with pytest.raises(CycleGANError, match=r"^overrides: expected a dict of option names to values, .* got int$"):
        resolve(5)
    assert resolve(preset="fast").preset == "fast"  # the hint, as given, works
    assert resolve(None) == resolve({})


def test_a_config_files_bad_preset_names_the_file_and_key_as_every_other_option(tmp_path, capsys, monkeypatch):
    """`preset: 3` (or a misspelt name) in a config file said "unknown preset '3'; choose one of: ...", naming neither
    the file nor the key, where every other key's wrong type or value is "option 'KEY' in 'FILE': expected ..."."""
    monkeypatch.chdir(tmp_path)
    for value, hint in ((3, ""), ("fats", "; did you mean 'fast'?")):  # a misspelt one had no "did you mean"
        (tmp_path / "c.json").write_text(json.dumps({"preset": value}))
        assert main(["train", "--config", "c.json", "--out", "o", "--data", "d", "--steps", "1"]) == 2
        said = capsys.readouterr().err
        assert said == f"error: option 'preset' in 'c.json': expected 'paper' | 'seed' | 'fast', got {value!r}{hint}\n"


def test_yaml_and_json_files_flat_or_in_sections(tmp_path):
    bom = tmp_path / "bom.json"  # a Windows editor's byte order mark: JSON refused it, YAML took it
    bom.write_bytes(b'\xef\xbb\xbf{"steps": 3}\r\n')
    assert read_config_file(bom) == {"steps": 3}
    y = tmp_path / "c.yaml"
    y.write_text("preset: seed\ntrain:\n  lr: 0.001\nngf: 16\n")
    assert read_config_file(y) == {"preset": "seed", "lr": 0.001, "ngf": 16}
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"model": {"ndf": 8}, "steps": 3}))
    assert read_config_file(j) == {"ndf": 8, "steps": 3}


def test_a_folder_named_by_digits_in_a_config_file_is_read_as_its_name(tmp_path):
    """`data: 007` was read as the number 7 and refused ("expected str | null, got 7"), where `--data 007` is the
    folder 007; a text option's unquoted number or boolean is its text, in a section too. Numbers stay numbers."""
    y = tmp_path / "c.yaml"
    y.write_text("data: 007\nout: 2024\ndomain_a: yes\nsteps: 007\nlr: 1e-3\n")
    assert read_config_file(y) == {"data": "007", "out": "2024", "domain_a": "yes", "steps": 7, "lr": 0.001}
    y.write_text("data:\n  data: 1e3\n  flip: true\ntrain:\n  out: 12\n")
    assert read_config_file(y) == {"data": "1e3", "flip": True, "out": "12"}
    y.write_text("data: null\n")
    assert read_config_file(y) == {"data": None}


@pytest.mark.parametrize(
    "name, text, said",
    [
        ("c.json", '{"lr": 0.1,\n "steps": }', "not valid JSON: line 2, column 11: Expecting value"),
        (
            "c.yaml",
            "lr: [1\nsteps: 2\n",
            "not valid YAML: line 2, column 6: expected ',' or ']', but got ':'"
            " (while parsing a flow sequence at line 1, column 5)",
        ),
        (
            "c.yaml",
            "a:\n\tb: 1\n",
            "not valid YAML: line 2, column 1: found character '\\t' that cannot start any token (YAML indents with "
            "spaces, not tabs)",
        ),
        # an explicit tag's value its constructor cannot read said Python's error, with no line
        (
            "c.yaml",
            "ngf: 8\nsteps: !!int 0b11\n",
            "not valid YAML: line 2, column 8: cannot read '0b11' as !!int (invalid literal for int() with base 10: "
            "'0b11')",
        ),
        ("c.yaml", "flip: !!bool maybe\n", "not valid YAML: line 1, column 7: cannot read 'maybe' as !!bool"),
        # YAML 1.1's base 60 under an explicit tag: 90.0 read without a word (a string in YAML 1.2)
        (
            "c.yaml",
            "lr: !!float 1:30\n",
            "not valid YAML: line 1, column 5: cannot read '1:30' as !!float (could not convert string to float: "
            "'1:30')",
        ),
    ],
)
def test_a_config_files_syntax_error_says_its_line_and_column_first(tmp_path, name, text, said):
    """YAML's error was its whole text on one line (`in "<unicode string>", line 1, column 5: lr: [1 ^ expected ...`),
    the column's caret and the excerpt included; both parsers' now read `line L, column C: what`."""
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(CycleGANError) as e:
        read_config_file(f)
    assert str(e.value) == f"config file {f} is {said}"


@pytest.mark.parametrize(
    "text, message",
    [
        ("train:\n  lrate: 1\n", "unknown option 'train.lrate'"),
        ("model:\n  lr: 1\n", "unknown option 'model.lr'"),
        ("bogus: 1\n", "unknown option 'bogus'"),
        # the likely meaning, where there is one: a flag's spelling, another section, a near name
        ("model: cut\n", "unknown option 'model': the config key of --model is 'family': write family: cut$"),
        # a misspelt value named as `--model cyclgan` names it (it said only the key)
        ("model: cyclgan\n", "is 'family' \\(expected 'cyclegan' .*, got 'cyclgan'; did you mean 'cyclegan'\\?\\)$"),
        ("family: cyclgan\n", "option 'family' in '.*c.yaml': expected .*, got 'cyclgan'; did you mean 'cyclegan'\\?$"),
        ("upsample: resise\n", "got 'resise'; did you mean 'resize'\\?$"),
        # a flag's spelling, flat or in its section, in one wording (in the section it said "the config key of
        # --batch-size is 'batch_size'", flat "it is 'batch_size' (see `cyclegan train --help`)")
        ("batch-size: 2\n", "unknown option 'batch-size': it is 'batch_size'$"),
        ("train:\n  batch-size: 2\n", "unknown option 'train.batch-size': it is 'batch_size'$"),
        ("data:\n  batch-size: 2\n", "unknown option 'data.batch-size': it is 'batch_size' \\(section 'train'\\)$"),
        (
            "train:\n  model: cut\n",
            "'train.model': the config key of --model is 'family' \\(section 'model'\\): write f",
        ),
        ("bogus: 1\n", "unknown option 'bogus'$"),
        ("train:\n  bogus: 1\n", "unknown option 'train.bogus'$"),
        ("train:\n  ngf: 16\n", "unknown option 'train.ngf': it is 'ngf' \\(section 'model'\\)"),
        ("lamda_cycle: 3\n", "unknown option 'lamda_cycle': did you mean 'lambda_cycle'\\?"),
        ("modle:\n  ngf: 16\n", "did you mean 'model'\\?"),
        # values out of range or choice name the file, as wrong types do
        ("ngf: -3\n", "option 'ngf' in '.*c.yaml' must be > 0"),
        ("family: cyclegn\n", "option 'family' in '.*c.yaml': expected 'cyclegan'"),
        ("lr: abc\n", "option 'lr' in '.*c.yaml': expected float"),
        ("lr: [1, 2\n", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping of option names to values \\(`steps: 3`, one a line\\), got a list$"),
        ("hello\n", "expected a mapping .*, got a single text$"),
        # train's own flags: "unknown option 'resume'", and "unknown option '--config'" beside a typed --config
        ("resume: true\n", "'resume' is a command-line flag of train, not a config file's key: give --resume$"),
        ("config: other.yaml\n", "'config' is a command-line flag of train, not a config file's key: give --config$"),
        ("progress: false\n", "'progress' is a command-line flag of train, not a config file's key: give --no-prog"),
        # in a section too (it said "unknown option 'train.progress'" and no more)
        ("train:\n  progress: false\n", "'train.progress' is a command-line flag of train, not a config file's key: "),
    ],
)
def test_bad_config_files_are_one_line_errors(tmp_path, text, message):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(CycleGANError, match=message):
        read_config_file(f)


@pytest.mark.parametrize(
    "text, said",
    [
        (
            "checkpoint: g.pt\n",
            "'checkpoint' is an option of cyclegan translate, export, evaluate, bench, compare and serve, not of ",
        ),
        ("frames: 3\n", "'frames' is an option of cyclegan datasets synthetic, not of cyclegan train (see `cyclegan"),
        ("max-memory: 3\n", "'max-memory' is an option of cyclegan translate and serve, not of cyclegan train (see"),
        (
            "train:\n  checkpoint: g.pt\n",
            "'train.checkpoint' is an option of cyclegan translate, export, evaluate, bench, compare and serve, not",
        ),
    ],
)
def test_another_commands_key_in_a_train_config_names_that_command(tmp_path, capsys, text, said):
    """`checkpoint:` in a train config said "did you mean 'checkpoint_every'?", an unrelated option of train; in a
    section (`train: {checkpoint: g.pt}`) too."""
    from cyclegan.cli import main

    (f := tmp_path / "c.yaml").write_text(text)
    assert main(["train", "--config", str(f), "--out", str(tmp_path / "run"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {f}: {said}") and err.count("\n") == 1 and "did you mean" not in err, err


def test_a_train_option_spelled_as_its_flag_is_not_said_to_be_another_commands(tmp_path, capsys):
    """`batch-size: 2` in a train config said "'batch-size' is an option of cyclegan translate, evaluate and bench,
    not of cyclegan train": train has it too, as batch_size."""
    from cyclegan.cli import main

    (f := tmp_path / "c.yaml").write_text("batch-size: 2\n")
    assert main(["train", "--config", str(f), "--out", str(tmp_path / "run"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {f}: unknown option 'batch-size': it is 'batch_size'\n", err


@pytest.mark.parametrize(
    "args, said",
    [
        (["--config", "off"], "option 'diffaug' in '{f}': 'off' is no policy: for no augmentation (the default) leave"),
        (["--diffaug", "off"], "option '--diffaug': 'off' is no policy: for no augmentation (the default) leave it "),
        (["--config", "on"], "option 'diffaug' in '{f}': 'on' is no policy: for all of them give color,translation,"),
        (["--config", "color, cutout"], "'color, cutout' has spaces: write the policies without them (color,cutout)"),
        (["--config", "colour"], "unknown policy 'colour' (give one or more of color, translation, cutout, joined by"),
        (
            ["--config", "[color, cutout]"],
            "option 'diffaug' in '{f}': the policies are one text joined by commas: write color,cutout",
        ),
    ],
)
def test_a_diffaug_word_for_none_or_all_says_what_to_write(tmp_path, capsys, args, said):
    """`diffaug: off` in a YAML config said "unknown policy 'off' (use color, translation, cutout)": nothing of how
    to turn it off (leave it out: none is the default). A YAML list said "expected str, got ['color', 'cutout']"."""
    from cyclegan.cli import main

    (f := tmp_path / "c.yaml").write_text(f"diffaug: {args[1]}\n")
    given = ["--config", str(f)] if args[0] == "--config" else args
    assert main(["train", *given, "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: option '") and said.format(f=f) in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    "given, message",
    [
        ({"steps": 5, "epochs": 2}, "'steps' and 'epochs' each set the training length"),  # from Python: its keywords
        ({"data": "root", "domain_a": "a", "domain_b": "b"}, r"'data' and 'domain_a/domain_b' .* root \(data\)"),
    ],
)
def test_options_that_replace_each_other_are_refused_together(given, message):
    with pytest.raises(CycleGANError, match=message):  # before: one of the two was silently ignored
        resolve(given)
    resolve({k: v for k, v in given.items() if k != "epochs" and k != "data"})  # either alone is fine


@pytest.mark.parametrize("family, preset, key", [("pix2pix", "fast", "upsample"), ("cut", "seed", "generator")])
def test_a_preset_that_does_not_fit_the_family_is_named(family, preset, key):
    # the user set neither option: the message names the preset and the family, not only the option
    with pytest.raises(CycleGANError, match=f"preset='{preset}' does not combine with family='{family}': .*{key}"):
        resolve({"family": family}, preset=preset)  # from Python: the keys (`cyclegan train` names its flags)
    # a clash with an option the user gave, not with the family: the error as it was, no advice to change --model
    with pytest.raises(CycleGANError) as e:
        resolve({"generator": "unet"}, preset="fast")
    assert "--model" not in str(e.value) and str(e.value).startswith("option 'upsample'")


@pytest.mark.parametrize(
    "name, text, message",
    [
        # PyYAML and json kept the last: a second `train:` section silently dropped the first's lr and steps
        (
            "c.yaml",
            "train:\n  lr: 1.0e-3\n  steps: 3\ntrain:\n  batch_size: 1\n",
            "line 4, column 1: key 'train' is given twice$",
        ),
        ("c.yaml", "lr: 1.0e-3\nlr: 2.0e-3\n", "key 'lr' is given twice"),
        ("c.yaml", "lr: 1.0e-3\ntrain: {lr: 2.0e-3}\n", "option 'lr' is given twice \\(flat and in section 'train'\\)"),
        ("c.json", '{"lr": 0.001, "lr": 0.002}', "key 'lr' is given twice"),
    ],
)
def test_an_option_given_twice_in_a_config_file_is_refused(tmp_path, name, text, message):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(CycleGANError, match=message):
        read_config_file(f)


def test_a_yaml_merge_key_may_be_overridden(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model: {<<: {ngf: 8, ndf: 8}, ngf: 4}\n")  # a merged key overridden: not given twice
    assert read_config_file(f) == {"ngf": 4, "ndf": 8}


def test_a_binary_config_file_is_a_one_line_error(tmp_path):
    f = tmp_path / "photo.png"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(CycleGANError, match="photo.png is not a text file"):
        read_config_file(f)


def test_a_config_file_larger_than_any_file_of_options_is_refused_unread(tmp_path):
    """`--config /dev/zero` was read whole: 7.7 GB in 20 s, until the memory ran out."""
    f = tmp_path / "c.yaml"
    f.write_text("# a comment\n" * 100_000)  # valid YAML, 1.2 MB
    with pytest.raises(CycleGANError, match=r"^config file .*c.yaml is over 1 MiB, which no file of options is \("):
        read_config_file(f)


def test_cli_config_file_then_flags(tmp_path, dataset, capsys):
    f = tmp_path / "c.yaml"
    f.write_text("ngf: 4\nndf: 4\nn_blocks: 1\nsize: 24\nsteps: 1\nbatch_size: 1\nlr: 0.5\nnum_workers: 0\n")
    out = tmp_path / "run"
    assert (
        main(["train", "--config", str(f), "--lr", "0.001", "--data", str(dataset), "--out", str(out), "--no-progress"])
        == 0
    )
    saved = json.loads((out / "config.json").read_text())
    assert saved["train"]["lr"] == 0.001 and saved["model"]["ngf"] == 4


def test_a_flag_replaces_the_config_files_alternative(tmp_path, dataset, monkeypatch):
    # --epochs over the file's steps, the two folders over the file's --data: flags win, as for any option
    seen = []
    monkeypatch.setattr("cyclegan.train.train", lambda cfg, **kw: seen.append(cfg))
    f = tmp_path / "c.yaml"
    f.write_text(f"steps: 3\ndata: {dataset}\n")
    folders = ["--domain-a", str(dataset / "trainA"), "--domain-b", str(dataset / "trainB")]
    assert main(["train", "--config", str(f), "--epochs", "2", *folders, "--out", str(tmp_path / "r")]) == 0
    t, d = seen[0].train, seen[0].data
    assert (t.steps, t.epochs, d.data, d.domain_a) == (None, 2, None, str(dataset / "trainA"))
    with pytest.raises(CycleGANError, match="give one of them"):  # both in one place: refused
        resolve({"steps": 3, "epochs": 2})


def test_cli_wrong_type_in_file_is_a_one_line_error(tmp_path, capsys):
    f = tmp_path / "c.json"
    f.write_text('{"steps": "many"}')
    assert main(["train", "--config", str(f), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "option 'steps'" in err and "Traceback" not in err


def _all_commands():
    from cyclegan.cli import COMMANDS

    for name, entry in COMMANDS.items():
        if isinstance(entry, dict):
            yield from ([name, action] for action in entry)
        else:
            yield [name]


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "usage: cyclegan" in out
    assert all(command[0] in out for command in _all_commands())


@pytest.mark.parametrize(
    ("argv", "usage", "hint"),
    [
        (
            ["translate", "--checkpoint", "c", "--out", "o", "--dirction", "AtoB", "x.png"],
            "cyclegan translate",
            "did you mean --direction?",
        ),
        (
            ["datasets", "synthetic", "--out", "o", "--cont", "3"],
            "cyclegan datasets synthetic",
            "did you mean --count?",
        ),
        (["train", "--frobnicate"], "cyclegan train", "see cyclegan train --help"),
        (["--bogus"], "cyclegan", "see cyclegan --help"),
        # a prefix of an option is refused (argparse took `--step` for `--steps`), the option it is a prefix of named
        (["train", "--step", "10"], "cyclegan train", "did you mean --steps?"),
        (["train", "--lambda-cyc=5"], "cyclegan train", "did you mean --lambda-cycle?"),
        (["train", "--eval", "3"], "cyclegan train", "did you mean --eval-every, --eval-images or --eval-kid?"),
        (
            ["datasets", "synthetic", "--out", "o", "--coun", "3"],
            "cyclegan datasets synthetic",
            "did you mean --count?",
        ),
        (["--vers"], "cyclegan", "did you mean --version?"),
        # a required option missing hid the typo that missed it: "required: --checkpoint, --out"
        (["translate", "--chekpoint", "x", "--out", "o", "in.png"], "cyclegan translate", "did you mean --checkpoint?"),
        # the demo's budget is --minutes, training's --time-limit: each named for the other
        (["train", "--minutes", "2"], "cyclegan train", "did you mean --time-limit?"),
        (["demo", "--time-limit", "2"], "cyclegan demo", "did you mean --minutes?"),
        # another tool's word, spelt nearer another option: `--save-every` was "did you mean --sample-every?"
        (["train", "--save-every", "5"], "cyclegan train", "did you mean --checkpoint-every?"),
    ],
)
def test_a_mistyped_option_gets_one_line_with_the_nearest_option_or_its_commands_help(
    argv, usage, hint, capsys, tmp_path, monkeypatch
):
    """Not the top level's "usage: cyclegan [-h] [--version] COMMAND ..." for every typo (a user's walk), nor the
    command's whole usage (40 lines for train): one line, as every other error."""
    monkeypatch.chdir(tmp_path)  # a parser that took `--coun` for --count would write the dataset to `o`
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: unrecognized arguments") and err.count("\n") == 1
    assert err.rstrip().endswith(f"({hint})") and "cyclegan [-h]" not in err
    assert hint.startswith("did you mean") or hint == f"see {usage} --help"


@pytest.mark.parametrize("help_flag", ["-h", "--help"])
def test_help_anywhere_in_a_line_with_a_typo_shows_the_help(help_flag, capsys):
    """`cyclegan translate --chekpoint x -h` said "unrecognized arguments" (the typo check ran before argparse):
    a user asking for help, the very thing that shows the option's spelling, was refused. Now the help, exit 0."""
    with pytest.raises(SystemExit) as e:
        main(["translate", "--chekpoint", "x", help_flag, "--out", "o"])
    captured = capsys.readouterr()
    assert e.value.code == 0 and captured.out.startswith("usage: cyclegan translate") and "--checkpoint" in captured.out
    assert captured.err == ""


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["trian", "--steps", "3"], "no command 'trian' in cyclegan: did you mean 'train'? (see cyclegan --help)"),
        (["datasets", "synthtic"], "did you mean 'synthetic'? (see cyclegan datasets --help)"),
        (["pretrained", "lst"], "did you mean 'list'? (see cyclegan pretrained --help)"),
        # a command in capitals (caps lock, a copied heading) listed every choice and named none
        (["TRAIN", "--steps", "3"], "no command 'TRAIN' in cyclegan: did you mean 'train'? (see cyclegan --help)"),
    ],
)
def test_a_mistyped_command_gets_the_nearest_one(argv, hint, capsys):
    """argparse listed every choice ("invalid choice: 'trian' (choose from 'train', 'translate', ...)") and named
    none; options already got their nearest one, commands did not."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.rstrip().endswith(hint) and len(err.strip().splitlines()) == 1


def test_a_closed_pipe_is_not_a_traceback():
    """`cyclegan datasets list | head -1`: the reader leaves, and Python printed a BrokenPipeError traceback
    (or "Exception ignored ... BrokenPipeError" at exit)."""
    run = subprocess.Popen(
        [sys.executable, "-m", "cyclegan", "datasets", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    run.stdout.close()  # before the command writes: its first write or its flush meets a closed pipe
    err = run.stderr.read().decode()
    assert run.wait(timeout=60) == 141 and err == "", err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("argv", [["datasets", "list"], ["--help"], ["train", "--help"], ["--version"]], ids=" ".join)
def test_a_failed_write_to_stdout_is_one_line_and_not_success(argv):
    """`cyclegan datasets list > /dev/full` was an OSError traceback, and `cyclegan --help > /dev/full` exited 0
    with nothing written (argparse swallows its write errors): a script took the empty output for the help."""
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "cyclegan", *argv], stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 1 and done.stderr == "error: cannot write to standard output (No space left on device)\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_failed_write_to_stdout_does_not_stop_the_work(tmp_path):
    """`train ... > /dev/full` or `| head -3`: the first flush of stdout after a printed line (a progress bar's
    refresh does one) raised out of the command in the middle of its work. Now the work goes on to its end and
    the failed stdout is said in one line after it."""
    done_file = tmp_path / "done"
    script = (
        "import sys\n"
        "from cyclegan import cli\n"
        "def works(argv):\n"
        "    print('computing in fp32, NCHW, eager on cpu')\n"
        "    sys.stdout.flush()\n"  # a progress bar's refresh
        f"    open({str(done_file)!r}, 'w').write('the run saved')\n"
        "    print('done')\n"
        "    return 0\n"
        "cli._main = works\n"
        "sys.exit(cli.main([]))\n"
    )
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", script], stdout=full, stderr=subprocess.PIPE, text=True)
    assert done_file.read_text() == "the run saved"
    assert done.returncode == 1 and done.stderr == "error: cannot write to standard output (No space left on device)\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_command_stopped_by_a_hangup_exits_with_its_status_though_its_last_line_cannot_be_written():
    """A closed terminal (SIGHUP) stops `stylize` or `compare`, which keep their work and write a last line to
    stdout: that write fails on the terminal that is gone, and the command exited 1 as for a full disk, not 129."""
    script = (
        "import os, signal, sys\n"
        "from cyclegan import cli, process\n"
        "def stopped(argv):\n"
        "    try:\n"
        "        with process.terminate_as_interrupt(hangup=True):\n"
        "            os.kill(os.getpid(), signal.SIGHUP)\n"
        "    except process.Terminated as e:\n"
        "        print('wrote best.png (the best image so far)')\n"  # the terminal is gone: this write fails
        "        sys.stdout.flush()\n"
        "        return e.status\n"
        "cli._main = stopped\n"
        "sys.exit(cli.main([]))\n"
    )
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", script], stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 129, done.stderr


def test_no_command_is_a_usage_error_on_stderr(capsys):
    """`cyclegan` alone printed its help on stdout with exit 2: `cyclegan > commands.txt` kept the help as if asked."""
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("usage: cyclegan") and "translate" in captured.err


@pytest.mark.parametrize(
    ("argv", "typed", "untyped"),
    [
        (
            ["stylize", "--content", "a.png", "--style", "b.png", "--out", "o.png", "--lr", "0.5"],
            "--optimizer=lbfgs",
            "--optimizer lbfgs (the default)",
        ),
        (
            ["stylize", "--content", "a.png", "--style", "b.png", "--out", "o.png", "--seed", "3"],
            "--init=content",
            "--init content (the default)",
        ),
        (
            ["translate", "--checkpoint", "c", "--out", "o", "--tile", "40", "a.png"],
            "--tile-overlap=64",
            "'--tile-overlap' 64 (the default)",
        ),
    ],
)
def test_the_default_is_not_said_of_a_value_the_user_typed(argv, typed, untyped, capsys, tmp_path, monkeypatch):
    """`stylize --optimizer lbfgs --lr 0.5` was told its lbfgs was "(the default)", as if --optimizer had not been
    read; said only where the value was not typed."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2 and untyped in capsys.readouterr().err
    assert main([*argv, typed]) == 2
    err = capsys.readouterr().err
    assert "(the default)" not in err and untyped.replace(" (the default)", "") in err


@pytest.mark.parametrize("command", list(_all_commands()), ids=" ".join)
def test_no_parser_takes_a_prefix_of_an_option(command):
    """Every parser the command line goes through, sub-parsers included (they do not inherit allow_abbrev)."""
    import argparse

    from cyclegan.cli import build_parser

    parser, seen = build_parser(command), []
    while parser is not None:
        seen.append(parser)
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = next((c for c in command if subs and c in subs[0].choices), None)
        parser = subs[0].choices[name] if name else None
        assert all(not p.allow_abbrev for p in (subs[0].choices.values() if subs else ()))
    assert len(seen) == len(command) + 1 and not any(p.allow_abbrev for p in seen)


def test_whole_options_still_parse_in_every_form():
    """`--x=v`, `--x v` and a boolean's `--no-x`, with abbreviations refused."""
    from cyclegan.cli import build_parser

    argv = ["train", "--steps=10", "--lambda-cycle", "5", "--no-progress", "--no-flip", "--eval-every=0"]
    args, unknown = build_parser(argv).parse_known_args(argv)
    assert unknown == [] and (args.steps, args.lambda_cycle, args.progress, args.flip) == (10, 5.0, False, False)
    assert args.eval_every == 0
    argv = ["datasets", "synthetic", "--out=o", "--count=3"]
    args, unknown = build_parser(argv).parse_known_args(argv)
    assert unknown == [] and (args.out, args.count) == ("o", 3)


def test_train_help_names_what_its_folder_options_take(capsys):
    """`--data S`, `--domain-a S`, `--out S`: the generic metavar of a string said nothing of a folder; and
    `--checkpoint-minutes N` (a float of minutes, default 10.0), `--time-limit X`: minutes are MIN, as elsewhere."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for shown in ("--data ROOT", "--domain-a DIR", "--domain-b DIR", "--out DIR", "--diffaug LIST", "--time-limit MIN"):
        assert shown in out
    assert "--checkpoint-minutes MIN" in out and not re.search(r"--[a-z-]+ S\b", out)


@pytest.mark.parametrize("group", ["datasets", "pretrained"])
def test_a_group_of_actions_help_says_where_each_actions_options_are(group, capsys):
    """`cyclegan datasets --help` said "datasets by action." and nothing of where `download`'s options are."""
    with pytest.raises(SystemExit) as e:
        main([group, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert e.value.code == 0 and f"each action's options: cyclegan {group} ACTION --help" in out


def test_train_help_says_a_familys_own_default_once(capsys):
    """CUT's options said their families' values twice: "(default: 1 for cut, 10 for fastcut, --model cut: 1.0,
    --model fastcut: 10.0)"."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for shown in ("1 for cut, 10 for fastcut", "on for cut, off for fastcut", "off for cut, on for fastcut"):
        assert f"(default: {shown})" in out
    assert "(default: 50, seed: 0, --model cut: 0, --model fastcut: 0)" in out  # a family's value over a field's


@pytest.mark.parametrize("command", list(_all_commands()), ids=" ".join)
def test_every_command_has_help_with_every_option_and_its_default(command, capsys):
    """Each subcommand's --help shows every field of its options dataclass, with the field's default."""
    from dataclasses import MISSING

    from cyclegan.cli import COMMANDS
    from cyclegan.options import default_text_of, option_fields

    with pytest.raises(SystemExit) as e:
        main([*command, "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert e.value.code == 0 and out.startswith(f"usage: cyclegan {' '.join(command)}")
    entry = COMMANDS[command[0]]
    cls = (entry[command[1]] if isinstance(entry, dict) else entry).options_class()
    for f, _ in option_fields(cls) if cls else []:
        shown = f.name.replace("_", "-") if f.metadata.get("positional") else "--" + f.name.replace("_", "-")
        if f.metadata.get("positional"):
            shown = f.metadata.get("metavar") or f.name
        assert shown in out, f"{shown} missing from `cyclegan {' '.join(command)} --help`"
        if f.default not in (MISSING, None) and not isinstance(f.default, bool):
            default = default_text_of(f)
            assert f"default: {' '.join(default.split())}" in out, f"{f.name}'s default missing"


def test_no_help_line_cuts_a_word_at_its_hyphen(capsys, monkeypatch):
    """argparse wrapped help after a hyphen: `train --help` at 100 columns ended a line with `--no-eval-` and began the
    next with `kid`, a flag that could not be copied whole. Lines now break at spaces only, at any width."""
    import re

    for columns in ("80", "100", "120"):
        monkeypatch.setenv("COLUMNS", columns)
        for command in _all_commands():
            with pytest.raises(SystemExit):
                main([*command, "--help"])
            cut = [line for line in capsys.readouterr().out.splitlines() if re.search(r"\w-$", line)]
            assert cut == [], f"`cyclegan {' '.join(command)} --help` at {columns} columns"


def test_a_narrow_terminals_help_keeps_every_word_whole(capsys, monkeypatch):
    """`COLUMNS=40 cyclegan evaluate --help` cut words longer than the help column: `$CYCLEGAN_` on one line and
    `INCEPTION_WEIGHTS,` on the next, `pt_inception-2015-12` / `-05-6726825d.pth`, serve's `referen` /
    `ce-implementation`; a variable or file name that cannot be copied. A long word now overflows its line whole."""

    def words(command: list[str], columns: str) -> set[str]:
        monkeypatch.setenv("COLUMNS", columns)
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        return set(capsys.readouterr().out.split())

    for command in _all_commands():
        cut = words(command, "40") - words(command, "3000")
        assert cut == set(), f"`COLUMNS=40 cyclegan {' '.join(command)} --help`"


def test_a_switchs_default_is_said_in_its_flags_words(capsys):
    """A --x/--no-x switch's default was shown as Python's "(default: True)" or "(default: False, fast: True)": now
    "on" or "off", as its flags and the CUT options' "off for cut, on for fastcut" say it, in every command."""
    for command in _all_commands():
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "True" not in out and "False" not in out, f"`cyclegan {' '.join(command)} --help`"
        if command == ["train"]:
            assert "random horizontal flips (default: on)" in out and "(default: off, fast: on)" in out


@pytest.mark.slow
def test_every_commands_help_starts_without_torch():
    """`cyclegan X --help` builds X's flags from its options dataclass, whose module must not import torch
    (3-6 s before each help page did)."""
    code = (
        "import sys\nfrom cyclegan.cli import build_parser\n"
        f"for argv in {list(_all_commands())!r}:\n"
        "    build_parser(argv)\n"
        "    if 'torch' in sys.modules:\n"
        "        sys.exit(' '.join(argv))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"`cyclegan {done.stderr.strip()} --help` imports torch"


@pytest.mark.slow
def test_refusals_that_need_no_torch_come_before_its_import(tmp_path):
    """`train --steps -3` (or with no --steps), `train --data MISSING`, `train --resume` of no run, `translate
    MISSING`, `evaluate --data MISSING` (or a ROOT without the split, or with an empty testA), `stylize --content
    MISSING` and a --checkpoint that is not there waited for torch's import (5-15 s on a busy machine) to be told
    one line."""
    code = (
        "import sys\nfrom cyclegan.cli import main\n"
        f"for argv in {REFUSALS_BEFORE_TORCH!r}:\n"
        "    if main(argv) != 2 or 'torch' in sys.modules:\n"
        "        sys.exit(' '.join(argv))\n"
    )
    (tmp_path / "r").mkdir()  # a run folder without a checkpoint
    (tmp_path / "g.pt").touch()  # read only once torch is imported
    for split in ("testA", "testB"):
        (tmp_path / "d" / split).mkdir(parents=True)
    (tmp_path / "d" / "testA" / "notes.txt").touch()
    for name in ("testA/a.png", "testB/b.png"):  # read only once torch is imported: their names are enough here
        (tmp_path / "u" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "u" / name).touch()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, f"`cyclegan {done.stderr.strip().splitlines()[-1]}` imports torch before its error"
    assert done.stderr.count("error: ") == len(REFUSALS_BEFORE_TORCH) == len(done.stderr.splitlines()), done.stderr
    said = ("'--data': missing does not exist", "r/checkpoint.pt does not exist", "'--content': missing.png: no such")
    said += ("checkpoint not found: missing (give a run folder", "'horse2zebra'?")
    said += (
        "--data . has no test split: evaluate reads testA and testB",
        "--data testA folder d/testA holds no images",
        "u/testA holds 1 usable image: FD and KID need at least 2 per domain; add images",
    )
    for missing in said:
        assert missing in done.stderr, done.stderr
    assert done.stderr.count("option '--content': missing.png: no such file or folder") == 2  # compare's, stylize's


REFUSALS_BEFORE_TORCH = [
    ["train", "--data", ".", "--out", "r", "--steps", "-3"],
    ["train", "--data", ".", "--out", "r", "--lr", "nan"],
    ["train", "--data", ".", "--out", "r", "--model", "fastcut", "--lambda-cycle", "3"],
    ["train", "--data", ".", "--out", "r"],  # no budget
    ["train", "--data", ".", "--steps", "3"],  # no run folder
    ["train", "--data", "missing", "--out", "r", "--steps", "3"],
    ["train", "--out", "r", "--resume"],  # no run there
    ["translate", "--checkpoint", "r", "--out", "o", "missing.png"],
    ["evaluate", "--checkpoint", "r", "--data", "missing"],
    ["evaluate", "--checkpoint", "r", "--domain-a", "missing", "--domain-b", "."],
    ["evaluate", "--checkpoint", "g.pt", "--data", "."],  # no testA, testB nor test under it
    ["evaluate", "--checkpoint", "g.pt", "--data", "d"],  # d/testA holds no image
    ["evaluate", "--checkpoint", "g.pt", "--data", "u"],  # u/testA and u/testB: one image each, no pair
    ["translate", "--checkpoint", "missing", "--out", "o", "."],
    ["export", "--checkpoint", "missing", "--out", "g.onnx"],
    ["evaluate", "--checkpoint", "missing", "--data", "."],
    ["compare", "--checkpoint", "missing", "--content", ".", "--style", ".", "--out", "c"],
    ["stylize", "--content", "missing.png", "--style", "missing.png", "--out", "s.png"],
    ["compare", "--checkpoint", "r", "--content", "missing.png", "--style", ".", "--out", "c"],
    ["translate", "--checkpoint", "pretrained:horse2zebr", "--out", "o", "."],
]


@pytest.mark.parametrize("package", ["cyclegan.bench", "cyclegan.data", "cyclegan.evaluate", "cyclegan.style"])
def test_packages_imported_on_use_still_export_every_name(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = module.nothing_here


def test_preset_choices_come_from_the_presets(capsys, monkeypatch):
    from cyclegan import config

    monkeypatch.setitem(config.PRESETS, "tiny", {"ngf": 4})
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "{" + ",".join(config.PRESETS) + "}" in capsys.readouterr().out.replace(" ", "")
    assert "tiny" in config.PRESETS


def test_bad_file_value_is_reported_even_when_a_flag_overrides_it(tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text("steps: 2.5\n")
    assert main(["train", "--config", str(f), "--steps", "1", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "option 'steps' in" in err and str(f) in err and err.strip().count("\n") == 0


def test_yaml_numbers_without_a_dot_and_on_off_words_read_as_meant(tmp_path):
    # YAML 1.1 (PyYAML) reads `1e-3` as a string and `off` as False: `lr: 1e-3` and `compile: off` were refused
    f = tmp_path / "c.yaml"
    f.write_text("lr: 1e-3\nlr_d: 5E-4\ncompile: off\nchannels_last: on\nflip: off\n")
    assert read_config_file(f) == {"lr": 0.001, "lr_d": 0.0005, "compile": "off", "channels_last": "on", "flip": False}
    cfg = resolve(read_config_file(f))
    assert (cfg.train.lr, cfg.train.compile, cfg.train.channels_last, cfg.data.flip) == (0.001, "off", "on", False)


@pytest.mark.parametrize(
    "text, value", [("010", 10), ("0o10", 8), ("0x10", 16), ("1_000", 1000), ("+12", 12), ("1e3", 1000), ("2.0", 2)]
)
def test_yaml_whole_numbers_read_as_yaml_1_2_reads_them(tmp_path, text, value):
    """The README promises YAML 1.2's numbers: PyYAML (1.1) read `steps: 010` as 8 (octal) and refused 1.2's `0o10`."""
    f = tmp_path / "c.yaml"
    f.write_text(f"steps: {text}\n")
    assert read_config_file(f) == {"steps": value}


@pytest.mark.parametrize("text, value", [("2.000_5e-4", 2.0005e-4), (".000_5", 0.0005), ("5e-0_4", 5e-4), ("+.5", 0.5)])
def test_yaml_floats_group_their_digits_as_the_flags_do(tmp_path, text, value):
    """`--lr 2.000_5e-4` is taken (Python's float): a config file's `lr: 2.000_5e-4` was refused as a string,
    only the digits before the dot might be grouped."""
    f = tmp_path / "c.yaml"
    f.write_text(f"lr: {text}\n")
    assert read_config_file(f) == {"lr": pytest.approx(value)}


@pytest.mark.parametrize("text", ["1:30", "0b11"])
def test_yaml_1_1_only_numbers_are_refused_naming_the_option(tmp_path, text):
    """YAML 1.1's base-60 `1:30` was ninety steps (or an lr of 90.0), and `0b11` three: strings in YAML 1.2."""
    f = tmp_path / "c.yaml"
    f.write_text(f"steps: {text}\n")
    with pytest.raises(CycleGANError, match=f"option 'steps' in '{f}': expected int \\| null, got '{text}'"):
        read_config_file(f)


@pytest.mark.slow
def test_ctrl_c_while_the_command_line_module_loads_is_one_line(tmp_path):
    """The console script imports cyclegan.cli before it calls main: a Ctrl-C then (here: while
    cyclegan.commands and yaml load) was a traceback of the import, and exit status 1 or a signal death."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "class Interrupt:\n"  # the Ctrl-C, as Python raises it in whatever runs when the signal comes
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'cyclegan.commands':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from cyclegan.cli import main\n"
        "sys.exit(main(['train', '--help']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "interrupted\n", "")


@pytest.mark.slow
@pytest.mark.parametrize(
    "module, run",
    [
        # `python -m cyclegan`: __main__ imports cyclegan.cli, whose main then takes Ctrl-C over
        ("cyclegan.cli", "import runpy; runpy.run_module('cyclegan', run_name='__main__')"),
        # main imported cyclegan.process before its handler was in place
        ("cyclegan.process", "from cyclegan.cli import main; sys.exit(main(['--version']))"),
    ],
    ids=["python -m cyclegan", "main"],
)
def test_ctrl_c_before_main_handles_it_is_one_line(tmp_path, module, run):
    """A Ctrl-C in the first tenth of a second of `python -m cyclegan` (while cyclegan.cli loads) or of `main` (while
    cyclegan.process loads) was a traceback and exit status 1."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "class Interrupt:\n"  # one Ctrl-C, as Python raises it in whatever runs when the signal comes
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {module!r} and self in sys.meta_path:\n"
        "            sys.meta_path.remove(self)\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        f"{run}\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "interrupted\n", "")


def test_an_error_that_follows_a_ctrl_c_is_the_interrupt(monkeypatch, capsys):
    """Ctrl-C while numpy or scipy import can leave a module half-imported; what fails next is then not always a
    KeyboardInterrupt (numpy's __getattr__ recursed: a RecursionError traceback). Any error after a Ctrl-C that the
    command did not handle itself is the interrupt: one line, status 130; the handler is put back afterwards."""
    import signal

    import cyclegan.cli

    def interrupted_import(argv):
        try:
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C, which the half-done import swallowed
        except KeyboardInterrupt:
            pass
        raise RecursionError("maximum recursion depth exceeded")

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        monkeypatch.setattr(cyclegan.cli, "build_parser", interrupted_import)
        assert main(["train", "--help"]) == 130
        err = capsys.readouterr().err
        assert err == "interrupted\n"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        monkeypatch.setattr(cyclegan.cli, "build_parser", lambda argv: 1 / 0)
        with pytest.raises(ZeroDivisionError):  # without a Ctrl-C, a bug stays a bug (a traceback)
            main(["train", "--help"])
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
def test_an_error_that_follows_a_sigterm_or_sighup_is_that_stop(monkeypatch, capsys):
    """The same for a SIGTERM or SIGHUP that `terminate_as_interrupt` turned into `Terminated` while the modules
    load: `train` got one while torch imported (`timeout -s TERM 2 cyclegan train ...`) and printed a 45-line
    RecursionError or AttributeError traceback from numpy, half-imported. Now it is the stop's one line and status."""
    import cyclegan.cli
    from cyclegan.process import terminate_as_interrupt

    def stopped_import(signum):
        def build_parser(argv):
            with terminate_as_interrupt(hangup=True):
                try:
                    signal.raise_signal(signum)  # the signal, which the half-done import swallowed
                except KeyboardInterrupt:
                    pass
            raise RecursionError("maximum recursion depth exceeded")

        return build_parser

    previous = {s: signal.signal(s, signal.SIG_DFL) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        for signum, word in ((signal.SIGTERM, "terminated"), (signal.SIGHUP, "hung up")):
            monkeypatch.setattr(cyclegan.cli, "build_parser", stopped_import(signum))
            assert main(["train", "--help"]) == 128 + signum
            assert capsys.readouterr().err == f"{word}\n"
        monkeypatch.setattr(cyclegan.cli, "build_parser", lambda argv: 1 / 0)
        with pytest.raises(ZeroDivisionError):  # an earlier call's stop makes no later bug a stop
            main(["train", "--help"])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def test_a_torchvision_built_for_another_torch_is_named_in_one_line(monkeypatch, capsys):
    """A newcomer's venv with torch from the CPU index and torchvision from PyPI (its CUDA build, pinned to another
    torch): `import torchvision` raised `operator torchvision::nms does not exist` from deep in torch, and `cyclegan
    demo` printed that traceback. Now one line names the two versions and how to install a matching pair."""
    from importlib import metadata

    import cyclegan.cli

    def broken_torchvision(argv):  # what torchvision/_meta_registrations.py raises when its _C did not load
        raise RuntimeError("operator torchvision::nms does not exist")

    monkeypatch.setattr(cyclegan.cli, "build_parser", broken_torchvision)
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: torchvision ")
    assert f"torch {metadata.version('torch')}" in err and "pip install --force-reinstall torch torchvision" in err
    monkeypatch.setattr(cyclegan.cli, "build_parser", lambda argv: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):  # any other RuntimeError stays a traceback
        main(["demo"])


def test_an_error_names_an_option_as_the_user_typed_it(tmp_path, capsys):
    """The config sections name an option by its key (`log_every`, as config files and the Python API spell it):
    the command line names one the user typed by its flag; a config file's value keeps its key."""
    base = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--steps", "1"]

    def error(*argv: str) -> str:
        assert main([*base, *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        return err.strip()

    assert error("--log-every", "0") == "error: option '--log-every' must be positive, got 0"
    assert error("--log-every=0") == "error: option '--log-every' must be positive, got 0"
    assert error("--diffaug", "blur").startswith("error: option '--diffaug': unknown policy 'blur'")
    assert error("--size", "8").startswith("error: option '--size': 8 px is too small")
    f = tmp_path / "c.yaml"
    f.write_text("log_every: 0\n")  # the file's own error: its name and key, whatever the flags
    assert error("--config", str(f)) == f"error: option 'log_every' in '{f}' must be positive, got 0"
    assert error("--config", str(f), "--log-every", "5").startswith(f"error: option 'log_every' in '{f}'")
    f.write_text("diffaug: blur\n")  # checked with the other options: the file's key, not a flag nobody typed
    assert error("--config", str(f)).startswith(f"error: option 'diffaug' in '{f}': unknown policy 'blur'")
    base[:] = ["train", "--out", str(tmp_path / "r")]  # no --data, no --steps: those the file gives
    f.write_text("steps: 5\nepochs: 2\n")  # two alternatives in one file: its keys (they were named as flags), the
    # file named once (it was named after each key)
    assert error("--config", str(f)) == (
        f"error: options 'steps' and 'epochs' in '{f}' each set the training length: give one of them"
    )
    assert error("--steps", "5", "--epochs", "2").startswith("error: options '--steps' and '--epochs' each set")
    f.write_text(f"steps: 1\ndata: {tmp_path}\ndomain_b: {tmp_path}\n")
    assert error("--config", str(f)).startswith(f"error: options 'data' and 'domain_b' in '{f}' each name")


@pytest.mark.parametrize("family", ["cyclegan", "pix2pix", "cut", "fastcut"])
def test_a_runs_config_json_can_be_given_back_as_config(family, tmp_path):
    """A run's config.json holds every option, those its family has no use for at their defaults: given back
    as `--config` it was refused (`direction` for a CycleGAN, `lambda_cycle` for CUT). A value that would
    change something is still refused."""
    cfg = resolve({"family": family, "size": 64, "data": "W", "out": "o", "steps": 3})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert resolve(read_config_file(path)) == cfg
    other = {"cyclegan": ("lambda_nce", 2.0)}.get(family, ("lambda_cycle", 3.0))
    with pytest.raises(CycleGANError, match=f"option '{other[0]}' applies to family="):
        resolve({**read_config_file(path), other[0]: other[1]})


def test_a_relative_data_folder_not_found_names_the_folder_it_was_read_from(tmp_path, monkeypatch, capsys):
    """A run's config.json names its --data as train was given it (`runs/demo/data`): `train --config
    runs/demo/config.json` run from another folder said "runs/demo/data does not exist", with nothing of where it
    looked. The line says a relative path is read from the current folder, and names it."""
    cfg = resolve({"size": 64, "data": "runs/demo/data", "out": "runs/demo", "steps": 3})
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["train", "--config", str(tmp_path / "config.json"), "--out", "r"]) == 2
    said = capsys.readouterr().err
    assert f"runs/demo/data is not in the current folder, {elsewhere}; a config file's relative folders" in said


def test_compile_auto_help_says_training_stays_eager(capsys):
    # `train --help` said auto compiled "long bf16 CPU work": training never compiles under auto (loop.py).
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "auto: translation of 64+ images in bf16 on a CPU with a C++ compiler; training eager" in text
    assert "for long bf16 CPU work" not in text


def test_negative_zero_is_taken_as_zero():
    """`--lambda-identity -0` passed its range (>= 0) and was kept as -0.0: config.json and the reports named it
    "-0.0". A float option holds 0.0 for it, as for any zero."""
    import math

    cfg = resolve({"lambda_identity": -0.0, "ema_decay": -0.0})
    assert math.copysign(1, cfg.train.lambda_identity) == 1 and math.copysign(1, cfg.train.ema_decay) == 1
    assert "-0.0" not in json.dumps(cfg.to_dict())


def test_a_config_files_family_is_named_as_its_key_when_an_option_does_not_apply(tmp_path, capsys):
    """`--config cut.yaml --lambda-cycle 5` said "not to --model cut": no --model was typed, the file chose the family
    (and a key of the same file named the file twice)."""
    f = tmp_path / "cut.yaml"
    f.write_text("family: cut\n")
    base = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--steps", "1", "--config", str(f)]
    assert main([*base, "--lambda-cycle", "5"]) == 2
    assert capsys.readouterr().err == (
        f"error: option '--lambda-cycle' applies to --model cyclegan, not to cut (option 'family' in '{f}')\n"
    )
    f.write_text("family: cut\nlambda_cycle: 5\n")
    assert main(base) == 2
    assert capsys.readouterr().err == (
        f"error: option 'lambda_cycle' in '{f}' applies to --model cyclegan, not to its 'family' cut\n"
    )
    assert main([*base, "--model", "cut"]) == 2  # typed: the flag
    assert capsys.readouterr().err.endswith(" applies to --model cyclegan, not to --model cut\n")


@pytest.mark.parametrize("text, value", [("1e3", 1000), ("2E1", 20), ("1_000", 1000), ("-0", 0), ("5.0", 5)])
def test_an_int_flag_takes_a_whole_number_in_exponent_notation(text, value):
    """`--steps 1e4` was "invalid int value: '1e4'" with the whole usage; a config file's `steps: 1e4` is taken."""
    from cyclegan.cli import build_parser

    argv = ["translate", "--checkpoint", "c", "--out", "o", "--batch-size", text, "x.png"]
    assert build_parser(argv).parse_args(argv).batch_size == value


@pytest.mark.parametrize("text", ["1.5", "nan", "inf", "1e400", "abc"])
def test_an_int_flag_refuses_what_is_not_a_whole_number(text, capsys):
    with pytest.raises(SystemExit) as e:
        main(["translate", "--checkpoint", "c", "--out", "o", "--batch-size", text, "x.png"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.endswith(
        f"option '--batch-size': expected a whole number, got {text!r} (see cyclegan translate --help)\n"
    )


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["train", "--steps", "x"],
            "error: option '--steps': expected a whole number, got 'x' (see cyclegan train --help)",
        ),
        (["train", "--model", "nope"], "error: option '--model': invalid choice: 'nope' (choose from"),
        # a misspelt choice listed them all with no "did you mean", where a misspelt flag or command names the nearest
        (["train", "--preset", "fsat"], "error: option '--preset': invalid choice: 'fsat'; did you mean 'fast'? (choo"),
        # a choice in another case (`--direction atob`, `--ext JPG`) named none
        (
            ["translate", "--direction", "atob"],
            "error: option '--direction': invalid choice: 'atob'; did you mean 'AtoB'?",
        ),
        (
            ["translate", "--ext", "JPG"],
            "error: option '--ext': invalid choice: 'JPG'; did you mean 'jpg'? (choose from",
        ),
        (["translate"], "error: the following arguments are required: INPUT, --checkpoint, --out (see cyclegan transl"),
        (["frobnicate"], "error: no command 'frobnicate' (choose from 'train'"),
        (["datasets"], "error: the following arguments are required: ACTION (see cyclegan datasets --help)"),
        # an option before the command said "no command '3'"
        (["--lr", "3", "train"], "error: --lr is given before the command train: options go after it"),
        # a group's: its action named, as typed or as the one that takes it ("cyclegan datasets ... --count" named none)
        (["--count", "3", "datasets", "synthetic"], "error: --count is given before the command datasets synthetic: "),
        (["--count", "3", "datasets"], "error: --count is given before the command datasets synthetic: options go af"),
        (["--root", "r", "datasets", "download"], "error: --root is given before the command datasets download: opt"),
        # ... and one the command does not take is not sent after it to be refused there
        (["--bogus", "train"], "error: unrecognized arguments: --bogus (see cyclegan train --help)"),
        (["--steps", "3", "translate"], "error: unrecognized arguments: --steps (--steps is an option of cyclegan t"),
    ],
)
def test_a_usage_error_is_one_line_as_every_other_error(argv, said, capsys):
    """`train --steps x` wrote train's 40-line usage, then `cyclegan train: error: argument --steps: ...`, where
    `train --steps -1` (the options' own check) wrote one `error:` line: now every command's usage error is one
    line in the same words."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(said) and err.count("\n") == 1


def test_a_file_whose_name_starts_with_a_dash_is_named_as_a_file_taken_for_an_option(tmp_path, monkeypatch, capsys):
    """`translate ... -scan.png` (a scanner's or a script's name) said "the following arguments are required: INPUT",
    and beside another input "unrecognized arguments: -scan.png", not a word of the file or of how to give it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-scan.png").write_bytes(b"")
    for inputs in (["-scan.png"], ["a.png", "-scan.png"]):
        with pytest.raises(SystemExit) as e:
            main(["translate", "--checkpoint", "c.pt", "--out", "out", *inputs])
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.startswith(
            "error: -scan.png is a file, read as an option: give it as ./-scan.png, or put -- before it"
        ), err
    (tmp_path / "-photos").mkdir()  # a folder so named: said to be one
    with pytest.raises(SystemExit):
        main(["translate", "--checkpoint", "c.pt", "--out", "out", "-photos"])
    assert capsys.readouterr().err.startswith("error: -photos is a folder, read as an option: give it as ./-photos")
    with pytest.raises(SystemExit):  # an unknown option that names no file is refused as before
        main(["translate", "--checkpoint", "c.pt", "--out", "out", "a.png", "-x.png"])
    assert capsys.readouterr().err.startswith("error: unrecognized arguments: -x.png")


def test_a_config_files_relative_folder_not_here_is_named_in_both_places(tmp_path, capsys, monkeypatch):
    """`train --config proj/c.json` from another folder said "data/h2z does not exist (... read from the current
    folder)" and nothing of the file's own folder, where the dataset was: relative paths stay read from the current
    folder (a run's config.json records --data as train was given it), and the error names both places."""
    (tmp_path / "proj" / "data" / "h2z").mkdir(parents=True)
    config = tmp_path / "proj" / "c.json"
    config.write_text(json.dumps({"data": "data/h2z", "steps": 1}))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["train", "--config", str(config), "--out", "o"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"option 'data' in '{config}': data/h2z is not in the current folder" in err
    assert str(tmp_path / "elsewhere") in err and f"give --data {tmp_path / 'proj' / 'data' / 'h2z'}" in err
    config.write_text(json.dumps({"domain_a": "a", "domain_b": "b", "steps": 1}))  # nowhere: what to do instead
    assert main(["train", "--config", str(config), "--out", "o"]) == 2
    assert "option 'domain_a' in" in capsys.readouterr().err
    config.write_text(json.dumps({"data": "~/no-such-h2z", "steps": 1}))
    assert main(["train", "--config", str(config), "--out", "o"]) == 2
    assert "a config file's ~ is not expanded" in capsys.readouterr().err


def test_a_runs_config_from_another_folder_names_the_folder_the_run_was_started_in(tmp_path, capsys, monkeypatch):
    """`train --config runs/x/config.json` from another folder said "where it is not either: run train from the folder
    the run was started in" without naming it: the run's recorded --out tells it (as `evaluate RUN` finds its data),
    and the error gives the exact --data."""
    project = tmp_path / "proj"
    (project / "data" / "h2z").mkdir(parents=True)
    (project / "runs" / "x").mkdir(parents=True)
    config = project / "runs" / "x" / "config.json"
    config.write_text(json.dumps({"data": {"data": "data/h2z"}, "train": {"out": "runs/x", "steps": 1}}))
    monkeypatch.chdir(project / "runs")
    assert main(["train", "--config", "x/config.json", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "option 'data' in 'x/config.json': data/h2z is not in the current folder" in err
    assert err.endswith(
        f"it is in {project.resolve()}, where the run was started: give --data {project.resolve()}/data/h2z\n"
    )


def test_a_runs_config_through_a_linked_runs_folder_names_the_folder_the_run_was_started_in(
    tmp_path, capsys, monkeypatch
):
    """proj/runs a link to a bigger disk: `train --config ../proj/runs/x/config.json` from another folder looked for the
    run's data above the link's target (big/data), not in proj, where train ran, and named no folder."""
    project, big = tmp_path / "proj", tmp_path / "big"
    (project / "data" / "h2z").mkdir(parents=True)
    (big / "runs" / "x").mkdir(parents=True)
    (project / "runs").symlink_to(big / "runs", target_is_directory=True)
    (big / "runs" / "x" / "config.json").write_text(
        json.dumps({"data": {"data": "data/h2z"}, "train": {"out": "runs/x", "steps": 1}})
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["train", "--config", "../proj/runs/x/config.json", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"it is in {project}, where the run was started: give --data {project}/data/h2z\n"), err


def test_a_folder_name_too_long_to_look_up_is_one_line_and_a_config_here_names_one_place(tmp_path, capsys, monkeypatch):
    """A relative `data` of 300 characters (over the file system's 255 bytes a name) in a config file of another
    folder ended in a traceback (`OSError: File name too long`, from the look-up in the file's folder), and so did
    `--data` of one. A config file in the current folder said its missing `data` was "not in the current folder ...
    not from the file's own, ., where it is not either: run train from the folder the run was started in": the two
    places are one."""
    monkeypatch.chdir(tmp_path)
    long = "d" * 300
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.json").write_text(json.dumps({"data": long, "steps": 1}))
    for argv in (["--config", "sub/c.json"], ["--data", long, "--steps", "1"]):
        assert main(["train", *argv, "--out", "o"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    (tmp_path / "c.json").write_text(json.dumps({"data": "missing", "steps": 1}))
    assert main(["train", "--config", "c.json", "--out", "o"]) == 2
    err = capsys.readouterr().err
    assert "missing does not exist (relative paths are read from the current folder" in err and "file's own" not in err


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["translate", "--checkpoint", "c", "--out", "o", "--steps", "3", "x.png"], "cyclegan train, demo, bench"),
        (["train", "--out", "o", "--tile", "512"], "--tile is an option of cyclegan translate; see cyclegan train"),
        (["datasets", "synthetic", "--out", "o", "--lr", "2"], "of cyclegan train, stylize; see cyclegan datasets"),
    ],
)
def test_another_commands_option_names_the_commands_that_take_it(argv, hint, capsys, tmp_path, monkeypatch):
    """`translate --steps 3` said only "unrecognized arguments: --steps (see cyclegan translate --help)", as if
    --steps were a typo: the commands it belongs to are named."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: unrecognized arguments: --") and hint in err
    assert err.count("\n") == 1 and err.count("--help") == 1


def test_a_data_folder_under_an_unexpanded_tilde_says_so(tmp_path, capsys, monkeypatch):
    """`--data=~/h2z` (bash expands no ~ after `--data=`) said "~/h2z does not exist (relative paths are read from
    the current folder, ...)", as if ~ were a folder of the current one."""
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data=~/no-such-h2z", "--out", "o", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "a shell leaves ~ as it is when quoted or after --data=" in err and "current folder" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["translate", "--checkpoint", "run", "--out", "-", "a.png"],
        ["evaluate", "--checkpoint", "run", "--out", "-"],
        ["evaluate", "--checkpoint", "run", "--save-images", "-"],
        ["bench", "--json", "-"],
        ["bench", "--task", "tiles", "--figure", "-"],
        ["datasets", "download", "horse2zebra", "--root", "-"],
        ["demo", "--out", "-"],
        ["datasets", "synthetic", "--out", "-"],
        ["train", "--data", "d", "--out", "-", "--steps", "1"],
        ["compare", "--checkpoint", "run", "--content", "a.png", "--style", "b.png", "--out", "-"],
        ["stylize", "--content", "a.png", "--style", "b.png", "--out", "-"],
    ],
    ids=lambda argv: " ".join([a for a in argv[:2] if not a.startswith("-")] + [argv[argv.index("-") - 1]]),
)
def test_a_dash_for_an_output_is_refused_as_not_standard_output(argv, tmp_path, monkeypatch, capsys):
    """`--out -` (standard output, as a shell user writes it) made a folder or file named '-': evaluate's report,
    bench's JSON, translate's images. Every path a command writes refuses it in one line, naming its flag."""
    monkeypatch.chdir(tmp_path)
    flag = argv[argv.index("-") - 1]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: option '{flag}': - is not standard output here; give ") and len(err.splitlines()) == 1
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("given", [["--out=~/runs/x"], ["--out", "~/runs/x"], ["--out", "~"]])
@pytest.mark.parametrize(
    "argv",
    [
        ["translate", "--checkpoint", "run", "a.png"],
        ["train", "--data", "d", "--steps", "1"],
        ["stylize", "--content", "a.png", "--style", "b.png"],
        ["datasets", "synthetic"],
    ],
    ids=lambda argv: " ".join(a for a in argv[:2] if not a.startswith("-")),
)
def test_an_output_under_an_unexpanded_tilde_is_refused(argv, given, tmp_path, monkeypatch, capsys):
    """`--out=~/runs/x` (or a quoted ~, which no shell expands) made a folder named '~' in the working folder, that a
    later `rm -r ~` to remove would take the home folder with. Refused in one line, nothing created."""
    monkeypatch.chdir(tmp_path)
    assert main([*argv, *given]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: option '--out': ~") and "write the whole path" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_an_output_under_a_tilde_in_a_config_file_is_refused_in_the_files_words(suffix, tmp_path, monkeypatch, capsys):
    """`out: ~/runs/x` in a --config file was refused in words about the shell ("a shell leaves ~ as it is when
    quoted or after an ="), which never read the file: the line names the key and the file, and says the file does
    not expand it."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / f"c{suffix}"
    config.write_text(json.dumps({"out": "~/runs/x", "steps": 1}))  # JSON is YAML too
    assert main(["train", "--config", str(config), "--data", "d"]) == 2
    assert capsys.readouterr().err == (
        f"error: option 'out' in '{config}': ~/runs/x starts with ~, which a config file does not expand: write the "
        "whole path\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [config.name]


@pytest.mark.parametrize(
    ("argv", "name", "hint"),
    [
        (["translate", "--checkpoint", "run", "--out", "-", "a.png"], "-", "(for the folder named - here, write ./-)"),
        (["evaluate", "--checkpoint", "run", "--data", "-"], "-", "(for the folder named - here, write ./-)"),
        (["bench", "--json", "-"], "-", "(for the file named - here, write ./-)"),
        (["datasets", "synthetic", "--out", "~/x"], "~", "(for the folder named ~ here, write ./~/x)"),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else None,
)
def test_a_real_file_named_dash_or_tilde_is_reached_by_the_way_the_refusal_says(
    argv, name, hint, tmp_path, monkeypatch, capsys
):
    """A folder (or file) truly named - or ~ in the working folder (one an earlier `--out -` made): `--data -` was
    refused as standard input with no way to it named. The refusal names ./-, which is taken as written."""
    monkeypatch.chdir(tmp_path)
    if name == "-" and "bench" in argv:
        (tmp_path / name).write_text("{}")
    else:
        (tmp_path / name).mkdir()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert hint in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_standard_output_by_name_is_refused_when_it_goes_to_a_file(tmp_path):
    """`bench --json /dev/stdout --overwrite > out.json`: /dev/stdout (a link to /proc/self/fd/1) is then a regular
    file by its stat, and passed the device check; the write renamed a file over the link, as root over /dev/stdout
    itself, for every process. A link through /proc (here to the fd of an open file, as /dev/stdout is) is refused,
    left as it is; a folder that is a link elsewhere is not."""
    from cyclegan.files import check_outputs

    with open(tmp_path / "out.json", "w") as f:
        fd_path = f"/proc/self/fd/{f.fileno()}"
        (tmp_path / "stdout").symlink_to(fd_path)  # /dev/stdout's shape
        for given in (tmp_path / "stdout", Path(f"/dev/fd/{f.fileno()}")):
            with pytest.raises(CycleGANError, match="standard output or another open file of a process"):
                check_outputs([given], overwrite=True, option="--json")
        assert os.readlink(tmp_path / "stdout") == fd_path
    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    check_outputs([tmp_path / "linked" / "a.json"], overwrite=True, option="--json")  # an ordinary link: written


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--checkpoint", "run", "--out", "so.onnx"],
        ["bench", "--json", "so.json"],
        ["stylize", "--content", "a.png", "--style", "b.png", "--steps", "1", "--size", "8", "--out", "so.png"],
    ],
    ids=lambda argv: argv[0],
)
def test_an_output_that_is_a_device_is_refused_even_with_overwrite(argv, tmp_path, monkeypatch, capsys):
    """`--json /dev/stdout`, a shell user's standard output by name: with --overwrite a file was renamed over the
    link (as root, /dev/stdout itself: gone for every process). A link to a device (here /dev/null) is refused in
    one line, left as it is."""
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    for name in ("a.png", "b.png"):  # inputs that exist: the output is what is refused
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"")
    out = tmp_path / argv[-1]
    out.symlink_to(os.devnull)
    assert main([*argv, "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: option '{argv[-2]}': {argv[-1]} is a device, not a file") and err.count("\n") == 1
    assert out.is_symlink() and os.readlink(out) == os.devnull


@pytest.mark.parametrize(
    "overrides, flags, python, command_line",
    [
        (
            {"preset": "cut", "family": "cyclegan"},
            ["--preset", "cut", "--model", "cyclegan"],
            "preset='cut' names a model family, not family='cyclegan'; give preset='cut' alone, or the recipe "
            "preset='paper' or 'seed' or 'fast' with family='cyclegan'",
            "--preset cut names a model family, not --model cyclegan; give --preset cut alone, or the recipe "
            "--preset paper or seed or fast with --model cyclegan",
        ),
        (
            {"lambda_nce": 2.0},
            ["--lambda-nce", "2"],
            "option 'lambda_nce' applies to family='cut' or 'fastcut', not to family='cyclegan'",
            "option '--lambda-nce' applies to --model cut or fastcut, not to --model cyclegan",
        ),
        (
            {"steps": 5, "epochs": 2},
            ["--epochs", "2"],
            "options 'steps' and 'epochs' each set the training length: give one of them",
            "options '--steps' and '--epochs' each set the training length: give one of them",
        ),
    ],
)
def test_resolves_refusals_name_the_options_as_the_caller_gave_them(
    tmp_path, capsys, overrides, flags, python, command_line
):
    """A Python caller's `resolve({"preset": "cut", "family": "cyclegan"})` was told "option '--preset cut' names a
    model family, not --model cyclegan; give the recipe with --preset paper|seed|fast and the family with --model", and
    of '--lambda-nce', '--steps': flags it never typed. Now its keywords; the command line keeps its flags."""
    with pytest.raises(CycleGANError) as e:
        resolve(overrides)
    assert str(e.value) == python
    args = ["train", *flags, "--steps", "5", "--data", str(tmp_path), "--out", str(tmp_path / "run")]
    assert main(args) == 2
    assert capsys.readouterr().err == f"error: {command_line}\n"
