"""The Space folder: what it runs, that card text never becomes code, and that it keeps others' files."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
import timm

from faer_hub.cli import main
from faer_hub.hub.space import SpaceFolderError, write_space

HOSTILE = 'a/b"]+[__import__("os").system("touch pwned") and "x'
"""The repo id of the report (issue 17 item 2): pasted into app.py, it ran a shell command."""


def test_space_folder(raf_export, tmp_path, capsys):
    out = write_space(raf_export, tmp_path / "space", repo_id="me/faer_atto.rafdb")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "app.py", "requirements.txt", "space.json"]
    app = (out / "app.py").read_text()
    ast.parse(app)
    assert "from faer_hub.app import launch" in app and "me/faer_atto.rafdb" not in app  # the id is data
    assert json.loads((out / "space.json").read_text())["model"] == "hf-hub:me/faer_atto.rafdb"
    assert "faer_hub[app,detect]" in (out / "requirements.txt").read_text()
    readme = (out / "README.md").read_text()
    assert "sdk: gradio" in readme and "app_file: app.py" in readme and "- me/faer_atto.rafdb" in readme
    # default repo id: the one the export's card names
    package = "faer_hub[app,detect] @ git+https://example.org/faer_hub"
    assert main(["space", str(raf_export), str(tmp_path / "space2"), "--package", package]) == 0
    assert json.loads((tmp_path / "space2" / "space.json").read_text())["model"] == "hf-hub:faer-hub/faer_atto.rafdb"
    assert (tmp_path / "space2" / "requirements.txt").read_text().splitlines()[-1] == package
    capsys.readouterr()
    assert main(["space", str(tmp_path / "nowhere"), str(tmp_path / "space3")]) == 2
    assert "no such folder" in capsys.readouterr().err
    # a second requirement smuggled into requirements.txt is refused
    assert main(["space", str(raf_export), str(tmp_path / "space4"), "--package", "faer_hub\nevil-package"]) == 2
    assert "not one requirement line" in capsys.readouterr().err and not (tmp_path / "space4").exists()


def test_a_hostile_repo_id_never_becomes_code(raf_export, tmp_path, capsys):
    """Issue 17 item 2, as reported: the id given to export, then space; and a card edited by hand."""
    from faer_hub.hub.export import save_export

    assert main(["export", "--model", str(raf_export), str(tmp_path / "export"), "--repo-id", HOSTILE]) == 2
    assert "not a Hub repo id" in capsys.readouterr().err and not (tmp_path / "export").exists()
    assert main(["space", str(raf_export), str(tmp_path / "space"), "--repo-id", HOSTILE]) == 2
    assert "--repo-id" in capsys.readouterr().err and not (tmp_path / "space").exists()
    # a downloaded export whose card names the hostile id (written by hand, not by faer_hub)
    export = save_export(timm.create_model("faer_atto.rafdb"), tmp_path / "downloaded", task="rafdb",
                         repo_id="me/faer_atto.rafdb")
    card = export / "README.md"
    card.write_text(card.read_text().replace("repo_id: me/faer_atto.rafdb", f"repo_id: '{HOSTILE}'"))
    with pytest.raises(ValueError, match="is not a Hub repo id"):
        write_space(export, tmp_path / "space")
    assert not (tmp_path / "space").exists()
    # even a valid id reaches app.py only as data: run app.py with launch replaced, nothing else runs
    out = write_space(export, tmp_path / "space", repo_id="me/faer_atto.rafdb")
    code = ("import runpy, faer_hub.app as app\n"
            "app.launch = lambda sources, **kw: print('launch', sources, kw)\n"
            f"runpy.run_path({str(out / 'app.py')!r}, run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "launch ['hf-hub:me/faer_atto.rafdb'] {'pretrained': True}"
    assert not (tmp_path / "pwned").exists()


def test_space_keeps_files_it_did_not_write(raf_export, tmp_path, capsys):
    """Issue 17 item 1: `faer-hub space` overwrote an existing README.md, app.py and requirements.txt."""
    folder = tmp_path / "my_space"
    folder.mkdir()
    (folder / "README.md").write_text("my own notes\n")
    (folder / "app.py").write_text("print('mine')\n")
    (folder / ".git").mkdir()
    assert main(["space", str(raf_export), str(folder), "--repo-id", "me/faer_atto.rafdb"]) == 2
    err = capsys.readouterr().err
    assert str(folder) in err and "app.py, README.md" in err and "--overwrite" in err
    assert (folder / "README.md").read_text() == "my own notes\n" and not (folder / "space.json").exists()
    # its own earlier output is updated in place; an edit since is the user's and is kept
    out = write_space(raf_export, tmp_path / "space", repo_id="me/faer_atto.rafdb")
    write_space(raf_export, out, repo_id="me/other")
    assert json.loads((out / "space.json").read_text())["repo_id"] == "me/other"
    (out / "requirements.txt").write_text("faer_hub @ file:///mine\n")
    with pytest.raises(SpaceFolderError, match="requirements.txt"):
        write_space(raf_export, out, repo_id="me/faer_atto.rafdb")
    # --overwrite replaces them, explicitly; other files of the folder stay
    assert main(["space", str(raf_export), str(folder), "--repo-id", "me/faer_atto.rafdb", "--overwrite"]) == 0
    assert "from faer_hub.app import launch" in (folder / "app.py").read_text() and (folder / ".git").is_dir()
    assert not [p for p in folder.iterdir() if p.name.startswith(".") and p.name != ".git"]  # no temp files left


def test_space_of_a_valence_arousal_export_says_what_its_page_shows(tmp_path):
    from faer_hub.hub.export import save_export

    export = save_export(timm.create_model("faer_atto.affectnet_va"), tmp_path / "va", task="affectnet_va")
    readme = (write_space(export, tmp_path / "space") / "README.md").read_text()
    assert "with its valence and arousal" in readme and "probabilities" not in readme


def test_space_app_loads_the_model_from_the_hub(raf_export, tmp_path, hf_cache):
    """The Space's app.py, run as a Space runs it, loads hf-hub:<repo id> (here from an offline cache)."""
    from offline_hub import populate_hf_cache, run_offline

    out = write_space(raf_export, tmp_path / "space", repo_id="me/faer_atto.rafdb")
    populate_hf_cache(hf_cache, "me/faer_atto.rafdb", {f: raf_export / f for f in ("config.json", "model.safetensors")})
    result = run_offline(f"""
        import runpy, torch, faer_hub.app as app
        def launch(sources, **kwargs):  # what the Space would serve, without serving it
            demo = app.FaceDemo(sources, detector=lambda image: [], device="cpu", **kwargs)
            print("errors", demo.load_all())
            print("labels", demo.labels(sources[0]))
            model = demo.load(sources[0]).predictor.model
            print("weights", float(sum(p.detach().double().sum() for p in model.parameters())))
        app.launch = launch
        runpy.run_path({str(out / "app.py")!r}, run_name="__main__")
    """, hf_cache)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["errors"] == "{}"
    assert lines["labels"] == str(["surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"])
    local = timm.create_model(f"local-dir:{raf_export}", pretrained=True)
    assert float(lines["weights"]) == pytest.approx(float(sum(p.detach().double().sum() for p in local.parameters())))
