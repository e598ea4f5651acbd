"""One ``rlrt tune`` run per output folder: a second run into a used ``--output`` is refused before it writes
anything there (the first run's table and best result stay as they were), and runs without ``--output`` each claim a
folder of their own, as ``rlrt train`` claims a job tree per launch."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runtime.errors import TreeBusy
from runtime.plugins import INSTALLED
from runtime.tuning import BEST_JSON, RESULTS_CSV
from runtime.tuning.output import own_output
from runtime.tuning.runner import run_tuning_job
from tests.unit.test_tuning import _spec


def test_a_second_run_into_a_used_output_is_refused_and_the_first_results_stay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    (out / "jobs" / "trial_1").mkdir(parents=True)
    (out / RESULTS_CSV).write_text("first run's table\n")
    (out / BEST_JSON).write_text('{"first": true}\n')
    (out / "output").mkdir()
    (out / "output" / "failure").write_text("the first run's own failure\n")
    file = tmp_path / "tune.yaml"
    file.write_text(yaml.safe_dump(_spec()))
    assert run_tuning_job(file, out, plugins=INSTALLED) == 2
    err = capsys.readouterr().err
    assert f"The --output folder {out} holds an earlier tuning run's results ({RESULTS_CSV}, {BEST_JSON}, jobs/)" in err
    assert "Pass another --output" in err and f"remove {out} first" in err
    assert (out / RESULTS_CSV).read_text() == "first run's table\n"
    assert (out / BEST_JSON).read_text() == '{"first": true}\n'
    assert (out / "output" / "failure").read_text() == "the first run's own failure\n"  # not this run's


def test_an_output_another_run_writes_into_is_refused_naming_its_pid(tmp_path: Path) -> None:
    with own_output(tmp_path / "out") as folder:
        with pytest.raises(TreeBusy, match=r"Another rlrt tune \(pid \d+\) is writing into the --output folder"):
            with own_output(tmp_path / "out"):
                pass
        assert folder == tmp_path / "out"
    with own_output(tmp_path / "out"):  # the lock is free once the run ends (and it left no results)
        pass


def test_an_empty_folder_or_one_a_failed_attempt_left_is_taken(tmp_path: Path) -> None:
    (tmp_path / "out" / "output").mkdir(parents=True)
    (tmp_path / "out" / "output" / "failure").write_text("tuning file does not exist")
    (tmp_path / "out" / "jobs").mkdir()  # made, but no trial started
    with own_output(tmp_path / "out") as folder:
        assert folder == tmp_path / "out"


def test_runs_without_output_each_claim_their_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with own_output(None) as first, own_output(None) as second:  # started in the same second
        assert first != second
        assert first.parent == second.parent == tmp_path / "rlrt-tune"
