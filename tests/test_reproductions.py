"""gankit reproduce: each reproduction's quick run end to end, its table, verdicts and resuming."""

import json

import pytest

from gankit.cli import main
from gankit.errors import GankitError
from gankit.reproductions import make_row, markdown_table, reproduction_names, run_reproduction, verdict

KEYS = {"dataset", "setting", "metric", "paper", "paper_err", "gankit", "gankit_err", "trials"}


def test_the_three_reproductions_are_listed(capsys):
    assert reproduction_names() == ["pacgan-toy", "stacked-mnist", "mnist-fid"]
    assert main(["reproduce", "--list"]) == 0
    assert "pacgan-toy" in capsys.readouterr().out


def test_verdict_compares_within_two_standard_errors():
    assert verdict(make_row("ring8", "GAN", "modes", 6.3, 0.5, 6.0, 0.3, 10)).startswith("agrees")
    assert verdict(make_row("ring8", "GAN", "modes", 6.3, 0.5, 8.0, 0.1, 10)) == "above the paper by 1.70, better"
    assert verdict(make_row("ring8", "GAN", "reverse_kl", 0.45, None, 0.9, 0.1, 10)) == "above the paper by 0.45, worse"
    assert verdict(make_row("ring8", "best", "modes", None, None, 8.0, 0.0, 10)).startswith("gankit's own row")
    assert verdict(make_row("ring8", "GAN", "hq_fraction", 0.982, None, 0.40, 0.09, 5)) == "below the paper by 58.2 points, worse"
    assert "hq_fraction" not in markdown_table({"rows": [make_row("ring8", "GAN", "hq_fraction", 0.98, None, 0.5, 0.1, 5)]}).split("|")[4]


@pytest.mark.parametrize("name", ["pacgan-toy", "stacked-mnist", "mnist-fid"])
def test_quick_reproduction_writes_its_record_table_and_figure(tmp_path, name):
    record = run_reproduction(name, tmp_path, quick=True)
    saved = json.loads((tmp_path / f"{name}.json").read_text())
    assert saved["reproduction"] == name and saved["quick"] is True and saved["complete"] is True
    assert saved["rows"] and all(KEYS <= set(row) for row in saved["rows"])
    assert any(row["paper"] is not None for row in saved["rows"])
    assert {"protocol", "budget", "curves", "paper", "seconds"} <= set(saved)
    assert (tmp_path / f"{name}.png").stat().st_size > 1000
    assert "| paper | gankit |" in (tmp_path / f"{name}.md").read_text()
    # Every curve holds the stages a quarter, half and all the way through the schedule.
    steps = record["budget"]["steps"]
    assert all(curve[-1]["step"] == steps for curve in record["curves"].values())


def test_a_reproduction_run_again_reuses_every_scored_stage(tmp_path):
    first = run_reproduction("pacgan-toy", tmp_path, quick=True)
    again = run_reproduction("pacgan-toy", tmp_path, quick=True)
    assert again["rows"] == first["rows"]
    assert again["seconds"] < first["seconds"] / 3  # nothing trained the second time
    partial = run_reproduction("pacgan-toy", tmp_path, quick=True, partial=True)
    assert partial["rows"] == first["rows"]


def test_partial_report_of_nothing_and_bad_budgets_are_errors(tmp_path, capsys):
    with pytest.raises(GankitError, match="no scored stage"):
        run_reproduction("pacgan-toy", tmp_path, quick=True, partial=True)
    with pytest.raises(GankitError, match="budget"):
        run_reproduction("pacgan-toy", tmp_path, budget=1.5)
    with pytest.raises(SystemExit):  # argparse: --steps and --budget exclude each other
        main(["reproduce", "pacgan-toy", "--steps", "10", "--budget", "0.5"])
    assert main(["reproduce", "no-such-table", "--out", str(tmp_path)]) == 2
    assert "no-such-table" in capsys.readouterr().err


def test_a_table_without_a_cpu_schedule_is_reported_untrained(tmp_path):
    """Stacked MNIST's Table 2 has no CPU default: its rows stand with the paper's values, no gankit value, and a note."""
    from gankit.reproductions.stacked_mnist import _plan, _slug

    first = _plan(quick=False)[0]  # a Table 3 row, scored at its last stage in seed 0 only
    folder = tmp_path / "stacked-mnist" / f"{_slug(first.label)}-seed0"
    folder.mkdir(parents=True)
    (folder / "curve.json").write_text(json.dumps([{"step": 2000, "seconds": 1.0, "modes": 5, "kl": 3.0}]))
    record = run_reproduction("stacked-mnist", tmp_path, partial=True)
    assert [(row["gankit"], row["trials"]) for row in record["rows"] if row["setting"] == first.label] == [(5, 1), (3.0, 1)]
    table2 = [row for row in record["rows"] if row["table"] == "Table 2"]
    assert {row["paper"] for row in table2} == {99.0, 3.40, 1000.0, 0.06}
    assert all(row["gankit"] is None and row["trials"] == 0 and verdict(row).startswith("not trained") for row in table2)
    assert any("A Table 2 step costs" in note for note in record["notes"]) and record["complete"] is False
    assert record["budget"]["table2_steps"] == 0 and record["budget"]["steps"] == 2000


def test_stacked_mnist_seeds_trained_in_worker_processes_train_as_in_one(tmp_path):
    """Two worker processes (one seed each at a time) give every run the losses one process gives it, step by step."""
    side_by_side = run_reproduction("stacked-mnist", tmp_path / "two", quick=True, workers=2)
    one = run_reproduction("stacked-mnist", tmp_path / "one", quick=True, workers=1)
    assert side_by_side["rows"] == one["rows"] and side_by_side["curves"].keys() == one["curves"].keys()
    folders = sorted(p.name for p in (tmp_path / "one" / "stacked-mnist").iterdir())
    assert len(folders) == 6  # 3 rows (Table 3, Table 2, gankit's best) x 2 seeds
    for folder in folders:
        losses = [[(r["loss_d"], r["loss_g"]) for r in map(json.loads, (tmp_path / run / "stacked-mnist" / folder / "run" /
                                                                        "metrics.jsonl").read_text().splitlines())]
                  for run in ("two", "one")]
        assert losses[0] == losses[1], folder


def test_docs_reproductions_is_rendered_from_the_committed_results():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "render_reproductions.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_row_folder_planned_with_other_settings_is_refused(tmp_path, capsys):
    from gankit.config import Config

    folder = tmp_path / "pacgan-toy" / "ring8-gan"
    folder.mkdir(parents=True)
    other = Config()
    other.model.pack = 3
    (folder / "sweep.json").write_text(json.dumps({"config": other.to_dict()}))
    with pytest.raises(GankitError, match=r"sweep\.json.*planned with other settings \(.*model\.pack"):
        run_reproduction("pacgan-toy", tmp_path, quick=True)
    assert main(["reproduce", "pacgan-toy", "--quick", "--out", str(tmp_path)]) == 2
    assert "ring8-gan" in capsys.readouterr().err
