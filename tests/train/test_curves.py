"""metrics.csv and the loss curve: always loss_curve.svg, a well-formed SVG with one line per series."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.train.curves import MetricsLog, plot_losses

NS = {"svg": "http://www.w3.org/2000/svg"}


def test_loss_curve_is_an_svg_with_train_and_validation_lines(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.csv")
    for step in range(1, 6):
        log.log(kind="step", step=step, epoch=1, train_loss=2.0 / step, learning_rate=1e-4)
    log.log(kind="epoch", step=5, epoch=1, val_loss=0.7)
    log.log(kind="step", step=6, epoch=2, train_loss=float("nan"))  # a NaN loss is not drawn
    log.log(kind="epoch", step=10, epoch=2, val_loss=0.5)
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))  # flushed as it goes, before close
    assert len(rows) == 8 and rows[0]["train_loss"] == "2.0" and rows[5]["val_loss"] == "0.7"
    log.close()
    path = plot_losses(log.rows, tmp_path / "loss_curve", title="LoRA on <model> & co")
    assert path == tmp_path / "loss_curve.svg" and path.is_file()
    root = ET.parse(path).getroot()  # well-formed: the title's < and & are escaped
    assert root.find("svg:title", NS).text == "LoRA on <model> & co"
    lines = {p.get("stroke"): p.get("points").split() for p in root.iter("{http://www.w3.org/2000/svg}polyline")}
    assert sorted(len(v) for v in lines.values()) == [2, 5]  # validation: 2 points; train: 5 (the NaN left out)
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) == 2  # validation points are marked
    # SVG y grows downwards: as the train loss falls its points go down the page (y increases)
    ys = [float(p.split(",")[1]) for p in max(lines.values(), key=len)]
    assert ys == sorted(ys)


def test_nothing_to_draw_writes_nothing(tmp_path: Path) -> None:
    assert plot_losses([{"kind": "step", "step": 1, "train_loss": ""}], tmp_path / "loss_curve") is None
    assert not list(tmp_path.iterdir())
    one = plot_losses([{"step": 3, "val_loss": 1.5}], tmp_path / "loss_curve")  # one point: no division by zero
    assert one is not None and ET.parse(one).getroot() is not None
