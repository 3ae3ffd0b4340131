"""The README's path for a new user: init, submit, process, list, through the real command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from factories import write_csv
from processes import Cli, free_port, write_config
from webhook_receiver import receiving

from batchscore.config import Settings
from batchscore.webhook_signing import verify

EXAMPLE = Path(__file__).parents[2] / "examples" / "iris.csv"


def read_xlsx(path: Path) -> list[tuple[object, ...]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(workbook.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    finally:
        workbook.close()


def test_submit_then_process_writes_xlsx_with_predictions(cli: Cli, tmp_path: Path) -> None:
    submitted = cli.run("submit", str(EXAMPLE))
    assert re.fullmatch(
        r"Job \d+ queued: iris.csv \(model iris\)\n"
        r"Read as CSV, UTF-8, comma-separated, decimal point\n"
        r"No owner \(--user NAME gives it one\): in the panel and API only admins see it\n",
        submitted.stdout,
    )
    processed = cli.run("process")
    assert "PROCESSED: 150 rows, 0 with errors" in processed.stdout
    result = Path(processed.stdout.strip().split("→ ")[1])
    rows = read_xlsx(result)
    header = EXAMPLE.read_text().splitlines()[0].split(",")
    assert list(rows[0]) == [*header, "prediction", "probability", "warning", "error"]
    assert all(0.33 < float(str(r[-3])) <= 1 for r in rows[1:])  # the predicted class of three
    assert all(r[-2] is None for r in rows[1:])  # the example lies inside the training data
    assert len(rows) == 151
    species, predicted = header.index("species"), header.index("species") + 1
    accuracy = sum(r[species] == r[predicted] for r in rows[1:]) / 150
    assert accuracy > 0.9


def test_submit_reads_the_file_as_told(cli: Cli, tmp_path: Path) -> None:
    """Comma-separated with quoted decimal commas, in code page 437 (ü is byte 0x81)."""
    source = tmp_path / "zürich.csv"
    header = "sepal_length,sepal_width,petal_length,petal_width,city\n"
    source.write_bytes((header + '"5,1","3,5","1,4","0,2",Zürich\n').encode("cp437"))
    submitted = cli.run("submit", str(source), "--encoding", "cp437", "--decimal", ",")
    assert submitted.stdout.splitlines()[1] == "Read as CSV, cp437, comma-separated, decimal comma"
    processed = cli.run("process")
    assert "PROCESSED: 1 row, 0 with errors" in processed.stdout
    rows = read_xlsx(Path(processed.stdout.strip().split("→ ")[1]))
    assert rows[1][:6] == (5.1, 3.5, 1.4, 0.2, "Zürich", "setosa")


def test_cancel_then_retry_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    job_id = re.match(r"Job (\d+) queued: ", cli.run("submit", str(EXAMPLE)).stdout)
    assert job_id is not None
    number = job_id[1]
    cancelled = cli.run("cancel", number)
    assert cancelled.stdout == f"Job {number} CANCELLED: iris.csv (retry it to run it again)\n"
    again = cli.run("cancel", number, check=False)
    assert (again.returncode, again.stderr) == (
        1,
        f"error: Job {number} is CANCELLED; only PENDING or IN_PROGRESS jobs can be cancelled.\n",
    )
    assert cli.run("process", check=False).returncode == 3  # nothing pending
    assert f"{number:>6}  CANCELLED" in cli.run("jobs", "--status", "CANCELLED").stdout
    assert cli.run("retry", number).stdout == f"Job {number} queued again: iris.csv\n"
    assert "PROCESSED: 150 rows" in cli.run("process").stdout


def test_retry_failed_queues_every_failed_job(cli: Cli, tmp_path: Path) -> None:
    none = cli.run("retry", "--failed", check=False)
    assert (none.returncode, none.stdout) == (3, "0 failed jobs queued again\n")
    usage = cli.run("retry", check=False)
    assert usage.returncode == 2 and "one of the arguments job --failed is required" in usage.stderr


def test_process_exits_3_when_nothing_is_pending(cli: Cli) -> None:
    result = cli.run("process", check=False)
    assert (result.returncode, result.stdout.strip()) == (3, "No pending job.")


def test_submit_refuses_file_missing_a_feature(cli: Cli, tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", "sepal_length,sepal_width\n1,2\n")
    result = cli.run("submit", str(bad), check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: Missing column(s) petal_length, petal_width. Model iris v1 needs: sepal_length, "
        "sepal_width, petal_length, petal_width. The file has: sepal_length, sepal_width."
    )
    assert "No jobs" not in cli.run("jobs").stdout
    assert len(cli.run("jobs").stdout.splitlines()) == 1  # header only: nothing was queued


def test_submit_of_missing_file_says_so(cli: Cli, tmp_path: Path) -> None:
    result = cli.run("submit", str(tmp_path / "nope.csv"), check=False)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"error: Cannot open {tmp_path / 'nope.csv'}: No such file or directory."
    )


def test_failed_job_exits_1_with_reason(cli: Cli, tmp_path: Path) -> None:
    rows = "".join("5.1,3.5,1.4,0.2\n" if i % 2 else "x,3.5,1.4,0.2\n" for i in range(10))
    cli.run(
        "submit",
        str(
            write_csv(
                tmp_path / "half.csv", "sepal_length,sepal_width,petal_length,petal_width\n" + rows
            )
        ),
    )
    result = cli.run("process", check=False)
    assert result.returncode == 1
    assert "FAILED: 5 of 10 rows (50.0%) could not be scored" in result.stdout


def test_jobs_lists_status_and_result(cli: Cli) -> None:
    cli.run("submit", str(EXAMPLE))
    cli.run("process-all")
    lines = cli.run("jobs").stdout.splitlines()
    job_id, *columns = lines[1].split()[:4]
    assert columns == ["PROCESSED", "150", "0"]
    assert lines[1].endswith(f"iris.csv  job-{job_id}-iris.xlsx")


def test_bad_config_value_is_named(cli: Cli) -> None:
    cli.config.write_text(cli.config.read_text() + "LEASE_SECONDS=soon\n")
    result = cli.run("jobs", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: Config key LEASE_SECONDS = 'soon' is invalid: "
        "expected a positive number of seconds."
    )


@pytest.mark.parametrize("command", ["process", "process-all", "worker", "jobs", "serve"])
def test_unreachable_database_is_said_plainly(cli: Cli, settings: Settings, command: str) -> None:
    nowhere = f"mysql+pymysql://batchscore:secret@127.0.0.1:{free_port()}/batchscore"
    cli = Cli(write_config(cli.config, settings, DB_URL=nowhere))
    result = cli.run(command, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        "error: The database cannot be reached right now. Try again in a minute; if this lasts, "
        "ask the operator to check the database server. The driver said: (2003, \"Can't connect "
        "to MySQL server on '127.0.0.1' ([Errno 111] Connection refused)\")\n"
    )


@pytest.mark.libreoffice
def test_result_opens_in_libreoffice(cli: Cli, tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    cli.run("submit", str(EXAMPLE))
    result = Path(cli.run("process").stdout.strip().split("→ ")[1])
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--headless",
            "--convert-to",
            "csv",
            "--outdir",
            str(tmp_path),
            str(result),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    lines = (tmp_path / result.with_suffix(".csv").name).read_text().splitlines()
    assert lines[0] == EXAMPLE.read_text().splitlines()[0] + ",prediction,probability,warning,error"
    assert len(lines) == 151
    assert lines[1].startswith("5.1,3.5,1.4,0.2,setosa,setosa")


def test_user_add_without_a_terminal_says_to_pipe_the_password(cli: Cli) -> None:
    result = subprocess.run(
        cli.args("user", "add", "zed"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: No terminal to type the password in: pipe it with --password-stdin, e.g. "
        '`echo "$PASSWORD" | batchscore user add zed --password-stdin`.\n'
    )


def test_a_reader_that_stops_early_gets_no_traceback(cli: Cli) -> None:
    """`batchscore status | head -0`: the pipe is closed before the command writes."""
    process = subprocess.Popen(cli.args("status"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    errors = process.stderr.read().decode()
    process.stderr.close()
    assert (process.wait(timeout=60), errors) == (0, "")


def test_an_idle_cron_run_does_not_load_the_model_libraries(cli: Cli) -> None:
    """process-all every minute, nothing to do: no scikit-learn, pandas or pyarrow import."""
    script = (
        "import sys; from batchscore.cli.main import main; "
        f"code = main(['--config', {str(cli.config)!r}, 'process-all']); "
        "print(code, sorted({'sklearn', 'pandas', 'pyarrow'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.splitlines()[-1] == "0 []"  # exit 0, and none of them imported


def test_a_bucket_without_the_s3_extra_says_what_to_install(cli: Cli, tmp_path: Path) -> None:
    """s3fs is an extra: a machine without it is told so in one line, not by an ImportError."""
    config = tmp_path / "bucket.properties"
    config.write_text(cli.config.read_text() + "OUTPUT_DIR=s3://results-bucket/out\n")
    script = (
        "import importlib.util as u, sys; found = u.find_spec; "
        "u.find_spec = lambda name, *a: None if name == 's3fs' else found(name, *a); "  # absent
        "from batchscore.cli.main import main; "
        f"sys.exit(main(['--config', {str(config)!r}, 'status']))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "configuration error: Config key OUTPUT_DIR = 's3://results-bucket/out' is invalid: "
        "a bucket needs batchscore's s3 extra, which is not installed here: "
        "pip install 'batchscore[s3]'; expected a local folder or s3://bucket/prefix.\n"
    )


def test_init_with_a_folder_and_a_config_refuses_both(cli: Cli, tmp_path: Path) -> None:
    """Which config would win is not obvious: say so, and make nothing."""
    result = cli.run("init", str(tmp_path / "work"), check=False)  # cli passes --config
    assert (result.returncode, result.stderr) == (
        1,
        "error: Give a FOLDER or --config, not both.\n",
    )
    assert not (tmp_path / "work").exists()


def test_submit_wait_processes_the_job_here_when_nothing_else_does(cli: Cli) -> None:
    result = cli.run("submit", str(EXAMPLE), "--wait")
    lines = result.stdout.splitlines()
    assert lines[0].endswith("queued: iris.csv (model iris)")
    assert re.fullmatch(r"Job \d+ PROCESSED: 150 rows, 0 with errors in .* → .*\.xlsx", lines[-1])
    assert Path(lines[-1].split("→ ")[1]).is_file()


def test_init_from_anywhere_makes_the_database_folder_beside_the_config(tmp_path: Path) -> None:
    """BATCHSCORE_CONFIG, relative custom folders and no DB_URL: SQLite goes in data/ beside the
    config file, which init makes (once a 40-line 'unable to open database file')."""
    config = tmp_path / "conf" / "ConfigFile.properties"
    config.parent.mkdir()
    config.write_text("INPUT_DIR=in\nOUTPUT_DIR=out\nMODEL_DIR=models\n")
    elsewhere = tmp_path / "cron-cwd"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "batchscore", "init"],
        cwd=elsewhere,
        env={"BATCHSCORE_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"Database ready: sqlite:///{config.parent}/data/batchscore.db" in result.stdout
    assert sorted(p.name for p in config.parent.iterdir()) == [
        "ConfigFile.properties",
        "data",
        "in",
        "models",
        "out",
    ]
    assert list(elsewhere.iterdir()) == []


def test_a_users_webhook_from_the_command_line(tmp_path: Path, settings: Settings) -> None:
    """Set a user's default callback URL, submit for them, run cron's process-all: the receiver
    gets the signed end, and `deliveries` says it was delivered."""
    cli = Cli(write_config(tmp_path / "hooks.properties", settings, WEBHOOK_ALLOW_PRIVATE="true"))
    cli.run("user", "add", "ana", "--password-stdin", input="a long password\n")
    assert "Default callback URL of ana: none" in cli.run("user", "webhook", "ana").stdout
    unsigned = cli.run("submit", str(EXAMPLE), "--callback-url", "https://example.com", check=False)
    assert unsigned.returncode == 1
    assert "give the job a user (--user NAME)" in unsigned.stderr
    with receiving(200) as receiver:
        shown = cli.run("user", "webhook", "ana", "--url", receiver.url).stdout
        assert f"Default callback URL of ana: {receiver.url}" in shown
        secret = re.search(r"Signing secret: (whsec_\S+)", shown)
        assert secret, shown
        queued = cli.run("submit", str(EXAMPLE), "--user", "ana").stdout
        assert f"When it ends, a webhook goes to {receiver.url}" in queued
        job_id = re.match(r"Job (\d+) queued", queued)
        assert job_id, queued
        cli.run("process-all")
        [hook] = receiver.received
    verify(secret[1], hook.body, hook.headers["Batchscore-Signature"])
    listed = cli.run("deliveries", job_id[1]).stdout
    assert re.search(rf"job\.processed\s+DELIVERED\s+1  {re.escape(receiver.url)}  200", listed)
    cleared = cli.run("user", "webhook", "ana", "--clear", "--new-secret").stdout
    assert "Default callback URL of ana: none" in cleared and secret[1] not in cleared
