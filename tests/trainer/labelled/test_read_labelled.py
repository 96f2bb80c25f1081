"""read_labelled picks the reader by name; the CLI turns a LabelError into one line and exit 1."""

import pytest

import generator.cli
from radiopaque.cli import main
from trainer.labelled.errors import LabelError
from trainer.labelled.read import detect_format


def test_detect_format(tmp_path):
    csv = tmp_path / "gt.csv"
    csv.write_text("image_name,annotation\n")
    assert detect_format(str(csv)) == "object-cxr"
    assert detect_format(str(tmp_path / "a.json")) == "coco"
    assert detect_format(str(tmp_path)) == "yolo" and detect_format("x/data.yaml") == "yolo"
    with pytest.raises(LabelError, match="not a labelled set: expected a COCO .json"):
        detect_format(str(tmp_path / "labels.xml"))


def test_cli_reports_a_label_error_in_one_line_and_exits_1(monkeypatch, capsys):
    def broken(args):
        raise LabelError("gt.csv", 7, "unknown annotation type '3'; allowed: 0 (rectangle), 1 (ellipse), 2 (polygon)")

    monkeypatch.setattr(generator.cli, "cmd_export", broken)
    assert main(["export", "B", "O", "--format", "coco"]) == 1
    err = capsys.readouterr().err
    assert err == ("radiopaque export: error: gt.csv, line 7: unknown annotation type '3'; allowed: "
                   "0 (rectangle), 1 (ellipse), 2 (polygon)\n")
