"""train_file: a labelled file in any format the reader takes trains the same model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from batchscore.config import Settings
from batchscore.model.predict import predict_records
from batchscore.model.registry import load_model
from batchscore.model.train import TrainPlan
from batchscore.scheduler.train_jobs import train_file

ADVERTISING = Path(__file__).parents[2] / "examples" / "advertising.csv"


def test_a_spanish_excel_csv_trains_the_same_model_as_its_twin(
    settings: Settings, tmp_path: Path
) -> None:
    text = ADVERTISING.read_text()
    spanish = tmp_path / "ventas.csv"  # ';' fields, decimal commas, CRLF, Windows-1252
    spanish.write_bytes(
        text.replace(",", ";").replace(".", ",").replace("\n", "\r\n").encode("cp1252")
    )
    settings = replace(settings, model_dir=tmp_path / "models")
    plan = TrainPlan(target="Sales", features=("TV",), holdout=0)

    for name, path in (("sales", ADVERTISING), ("ventas", spanish)):
        trained = train_file(settings, path, name, plan, data_sha256="0" * 64)
        assert (trained.rows_used, trained.rows_skipped) == (200, 0)

    answers = [
        predict_records(load_model(settings.model_dir, name), [{"TV": 50.0}])[0].prediction
        for name in ("sales", "ventas")
    ]
    assert answers[0] == answers[1] == pytest.approx(9.409425570778684, abs=1e-9)
